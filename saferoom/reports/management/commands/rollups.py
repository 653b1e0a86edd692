"""``saferoom rollups``: bring the reports' rollups up to date now (ADR 10) — what the worker
does a few seconds at a time on every pass, all at once. ``--rebuild`` throws them away first
(after a change to what the facts count, or to check them); ``--site`` limits it to one site."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from saferoom.reports import rollups
from saferoom.sites.models import Site


class Command(BaseCommand):
    help = (
        "Build the reports' rollups of every finished day and month not built yet or changed "
        "since (the worker does this a little at a time). --rebuild starts again from nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--site", metavar="SLUG", help="only this site (its short name)")
        parser.add_argument(
            "--rebuild", action="store_true", help="throw the rollups away first and build anew"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        sites = list(Site.objects.select_related("network").order_by("pk"))
        if options["site"]:
            slug = options["site"].strip()
            sites = [s for s in sites if s.slug == slug]
            if not sites:
                known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(f"No site {slug!r}. Sites: {known or 'none yet'}.")
        quiet = options["quiet"]
        summary = rollups.build(
            sites=sites,
            rebuild=options["rebuild"],
            progress=None if quiet else lambda line: self.stderr.write(f"  {line}"),
        )
        for line in summary.lines():
            self.stdout.write(line)
