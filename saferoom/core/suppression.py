"""Small-number suppression: what people outside a site's own staff may see of a count.

A count below the rule's threshold is hidden (primary suppression). In a table whose row and
column totals are shown, a hidden cell could be rebuilt by subtraction, so more cells are hidden
until none can be (secondary suppression). Whether a hidden figure can be rebuilt is decided as
a statistical office's cell audit does it (tau-Argus): from what a reader knows — each shown
figure, each hidden figure's possible range under the published rule, and that every row and
column adds up to its total — the smallest and largest value the hidden figure could take are
found by linear programming. A figure whose range holds a single whole number is exposed, and
another figure of its row or column is hidden. A cheap pass that narrows ranges line by line
runs first; the linear programmes catch what only several lines together reveal. The property
tests in ``tests/core/test_suppression.py`` check the result by brute force: every hidden value
has at least two possible values given everything shown.

One disclosure no hiding can prevent: the rule itself shows zeros and says a hidden count is
from 1 to ``below - 1``, so a small line total over ``below - 1`` non-zero counts tells a reader
each of them is 1 (``[[1, 1], [1, 1]]`` under a rule hiding 1–4). A figure that a reader could
pin down even with every non-zero figure hidden is left as it is; hiding more for it would only
cost the rest of the table and never protect it.

No Django, so reports, exports, the API and the evaluation engine share it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import linprog  # type: ignore[import-untyped]  # scipy ships no stubs

Reason = Literal["", "primary", "secondary"]


@dataclass(frozen=True)
class Rule:
    """How counts are published outside the site: counts from 1 to ``below - 1`` are hidden and
    shown as ``marker``; shown counts are rounded to the nearest ``round_to`` (1 = exact).
    Zero is always shown: a count of nothing discloses nobody."""

    code: str
    label: str
    below: int
    marker: str
    round_to: int = 1
    secondary_marker: str = "[c]"

    def describe(self) -> str:
        text = f"Counts from 1 to {self.below - 1} are shown as {self.marker}"
        if self.round_to > 1:
            text += f"; other counts are rounded to the nearest {self.round_to}"
        return (
            text + f". Further cells marked {self.secondary_marker} are hidden so that no hidden "
            "count can be worked out from the totals. Zero is shown as 0."
        )

    def shown(self, value: int) -> int:
        """The published value of a count that is not hidden."""
        if self.round_to <= 1 or value == 0:
            return value
        # Round half up, and never round a shown count down to zero.
        rounded = ((value + self.round_to // 2) // self.round_to) * self.round_to
        return max(rounded, self.round_to)

    def hides(self, value: int) -> bool:
        return 0 < value < self.below


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("lt10", "1–9 shown as <10", below=10, marker="<10"),
        Rule("nhs", "NHS Digital: 1–7 as *, others rounded to 5", below=8, marker="*", round_to=5),
        Rule("ndtms", "Drug treatment (NDTMS): 1–4 as <5", below=5, marker="<5"),
    )
}
DEFAULT_RULE = "lt10"


def rule_named(code: str) -> Rule:
    try:
        return RULES[code]
    except KeyError:
        known = ", ".join(RULES)
        raise ValueError(f"Unknown suppression rule {code!r}; choose one of {known}.") from None


@dataclass(frozen=True)
class Cell:
    """One published figure: ``value`` is None when hidden; ``text`` is what to print."""

    value: int | None
    text: str
    reason: Reason = ""

    @property
    def hidden(self) -> bool:
        return self.value is None


def exact(value: int) -> Cell:
    """A figure shown as it is (site staff, or a figure that is never suppressed)."""
    return Cell(value, str(value))


def suppress_value(value: int, rule: Rule) -> Cell:
    """A single figure with no totals to rebuild it from."""
    if value < 0:
        raise ValueError("A count cannot be negative.")
    if rule.hides(value):
        return Cell(None, rule.marker, "primary")
    shown = rule.shown(value)
    return Cell(shown, str(shown))


@dataclass(frozen=True)
class Table:
    """A published two-way table: inner cells, row totals, column totals and the grand total."""

    cells: tuple[tuple[Cell, ...], ...]
    row_totals: tuple[Cell, ...]
    column_totals: tuple[Cell, ...]
    total: Cell


# --- what a reader can deduce -------------------------------------------------------------

INFINITY = 10**12


@dataclass
class _Known:
    lo: int
    hi: int


def _reader_view(value: int, hidden: Reason, rule: Rule) -> _Known:
    """The range a reader knows a figure lies in, from what is printed and the published rule."""
    if hidden == "primary":
        return _Known(1, rule.below - 1)
    if hidden == "secondary":
        # Only shown counts (at least the threshold) are ever hidden as secondary.
        return _Known(rule.below, INFINITY)
    shown = rule.shown(value)
    if rule.round_to <= 1 or shown == 0:
        return _Known(shown, shown)
    half = rule.round_to // 2
    return _Known(max(rule.below, shown - half), shown + half)


def exposed(
    values: Sequence[Sequence[int]],
    hidden: dict[tuple[int, int], Reason],
    rule: Rule,
    *,
    among: Collection[tuple[int, int]] | None = None,
) -> set[tuple[int, int]]:
    """The hidden positions whose value a reader can pin down by adding up rows and columns.

    Positions are (row, column) in the table extended with totals: row ``r`` has its total at
    column ``ncols``; the column totals are row ``nrows``; the grand total is (nrows, ncols).
    ``among``: only these hidden positions are asked about (all of ``hidden`` by default); every
    figure still counts as what the reader knows."""
    asked = [pos for pos in hidden if among is None or pos in among]
    grid = _extended(values)
    nrows, ncols = len(grid) - 1, len(grid[0]) - 1
    known = {
        (r, c): _reader_view(grid[r][c], hidden.get((r, c), ""), rule)
        for r in range(nrows + 1)
        for c in range(ncols + 1)
    }
    lines: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    for r in range(nrows + 1):
        lines.append(([(r, c) for c in range(ncols)], (r, ncols)))
    for c in range(ncols + 1):
        lines.append(([(r, c) for r in range(nrows)], (nrows, c)))
    changed = True
    while changed:
        changed = False
        for parts, total in lines:
            t = known[total]
            lo_sum = sum(known[p].lo for p in parts)
            hi_sum = sum(min(known[p].hi, INFINITY) for p in parts)
            # The total lies between the sums of its parts' bounds.
            new_lo, new_hi = max(t.lo, lo_sum), min(t.hi, hi_sum)
            if (new_lo, new_hi) != (t.lo, t.hi):
                t.lo, t.hi = new_lo, new_hi
                changed = True
            for p in parts:
                k = known[p]
                others_lo = lo_sum - k.lo
                others_hi = hi_sum - min(k.hi, INFINITY)
                p_lo, p_hi = max(k.lo, t.lo - others_hi), min(k.hi, t.hi - others_lo)
                if (p_lo, p_hi) != (k.lo, k.hi):
                    k.lo, k.hi = p_lo, p_hi
                    changed = True
                    lo_sum = others_lo + k.lo
                    hi_sum = others_hi + min(k.hi, INFINITY)
    pinned = {pos for pos in asked if known[pos].lo >= known[pos].hi}
    if pinned:
        return pinned
    return _audit(known, asked, nrows, ncols)


def _audit(
    known: dict[tuple[int, int], _Known],
    asked: Sequence[tuple[int, int]],
    nrows: int,
    ncols: int,
) -> set[tuple[int, int]]:
    """The figures in ``asked`` that a reader could pin down by combining several rows and
    columns: for each, minimise and maximise it over every table consistent with what is shown."""
    if not asked:
        return set()
    count = nrows * ncols

    def expression(pos: tuple[int, int]) -> np.ndarray:
        """The figure at ``pos`` as a sum of inner cells (variables in row-major order)."""
        row = np.zeros(count)
        r, c = pos
        rows = range(nrows) if r == nrows else [r]
        columns = range(ncols) if c == ncols else [c]
        for i in rows:
            for j in columns:
                row[i * ncols + j] = 1.0
        return row

    figures = list(known)
    matrix = np.array([expression(pos) for pos in figures])
    upper = [known[pos].hi for pos in figures]
    lower = [known[pos].lo for pos in figures]
    # lower <= M x <= upper, written as two blocks of "<=" rows.
    a_ub = np.vstack([matrix, -matrix])
    b_ub = np.array([float(min(u, INFINITY)) for u in upper] + [-float(v) for v in lower])
    exposed_now: set[tuple[int, int]] = set()
    for pos in asked:
        objective = expression(pos)
        low = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        high = linprog(-objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        if low.status != 0 or high.status != 0:
            # The true table is always feasible; a solver failure counts as exposed (safe side).
            exposed_now.add(pos)
            continue
        smallest = int(np.ceil(low.fun - 1e-6))
        largest = int(np.floor(-high.fun + 1e-6))
        if largest <= smallest:
            exposed_now.add(pos)
    return exposed_now


def _extended(values: Sequence[Sequence[int]]) -> list[list[int]]:
    rows = [[*row, sum(row)] for row in values]
    columns = [sum(row[c] for row in rows) for c in range(len(rows[0]))]
    return [*rows, columns]


def suppress_table(
    values: Sequence[Sequence[int]], rule: Rule, *, hide_total: bool = False
) -> Table:
    """Publish a table of counts with its row, column and grand totals under ``rule``.

    ``hide_total``: the grand total is hidden too (another table linked to this one needs it
    hidden), and protected like any hidden cell."""
    if not values or not values[0]:
        raise ValueError("A table needs at least one row and one column.")
    width = len(values[0])
    if any(len(row) != width for row in values):
        raise ValueError("Every row of a table needs the same number of columns.")
    if any(v < 0 for row in values for v in row):
        raise ValueError("A count cannot be negative.")
    grid = _extended(values)
    nrows, ncols = len(values), width
    hidden: dict[tuple[int, int], Reason] = {
        (r, c): "primary"
        for r in range(nrows + 1)
        for c in range(ncols + 1)
        if rule.hides(grid[r][c])
    }
    if hide_total and grid[nrows][ncols] and (nrows, ncols) not in hidden:
        hidden[(nrows, ncols)] = "secondary"
    # Every non-zero figure hidden: the least a reader can ever be told. A figure pinned down
    # even then is given away by the rule and the zeros alone, so no more hiding is done for it.
    everything: dict[tuple[int, int], Reason] = {
        (r, c): "primary" if rule.hides(grid[r][c]) else "secondary"
        for r in range(nrows + 1)
        for c in range(ncols + 1)
        if grid[r][c]
    }
    given_away: set[tuple[int, int]] = set()
    while pinned := exposed(values, hidden, rule, among=hidden.keys() - given_away):
        r, c = min(pinned)
        if exposed(values, everything, rule, among={(r, c)}):
            given_away.add((r, c))
            continue
        hidden[_next_to_hide(grid, hidden, r, c, nrows, ncols, rule)] = "secondary"
    return _published(grid, hidden, rule, nrows, ncols)


def _next_to_hide(
    grid: list[list[int]],
    hidden: dict[tuple[int, int], Reason],
    r: int,
    c: int,
    nrows: int,
    ncols: int,
    rule: Rule,
) -> tuple[int, int]:
    """The smallest shown, non-zero figure in the exposed cell's row or column (inner cells
    before totals, so the totals people read most stay visible)."""
    row = [(r, j) for j in range(ncols + 1) if j != c]
    column = [(i, c) for i in range(nrows + 1) if i != r]
    candidates = [
        pos for pos in row + column if pos not in hidden and grid[pos[0]][pos[1]] >= rule.below
    ]
    if not candidates:
        # Nothing left in its lines: hide any shown figure (the table is mostly hidden anyway).
        candidates = [
            (i, j)
            for i in range(nrows + 1)
            for j in range(ncols + 1)
            if (i, j) not in hidden and grid[i][j] >= rule.below
        ]
    if not candidates:
        # Unreachable: with every non-zero figure hidden, whatever is still pinned down is given
        # away by the rule itself, and suppress_table stops asking for more.
        raise RuntimeError("Suppression found no figure left to hide.")  # pragma: no cover

    def weight(pos: tuple[int, int]) -> tuple[int, int, tuple[int, int]]:
        is_total = pos[0] == nrows or pos[1] == ncols
        return (int(is_total), grid[pos[0]][pos[1]], pos)

    return min(candidates, key=weight)


def _published(
    grid: list[list[int]],
    hidden: dict[tuple[int, int], Reason],
    rule: Rule,
    nrows: int,
    ncols: int,
) -> Table:
    def cell(r: int, c: int) -> Cell:
        reason = hidden.get((r, c), "")
        if reason == "primary":
            return Cell(None, rule.marker, "primary")
        if reason == "secondary":
            return Cell(None, rule.secondary_marker, "secondary")
        shown = rule.shown(grid[r][c])
        return Cell(shown, str(shown))

    return Table(
        cells=tuple(tuple(cell(r, c) for c in range(ncols)) for r in range(nrows)),
        row_totals=tuple(cell(r, ncols) for r in range(nrows)),
        column_totals=tuple(cell(nrows, c) for c in range(ncols)),
        total=cell(nrows, ncols),
    )


def suppress_list(
    values: Sequence[int],
    rule: Rule,
    *,
    hide_total: bool = False,
    hide: Sequence[int] = (),
) -> tuple[tuple[Cell, ...], Cell]:
    """Publish a one-way list of counts and its total under ``rule``.

    ``hide_total`` and ``hide`` (positions) hide the total and those counts as well, when a
    table linked to this one needs them hidden: then at least one count is hidden, so the
    total is not the sum of the shown ones.

    A one-way list needs no linear programming: a reader knows the sum of the hidden counts
    (the total less the shown ones, when the total is shown), that each primary-hidden count
    lies from 1 to ``below - 1`` and each secondary one is at least ``below``. A hidden count
    can then take every value from ``max(lo, S - hi_rest)`` to ``min(hi, S - lo_rest)``;
    further counts are hidden, smallest first, until that range holds two values or more for
    every hidden count."""
    if any(v < 0 for v in values):
        raise ValueError("A count cannot be negative.")
    total = sum(values)
    hidden: dict[int, Reason] = {i: "primary" for i, v in enumerate(values) if rule.hides(v)}
    for i in hide:
        if values[i] and i not in hidden:
            hidden[i] = "secondary"
    total_hidden = rule.hides(total) or (hide_total and total > 0)
    if total_hidden and not hidden:
        # A hidden total beside every count shown would be their sum.
        shown_counts = [i for i, v in enumerate(values) if v]
        if shown_counts:
            hidden[min(shown_counts, key=lambda i: (values[i], i))] = "secondary"

    def pinned() -> bool:
        if total_hidden or not hidden:
            return False
        rest_sum = sum(values[i] for i in hidden)
        bounds = {
            i: (1, rule.below - 1) if reason == "primary" else (rule.below, INFINITY)
            for i, reason in hidden.items()
        }
        lo_all = sum(lo for lo, _ in bounds.values())
        hi_all = sum(hi for _, hi in bounds.values())
        for lo, hi in bounds.values():
            low = max(lo, rest_sum - (hi_all - hi))
            high = min(hi, rest_sum - (lo_all - lo))
            if high - low < 1:
                return True
        return False

    while pinned():
        shown = [i for i, v in enumerate(values) if i not in hidden and v >= rule.below]
        if not shown:
            total_hidden = True  # nothing left to hide but the total itself
            break
        hidden[min(shown, key=lambda i: (values[i], i))] = "secondary"

    def cell(i: int) -> Cell:
        reason = hidden.get(i, "")
        if reason == "primary":
            return Cell(None, rule.marker, "primary")
        if reason == "secondary":
            return Cell(None, rule.secondary_marker, "secondary")
        return Cell(rule.shown(values[i]), str(rule.shown(values[i])))

    if total_hidden:
        total_cell = (
            Cell(None, rule.marker, "primary")
            if rule.hides(total)
            else Cell(None, rule.secondary_marker, "secondary")
        )
    else:
        total_cell = Cell(rule.shown(total), str(rule.shown(total)))
    return tuple(cell(i) for i in range(len(values))), total_cell
