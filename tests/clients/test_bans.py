"""Bans: set by managers with a reason, at one site or (for network managers) every site;
shown to the desk and floor; they lapse by themselves at expiry; lifting needs a reason."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.urls import reverse

from saferoom.clients import actions
from saferoom.clients.models import Ban, Client
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, User
from saferoom.sites.models import Site
from tests.clients.conftest import detail_url, find_by_code, register_via_http
from tests.conftest import login

LONDON = dt.timezone(dt.timedelta(hours=1))  # British Summer Time, for readable expectations
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def client_a(as_desk, site_a) -> Client:
    return register_via_http(as_desk, site_a)


def ban_new_url(site: Site, client: Client) -> str:
    return reverse("clients:ban_new", kwargs={"site": site.slug, "pk": client.pk})


def ban_lift_url(site: Site, client: Client, ban: Ban) -> str:
    return reverse("clients:ban_lift", kwargs={"site": site.slug, "pk": client.pk, "ban": ban.pk})


def ban_form(**overrides: str) -> dict[str, str]:
    return {
        "scope": "site",
        "reason": "violence",
        "note": "Threatened staff at the desk",
        "starts_on": "",
        "last_day": "",
        "idempotency_key": str(uuid.uuid4()),
        **overrides,
    }


def make_ban(
    client: Client,
    site: Site | None,
    by: User,
    *,
    starts_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
) -> Ban:
    return actions.set_ban(
        client=client,
        site=site,
        reason="dealing",
        note="",
        starts_at=starts_at or dt.datetime.now(dt.UTC),
        expires_at=expires_at,
        by=by,
        idempotency_key=uuid.uuid4(),
    )


def test_a_manager_sets_a_ban_until_lifted_and_it_shows_on_the_record(
    as_manager, manager, site_a, client_a
):
    response = as_manager.post(ban_new_url(site_a, client_a), ban_form())
    assert response.status_code == 302
    assert response["Location"] == detail_url(site_a, client_a)
    ban = Ban.objects.get()
    assert (ban.client, ban.site, ban.reason, ban.set_by) == (client_a, site_a, "violence", manager)
    assert ban.expires_at is None
    assert ban.note == "Threatened staff at the desk"
    assert AuditEvent.objects.filter(action="ban.set", object_id=str(ban.pk)).exists()
    html = as_manager.get(detail_url(site_a, client_a)).content.decode()
    assert "Banned here now" in html
    assert "In force" in html
    assert "Until lifted" in html


def test_the_ban_form_says_not_to_write_names(as_manager, site_a, client_a):
    html = as_manager.get(ban_new_url(site_a, client_a)).content.decode()
    assert "Note (no names)" in html
    assert "Never write names" in html


def test_a_ban_with_a_last_day_ends_at_midnight_after_it_at_the_site(as_manager, site_a, client_a):
    with time_machine.travel(NOW, tick=False):
        as_manager.post(ban_new_url(site_a, client_a), ban_form(last_day="2026-06-10"))
    ban = Ban.objects.get()
    assert ban.starts_at == NOW
    assert ban.expires_at == dt.datetime(2026, 6, 11, 0, 0, tzinfo=LONDON)


def test_a_ban_is_in_force_until_it_expires_then_lapses_by_itself(
    as_manager, as_desk, desk, site_a, client_a
):
    with time_machine.travel(NOW, tick=False):
        as_manager.post(ban_new_url(site_a, client_a), ban_form(last_day="2026-06-10"))
        assert [b.reason for b in actions.active_bans(client=client_a, site=site_a)] == ["violence"]
        html = find_by_code(as_desk, site_a, client_a.display_code).content.decode()
        assert 'class="alert-box"' in html
    with time_machine.travel(dt.datetime(2026, 6, 10, 22, 59, tzinfo=dt.UTC), tick=False):
        assert actions.active_bans(client=client_a, site=site_a) != []
    with time_machine.travel(dt.datetime(2026, 6, 10, 23, 0, tzinfo=dt.UTC), tick=False):
        assert actions.active_bans(client=client_a, site=site_a) == []
        # Nine days on, the desk has logged in again (a session lasts one shift).
        next_shift = login(desk)
        html = find_by_code(next_shift, site_a, client_a.display_code).content.decode()
        assert "Client found" in html
        assert 'class="alert-box"' not in html
        detail = next_shift.get(detail_url(site_a, client_a)).content.decode()
        assert "Ended" in detail
        assert "Violence or threats" in detail


def test_a_ban_starting_later_is_not_in_force_until_its_first_day(as_manager, site_a, client_a):
    with time_machine.travel(NOW, tick=False):
        response = as_manager.post(ban_new_url(site_a, client_a), ban_form(starts_on="2026-06-03"))
        assert response.status_code == 302
        assert actions.active_bans(client=client_a, site=site_a) == []
        assert "Starts later" in as_manager.get(detail_url(site_a, client_a)).content.decode()
    with time_machine.travel(dt.datetime(2026, 6, 2, 23, 0, tzinfo=dt.UTC), tick=False):
        assert len(actions.active_bans(client=client_a, site=site_a)) == 1


def test_a_site_ban_does_not_apply_at_another_site(manager, site_a, site_b, client_a):
    make_ban(client_a, site_a, manager)
    assert len(actions.active_bans(client=client_a, site=site_a)) == 1
    assert actions.active_bans(client=client_a, site=site_b) == []


def test_a_network_manager_bans_at_every_site(as_admin, site_a, site_b, client_a):
    html = as_admin.get(ban_new_url(site_a, client_a)).content.decode()
    assert "At every site of Test network" in html
    response = as_admin.post(ban_new_url(site_a, client_a), ban_form(scope="network"))
    assert response.status_code == 302
    ban = Ban.objects.get()
    assert ban.site is None
    assert len(actions.active_bans(client=client_a, site=site_b)) == 1


def test_a_site_manager_cannot_ban_across_the_network(as_manager, manager, site_a, client_a):
    html = as_manager.get(ban_new_url(site_a, client_a)).content.decode()
    assert "At every site" not in html
    response = as_manager.post(ban_new_url(site_a, client_a), ban_form(scope="network"))
    assert response.status_code == 200
    assert "Choose one of the places offered" in response.content.decode()
    with pytest.raises(ActionRefused, match="network-wide"):
        make_ban(client_a, None, manager)
    assert not Ban.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("as_desk", 403),
        ("as_nurse", 403),
        ("as_evaluator", 403),
        ("as_manager", 200),
        ("as_admin", 200),
    ],
)
def test_only_managers_and_admins_open_the_ban_form(request, site_a, client_a, persona, status):
    http = request.getfixturevalue(persona)
    assert http.get(ban_new_url(site_a, client_a)).status_code == status


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse", "as_evaluator"])
def test_desk_floor_and_evaluators_cannot_set_a_ban(request, site_a, client_a, persona):
    http = request.getfixturevalue(persona)
    assert http.post(ban_new_url(site_a, client_a), ban_form()).status_code == 403
    assert not Ban.objects.exists()


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse"])
def test_desk_and_floor_see_bans_but_no_ban_buttons(request, site_a, client_a, manager, persona):
    ban = make_ban(client_a, site_a, manager)
    http = request.getfixturevalue(persona)
    html = http.get(detail_url(site_a, client_a)).content.decode()
    assert "Dealing or sharing on the premises" in html
    assert "Set a ban" not in html
    assert ban_lift_url(site_a, client_a, ban) not in html


@pytest.mark.parametrize(
    ("persona", "status"),
    [("as_desk", 403), ("as_nurse", 403), ("as_evaluator", 403)],
)
def test_desk_floor_and_evaluators_cannot_lift_a_ban(
    request, site_a, client_a, manager, persona, status
):
    ban = make_ban(client_a, site_a, manager)
    http = request.getfixturevalue(persona)
    assert http.post(ban_lift_url(site_a, client_a, ban), {"reason": "ok"}).status_code == status
    ban.refresh_from_db()
    assert ban.lifted_at is None


def test_a_manager_lifts_a_ban_with_a_reason_and_it_stops_applying(
    as_manager, manager, site_a, client_a
):
    ban = make_ban(client_a, site_a, manager)
    response = as_manager.post(
        ban_lift_url(site_a, client_a, ban), {"reason": "Apologised, agreed rules"}
    )
    assert response.status_code == 302
    ban.refresh_from_db()
    assert ban.lifted_by == manager
    assert ban.lift_reason == "Apologised, agreed rules"
    assert actions.active_bans(client=client_a, site=site_a) == []
    assert AuditEvent.objects.filter(action="ban.lifted", object_id=str(ban.pk)).exists()
    html = as_manager.get(detail_url(site_a, client_a)).content.decode()
    assert "Apologised, agreed rules" in html
    assert "Ended" in html


def test_lifting_needs_a_reason(as_manager, manager, site_a, client_a):
    ban = make_ban(client_a, site_a, manager)
    for reason in ("", "   ", "x" * 201):
        response = as_manager.post(ban_lift_url(site_a, client_a, ban), {"reason": reason})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Say why the ban is being lifted" in html or "at most 200 characters" in html
    ban.refresh_from_db()
    assert ban.lifted_at is None


def test_a_ban_cannot_be_lifted_twice_or_after_it_ended(manager, site_a, client_a):
    ban = make_ban(client_a, site_a, manager)
    actions.lift_ban(ban=ban, reason="first", by=manager)
    with pytest.raises(ActionRefused, match="already been lifted"):
        actions.lift_ban(ban=ban, reason="second", by=manager)
    with time_machine.travel(NOW, tick=False):
        short = make_ban(client_a, site_a, manager, expires_at=NOW + dt.timedelta(days=1))
    with (
        time_machine.travel(NOW + dt.timedelta(days=2), tick=False),
        pytest.raises(ActionRefused, match="already ended"),
    ):
        actions.lift_ban(ban=short, reason="late", by=manager)


def test_a_manager_of_another_site_cannot_lift_this_sites_ban(
    as_site_b_manager, site_b_manager, manager, site_a, site_b, client_a
):
    ban = make_ban(client_a, site_a, manager)
    find_by_code(as_site_b_manager, site_b, client_a.display_code)  # may now open the client
    response = as_site_b_manager.post(ban_lift_url(site_b, client_a, ban), {"reason": "mine now"})
    assert response.status_code == 200
    assert "Only a manager of the site the ban covers can lift it" in response.content.decode()
    ban.refresh_from_db()
    assert ban.lifted_at is None


def test_the_same_ban_sent_five_times_makes_one_ban(as_manager, site_a, client_a):
    data = ban_form()
    for _ in range(5):
        assert as_manager.post(ban_new_url(site_a, client_a), data).status_code == 302
    assert Ban.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": "forged"}, "Choose one of the reasons offered"),
        ({"reason": ""}, "Choose the reason for the ban"),
        ({"scope": "everywhere"}, "Choose one of the places offered"),
        ({"note": "x" * 201}, "at most 200 characters"),
        ({"last_day": "2031-02-30"}, "not a real date"),
        ({"last_day": "<script>"}, "not a real date"),
        ({"starts_on": "2020-01-01"}, "cannot start in the past"),
        ({"starts_on": "2026-06-05", "last_day": "2026-06-04"}, "before the first day"),
        ({"last_day": "2060-01-01"}, "at most 10 years"),
        ({"idempotency_key": "nope"}, "This form is out of date"),
    ],
)
def test_bad_ban_input_gets_a_clear_message_and_writes_nothing(
    as_manager, site_a, client_a, overrides, message
):
    with time_machine.travel(NOW, tick=False):
        response = as_manager.post(ban_new_url(site_a, client_a), ban_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Ban.objects.exists()


def test_lifting_another_clients_ban_through_this_client_is_not_found(
    as_manager, manager, as_desk, site_a, client_a
):
    other = register_via_http(
        as_desk,
        site_a,
        {"initials": "AB", "date_of_birth": "1990-01-01", "sex": "male", "gender": "male"},
    )
    ban = make_ban(other, site_a, manager)
    url = reverse(
        "clients:ban_lift", kwargs={"site": site_a.slug, "pk": client_a.pk, "ban": ban.pk}
    )
    assert as_manager.post(url, {"reason": "x"}).status_code == 404
    ban.refresh_from_db()
    assert ban.lifted_at is None


def test_set_ban_refuses_a_site_of_another_network(manager, client_a, other_network_site):
    with pytest.raises(ActionRefused, match="not in this client's network"):
        make_ban(client_a, other_network_site, manager)


def test_a_site_manager_is_not_offered_to_lift_a_network_wide_ban(
    as_manager, as_admin, admin, site_a, client_a
):
    ban = make_ban(client_a, None, admin)
    lift = ban_lift_url(site_a, client_a, ban)
    assert lift not in as_manager.get(detail_url(site_a, client_a)).content.decode()
    assert lift in as_admin.get(detail_url(site_a, client_a)).content.decode()
    response = as_manager.post(lift, {"reason": "I run this site"})
    assert "Only a manager of the site the ban covers" in response.content.decode()
    ban.refresh_from_db()
    assert ban.lifted_at is None
