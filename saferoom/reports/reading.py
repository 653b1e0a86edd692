"""A report as one reader is shown it, the same on every page, download, API answer and the
command line: a site's report under :func:`~saferoom.reports.scopes.rule_for`; a network's
with its sites' counts published as one table with the network's totals, taking into account
what the reader sees of each site on the site's own pages (exact where they work there,
otherwise under the site's own rule), so that no site's hidden count is the network's total
less the others."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from saferoom.core.suppression import Rule
from saferoom.reports.publish import Shown, ShownReport, SitesSeen, publish
from saferoom.reports.registry import Report, Scope, compute_report
from saferoom.reports.scopes import rule_for, site_scope

# The counts that add up across a network's sites to the network's figure and are compared
# site by site (the network page's comparison): published as one table with the total.
LINKED = ("U1", "U2", "S1", "E2")


def linked_codes(codes: Iterable[str] | None) -> list[str]:
    wanted = set(codes) if codes is not None else set(LINKED)
    return [code for code in LINKED if code in wanted]


def site_reports(scope: Scope, codes: Sequence[str]) -> list[Report]:
    """Each site of a network scope computed on its own (for ``codes``), in the scope's order."""
    return [
        compute_report(site_scope(site, scope.period, scope.now), codes) for site in scope.sites
    ]


def sites_seen(user: Any, scope: Scope, reports: Sequence[Report]) -> SitesSeen:
    """What ``user`` (None: the public) sees of each site's linked counts on its own pages."""
    values: dict[str, list[int]] = {}
    own: dict[str, list[Shown]] = {}
    rules: list[Rule | None] = []
    for report in reports:
        rule = rule_for(user, report.scope)
        rules.append(rule)
        shown = publish(report, rule)
        for code in LINKED:
            found = report.results.get(code)
            if found is None or all(f.key != "total" for f in found.figures):
                continue
            ref = f"{code}.total"
            values.setdefault(ref, []).append(int(found.figure("total").value or 0))
            own.setdefault(ref, []).append(shown.results[code].figure("total").shown)
    return SitesSeen(
        values={ref: tuple(v) for ref, v in values.items()},
        own={ref: tuple(v) for ref, v in own.items()},
        rules=tuple(rules),
    )


def published_for(
    user: Any,
    scope: Scope,
    codes: Sequence[str] | None = None,
    *,
    rule: Rule | Literal["reader"] | None = "reader",
    reports: Sequence[Report] | None = None,
) -> ShownReport:
    """The report of ``scope`` as ``user`` is shown it (``user`` None: the public). ``rule``
    overrides the reader's rule when given (None: exact). A network's ``reports`` of its sites
    may be passed when already computed (they must hold the linked codes asked for)."""
    chosen = rule_for(user, scope) if rule == "reader" else rule
    report = compute_report(scope, codes)
    if not scope.is_network or chosen is None:
        return publish(report, chosen)
    linked = linked_codes({**report.support, **report.results})
    if not linked:
        return publish(report, chosen)
    if reports is None:
        reports = site_reports(scope, linked)
    return publish(report, chosen, sites=sites_seen(user, scope, reports))
