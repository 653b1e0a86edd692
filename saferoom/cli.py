"""The ``saferoom`` command: Django's management commands with saferoom's settings.

saferoom migrate | demo | simulate | worker | createuser | runserver | ...
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saferoom.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "saferoom"
    if len(args) > 1 and not args[1].startswith("-"):
        # ``saferoom audit-verify`` is ``saferoom audit_verify``: commands are Python modules.
        args[1] = args[1].replace("-", "_")
    try:
        execute_from_command_line(args)
    except ImproperlyConfigured as error:
        # A configuration mistake: say what to set, without a traceback.
        sys.stderr.write(f"saferoom: {error}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
