"""Staff accounts and roles: managers create accounts and give or remove the ordinary roles at
their site; only administrators give evaluator or administrator roles or roles across the
network; accounts are deactivated, never deleted; one person may work at several sites."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, User
from saferoom.core.roles import Role
from saferoom.sites import actions
from saferoom.sites.models import Membership, Site
from tests.conftest import login, make_user
from tests.sites.helpers import audit_count, new_key
from tests.versions import version_of

GOOD_PASSWORD = "kettle lamp orchard 42"


def url(name: str, site: Site, **kwargs: object) -> str:
    return reverse(f"sites:{name}", kwargs={"site": site.slug, **kwargs})


def new_staff_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "idempotency_key": new_key(),
        "username": "sam.new",
        "display_name": "Sam",
        "password": GOOD_PASSWORD,
        "password_again": GOOD_PASSWORD,
        "site_roles": ["desk", "floor"],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def roles_of(user: User, site: Site | None) -> set[str]:
    if site is None:
        return set(user.memberships.filter(site=None).values_list("role", flat=True))
    return set(user.memberships.filter(site=site).values_list("role", flat=True))


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_who_works_here_and_where_else(as_manager, site_a, site_b, desk, admin):
    Membership.objects.create(user=desk, network=site_b.network, site=site_b, role=Role.FLOOR)
    html = as_manager.get(url("staff", site_a)).content.decode()
    assert "dana.desk" in html
    assert "Eastgate" in html  # the desk worker also works at Eastgate
    assert "ada.admin" in html  # an administrator of the whole network
    assert "Working at every site of the network" in html


# --- Creating accounts ------------------------------------------------------------------------


def test_a_manager_creates_an_account_with_roles_here(as_manager, site_a, manager):
    response = as_manager.post(url("staff_new", site_a), new_staff_form())
    assert response.status_code == 302
    sam = User.objects.get(username="sam.new")
    assert sam.display_name == "Sam"
    assert roles_of(sam, site_a) == {"desk", "floor"}
    assert authenticate(username="sam.new", password=GOOD_PASSWORD) == sam
    assert AuditEvent.objects.get(action="staff.created").actor_label == manager.username
    granted = AuditEvent.objects.filter(action="staff.role_granted", object_id=str(sam.pk))
    assert sorted(e.detail["role"] for e in granted) == ["desk", "floor"]
    assert GOOD_PASSWORD not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_the_same_form_sent_five_times_makes_one_account(as_manager, site_a):
    data = new_staff_form()
    for _ in range(5):
        assert as_manager.post(url("staff_new", site_a), data).status_code == 302
    assert User.objects.filter(username="sam.new").count() == 1
    assert AuditEvent.objects.filter(action="staff.created").count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "short", "password_again": "short"}, "at least 12 characters"),
        (
            {"password": "password1234", "password_again": "password1234"},
            "This password is too common",
        ),
        (
            {"password": "739201847563", "password_again": "739201847563"},
            "This password is entirely numeric",
        ),
        ({"password": "sam.new.2024", "password_again": "sam.new.2024"}, "too similar"),
        ({"password_again": "something else entirely"}, "The two passwords are not the same"),
        ({"password": None, "password_again": None}, "This field is required"),
        ({"username": "sam new!"}, "Use only letters, numbers and . @ + - _ in a username"),
        ({"username": "DANA.DESK"}, "The username “DANA.DESK” is taken"),
        ({"username": "x" * 151}, "at most 150 characters"),
        ({"display_name": "<script>alert(1)</script>"}, "&lt; and &gt; are not allowed"),
        ({"display_name": ""}, "This field is required"),
        ({"site_roles": None}, "Give at least one role"),
        ({"site_roles": ["desk", "admin"]}, "You cannot give the role “admin” here"),
        ({"site_roles": ["evaluator"]}, "You cannot give the role “evaluator” here"),
        ({"site_roles": ["superuser"]}, "You cannot give the role “superuser” here"),
        ({"idempotency_key": None}, "This form is out of date"),
    ],
)
def test_bad_and_hostile_accounts_are_refused(as_manager, site_a, desk, overrides, message):
    users, memberships, events = User.objects.count(), Membership.objects.count(), audit_count()
    response = as_manager.post(url("staff_new", site_a), new_staff_form(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    assert GOOD_PASSWORD not in html  # a password is never sent back to the browser
    assert (User.objects.count(), Membership.objects.count(), audit_count()) == (
        users,
        memberships,
        events,
    )


def test_a_manager_cannot_slip_in_a_network_wide_role(as_manager, site_a):
    # The field is not offered to managers: a forged one is ignored, not obeyed.
    response = as_manager.post(url("staff_new", site_a), new_staff_form(network_roles=["admin"]))
    assert response.status_code == 302
    sam = User.objects.get(username="sam.new")
    assert roles_of(sam, None) == set()


def test_an_administrator_creates_an_evaluator_and_a_network_manager(as_admin, site_a, site_b):
    data = new_staff_form(site_roles=["evaluator"], network_roles=["manager"])
    assert as_admin.post(url("staff_new", site_a), data).status_code == 302
    sam = User.objects.get(username="sam.new")
    assert roles_of(sam, site_a) == {"evaluator"}
    assert roles_of(sam, None) == {"manager"}
    client = login(sam)
    assert client.get(url("settings", site_b)).status_code == 200


def test_the_action_refuses_a_manager_granting_admin(site_a, manager, network):
    with pytest.raises(ActionRefused, match="ask an administrator"):
        actions.create_staff_user(
            username="sneaky",
            display_name="Sneaky",
            password=GOOD_PASSWORD,
            memberships=[(Role.ADMIN, site_a)],
            network=network,
            by=manager,
        )
    with pytest.raises(ActionRefused):
        actions.create_staff_user(
            username="sneaky",
            display_name="Sneaky",
            password=GOOD_PASSWORD,
            memberships=[(Role.DESK, None)],
            network=network,
            by=manager,
        )
    assert not User.objects.filter(username="sneaky").exists()


def test_the_action_refuses_a_weak_password(site_a, network):
    with pytest.raises(ActionRefused, match="too short"):
        actions.create_staff_user(
            username="weak",
            display_name="Weak",
            password="abc",
            memberships=[(Role.DESK, site_a)],
            network=network,
            by=None,
        )
    assert not User.objects.filter(username="weak").exists()


def test_a_site_of_another_network_cannot_be_given(site_a, other_network_site, network):
    with pytest.raises(ActionRefused, match="not part of this network"):
        actions.create_staff_user(
            username="wanderer",
            display_name="Wanderer",
            password=GOOD_PASSWORD,
            memberships=[(Role.DESK, other_network_site)],
            network=network,
            by=None,
        )


# --- Changing roles ---------------------------------------------------------------------------


def edit_form(member: User, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "display_name": member.display_name,
        "site_roles": [],
        "version": version_of(member),
    }
    data.update(overrides)
    return data


def test_a_manager_moves_someone_from_the_desk_to_the_floor(as_manager, site_a, desk):
    response = as_manager.post(
        url("staff_edit", site_a, pk=desk.pk), edit_form(desk, site_roles=["floor"])
    )
    assert response.status_code == 302
    assert roles_of(desk, site_a) == {"floor"}
    assert AuditEvent.objects.get(action="staff.role_removed").detail["role"] == "desk"
    assert AuditEvent.objects.get(action="staff.role_granted").detail["role"] == "floor"


def test_a_manager_changes_a_display_name(as_manager, site_a, desk):
    data = edit_form(desk, display_name="Dana D.", site_roles=["desk"])
    assert as_manager.post(url("staff_edit", site_a, pk=desk.pk), data).status_code == 302
    desk.refresh_from_db()
    assert desk.display_name == "Dana D."
    assert AuditEvent.objects.filter(action="staff.updated").count() == 1


def test_a_manager_trying_to_grant_admin_is_refused(as_manager, site_a, desk):
    events = audit_count()
    response = as_manager.post(
        url("staff_edit", site_a, pk=desk.pk), edit_form(desk, site_roles=["desk", "admin"])
    )
    assert response.status_code == 200
    assert "You cannot give the role “admin” here" in response.content.decode()
    assert roles_of(desk, site_a) == {"desk"}
    assert audit_count() == events


def test_a_manager_trying_to_grant_network_roles_is_ignored(as_manager, site_a, desk):
    data = edit_form(desk, site_roles=["desk"], network_roles=["admin"])
    assert as_manager.post(url("staff_edit", site_a, pk=desk.pk), data).status_code == 302
    assert roles_of(desk, None) == set()


def test_a_manager_cannot_remove_their_own_manager_role(as_manager, site_a, manager):
    response = as_manager.post(
        url("staff_edit", site_a, pk=manager.pk),
        edit_form(manager, display_name="Mo the boss", site_roles=["desk"]),
    )
    assert response.status_code == 200
    assert "You cannot remove your own manager role here" in response.content.decode()
    manager.refresh_from_db()
    assert roles_of(manager, site_a) == {"manager"}
    assert manager.display_name == "mo.manager"  # the whole page was undone, not half of it


def test_a_manager_may_remove_another_managers_role(as_manager, site_a):
    other = make_user("max.manager", (Role.MANAGER, site_a))
    response = as_manager.post(
        url("staff_edit", site_a, pk=other.pk), edit_form(other, site_roles=["floor"])
    )
    assert response.status_code == 302
    assert roles_of(other, site_a) == {"floor"}


def test_roles_a_manager_may_not_manage_are_kept(as_manager, site_a, evaluator):
    response = as_manager.post(
        url("staff_edit", site_a, pk=evaluator.pk), edit_form(evaluator, site_roles=["desk"])
    )
    assert response.status_code == 302
    assert roles_of(evaluator, site_a) == {"evaluator", "desk"}


def test_an_administrator_grants_and_removes_network_roles(as_admin, site_a, desk):
    data = edit_form(desk, site_roles=["desk"], network_roles=["evaluator"])
    assert as_admin.post(url("staff_edit", site_a, pk=desk.pk), data).status_code == 302
    assert roles_of(desk, None) == {"evaluator"}
    data = edit_form(desk, site_roles=["desk"], network_roles=[])
    assert as_admin.post(url("staff_edit", site_a, pk=desk.pk), data).status_code == 302
    assert roles_of(desk, None) == set()


def test_an_administrator_cannot_remove_their_own_network_admin_role(as_admin, site_a, admin):
    data = edit_form(admin, network_roles=[])
    response = as_admin.post(url("staff_edit", site_a, pk=admin.pk), data)
    assert response.status_code == 200
    assert "You cannot remove your own administrator role" in response.content.decode()
    assert roles_of(admin, None) == {"admin"}


def test_someone_of_another_site_cannot_be_reached(as_manager, site_a, other_site_worker):
    for name in ("staff_edit", "staff_deactivate", "staff_reactivate", "staff_password"):
        target = url(name, site_a, pk=other_site_worker.pk)
        assert as_manager.post(target, {"site_roles": ["desk"]}).status_code == 404
    other_site_worker.refresh_from_db()
    assert other_site_worker.is_active
    assert not other_site_worker.memberships.filter(site=site_a).exists()


# --- One person, several sites ----------------------------------------------------------------


def test_a_manager_adds_someone_from_another_site(as_manager, site_a, site_b, other_site_worker):
    data = {"username": "OSCAR.OTHER", "site_roles": ["floor"]}
    response = as_manager.post(url("staff_add_existing", site_a), data)
    assert response.status_code == 302
    assert roles_of(other_site_worker, site_a) == {"floor"}
    assert roles_of(other_site_worker, site_b) == {"desk"}
    assert login(other_site_worker).get(reverse("home")).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "nobody", "site_roles": ["desk"]}, "No one in this network"),
        ({"username": "dana.desk", "site_roles": ["desk"]}, "already works here"),
        ({"username": "oscar.other", "site_roles": []}, "Give at least one role"),
        ({"username": "oscar.other", "site_roles": ["admin"]}, "You cannot give the role"),
    ],
)
def test_adding_an_existing_account_refuses_bad_input(
    as_manager, site_a, desk, other_site_worker, data, message
):
    events = audit_count()
    response = as_manager.post(url("staff_add_existing", site_a), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not other_site_worker.memberships.filter(site=site_a).exists()
    assert audit_count() == events


def test_someone_of_another_network_cannot_be_added(as_manager, site_a, other_network_site):
    make_user("olga.elsewhere", (Role.DESK, other_network_site))
    data = {"username": "olga.elsewhere", "site_roles": ["desk"]}
    response = as_manager.post(url("staff_add_existing", site_a), data)
    assert "No one in this network" in response.content.decode()
    assert not Membership.objects.filter(site=site_a, user__username="olga.elsewhere").exists()


# --- Deactivating, passwords ------------------------------------------------------------------


def test_a_manager_deactivates_and_reactivates_an_account(as_manager, as_desk, site_a, desk):
    response = as_manager.post(url("staff_deactivate", site_a, pk=desk.pk))
    assert response.status_code == 302
    desk.refresh_from_db()
    assert desk.is_active is False
    assert User.objects.filter(pk=desk.pk).exists()  # never deleted: audit needs the name
    assert AuditEvent.objects.filter(action="staff.deactivated", object_id=str(desk.pk)).exists()
    # Their open session ends at their next request.
    response = as_desk.get(reverse("floor:queue", kwargs={"site": site_a.slug}))
    assert response.status_code == 302
    assert "/login/" in response["Location"]

    as_manager.post(url("staff_reactivate", site_a, pk=desk.pk))
    desk.refresh_from_db()
    assert desk.is_active is True


def test_a_manager_cannot_deactivate_themself(as_manager, site_a, manager):
    response = as_manager.post(url("staff_deactivate", site_a, pk=manager.pk), follow=True)
    assert "You cannot deactivate your own account" in response.content.decode()
    manager.refresh_from_db()
    assert manager.is_active


def test_someone_who_also_works_elsewhere_needs_an_administrator(as_manager, site_a, site_b, desk):
    Membership.objects.create(user=desk, network=site_b.network, site=site_b, role=Role.DESK)
    response = as_manager.post(url("staff_deactivate", site_a, pk=desk.pk), follow=True)
    assert "ask an administrator" in response.content.decode()
    desk.refresh_from_db()
    assert desk.is_active


def test_an_administrator_deactivates_someone_working_at_two_sites(as_admin, site_a, site_b, desk):
    Membership.objects.create(user=desk, network=site_b.network, site=site_b, role=Role.DESK)
    assert as_admin.post(url("staff_deactivate", site_a, pk=desk.pk)).status_code == 302
    desk.refresh_from_db()
    assert desk.is_active is False


def test_a_manager_cannot_deactivate_an_administrator(as_manager, site_a, admin):
    as_manager.post(url("staff_deactivate", site_a, pk=admin.pk))
    admin.refresh_from_db()
    assert admin.is_active


def test_a_manager_sets_a_new_password(as_manager, site_a, desk):
    data = {"new_password": GOOD_PASSWORD, "new_password_again": GOOD_PASSWORD}
    response = as_manager.post(url("staff_password", site_a, pk=desk.pk), data)
    assert response.status_code == 302
    assert authenticate(username="dana.desk", password=GOOD_PASSWORD) is not None
    assert AuditEvent.objects.filter(action="staff.password_set").exists()


def test_a_weak_new_password_is_refused(as_manager, site_a, desk):
    data = {"new_password": "dana.desk123", "new_password_again": "dana.desk123"}
    response = as_manager.post(url("staff_password", site_a, pk=desk.pk), data)
    assert response.status_code == 200
    assert "too similar" in response.content.decode()
    assert authenticate(username="dana.desk", password="dana.desk123") is None


def test_the_database_refuses_the_same_role_twice(site_a, desk):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=desk, network=site_a.network, site=site_a, role=Role.DESK)


def test_the_staff_list_does_not_query_once_per_person(as_manager, site_a, site_b):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert as_manager.get(url("staff", site_a)).status_code == 200
        return len(ctx.captured_queries)

    make_user("one.more", (Role.DESK, site_a), (Role.FLOOR, site_b))
    queries()  # the first request of a session also writes the session
    few = queries()
    for i in range(10):
        make_user(f"extra.{i}", (Role.FLOOR, site_a), (Role.DESK, site_b))
    assert queries() == few
