"""record_operating_cost: a month's cost entered once per submission (idempotent), corrected
only with a reason and never overwritten, audited, and refused with a clear message — leaving
nothing behind — when the input is wrong."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, IdempotencyKey
from saferoom.reports.costs_actions import latest_for, months_with_costs, record_operating_cost
from saferoom.reports.models import OperatingCost
from saferoom.sites.models import Site

# 10 April 2026, mid-morning in London: costs may be entered up to May 2026.
NOW = dt.datetime(2026, 4, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def now() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def enter(site: Site, by: Any, **given: Any) -> OperatingCost:
    values: dict[str, Any] = {
        "month": "2026-03",
        "amount": "42000",
        "currency": "GBP",
        "note": "Staff, rent and utilities",
        "reason": "",
        "key": uuid.uuid4(),
    }
    values.update(given)
    return record_operating_cost(site=site, by=by, **values)


def nothing_written() -> bool:
    return (
        not OperatingCost.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="operating_cost").exists()
    )


def test_a_first_entry_is_saved_with_who_and_when_and_audited(site_a, manager):
    entry = enter(site_a, manager, amount="£42,000.50")

    assert (entry.month, entry.amount, entry.currency) == (
        dt.date(2026, 3, 1),
        Decimal("42000.50"),
        "GBP",
    )
    assert (entry.entered_by, entry.entered_at, entry.reason) == (manager, NOW, "")
    event = AuditEvent.objects.get(action="operating_cost.entered")
    assert event.detail == {"month": "2026-03", "amount": "42000.50", "currency": "GBP"}
    assert event.site_id == site_a.pk
    assert event.actor_id == manager.pk


def test_the_same_submission_sent_twice_saves_one_entry(site_a, manager):
    key = uuid.uuid4()
    first = enter(site_a, manager, key=key)
    again = enter(site_a, manager, key=key)

    assert again.pk == first.pk
    assert OperatingCost.objects.count() == 1
    assert AuditEvent.objects.filter(action__startswith="operating_cost").count() == 1


def test_a_key_sent_again_with_other_details_is_refused(site_a, manager):
    key = uuid.uuid4()
    enter(site_a, manager, key=key)
    with pytest.raises(ActionRefused) as refused:
        enter(site_a, manager, key=key, amount="43000")
    assert refused.value.code == "key_reused"
    assert OperatingCost.objects.count() == 1


def test_a_correction_needs_a_reason_and_keeps_the_earlier_entry(site_a, manager, admin):
    first = enter(site_a, manager)
    with pytest.raises(ActionRefused) as refused:
        enter(site_a, admin, amount="45000")
    assert refused.value.code == "reason"
    assert "March 2026 already has a cost entered" in refused.value.message
    assert OperatingCost.objects.count() == 1

    corrected = enter(site_a, admin, amount="45000", reason="Rent was left out")

    assert latest_for(site_a, dt.date(2026, 3, 1)) == corrected
    assert OperatingCost.objects.get(pk=first.pk).amount == Decimal("42000.00")
    event = AuditEvent.objects.get(action="operating_cost.corrected")
    assert event.detail["was"] == "42000.00"
    assert event.detail["amount"] == "45000.00"
    assert event.detail["corrects"] == first.pk
    assert event.detail["reason_given"] is True
    assert corrected.reason == "Rent was left out"
    assert "Rent was left out" not in str(event.detail)
    march = next(m for m in months_with_costs(site_a) if m.code == "2026-03")
    assert march.current == corrected
    assert march.earlier == (first,)


def test_a_correction_that_changes_nothing_is_refused(site_a, manager):
    enter(site_a, manager)
    with pytest.raises(ActionRefused) as refused:
        enter(site_a, manager, amount="42000.00", reason="Checking")
    assert refused.value.code == "amount"
    assert OperatingCost.objects.count() == 1


@pytest.mark.parametrize(
    ("given", "field", "says"),
    [
        ({"amount": "-10"}, "amount", "cannot be negative"),
        ({"amount": "forty thousand"}, "amount", "as a number"),
        ({"amount": ""}, "amount", "as a number"),
        ({"amount": "NaN"}, "amount", "as a number"),
        ({"amount": "Infinity"}, "amount", "as a number"),
        ({"amount": "12.345"}, "amount", "to the penny"),
        ({"amount": "10000000000"}, "amount", "Check the amount"),
        ({"month": "2026-13"}, "month", "for example 2026-03"),
        ({"month": "March"}, "month", "for example 2026-03"),
        ({"month": "1999-12"}, "month", "Check the year"),
        ({"month": "2026-06"}, "month", "up to next month (May 2026)"),
        ({"currency": "pounds"}, "currency", "three-letter code"),
        ({"note": "x" * 201}, "note", "under 200 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(
    site_a, manager, given, field, says
):
    with pytest.raises(ActionRefused) as refused:
        enter(site_a, manager, **given)
    assert refused.value.code == field
    assert says in refused.value.message
    assert nothing_written()
    assert not IdempotencyKey.objects.exists()


def test_next_month_may_be_entered_as_a_budget(site_a, manager):
    assert enter(site_a, manager, month="2026-05").month == dt.date(2026, 5, 1)


def test_only_a_manager_or_administrator_may_enter_costs(site_a, desk, evaluator, admin):
    for person in (desk, evaluator):
        with pytest.raises(ActionRefused) as refused:
            enter(site_a, person)
        assert refused.value.code == "not_allowed"
    assert nothing_written()
    assert enter(site_a, admin).entered_by == admin


def test_the_database_refuses_a_negative_cost(site_a, manager):
    with pytest.raises(IntegrityError), transaction.atomic():
        OperatingCost.objects.create(
            site=site_a,
            month=dt.date(2026, 3, 1),
            amount=Decimal("-1"),
            entered_by=manager,
            entered_at=NOW,
        )


def test_the_list_shows_at_least_the_last_year_newest_first(site_a, manager):
    enter(site_a, manager, month="2024-11", amount="30000")
    months = months_with_costs(site_a)

    assert months[0].code == "2026-04"
    assert months[-1].code == "2024-11"
    assert len(months) == 18
    assert [m.code for m in months if m.current] == ["2024-11"]
