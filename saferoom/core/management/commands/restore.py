"""``saferoom restore FILE``: restore an encrypted backup into the configured database, which
must be empty (``--force`` replaces everything in it), then check it against the backup's
manifest: rows per table, integrity, the audit chain. ``--drill`` restores into a scratch
database instead and prints the RPO and RTO facts; ``--manifest`` checks the file and prints its
manifest, restoring nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from saferoom.core import backup


class Command(BaseCommand):
    help = "Restore a saferoom backup into an empty database and check it."
    # The target is empty until the restore: the system checks would read tables not there yet.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A file made by `saferoom backup`.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--force",
            action="store_true",
            help="Replace everything in a database that is not empty. Stop saferoom first.",
        )
        mode.add_argument(
            "--drill",
            action="store_true",
            help="Restore into a scratch database, check it, drop it; print RPO and RTO.",
        )
        mode.add_argument(
            "--manifest",
            action="store_true",
            help="Check the whole file and print its manifest; restore nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            if options["manifest"]:
                manifest = backup.verify_file(path)
                self.stdout.write(json.dumps(manifest.__dict__, indent=2, sort_keys=True))
                return
            if options["drill"]:
                result = backup.drill(path)
                self.stdout.write("\n".join(result.lines()))
                if not result.passed:
                    raise SystemExit(1)
                return
            report = backup.restore(path, force=options["force"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(report.lines()))
        if not report.ok:
            self.stderr.write("The restored database does NOT match the backup.")
            raise SystemExit(1)
        self.stdout.write("Restored and checked.")
