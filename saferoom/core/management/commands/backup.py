"""``saferoom backup``: an encrypted, consistent backup of the whole database with its manifest
(see ``saferoom.core.backup``); ``--drill`` then restores it into a scratch database, checks it
and prints the RPO and RTO facts; ``--new-key`` prints a key for SAFEROOM_BACKUP_KEY."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from saferoom.core import backup


class Command(BaseCommand):
    help = "Back up the database, encrypted, with a manifest; --drill also test-restores it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="The file to write (default: SAFEROOM_BACKUP_DIR/saferoom-<UTC time>.backup).",
        )
        parser.add_argument(
            "--drill",
            action="store_true",
            help="Then restore the backup into a scratch database, check it, and print RPO/RTO.",
        )
        parser.add_argument(
            "--new-key", action="store_true", help="Print a new key for SAFEROOM_BACKUP_KEY."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(backup.new_key())
            return
        started = time.monotonic()
        try:
            path, manifest = backup.backup(options["output"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Backed up {len(manifest.tables)} tables, {manifest.rows} rows, to {path} "
            f"in {seconds:.1f} s."
        )
        if not options["drill"]:
            return
        try:
            result = backup.drill(path, backup_seconds=seconds)
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(result.lines()))
        if not result.passed:
            raise SystemExit(1)
