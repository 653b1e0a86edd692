"""The supplies pages through HTTP: a visit's care page gives in one tap (with and without
htmx), every refusal shows its message and changes nothing, the walk-in page finds a client by
code, and the stock pages let each role do what it may."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.care.supplies import actions
from saferoom.care.supplies.models import ServiceGiven, StockLevel, StockMovement
from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem
from tests.care.supplies.conftest import key, make_client, make_visit
from tests.versions import threshold_version

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, site: Any, **kwargs: Any) -> str:
    return reverse(f"supplies:{name}", kwargs={"site": site.slug, **kwargs})


def give(
    http: Any,
    site: Any,
    item: Any,
    n: Any,
    *,
    visit: Any = None,
    client: Any = None,
    idem: str | None = None,
    **extra: Any,
) -> Any:
    data = {"item": item.pk, "quantity": n, "idempotency_key": idem or key()}
    if visit is not None:
        data["visit"] = visit.pk
    if client is not None:
        data["client"] = client.pk
    return http.post(url("give", site), data, **extra)


# --- a visit's care page --------------------------------------------------------------------


def test_the_care_page_shows_stock_buttons_services_and_the_other_areas(
    as_nurse, site_a, visit, filters, stock
):
    stock(site_a, filters, 3)
    response = as_nurse.get(url("visit", site_a, pk=visit.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert visit.client.display_code in page
    assert 'aria-label="Give 2: Filter"' in page
    # 5 and 10 are more than the 3 in stock: those buttons are disabled.
    assert f'id="give-{filters.pk}-10" class="qty" aria-label="Give 10: Filter" disabled' in page
    assert "Wound care" in page
    assert "Nothing given yet." in page
    assert AuditEvent.objects.filter(action="client.viewed", detail__page="care").exists()


def test_one_tap_gives_and_comes_back_to_the_page(as_nurse, site_a, visit, filters, stock):
    stock(site_a, filters, 10)
    response = give(as_nurse, site_a, filters, 2, visit=visit)
    assert response.status_code == 302
    assert response["Location"] == url("visit", site_a, pk=visit.pk)
    assert actions.in_stock(site_a, filters) == 8
    page = as_nurse.get(response["Location"]).content.decode()
    assert f"Given: 2 × Filter to {visit.client.display_code}. 8 left in stock." in page
    assert "2 × Filter" in page


def test_with_htmx_the_panel_comes_back_in_place(as_desk, site_a, visit, filters, stock):
    stock(site_a, filters, 10)
    response = give(as_desk, site_a, filters, 1, visit=visit, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="care-panel"')
    assert "9 left in stock" in page
    assert actions.in_stock(site_a, filters) == 9


def test_a_double_tap_through_http_gives_once(as_nurse, site_a, visit, filters, stock):
    stock(site_a, filters, 10)
    same = key()
    give(as_nurse, site_a, filters, 2, visit=visit, idem=same)
    give(as_nurse, site_a, filters, 2, visit=visit, idem=same)
    assert actions.in_stock(site_a, filters) == 8


def test_giving_more_than_in_stock_shows_why_and_changes_nothing(
    as_nurse, site_a, visit, filters, stock
):
    stock(site_a, filters, 1)
    response = give(as_nurse, site_a, filters, 5, visit=visit)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "Only 1 Filter left in stock at Riverside: 5 cannot be given." in page
    # Floor staff are not offered the stock route; managers are (next test).
    assert "Count or adjust the stock of Filter" not in page
    assert actions.in_stock(site_a, filters) == 1
    assert not StockMovement.objects.filter(kind="given").exists()


def test_a_manager_refused_for_stock_is_offered_the_count_and_adjust_page(
    as_manager, site_a, visit, filters
):
    response = give(as_manager, site_a, filters, 1, visit=visit, **HTMX)
    assert response.status_code == 422
    page = response.content.decode()
    assert "There is no Filter in stock at Riverside" in page
    assert url("item", site_a, pk=filters.pk) in page


@pytest.mark.parametrize("quantity", ["0", "-3", "abc", "9" * 400, "201", ""])
def test_a_bad_quantity_is_a_message_not_an_error(
    as_nurse, site_a, visit, filters, stock, quantity
):
    stock(site_a, filters, 500)
    response = as_nurse.post(
        url("give", site_a),
        {"item": filters.pk, "quantity": quantity, "visit": visit.pk, "idempotency_key": key()},
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert actions.in_stock(site_a, filters) == 500


def test_a_forged_item_id_is_a_message_not_an_error(as_nurse, site_a, visit):
    response = as_nurse.post(
        url("give", site_a),
        {"item": "9" * 400, "quantity": 1, "visit": visit.pk, "idempotency_key": key()},
    )
    assert response.status_code == 200
    assert "The page has been refreshed" in response.content.decode()


def test_a_missing_key_is_a_message(as_nurse, site_a, visit, filters, stock):
    stock(site_a, filters, 5)
    response = as_nurse.post(
        url("give", site_a), {"item": filters.pk, "quantity": 1, "visit": visit.pk}
    )
    assert response.status_code == 200
    assert "Reload the page" in response.content.decode()
    assert actions.in_stock(site_a, filters) == 5


def test_an_inactive_item_is_refused_through_http(as_nurse, site_a, visit, filters, stock):
    stock(site_a, filters, 5)
    CatalogueItem.objects.filter(pk=filters.pk).update(active=False)
    response = give(as_nurse, site_a, filters, 1, visit=visit)
    assert response.status_code == 200
    assert "Filter is no longer in use" in response.content.decode()
    assert actions.in_stock(site_a, filters) == 5


def test_another_sites_item_or_visit_is_not_found(
    as_nurse, network, site_a, site_b, desk, filters, stock
):
    stock(site_a, filters, 5)
    theirs = CatalogueItem.objects.create(
        network=network, site=site_b, kind="supply", code="their_kit", label="Their kit"
    )
    here = make_visit(site_a, desk)
    assert give(as_nurse, site_a, theirs, 1, visit=here).status_code == 404
    elsewhere = make_visit(site_b, desk)
    assert give(as_nurse, site_a, filters, 1, visit=elsewhere).status_code == 404
    assert as_nurse.get(url("visit", site_a, pk=elsewhere.pk)).status_code == 404
    assert actions.in_stock(site_a, filters) == 5


def test_the_evaluator_cannot_give_or_see_a_visit(as_evaluator, site_a, visit, filters, stock):
    stock(site_a, filters, 5)
    assert give(as_evaluator, site_a, filters, 1, visit=visit).status_code == 403
    assert as_evaluator.get(url("visit", site_a, pk=visit.pk)).status_code == 403
    assert actions.in_stock(site_a, filters) == 5


def test_a_service_in_one_tap(as_desk, site_a, visit, service):
    shower = service("shower")
    response = as_desk.post(
        url("service", site_a), {"item": shower.pk, "visit": visit.pk, "idempotency_key": key()}
    )
    assert response.status_code == 302
    assert ServiceGiven.objects.get().item == shower
    page = as_desk.get(response["Location"]).content.decode()
    assert f"Recorded: Shower for {visit.client.display_code}." in page


def test_reversing_a_give_out_through_the_page(as_nurse, site_a, visit, filters, stock, nurse):
    stock(site_a, filters, 5)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key=key()
    )
    page = as_nurse.get(url("visit", site_a, pk=visit.pk)).content.decode()
    assert "Put back into stock" in page
    no_reason = as_nurse.post(
        url("reverse", site_a), {"movement": given.pk, "reason": "", "idempotency_key": key()}
    )
    assert "Say why, in a few words." in no_reason.content.decode()
    assert actions.in_stock(site_a, filters) == 3
    done = as_nurse.post(
        url("reverse", site_a),
        {"movement": given.pk, "reason": "Wrong client", "idempotency_key": key()},
    )
    assert done.status_code == 302
    assert actions.in_stock(site_a, filters) == 5
    page = as_nurse.get(done["Location"]).content.decode()
    assert "Reversed: Wrong client" in page


def test_the_desk_is_not_offered_to_reverse_someone_elses_give_out(
    as_desk, site_a, visit, filters, stock, nurse
):
    stock(site_a, filters, 5)
    given = actions.give_supply(
        site=site_a, item=filters, quantity=2, visit=visit, by=nurse, idempotency_key=key()
    )
    page = as_desk.get(url("visit", site_a, pk=visit.pk)).content.decode()
    assert "Put back into stock" not in page
    refused = as_desk.post(
        url("reverse", site_a), {"movement": given.pk, "reason": "x", "idempotency_key": key()}
    )
    assert "Only the person who recorded this give-out, or a manager" in refused.content.decode()
    assert actions.in_stock(site_a, filters) == 3


def test_voiding_a_service_through_the_page(as_nurse, site_a, visit, service, nurse):
    food = actions.give_service(
        site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key()
    )
    done = as_nurse.post(url("void_service", site_a), {"service": food.pk, "reason": "Not given"})
    assert done.status_code == 302
    food.refresh_from_db()
    assert food.void_reason == "Not given"
    forged = as_nurse.post(url("void_service", site_a), {"service": "9" * 30, "reason": "x"})
    assert forged.status_code == 200


# --- walk-ins -------------------------------------------------------------------------------


def test_a_walk_in_with_no_card(as_desk, site_a, filters, stock):
    stock(site_a, filters, 5)
    assert as_desk.get(url("walk_in", site_a)).status_code == 200
    response = give(as_desk, site_a, filters, 1)
    assert response["Location"] == url("walk_in", site_a)
    movement = StockMovement.objects.get(kind="given")
    assert movement.visit is None
    assert movement.client is None
    assert "no card" in as_desk.get(url("walk_in", site_a)).content.decode()


def test_a_walk_in_found_by_code(as_desk, network, site_a, desk, filters, stock):
    stock(site_a, filters, 5)
    card = make_client(network, site_a, desk)
    found = as_desk.post(url("walk_in", site_a), {"code": card.display_code.lower()})
    assert found.status_code == 302
    assert found["Location"] == url("walk_in", site_a) + f"?client={card.pk}"
    page = as_desk.get(found["Location"]).content.decode()
    assert card.display_code in page
    response = give(as_desk, site_a, filters, 2, client=card)
    assert response["Location"] == found["Location"]
    assert StockMovement.objects.get(kind="given").client == card


def test_a_walk_in_code_that_is_not_a_code_is_a_message(as_desk, site_a):
    response = as_desk.post(url("walk_in", site_a), {"code": "hello"})
    assert response.status_code == 200
    assert "A client code has six letters and numbers" in response.content.decode()


def test_a_walk_in_client_of_another_network_is_not_found(
    as_desk, other_network_site, site_a, desk
):
    stranger = make_client(other_network_site.network, other_network_site, desk)
    assert as_desk.get(url("walk_in", site_a) + f"?client={stranger.pk}").status_code == 404
    assert as_desk.get(url("walk_in", site_a) + "?client=abc").status_code == 404


# --- stock pages ----------------------------------------------------------------------------


def test_the_stock_page_warns_about_low_stock(as_desk, site_a, filters, stock, manager):
    stock(site_a, filters, 3)
    actions.set_low_threshold(
        site=site_a,
        item=filters,
        threshold=5,
        by=manager,
        expected_version=threshold_version(site_a, filters),
    )
    page = as_desk.get(url("stock", site_a)).content.decode()
    assert "Running low" in page
    assert "3 left (warn at 5)" in page


def test_the_item_page_shows_history_and_the_forms_each_role_may_use(
    as_desk, as_nurse, as_manager, site_a, filters, stock
):
    stock(site_a, filters, 3)
    item_url = url("item", site_a, pk=filters.pk)
    desk_page = as_desk.get(item_url).content.decode()
    assert "Received" in desk_page
    assert "Receive a delivery" not in desk_page
    nurse_page = as_nurse.get(item_url).content.decode()
    assert "Receive a delivery" in nurse_page
    assert "Count (stock-take)" not in nurse_page
    manager_page = as_manager.get(item_url).content.decode()
    for form in ("Receive a delivery", "Count (stock-take)", "Adjust", "Low-stock warning"):
        assert form in manager_page


def test_floor_staff_receive_a_delivery(as_nurse, site_a, filters):
    response = as_nurse.post(
        url("receive", site_a, pk=filters.pk),
        {"quantity": 200, "note": "Order 4", "idempotency_key": key()},
    )
    assert response.status_code == 302
    assert actions.in_stock(site_a, filters) == 200


def test_the_desk_cannot_receive_and_floor_staff_cannot_count(as_desk, as_nurse, site_a, filters):
    assert (
        as_desk.post(
            url("receive", site_a, pk=filters.pk), {"quantity": 5, "idempotency_key": key()}
        ).status_code
        == 403
    )
    for name, data in (
        ("count", {"counted": 5}),
        ("adjust", {"change": 5, "reason": "found"}),
        ("threshold", {"threshold": 5}),
    ):
        response = as_nurse.post(
            url(name, site_a, pk=filters.pk), {**data, "idempotency_key": key()}
        )
        assert response.status_code == 403, name
    assert not StockLevel.objects.filter(item=filters).exists()


def test_a_manager_counts_adjusts_and_sets_the_warning(as_manager, site_a, filters, stock):
    stock(site_a, filters, 10)
    as_manager.post(url("count", site_a, pk=filters.pk), {"counted": 8, "idempotency_key": key()})
    assert actions.in_stock(site_a, filters) == 8
    as_manager.post(
        url("adjust", site_a, pk=filters.pk),
        {"change": -3, "reason": "Expired", "idempotency_key": key()},
    )
    assert actions.in_stock(site_a, filters) == 5
    as_manager.post(
        url("threshold", site_a, pk=filters.pk),
        {"threshold": 6, "version": threshold_version(site_a, filters)},
    )
    assert StockLevel.objects.get(item=filters).low_threshold == 6
    page = as_manager.get(url("item", site_a, pk=filters.pk)).content.decode()
    assert "This item is running low." in page
    assert "Expired" in page


def test_an_adjustment_below_zero_is_refused_on_the_page(as_manager, site_a, filters, stock):
    stock(site_a, filters, 2)
    response = as_manager.post(
        url("adjust", site_a, pk=filters.pk),
        {"change": -3, "reason": "Expired", "idempotency_key": key()},
    )
    assert response.status_code == 200
    assert "Only 2 Filter in stock: you cannot take away 3." in response.content.decode()
    assert actions.in_stock(site_a, filters) == 2


def test_a_stock_form_with_bad_input_shows_the_error_next_to_the_field(as_manager, site_a, filters):
    response = as_manager.post(
        url("receive", site_a, pk=filters.pk), {"quantity": "lots", "idempotency_key": key()}
    )
    assert response.status_code == 200
    assert "Give a whole number." in response.content.decode()
    assert not StockMovement.objects.exists()


def test_a_service_item_has_no_stock_page(as_manager, site_a, service):
    assert as_manager.get(url("item", site_a, pk=service("shower").pk)).status_code == 404


def test_the_care_page_costs_the_same_queries_however_much_was_given(
    as_nurse, site_a, visit, supply, service, stock, nurse, django_assert_max_num_queries
):
    page_url = url("visit", site_a, pk=visit.pk)

    def queries_now() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert as_nurse.get(page_url).status_code == 200
        return len(captured)

    stock(site_a, supply("filter"), 50)
    actions.give_supply(
        site=site_a,
        item=supply("filter"),
        quantity=1,
        visit=visit,
        by=nurse,
        idempotency_key=key(),
    )
    queries_now()  # the first request of a session costs a few more (session, caches)
    few = queries_now()
    for code in ("swab", "water", "cooker", "foil"):
        stock(site_a, supply(code), 50)
        given = actions.give_supply(
            site=site_a,
            item=supply(code),
            quantity=2,
            visit=visit,
            by=nurse,
            idempotency_key=key(),
        )
        actions.give_service(
            site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key()
        )
    actions.reverse_give_out(movement=given, reason="wrong", by=nurse, idempotency_key=key())
    assert queries_now() == few
    with django_assert_max_num_queries(20):
        as_nurse.get(page_url)


# --- stock-take -----------------------------------------------------------------------------


def take(http: Any, site: Any, counts: dict[Any, Any], idem: str | None = None) -> Any:
    data = {f"count_{item.pk}": value for item, value in counts.items()}
    return http.post(url("stock_take", site), {**data, "idempotency_key": idem or key()})


def test_a_stock_take_counts_what_was_filled_in_and_leaves_the_rest(
    as_manager, site_a, supply, stock
):
    filters, foil, swabs = supply("filter"), supply("foil"), supply("swab")
    stock(site_a, filters, 10)
    stock(site_a, foil, 10)
    stock(site_a, swabs, 10)
    page = as_manager.get(url("stock_take", site_a)).content.decode()
    assert 'for="take-count_' in page
    response = take(as_manager, site_a, {filters: 8, foil: 10, swabs: ""})
    assert response.status_code == 302
    assert response["Location"] == url("stock", site_a)
    assert (actions.in_stock(site_a, filters), actions.in_stock(site_a, foil)) == (8, 10)
    assert actions.in_stock(site_a, swabs) == 10
    assert StockMovement.objects.filter(kind="counted").count() == 2
    shown = as_manager.get(response["Location"]).content.decode()
    assert "Counted 2 items. Differences: Filter -2." in shown


def test_a_stock_take_sent_twice_counts_once(as_manager, site_a, supply, stock):
    filters = supply("filter")
    stock(site_a, filters, 10)
    same = key()
    take(as_manager, site_a, {filters: 7}, idem=same)
    take(as_manager, site_a, {filters: 7}, idem=same)
    assert StockMovement.objects.filter(kind="counted").count() == 1


def test_a_stock_take_with_a_bad_count_saves_nothing(as_manager, site_a, supply, stock):
    filters, foil = supply("filter"), supply("foil")
    stock(site_a, filters, 10)
    response = take(as_manager, site_a, {filters: 3, foil: "-2"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert "Give a whole number, or leave it empty." in page
    assert actions.in_stock(site_a, filters) == 10


def test_a_stock_take_with_nothing_filled_in_says_so(as_manager, site_a, supply):
    response = take(as_manager, site_a, {supply("filter"): ""})
    assert response.status_code == 200
    assert "Fill in at least one count." in response.content.decode()


def test_only_managers_take_stock(as_nurse, site_a, supply, stock):
    stock(site_a, supply("filter"), 10)
    assert take(as_nurse, site_a, {supply("filter"): 1}).status_code == 403
    assert actions.in_stock(site_a, supply("filter")) == 10
