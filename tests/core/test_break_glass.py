"""Break-glass (checklist item 13): a worker in an emergency may see one client's visits and
incidents at every site of the network, with a reason, for half an hour; the site's managers
are told at once, every page seen under it is audited with the grant, and it expires."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core import breakglass
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.models_security import BreakGlassGrant, SecurityAlert
from saferoom.floor.models import Visit
from saferoom.incidents.models import Incident
from tests.clients.conftest import detail_url, find_by_code
from tests.conftest import make_user

NOW = dt.datetime(2026, 6, 1, 20, 0, tzinfo=dt.UTC)
REASON = "Collapsed in booth 2, need to know about earlier overdoses"


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def eastgate_client(network, site_b, travel):
    """A client of site B (Eastgate) with a visit and an overdose there, never seen at A."""
    staff = make_user("erin.eastgate")
    client = Client.objects.create(
        network=network,
        display_code=new_display_code(),
        linkage_hash="e" * 64,
        scheme=network.client_code_scheme,
        gender="not_stated",
        year_of_birth=1984,
        registered_at=NOW - dt.timedelta(days=40),
        registered_site=site_b,
        registered_by=staff,
    )
    Visit.objects.create(
        site=site_b,
        client=client,
        arrived_at=NOW - dt.timedelta(days=3),
        state=Visit.State.LEFT,
        created_by=staff,
        ended_at=NOW - dt.timedelta(days=3) + dt.timedelta(hours=1),
        ended_by=staff,
        end_reason="checked_out",
    )
    Incident.objects.create(
        site=site_b,
        kind="opioid",
        onset_at=NOW - dt.timedelta(days=3),
        started_at=NOW - dt.timedelta(days=3),
        started_by=staff,
        client=client,
        outcome="hospital",
        outcome_at=NOW - dt.timedelta(days=3) + dt.timedelta(minutes=20),
        outcome_by=staff,
        hospital="Royal Infirmary",
    )
    return client


def _break_glass_url(site: Any, client: Client) -> str:
    return reverse("clients:break_glass", kwargs={"site": site.slug, "pk": client.pk})


def _open(
    http: HttpClient, site: Any, client: Client, reason: str = REASON, key: Any = None
) -> Any:
    return http.post(
        _break_glass_url(site, client),
        {"reason": reason, "idempotency_key": str(key or uuid.uuid4())},
    )


def test_the_record_shows_only_this_sites_history_until_the_glass_is_broken(
    as_nurse, nurse, site_a, eastgate_client, travel
):
    find_by_code(as_nurse, site_a, eastgate_client.display_code)  # found at A's desk
    before = as_nurse.get(detail_url(site_a, eastgate_client)).content.decode()
    assert "No visits at your sites yet" in before
    assert "Eastgate" not in before.split('id="visits-heading"')[1]
    assert "Emergency: history at every site" in before

    response = _open(as_nurse, site_a, eastgate_client)
    assert response.status_code == 302
    grant = BreakGlassGrant.objects.get()
    assert (grant.user, grant.client_id, grant.site_id, grant.reason) == (
        nurse,
        eastgate_client.pk,
        site_a.pk,
        REASON,
    )
    assert grant.expires_at == NOW + dt.timedelta(minutes=30)

    after = as_nurse.get(detail_url(site_a, eastgate_client)).content.decode()
    assert "Emergency access until" in after
    history = after.split('id="visits-heading"')[1]
    assert "Eastgate" in history
    assert "Opioid overdose" in history
    assert "Transferred to hospital" in history
    viewed = AuditEvent.objects.filter(action="client.viewed", actor_id=nurse.pk).first()
    assert viewed is not None
    assert viewed.detail == {"page": "record", "break_glass": grant.pk}


def test_breaking_the_glass_tells_the_sites_managers_and_audits_without_the_reason(
    as_nurse, as_manager, nurse, site_a, eastgate_client, travel
):
    find_by_code(as_nurse, site_a, eastgate_client.display_code)
    _open(as_nurse, site_a, eastgate_client)
    grant = BreakGlassGrant.objects.get()

    alert = SecurityAlert.objects.get()
    assert (alert.kind, alert.user, alert.site_id, alert.grant) == (
        "break_glass",
        nurse,
        site_a.pk,
        grant,
    )
    opened = AuditEvent.objects.get(action="break_glass.opened")
    assert opened.object_label == eastgate_client.display_code
    assert opened.detail == {"grant": grant.pk, "minutes": 30}
    assert "booth" not in str(opened.detail)

    page = as_manager.get(reverse("sites:security_alerts", kwargs={"site": site_a.slug}))
    html = page.content.decode()
    assert "Break-glass access: nina.nurse" in html
    assert REASON in html
    assert eastgate_client.display_code in html
    assert "still open" in html


def test_the_grant_expires_after_thirty_minutes(as_nurse, nurse, site_a, eastgate_client, travel):
    find_by_code(as_nurse, site_a, eastgate_client.display_code)
    _open(as_nurse, site_a, eastgate_client)
    # The nurse keeps working (the session's idle timeout is 15 minutes).
    for minutes in (10, 10):
        travel.shift(dt.timedelta(minutes=minutes))
        assert "Eastgate" in as_nurse.get(detail_url(site_a, eastgate_client)).content.decode()
    travel.shift(dt.timedelta(minutes=9, seconds=59))
    assert "Eastgate" in as_nurse.get(detail_url(site_a, eastgate_client)).content.decode()
    travel.shift(dt.timedelta(seconds=1))
    assert breakglass.active_grant(nurse, eastgate_client.pk) is None
    html = as_nurse.get(detail_url(site_a, eastgate_client)).content.decode()
    assert "Emergency access until" not in html
    assert "Eastgate" not in html.split('id="visits-heading"')[1]
    last = AuditEvent.objects.filter(action="client.viewed").first()
    assert last is not None
    assert "break_glass" not in last.detail


def test_access_checks_honour_a_grant_and_nothing_else(
    as_nurse, nurse, site_a, eastgate_client, travel
):
    # Never found at A and never seen there: the record does not exist for this nurse.
    assert as_nurse.get(detail_url(site_a, eastgate_client)).status_code == 404
    breakglass.open_grant(
        client=eastgate_client, site=site_a, reason=REASON, by=nurse, idempotency_key=uuid.uuid4()
    )
    assert as_nurse.get(detail_url(site_a, eastgate_client)).status_code == 200
    for minutes in (10, 10):
        travel.shift(dt.timedelta(minutes=minutes))
        assert as_nurse.get(detail_url(site_a, eastgate_client)).status_code == 200
    travel.shift(dt.timedelta(minutes=11))
    assert as_nurse.get(detail_url(site_a, eastgate_client)).status_code == 404


def test_a_grant_is_for_one_person(as_desk, nurse, site_a, eastgate_client, travel):
    breakglass.open_grant(
        client=eastgate_client, site=site_a, reason=REASON, by=nurse, idempotency_key=uuid.uuid4()
    )
    assert as_desk.get(detail_url(site_a, eastgate_client)).status_code == 404


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why you need it"),
        ("   ", "Say why you need it"),
        ("urgent", "Say a little more"),
        ("x" * 501, "That is too long"),
    ],
)
def test_no_reason_no_glass(as_nurse, site_a, eastgate_client, travel, reason, message):
    find_by_code(as_nurse, site_a, eastgate_client.display_code)
    response = _open(as_nurse, site_a, eastgate_client, reason=reason)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BreakGlassGrant.objects.exists()
    assert not SecurityAlert.objects.exists()


def test_the_same_submission_twice_opens_one_grant(as_nurse, site_a, eastgate_client, travel):
    find_by_code(as_nurse, site_a, eastgate_client.display_code)
    key = uuid.uuid4()
    _open(as_nurse, site_a, eastgate_client, key=key)
    _open(as_nurse, site_a, eastgate_client, key=key)
    assert BreakGlassGrant.objects.count() == 1
    assert SecurityAlert.objects.count() == 1


def test_the_action_refuses_a_client_of_another_network(nurse, site_a, other_network_site, travel):
    stranger = Client.objects.create(
        network=other_network_site.network,
        display_code=new_display_code(),
        linkage_hash="f" * 64,
        scheme=other_network_site.network.client_code_scheme,
        gender="not_stated",
        registered_at=NOW,
        registered_site=other_network_site,
        registered_by=nurse,
    )
    with pytest.raises(ActionRefused):
        breakglass.open_grant(
            client=stranger, site=site_a, reason=REASON, by=nurse, idempotency_key=uuid.uuid4()
        )
    assert not BreakGlassGrant.objects.exists()


def test_an_evaluator_cannot_break_the_glass(as_evaluator, site_a, eastgate_client, travel):
    assert as_evaluator.get(_break_glass_url(site_a, eastgate_client)).status_code == 403
    assert _open(as_evaluator, site_a, eastgate_client).status_code == 403
    assert not BreakGlassGrant.objects.exists()
