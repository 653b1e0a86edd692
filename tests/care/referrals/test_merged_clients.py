"""When two client codes turn out to be one person, their referrals, identity records, supplies,
services and incidents follow the person to the code that is kept."""

from __future__ import annotations

import uuid

import pytest

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import IdentityRecord, Referral
from saferoom.care.supplies import actions as supplies_actions
from saferoom.care.supplies.models import ServiceGiven
from saferoom.clients.actions import merge_clients
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.floor.actions import check_out
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident
from saferoom.sites.models import catalogue_for
from tests.care.referrals.conftest import details, make_visit


@pytest.fixture
def second_code(register, site_a):
    return register(site_a, year=1990)


def test_referrals_and_identity_records_move_to_the_kept_code(
    referral, identity, client_a, second_code, manager, site_a
):
    merge_clients(keep=second_code, merge=client_a, reason="same person", by=manager, site=site_a)
    assert Referral.objects.get(pk=referral.pk).client == second_code
    assert IdentityRecord.objects.get(pk=identity.pk).client == second_code
    event = AuditEvent.objects.get(action="client.merged")
    assert event.detail["moved_records"]["referrals"] == [referral.pk]
    assert event.detail["moved_records"]["identity_records"] == [identity.pk]


def test_services_and_incidents_move_with_them(client_a, second_code, manager, nurse, desk, site_a):
    walk_in = supplies_actions.give_service(
        site=site_a,
        item=catalogue_for(site_a, "service")[0],
        client=client_a,
        by=nurse,
        idempotency_key=uuid.uuid4(),
    )
    incident = incident_actions.start_incident(
        site=site_a,
        location="lounge",
        visit=make_visit(site_a, client_a, desk),
        by=nurse,
        idempotency_key=uuid.uuid4(),
    )
    assert incident.client == client_a
    merge_clients(keep=second_code, merge=client_a, reason="same person", by=manager, site=site_a)
    assert ServiceGiven.objects.get(pk=walk_in.pk).client == second_code
    assert Incident.objects.get(pk=incident.pk).client == second_code


def test_two_consented_identity_records_at_one_site_stop_the_merge_and_change_nothing(
    identity, refer, second_code, manager, desk, site_a
):
    second_visit = make_visit(site_a, second_code, desk)
    other = refer(second_visit)
    check_out(visit=second_visit, by=desk)
    actions.record_identity(
        referral=other,
        details=details(),
        consent_scope=IdentityRecord.Scope.REFERRALS,
        consent_confirmed=True,
        by=manager,
        idempotency_key=uuid.uuid4(),
    )
    with pytest.raises(ActionRefused, match="withdraw one of them") as refused:
        merge_clients(
            keep=second_code, merge=identity.client, reason="same person", by=manager, site=site_a
        )
    assert refused.value.code == "two_identity_records"
    identity.client.refresh_from_db()
    assert identity.client.merged_into is None
    assert not AuditEvent.objects.filter(action="client.merged").exists()
