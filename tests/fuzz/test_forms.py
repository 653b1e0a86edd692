"""Hostile input on the forms people fill in a hurry: the desk's check-in (a registered client
and an anonymous visit), the registration form, and the nurse's "start an emergency" form.

Hypothesis starts from a good submission and, field by field, keeps the value, drops it, or
swaps in something hostile (script tags, 5,000 characters, NUL bytes, numbers too large for
any column, impossible dates, forged ids, another key). Whatever arrives: never a server
error (the test client raises it), and a submission the page refuses writes nothing — no
record, no idempotency key, no audit event of a write."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Q
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent, IdempotencyKey
from saferoom.floor.models import Visit
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site
from tests.clients.conftest import NDTMS
from tests.floor.conftest import afternoon, checkin_form, client_a, register  # noqa: F401

SCRIPT = "<script>alert(1)</script>"
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            SCRIPT,
            "x" * 5000,
            "\x00",
            "-1",
            "0",
            "1e309",
            "99999999999999999999",
            "٣",
            "NaN",
            "2026-02-30",
            "1850-01-01",
            "9999-12-31",
            "null",
            "' OR 1=1 --",
            str(uuid.uuid4()),
        ]
    ),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def records() -> dict[str, int]:
    writes = ~Q(action__contains="view") & ~Q(action__contains="search") & ~Q(action="client.found")
    return {
        "visits": Visit.objects.count(),
        "clients": Client.objects.count(),
        "incidents": Incident.objects.count(),
        "interventions": Intervention.objects.count(),
        "keys": IdempotencyKey.objects.count(),
        "audited writes": AuditEvent.objects.filter(writes).count(),
    }


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``valid`` with each field kept, dropped, or made hostile, and perhaps a forged extra."""
    field = st.one_of(st.just("keep"), st.just("drop"), HOSTILE, st.lists(HOSTILE, max_size=3))
    choices = st.fixed_dictionaries(dict.fromkeys(valid, field))
    extra = st.dictionaries(st.sampled_from(["site", "client", "by", "pk", "id"]), HOSTILE)

    def build(picked: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        per_field, forged = picked
        data = dict(forged)
        for name, choice in per_field.items():
            if choice == "keep":
                data[name] = valid[name]
            elif choice != "drop":
                data[name] = choice
        return data

    return st.tuples(choices, extra).map(build)


def refused(response: Any) -> bool:
    """The page said no: a 4xx, or the form shown again with its errors."""
    if response.status_code >= 400:
        return True
    context = response.context
    if context is None:  # a redirect: the write was made
        return False
    form = context.get("form")
    return bool(
        (form is not None and form.errors) or context.get("refusal") or context.get("problems")
    )


def fuzz(http: HttpClient, url: str, valid: Callable[[], dict[str, Any]], data: Any) -> None:
    before = records()
    response = http.post(url, data.draw(mutated(valid())))
    assert response.status_code < 500
    if refused(response):
        assert records() == before


@FUZZ
@given(data=st.data())
def test_hostile_checkins_of_a_registered_client(
    as_desk,
    site_a: Site,
    client_a,  # noqa: F811 - the fixture
    data,
) -> None:
    url = reverse("floor:checkin", kwargs={"site": site_a.slug, "client": client_a.pk})
    fuzz(as_desk, url, lambda: checkin_form(site_a), data)


@FUZZ
@given(data=st.data())
def test_hostile_anonymous_checkins(as_desk, site_a: Site, data) -> None:
    url = reverse("floor:checkin_anonymous", kwargs={"site": site_a.slug})
    fuzz(as_desk, url, lambda: checkin_form(site_a, old_enough="yes"), data)


@FUZZ
@given(data=st.data())
def test_hostile_registrations(as_desk, site_a: Site, data) -> None:
    url = reverse("clients:register", kwargs={"site": site_a.slug})
    fuzz(as_desk, url, lambda: {**NDTMS, "idempotency_key": str(uuid.uuid4())}, data)


@FUZZ
@given(data=st.data())
def test_hostile_emergency_starts(as_nurse, site_a: Site, data) -> None:
    url = reverse("incidents:new", kwargs={"site": site_a.slug})
    booth = site_a.spaces.order_by("sort_order").first()
    assert booth is not None

    def valid() -> dict[str, Any]:
        return {
            "idempotency_key": str(uuid.uuid4()),
            "location": "space",
            "space": str(booth.pk),
            "location_detail": "",
            "kind": "opioid",
        }

    fuzz(as_nurse, url, valid, data)


def test_the_fuzzing_reaches_both_refusals_and_writes(as_desk, site_a: Site) -> None:
    """The harness can tell a write from a refusal: a good form writes, a forged one does not."""
    url = reverse("floor:checkin_anonymous", kwargs={"site": site_a.slug})
    before = records()
    assert refused(as_desk.post(url, {**checkin_form(site_a), "route": SCRIPT}))
    assert records() == before
    assert not refused(as_desk.post(url, checkin_form(site_a, old_enough="yes")))
    assert records()["visits"] == before["visits"] + 1


pytestmark = pytest.mark.django_db
