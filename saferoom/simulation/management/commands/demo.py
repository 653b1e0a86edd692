"""``saferoom demo``: a demo network with a year of realistic history and one login per role.

Running it again reuses what exists: the network and its history are made once; the demo
accounts are checked (and their password reset) on every run, and each run prints a new code to
enrol the browser as a Riverside tablet, where the desk and floor accounts log in (ADR 14). It
refuses to run with DEBUG off, because it creates accounts with a password printed in the README.
"""

from __future__ import annotations

import subprocess
import sys
from argparse import ArgumentParser
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from saferoom.accounts import actions as account_actions
from saferoom.accounts import tablets
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from saferoom.simulation import runner
from saferoom.simulation.management.commands.simulate import refuse_without_debug
from saferoom.simulation.profiles import Profile, get_profile
from saferoom.sites import actions as site_actions
from saferoom.sites.defaults import seed_catalogue
from saferoom.sites.models import Network, Site

DEMO_NETWORK = "Demo network"


def history_log() -> Path:
    return Path(settings.VAR_DIR) / "demo-history.log"


def history_done() -> Path:
    """Written when the history is complete, so a rerun can tell complete from interrupted."""
    return Path(settings.VAR_DIR) / "demo-history.done"


# Printed in the README and on screen; the demo refuses to run unless DEBUG is on.
DEMO_PASSWORD = "saferoom-demo"  # noqa: S105
DEMO_SEED = 2025
DEMO_URL = "http://127.0.0.1:8000"
# A newly opened service is quieter in its first weeks.
RAMP_UP_DAYS = 42
# The demo's tablet code: for a day of trying the demo, not the 15 minutes of a real one; each
# run of the demo prints a new one.
DEMO_TABLET_CODE_LIFE = timedelta(hours=24)
DEMO_TABLET_SITE = "riverside"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role


DEMO_ACCOUNTS = (
    DemoAccount("dana.desk", "Dana (front desk)", Role.DESK),
    DemoAccount("femi.floor", "Femi (floor nurse)", Role.FLOOR),
    DemoAccount("morgan.manager", "Morgan (manager)", Role.MANAGER),
    DemoAccount("eve.evaluator", "Eve (evaluator)", Role.EVALUATOR),
    DemoAccount("ada.admin", "Ada (administrator)", Role.ADMIN),
)


@dataclass(frozen=True)
class DemoSpace:
    name: str
    kind: str
    seats: int = 1
    clear_down_minutes: int | None = None
    accessible: bool = False


@dataclass(frozen=True)
class DemoSite:
    name: str
    slug: str
    kind: str
    profile: str
    weekdays: tuple[int, ...]
    opens: time
    closes: time
    spaces: tuple[DemoSpace, ...]
    rules: dict[str, Any]


def _booths(count: int, *, accessible: int = 0) -> tuple[DemoSpace, ...]:
    return tuple(
        DemoSpace(f"Booth {n}", "booth", accessible=n > count - accessible)
        for n in range(1, count + 1)
    )


EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)

DEMO_SITES = (
    DemoSite(
        # Like the Thistle, Glasgow: injection only, 8 booths (2 accessible), 09:00–21:00.
        name="Riverside",
        slug="riverside",
        kind=Site.Kind.FIXED,
        profile="glasgow",
        weekdays=EVERY_DAY,
        opens=time(9),
        closes=time(21),
        spaces=(*_booths(8, accessible=2), DemoSpace("Recovery", "aftercare", seats=8)),
        rules={"permitted_routes": ["inject"], "check_first_time_use": False},
    ),
    DemoSite(
        # Like a North Rhine-Westphalia room: mixed, more than half inhalation, anonymous
        # visits allowed, no drug checking (German law forbids it in a consumption room).
        name="Eastgate",
        slug="eastgate",
        kind=Site.Kind.FIXED,
        profile="nrw",
        weekdays=EVERY_DAY,
        opens=time(10),
        closes=time(22),
        spaces=(
            *_booths(12, accessible=2),
            DemoSpace("Smoking room 1", "inhalation", seats=3, clear_down_minutes=10),
            DemoSpace("Smoking room 2", "inhalation", seats=3, clear_down_minutes=10),
            DemoSpace("Flexible 1", "flexible"),
            DemoSpace("Flexible 2", "flexible"),
            DemoSpace("Recovery", "aftercare", seats=12),
        ),
        rules={"anonymous_visits_allowed": True, "drug_checking_allowed": False},
    ),
    DemoSite(
        # A van at afternoon stops, Tuesday to Friday.
        name="Van",
        slug="van",
        kind=Site.Kind.MOBILE,
        profile="mobile",
        weekdays=(1, 2, 3, 4),
        opens=time(13),
        closes=time(18),
        spaces=(
            *_booths(2),
            DemoSpace("Smoking seat", "inhalation", seats=1, clear_down_minutes=10),
        ),
        rules={"permitted_routes": ["inject", "smoke"]},
    ),
)


