"""Turning someone away, with a reason, whoever they are: a registered client, an anonymous
arrival, or someone who is not registered. Each is a visit that has already ended."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.floor import actions
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem
from tests.floor.conftest import LONDON, reason, reason_code, turnaway_form


def turnaway_url(site) -> str:
    return reverse("floor:turnaway", kwargs={"site": site.slug})


def test_the_turnaway_page_offers_the_sites_reasons(as_desk, site_a):
    page = as_desk.get(turnaway_url(site_a)).content.decode()
    assert "Why are they being turned away?" in page
    for label in ("No space free / closing soon", "Under the minimum age", "Banned", "Other"):
        assert label in page
    assert "Anonymous visit" in page  # Riverside takes anonymous visits
    assert 'name="idempotency_key"' in page


def test_a_registered_client_is_turned_away_with_a_reason(as_desk, desk, site_a, client_a):
    response = as_desk.post(
        turnaway_url(site_a), turnaway_form(site_a, "refused_rules", client=client_a.pk)
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.state, visit.client, visit.anonymous) == ("turned_away", client_a, False)
    assert visit.turnaway_reason == reason(site_a, "refused_rules")
    assert (visit.end_reason, visit.ended_by) == ("turned_away", desk)
    assert visit.ended_at == visit.arrived_at
    event = AuditEvent.objects.get(action="visit.turned_away")
    assert event.detail == {"reason": "refused_rules", "anonymous": False, "registered": True}
    queue = as_desk.get(response["Location"]).content.decode()
    assert (
        f"Turn-away recorded for {client_a.display_code}: Would not agree to the house rules."
        in queue
    )


def test_an_anonymous_arrival_is_turned_away(as_desk, site_a):
    response = as_desk.post(turnaway_url(site_a), turnaway_form(site_a, "full", who="anonymous"))
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.client, visit.anonymous, reason_code(visit)) == (None, True, "full")
    assert AuditEvent.objects.filter(action="visit.turned_away", object_id=str(visit.pk)).exists()


def test_someone_unregistered_is_turned_away(as_desk, site_a):
    response = as_desk.post(
        turnaway_url(site_a), turnaway_form(site_a, "under_age", who="not_registered")
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.client, visit.anonymous, reason_code(visit)) == (
        None,
        False,
        "under_age",
    )


def test_a_site_without_anonymous_visits_cannot_record_one(as_other_site_worker, site_b):
    page = as_other_site_worker.get(turnaway_url(site_b)).content.decode()
    assert "Anonymous visit" not in page
    response = as_other_site_worker.post(
        turnaway_url(site_b), turnaway_form(site_b, "full", who="anonymous")
    )
    assert response.status_code == 200
    assert "Choose one of the answers shown." in response.content.decode()
    assert not Visit.objects.exists()


def test_a_turnaway_sent_five_times_is_recorded_once(as_desk, site_a):
    form = turnaway_form(site_a, "full")
    for _ in range(5):
        assert as_desk.post(turnaway_url(site_a), form).status_code == 302
    assert Visit.objects.count() == 1
    assert AuditEvent.objects.filter(action="visit.turned_away").count() == 1


def test_a_reason_is_required(as_desk, site_a):
    response = as_desk.post(turnaway_url(site_a), {"idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 200
    assert "Choose a reason." in response.content.decode()
    assert not Visit.objects.exists()


def test_a_retired_reason_cannot_be_used(as_desk, site_a):
    CatalogueItem.objects.filter(pk=reason(site_a, "pregnant").pk).update(active=False)
    response = as_desk.post(turnaway_url(site_a), turnaway_form(site_a, "pregnant"))
    assert "Choose one of the reasons shown." in response.content.decode()
    assert not Visit.objects.exists()


def test_a_reason_from_another_network_is_refused(as_desk, site_a, other_network_site):
    foreign = reason(other_network_site, "full")
    response = as_desk.post(
        turnaway_url(site_a), {"idempotency_key": str(uuid.uuid4()), "reason": foreign.pk}
    )
    assert response.status_code == 200
    assert "Choose one of the reasons shown." in response.content.decode()
    assert not Visit.objects.exists()


def test_the_action_refuses_a_reason_that_is_not_a_turnaway_reason(site_a, desk):
    heroin = CatalogueItem.objects.get(network=site_a.network, kind="substance", code="heroin")
    with pytest.raises(ActionRefused, match="Choose a reason from this site's list"):
        actions.turn_away(
            site=site_a, client=None, reason=heroin, by=desk, idempotency_key=uuid.uuid4()
        )
    assert not Visit.objects.exists()


def test_a_client_the_desk_cannot_see_is_not_found(as_desk, site_a, other_network_site, register):
    stranger = register(other_network_site)
    response = as_desk.post(turnaway_url(site_a), turnaway_form(site_a, "full", client=stranger.pk))
    assert response.status_code == 200
    assert "That client could not be found. Find them again." in response.content.decode()
    assert not Visit.objects.exists()


def test_evaluators_and_other_sites_cannot_turn_anyone_away(
    as_evaluator, as_other_site_worker, site_a
):
    assert as_evaluator.post(turnaway_url(site_a), turnaway_form(site_a, "full")).status_code == 403
    response = as_other_site_worker.post(turnaway_url(site_a), turnaway_form(site_a, "full"))
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_a_turnaway_is_allowed_when_the_site_is_closed(site_a, desk, afternoon):
    """People arrive at the door after closing too; recording them is how demand is seen."""
    afternoon.move_to(dt.datetime(2026, 3, 10, 22, 0, tzinfo=LONDON))
    visit = actions.turn_away(
        site=site_a,
        client=None,
        reason=reason(site_a, "full"),
        by=desk,
        idempotency_key=uuid.uuid4(),
    )
    assert visit.state == "turned_away"
