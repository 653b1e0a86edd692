"""The simulator writes history only through the desk's actions, and deterministically."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from saferoom.clients.models import Ban, Client, Intake
from saferoom.core.models import AuditEvent, User
from saferoom.floor.models import MobileStop, Visit
from saferoom.simulation import runner
from saferoom.simulation.profiles import get_profile
from saferoom.sites.models import ClientCodeScheme
from tests.conftest import make_site

START = dt.date(2025, 3, 3)
# A quiet mixed room: enough to go through every path, small enough to keep the tests quick.
QUIET = get_profile("nrw").override(visits_per_day=25)

pytestmark = pytest.mark.django_db


def audited_ids(action: str, object_type: str) -> set[str]:
    return set(
        AuditEvent.objects.filter(action=action, object_type=object_type).values_list(
            "object_id", flat=True
        )
    )


def test_every_visit_and_client_comes_from_an_action_with_its_audit_event(site_a):
    summary = runner.run(sites=[site_a], days=3, start=START, seed=1, profile=QUIET)

    assert summary.refused == {}
    visits = Visit.objects.filter(site=site_a)
    assert visits.count() == summary.visits + summary.turnaways > 40
    visit_ids = {str(pk) for pk in visits.values_list("pk", flat=True)}
    assert visit_ids == audited_ids("visit.checked_in", "floor.visit") | audited_ids(
        "visit.turned_away", "floor.visit"
    )
    client_ids = {str(pk) for pk in Client.objects.values_list("pk", flat=True)}
    assert client_ids == audited_ids("client.registered", "clients.client")
    assert Client.objects.count() == summary.registrations
    # Every new client's first-visit intake was recorded.
    assert Intake.objects.count() == Client.objects.count()
    # Each day ends with nothing left open; left-without-check-out visits are counted.
    assert not visits.filter(state__in=Visit.OPEN_STATES).exists()
    assert visits.filter(end_reason="checked_out").count() == summary.checked_out
    assert visits.filter(end_reason="left_without_checkout").count() == summary.closed_at_closing
    assert visits.filter(state="turned_away").count() == summary.turnaways


def test_the_simulation_works_as_a_named_desk_account(site_a):
    runner.run(sites=[site_a], days=1, start=START, seed=1, profile=QUIET)
    desk = User.objects.get(username=runner.SIM_DESK_USERNAME)
    assert not desk.has_usable_password()
    assert set(Visit.objects.values_list("created_by", flat=True)) == {desk.pk}


def test_the_same_seed_on_a_fresh_database_gives_the_same_history(site_a):
    def counts() -> tuple[int, ...]:
        with transaction.atomic():
            summary = runner.run(sites=[site_a], days=2, start=START, seed=9, profile=QUIET)
            result = (
                Visit.objects.count(),
                Visit.objects.filter(state="turned_away").count(),
                Visit.objects.filter(anonymous=True).count(),
                Client.objects.count(),
                summary.arrivals,
                summary.episodes,
                summary.emergencies,
            )
            transaction.set_rollback(True)
        return result

    first = counts()
    assert not Visit.objects.exists()
    assert counts() == first
    assert first[0] > 0


def test_bans_are_set_through_the_ban_action_and_turn_people_away(site_a):
    profile = get_profile("glasgow").override(ban_per_1000=150, banned_still_come=1.0)
    summary = runner.run(sites=[site_a], days=4, start=START, seed=3, profile=profile)

    assert summary.refused == {}
    assert summary.bans == Ban.objects.count() > 0
    assert {str(pk) for pk in Ban.objects.values_list("pk", flat=True)} == audited_ids(
        "ban.set", "clients.ban"
    )
    assert set(Ban.objects.values_list("set_by__username", flat=True)) == {
        runner.SIM_MANAGER_USERNAME
    }
    banned = Visit.objects.filter(turnaway_reason__code="banned")
    assert banned.count() == summary.turned_away["banned"] > 0
    assert all(v.client_id is not None for v in banned)


@pytest.mark.parametrize(
    "scheme", [ClientCodeScheme.CHOSEN_NAME, ClientCodeScheme.GENDER_LETTERS_YOB]
)
def test_every_client_code_scheme_can_be_simulated(site_a, scheme):
    site_a.network.client_code_scheme = scheme
    site_a.network.save(update_fields=["client_code_scheme"])
    summary = runner.run(sites=[site_a], days=2, start=START, seed=4, profile=QUIET)
    assert summary.refused == {}
    assert set(Client.objects.values_list("scheme", flat=True)) == {scheme}


def test_clients_who_lost_their_card_are_found_by_their_attributes(site_a, monkeypatch):
    monkeypatch.setattr(runner, "LOST_CARD_SHARE", 1.0)
    summary = runner.run(sites=[site_a], days=3, start=START, seed=5, profile=QUIET)
    assert summary.lost_cards > 0
    assert summary.refused == {}


def test_a_network_run_simulates_every_site_with_its_own_profile(site_a, site_b):
    summary = runner.run(
        sites=[site_a, site_b], days=1, start=START, seed=2, profile_for=lambda site: QUIET
    )
    assert summary.sites == 2
    assert Visit.objects.filter(site=site_a).exists()
    assert Visit.objects.filter(site=site_b).exists()
    # Site B does not take anonymous visits; site A does.
    assert not Visit.objects.filter(site=site_b, anonymous=True).exists()


def test_the_default_profile_follows_the_site(site_a):
    assert runner.default_profile_name(site_a) == "nrw"
    site_a.permitted_routes = ["inject"]
    assert runner.default_profile_name(site_a) == "glasgow"
    site_a.kind = "mobile"
    assert runner.default_profile_name(site_a) == "mobile"


def test_the_summary_reports_the_emergency_rate(site_a):
    summary = runner.run(sites=[site_a], days=2, start=START, seed=1, profile=QUIET)
    text = "\n".join(summary.lines())
    assert "per 1,000 episodes" in text
    assert f"Visits:            {summary.visits}" in text


def test_a_mobile_unit_opens_a_stop_each_day_and_counts_its_visits_there(site_a):
    van = make_site(site_a.network, "Van", "van", kind="mobile")
    summary = runner.run(sites=[van], days=2, start=START, seed=6, profile=get_profile("mobile"))

    assert summary.refused == {}
    stops = list(MobileStop.objects.filter(site=van).order_by("opened_at"))
    assert len(stops) == summary.stops == 2
    assert all(stop.closed_at is not None for stop in stops)
    visits = Visit.objects.filter(site=van).exclude(state="turned_away")
    assert visits.exists()
    assert not visits.filter(stop__isnull=True).exists()
