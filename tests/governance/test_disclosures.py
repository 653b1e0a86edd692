"""A client's identifiable record leaves the service only through a disclosure request with a
legal basis, decided by a second person, released once for one client with the redisclosure
notice, and written in the accounting of disclosures. Every step is audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.governance import actions
from saferoom.governance.export import REDISCLOSURE_NOTICE
from saferoom.governance.models import Disclosure, DisclosureRelease, LegalBasis
from tests.access_table import ACCESS_TABLE
from tests.conftest import login
from tests.governance.conftest import make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_x(site_a, desk):
    return make_client(site_a, desk, name="Xanthe Example")


@pytest.fixture
def client_y(site_a, desk):
    return make_client(site_a, desk, name="Yorick Example", year=1990)


def new_url(site) -> str:
    return reverse("governance:disclosure_new", kwargs={"site": site.slug})


def url(name: str, d: Disclosure) -> str:
    return reverse(f"governance:{name}", kwargs={"site": d.site.slug, "pk": d.pk})


def form(client: Any, **changes: Any) -> dict[str, Any]:
    return {
        "code": client.display_code,
        "recipient": "Crown Court at Riverside",
        "legal_basis": LegalBasis.COURT_ORDER,
        "reference": "T2026-0042",
        "justification": "Production order under PACE Schedule 1, served 1 May.",
        "include_identity": "on",
        "idempotency_key": str(uuid.uuid4()),
        **changes,
    }


def request(site, client, by, **changes) -> Disclosure:
    data = form(client, **changes)
    return actions.request_disclosure(
        site=site,
        client=client,
        recipient=data["recipient"],
        legal_basis=data["legal_basis"],
        reference=data["reference"],
        justification=data["justification"],
        include_identity=True,
        by=by,
        idempotency_key=uuid.UUID(data["idempotency_key"]),
    )


def test_a_manager_opens_a_request_through_the_page(as_manager, manager, site_a, client_x):
    response = as_manager.post(new_url(site_a), form(client_x))
    d = Disclosure.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("disclosure", d)
    assert client_x.display_code not in response["Location"]
    assert (d.client, d.requested_by, d.status) == (client_x, manager, "requested")
    assert (
        AuditEvent.objects.filter(action="disclosure.requested", object_id=str(d.pk)).count() == 1
    )


def test_the_same_request_sent_twice_makes_one(as_manager, site_a, client_x):
    data = form(client_x)
    as_manager.post(new_url(site_a), data)
    as_manager.post(new_url(site_a), data)
    assert Disclosure.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"legal_basis": ""}, "This field is required."),
        ({"legal_basis": "police_asked"}, "Select a valid choice."),
        ({"reference": ""}, "This field is required."),
        ({"justification": "   "}, "This field is required."),
        ({"code": "ZZZ-ZZZ"}, ""),
        ({"recipient": "<script>alert(1)</script>" * 20}, "at most 200"),
    ],
)
def test_a_request_without_its_basis_is_refused(as_manager, site_a, client_x, change, message):
    response = as_manager.post(new_url(site_a), form(client_x, **change))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<script>alert" not in response.content.decode()
    assert not Disclosure.objects.exists()


def test_the_action_refuses_a_basis_outside_the_fixed_list(manager, site_a, client_x):
    with pytest.raises(ActionRefused, match="legal basis"):
        request(site_a, client_x, manager, legal_basis="police_asked")
    assert not Disclosure.objects.exists()


def test_whoever_asked_cannot_approve(manager, site_a, client_x):
    d = request(site_a, client_x, manager)
    with pytest.raises(ActionRefused, match="Another manager"):
        actions.decide_disclosure(disclosure=d, approve=True, by=manager)
    d.refresh_from_db()
    assert d.status == "requested"


def test_the_database_refuses_an_approval_by_whoever_asked(manager, site_a, client_x):
    d = request(site_a, client_x, manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        Disclosure.objects.filter(pk=d.pk).update(
            status="approved", decided_at=timezone.now(), decided_by=manager
        )


def test_nothing_is_released_before_approval(manager, second_manager, site_a, client_x):
    d = request(site_a, client_x, manager)
    as_second = login(second_manager)
    response = as_second.post(url("disclosure_release", d))
    assert response.status_code == 302
    assert not DisclosureRelease.objects.exists()
    actions.decide_disclosure(disclosure=d, approve=False, note="No order seen", by=second_manager)
    as_second.post(url("disclosure_release", d))
    assert not DisclosureRelease.objects.exists()


def test_approved_by_a_second_manager_then_released_once_with_its_accounting(
    as_manager, manager, second_manager, site_a, client_x, client_y
):
    d = request(site_a, client_x, manager)
    as_second = login(second_manager)
    page = as_second.get(url("disclosure", d))
    assert "Record the decision" in page.content.decode()
    assert "Record the decision" not in as_manager.get(url("disclosure", d)).content.decode()
    as_second.post(url("disclosure_decide", d), {"decision": "approve", "note": "Order checked"})
    d.refresh_from_db()
    assert (d.status, d.decided_by) == ("approved", second_manager)

    response = as_manager.post(url("disclosure_release", d))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="disclosure-{d.pk}.txt"'
    text = response.content.decode()
    assert text.startswith(str(REDISCLOSURE_NOTICE))
    assert text.rstrip().endswith(str(REDISCLOSURE_NOTICE))
    assert client_x.display_code in text
    assert "Xanthe Example" in text
    assert "T2026-0042" in text
    # One client: nothing of anyone else.
    assert client_y.display_code not in text
    assert "Yorick Example" not in text

    release = DisclosureRelease.objects.get()
    assert (release.client, release.recipient, release.legal_basis, release.released_by) == (
        client_x,
        "Crown Court at Riverside",
        "court_order",
        manager,
    )
    assert release.contents == {"visits": 1, "incidents": 0, "referrals": 0, "identity_records": 1}
    actions_logged = list(
        AuditEvent.objects.filter(object_type="governance.disclosure")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert "disclosure.approved" in actions_logged
    assert "disclosure.released" in actions_logged
    # Released once: a second release is refused and writes no second accounting row.
    again = as_manager.post(url("disclosure_release", d))
    assert again.status_code == 302
    assert DisclosureRelease.objects.count() == 1


def test_the_identity_record_is_left_out_unless_asked_for(
    manager, second_manager, site_a, client_x
):
    d = request(site_a, client_x, manager)
    Disclosure.objects.filter(pk=d.pk).update(include_identity=False)
    actions.decide_disclosure(disclosure=d, approve=True, by=second_manager)
    record = actions.release_disclosure(disclosure=d, by=second_manager)
    assert "Xanthe Example" not in record.text
    assert record.contents["identity_records"] == 0


def test_another_sites_disclosure_is_not_found(manager, site_a, site_b, client_x):
    from saferoom.core.roles import Role
    from tests.conftest import make_user

    d = request(site_a, client_x, manager)
    b_manager = login(make_user("bea.manager", (Role.MANAGER, site_b)))
    wrong = reverse("governance:disclosure", kwargs={"site": site_b.slug, "pk": d.pk})
    assert b_manager.get(wrong).status_code == 404
    assert b_manager.post(wrong + "decide/", {"decision": "approve"}).status_code == 404
    assert Disclosure.objects.get().status == "requested"


def test_no_export_anywhere_returns_several_clients_identifiable_data(
    as_admin, admin, second_manager, site_a, client_x, client_y
):
    """Every URL that exports or releases, asked for everything it will give, shows at most
    one client's code and identity."""
    d = request(site_a, client_x, second_manager)
    actions.decide_disclosure(disclosure=d, approve=True, by=admin)
    names = {client_x.display_code: "Xanthe Example", client_y.display_code: "Yorick Example"}
    exporting = [
        name
        for name in ACCESS_TABLE
        if any(word in name for word in ("export", "csv", "release", "download", "xlsx", "json"))
    ]
    assert "governance:disclosure_release" in exporting
    for name in exporting:
        wanted = set(ACCESS_TABLE[name].kwargs)
        if wanted - {"site", "pk"} or ("pk" in wanted and not name.startswith("governance:")):
            continue  # other areas' sample objects: their own tests cover them
        kwargs = {"site": site_a.slug, "pk": d.pk}
        address = reverse(name, kwargs={k: v for k, v in kwargs.items() if k in wanted})
        for method in (as_admin.get, as_admin.post):
            body = method(address).content.decode(errors="replace")
            # Display codes are pseudonymous (the audit log lists them); names identify.
            shown = [person for person in names.values() if person in body]
            assert len(shown) <= 1, f"{name} shows {len(shown)} clients"
