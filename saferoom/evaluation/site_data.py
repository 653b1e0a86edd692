"""The Django side of capacity planning: a site's recorded arrivals as an
:class:`~saferoom.evaluation.capacity.ArrivalProfile`, and its spaces and opening hours as the
defaults of a plan. The only capacity module that touches the database; it reads aggregates
(counts by local date and hour, counts by route), never client rows."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Sum
from django.db.models.functions import ExtractHour, TruncDate

from saferoom.evaluation.capacity import (
    ALWAYS_OPEN,
    DEFAULT_CLEAR_DOWN_MINUTES,
    HOURS_PER_WEEK,
    ROUTES,
    ArrivalProfile,
    open_hours_from_periods,
)
from saferoom.floor.models import Visit
from saferoom.sites.models import Site, Space

MINIMUM_DAYS = 7


def _weekday_counts(start: date, end: date) -> list[int]:
    """How many of each weekday (Monday first) the days start..end (inclusive) hold."""
    days = (end - start).days + 1
    counts = [days // 7] * 7
    for i in range(days % 7):
        counts[(start.weekday() + i) % 7] += 1
    return counts


def recorded_profile(site: Site, start: date, end: date) -> ArrivalProfile:
    """Mean arrivals per hour of week at ``site`` over the days ``start``..``end`` (inclusive,
    the site's local time), from every visit recorded (turn-aways too: they are demand), and the
    route mix of the visits' planned routes. ValueError for a period shorter than a week or the
    wrong way round."""
    if end < start:
        raise ValueError("The period ends before it starts.")
    if (end - start).days + 1 < MINIMUM_DAYS:
        raise ValueError(
            f"The period must cover at least {MINIMUM_DAYS} days, "
            "so that every day of the week is seen."
        )
    tz = site.tz
    begin = datetime.combine(start, time(0), tz)
    finish = datetime.combine(end + timedelta(days=1), time(0), tz)
    visits = Visit.objects.filter(site=site, arrived_at__gte=begin, arrived_at__lt=finish)
    by_hour = (
        visits.annotate(
            day=TruncDate("arrived_at", tzinfo=tz), hour=ExtractHour("arrived_at", tzinfo=tz)
        )
        .values("day", "hour")
        .annotate(n=Count("id"))
        .order_by()
    )
    totals = [0] * HOURS_PER_WEEK
    for row in by_hour:
        totals[row["day"].weekday() * 24 + row["hour"]] += row["n"]
    occurrences = _weekday_counts(start, end)
    rates = tuple(totals[i] / occurrences[i // 24] for i in range(HOURS_PER_WEEK))

    routes = Counter(
        {
            row["planned_route"]: row["n"]
            for row in visits.exclude(planned_route="")
            .values("planned_route")
            .annotate(n=Count("id"))
            .order_by()
            if row["planned_route"] in ROUTES
        }
    )
    recorded = sum(routes.values())
    if recorded:
        mix = {route: routes[route] / recorded for route in ROUTES}
        mix_note = f"route mix from {recorded} planned routes"
    else:
        permitted = [r for r in site.permitted_routes if r in ROUTES] or list(ROUTES)
        mix = {route: (1 / len(permitted) if route in permitted else 0.0) for route in ROUTES}
        mix_note = "no planned routes recorded: routes allowed on site taken as equally likely"
    return ArrivalProfile(
        name=f"{site.slug}-{start.isoformat()}-{end.isoformat()}",
        title=f"{site.name}: recorded arrivals {start.isoformat()} to {end.isoformat()}",
        description=(
            f"Mean visits in each hour of the week over {(end - start).days + 1} days "
            f"({sum(totals)} visits, turn-aways included), site local time; {mix_note}."
        ),
        source="saferoom visit records",
        rate_per_hour=rates,
        route_mix=mix,
    )


def site_plan_defaults(site: Site) -> dict[str, Any]:
    """A plan's numbers as the site is set up: ``booths`` (injection booths plus flexible
    spaces, which take any route), ``inhalation_rooms``, ``seats_per_room`` (the rooms' mean,
    rounded), ``open_hours`` (168 flags from the opening hours; always open when none are set),
    ``clear_down_minutes`` by kind (the spaces' mean), and for the record ``flexible``,
    ``out_of_service`` and ``hours_set``. Spaces out of service are counted: they are part of
    the site."""
    spaces = Space.objects.filter(site=site).values("kind").order_by()
    by_kind = {
        row["kind"]: row
        for row in spaces.annotate(
            n=Count("id"), seats=Sum("seats"), clear=Avg("clear_down_minutes")
        )
    }
    out_of_service = Space.objects.filter(site=site, out_of_service=True).count()

    def count(kind: str) -> int:
        return int(by_kind[kind]["n"]) if kind in by_kind else 0

    booths = count("booth") + count("flexible")
    rooms = count("inhalation")
    seats = round(by_kind["inhalation"]["seats"] / rooms) if rooms else 1
    clear_down = dict(DEFAULT_CLEAR_DOWN_MINUTES)
    if "booth" in by_kind:
        clear_down["booth"] = float(by_kind["booth"]["clear"])
    if rooms:
        clear_down["inhalation"] = float(by_kind["inhalation"]["clear"])

    periods = [
        (h.weekday, h.opens.hour * 60 + h.opens.minute, h.closes.hour * 60 + h.closes.minute)
        for h in site.opening_hours.all()
    ]
    return {
        "booths": booths,
        "inhalation_rooms": rooms,
        "seats_per_room": max(1, seats),
        "open_hours": open_hours_from_periods(periods) if periods else ALWAYS_OPEN,
        "clear_down_minutes": clear_down,
        "flexible": count("flexible"),
        "out_of_service": out_of_service,
        "hours_set": bool(periods),
    }
