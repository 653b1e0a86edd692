"""Deliveries, counts, adjustments, low-stock warnings and history; a give-out recorded in
error is reversed (never deleted); the database never holds a negative level."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from saferoom.care.supplies import actions, queries
from saferoom.care.supplies.models import StockLevel, StockMovement
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem
from tests.care.supplies.conftest import key
from tests.versions import threshold_version

pytestmark = pytest.mark.django_db


def level(site, item) -> int:
    return actions.in_stock(site, item)


# --- deliveries -----------------------------------------------------------------------------


def test_a_delivery_adds_to_stock(site_a, filters, nurse):
    first = actions.receive_stock(
        site=site_a, item=filters, quantity=100, note="Order 17", by=nurse, idempotency_key=key()
    )
    second = actions.receive_stock(
        site=site_a, item=filters, quantity=50, by=nurse, idempotency_key=key()
    )
    assert (first.balance_after, second.balance_after) == (100, 150)
    assert first.reason == "Order 17"
    assert level(site_a, filters) == 150
    assert AuditEvent.objects.filter(action="stock.received").count() == 2


def test_a_delivery_sent_twice_is_received_once(site_a, filters, nurse):
    same = key()
    for _ in range(2):
        actions.receive_stock(
            site=site_a, item=filters, quantity=40, by=nurse, idempotency_key=same
        )
    assert level(site_a, filters) == 40


@pytest.mark.parametrize("quantity", [0, -5, 100_001, "12"])
def test_a_delivery_of_a_bad_quantity_is_refused(site_a, filters, nurse, quantity):
    with pytest.raises(ActionRefused) as refused:
        actions.receive_stock(
            site=site_a, item=filters, quantity=quantity, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "bad_quantity"
    assert level(site_a, filters) == 0
    assert not StockMovement.objects.exists()


def test_stock_is_kept_per_site(site_a, site_b, filters, stock):
    stock(site_a, filters, 30)
    stock(site_b, filters, 4)
    assert (level(site_a, filters), level(site_b, filters)) == (30, 4)


# --- counts ---------------------------------------------------------------------------------


def test_a_count_sets_the_level_and_records_the_difference(site_a, filters, stock, manager):
    stock(site_a, filters, 100)
    counted = actions.count_stock(
        site=site_a, item=filters, counted=93, by=manager, idempotency_key=key()
    )
    assert counted.kind == StockMovement.Kind.COUNTED
    assert (counted.quantity, counted.balance_after) == (-7, 93)
    assert level(site_a, filters) == 93
    more = actions.count_stock(
        site=site_a, item=filters, counted=95, by=manager, idempotency_key=key()
    )
    assert (more.quantity, more.balance_after) == (2, 95)


def test_a_count_that_matches_records_no_difference(site_a, filters, stock, manager):
    stock(site_a, filters, 12)
    same = actions.count_stock(
        site=site_a, item=filters, counted=12, by=manager, idempotency_key=key()
    )
    assert same.quantity == 0
    assert level(site_a, filters) == 12


def test_a_count_of_zero_empties_the_shelf(site_a, filters, stock, manager):
    stock(site_a, filters, 12)
    actions.count_stock(site=site_a, item=filters, counted=0, by=manager, idempotency_key=key())
    assert level(site_a, filters) == 0


def test_a_negative_count_is_refused(site_a, filters, stock, manager):
    stock(site_a, filters, 12)
    with pytest.raises(ActionRefused) as refused:
        actions.count_stock(
            site=site_a, item=filters, counted=-1, by=manager, idempotency_key=key()
        )
    assert refused.value.code == "bad_quantity"
    assert level(site_a, filters) == 12


def test_an_item_no_longer_in_use_can_still_be_counted(site_a, filters, stock, manager):
    stock(site_a, filters, 12)
    CatalogueItem.objects.filter(pk=filters.pk).update(active=False)
    filters.refresh_from_db()
    actions.count_stock(site=site_a, item=filters, counted=0, by=manager, idempotency_key=key())
    assert level(site_a, filters) == 0


# --- adjustments ----------------------------------------------------------------------------


def test_an_adjustment_adds_or_takes_away_with_a_reason(site_a, filters, stock, manager):
    stock(site_a, filters, 20)
    down = actions.adjust_stock(
        site=site_a,
        item=filters,
        change=-5,
        reason="Box damaged by water",
        by=manager,
        idempotency_key=key(),
    )
    up = actions.adjust_stock(
        site=site_a,
        item=filters,
        change=3,
        reason="Found in the van",
        by=manager,
        idempotency_key=key(),
    )
    assert (down.balance_after, up.balance_after) == (15, 18)
    assert down.reason == "Box damaged by water"
    assert level(site_a, filters) == 18


def test_an_adjustment_below_zero_is_refused(site_a, filters, stock, manager):
    stock(site_a, filters, 4)
    with pytest.raises(ActionRefused) as refused:
        actions.adjust_stock(
            site=site_a,
            item=filters,
            change=-5,
            reason="Expired",
            by=manager,
            idempotency_key=key(),
        )
    assert refused.value.code == "not_enough_stock"
    assert "Only 4 Filter in stock" in refused.value.message
    assert level(site_a, filters) == 4


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_adjustment_needs_a_reason(site_a, filters, stock, manager, reason):
    stock(site_a, filters, 4)
    with pytest.raises(ActionRefused) as refused:
        actions.adjust_stock(
            site=site_a, item=filters, change=2, reason=reason, by=manager, idempotency_key=key()
        )
    assert refused.value.code == "no_reason"
    assert level(site_a, filters) == 4


def test_an_adjustment_of_nothing_is_refused(site_a, filters, stock, manager):
    stock(site_a, filters, 4)
    with pytest.raises(ActionRefused) as refused:
        actions.adjust_stock(
            site=site_a, item=filters, change=0, reason="x", by=manager, idempotency_key=key()
        )
    assert refused.value.code == "bad_quantity"


# --- the database's own guard ---------------------------------------------------------------


def test_the_database_refuses_a_negative_level(site_a, filters, stock):
    stock(site_a, filters, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(site=site_a, item=filters).update(quantity=-1)
    assert level(site_a, filters) == 1


def test_the_database_refuses_a_give_out_with_the_wrong_sign(site_a, filters, nurse):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(
            site=site_a,
            item=filters,
            kind="given",
            quantity=3,
            balance_after=3,
            at=timezone.now(),
            by=nurse,
        )


def test_the_database_refuses_an_adjustment_without_a_reason(site_a, filters, nurse):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(
            site=site_a,
            item=filters,
            kind="adjusted",
            quantity=3,
            balance_after=3,
            at=timezone.now(),
            by=nurse,
        )


# --- low-stock warnings ---------------------------------------------------------------------


def test_an_item_at_or_below_its_warning_level_is_low(site_a, supply, stock, manager):
    kits, foil, water = supply("injecting_kit"), supply("foil"), supply("water")
    stock(site_a, kits, 10)
    stock(site_a, foil, 50)
    stock(site_a, water, 3)
    actions.set_low_threshold(
        site=site_a,
        item=kits,
        threshold=10,
        by=manager,
        expected_version=threshold_version(site_a, kits),
    )
    actions.set_low_threshold(
        site=site_a,
        item=foil,
        threshold=20,
        by=manager,
        expected_version=threshold_version(site_a, foil),
    )
    actions.set_low_threshold(
        site=site_a,
        item=water,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, water),
    )
    assert [lv.item.code for lv in queries.low_stock(site_a)] == ["water", "injecting_kit"]
    assert AuditEvent.objects.filter(action="stock.threshold_set").count() == 3


def test_no_warning_level_means_no_warning(site_a, filters, manager):
    actions.set_low_threshold(
        site=site_a,
        item=filters,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, filters),
    )
    assert [lv.item for lv in queries.low_stock(site_a)] == [filters]
    actions.set_low_threshold(
        site=site_a,
        item=filters,
        threshold=None,
        by=manager,
        expected_version=threshold_version(site_a, filters),
    )
    assert queries.low_stock(site_a) == []


def test_low_stock_is_per_site_and_leaves_out_retired_items(
    site_a, site_b, filters, supply, manager
):
    actions.set_low_threshold(
        site=site_b,
        item=filters,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_b, filters),
    )
    assert queries.low_stock(site_a) == []
    swabs = supply("swab")
    actions.set_low_threshold(
        site=site_a,
        item=swabs,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, swabs),
    )
    CatalogueItem.objects.filter(pk=swabs.pk).update(active=False)
    assert queries.low_stock(site_a) == []


def test_low_stock_is_one_query(site_a, supply, manager, django_assert_num_queries):
    for code in ("filter", "swab", "foil"):
        actions.set_low_threshold(
            site=site_a,
            item=supply(code),
            threshold=5,
            by=manager,
            expected_version=threshold_version(site_a, supply(code)),
        )
    with django_assert_num_queries(1):
        low = queries.low_stock(site_a)
        assert [lv.item.label for lv in low]


def test_a_negative_warning_level_is_refused(site_a, filters, manager):
    with pytest.raises(ActionRefused):
        actions.set_low_threshold(
            site=site_a,
            item=filters,
            threshold=-1,
            by=manager,
            expected_version=threshold_version(site_a, filters),
        )


# --- history --------------------------------------------------------------------------------


def test_history_lists_every_movement_newest_first(site_a, visit, filters, nurse, manager):
    start = timezone.now() - dt.timedelta(hours=3)
    actions.receive_stock(
        site=site_a, item=filters, quantity=10, by=nurse, idempotency_key=key(), at=start
    )
    actions.give_supply(
        site=site_a,
        item=filters,
        quantity=2,
        visit=visit,
        by=nurse,
        idempotency_key=key(),
        at=start + dt.timedelta(hours=1),
    )
    actions.count_stock(
        site=site_a,
        item=filters,
        counted=7,
        by=manager,
        idempotency_key=key(),
        at=start + dt.timedelta(hours=2),
    )
    rows = queries.history(site_a, filters)
    assert [(m.kind, m.quantity, m.balance_after) for m in rows] == [
        ("counted", -1, 7),
        ("given", -2, 8),
        ("received", 10, 10),
    ]


# --- reversing a give-out recorded in error -------------------------------------------------


def test_a_give_out_in_error_goes_back_into_stock_and_stays_in_the_ledger(
    site_a, visit, filters, stock, nurse
):
    stock(site_a, filters, 10)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=4, visit=visit, by=nurse, idempotency_key=key()
    )
    back = actions.reverse_give_out(
        movement=given, reason="Tapped the wrong item", by=nurse, idempotency_key=key()
    )
    assert back.kind == StockMovement.Kind.RETURNED
    assert (back.quantity, back.balance_after) == (4, 10)
    assert back.reverses == given
    assert level(site_a, filters) == 10
    assert StockMovement.objects.filter(pk=given.pk).exists()
    assert AuditEvent.objects.filter(action="supply.give_out_reversed").count() == 1


def test_a_give_out_is_reversed_once(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 10)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=4, visit=visit, by=nurse, idempotency_key=key()
    )
    actions.reverse_give_out(movement=given, reason="Wrong", by=nurse, idempotency_key=key())
    with pytest.raises(ActionRefused) as refused:
        actions.reverse_give_out(movement=given, reason="Wrong", by=nurse, idempotency_key=key())
    assert refused.value.code == "already_reversed"
    assert level(site_a, filters) == 10


def test_a_reversal_needs_a_reason(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 10)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=4, visit=visit, by=nurse, idempotency_key=key()
    )
    with pytest.raises(ActionRefused) as refused:
        actions.reverse_give_out(movement=given, reason=" ", by=nurse, idempotency_key=key())
    assert refused.value.code == "no_reason"
    assert level(site_a, filters) == 6


def test_only_the_giver_or_a_manager_may_reverse(
    site_a, visit, filters, stock, nurse, desk, manager
):
    stock(site_a, filters, 10)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=4, visit=visit, by=nurse, idempotency_key=key()
    )
    with pytest.raises(ActionRefused) as refused:
        actions.reverse_give_out(movement=given, reason="Wrong", by=desk, idempotency_key=key())
    assert refused.value.code == "not_yours"
    assert level(site_a, filters) == 6
    actions.reverse_give_out(movement=given, reason="Wrong", by=manager, idempotency_key=key())
    assert level(site_a, filters) == 10


def test_only_a_give_out_can_be_reversed(site_a, filters, nurse):
    received = actions.receive_stock(
        site=site_a, item=filters, quantity=10, by=nurse, idempotency_key=key()
    )
    with pytest.raises(ActionRefused) as refused:
        actions.reverse_give_out(movement=received, reason="x", by=nurse, idempotency_key=key())
    assert refused.value.code == "not_a_give_out"


# --- totals for reports ---------------------------------------------------------------------


def test_totals_for_a_period_leave_out_reversed_give_outs_and_void_services(
    site_a, visit, supply, service, stock, nurse
):
    filters, foil = supply("filter"), supply("foil")
    stock(site_a, filters, 20)
    stock(site_a, foil, 20)
    now = timezone.now()
    yesterday = now - dt.timedelta(days=1)

    def give(item: Any, n: int, at: dt.datetime) -> Any:
        return actions.give_supply(
            site=site_a,
            item=item,
            quantity=n,
            visit=visit,
            by=nurse,
            idempotency_key=key(),
            at=at,
        )

    give(filters, 3, now)
    give(filters, 2, now)
    wrong = give(foil, 5, now)
    give(foil, 4, yesterday)
    actions.reverse_give_out(movement=wrong, reason="wrong", by=nurse, idempotency_key=key())
    food = actions.give_service(
        site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key(), at=now
    )
    actions.give_service(
        site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key(), at=now
    )
    actions.void_service(service=food, reason="wrong", by=nurse)
    today = (now - dt.timedelta(hours=1), now + dt.timedelta(hours=1))
    assert queries.supplies_given_by_item(site_a, *today) == {"filter": 5}
    assert queries.services_given_by_item(site_a, *today) == {"food": 1}
    assert queries.supplies_given_by_item(site_a, yesterday - dt.timedelta(hours=1), today[1]) == {
        "filter": 5,
        "foil": 4,
    }


def test_the_low_stock_note_for_other_pages(site_a, supply, stock, manager):
    water = supply("water")
    stock(site_a, water, 2)
    assert (
        render_to_string(
            "supplies/_low_stock_note.html", {"site": site_a, "low_stock_levels": []}
        ).strip()
        == ""
    )
    actions.set_low_threshold(
        site=site_a,
        item=water,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, water),
    )
    note = render_to_string(
        "supplies/_low_stock_note.html",
        {"site": site_a, "low_stock_levels": queries.low_stock(site_a)},
    )
    assert "1 supply is running low:" in note
    assert "Sterile water (2)." in note
    assert "/sites/riverside/care/stock/" in note
