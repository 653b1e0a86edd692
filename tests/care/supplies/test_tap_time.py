"""A give-out or service tapped without a network and sent later by the offline outbox keeps
the time of the tap (its ``at``), believed only within bounds: not in the future, not over 12
hours old, not before the visit began. A refusal answers 422 and changes nothing; the same tap
sent again with another ``at`` is the same give-out."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine

from saferoom.care.supplies import actions
from saferoom.care.supplies.models import ServiceGiven, StockMovement
from saferoom.core.models import AuditEvent
from tests.care.supplies.conftest import key
from tests.care.supplies.test_pages import HTMX, url

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))


def instant(moment: dt.datetime) -> str:
    """The ``at`` outbox.js sends: an instant in UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def give(
    http: Any,
    site: Any,
    item: Any,
    n: int,
    *,
    visit: Any = None,
    at: str | None = None,
    idem: str | None = None,
    **extra: Any,
) -> Any:
    """A tap on a quantity button, as outbox.js sends it (``at``: when it was tapped)."""
    data: dict[str, Any] = {"item": item.pk, "quantity": n, "idempotency_key": idem or key()}
    if visit is not None:
        data["visit"] = visit.pk
    if at is not None:
        data["at"] = at
    return http.post(url("give", site), data, **extra)


def given() -> list[StockMovement]:
    return list(StockMovement.objects.filter(kind=StockMovement.Kind.GIVEN))


def test_a_give_out_sent_late_is_recorded_at_the_time_of_the_tap(
    as_nurse, site_a, visit, filters, stock
):
    stock(site_a, filters, 10)
    response = give(as_nurse, site_a, filters, 2, visit=visit, at=instant(ago(20)), **HTMX)

    assert response.status_code == 200
    (movement,) = given()
    assert (movement.at, movement.recorded_at) == (ago(20), NOW)
    assert actions.in_stock(site_a, filters) == 8
    event = AuditEvent.objects.get(action="supply.given")
    assert event.at == ago(20)
    assert event.detail["received_at"] == NOW.isoformat()


def test_without_a_time_a_give_out_is_timed_when_it_arrives(
    as_nurse, site_a, visit, filters, stock
):
    stock(site_a, filters, 10)
    give(as_nurse, site_a, filters, 1, visit=visit, **HTMX)
    assert given()[0].at == NOW
    assert "received_at" not in AuditEvent.objects.get(action="supply.given").detail


def test_the_same_give_out_sent_again_with_another_time_gives_once(
    as_nurse, site_a, visit, filters, stock
):
    stock(site_a, filters, 10)
    same = key()
    give(as_nurse, site_a, filters, 2, visit=visit, idem=same, at=instant(ago(20)), **HTMX)
    again = give(as_nurse, site_a, filters, 2, visit=visit, idem=same, at=instant(ago(5)), **HTMX)

    assert again.status_code == 200
    (movement,) = given()
    assert movement.at == ago(20)
    assert actions.in_stock(site_a, filters) == 8


@pytest.mark.parametrize(
    ("tapped", "said"),
    [
        (
            NOW + dt.timedelta(minutes=5),
            "The time of this tap, 14:05:00, is in the future: this tablet's clock is wrong.",
        ),
        (
            ago(31),
            "The time of this tap, 13:29:00, is before the visit began (13:30:00). Nothing was "
            "recorded: check this tablet's clock.",
        ),
        (
            ago(49 * 60),
            "This was tapped at 8 Mar 13:00, more than 48 hours ago: too long ago to record it "
            "at that time.",
        ),
    ],
)
def test_a_give_out_at_a_time_out_of_bounds_is_refused_and_changes_nothing(
    as_nurse, site_a, visit, filters, stock, tapped, said
):
    stock(site_a, filters, 10)
    events = AuditEvent.objects.count()

    response = give(as_nurse, site_a, filters, 2, visit=visit, at=instant(tapped), **HTMX)

    assert response.status_code == 422
    assert said in response.content.decode().replace("&#x27;", "'")
    assert given() == []
    assert actions.in_stock(site_a, filters) == 10
    assert AuditEvent.objects.count() == events


def test_a_walk_in_give_out_is_bounded_by_the_clock_only(as_nurse, site_a, filters, stock):
    stock(site_a, filters, 10)
    assert give(as_nurse, site_a, filters, 1, at=instant(ago(47 * 60)), **HTMX).status_code == 200
    refused = give(as_nurse, site_a, filters, 1, at=instant(ago(48 * 60 + 1)), **HTMX)
    assert refused.status_code == 422
    assert [m.at for m in given()] == [ago(47 * 60)]


