"""Hostile input to the pure functions behind the forms: the client-code normalisers and the
small-number suppression. Whatever they are given, they answer or refuse with their own error
(``CodeError``, ``ValueError``) carrying a message — never another exception — and what they
answer holds its shape. (The normalisation properties for good input are in
``tests/clients/test_codes.py``, the disclosure properties in ``tests/core/test_suppression.py``.)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoom.clients.codes import (
    DISPLAY_ALPHABET,
    CodeError,
    SchemeAttributes,
    canonical,
    likely_variants,
    normalise_display_code,
    normalise_postcode_district,
)
from saferoom.core.suppression import RULES, suppress_list, suppress_table, suppress_value
from saferoom.sites.models import ClientCodeScheme

FIXED = settings(max_examples=300, derandomize=True, deadline=None, database=None)
TODAY = dt.date(2026, 3, 10)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["<script>alert(1)</script>", "\x00", "K7F-29Q" * 50, "ǅŽ-١٢٣", "ﬀ" * 3]),
)


def outcome(error: type[ValueError], function: Any, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """What ``function`` answers, or the message of the ``error`` it refuses with; any other
    exception fails the test, and so does a refusal without a message."""
    try:
        return function(*args, **kwargs), ""
    except error as refusal:
        message = str(refusal).strip()
    assert message, "a refusal must say what to fix"
    return None, message


CODE = re.compile(rf"[{DISPLAY_ALPHABET}]{{3}}-[{DISPLAY_ALPHABET}]{{3}}")


@FIXED
@given(typed=HOSTILE_TEXT)
def test_a_typed_code_is_a_canonical_code_or_a_clear_refusal(typed: str) -> None:
    code, refusal = outcome(CodeError, normalise_display_code, typed)
    if refusal:
        return
    assert CODE.fullmatch(code)
    assert normalise_display_code(code) == code


@FIXED
@given(typed=HOSTILE_TEXT)
def test_a_postcode_district_is_short_and_upper_case_or_a_clear_refusal(typed: str) -> None:
    district, refusal = outcome(CodeError, normalise_postcode_district, typed)
    if refusal:
        return
    assert district == district.upper()
    assert " " not in district
    assert len(district) <= 4


attributes = st.builds(
    SchemeAttributes,
    initials=HOSTILE_TEXT,
    date_of_birth=st.one_of(st.none(), st.dates()),
    sex=st.one_of(st.sampled_from(["female", "male", "other", "", "F"]), HOSTILE_TEXT),
    letters=HOSTILE_TEXT,
    year_of_birth=st.one_of(st.none(), st.integers(min_value=-(10**12), max_value=10**12)),
    chosen_name=HOSTILE_TEXT,
)


@pytest.mark.parametrize("scheme", [*ClientCodeScheme.values, "no-such-scheme"])
@FIXED
@given(attrs=attributes)
def test_any_attributes_make_a_canonical_text_or_a_clear_refusal(
    scheme: str, attrs: SchemeAttributes
) -> None:
    text, refusal = outcome(CodeError, canonical, scheme, attrs, today=TODAY)
    if refusal:
        return
    assert text
    assert text == text.strip()
    # The variants (for the duplicate warning) never fail on what canonical accepted.
    variants = likely_variants(scheme, attrs, today=TODAY)
    assert text not in variants


counts = st.integers(min_value=-3, max_value=10**7)


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
@settings(FIXED, max_examples=100)
@given(values=st.lists(st.lists(counts, max_size=4), max_size=4))
def test_any_table_is_published_or_refused_with_a_reason(rule, values) -> None:
    table, refusal = outcome(ValueError, suppress_table, values, rule)
    if refusal:
        assert (
            not values
            or not values[0]
            or len({len(row) for row in values}) > 1
            or any(v < 0 for row in values for v in row)
        )
        return
    for row, published in zip(values, table.cells, strict=True):
        for value, cell in zip(row, published, strict=True):
            assert cell.hidden or cell.value == rule.shown(value)
            assert cell.hidden or not rule.hides(value)


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
@FIXED
@given(values=st.lists(counts, max_size=12))
def test_any_list_is_published_or_refused_with_a_reason(rule, values) -> None:
    published, refusal = outcome(ValueError, suppress_list, values, rule)
    if refusal:
        assert any(v < 0 for v in values), refusal
        return
    cells, _total = published
    assert len(cells) == len(values)
    for value, cell in zip(values, cells, strict=True):
        assert cell.hidden or cell.value == rule.shown(value)
    for value in values:
        cell = suppress_value(value, rule)
        assert cell.hidden == rule.hides(value)
