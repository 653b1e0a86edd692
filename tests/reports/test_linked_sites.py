"""A network's sites and its total published as one linked table: whatever one evaluator can see
for a period — each site's own report (exact where they work there, otherwise under the site's
own rule), and the network's report (its total, its visits by day and by site, and the sites
compared, as the page, the API and every export give it) — no site's count that is hidden
wherever it appears can be pinned down. Checked by linear programming over every set of site
counts consistent with what is shown, not by the publication's own arithmetic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog  # type: ignore[import-untyped]

from saferoom.core.suppression import RULES, Rule
from saferoom.reports import registry
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import (
    Shown,
    ShownReport,
    SitesSeen,
    publish,
    reader_range,
)
from saferoom.reports.registry import Breakdown, Figure, Report, Result, Scope

NOW = dt.datetime(2026, 4, 1, 10, 30, tzinfo=ZoneInfo("Europe/London"))
DAYS = (("2026-03-01", "1 March"), ("2026-03-02", "2 March"), ("2026-03-03", "3 March"))
INFINITY = 10**12


@pytest.fixture(autouse=True)
def visits_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """U1 alone, its results built by hand below."""
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def never(ctx: registry.Context) -> Result:
        raise AssertionError

    registry.indicator("U1", title="Visits", group="use", definition="Visits.")(never)
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def scope(sites: Sequence[Any], *, network: bool) -> Scope:
    return Scope(
        network=SimpleNamespace(pk=1, name="Test network"),  # type: ignore[arg-type]
        sites=tuple(sites),
        period=parse_period("2026-03"),
        now=NOW,
        is_network=network,
    )


def visits(counts: Sequence[Sequence[int]], sites: Sequence[Any], *, network: bool) -> Report:
    """U1 as the registry computes it: the total, visits by day (its headline's table) and by
    site. ``counts`` are [site][day]."""
    by_day = tuple(sum(site[d] for site in counts) for d in range(len(DAYS)))
    by_site = tuple(sum(site) for site in counts)
    return Report(
        scope=scope(sites, network=network),
        results={
            "U1": Result(
                "U1",
                figures=(Figure("total", "Visits", sum(by_site)),),
                breakdowns=(
                    Breakdown(
                        "by_day",
                        "By day",
                        "Day",
                        DAYS,
                        (("count", "Visits"),),
                        tuple((n,) for n in by_day),
                    ),
                    Breakdown(
                        "by_site",
                        "By site",
                        "Site",
                        tuple((str(s.pk), s.name) for s in sites),
                        (("count", "Visits"),),
                        tuple((n,) for n in by_site),
                    ),
                ),
            )
        },
    )


def strictest(rules: Sequence[Rule]) -> Rule:
    return max(rules, key=lambda r: (r.below, r.round_to))  # as scopes.scope_rule chooses


def what_the_evaluator_sees(
    counts: Sequence[Sequence[int]],
    rules: Sequence[Rule],
    works_at: Sequence[bool],
    *,
    linked: bool = True,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], ShownReport]:
    """The ranges the reader knows each site's count to lie in from every page (the site's own
    report, and the network's by-site table and comparison), the ranges of the network's
    parts that add up to its total (its total, and its visits by day), and the network report."""
    sites = [
        SimpleNamespace(pk=i + 1, slug=f"s{i}", name=f"Site {i}", time_zone="Europe/London")
        for i in range(len(counts))
    ]
    own_rules: list[Rule | None] = [
        None if works else rule for works, rule in zip(works_at, rules, strict=True)
    ]
    values = [sum(site) for site in counts]
    own = [
        publish(visits([site_counts], [site], network=False), rule)
        .results["U1"]
        .figure("total")
        .shown
        for site_counts, site, rule in zip(counts, sites, own_rules, strict=True)
    ]
    network_rule = strictest(rules)
    seen = SitesSeen(
        values={"U1.total": tuple(values)}, own={"U1.total": tuple(own)}, rules=tuple(own_rules)
    )
    shown = publish(
        visits(counts, sites, network=True), network_rule, sites=seen if linked else None
    )
    result = shown.results["U1"]
    by_site = result.breakdown("by_site")
    compared = shown.sites.get("U1.total") or tuple(row[0] for row in by_site.cells)
    site_ranges = []
    for i, value in enumerate(values):
        lo, hi = reader_range(own[i], own_rules[i], value)
        for cell in (by_site.cells[i][0], compared[i]):
            cell_lo, cell_hi = reader_range(cell, network_rule, value)
            lo, hi = max(lo, cell_lo), min(hi, cell_hi)
        site_ranges.append((lo, hi))
    parts = [reader_range(result.figure("total").shown, network_rule, sum(values))]
    by_day = result.breakdown("by_day")
    day_ranges = [reader_range(row[0], network_rule, 0) for row in by_day.cells]
    return site_ranges, [*parts, *day_ranges], shown


def possible_range(
    i: int, sites: list[tuple[int, int]], totals: list[tuple[int, int]]
) -> tuple[float, float]:
    """The smallest and largest value site ``i``'s count can take, over site counts x and day
    counts y within their ranges with sum(x) = sum(y) = the total (the first of ``totals``)."""
    n, days = len(sites), len(totals) - 1
    bounds = [(lo, None if hi >= INFINITY else hi) for lo, hi in sites]
    bounds += [(lo, None if hi >= INFINITY else hi) for lo, hi in totals[1:]]
    t_lo, t_hi = totals[0]
    bounds.append((t_lo, None if t_hi >= INFINITY else t_hi))
    equal = np.zeros((2, n + days + 1))
    equal[0, :n] = 1
    equal[0, -1] = -1
    equal[1, n : n + days] = 1
    equal[1, -1] = -1
    objective = np.zeros(n + days + 1)
    objective[i] = 1
    low = linprog(objective, A_eq=equal, b_eq=[0, 0], bounds=bounds, method="highs")
    high = linprog(-objective, A_eq=equal, b_eq=[0, 0], bounds=bounds, method="highs")
    assert low.status == 0
    return low.fun, (INFINITY if high.status == 3 else -high.fun)


def hidden_everywhere(shown: ShownReport, own_hidden: Sequence[bool]) -> list[int]:
    cells = shown.sites.get("U1.total") or tuple(
        row[0] for row in shown.results["U1"].breakdown("by_site").cells
    )
    return [i for i, cell in enumerate(cells) if cell.hidden and own_hidden[i]]


def pinned_sites(
    counts: Sequence[Sequence[int]],
    rules: Sequence[Rule],
    works_at: Sequence[bool],
    *,
    linked: bool = True,
) -> list[int]:
    site_ranges, totals, shown = what_the_evaluator_sees(counts, rules, works_at, linked=linked)
    own_hidden = [lo < hi for lo, hi in site_ranges]  # known exactly from some page: not hidden
    found = []
    for i in hidden_everywhere(shown, own_hidden):
        low, high = possible_range(i, site_ranges, totals)
        if high - low < 1 - 1e-6:
            found.append(i)
    return found


small_or_large = st.one_of(st.integers(0, 12), st.integers(0, 400))
sites_and_days = st.integers(2, 4).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.lists(small_or_large, min_size=len(DAYS), max_size=len(DAYS)), min_size=n, max_size=n
        ),
        st.lists(st.sampled_from(sorted(RULES)), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@settings(max_examples=300, deadline=None)
@given(sites_and_days)
def test_no_site_count_hidden_wherever_it_appears_can_be_pinned_down(case):
    counts, rule_codes, works_at = case
    rules = [RULES[code] for code in rule_codes]
    assert pinned_sites(counts, rules, works_at) == []


SMALL_AND_LARGE = ((1, 2, 1), (80, 70, 50))  # 4 visits and 200


def test_without_linking_a_small_site_is_the_network_total_less_the_other():
    """The check above can fail: published one table at a time, Site 0's 4 visits are the
    network's 204 less Site 1's 200, which Site 1's own report shows."""
    both = [RULES["lt10"], RULES["lt10"]]
    assert pinned_sites(SMALL_AND_LARGE, both, [False, False], linked=False) == [0]
    assert pinned_sites(SMALL_AND_LARGE, both, [False, False]) == []


def test_the_linked_total_is_hidden_and_not_the_sum_of_the_days():
    _sites, _totals, shown = what_the_evaluator_sees(
        SMALL_AND_LARGE, [RULES["lt10"]] * 2, [False, False]
    )
    u1 = shown.results["U1"]
    assert u1.figure("total").shown == Shown(None, "[c]", "secondary")
    by_day = u1.breakdown("by_day")
    assert by_day.total == Shown(None, "[c]", "secondary")
    assert any(row[0].hidden for row in by_day.cells)
    assert u1.breakdown("by_site").total == u1.figure("total").shown
