"""``saferoom plan``: how many spaces, and when to open — the capacity simulation.

    saferoom plan --profile busy-urban-500 --booths 12 --rooms 4 --seats 2
    saferoom plan --profile my-site.json --booths 6 --rooms 1 --open "Mon-Sun 10:00-22:00"
    saferoom plan --site riverside --from 2025-01-06 --to 2025-03-30 --target-p95 15
    saferoom plan --profile busy-urban-500 --booths 14 --rooms 8 --check

Prints median and p95 waits, the share leaving unserved and occupancy and waits by hour (a
table, or one JSON object with ``--format json``); with ``--target-p95 MINUTES`` also the
smallest numbers of booths and inhalation rooms keeping the p95 wait at or under it. ``--check``
compares the simulation with the Erlang-C formula (Poisson arrivals, exponential times, no
clear-down, nobody leaving) and exits 1 when they disagree beyond tolerance. Bad input: a
one-line message and exit status 2.
"""

from __future__ import annotations

import json
import math
from argparse import ArgumentParser
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from saferoom.evaluation.capacity import (
    ALWAYS_OPEN,
    DISTRIBUTIONS,
    ROUTES,
    ArrivalProfile,
    ErlangCheck,
    PlanInput,
    PlanResult,
    SpaceResult,
    describe_open_hours,
    erlang_check,
    load_profile,
    parse_open_hours,
    simulate,
    smallest_booths,
    smallest_rooms,
)

FORMATS = ("table", "json")
DEFAULT_SITE_DAYS = 28