class Command(BaseCommand):
    help = (
        "Create the demo network (two sites and a van) with a year of simulated history, and "
        "one login per role. Running it again reuses what exists."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days", type=int, default=365, help="days of history for a new demo (365)"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument(
            "--url",
            default=DEMO_URL,
            help=f"the address the box tells people to open ({DEMO_URL}; make demo passes its own)",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=0.0,
            help="seconds to pause between write transactions, so a server using the same "
            "SQLite database stays responsive (the background history uses 0.02)",
        )
        parser.add_argument(
            "--history",
            choices=["now", "background"],
            default="now",
            help=(
                "make the history now (default), or in a background process so the server can "
                "start at once (make demo); its progress goes to var/demo-history.log"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_without_debug("demo")
        days: int = options["days"]
        if days < 0:
            raise CommandError("--days must not be negative.")
        network, created = self._network()
        if created:
            self.stdout.write(f"Created {network.name}: {', '.join(s.name for s in DEMO_SITES)}.")
        else:
            self.stdout.write(f"{network.name} already exists: reusing it.")
        self._accounts(network)
        tablet_code = self._tablet_code(network)

        sites = list(network.sites.order_by("name"))
        history_needed = days and not Visit.objects.filter(site__in=sites).exists()
        in_progress = history_log().exists() and not history_done().exists()
        if history_needed and options["history"] == "background":
            if in_progress:
                self.stdout.write(
                    f"The demo history is still being made (or was interrupted): see "
                    f"{history_log()}. To start again from nothing: make demo-reset."
                )
            else:
                self._history_in_background(days)
        elif history_needed:
            profiles = {d.slug: get_profile(d.profile) for d in DEMO_SITES}

            def profile_for(site: Site) -> Profile:
                base = profiles.get(site.slug) or get_profile(runner.default_profile_name(site))
                return base.override(ramp_up_days=RAMP_UP_DAYS)

            start = timezone.localdate() - timedelta(days=days)
            self.stdout.write(f"Simulating {days} days of history from {start.isoformat()} …")
            summary = runner.run(
                sites=sites,
                days=days,
                start=start,
                seed=DEMO_SEED,
                profile_for=profile_for,
                pause=options["pause"],
                progress=runner.Progress(
                    days, stream=runner.raw_stream(self.stderr), enabled=not options["quiet"]
                ),
            )
            for line in summary.lines():
                self.stdout.write(line)
            history_done().parent.mkdir(parents=True, exist_ok=True)
            history_done().write_text(timezone.now().isoformat(), encoding="utf-8")
        elif history_done().exists() or not days:
            self.stdout.write("The demo history is already there: not simulating again.")
        else:
            self.stdout.write(
                f"The demo history is still being made (or was interrupted): see {history_log()}. "
                "To start again from nothing: make demo-reset."
            )
        self.stdout.write(self._box(tablet_code, options["url"]))

    def _history_in_background(self, days: int) -> None:
        """A year of history takes about ten minutes (every visit goes through the same
        actions as the desk); serve meanwhile and let the pages fill in as it is made."""
        log_path = history_log()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w", encoding="utf-8") as log:
            subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "saferoom.cli",
                    "demo",
                    "--days",
                    str(days),
                    "--pause",
                    "0.02",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.stdout.write(
            f"Making {days} days of demo history in the background (about ten minutes); "
            f"progress in {log_path}. The pages fill in as it goes."
        )

    def _network(self) -> tuple[Network, bool]:
        existing = Network.objects.filter(name=DEMO_NETWORK).first()
        if existing is not None:
            return existing, False
        with transaction.atomic():
            # There is no action for a new network yet: a deployment starts with one.
            network = Network.objects.create(name=DEMO_NETWORK)
            seed_catalogue(network)
            for spec in DEMO_SITES:
                site = site_actions.create_site(
                    network=network, name=spec.name, slug=spec.slug, kind=spec.kind, by=None
                )
                site_actions.update_site_rules(
                    site=site, changes=spec.rules, expected_version=site.version, by=None
                )
                site_actions.set_opening_hours(
                    site=site,
                    periods=[
                        site_actions.Period(weekday=d, opens=spec.opens, closes=spec.closes)
                        for d in spec.weekdays
                    ],
                    expected_version=site.version,
                    by=None,
                )
                for order, space in enumerate(spec.spaces, start=1):
                    site_actions.create_space(
                        site=site,
                        name=space.name,
                        kind=space.kind,
                        seats=space.seats,
                        clear_down_minutes=space.clear_down_minutes,
                        accessible=space.accessible,
                        sort_order=order,
                        by=None,
                    )
        return network, True

    def _accounts(self, network: Network) -> None:
        """One account per role across the demo network, with the demo password."""
        with transaction.atomic():
            for account in DEMO_ACCOUNTS:
                user = User.objects.filter(username=account.username).first()
                if user is None:
                    site_actions.create_staff_user(
                        username=account.username,
                        display_name=account.display_name,
                        password=DEMO_PASSWORD,
                        memberships=[(account.role, None)],
                        network=network,
                        by=None,
                    )
                    continue
                site_actions.set_network_roles(
                    user=user, network=network, roles=[account.role], by=None
                )
                if not user.check_password(DEMO_PASSWORD):
                    site_actions.set_staff_password(user=user, password=DEMO_PASSWORD, by=None)
                if not user.is_active:
                    site_actions.reactivate_staff_user(user=user, by=None)

    def _tablet_code(self, network: Network) -> str:
        """A one-time code that enrols the demo's browser as a Riverside tablet, so the desk and
        floor accounts can log in (the rule stays on, as on a real service)."""
        site = network.sites.get(slug=DEMO_TABLET_SITE)
        _row, code = account_actions.create_tablet_code(
            site=site, label="Demo tablet", by=None, valid_for=DEMO_TABLET_CODE_LIFE
        )
        return tablets.show_code(code)

    def _box(self, tablet_code: str, url: str = DEMO_URL) -> str:
        labels = {a.username: str(a.role.label) for a in DEMO_ACCOUNTS}
        role_width = max(len(label) for label in labels.values()) + 2
        user_width = max(len(a.username) for a in DEMO_ACCOUNTS) + 2
        rows = [
            f"saferoom demo: open {url}",
            "",
            f"{'Role':<{role_width}}{'Username':<{user_width}}Password",
            *(
                f"{labels[a.username]:<{role_width}}{a.username:<{user_width}}{DEMO_PASSWORD}"
                for a in DEMO_ACCOUNTS
            ),
            "",
            "Desk and floor log in on an enrolled tablet. On the login page choose",
            f"Enrol this tablet and type {tablet_code} (once, within 24 hours).",
            "",
            "Demo accounts only: never use them on a real service.",
        ]
        width = max(len(r) for r in rows) + 2
        lines = ["┌" + "─" * width + "┐"]
        lines += [f"│ {row:<{width - 2}} │" for row in rows]
        lines.append("└" + "─" * width + "┘")
        return "\n".join(lines)
