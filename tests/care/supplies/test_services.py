"""Services given on site, to a visit or a walk-in; one recorded in error is marked void with a
reason, never deleted."""

from __future__ import annotations

import pytest

from saferoom.care.supplies import actions, queries
from saferoom.care.supplies.models import ServiceGiven
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem
from tests.care.supplies.conftest import key, make_visit

pytestmark = pytest.mark.django_db


def test_a_service_is_recorded_for_a_visit(site_a, visit, service, nurse):
    given = actions.give_service(
        site=site_a, item=service("wound_care"), visit=visit, by=nurse, idempotency_key=key()
    )
    assert given.visit == visit
    assert given.client == visit.client
    assert queries.services_given_to(visit) == [given]
    assert AuditEvent.objects.filter(action="service.given").count() == 1


def test_a_walk_in_can_have_a_shower(site_a, service, desk):
    given = actions.give_service(
        site=site_a, item=service("shower"), by=desk, idempotency_key=key()
    )
    assert given.visit is None
    assert queries.recent_walk_in_services(site_a) == [given]


def test_a_double_tap_records_one_service(site_a, visit, service, nurse):
    same = key()
    for _ in range(2):
        actions.give_service(
            site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=same
        )
    assert ServiceGiven.objects.count() == 1


def test_a_supply_is_not_a_service(site_a, visit, filters, nurse):
    with pytest.raises(ActionRefused) as refused:
        actions.give_service(
            site=site_a, item=filters, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "other_site_item"
    assert not ServiceGiven.objects.exists()


def test_a_service_no_longer_offered_is_refused(site_a, visit, service, nurse):
    laundry = service("laundry")
    CatalogueItem.objects.filter(pk=laundry.pk).update(active=False)
    laundry.refresh_from_db()
    with pytest.raises(ActionRefused) as refused:
        actions.give_service(
            site=site_a, item=laundry, visit=visit, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "inactive_item"


def test_a_service_for_another_sites_visit_is_refused(site_a, site_b, service, desk, nurse):
    elsewhere = make_visit(site_b, desk)
    with pytest.raises(ActionRefused) as refused:
        actions.give_service(
            site=site_a, item=service("food"), visit=elsewhere, by=nurse, idempotency_key=key()
        )
    assert refused.value.code == "bad_visit"


def test_a_service_in_error_is_marked_void_and_kept(site_a, visit, service, nurse):
    given = actions.give_service(
        site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key()
    )
    voided = actions.void_service(service=given, reason="Other client", by=nurse)
    assert voided.voided_by == nurse
    assert voided.void_reason == "Other client"
    assert ServiceGiven.objects.filter(pk=given.pk).exists()
    with pytest.raises(ActionRefused) as refused:
        actions.void_service(service=given, reason="again", by=nurse)
    assert refused.value.code == "already_void"


def test_voiding_needs_a_reason_and_the_right_person(site_a, visit, service, nurse, desk, manager):
    given = actions.give_service(
        site=site_a, item=service("food"), visit=visit, by=nurse, idempotency_key=key()
    )
    with pytest.raises(ActionRefused) as no_reason:
        actions.void_service(service=given, reason="", by=nurse)
    assert no_reason.value.code == "no_reason"
    with pytest.raises(ActionRefused) as not_yours:
        actions.void_service(service=given, reason="wrong", by=desk)
    assert not_yours.value.code == "not_yours"
    given.refresh_from_db()
    assert given.voided_at is None
    actions.void_service(service=given, reason="wrong", by=manager)
