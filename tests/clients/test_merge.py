"""Merging two codes of one person: a manager types the other code, compares them side by
side and confirms with a reason. History is kept and the merged code still finds the client."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse

from saferoom.clients import actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Ban, Client, ClientMerge, Intake
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.floor.models import Visit
from saferoom.sites.models import Site
from tests.clients.conftest import (
    NDTMS,
    detail_url,
    find_by_code,
    find_url,
    make_visit,
    register_via_http,
)

OTHER = {"initials": "AB", "date_of_birth": "1990-05-20", "sex": "female", "gender": "female"}


def merge_url(site: Site, client: Client) -> str:
    return reverse("clients:merge", kwargs={"site": site.slug, "pk": client.pk})


@pytest.fixture
def pair(as_desk, site_a, desk, manager):
    """The same person registered twice: the first code with two visits and a ban, the second
    (newer) code with one visit."""
    first = register_via_http(as_desk, site_a, OTHER)
    second = register_via_http(as_desk, site_a, NDTMS)
    make_visit(site_a, first, desk, hours_ago=30)
    make_visit(site_a, first, desk, hours_ago=20)
    make_visit(site_a, second, desk, hours_ago=5)
    actions.set_ban(
        client=second,
        site=site_a,
        reason="rules",
        note="",
        starts_at=None,
        expires_at=None,
        by=manager,
        idempotency_key=uuid.uuid4(),
    )
    return first, second


def test_a_manager_compares_two_codes_side_by_side(as_manager, site_a, pair):
    first, second = pair
    response = as_manager.post(
        merge_url(site_a, second), {"step": "lookup", "other_code": first.display_code.lower()}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="card client-card"') == 2
    assert first.display_code in html
    assert second.display_code in html
    # The code registered first is kept by default: it is the one most likely on a card.
    assert re.search(r'name="keep" value="other"[^>]*checked', html)
    assert not re.search(r'name="keep" value="this"[^>]*checked', html)
    assert 'name="reason"' in html
    assert not ClientMerge.objects.exists()


def test_merging_moves_visits_and_bans_and_keeps_the_history(as_manager, manager, site_a, pair):
    first, second = pair
    second_visits = list(second.visits.values_list("pk", flat=True))
    second_bans = list(second.bans.values_list("pk", flat=True))
    response = as_manager.post(
        merge_url(site_a, second),
        {
            "step": "confirm",
            "other_code": first.display_code,
            "keep": "other",
            "reason": "Lost card, registered again",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(site_a, first)
    second.refresh_from_db()
    assert second.merged_into == first
    assert second.merged_at is not None
    assert Visit.objects.filter(client=first).count() == 3
    assert Ban.objects.filter(client=first).count() == 1
    merge = ClientMerge.objects.get()
    assert (merge.kept, merge.merged, merge.merged_by) == (first, second, manager)
    assert merge.moved_visit_ids == second_visits
    assert merge.moved_ban_ids == second_bans
    event = AuditEvent.objects.get(action="client.merged")
    assert event.detail["moved_visit_ids"] == second_visits
    assert event.detail["kept"] == first.pk
    assert event.detail["merged"] == second.pk
    html = as_manager.get(detail_url(site_a, first)).content.decode()
    assert f'<span class="code">{second.display_code}</span> was merged into this record' in html
    assert "Lost card, registered again" in html


def test_the_merged_code_still_finds_the_kept_client(as_manager, manager, as_desk, site_a, pair):
    first, second = pair
    actions.merge_clients(keep=first, merge=second, reason="same person", by=manager, site=site_a)
    html = find_by_code(as_desk, site_a, second.display_code).content.decode()
    assert "Client found" in html
    assert first.display_code in html
    assert detail_url(site_a, first) in html
    # And by the details the merged code was registered with.
    details = {"search": "attributes", **{f"find-{k}": v for k, v in NDTMS.items()}}
    html = as_desk.post(find_url(site_a), details).content.decode()
    assert "Client found" in html
    assert first.display_code in html
    # The merged record's address leads to the kept record.
    response = as_desk.get(detail_url(site_a, second))
    assert response.status_code == 302
    assert response["Location"] == detail_url(site_a, first)


def test_registration_no_longer_warns_of_the_merged_code_but_of_the_kept_one(
    as_desk, manager, site_a, pair
):
    first, second = pair
    actions.merge_clients(keep=first, merge=second, reason="same person", by=manager, site=site_a)
    candidates = actions.duplicate_candidates(
        network=site_a.network,
        attrs=SchemeAttributes(initials="QZ", date_of_birth=dt.date(1987, 3, 14), sex="female"),
        today=dt.date(2026, 6, 1),
    )
    assert candidates == [first]


def test_the_intake_moves_when_the_kept_code_has_none(manager, site_a, desk, as_desk):
    site_a.network.intake_questions = []
    site_a.network.save()
    kept = register_via_http(as_desk, site_a, OTHER)
    site_a.network.intake_questions = ["housing_status"]
    site_a.network.save()
    merged = register_via_http(as_desk, site_a, {**NDTMS, "housing_status": "temporary"})
    actions.merge_clients(keep=kept, merge=merged, reason="same", by=manager, site=site_a)
    assert Intake.objects.get(client=kept).housing_status == "temporary"


def test_merging_the_same_pair_twice_returns_the_first_merge(manager, site_a, pair):
    first, second = pair
    one = actions.merge_clients(keep=first, merge=second, reason="same", by=manager, site=site_a)
    two = actions.merge_clients(keep=first, merge=second, reason="same", by=manager, site=site_a)
    assert one == two
    assert ClientMerge.objects.count() == 1


def test_a_client_cannot_be_merged_into_itself(as_manager, manager, site_a, pair):
    first, _second = pair
    with pytest.raises(ActionRefused, match="same client code twice"):
        actions.merge_clients(keep=first, merge=first, reason="x", by=manager, site=site_a)
    response = as_manager.post(
        merge_url(site_a, first), {"step": "lookup", "other_code": first.display_code}
    )
    assert "That is this client&#x27;s own code" in response.content.decode()
    assert not ClientMerge.objects.exists()


def test_a_client_cannot_be_merged_into_a_merged_client(manager, site_a, pair, as_desk):
    first, second = pair
    third = register_via_http(as_desk, site_a, {**OTHER, "initials": "CD"})
    actions.merge_clients(keep=first, merge=second, reason="same", by=manager, site=site_a)
    second.refresh_from_db()
    with pytest.raises(ActionRefused, match="has itself been merged"):
        actions.merge_clients(keep=second, merge=third, reason="x", by=manager, site=site_a)
    with pytest.raises(ActionRefused, match="already been merged"):
        actions.merge_clients(keep=third, merge=second, reason="x", by=manager, site=site_a)
    third.refresh_from_db()
    assert third.merged_into is None
    assert ClientMerge.objects.count() == 1


def test_clients_of_different_networks_cannot_be_merged(
    manager, site_a, pair, other_network_site, other_network_worker
):
    first, _second = pair
    stranger = Client.objects.create(
        network=other_network_site.network,
        display_code="AAA-AAA",
        linkage_hash="0" * 64,
        scheme=first.scheme,
        gender="male",
        registered_at=first.registered_at,
        registered_site=other_network_site,
        registered_by=other_network_worker,
    )
    with pytest.raises(ActionRefused, match="different networks"):
        actions.merge_clients(keep=first, merge=stranger, reason="x", by=manager, site=site_a)
    with pytest.raises(ActionRefused, match="different networks"):
        actions.merge_clients(keep=stranger, merge=first, reason="x", by=manager, site=site_a)
    assert not ClientMerge.objects.exists()


def test_another_networks_code_is_not_found_when_merging(
    as_manager, site_a, pair, as_other_network_worker, other_network_site
):
    first, _ = pair
    stranger = register_via_http(as_other_network_worker, other_network_site, NDTMS)
    response = as_manager.post(
        merge_url(site_a, first),
        {"step": "confirm", "other_code": stranger.display_code, "keep": "this", "reason": "x"},
    )
    assert response.status_code == 200
    assert "No other client in this network has that code" in response.content.decode()
    assert not ClientMerge.objects.exists()


def test_two_codes_both_on_the_floor_now_cannot_be_merged(manager, desk, site_a, pair):
    first, second = pair
    make_visit(site_a, first, desk, state="waiting", hours_ago=0)
    make_visit(site_a, second, desk, state="in_space", hours_ago=0)
    with pytest.raises(ActionRefused, match="Both codes have a visit open"):
        actions.merge_clients(keep=first, merge=second, reason="same", by=manager, site=site_a)
    assert not ClientMerge.objects.exists()


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse", "as_evaluator"])
def test_only_managers_and_admins_merge(request, site_a, pair, persona):
    first, second = pair
    http = request.getfixturevalue(persona)
    data = {"step": "confirm", "other_code": first.display_code, "keep": "other", "reason": "x"}
    assert http.post(merge_url(site_a, second), data).status_code == 403
    assert not ClientMerge.objects.exists()


def test_an_admin_merges_too(as_admin, site_a, pair):
    first, second = pair
    data = {"step": "confirm", "other_code": first.display_code, "keep": "this", "reason": "same"}
    assert as_admin.post(merge_url(site_a, second), data).status_code == 302
    first.refresh_from_db()
    assert first.merged_into == second


def test_the_merge_action_refuses_someone_who_is_not_a_manager(desk, site_a, pair):
    first, second = pair
    with pytest.raises(ActionRefused, match="Only a manager"):
        actions.merge_clients(keep=first, merge=second, reason="same", by=desk, site=site_a)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"step": "lookup", "other_code": ""}, "Type the other client"),
        ({"step": "lookup", "other_code": "<script>alert(1)</script>"}, "six letters and numbers"),
        ({"step": "lookup", "other_code": "x" * 300}, "six letters and numbers"),
        (
            {"step": "confirm", "keep": "other", "reason": ""},
            "Say why these codes are the same person",
        ),
        ({"step": "confirm", "keep": "other", "reason": "x" * 201}, "at most 200 characters"),
        ({"step": "confirm", "keep": "both", "reason": "same"}, "Choose one of the two codes"),
        ({"step": "confirm", "keep": "", "reason": "same"}, "Choose which code the person keeps"),
    ],
)
def test_bad_merge_input_gets_a_clear_message_and_merges_nothing(
    as_manager, site_a, pair, data, message
):
    first, second = pair
    payload = {"other_code": first.display_code, **data}
    response = as_manager.post(merge_url(site_a, second), payload)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert" not in html
    assert not ClientMerge.objects.exists()
    second.refresh_from_db()
    assert second.merged_into is None
