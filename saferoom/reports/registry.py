"""The indicator registry: each indicator of ``../shared/design/indicators.md`` defined once —
its code, title, definition text, breakdowns, whether it may be suppressed, and the function
that computes it. Screens, exports, the API, the command line and ``docs/indicators.md`` all
read these definitions; nothing else defines an indicator.

An indicator's compute function gets a :class:`Context` (the scope and the other indicators
already computed) and returns a :class:`Result` of exact figures. What a reader is shown —
exact for the site's own staff, suppressed for everyone else — is decided afterwards, by
:func:`saferoom.reports.publish.publish`, from the same result.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from saferoom.reports.periods import Period

if TYPE_CHECKING:
    from saferoom.sites.models import Network, Site

# What a number is, which decides how it is written and whether it can be suppressed.
#   count    a number of people, visits or events: suppressed outside the site's staff
#   rate     numerator × scale ÷ denominator (e.g. per 1,000 episodes)
#   share    a fraction from 0 to 1 (written as a percentage)
#   ratio    numerator ÷ denominator (e.g. visits per client)
#   minutes  a time in whole minutes (medians and percentiles)
#   money    an amount in the network's currency
#   number   any other quantity (e.g. naloxone milligrams); never suppressed
Kind = Literal["count", "rate", "share", "ratio", "minutes", "money", "number"]
Group = Literal["use", "safety", "engagement", "cost"]

GROUPS: dict[str, str] = {
    "use": "Use",
    "safety": "Safety",
    "engagement": "Engagement and harm-reduction outputs",
    "cost": "Cost (input to evaluation)",
}


@dataclass(frozen=True)
class Figure:
    """One headline number of an indicator.

    ``value`` is exact (None when it is not defined, e.g. a rate over zero episodes).
    A derived figure (rate, share, ratio, money per unit) names the figures it is computed
    from as ``"CODE.key"`` in ``numerator`` and ``denominator``; when published under a
    suppression rule it is recomputed from their shown values, and hidden when either is.
    A median or percentile names in ``basis`` the count of observations it describes; it is
    hidden when that count is.
    """

    key: str
    label: str
    value: float | None
    kind: Kind = "count"
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    basis: str | None = None
    note: str = ""  # e.g. the denominator a rate states ("per 1,000 supervised episodes (U2)")
    # A count that is one part of another count of the same indicator (registered visits of
    # all visits; checks before use of all checks): when any part is hidden, every part is,
    # so none is the total minus the others; and when what the parts leave of the total is a
    # small count, the parts are hidden, so that small count cannot be worked out either.
    part_of: str | None = None
    # A count that is the sum of some rows of one of the indicator's one-way tables (referrals
    # attended: the "attended" row of the status table): published from that table as shown,
    # so it is shown only when the shown table gives it away anyway, and hidden otherwise.
    rows_of: tuple[str, tuple[str, ...]] | None = None  # (table key, row keys)


@dataclass(frozen=True)
class Breakdown:
    """A table of an indicator: rows × columns of values.

    - All columns ``count`` and ``additive``: every row's values add up to its row total and
      every column's to its column total; the grand total equals the indicator figure named
      by ``total_key``. Published under a rule with secondary suppression (no hidden cell can
      be rebuilt from the totals), and the indicator's figure takes the table's total.
    - All columns ``count`` and not additive (a client at two sites counts at each): each
      cell is suppressed on its own; no totals are shown.
    - First column ``count``, other columns of another kind (a stats table: n, median, p90):
      the other columns of a row are hidden when its count is hidden. When ``additive``, the
      first column adds up to the figure named by ``total_key`` (visits seen, of waits by
      hour): it is published as a one-way table with that total, with secondary suppression.
    - No ``count`` column (occupancy shares): never suppressed.
    """

    key: str
    label: str
    row_label: str
    rows: tuple[tuple[str, str], ...]  # (key, label), in display order
    columns: tuple[tuple[str, str], ...]  # (key, label); one-way tables have one column
    values: tuple[tuple[float | None, ...], ...]  # [row][column]
    column_kinds: tuple[Kind, ...] = ()  # one per column; empty means all "count"
    additive: bool = True
    total_key: str | None = "total"
    note: str = ""

    def kinds(self) -> tuple[Kind, ...]:
        return self.column_kinds or tuple("count" for _ in self.columns)


def one_way(
    key: str,
    label: str,
    row_label: str,
    rows: tuple[tuple[str, str], ...],
    column: tuple[str, str],
    counts: Mapping[str, int],
    *,
    total_key: str | None = "total",
) -> Breakdown:
    """An additive count table of one column (``column`` is its key and label): each row's
    count from ``counts`` (0 when it has none), adding up to the indicator's ``total_key``.
    Every group's one-way tables are made here."""
    return Breakdown(
        key=key,
        label=label,
        row_label=row_label,
        rows=rows,
        columns=(column,),
        values=tuple((counts.get(row_key, 0),) for row_key, _label in rows),
        total_key=total_key,
    )


