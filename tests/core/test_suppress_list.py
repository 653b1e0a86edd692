"""One-way lists (turn-aways by reason, visits by day): no hidden count can be worked out from
the total and the shown counts, and no more is hidden than that needs."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from saferoom.core.suppression import RULES, suppress_list

LT10 = RULES["lt10"]


def test_a_lone_small_count_takes_the_next_smallest_with_it() -> None:
    cells, total = suppress_list([3, 12, 20], LT10)
    assert [c.text for c in cells] == ["<10", "[c]", "20"]
    assert total.value == 35


def test_nothing_small_hides_nothing() -> None:
    cells, total = suppress_list([0, 12, 20], LT10)
    assert [c.value for c in cells] == [0, 12, 20]
    assert total.value == 32


def test_two_ones_are_not_left_to_add_up_to_two() -> None:
    cells, _ = suppress_list([1, 1, 40, 50], LT10)
    assert sum(c.hidden for c in cells) >= 3


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=25), min_size=1, max_size=6))
def test_every_hidden_count_has_at_least_two_possible_values(values: list[int]) -> None:
    cells, total = suppress_list(values, LT10)
    hidden = [i for i, c in enumerate(cells) if c.hidden]
    if not hidden or total.value is None:
        return
    known = sum(c.value or 0 for c in cells if not c.hidden)
    domains = [range(1, 10) if cells[i].reason == "primary" else range(10, 60) for i in hidden]
    seen: dict[int, set[int]] = {i: set() for i in hidden}
    for combo in itertools.product(*domains):
        if known + sum(combo) == total.value:
            for i, v in zip(hidden, combo, strict=True):
                seen[i].add(v)
    for i in hidden:
        assert len(seen[i]) >= 2, (values, i, seen[i])