def _refuse(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def _whole(value: str | None, option: str, *, minimum: int, maximum: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _refuse(f"{option} takes a whole number, not {value!r}.") from None
    if not minimum <= number <= maximum:
        raise _refuse(f"{option} must be between {minimum} and {maximum}; it is {number}.")
    return number


def _minutes(value: str | None, option: str, *, allow_none: bool = False) -> float | None:
    if value is None:
        return None
    if allow_none and value.strip().lower() in ("none", "inf", "never"):
        return math.inf
    try:
        number = float(value)
    except ValueError:
        raise _refuse(f"{option} takes a number of minutes, not {value!r}.") from None
    if not math.isfinite(number) or number < 0:
        raise _refuse(f"{option} must be a number of minutes of at least 0, not {value!r}.")
    return number


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _refuse(f"{option} takes a date like 2025-01-31, not {value!r}.") from None


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


class Command(BaseCommand):
    help = (
        "Simulate a site's queue for spaces: waits, people leaving unserved, occupancy by hour, "
        "and the smallest numbers of spaces meeting a p95 wait target."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        source = parser.add_argument_group("arrivals (one of)")
        source.add_argument(
            "--profile", metavar="NAME|FILE", help="a shipped profile name or a JSON profile file"
        )
        source.add_argument(
            "--site", metavar="SLUG", help="a site's short name: its recorded arrivals and spaces"
        )
        source.add_argument(
            "--from",
            metavar="DATE",
            dest="start",
            help="first day of the site's record (YYYY-MM-DD)",
        )
        source.add_argument(
            "--to", metavar="DATE", dest="end", help="last day of the site's record (YYYY-MM-DD)"
        )
        spaces = parser.add_argument_group("spaces and hours")
        spaces.add_argument("--booths", metavar="N", help="injection booths (inject, snort, oral)")
        spaces.add_argument("--rooms", metavar="N", help="inhalation rooms (smoke)")
        spaces.add_argument("--seats", metavar="N", help="seats per inhalation room (default 1)")
        spaces.add_argument(
            "--open", metavar="HOURS", help="opening hours, e.g. 'Mon-Sun 10:00-22:00' or '24/7'"
        )
        spaces.add_argument(
            "--minutes",
            action="append",
            default=[],
            metavar="ROUTE=MIN",
            help="mean minutes in a space for a route (repeat), e.g. --minutes smoke=25",
        )
        spaces.add_argument(
            "--clear-down-booth", metavar="MIN", help="minutes a booth is cleaned between clients"
        )
        spaces.add_argument(
            "--clear-down-room", metavar="MIN", help="minutes an inhalation seat ventilates"
        )
        spaces.add_argument(
            "--patience", metavar="MIN", help="mean minutes before leaving unserved, or 'none'"
        )
        spaces.add_argument(
            "--distribution",
            metavar="KIND",
            help="time in space: lognormal (default) or exponential",
        )
        run = parser.add_argument_group("run")
        run.add_argument(
            "--days", metavar="N", help="days to simulate (default 28; 365 for --check)"
        )
        run.add_argument("--seed", metavar="N", help="random seed (default 1)")
        run.add_argument(
            "--target-p95",
            metavar="MINUTES",
            help="find the smallest numbers keeping p95 wait ≤ MINUTES",
        )
        run.add_argument(
            "--format", metavar="table|json", default="table", help="table (default) or json"
        )
        run.add_argument(
            "--check", action="store_true", help="compare with Erlang-C; exit 1 if they disagree"
        )

    # --- Reading the options -------------------------------------------------------------------

    def _profile_and_defaults(
        self, options: dict[str, Any]
    ) -> tuple[ArrivalProfile, dict[str, Any]]:
        if options["profile"] and options["site"]:
            raise _refuse("Give --profile or --site, not both.")
        if options["profile"]:
            if options["start"] or options["end"]:
                raise _refuse("--from and --to go with --site, not --profile.")
            try:
                return load_profile(options["profile"]), {}
            except ValueError as error:
                raise _refuse(str(error)) from None
        if options["site"]:
            return self._site(options)
        raise _refuse("Say where arrivals come from: --profile NAME|FILE or --site SLUG.")

    def _site(self, options: dict[str, Any]) -> tuple[ArrivalProfile, dict[str, Any]]:
        from saferoom.evaluation.site_data import recorded_profile, site_plan_defaults
        from saferoom.sites.models import Site

        site = Site.objects.filter(slug=options["site"]).first()
        if site is None:
            raise _refuse(f"No site with the short name {options['site']!r}.")
        end = _date(options["end"], "--to")
        start = _date(options["start"], "--from")
        if end is None:
            end = site.local(timezone.now()).date() - timedelta(days=1)
        if start is None:
            start = end - timedelta(days=DEFAULT_SITE_DAYS - 1)
        try:
            profile = recorded_profile(site, start, end)
        except ValueError as error:
            raise _refuse(str(error)) from None
        return profile, site_plan_defaults(site)

    def _plan(self, options: dict[str, Any]) -> tuple[PlanInput, list[str]]:
        profile, defaults = self._profile_and_defaults(options)
        notes: list[str] = []
        if profile.arrivals_per_week == 0:
            notes.append("No arrivals in the profile or the period: nothing to simulate.")
        booths = _whole(options["booths"], "--booths", minimum=0, maximum=1000)
        rooms = _whole(options["rooms"], "--rooms", minimum=0, maximum=1000)
        seats = _whole(options["seats"], "--seats", minimum=1, maximum=50)
        booths = booths if booths is not None else defaults.get("booths")
        rooms = rooms if rooms is not None else defaults.get("inhalation_rooms")
        seats = seats if seats is not None else defaults.get("seats_per_room", 1)
        if booths is None or rooms is None:
            raise _refuse("Say how many spaces: --booths N --rooms N (or use --site SLUG).")
        if defaults.get("flexible"):
            notes.append(f"{defaults['flexible']} flexible space(s) counted as booths.")
        if options["open"]:
            try:
                open_hours = parse_open_hours(options["open"])
            except ValueError as error:
                raise _refuse(str(error)) from None
        elif "open_hours" in defaults:
            open_hours = defaults["open_hours"]
        elif any(profile.active_hours()):
            # A profile's hours with arrivals: those still waiting when arrivals stop leave.
            open_hours = profile.active_hours()
        else:
            open_hours = ALWAYS_OPEN
        service: dict[str, float] = {}
        for item in options["minutes"]:
            route, sep, value = item.partition("=")
            if not sep or route.strip() not in ROUTES:
                raise _refuse(
                    f"--minutes takes ROUTE=MINUTES with a route of {', '.join(ROUTES)}, "
                    f"not {item!r}."
                )
            minutes = _minutes(value, f"--minutes {route.strip()}")
            if not minutes:
                raise _refuse(f"--minutes {route.strip()} must be more than 0.")
            service[route.strip()] = minutes
        clear_down = dict(defaults.get("clear_down_minutes", {}))
        for option, kind in (("clear_down_booth", "booth"), ("clear_down_room", "inhalation")):
            value = _minutes(options[option], "--" + option.replace("_", "-"))
            if value is not None:
                clear_down[kind] = value
        patience = _minutes(options["patience"], "--patience", allow_none=True)
        if patience == 0:
            raise _refuse("--patience must be more than 0 minutes (or 'none').")
        distribution = options["distribution"] or "lognormal"
        if distribution not in DISTRIBUTIONS:
            raise _refuse(f"--distribution is lognormal or exponential, not {distribution!r}.")
        days = _whole(options["days"], "--days", minimum=1, maximum=3660)
        if days is None:
            days = 365 if options["check"] else 28
        seed = _whole(options["seed"], "--seed", minimum=0, maximum=2**32 - 1)
        try:
            plan = PlanInput(
                profile=profile,
                booths=booths,
                inhalation_rooms=rooms,
                seats_per_room=seats,
                open_hours=open_hours,
                service_minutes=service,
                service_distribution=distribution,
                clear_down_minutes=clear_down,
                patience_minutes=30.0 if patience is None else patience,
                days=days,
                seed=1 if seed is None else seed,
            )
        except ValueError as error:
            raise _refuse(str(error)) from None
        return plan, notes

    # --- Running ---------------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        fmt = options["format"]
        if fmt not in FORMATS:
            raise _refuse(f"--format is table or json, not {fmt!r}.")
        target = _minutes(options["target_p95"], "--target-p95")
        if options["check"] and target is not None:
            raise _refuse("--check runs on its own; leave out --target-p95.")
        plan, notes = self._plan(options)

        if options["check"]:
            try:
                check = erlang_check(plan, days=plan.days)
            except ValueError as error:
                raise _refuse(str(error)) from None
            if fmt == "json":
                self.stdout.write(
                    json.dumps({"plan": _plan_dict(plan), "check": check.to_dict()}, indent=2)
                )
            else:
                self.stdout.write(_check_table(plan, check))
            if not check.rows:
                raise _refuse("Nothing to check: no spaces with arrivals.")
            if not check.ok:
                raise CommandError(
                    "The simulation and Erlang-C disagree beyond tolerance.", returncode=1
                )
            return

        result = simulate(plan)
        smallest: dict[str, int | None] | None = None
        if target is not None:
            found_booths = smallest_booths(plan, target_p95_minutes=target)
            found_rooms = smallest_rooms(plan, target_p95_minutes=target)
            smallest = {
                "booths": None if found_booths is None else found_booths[0],
                "inhalation_rooms": None if found_rooms is None else found_rooms[0],
            }
        if fmt == "json":
            data: dict[str, Any] = {
                "plan": _plan_dict(plan),
                "result": result.to_dict(),
                "notes": notes,
            }
            if smallest is not None:
                data["target_p95_minutes"] = target
                data["smallest"] = smallest
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(_result_table(plan, result, notes))
        if smallest is not None and target is not None:
            self.stdout.write(_smallest_text(plan, target, smallest))


def _plan_dict(plan: PlanInput) -> dict[str, Any]:
    return {
        "profile": plan.profile.name,
        "arrivals_per_day": plan.profile.arrivals_per_day,
        "route_mix": plan.profile.route_mix,
        "booths": plan.booths,
        "inhalation_rooms": plan.inhalation_rooms,
        "seats_per_room": plan.seats_per_room,
        "open_hours": list(plan.open_hours),
        "open_hours_text": describe_open_hours(plan.open_hours),
        "service_minutes": plan.service_minutes,
        "service_distribution": plan.service_distribution,
        "clear_down_minutes": plan.clear_down_minutes,
        "patience_minutes": None if math.isinf(plan.patience_minutes) else plan.patience_minutes,
        "days": plan.days,
        "seed": plan.seed,
    }


def _header(plan: PlanInput) -> list[str]:
    profile = plan.profile
    mix = ", ".join(f"{r} {share * 100:.0f}%" for r, share in profile.route_mix.items() if share)
    patience = (
        "never leave" if math.isinf(plan.patience_minutes) else f"{plan.patience_minutes:g} min"
    )
    title = f" — {profile.title}" if profile.title else ""
    return [
        f"Arrivals: {profile.name}{title}",
        f"  {profile.arrivals_per_day:.1f} a day on average; routes: {mix}",
        f"Spaces: {plan.booths} booths, {plan.inhalation_rooms} inhalation rooms × "
        f"{plan.seats_per_room} seat(s); open: {describe_open_hours(plan.open_hours)}",
        f"  time in space ({plan.service_distribution}): "
        + ", ".join(f"{r} {m:g}" for r, m in plan.service_minutes.items())
        + f" min; clear-down booth {plan.clear_down_minutes['booth']:g}, "
        f"inhalation {plan.clear_down_minutes['inhalation']:g} min; patience {patience}",
        f"Simulated {plan.days} days, seed {plan.seed}.",
    ]


def _space_row(
    label: str, arrivals: int, served: int, median: float, p95: float, unserved: float
) -> str:
    return (
        f"{label:<18}{arrivals:>10,}{served:>10,}{median:>10.1f}{p95:>10.1f}"
        f"{_percent(unserved):>10}"
    )


def _result_table(plan: PlanInput, result: PlanResult, notes: list[str]) -> str:
    lines = _header(plan) + [f"Note: {n}" for n in notes] + [""]
    lines.append(f"{'':<18}{'Arrivals':>10}{'Served':>10}{'Median':>10}{'p95':>10}{'Unserved':>10}")
    lines.append(f"{'':<18}{'':>10}{'':>10}{'wait min':>10}{'wait min':>10}{'':>10}")
    spaces: list[tuple[str, SpaceResult | None]] = [
        ("Booths", result.booth),
        ("Inhalation seats", result.inhalation),
    ]
    for label, space in spaces:
        if space is not None:
            lines.append(
                _space_row(
                    label,
                    space.arrivals,
                    space.served,
                    space.median_wait_minutes,
                    space.p95_wait_minutes,
                    space.share_unserved,
                )
            )
    lines.append(
        _space_row(
            "All",
            result.arrivals,
            result.served,
            result.median_wait_minutes,
            result.p95_wait_minutes,
            result.share_unserved,
        )
    )
    lines += ["", "By hour of day (site local time):"]
    lines.append(f"{'Hour':<8}{'Arrivals':>10}{'Occupied':>10}{'Median':>10}{'p95':>10}")
    lines.append(f"{'':<8}{'a day':>10}{'':>10}{'wait min':>10}{'wait min':>10}")
    for hour in range(24):
        arrivals = result.arrivals_by_hour[hour]
        occupancy = result.occupancy_by_hour[hour]
        if arrivals == 0 and occupancy == 0:
            lines.append(f"{hour:02d}:00{'-':>13}{'-':>10}{'-':>10}{'-':>10}")
            continue
        lines.append(
            f"{hour:02d}:00{arrivals:>13.1f}{occupancy * 100:>9.0f}%"
            f"{result.median_wait_by_hour[hour]:>10.1f}{result.p95_wait_by_hour[hour]:>10.1f}"
        )
    return "\n".join(lines)


def _smallest_text(plan: PlanInput, target: float, smallest: dict[str, int | None]) -> str:
    booths = smallest["booths"]
    rooms = smallest["inhalation_rooms"]
    booth_text = "more than 80 booths" if booths is None else f"{booths} booth(s)"
    room_text = (
        "more than 40 inhalation rooms"
        if rooms is None
        else f"{rooms} inhalation room(s) of {plan.seats_per_room} seat(s)"
    )
    return (
        f"\nSmallest numbers keeping the p95 wait at or under {target:g} min "
        f"(same people, same seed): {booth_text}; {room_text}."
    )


def _check_table(plan: PlanInput, check: ErlangCheck) -> str:
    lines = [
        "Erlang-C check: Poisson arrivals at a constant rate, exponential time in space,",
        "no clear-down, nobody leaves the queue, always open.",
        f"Simulated {check.days} days, seed {check.seed}.",
        "",
    ]
    for kind, label in (("booth", "Booths"), ("inhalation", "Inhalation seats")):
        lines.append(
            f"{label}: {check.spaces[kind]} spaces, "
            f"{check.arrivals_per_hour[kind]:.2f} arrivals an hour, "
            f"mean time in space {check.service_minutes[kind]:.1f} min"
        )
    lines += [
        "",
        f"{'Space':<12}{'Measure':<18}{'Simulated':>11}{'Erlang-C':>11}"
        f"{'Diff':>9}{'Allowed':>9}  OK",
    ]
    for row in check.rows:
        lines.append(
            f"{row.space:<12}{row.measure:<18}{row.simulated:>11.3f}{row.formula:>11.3f}"
            f"{row.difference:>+9.3f}{row.tolerance:>9.3f}  {'yes' if row.ok else 'NO'}"
        )
    lines.append("")
    lines.append("Agree within tolerance." if check.ok else "DISAGREE beyond tolerance.")
    return "\n".join(lines)
