"""``saferoom simulate``: made-up but realistic activity for a site or a whole network, written
through the desk's own actions (see saferoom.simulation.runner)."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from saferoom.simulation import runner
from saferoom.simulation.profiles import PROFILES, Profile
from saferoom.sites.models import Network, Site


def refuse_without_debug(what: str) -> None:
    """Made-up clients and visits must never be mixed into a live service's records."""
    if not settings.DEBUG:
        raise CommandError(
            f"saferoom {what} writes made-up clients and visits, so it runs only in development: "
            "set SAFEROOM_DEBUG=1 (never on a server that holds real records)."
        )


class Command(BaseCommand):
    help = (
        "Simulate realistic activity (arrivals, registrations, check-ins, turn-aways, bans) "
        "at a site or at every site of a network, through the desk's actions."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--site", help="the site's short name (as in its addresses)")
        where.add_argument("--network", help="the network's name: simulate all of its sites")
        parser.add_argument("--days", type=int, required=True, help="how many days to simulate")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same history")
        parser.add_argument(
            "--profile",
            help=f"demand profile: {', '.join(sorted(PROFILES))} "
            "(default: chosen from each site's kind, routes and spaces)",
        )
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a profile parameter, e.g. --set visits_per_day=50 "
            "--set session_minutes=15,25",
        )
        parser.add_argument(
            "--start",
            help="first local day, YYYY-MM-DD (default: the days ending yesterday)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="write the engine's history straight into the tables, thousands of rows at a "
            "time (for benchmarks: millions of visits; no audit trail, no checks, bans or care "
            "records)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="with --bulk on PostgreSQL: write this many sites at once (default 1)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_without_debug("simulate")
        days: int = options["days"]
        if days < 1:
            raise CommandError("--days must be at least 1.")
        sites = self._sites(options["site"], options["network"])
        profile = self._profile(options["profile"], options["set"])
        start = self._start(options["start"], days)
        quiet: bool = options["quiet"]

        simulated = []
        for site in sites:
            problem = self._cannot_simulate(site)
            if problem:
                self.stderr.write(f"Skipping {site.name}: {problem}")
            else:
                simulated.append(site)
        if not simulated:
            raise CommandError("None of the chosen sites can be simulated (see above).")

        if options["bulk"]:
            self._bulk(simulated, days, start, options, profile)
            return
        progress = runner.Progress(days, stream=runner.raw_stream(self.stderr), enabled=not quiet)
        summary = runner.run(
            sites=simulated,
            days=days,
            start=start,
            seed=options["seed"],
            profile=profile,
            progress=progress,
        )
        if not quiet:
            self.stdout.write(
                f"{', '.join(s.name for s in simulated)}: "
                f"{start.isoformat()} to {(start + timedelta(days=days - 1)).isoformat()}"
            )
            for line in summary.lines():
                self.stdout.write(line)

    def _bulk(
        self,
        sites: list[Site],
        days: int,
        start: date,
        options: dict[str, Any],
        profile: Profile | None,
    ) -> None:
        from saferoom.simulation import bulk

        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        quiet: bool = options["quiet"]
        summary = bulk.generate(
            sites=sites,
            days=days,
            start=start,
            seed=options["seed"],
            profile=profile,
            workers=options["workers"],
            progress=None if quiet else lambda line: self.stderr.write(line),
        )
        if not quiet:
            self.stdout.write(
                f"{', '.join(s.name for s in sites)}: "
                f"{start.isoformat()} to {(start + timedelta(days=days - 1)).isoformat()}"
            )
            for line in summary.lines():
                self.stdout.write(line)
            self.stdout.write(
                "The sites' report rollups were forgotten: `saferoom rollups` builds them again."
            )

    def _sites(self, slug: str | None, network_name: str | None) -> list[Site]:
        if slug is not None:
            site = Site.objects.filter(slug=slug).first()
            if site is None:
                known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(
                    f"There is no site called {slug!r}. Sites: {known or 'none yet'}."
                )
            return [site]
        network = Network.objects.filter(name=network_name).first()
        if network is None:
            known = ", ".join(Network.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"There is no network called {network_name!r}. Networks: {known or 'none yet'}."
            )
        sites = list(network.sites.filter(active=True).order_by("name"))
        if not sites:
            raise CommandError(f"The network {network.name!r} has no open sites.")
        return sites

    def _profile(self, name: str | None, assignments: list[str]) -> Profile | None:
        if name is None:
            if assignments:
                raise CommandError("--set changes a profile: name one with --profile.")
            return None
        if name not in PROFILES:
            raise CommandError(
                f"There is no profile called {name!r}. Profiles: {', '.join(sorted(PROFILES))}."
            )
        try:
            return PROFILES[name].override_from_text(assignments)
        except ValueError as error:
            raise CommandError(str(error)) from None

    def _start(self, text: str | None, days: int) -> date:
        today = timezone.localdate()
        if text is None:
            return today - timedelta(days=days)
        try:
            start = date.fromisoformat(text)
        except ValueError:
            raise CommandError(
                f"--start must be a date written YYYY-MM-DD, not {text!r}."
            ) from None
        if start + timedelta(days=days) > today:
            raise CommandError(
                "The simulated days must end by yesterday: choose an earlier --start or fewer "
                "--days."
            )
        return start

    def _cannot_simulate(self, site: Site) -> str:
        if not site.active:
            return "it is not open for business."
        if not site.opening_hours.exists():
            return "it has no opening hours."
        if not runner.site_spec(site).routes_with_places():
            return "it has no booth, room or flexible space for the routes it allows."
        return ""
