"""``saferoom indicators_doc``: write docs/indicators.md from the indicator registry, or with
``--check`` say whether it is up to date (exit code 1 when it is not)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from saferoom.reports.docs import DOC_PATH, generate

STALE = 1


class Command(BaseCommand):
    help = (
        "Write docs/indicators.md from the indicator registry; --check only compares and exits "
        "with 1 when the page is out of date."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="compare only; exit 1 when the page differs"
        )
        parser.add_argument(
            "--path",
            type=Path,
            default=DOC_PATH,
            help=f"the page to write or check (default {DOC_PATH})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        text = generate()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if options["check"]:
            if current != text:
                raise CommandError(
                    f"{path} is out of date: run `saferoom indicators_doc` to regenerate it.",
                    returncode=STALE,
                )
            self.stdout.write(f"{path} is up to date.")
            return
        if current == text:
            self.stdout.write(f"{path} is already up to date.")
            return
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror or error}.") from None
        self.stdout.write(f"Wrote {path}.")
