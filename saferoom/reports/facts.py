"""The facts the use indicators (U1–U9) are computed from, read from visits and consumption
sessions: counts by site, local day and local hour, and distinct-client counts.

Two ways to get them, giving the same answers: ``raw_*`` reads the visit and session tables;
:mod:`saferoom.reports.rollups` reads the daily rollups the worker keeps, and falls back to
``raw_*`` for the days a rollup does not cover (today, or days changed since it was built).
Indicators call only the public functions at the bottom.

Measures of :func:`raw_counts` (``CountRow.measure`` → what ``dim`` holds). Day and hour are
the site's local calendar, at the time named:

    visit              "registered" | "anonymous": arrivals not turned away, at arrival
    turnaway           turn-away reason category (capacity, not_eligible, banned,
                       intoxicated, other), at arrival
    otherwise          alternative-location group of visits not turned away
                       (public, semi_public, private, would_not_use, unknown), at arrival
    left_queue         "": visits that left the queue before being seen, at arrival
    episode.route      route of each consumption session, at session start
    episode.substance  substance category of the session (see ``substance_category``)
    episode.space      space kind of the session
    episode.otherwise  alternative-location group of the session's visit
    wait               "<space kind>:<whole minutes>": arrival to the start of the visit's
                       first session, floored to whole minutes, at arrival
    occupied           space kind: seat-minutes occupied or in clear-down in that hour
                       (a session runs from its start to its clear-down end, or its end, or
                       ``now`` while open), split across hours and days
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from saferoom.reports import rollups

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from saferoom.reports.registry import Scope
    from saferoom.sites.models import Site

MEASURES = (
    "visit",
    "turnaway",
    "otherwise",
    "left_queue",
    "episode.route",
    "episode.substance",
    "episode.space",
    "episode.otherwise",
    "wait",
    "occupied",
)


@dataclass(frozen=True, order=True)
class CountRow:
    site_id: int
    day: date
    hour: int
    measure: str
    dim: str
    value: int


@dataclass(frozen=True)
class ClientCounts:
    """U3 and U5's facts for a scope (registered clients only; turned-away arrivals and
    anonymous visits excluded)."""

    total: int  # distinct clients with at least one visit in the period
    by_site: dict[int, int] = field(default_factory=dict)  # distinct per site (not additive)
    by_gender: dict[str, int] = field(default_factory=dict)
    by_age_band: dict[str, int] = field(default_factory=dict)  # "not_known" when no year
    monthly_sum: int = 0  # sum over sites and calendar months of distinct clients
    visits_per_client: tuple[int, ...] = ()  # registered visits of each client, ascending


@dataclass(frozen=True)
class NewClients:
    """U4: clients whose first admitted visit at any site of the network falls in the period
    (for a site scope: and was at that site)."""

    total: int
    by_gender: dict[str, int] = field(default_factory=dict)
    by_age_band: dict[str, int] = field(default_factory=dict)


def raw_counts(
    sites: Sequence[Site], first: date, last: date, measures: Iterable[str], now: datetime
) -> list[CountRow]:
    """Count rows for ``sites`` over the local days ``first``..``last`` (inclusive), from
    the visit and session tables. Rows with value 0 are left out."""
    raise NotImplementedError


def raw_unique_clients(scope: Scope) -> ClientCounts:
    raise NotImplementedError


def raw_new_registrations(scope: Scope) -> NewClients:
    raise NotImplementedError


# --- what indicators call -------------------------------------------------------------------


def counts(scope: Scope, measures: Iterable[str]) -> list[CountRow]:
    """Count rows of ``measures`` for the scope's sites and period (rollups where they are
    built, the raw tables elsewhere)."""
    return rollups.counts(scope, tuple(measures))


def unique_clients(scope: Scope) -> ClientCounts:
    return rollups.unique_clients(scope)


def new_registrations(scope: Scope) -> NewClients:
    return rollups.new_registrations(scope)
