"""``saferoom report``: a site's or a network's indicator report for a period, as a text table,
CSV, XLSX or JSON — the same files the report pages export (saferoom.reports.exports), made
from the same published figures. Suppressed under the site's rule unless ``--exact``."""

from __future__ import annotations

import datetime as dt
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from saferoom.reports import exports
from saferoom.reports.periods import EXAMPLES, PeriodError, parse_period
from saferoom.reports.publish import ShownReport
from saferoom.reports.reading import published_for
from saferoom.reports.registry import Scope, load
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import Network, Site

BAD_INPUT = 2
FORMATS = ("table", "csv", "xlsx", "json")
WRITERS = {
    "table": lambda shown: exports.to_text(shown).encode(),
    "csv": exports.to_csv,
    "xlsx": exports.to_xlsx,
    "json": exports.to_json,
}


def refuse(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def parse_as_at(text: str) -> dt.datetime:
    """An ISO 8601 date-time; without an offset it is read as UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise refuse(
            f"--as-at {text!r} is not a date-time. Write e.g. 2026-04-01T09:00:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def parse_codes(text: str) -> list[str]:
    """``U1,S2`` → ["U1", "S2"]; an unknown code is refused, naming the known ones."""
    known = load()
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    unknown = [c for c in codes if c not in known]
    if not codes or unknown:
        what = f"Unknown indicator {', '.join(unknown)}. " if unknown else "No indicator given. "
        raise refuse(f"{what}Choose from {', '.join(known)}, separated by commas.")
    return codes


class Command(BaseCommand):
    help = (
        "A site's or a network's indicator report for a period, as a text table, CSV, XLSX or "
        "JSON. Counts are suppressed under the site's small-number rule (for a network, the "
        "strictest of its sites'), as in any public export; --exact gives the exact figures, "
        "for the site's own staff only."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--site", metavar="SLUG", help="one site, by its short name")
        where.add_argument("--network", metavar="NAME", help="every site of a network")
        parser.add_argument("--period", help=f"the period: {EXAMPLES}")
        parser.add_argument("--format", choices=FORMATS, default="table")
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="write to FILE instead of standard output (needed for xlsx on a terminal)",
        )
        parser.add_argument(
            "--indicators",
            metavar="CODES",
            help="only these indicators, e.g. U1,U3,S2 (default: all)",
        )
        parser.add_argument(
            "--exact",
            action="store_true",
            help="exact figures, not suppressed: for the site's own staff only; never publish",
        )
        parser.add_argument(
            "--as-at",
            metavar="DATETIME",
            help="when the report says it was made, ISO 8601 (default now); for reproducible "
            "output. Figures are computed from the records as they are now.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scope = self.scope(options)
        codes = parse_codes(options["indicators"]) if options["indicators"] else None
        # As anyone outside the sites is shown it (a network's sites' counts linked with its
        # totals), unless --exact.
        shown = published_for(None, scope, codes, rule=None if options["exact"] else "reader")
        # Standard output, or what call_command was given (tests pass a StringIO).
        stream = options.get("stdout") or sys.stdout
        self.emit(shown, options["format"], options["output"], stream)

    def scope(self, options: dict[str, Any]) -> Scope:
        if not options["site"] and not options["network"]:
            raise refuse("Choose what to report on: --site SLUG or --network NAME.")
        if not options["period"]:
            raise refuse(f"Choose a period with --period ({EXAMPLES}).")
        try:
            period = parse_period(options["period"])
        except PeriodError as error:
            raise refuse(str(error)) from None
        now = parse_as_at(options["as_at"]) if options["as_at"] else None
        if options["site"]:
            site = (
                Site.objects.select_related("network").filter(slug=options["site"].strip()).first()
            )
            if site is None:
                known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True))
                raise refuse(f"No site {options['site']!r}. Sites: {known or 'none yet'}.")
            return site_scope(site, period, now)
        network = Network.objects.filter(name=options["network"].strip()).first()
        if network is None:
            known = ", ".join(Network.objects.order_by("name").values_list("name", flat=True))
            raise refuse(f"No network {options['network']!r}. Networks: {known or 'none yet'}.")
        scope = network_scope(network, period, now)
        if not scope.sites:
            raise refuse(f"The network {network.name!r} has no sites to report on.")
        return scope

    def emit(self, shown: ShownReport, fmt: str, output: str | None, stream: Any) -> None:
        data: bytes = WRITERS[fmt](shown)
        if output:
            path = Path(output)
            try:
                path.write_bytes(data)
            except OSError as error:
                raise refuse(f"Cannot write {path}: {error.strerror or error}.") from None
            self.stderr.write(f"Wrote {path} ({len(data):,} bytes).")
            return
        binary = getattr(stream, "buffer", None)
        if fmt == "xlsx" and (binary is None or stream.isatty()):
            raise refuse("An XLSX file cannot be shown on a terminal: add --output FILE.")
        if binary is not None:
            stream.flush()
            binary.write(data)
            binary.flush()
        else:
            stream.write(data.decode("utf-8"))
