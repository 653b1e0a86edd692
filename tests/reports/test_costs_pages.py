"""The operating costs pages through HTTP, per persona: managers and administrators enter and
correct a month's cost; evaluators read the list; the desk and the floor are refused (403); a
worker of another site is told the pages do not exist (404)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.reports.costs_actions import record_operating_cost
from saferoom.reports.models import OperatingCost

NOW = dt.datetime(2026, 4, 10, 10, 0, tzinfo=dt.UTC)
LIST = reverse("costs:list", kwargs={"site": "riverside"})
ENTER = reverse("costs:enter", kwargs={"site": "riverside"})


@pytest.fixture(autouse=True)
def now() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def form(**given: str) -> dict[str, str]:
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "month": "2026-03",
        "amount": "42000",
        "currency": "GBP",
        "note": "Staff, rent and utilities",
        "reason": "",
    }
    data.update(given)
    return data


@pytest.fixture
def march_entered(site_a, manager) -> OperatingCost:
    return record_operating_cost(
        site=site_a,
        month="2026-03",
        amount="42000",
        note="Staff and rent",
        key=uuid.uuid4(),
        by=manager,
        at=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC),
    )


def test_a_manager_enters_a_months_cost_and_sees_it_in_the_list(site_a, manager, as_manager):
    response = as_manager.post(ENTER, form())

    assert response.status_code == 302
    assert response["Location"] == f"{LIST}#m-2026-03"
    entry = OperatingCost.objects.get()
    assert (entry.amount, entry.entered_by) == (Decimal("42000.00"), manager)
    page = as_manager.get(LIST).content.decode()
    assert "Operating cost for March 2026 saved: 42,000.00 GBP." in page
    assert "42000.00 GBP" in page
    assert "Staff, rent and utilities" in page
    assert "mo.manager" in page


def test_the_list_shows_months_not_entered_with_a_way_to_enter_them(as_manager, march_entered):
    page = as_manager.get(LIST).content.decode()

    assert page.count("Not entered") == 11  # the last year: April 2026 back to May 2025
    assert 'aria-label="Enter the cost of April 2026"' in page
    assert 'aria-label="Correct the cost of March 2026"' in page


def test_a_correction_without_a_reason_is_refused_and_changes_nothing(as_manager, march_entered):
    response = as_manager.post(ENTER, form(amount="45000", corrects=str(march_entered.pk)))

    assert response.status_code == 200
    assert "March 2026 already has a cost entered. Say why you are correcting it." in (
        response.content.decode()
    )
    assert OperatingCost.objects.count() == 1


def test_a_correction_with_a_reason_is_kept_with_its_history(as_manager, march_entered):
    start = as_manager.get(ENTER, {"month": "2026-03"}).content.decode()
    assert "Correct the operating cost of March 2026" in start
    assert 'value="42000.00"' in start  # starts from the current cost

    assert f'name="corrects" value="{march_entered.pk}"' in start
    response = as_manager.post(
        ENTER, form(amount="45000", reason="Rent was left out", corrects=str(march_entered.pk))
    )
    assert response.status_code == 302
    page = as_manager.get(LIST).content.decode()
    assert "45000.00 GBP" in page
    assert "1 earlier entry" in page
    assert "42000.00 GBP, entered" in page
    assert "Rent was left out" in page


def hidden_corrects(page: str) -> str:
    found = re.search(r'name="corrects" value="([0-9]*)"', page)
    assert found is not None
    return found.group(1)


def test_a_correction_saved_meanwhile_is_not_silently_replaced(
    as_manager, march_entered, site_a, admin
):
    opened = as_manager.get(ENTER, {"month": "2026-03"}).content.decode()
    # While the form is open, a colleague corrects March.
    meanwhile = record_operating_cost(
        site=site_a,
        month="2026-03",
        amount="43000",
        reason="Cleaning contract",
        key=uuid.uuid4(),
        by=admin,
    )

    response = as_manager.post(
        ENTER, form(amount="45000", reason="Rent was left out", corrects=hidden_corrects(opened))
    )

    page = response.content.decode()
    assert "March 2026 now has 43,000.00 GBP entered" in page
    assert "Nothing was saved" in page
    assert OperatingCost.objects.count() == 2
    # The page now shows the colleague's entry; saved again from it, the correction goes in.
    assert hidden_corrects(page) == str(meanwhile.pk)
    again = as_manager.post(
        ENTER, form(amount="45000", reason="Rent was left out", corrects=hidden_corrects(page))
    )
    assert again.status_code == 302
    assert OperatingCost.objects.count() == 3


def test_a_first_entry_for_a_month_someone_has_just_entered_is_refused(as_manager, site_a, admin):
    opened = as_manager.get(ENTER, {"month": "2026-03"}).content.decode()
    assert hidden_corrects(opened) == ""
    record_operating_cost(site=site_a, month="2026-03", amount="42000", key=uuid.uuid4(), by=admin)

    response = as_manager.post(ENTER, form(amount="41000", corrects=""))

    assert "March 2026 now has 42,000.00 GBP entered" in response.content.decode()
    assert OperatingCost.objects.count() == 1


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"amount": "-5"}, "A cost cannot be negative. Write 0 or more."),
        ({"amount": "lots"}, "Write the cost as a number, for example 42000 or 42000.50."),
        ({"amount": ""}, "Write the month&#x27;s operating cost, for example 42000."),
        ({"month": "2026-13"}, "Write the month as year and month, for example 2026-03."),
        ({"month": "2027-01"}, "Costs can be entered up to next month (May 2026)."),
        ({"currency": "£"}, "Write the currency as its three-letter code"),
    ],
)
def test_bad_input_gets_a_clear_message_next_to_its_field_and_changes_nothing(
    as_manager, given, says
):
    response = as_manager.post(ENTER, form(**given))

    assert response.status_code == 200
    page = response.content.decode()
    assert says in page
    assert 'class="field has-error"' in page
    assert not OperatingCost.objects.exists()


def test_a_double_tap_saves_the_cost_once(as_manager):
    data = form()
    as_manager.post(ENTER, data)
    as_manager.post(ENTER, data)
    assert OperatingCost.objects.count() == 1


def test_an_administrator_may_enter_a_cost(as_admin, admin):
    assert as_admin.post(ENTER, form()).status_code == 302
    assert OperatingCost.objects.get().entered_by == admin


def test_an_evaluator_reads_the_list_but_cannot_enter(as_evaluator, march_entered):
    page = as_evaluator.get(LIST)
    assert page.status_code == 200
    assert "42000.00 GBP" in page.content.decode()
    assert ENTER not in page.content.decode()

    assert as_evaluator.get(ENTER).status_code == 403
    assert as_evaluator.post(ENTER, form(month="2026-02")).status_code == 403
    assert OperatingCost.objects.count() == 1


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse"])
def test_the_desk_and_the_floor_are_refused(request, persona, march_entered):
    browser = request.getfixturevalue(persona)
    assert browser.get(LIST).status_code == 403
    assert browser.post(ENTER, form(month="2026-02")).status_code == 403
    assert OperatingCost.objects.count() == 1


def test_another_sites_worker_is_told_the_pages_do_not_exist(as_other_site_worker, march_entered):
    assert as_other_site_worker.get(LIST).status_code == 404
    assert as_other_site_worker.post(ENTER, form(month="2026-02")).status_code == 404
    assert OperatingCost.objects.count() == 1


def test_every_control_of_the_form_has_a_label(as_manager):
    page = as_manager.get(ENTER).content.decode()
    for name in ("month", "amount", "currency", "note", "reason"):
        assert f'<label for="id_{name}">' in page
    assert 'value="GBP"' in page


def test_the_list_reads_every_entry_in_one_query(site_a, manager, as_manager):
    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as run:
            assert as_manager.get(LIST).status_code == 200
        # What the page reads (the session's own upkeep is not the page's).
        return [
            q["sql"]
            for q in run.captured_queries
            if q["sql"].startswith("SELECT") and "django_session" not in q["sql"]
        ]

    def enter(month: str, amount: str, reason: str = "") -> None:
        record_operating_cost(
            site=site_a, month=month, amount=amount, reason=reason, key=uuid.uuid4(), by=manager
        )

    enter("2026-03", "1000")
    few = queries()
    for month in ("2025-01", "2025-06", "2026-01", "2026-02"):
        enter(month, "1000")
    enter("2026-03", "1200", reason="Late invoice")
    assert len(queries()) == len(few)
    assert sum("reports_operatingcost" in sql for sql in few) == 1
