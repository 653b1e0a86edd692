"""Spaces: booths, inhalation rooms, flexible spaces and the after-care area. A manager adds and
changes them, takes one out of service with a reason and returns it; every change is audited;
bad input is refused with a clear message and no write; the database constraints still hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites import actions
from saferoom.sites.models import Site, Space
from tests.sites.helpers import audit_count, new_key


def new_url(site: Site) -> str:
    return reverse("sites:space_new", kwargs={"site": site.slug})


def edit_url(space: Space) -> str:
    return reverse("sites:space_edit", kwargs={"site": space.site.slug, "pk": space.pk})


def space_form(**overrides: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "idempotency_key": new_key(),
        "name": "Smoking room 2",
        "kind": "inhalation",
        "seats": "4",
        "clear_down_minutes": "15",
        "accessible": "on",
        "sort_order": "11",
        "version": "1",  # the space as made (a new space's form has no version)
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def booth(site: Site, name: str = "Booth 1") -> Space:
    return Space.objects.get(site=site, name=name)


def test_the_list_shows_each_space_with_its_actions(as_manager, site_a):
    html = as_manager.get(reverse("sites:spaces", kwargs={"site": site_a.slug})).content.decode()
    assert "Smoking room" in html
    assert "Recovery" in html
    assert "Take out of service" in html
    assert "Why is Booth 1 out of service?" in html  # each reason box has its own label


def test_a_manager_adds_an_inhalation_room(as_manager, site_a, manager):
    response = as_manager.post(new_url(site_a), space_form())
    assert response.status_code == 302
    room = Space.objects.get(site=site_a, name="Smoking room 2")
    assert (room.kind, room.seats, room.clear_down_minutes, room.accessible, room.sort_order) == (
        "inhalation",
        4,
        15,
        True,
        11,
    )
    event = AuditEvent.objects.get(action="space.created")
    assert (event.actor_label, event.site_id, event.object_id) == (
        manager.username,
        site_a.pk,
        str(room.pk),
    )


def test_an_empty_clear_down_and_order_take_the_usual_values(as_manager, site_a):
    data = space_form(kind="booth", name="Booth 5", seats="1", clear_down_minutes="", sort_order="")
    assert as_manager.post(new_url(site_a), data).status_code == 302
    new = Space.objects.get(site=site_a, name="Booth 5")
    assert new.clear_down_minutes == Space.DEFAULT_CLEAR_DOWN["booth"]
    assert new.sort_order == 21  # after the recovery area, which is 20


def test_the_same_form_sent_five_times_makes_one_space(as_manager, site_a):
    data = space_form()
    for _ in range(5):
        assert as_manager.post(new_url(site_a), data).status_code == 302
    assert Space.objects.filter(site=site_a, name="Smoking room 2").count() == 1
    assert AuditEvent.objects.filter(action="space.created").count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seats": "0"}, "between 1 and 50 seats"),
        ({"seats": "51"}, "between 1 and 50 seats"),
        ({"seats": "-3"}, "between 1 and 50 seats"),
        ({"seats": "lots"}, "between 1 and 50 seats"),
        ({"clear_down_minutes": "999"}, "Clear-down is between 0 and 120 minutes"),
        ({"clear_down_minutes": "-1"}, "Clear-down is between 0 and 120 minutes"),
        ({"name": "Booth 1"}, "There is already a space called “Booth 1”"),
        ({"name": "booth 1"}, "There is already a space called “booth 1”"),
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 61}, "at most 60 characters"),
        ({"name": "<script>alert(1)</script>"}, "&lt; and &gt; are not allowed"),
        ({"kind": "jacuzzi"}, "Choose what kind of space this is"),
        ({"sort_order": "first"}, "Give the order as a whole number"),
        ({"idempotency_key": "not-a-key"}, "This form is out of date"),
        ({"idempotency_key": None}, "This form is out of date"),
    ],
)
def test_bad_and_hostile_spaces_are_refused_with_a_clear_message(
    as_manager, site_a, overrides, message
):
    before_spaces, before_audit = Space.objects.count(), audit_count()
    response = as_manager.post(new_url(site_a), space_form(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    assert Space.objects.count() == before_spaces
    assert audit_count() == before_audit


def test_a_manager_changes_a_booth(as_manager, site_a):
    space = booth(site_a)
    data = space_form(name="Booth 1 (accessible)", kind="booth", seats="1", clear_down_minutes="3")
    response = as_manager.post(edit_url(space), data)
    assert response.status_code == 302
    space.refresh_from_db()
    assert (space.name, space.clear_down_minutes, space.accessible) == (
        "Booth 1 (accessible)",
        3,
        True,
    )
    event = AuditEvent.objects.get(action="space.updated")
    assert event.detail["name"] == {"from": "Booth 1", "to": "Booth 1 (accessible)"}


def test_renaming_a_space_to_a_name_in_use_is_refused(as_manager, site_a):
    space = booth(site_a)
    response = as_manager.post(edit_url(space), space_form(name="Booth 2", kind="booth"))
    assert response.status_code == 200
    assert "There is already a space called “Booth 2”" in response.content.decode()
    space.refresh_from_db()
    assert space.name == "Booth 1"


def test_keeping_the_same_name_is_not_a_clash(as_manager, site_a):
    space = booth(site_a)
    response = as_manager.post(edit_url(space), space_form(name="Booth 1", kind="booth", seats="2"))
    assert response.status_code == 302
    space.refresh_from_db()
    assert space.seats == 2


def test_another_sites_space_cannot_be_reached(as_manager, site_a, site_b):
    theirs = booth(site_b)
    url = reverse("sites:space_edit", kwargs={"site": site_a.slug, "pk": theirs.pk})
    assert as_manager.get(url).status_code == 404
    assert as_manager.post(url, space_form(name="Mine now", kind="booth")).status_code == 404
    for name in ("sites:space_out_of_service", "sites:space_return"):
        url = reverse(name, kwargs={"site": site_a.slug, "pk": theirs.pk})
        assert as_manager.post(url, {"reason": "hijack"}).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.out_of_service) == ("Booth 1", False)
    assert not AuditEvent.objects.filter(action__startswith="space.").exists()


def test_out_of_service_and_back(as_manager, site_a, manager):
    space = booth(site_a, "Booth 3")
    out_url = reverse("sites:space_out_of_service", kwargs={"site": site_a.slug, "pk": space.pk})
    back_url = reverse("sites:space_return", kwargs={"site": site_a.slug, "pk": space.pk})

    response = as_manager.post(out_url, {"reason": "Blood spill, deep clean"})
    assert response.status_code == 302
    space.refresh_from_db()
    assert (space.out_of_service, space.out_of_service_reason) == (True, "Blood spill, deep clean")
    page = as_manager.get(response["Location"]).content.decode()
    assert "Booth 3 is out of service" in page
    assert "Blood spill, deep clean" in page
    event = AuditEvent.objects.get(action="space.out_of_service")
    # Said on the space while it is out; never copied into the trail.
    assert event.detail == {"reason_given": True}
    assert event.actor_label == manager.username

    assert as_manager.post(back_url).status_code == 302
    space.refresh_from_db()
    assert (space.out_of_service, space.out_of_service_reason) == (False, "")
    event = AuditEvent.objects.get(action="space.returned_to_service")
    assert event.detail == {}


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why, so the next shift knows"),
        ("x" * 201, "at most 200 characters"),
        ("<img src=x onerror=alert(1)>", "&lt; and &gt; are not allowed"),
    ],
)
def test_out_of_service_needs_a_plain_reason(as_manager, site_a, reason, message):
    space = booth(site_a)
    url = reverse("sites:space_out_of_service", kwargs={"site": site_a.slug, "pk": space.pk})
    response = as_manager.post(url, {"reason": reason})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<img src=x" not in html
    space.refresh_from_db()
    assert space.out_of_service is False
    assert not AuditEvent.objects.filter(action="space.out_of_service").exists()


def test_returning_a_space_that_is_in_service_says_so(as_manager, site_a):
    space = booth(site_a)
    url = reverse("sites:space_return", kwargs={"site": site_a.slug, "pk": space.pk})
    response = as_manager.post(url, follow=True)
    assert "Booth 1 is already in service" in response.content.decode()
    assert not AuditEvent.objects.filter(action="space.returned_to_service").exists()


def test_floor_staff_may_take_a_booth_out_of_service_through_the_action(site_a, nurse):
    # The board (floor) uses the same action; an evaluator never can.
    space = actions.set_out_of_service(space=booth(site_a), reason="Needle on floor", by=nurse)
    assert space.out_of_service


def test_an_evaluator_or_another_sites_worker_cannot_use_the_action(
    site_a, evaluator, other_site_worker
):
    for person in (evaluator, other_site_worker):
        with pytest.raises(ActionRefused):
            actions.set_out_of_service(space=booth(site_a), reason="x", by=person)
    assert not booth(site_a).out_of_service


def test_the_action_refuses_what_the_form_would_have_caught(site_a, manager):
    for kwargs in (
        {"seats": 0},
        {"seats": 51},
        {"clear_down_minutes": 999},
        {"name": "Booth 2"},
        {"kind": "jacuzzi"},
    ):
        fields: dict[str, Any] = {"name": "New", "kind": "booth", **kwargs}
        with pytest.raises(ActionRefused):
            actions.create_space(site=site_a, by=manager, **fields)
    assert not Space.objects.filter(site=site_a, name="New").exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Zero", "seats": 0},
        {"name": "Crowd", "seats": 51},
        {"name": "Slow", "clear_down_minutes": 999},
        {"name": "Booth 1"},
    ],
)
def test_the_database_refuses_bad_spaces_that_bypass_the_action(site_a, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Space.objects.create(site=site_a, kind="booth", **fields)
