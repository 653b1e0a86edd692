"""Setting up a process of ``saferoom.simulation.bulk``'s pool. Kept apart, and free of
Django imports, because a new process loads this module before Django is set up."""

from __future__ import annotations

from typing import Any


def set_up(database: dict[str, Any]) -> None:
    """Django set up in this process, on the same database as the parent's."""
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"].update(database)
