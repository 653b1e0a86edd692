"""The access audit (checklist item 10; ASVS 7.1, 7.2, 8.3.5): every page that shows a client
writes one audit event naming who, in which role, what (the client's code), when (UTC) and the
request; an authorisation failure is recorded too, with the ids that were tried (for the API:
tests/api/test_access.py); and no log line ever holds what a client told the desk, a note, a
client's code or a password."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent
from saferoom.core.security import NoExceptionMessageFormatter
from saferoom.incidents import actions as incident_actions
from tests.access_table import ACCESS_TABLE, build_samples
from tests.clients.conftest import NDTMS, find_url, register_via_http
from tests.conftest import login
from tests.core.free_text_actions import FREE_TEXT_ACTIONS, Scene

pytestmark = pytest.mark.django_db

# Pages about one client or one of their records: the access table's rows whose URL names one.
CLIENT_LEVEL = {"client", "banned_client", "visit", "session", "incident", "referral"}
CLIENT_PAGES = sorted(
    name
    for name, row in ACCESS_TABLE.items()
    if CLIENT_LEVEL & set(row.kwargs.values())
    and not row.post_only
    and not name.startswith("api:")
    and 200 in (row.statuses["desk"], row.statuses["nurse"], row.statuses["manager"])
)


@pytest.fixture
def samples(network, site_a, site_b, desk):
    return build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)


def url_of(name: str, samples) -> str:
    row = ACCESS_TABLE[name]
    return reverse(name, kwargs={k: samples[v] for k, v in row.kwargs.items()})


# --- reads of client-level data ------------------------------------------------------------


def test_there_are_client_pages_to_check():
    assert {"clients:detail", "clients:intake", "floor:checkin"} <= set(CLIENT_PAGES)


@pytest.mark.parametrize("name", CLIENT_PAGES)
def test_each_page_showing_a_client_writes_one_view_event(name, samples, desk, nurse, manager):
    row = ACCESS_TABLE[name]
    persona, user = next(
        (p, u)
        for p, u in (("desk", desk), ("nurse", nurse), ("manager", manager))
        if row.statuses[p] == 200
    )
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = login(user).get(url_of(name, samples))
    assert response.status_code == 200
    events = list(AuditEvent.objects.filter(id__gt=before))
    page = response.content.decode()
    shown = [code for code in Client.objects.values_list("display_code", flat=True) if code in page]
    if not shown:
        # The sample behind it is anonymous (an incident nobody was linked to): nothing
        # identifiable was shown, so nothing needs recording.
        assert events == [], f"{name}: {[e.action for e in events]}"
        return
    assert len(events) == 1, f"{name} shows {shown}: {[e.action for e in events]}"
    event = events[0]
    assert event.action.endswith(".viewed"), event.action
    assert event.actor_id == user.pk
    assert event.actor_label == user.username
    assert event.role == {"nurse": "floor"}.get(persona, persona)
    assert event.object_label, "what was looked at"
    assert event.request_id == response["X-Request-Id"]
    assert event.at.utcoffset() == dt.timedelta(0)
    if event.action == "client.viewed":
        assert event.object_label in shown
    # Which page and ids, never what was on it.
    assert all(isinstance(value, int) or key == "page" for key, value in event.detail.items()), (
        event.detail
    )


# --- refusals -------------------------------------------------------------------------------


def test_a_forbidden_page_is_recorded_with_who_their_role_and_the_page(as_evaluator, site_a):
    response = as_evaluator.get(reverse("clients:find", kwargs={"site": site_a.slug}))
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="access.refused")
    assert (event.actor_label, event.role) == ("eve.evaluator", "evaluator")
    assert event.request_id == response["X-Request-Id"]
    assert event.detail == {
        "status": 403,
        "method": "GET",
        "page": "clients:find",
        "asked_for": {"site": "riverside"},
        "roles": ["evaluator"],
    }


def test_another_sites_record_is_recorded_as_refused_with_the_id_tried(
    as_other_site_worker, samples
):
    response = as_other_site_worker.get(url_of("clients:detail", samples))
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access.refused")
    assert event.actor_label == "oscar.other"
    assert event.detail["status"] == 404
    assert event.detail["asked_for"] == {"site": "riverside", "pk": samples["client"]}
    assert not AuditEvent.objects.filter(action="client.viewed").exists()


def test_a_typed_address_is_not_copied_into_the_log(as_desk):
    response = as_desk.get("/sites/riverside/QZ-1987-03-14/?who=QZ")
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access.refused")
    assert "QZ" not in str(event.detail)
    assert "1987" not in str(event.detail)


def test_an_anonymous_visitor_is_sent_to_log_in_and_nothing_is_recorded(db, samples):
    response = HttpClient().get(url_of("clients:detail", samples))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="access.refused").exists()


# --- nothing personal in the logs ---------------------------------------------------------

SECRETS = [
    "1987-03-14",
    "14/03/1987",
    "hunter2-oops-typed",
    "Collapsed behind the bins on Mill Lane",
]


def test_no_log_line_holds_a_clients_details_their_code_a_note_or_a_password(
    caplog, network, site_a, desk, nurse, manager, admin
):
    """A busy evening at full log detail: a failed login, a registration and a search by
    details, a check-in, an emergency with a note, a crash on a client's page, and every
    action that takes typed text (tests/core/free_text_actions.py) given the note. Every line
    logged, formatted as production formats it, holds none of it."""
    caplog.set_level(logging.DEBUG)
    HttpClient().post(reverse("login"), {"username": "dana.desk", "password": SECRETS[2]})
    as_desk = login(desk)
    client = register_via_http(as_desk, site_a, NDTMS)
    as_desk.post(
        find_url(site_a),
        {"search": "attributes", **{f"find-{k}": v for k, v in NDTMS.items()}},
    )
    as_desk.get(reverse("floor:checkin", kwargs={"site": site_a.slug, "client": client.pk}))
    as_desk.get(f"/sites/{site_a.slug}/clients/{client.pk}/no-such-page/")
    incident = incident_actions.start_incident(
        site=site_a, by=nurse, idempotency_key=uuid.uuid4(), location="lounge"
    )
    as_nurse = login(nurse)
    response = as_nurse.post(
        reverse("incidents:note", kwargs={"site": site_a.slug, "pk": incident.pk}),
        {"kind": "note", "text": SECRETS[3], "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code in (200, 302)
    as_nurse.get(reverse("incidents:detail", kwargs={"site": site_a.slug, "pk": incident.pk}))
    scene = Scene(
        network=network, site=site_a, desk=desk, nurse=nurse, manager=manager, admin=admin
    )
    for drive in FREE_TEXT_ACTIONS.values():
        drive(scene, SECRETS[3])
    logging.getLogger("saferoom.test").exception(
        "A crash", exc_info=RuntimeError(f"{client.display_code} {SECRETS[3]}")
    )

    formatter = NoExceptionMessageFormatter("%(levelname)s %(name)s: %(message)s")
    assert caplog.records, "nothing was logged: the test would see no leak"
    text = "\n".join(formatter.format(record) for record in caplog.records)
    for secret in [*SECRETS, client.display_code, "QZ|"]:
        assert secret not in text, secret
