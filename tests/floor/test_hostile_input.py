"""Bad and hostile input on every desk form: forged choices, other networks' and sites' ids,
script tags, missing or malformed keys. Each gets a clear message and writes nothing; none
gets a 500."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from saferoom.core.models import AuditEvent
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem
from tests.floor.conftest import checkin_form, reason, substance, turnaway_form

SCRIPT = "<script>alert(1)</script>"


def checkin_url(site, client) -> str:
    return reverse("floor:checkin", kwargs={"site": site.slug, "client": client.pk})


def turnaway_url(site) -> str:
    return reverse("floor:turnaway", kwargs={"site": site.slug})


def nothing_written() -> bool:
    return (
        not Visit.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="visit.").exists()
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"substances": []}, "Choose at least one substance."),
        ({"substances": ["abc"]}, "Choose the substances from the list shown."),
        ({"substances": [SCRIPT]}, "Choose the substances from the list shown."),
        ({"substances": ["99999999"]}, "Choose the substances from the list shown."),
        ({"substances": ["1" * 400]}, "Choose the substances from the list shown."),
        ({"route": "teleport"}, "Choose one of the routes this site allows."),
        ({"route": ""}, "Choose how they will use it."),
        ({"route": SCRIPT}, "Choose one of the routes this site allows."),
        ({"otherwise_location": SCRIPT}, "Choose one of the places shown."),
        ({"otherwise_location": "x" * 10_000}, "Choose one of the places shown."),
        ({"would_use_alone": "maybe"}, "Choose one of the answers shown."),
        ({"intoxicated": "perhaps"}, "Answer yes or no."),
        ({"first_time": SCRIPT}, "Answer yes or no."),
        ({"idempotency_key": None}, "This form is out of date. Reload the page and try again."),
        ({"idempotency_key": "not-a-key"}, "This form is out of date. Reload the page"),
        ({"idempotency_key": SCRIPT}, "This form is out of date. Reload the page"),
    ],
)
def test_bad_checkin_input_is_refused_with_a_clear_message(
    as_desk, site_a, client_a, overrides, message
):
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a, **overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert SCRIPT not in page  # echoed, if at all, only escaped
    assert nothing_written()


def test_an_empty_checkin_post_explains_what_is_missing(as_desk, site_a, client_a):
    response = as_desk.post(checkin_url(site_a, client_a), {})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose at least one substance." in page
    assert "Choose how they will use it." in page
    assert "Answer this question." in page
    assert "This form is out of date." in page
    assert nothing_written()


def test_a_substance_from_another_network_is_refused(as_desk, site_a, client_a, other_network_site):
    forged = substance(other_network_site).pk
    response = as_desk.post(
        checkin_url(site_a, client_a), checkin_form(site_a, substances=[forged])
    )
    assert "Choose the substances from the list shown." in response.content.decode()
    assert nothing_written()


def test_a_substance_only_another_site_offers_is_refused(as_desk, site_a, site_b, client_a):
    theirs = CatalogueItem.objects.create(
        network=site_b.network, site=site_b, kind="substance", code="nitazene", label="Nitazene"
    )
    response = as_desk.post(
        checkin_url(site_a, client_a), checkin_form(site_a, substances=[theirs.pk])
    )
    assert "Choose the substances from the list shown." in response.content.decode()
    assert nothing_written()


def test_a_turnaway_reason_posing_as_a_substance_is_refused(as_desk, site_a, client_a):
    posing = reason(site_a, "banned").pk
    response = as_desk.post(
        checkin_url(site_a, client_a), checkin_form(site_a, substances=[posing])
    )
    assert "Choose the substances from the list shown." in response.content.decode()
    assert nothing_written()


def test_bad_input_from_htmx_answers_422(as_desk, site_a, client_a):
    response = as_desk.post(
        checkin_url(site_a, client_a),
        checkin_form(site_a, route="teleport"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert nothing_written()


def test_a_client_number_that_is_not_a_number_is_not_a_page(as_desk, site_a):
    response = as_desk.get(f"/sites/{site_a.slug}/desk/checkin/{SCRIPT}/")
    assert response.status_code == 404
    assert SCRIPT not in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": None}, "Choose a reason."),
        ({"reason": "abc"}, "Choose one of the reasons shown."),
        ({"reason": SCRIPT}, "Choose one of the reasons shown."),
        ({"who": "everyone"}, "Choose one of the answers shown."),
        ({"client": "abc"}, "That client could not be found. Find them again."),
        ({"client": "-4"}, "That client could not be found. Find them again."),
        ({"client": "99999999"}, "That client could not be found. Find them again."),
        ({"client": SCRIPT}, "That client could not be found. Find them again."),
        ({"eligibility": "{not json"}, "The eligibility answers could not be read."),
        ({"eligibility": '{"admin": true}'}, "The eligibility answers could not be read."),
        ({"eligibility": '{"intoxicated": "yes"}'}, "The eligibility answers could not be read."),
        ({"eligibility": "[1, 2]"}, "The eligibility answers could not be read."),
        ({"eligibility": "x" * 600}, "Ensure this value has at most 500 characters"),
        ({"idempotency_key": None}, "This form is out of date. Reload the page and try again."),
        ({"idempotency_key": "1234"}, "This form is out of date. Reload the page and try again."),
    ],
)
def test_bad_turnaway_input_is_refused_with_a_clear_message(as_desk, site_a, overrides, message):
    response = as_desk.post(turnaway_url(site_a), turnaway_form(site_a, "full", **overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert SCRIPT not in page
    assert nothing_written()


def test_a_substance_posing_as_a_turnaway_reason_is_refused(as_desk, site_a):
    response = as_desk.post(
        turnaway_url(site_a),
        {"idempotency_key": str(uuid.uuid4()), "reason": substance(site_a).pk},
    )
    assert "Choose one of the reasons shown." in response.content.decode()
    assert nothing_written()


@pytest.mark.parametrize("pk", ["abc", "-1", SCRIPT])
def test_a_visit_number_that_is_not_a_number_is_not_a_page(as_desk, site_a, pk):
    response = as_desk.post(f"/sites/{site_a.slug}/desk/visits/{pk}/left/")
    assert response.status_code == 404
