"""No record is lost (checklist item 12): clients, clinical records and the accounting of
disclosures have no delete path. No URL takes a DELETE, there is no admin site, no action of the
clinical apps deletes, and the ORM refuses to delete one of these records however it is asked:
directly, through a queryset or by cascade. A correction is an amendment that keeps the value
before (tests/incidents/test_amendments.py, tests/care/referrals/test_amendments.py)."""

from __future__ import annotations

import ast
import datetime as dt
import re
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.test import Client as HttpClient
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone

import saferoom
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.clinical import NEVER_DELETED, RecordNeverDeleted
from saferoom.floor.models import Visit
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident
from tests.test_access_table import all_routes

# The apps that hold client-level and clinical records.
CLINICAL_APPS = {"clients", "floor", "incidents", "supplies", "checking", "referrals", "governance"}
# Models of those apps that may be deleted, and why.
DELETABLE = {
    "floor.BoardState": "the board's version counter, rebuilt at will",
    "supplies.StockLevel": "a running total, derived from the stock movements that are kept",
    "referrals.IdentityRecord": "the retention schedule deletes identity details on time",
    "referrals.IdentityAccessGrant": "a time-limited permission, not a record of care",
    "referrals.IdentityOpening": "who opened an identity record and why goes with the record",
}


@pytest.fixture
def records(site_a, desk, nurse):
    now = timezone.now()
    client = Client.objects.create(
        network=site_a.network,
        display_code=new_display_code(),
        linkage_hash="1" * 64,
        scheme=site_a.network.client_code_scheme,
        gender="not_stated",
        year_of_birth=1985,
        registered_at=now - dt.timedelta(days=3),
        registered_site=site_a,
        registered_by=desk,
    )
    visit = Visit.objects.create(site=site_a, client=client, arrived_at=now, created_by=desk)
    incident = incident_actions.start_incident(
        site=site_a, by=nurse, idempotency_key=uuid.uuid4(), location="lounge"
    )
    return {"client": client, "visit": visit, "incident": incident}


# --- the ORM refuses ----------------------------------------------------------------------


def test_every_kept_model_refuses_deletion():
    for label in NEVER_DELETED:
        model = apps.get_model(label)
        with pytest.raises(RecordNeverDeleted, match="never deleted"):
            pre_delete.send(sender=model, instance=model(), using="default", origin=None)


def test_every_model_of_the_clinical_apps_is_kept_or_says_why_it_may_go():
    models = {m._meta.label for m in apps.get_models() if m._meta.app_label in CLINICAL_APPS}
    unaccounted = sorted(models - set(NEVER_DELETED) - set(DELETABLE))
    assert not unaccounted, (
        "Add these models to saferoom.core.clinical.NEVER_DELETED, or to DELETABLE here with "
        f"the reason they may be deleted: {unaccounted}"
    )
    assert not set(NEVER_DELETED) & set(DELETABLE)


@pytest.mark.parametrize("what", ["client", "visit", "incident"])
def test_deleting_a_record_is_refused_and_it_stays(records, what):
    record = records[what]
    with pytest.raises((RecordNeverDeleted, ProtectedError)), transaction.atomic():
        record.delete()
    assert type(record).objects.filter(pk=record.pk).exists()


def test_a_queryset_delete_is_refused_and_nothing_goes(records):
    with pytest.raises(RecordNeverDeleted), transaction.atomic():
        Incident.objects.all().delete()
    assert Incident.objects.filter(pk=records["incident"].pk).exists()


def test_a_cascade_from_a_deleted_site_or_person_is_refused(records, site_a, nurse):
    for owner in (site_a, nurse):
        with pytest.raises((RecordNeverDeleted, ProtectedError)), transaction.atomic():
            owner.delete()
    assert Incident.objects.filter(pk=records["incident"].pk).exists()
    assert Visit.objects.filter(pk=records["visit"].pk).exists()


# --- no way in from outside ---------------------------------------------------------------


def test_there_is_no_admin_site():
    assert "django.contrib.admin" not in settings.INSTALLED_APPS
    for path in ("/admin/", "/django-admin/"):
        with pytest.raises(Resolver404):
            resolve(path)


def test_no_url_is_named_for_deleting():
    names = [route.name for route in all_routes()]
    assert not [n for n in names if "delete" in n or "destroy" in n or "erase" in n]


# Pages that answer any method the same way and write nothing: the login page sends a
# logged-in person home; the API's schema is a document.
ANSWER_ANY_METHOD = {"login", "api:openapi-json"}


def test_no_url_takes_a_delete_request_even_from_an_administrator(records, site_a, admin):
    """Every URL, its kwargs filled with real ids, sent DELETE by an administrator of the
    network: refused, every time."""
    samples = {
        "site": site_a.slug,
        "pk": records["client"].pk,
        "client": records["client"].pk,
        "visit": records["visit"].pk,
        "incident": records["incident"].pk,
    }
    answered = []
    browser = HttpClient()
    browser.force_login(admin)
    for route in all_routes():
        if route.name in ANSWER_ANY_METHOD:
            continue
        kwargs = {name: samples.get(name, 1) for name in _kwargs_of(route.pattern)}
        try:
            url = reverse(route.name, kwargs=kwargs)
        except NoReverseMatch:  # a converter these samples do not fit
            continue
        status = browser.delete(url).status_code
        if status not in {401, 403, 404, 405}:
            answered.append(f"DELETE {url} ({route.name}) -> {status}")
    assert not answered, "\n".join(answered)
    assert Client.objects.filter(pk=records["client"].pk).exists()
    assert Incident.objects.filter(pk=records["incident"].pk).exists()


def _kwargs_of(pattern: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", pattern)


def test_the_api_schema_offers_no_delete_operation(as_admin):
    schema = as_admin.get(reverse("api:openapi-json")).json()
    methods = {method for operations in schema["paths"].values() for method in operations}
    assert "post" in methods
    assert "delete" not in methods


def test_no_action_of_the_clinical_apps_deletes_a_kept_record():
    """Read the code: in the clinical apps, a ``.delete()`` may only be called on something
    that is not a kept record (saferoom.core.clinical makes any such call fail at run time;
    this says so at review time)."""
    root = Path(saferoom.__file__).parent
    kept = {label.split(".")[1] for label in NEVER_DELETED}
    offenders = []
    for folder in ("clients", "floor", "incidents", "care", "governance"):
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "delete"
                ):
                    text = ast.unparse(node.func.value)
                    named = {name for name in kept if name in text}
                    if named or not any(allowed in text for allowed in DELETABLE_NAMES):
                        offenders.append(f"{path.relative_to(root)}:{node.lineno} {text}")
    assert not offenders, "Deletes in the clinical apps:\n" + "\n".join(offenders)


DELETABLE_NAMES = {label.split(".")[1] for label in DELETABLE} | {"BoardState"}
