"""E6 (drug checks) on hand-built checks with known answers: checks by method, the share with
each finding (a check can find several), and the share of checks before use followed by a
planned dose reduction or disposal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from saferoom.care.checking import actions
from saferoom.core.models import User
from saferoom.core.suppression import RULES
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import Result, compute_report
from saferoom.reports.scopes import site_scope
from saferoom.sites.models import Site

UTC = dt.UTC
MARCH = parse_period("2026-03")
NOW = dt.datetime(2026, 4, 2, 9, tzinfo=UTC)


def check(site: Site, by: User, day: int, **answers: Any) -> None:
    actions.record_check(
        site=site,
        visit=None,
        expected=None,
        by=by,
        idempotency_key=uuid.uuid4(),
        at=dt.datetime(2026, 3, day, 15, tzinfo=UTC),
        **answers,
    )


@pytest.fixture
def checks(site_a: Site, nurse: User) -> None:
    strip, ftir = "fentanyl_strip", "ftir"
    before = {"timing": "before"}
    check(site_a, nurse, 2, method=strip, strip_result="positive", decision="reduce_dose", **before)
    check(site_a, nurse, 3, method=strip, strip_result="negative", decision="as_planned", **before)
    check(
        site_a, nurse, 4, method=ftir, found=["fentanyl", "xylazine"], decision="dispose", **before
    )
    check(site_a, nurse, 5, method=ftir, found=["nitazene"], timing="after")
    benzo = "benzodiazepine_strip"
    check(
        site_a, nurse, 6, method=benzo, strip_result="positive", decision="with_someone", **before
    )
    other = {"method": "other", "found": ["other"], "found_other": "A grey powder"}
    check(site_a, nurse, 7, decision="not_decided", **other, **before)
    check(site_a, nurse, 8, method=ftir, found=["as_expected"], timing="after")
    actions.record_check(  # 1 April in London (BST): not March
        site=site_a,
        visit=None,
        method=ftir,
        found=["fentanyl"],
        expected=None,
        timing="after",
        by=nurse,
        idempotency_key=uuid.uuid4(),
        at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
    )


def e6(site: Site) -> Result:
    return compute_report(site_scope(site, MARCH, now=NOW), ["E6"]).results["E6"]


def rows(res: Result, key: str) -> dict[str, tuple[Any, ...]]:
    table = next(b for b in res.breakdowns if b.key == key)
    return {code: values for (code, _label), values in zip(table.rows, table.values, strict=True)}


def test_drug_checks_are_counted_by_method(site_a, checks):
    res = e6(site_a)
    assert res.figure("total").value == 7
    assert {code: v[0] for code, v in rows(res, "method").items()} == {
        "fentanyl_strip": 2,
        "benzodiazepine_strip": 1,
        "xylazine_strip": 0,
        "ftir": 3,
        "other": 1,
    }


def test_each_finding_is_a_share_of_all_checks_and_the_rows_need_not_add_up(site_a, checks):
    findings = rows(e6(site_a), "finding")
    assert findings == {
        "fentanyl": (2, pytest.approx(2 / 7)),
        "nitazene": (1, pytest.approx(1 / 7)),
        "xylazine": (1, pytest.approx(1 / 7)),
        "benzodiazepine": (1, pytest.approx(1 / 7)),
        "other": (1, pytest.approx(1 / 7)),
    }


def test_the_share_changing_plan_is_of_checks_before_use(site_a, checks):
    res = e6(site_a)
    assert res.figure("before_use").value == 5
    assert res.figure("dose_reduced_or_disposed").value == 2
    assert res.figure("share_dose_reduced_or_disposed").value == pytest.approx(2 / 5)


def test_without_checks_the_shares_are_not_defined(site_a):
    res = e6(site_a)
    assert res.figure("total").value == 0
    assert res.figure("share_dose_reduced_or_disposed").value is None
    assert all(v == (0, None) for v in rows(res, "finding").values())


def test_outside_the_site_a_small_finding_hides_its_share_too(site_a, checks):
    shown = publish(compute_report(site_scope(site_a, MARCH, now=NOW), ["E6"]), RULES["lt10"])
    findings = shown.results["E6"].breakdown("finding")
    assert findings.row_totals is None  # not additive: no totals
    assert findings.total is None
    for count, share in findings.cells:
        assert count.text == "<10"
        assert share.value is None


def test_drug_checks_are_counted_in_one_query(site_a, checks, django_assert_num_queries):
    with django_assert_num_queries(1):
        e6(site_a)
