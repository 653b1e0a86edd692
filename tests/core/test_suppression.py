"""Small-number suppression: hidden counts stay hidden, even from someone adding up totals."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from saferoom.core.suppression import (
    RULES,
    Cell,
    Rule,
    Table,
    exposed,
    rule_named,
    suppress_table,
    suppress_value,
)

LT10 = RULES["lt10"]
NHS = RULES["nhs"]
NDTMS = RULES["ndtms"]


# --- single figures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (1, "<10"), (9, "<10"), (10, "10"), (123, "123")]
)
def test_the_default_rule_shows_one_to_nine_as_under_ten(value, text):
    assert suppress_value(value, LT10).text == text


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (7, "*"), (8, "10"), (12, "10"), (13, "15")])
def test_the_nhs_rule_hides_one_to_seven_and_rounds_the_rest_to_five(value, text):
    assert suppress_value(value, NHS).text == text


def test_the_drug_treatment_rule_hides_under_five():
    assert [suppress_value(v, NDTMS).text for v in (4, 5)] == ["<5", "5"]


def test_an_unknown_rule_is_refused_by_name():
    with pytest.raises(ValueError, match="'weird'"):
        rule_named("weird")


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="negative"):
        suppress_value(-1, LT10)


def test_every_rule_describes_itself_for_exports():
    assert "shown as <10" in LT10.describe()
    assert "rounded to the nearest 5" in NHS.describe()


# --- tables ---------------------------------------------------------------------------------


def texts(table: Table) -> list[list[str]]:
    rows = [
        [c.text for c in row] + [t.text]
        for row, t in zip(table.cells, table.row_totals, strict=True)
    ]
    return [*rows, [c.text for c in table.column_totals] + [table.total.text]]


def test_a_table_without_small_numbers_is_shown_in_full():
    assert texts(suppress_table([[10, 20], [30, 40]], LT10)) == [
        ["10", "20", "30"],
        ["30", "40", "70"],
        ["40", "60", "100"],
    ]


def test_a_lone_small_cell_takes_a_second_cell_of_its_row_and_column_with_it():
    # 3 could be rebuilt as 33 - 30 from its row, so more cells must go.
    table = suppress_table([[3, 30, 40], [20, 25, 50]], LT10)
    shown = texts(table)
    assert shown[0][0] == "<10"
    hidden = [
        (r, c) for r, row in enumerate(table.cells) for c, cell in enumerate(row) if cell.hidden
    ]
    assert len(hidden) >= 4  # a rectangle of hidden cells is the smallest safe pattern
    assert {c.reason for row in table.cells for c in row if c.hidden} == {"primary", "secondary"}


def test_secondary_cells_carry_their_own_marker_so_nobody_reads_them_as_small():
    table = suppress_table([[3, 30], [20, 25]], LT10)
    assert any(c.text == "[c]" for row in table.cells for c in row)


def test_a_table_of_ones_under_a_small_total_is_published_not_crashed_on():
    # Found by hypothesis: every figure is from 1 to 4, so all are hidden, yet four non-zero
    # counts under a total below 5 can only be 1 each. No hiding can change that, so the table
    # is published with every figure hidden rather than refused.
    assert texts(suppress_table([[1, 1], [1, 1]], NDTMS)) == [
        ["<5", "<5", "<5"],
        ["<5", "<5", "<5"],
        ["<5", "<5", "<5"],
    ]


def test_a_row_that_gives_itself_away_does_not_cost_the_rest_of_the_table():
    # The first row is four ones whatever is hidden; the second row protects nothing by hiding.
    assert texts(suppress_table([[1, 1, 1, 1], [0, 0, 0, 20]], NDTMS)) == [
        ["<5", "<5", "<5", "<5", "<5"],
        ["0", "0", "0", "20", "20"],
        ["<5", "<5", "<5", "21", "24"],
    ]


def test_ragged_or_negative_tables_are_refused():
    with pytest.raises(ValueError, match="same number of columns"):
        suppress_table([[1, 2], [3]], LT10)
    with pytest.raises(ValueError, match="negative"):
        suppress_table([[1, -2]], LT10)


# --- the property: nothing hidden can be worked out -------------------------------------------


def completions_exist(
    table: Table, values: list[list[int]], rule: Rule, target: tuple[int, int]
) -> bool:
    """Is there a table, other than the true one at ``target``, that prints exactly the same?

    A brute-force search over every inner cell a reader cannot see, with the reader's knowledge:
    shown figures (exact or rounded), hidden primary counts in 1..below-1, hidden secondary counts
    of at least ``below``, totals that add up and print as printed."""
    nrows, ncols = len(values), len(values[0])
    grand = sum(map(sum, values))
    cap = grand + rule.below + 10

    target_is_total = target[0] == nrows or target[1] == ncols

    def fits(cell, value: int) -> bool:
        if cell.reason == "primary":
            return rule.hides(value)
        if cell.reason == "secondary":
            return value >= rule.below
        return not rule.hides(value) and rule.shown(value) == cell.value

    domains: list[list[int]] = []
    for r in range(nrows):
        for c in range(ncols):
            cell = table.cells[r][c]
            options = [v for v in range(cap + 1) if fits(cell, v)]
            if (r, c) == target and not target_is_total:
                options = [v for v in options if v != values[r][c]]
            domains.append(options)

    grid = [[0] * ncols for _ in range(nrows)]

    def most(cell: Cell) -> int:
        """The largest value a printed total allows (to cut the search short)."""
        if cell.reason == "primary":
            return rule.below - 1
        if cell.reason == "secondary":
            return cap
        assert cell.value is not None
        return cell.value + rule.round_to // 2

    row_most = [most(t) for t in table.row_totals]
    column_most = [most(t) for t in table.column_totals]

    def search(i: int) -> bool:
        if i == nrows * ncols:
            columns = [sum(grid[r][c] for r in range(nrows)) for c in range(ncols)]
            extended = [[*row, sum(row)] for row in grid] + [[*columns, sum(columns)]]
            truth = [[*row, sum(row)] for row in values]
            truth.append([sum(row[c] for row in truth) for c in range(ncols + 1)])
            if target_is_total and extended[target[0]][target[1]] == truth[target[0]][target[1]]:
                return False
            return all(fits(table.column_totals[c], columns[c]) for c in range(ncols)) and fits(
                table.total, sum(columns)
            )
        r, c = divmod(i, ncols)
        for v in domains[i]:
            grid[r][c] = v
            if c == ncols - 1 and not fits(table.row_totals[r], sum(grid[r])):
                continue
            if (
                sum(grid[r][: c + 1]) > row_most[r]
                or sum(grid[k][c] for k in range(r + 1)) > column_most[c]
            ):
                break
            if search(i + 1):
                return True
        return False

    return search(0)


def published_grid(table: Table) -> list[list[Cell]]:
    rows = [[*cells, total] for cells, total in zip(table.cells, table.row_totals, strict=True)]
    return [*rows, [*table.column_totals, table.total]]


def everything_hidden(values: list[list[int]], rule: Rule) -> Table:
    """The least a reader can be told: every non-zero figure hidden, zeros shown."""
    rows = [[*row, sum(row)] for row in values]
    grid = [*rows, [sum(row[c] for row in rows) for c in range(len(rows[0]))]]

    def cell(value: int) -> Cell:
        if not value:
            return Cell(0, "0")
        if rule.hides(value):
            return Cell(None, rule.marker, "primary")
        return Cell(None, rule.secondary_marker, "secondary")

    cells = [[cell(v) for v in row] for row in grid]
    return Table(
        cells=tuple(tuple(row[:-1]) for row in cells[:-1]),
        row_totals=tuple(row[-1] for row in cells[:-1]),
        column_totals=tuple(cells[-1][:-1]),
        total=cells[-1][-1],
    )


def given_away_by_the_rule(values: list[list[int]], rule: Rule, target: tuple[int, int]) -> bool:
    """Can a reader pin this figure down even with every non-zero figure hidden? Then only the
    rule and the zeros give it away, and no suppression could protect it."""
    return not completions_exist(everything_hidden(values, rule), values, rule, target)


small_tables = st.integers(1, 3).flatmap(
    lambda rows: st.integers(1, 3).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(0, 14), min_size=cols, max_size=cols), min_size=rows, max_size=rows
        )
    )
)


@pytest.mark.parametrize("code", sorted(RULES))
@settings(max_examples=60, deadline=None)
@given(values=small_tables)
@example(values=[[1, 1], [1, 1]])  # four ones under a total of 4: crashed suppression once
def test_no_hidden_count_can_be_rebuilt_from_what_is_shown(code, values):
    rule = RULES[code]
    table = suppress_table(values, rule)
    for r, row in enumerate(published_grid(table)):
        for c, cell in enumerate(row):
            if cell.hidden and not completions_exist(table, values, rule, (r, c)):
                assert given_away_by_the_rule(values, rule, (r, c)), (values, texts(table), (r, c))


@pytest.mark.parametrize("code", sorted(RULES))
@settings(max_examples=60, deadline=None)
@given(values=small_tables)
@example(values=[[1, 1], [1, 1]])  # four ones under a total of 4: crashed suppression once
def test_the_published_table_leaves_no_hidden_figure_exposed(code, values):
    rule = RULES[code]
    table = suppress_table(values, rule)
    hidden = {}
    for r, row in enumerate(
        [
            *[[*cells, total] for cells, total in zip(table.cells, table.row_totals, strict=True)],
            [*table.column_totals, table.total],
        ]
    ):
        for c, cell in enumerate(row):
            if cell.hidden:
                hidden[(r, c)] = cell.reason
    grid = published_grid(everything_hidden(values, rule))
    everything = {
        (r, c): cell.reason
        for r, row in enumerate(grid)
        for c, cell in enumerate(row)
        if cell.hidden
    }
    given_away = {pos for pos in hidden if exposed(values, everything, rule, among={pos})}
    assert exposed(values, hidden, rule, among=hidden.keys() - given_away) == set()
