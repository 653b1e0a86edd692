"""Giving supplies out, to a visit or a walk-in: stock goes down, and every refusal changes
nothing (not enough stock, a bad quantity, an item not in use or not this site's, a visit of
another site, a client of another network). A double tap gives once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from saferoom.care.supplies import actions
from saferoom.care.supplies.models import StockLevel, StockMovement
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem
from tests.care.supplies.conftest import key, make_client, make_visit

pytestmark = pytest.mark.django_db


def level(site, item) -> int:
    return actions.in_stock(site, item)


def test_giving_to_a_visit_takes_it_out_of_stock_and_names_the_visit(
    site_a, visit, filters, stock, nurse
):
    stock(site_a, filters, 10)
    movement = actions.give_supply(
        site=site_a, item=filters, quantity=3, visit=visit, by=nurse, idempotency_key=key()
    )
    assert level(site_a, filters) == 7
    assert movement.kind == StockMovement.Kind.GIVEN
    assert movement.quantity == -3
    assert movement.amount == 3
    assert movement.balance_after == 7
    assert movement.visit == visit
    assert movement.client == visit.client
    assert movement.by == nurse
    event = AuditEvent.objects.get(action="supply.given")
    assert event.object_id == str(movement.pk)
    assert event.detail == {"item": "filter", "quantity": 3, "visit": visit.pk, "walk_in": False}


def test_a_walk_in_is_a_give_out_with_no_visit_and_maybe_a_client(
    network, site_a, filters, stock, desk
):
    stock(site_a, filters, 10)
    anonymous = actions.give_supply(
        site=site_a, item=filters, quantity=1, by=desk, idempotency_key=key()
    )
    assert anonymous.visit is None
    assert anonymous.client is None
    card = make_client(network, site_a, desk)
    named = actions.give_supply(
        site=site_a, item=filters, quantity=2, client=card, by=desk, idempotency_key=key()
    )
    assert named.visit is None
    assert named.client == card
    assert level(site_a, filters) == 7


def test_history_can_be_written_in_the_past(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 5)
    then = timezone.now() - dt.timedelta(days=40)
    movement = actions.give_supply(
        site=site_a,
        item=filters,
        quantity=1,
        visit=visit,
        by=nurse,
        idempotency_key=key(),
        at=then,
    )
    assert movement.at == then
    assert AuditEvent.objects.get(action="supply.given").at == then


def test_giving_more_than_is_in_stock_is_refused_and_changes_nothing(
    site_a, visit, filters, stock, nurse
):
    stock(site_a, filters, 2)
    before = StockMovement.objects.count()
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=3, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "not_enough_stock"
    assert "Only 2 Filter left in stock at Riverside" in refused.value.message
    assert "count" in refused.value.message
    assert level(site_a, filters) == 2
    assert StockMovement.objects.count() == before
    assert not AuditEvent.objects.filter(action="supply.given").exists()


def test_an_item_never_received_cannot_be_given(site_a, visit, filters, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=1, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "not_enough_stock"
    assert "There is no Filter in stock" in refused.value.message
    assert level(site_a, filters) == 0


def test_the_last_item_can_be_given_and_then_no_more(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 1)
    actions.give_supply(
        site=site_a, item=filters, quantity=1, visit=visit, by=nurse, idempotency_key=key()
    )
    assert level(site_a, filters) == 0
    with pytest.raises(ActionRefused):
        actions.give_supply(
            site=site_a, item=filters, quantity=1, visit=visit, by=nurse, idempotency_key=key()
        )
    assert level(site_a, filters) == 0


@pytest.mark.parametrize("quantity", [0, -1, 201, 10**12, "3", 2.5, True, None])
def test_a_bad_quantity_is_refused(site_a, visit, filters, stock, nurse, quantity):
    stock(site_a, filters, 500)
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a,
            item=filters,
            quantity=quantity,
            visit=visit,
            by=nurse,
            idempotency_key=key(),
        )
    assert refused.value.code == "bad_quantity"
    assert level(site_a, filters) == 500


def test_an_item_no_longer_in_use_cannot_be_given(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 5)
    CatalogueItem.objects.filter(pk=filters.pk).update(active=False)
    filters.refresh_from_db()
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=1, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "inactive_item"
    assert "no longer in use" in refused.value.message
    assert level(site_a, filters) == 5


def test_another_sites_own_item_cannot_be_given_here(network, site_a, site_b, visit, nurse):
    theirs = CatalogueItem.objects.create(
        network=network, site=site_b, kind="supply", code="eastgate_pipe", label="Glass pipe"
    )
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=theirs, quantity=1, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "other_site_item"
    assert not StockLevel.objects.filter(item=theirs).exists()


def test_another_networks_item_cannot_be_given_here(other_network_site, site_a, visit, nurse):
    theirs = CatalogueItem.objects.get(
        network=other_network_site.network, site=None, kind="supply", code="filter"
    )
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=theirs, quantity=1, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "other_site_item"


def test_a_service_is_not_a_supply(site_a, visit, service, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a,
            item=service("shower"),
            quantity=1,
            visit=visit,
            by=nurse,
            idempotency_key=key(),
        )
    assert refused.value.code == "other_site_item"


def test_a_visit_of_another_site_is_refused(site_a, site_b, filters, stock, desk, nurse):
    stock(site_a, filters, 5)
    elsewhere = make_visit(site_b, desk)
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a,
            item=filters,
            quantity=1,
            visit=elsewhere,
            by=nurse,
            idempotency_key=key(),
        )
    assert refused.value.code == "bad_visit"
    assert level(site_a, filters) == 5


def test_a_client_of_another_network_is_refused(
    other_network_site, site_a, filters, stock, desk, nurse
):
    stock(site_a, filters, 5)
    stranger = make_client(other_network_site.network, other_network_site, desk)
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a,
            item=filters,
            quantity=1,
            client=stranger,
            by=nurse,
            idempotency_key=key(),
        )
    assert refused.value.code == "bad_client"
    assert level(site_a, filters) == 5


def test_a_double_tap_gives_once(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 10)
    same = key()
    first = actions.give_supply(
        site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key=same
    )
    again = actions.give_supply(
        site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key=same
    )
    assert again.pk == first.pk
    assert level(site_a, filters) == 8
    assert StockMovement.objects.filter(kind="given").count() == 1


def test_the_same_key_with_other_details_is_refused(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 10)
    same = key()
    actions.give_supply(
        site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key=same
    )
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=5, visit=visit, by=nurse, idempotency_key=same
        )
    assert refused.value.code == "key_reused"
    assert level(site_a, filters) == 8


def test_a_missing_key_is_refused(site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 10)
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key="nope"
        )
    assert refused.value.code == "bad_key"
    assert level(site_a, filters) == 10


def test_a_sites_own_supply_can_be_given_there(network, site_a, visit, manager, nurse):
    own = CatalogueItem.objects.create(
        network=network, site=site_a, kind="supply", code="lip_balm", label="Lip balm"
    )
    actions.receive_stock(site=site_a, item=own, quantity=5, by=manager, idempotency_key=key())
    actions.give_supply(
        site=site_a, item=own, quantity=1, visit=visit, by=nurse, idempotency_key=key()
    )
    assert level(site_a, own) == 4


def test_a_merged_clients_old_code_is_refused_for_a_walk_in(
    network, site_a, filters, stock, desk, nurse
):
    stock(site_a, filters, 5)
    kept, merged = make_client(network, site_a, desk), make_client(network, site_a, desk, 1990)
    merged.merged_into = kept
    merged.merged_at = timezone.now()
    merged.save(update_fields=["merged_into", "merged_at"])
    with pytest.raises(ActionRefused) as refused:
        actions.give_supply(
            site=site_a, item=filters, quantity=1, client=merged, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "merged_client"
    assert level(site_a, filters) == 5