@dataclass(frozen=True)
class Result:
    """What one indicator computed for one scope: exact figures and tables."""

    code: str
    figures: tuple[Figure, ...]
    breakdowns: tuple[Breakdown, ...] = ()
    notes: tuple[str, ...] = ()  # said next to the figures (e.g. "no operating cost entered")

    def figure(self, key: str) -> Figure:
        for fig in self.figures:
            if fig.key == key:
                return fig
        raise KeyError(f"{self.code} has no figure {key!r}")


@dataclass(frozen=True)
class Scope:
    """What a report covers: one site or every site of a network, over a period of the sites'
    local calendars, as at ``now``."""

    network: Network
    sites: tuple[Site, ...]
    period: Period
    now: datetime
    is_network: bool = False

    def bounds(self, site: Site) -> tuple[datetime, datetime]:
        """[start, end) of the period at ``site``: local midnight to local midnight."""
        return self.period.bounds(site.time_zone)

    @property
    def site_ids(self) -> tuple[int, ...]:
        return tuple(s.pk for s in self.sites)

    @property
    def label(self) -> str:
        if self.is_network:
            return f"{self.network.name} (all sites)"
        return self.sites[0].name


class Context:
    """Passed to compute functions: the scope, and other indicators' results on demand
    (computed once per report, so S2 reuses S1 and U2)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._results: dict[str, Result] = {}
        self.cache: dict[str, object] = {}  # for facts shared by several indicators

    def result(self, code: str) -> Result:
        if code not in self._results:
            self._results[code] = INDICATORS[code].compute(self)
        return self._results[code]

    @property
    def computed(self) -> frozenset[str]:
        """The codes computed so far."""
        return frozenset(self._results)

    def value(self, ref: str) -> float | None:
        """The exact value of ``"CODE.key"``."""
        code, key = ref.split(".", 1)
        return self.result(code).figure(key).value


Compute = Callable[[Context], Result]


@dataclass(frozen=True)
class Indicator:
    code: str
    title: str
    group: Group
    definition: str
    breakdowns: tuple[str, ...]  # the breakdowns indicators.md lists, by name
    compute: Compute
    suppressible: bool = True  # False: published as is even outside the site (S7)
    comparators: str = ""  # published comparators, said next to the figure (S2)
    order: int = 0

    @property
    def number(self) -> int:
        return int(self.code[1:])


INDICATORS: dict[str, Indicator] = {}
_GROUP_ORDER = {"use": 0, "safety": 1, "engagement": 2, "cost": 3}


def indicator(
    code: str,
    *,
    title: str,
    group: Group,
    definition: str,
    breakdowns: Iterable[str] = (),
    suppressible: bool = True,
    comparators: str = "",
) -> Callable[[Compute], Compute]:
    """Register a compute function as indicator ``code`` (once; a second registration of the
    same code is a programming error)."""

    def decorator(fn: Compute) -> Compute:
        if code in INDICATORS and INDICATORS[code].compute is not fn:
            raise RuntimeError(f"Indicator {code} is defined twice.")
        INDICATORS[code] = Indicator(
            code=code,
            title=title,
            group=group,
            definition=definition,
            breakdowns=tuple(breakdowns),
            compute=fn,
            suppressible=suppressible,
            comparators=comparators,
            order=_GROUP_ORDER[group] * 100 + int(code[1:]),
        )
        return fn

    return decorator


# The modules that register indicators, in the order of indicators.md.
INDICATOR_MODULES = (
    "saferoom.reports.indicators.use",
    "saferoom.reports.indicators.safety",
    "saferoom.reports.indicators.engagement",
    "saferoom.reports.indicators.cost",
)


def load() -> dict[str, Indicator]:
    """Every registered indicator, in report order (U1…U9, S1…S9, E1…E6, C1)."""
    for name in INDICATOR_MODULES:
        importlib.import_module(name)
    ordered = sorted(INDICATORS.values(), key=lambda i: i.order)
    return {i.code: i for i in ordered}


@dataclass(frozen=True)
class Report:
    """Every requested indicator computed for one scope, exact."""

    scope: Scope
    results: dict[str, Result] = field(default_factory=dict)
    # Indicators computed on the way to the ones asked for (S1 and U2 for S2 alone): not
    # shown, but published with them, so a rate is made from its counts as shown.
    support: dict[str, Result] = field(default_factory=dict)

    @property
    def generated_at(self) -> datetime:
        return self.scope.now


def compute_report(scope: Scope, codes: Iterable[str] | None = None) -> Report:
    """Compute ``codes`` (default: every indicator) for ``scope``."""
    registry = load()
    wanted = list(codes) if codes is not None else list(registry)
    unknown = [c for c in wanted if c not in registry]
    if unknown:
        raise KeyError(f"Unknown indicator {', '.join(unknown)}; known: {', '.join(registry)}.")
    ctx = Context(scope)
    results = {code: ctx.result(code) for code in registry if code in wanted}
    support = {
        code: ctx.result(code) for code in registry if code not in wanted and code in ctx.computed
    }
    return Report(scope=scope, results=results, support=support)