def test_a_service_sent_late_keeps_its_time_and_a_replay_is_the_same_service(
    as_nurse, site_a, visit, service
):
    wound_care = service("wound_care")
    data = {
        "item": wound_care.pk,
        "visit": visit.pk,
        "idempotency_key": key(),
        "at": instant(ago(15)),
    }
    first = as_nurse.post(url("service", site_a), data, **HTMX)
    again = as_nurse.post(url("service", site_a), {**data, "at": instant(ago(1))}, **HTMX)
    future = as_nurse.post(
        url("service", site_a),
        {**data, "idempotency_key": key(), "at": instant(NOW + dt.timedelta(minutes=2))},
        **HTMX,
    )

    assert (first.status_code, again.status_code, future.status_code) == (200, 200, 422)
    assert list(ServiceGiven.objects.values_list("at", flat=True)) == [ago(15)]


# --- A stock count between the tap and its arrival --------------------------------------------


def count(site: Any, item: Any, n: int, by: Any, *, minutes_ago: float) -> StockMovement:
    return actions.count_stock(
        site=site, item=item, counted=n, by=by, idempotency_key=key(), at=ago(minutes_ago)
    )


def test_a_give_out_tapped_before_a_count_and_sent_after_it_leaves_the_level_as_counted(
    as_nurse, site_a, visit, filters, stock, manager
):
    stock(site_a, filters, 10)
    # Two filters left the shelf 30 minutes ago on a tablet with no network; the manager's
    # count 10 minutes ago found the 8 that were there.
    taken_at_count = count(site_a, filters, 8, manager, minutes_ago=10)

    response = give(as_nurse, site_a, filters, 2, visit=visit, at=instant(ago(30)), **HTMX)

    assert response.status_code == 200
    assert actions.in_stock(site_a, filters) == 8
    (movement,) = given()
    assert (movement.quantity, movement.at, movement.balance_after) == (-2, ago(30), 8)
    assert "stock count" in movement.reason
    event = AuditEvent.objects.get(action="supply.given")
    assert event.detail["in_count"] == taken_at_count.pk


def test_a_give_out_of_the_last_one_counted_away_is_still_recorded(
    as_nurse, site_a, visit, filters, stock, manager
):
    stock(site_a, filters, 1)
    count(site_a, filters, 0, manager, minutes_ago=10)

    response = give(as_nurse, site_a, filters, 1, visit=visit, at=instant(ago(30)), **HTMX)

    assert response.status_code == 200
    assert len(given()) == 1
    assert actions.in_stock(site_a, filters) == 0


def test_a_give_out_tapped_after_the_last_count_takes_from_the_level(
    as_nurse, site_a, visit, filters, stock, manager
):
    stock(site_a, filters, 10)
    count(site_a, filters, 9, manager, minutes_ago=40)

    give(as_nurse, site_a, filters, 2, visit=visit, at=instant(ago(20)), **HTMX)

    assert actions.in_stock(site_a, filters) == 7
    (movement,) = given()
    assert movement.reason == ""


def test_reversing_a_give_out_counted_since_leaves_the_level_as_counted(
    nurse, site_a, visit, filters, stock, manager
):
    stock(site_a, filters, 10)
    wrong = actions.give_supply(
        site=site_a,
        item=filters,
        quantity=2,
        visit=visit,
        by=nurse,
        idempotency_key=key(),
        at=ago(60),
    )
    # It was a mis-tap: the count found all ten still on the shelf.
    count(site_a, filters, 10, manager, minutes_ago=30)

    actions.reverse_give_out(movement=wrong, reason="Mis-tap", by=nurse, idempotency_key=key())

    assert actions.in_stock(site_a, filters) == 10


def test_reversing_a_give_out_not_counted_since_puts_it_back(
    nurse, site_a, visit, filters, stock, manager
):
    stock(site_a, filters, 10)
    count(site_a, filters, 10, manager, minutes_ago=90)
    wrong = actions.give_supply(
        site=site_a,
        item=filters,
        quantity=2,
        visit=visit,
        by=nurse,
        idempotency_key=key(),
        at=ago(60),
    )

    actions.reverse_give_out(movement=wrong, reason="Mis-tap", by=nurse, idempotency_key=key())

    assert actions.in_stock(site_a, filters) == 10
