"""Rollups that keep reports fast at network scale: daily counts by site, local day and hour,
kept up to date by the worker. Until they are built for a scope, every fact is read raw."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from saferoom.reports.facts import ClientCounts, CountRow, NewClients
    from saferoom.reports.registry import Scope
    from saferoom.sites.models import Site


def counts(scope: Scope, measures: tuple[str, ...]) -> list[CountRow]:
    from saferoom.reports import facts

    rows: list[CountRow] = []
    by_zone: dict[str, list[Site]] = {}
    for site in scope.sites:
        by_zone.setdefault(site.time_zone, []).append(site)
    for sites in by_zone.values():
        rows += facts.raw_counts(sites, scope.period.first, scope.period.last, measures, scope.now)
    return rows


def unique_clients(scope: Scope) -> ClientCounts:
    from saferoom.reports import facts

    return facts.raw_unique_clients(scope)


def new_registrations(scope: Scope) -> NewClients:
    from saferoom.reports import facts

    return facts.raw_new_registrations(scope)
