"""No shared accounts (checklist item 8; HIPAA unique user id): an account names a person, never
a role, a desk, a device or a site; every record names who made it in a column the database
requires; every write made through the web is audited under the named person who made it. A
shared tablet is shared by switching user with a PIN (tests/accounts/test_pin_switch.py)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from saferoom.core.clinical import NEVER_DELETED
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, User
from saferoom.core.roles import Role
from saferoom.core.usernames import is_generic
from saferoom.sites import actions as site_actions
from tests.clients.conftest import NDTMS, register_via_http
from tests.conftest import login

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "amber kettle orbit lamp"

# Records written by the worker rather than a person: they say "system" in the audit trail.
WRITTEN_BY_THE_SYSTEM = {"floor.Escalation": "a missed check passed on by the worker"}


@pytest.mark.parametrize(
    "username",
    ["desk", "frontdesk", "Reception", "nurse2", "tablet-1", "shared_ipad", "admin",
     "riverside", "riverside.desk", "desk@riverside", "night.shift", "van.tablet"],
)  # fmt: skip
def test_a_username_naming_a_role_a_place_or_a_device_is_refused(site_a, manager, username):
    with pytest.raises(ActionRefused) as refused:
        site_actions.create_staff_user(
            username=username,
            display_name="Whoever is on",
            password=GOOD_PASSWORD,
            memberships=[(Role.DESK, site_a)],
            network=site_a.network,
            by=manager,
        )
    assert refused.value.code == "username"
    assert "not a person" in refused.value.message
    assert not User.objects.filter(username__iexact=username).exists()


@pytest.mark.parametrize("username", ["dana.okafor", "desk.dana", "femi", "40117", "j.smith2"])
def test_a_username_naming_a_person_is_accepted(site_a, username):
    assert not is_generic(username, [site_a.name, site_a.slug, site_a.network.name])


def test_the_staff_page_says_why_a_shared_account_is_refused(as_manager, site_a):
    response = as_manager.post(
        reverse("sites:staff_new", kwargs={"site": site_a.slug}),
        {
            "idempotency_key": str(uuid.uuid4()),
            "username": "riverside.tablet",
            "display_name": "Desk tablet",
            "password": GOOD_PASSWORD,
            "password_again": GOOD_PASSWORD,
            "site_roles": ["desk"],
        },
    )
    assert response.status_code == 200
    assert "names a role, a place or a device, not a person" in response.content.decode()
    assert not User.objects.filter(username="riverside.tablet").exists()


def test_createuser_refuses_a_shared_account(site_a, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD_PASSWORD + "\n"))
    with pytest.raises(CommandError, match="not a person"):
        call_command(
            "createuser", "frontdesk", "--role", "desk", "--site", site_a.slug,
            "--password-stdin", stdout=io.StringIO(),
        )  # fmt: skip
    assert not User.objects.filter(username="frontdesk").exists()


def test_every_kept_record_names_who_made_it_in_a_column_the_database_requires():
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    unnamed = []
    for label in NEVER_DELETED:
        if label in WRITTEN_BY_THE_SYSTEM:
            continue
        fields = apps.get_model(label)._meta.fields
        if not any(f.is_relation and f.related_model is user_model and not f.null for f in fields):
            unnamed.append(label)
    assert not unnamed, f"These records do not require an author: {unnamed}"


def test_every_write_through_the_web_is_audited_under_the_person_who_made_it(site_a, desk, nurse):
    """An evening's writes by two people on their own logins: every event has a request id,
    and names a real, personal account (none of them generic)."""
    as_desk, as_nurse = login(desk), login(nurse)
    client = register_via_http(as_desk, site_a, NDTMS)
    as_desk.post(
        reverse("floor:checkin", kwargs={"site": site_a.slug, "client": client.pk}),
        {"idempotency_key": str(uuid.uuid4()), "planned_route": "smoke", "old_enough": "yes"},
    )
    as_nurse.post(
        reverse("incidents:new", kwargs={"site": site_a.slug}),
        {"idempotency_key": str(uuid.uuid4()), "location": "lounge", "kind": "opioid"},
    )
    events = list(AuditEvent.objects.exclude(request_id=""))
    assert {e.actor_label for e in events} == {"dana.desk", "nina.nurse"}
    assert len({e.action for e in events}) >= 3, [e.action for e in events]
    places = [site_a.name, site_a.slug, site_a.network.name]
    for event in events:
        assert event.actor_id is not None
        person = User.objects.get(pk=event.actor_id)
        assert person.get_username() == event.actor_label
        assert not is_generic(person.get_username(), places)
