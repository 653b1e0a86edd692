"""The bulk generator behind the report benchmarks (``saferoom simulate --bulk``): it writes
the simulation engine's stream as it is — every arrival, turn-away, person leaving the queue,
session and emergency — as rows the actions would have left, and forgets the sites' rollups."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F

from saferoom.clients.models import Client
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents.models import Incident, Intervention
from saferoom.reports import rollups
from saferoom.reports.models import RollupWatermark
from saferoom.simulation import engine
from saferoom.simulation.bulk import display_code_for, unique_display_code
from saferoom.simulation.profiles import get_profile
from saferoom.simulation.runner import site_spec
from saferoom.sites.models import Site

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
START = dt.date(2026, 4, 1)
DAYS = 30
PROFILE = get_profile("nrw").override(visits_per_day=40, emergency_per_1000=60)


@pytest.fixture(autouse=True)
def debug(settings):
    """``saferoom simulate`` runs only in development."""
    settings.DEBUG = True


def simulate_bulk(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("simulate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def written(site_a: Site) -> engine.Tally:
    """30 days at Riverside, written in bulk; the engine's own count of the same stream."""
    simulate_bulk(
        "--bulk", "--site", "riverside", "--days", str(DAYS), "--start", START.isoformat(),
        "--seed", "3", "--profile", "nrw", "--set", "visits_per_day=40",
        "--set", "emergency_per_1000=60",
    )  # fmt: skip
    site_a.refresh_from_db()
    stream = engine.generate(
        site_spec(site_a), PROFILE, start=START, days=DAYS, seed=f"3:{site_a.slug}"
    )
    return engine.tally(stream)


def test_every_arrival_of_the_stream_is_written_as_a_visit(written, site_a):
    visits = Visit.objects.filter(site=site_a)
    assert visits.count() == written.arrivals > 800
    assert visits.exclude(state="turned_away").count() == written.checked_in
    assert visits.filter(anonymous=True).count() >= written.anonymous
    turned = dict(
        visits.filter(state="turned_away")
        .values_list("turnaway_reason__code")
        .annotate(n=Count("pk"))
    )
    assert turned == written.turned_away
    assert visits.filter(end_reason="left_queue").count() == written.left_queue
    assert Client.objects.filter(registered_site=site_a).count() == written.registrations
    # Every visit has ended, as at the end of each day, and none before it began.
    assert not visits.filter(state__in=Visit.OPEN_STATES).exists()
    assert not visits.filter(ended_at__lt=F("arrived_at")).exists()


def test_sessions_have_a_seat_of_the_right_kind_their_substances_and_a_clear_down(written, site_a):
    sessions = ConsumptionSession.objects.filter(site=site_a).select_related("space")
    assert sessions.count() == written.episodes
    by_route = dict(sessions.values_list("route").annotate(n=Count("pk")))
    assert by_route == written.episodes_by_route
    for session in sessions[:200]:
        assert session.route in engine.SPACE_ROUTES[session.space.kind]
        assert session.ended_at is not None
        assert session.ended_at >= session.started_at
        assert session.clear_down_until == session.ended_at + dt.timedelta(
            minutes=session.space.clear_down_minutes
        )
        assert session.substances.exists()
        assert session.visit.arrived_at <= session.started_at


def test_emergencies_are_incidents_of_their_session_with_what_was_done(written, site_a):
    medical = Incident.objects.filter(site=site_a, session__isnull=False)
    assert medical.count() == written.emergencies > 0
    assert not medical.exclude(session__emergency_at=F("onset_at")).exists()
    assert Intervention.objects.filter(incident__in=medical, kind="stimulation").count() == (
        written.emergencies
    )
    ambulances = Intervention.objects.filter(incident__in=medical, kind="ambulance_called")
    assert ambulances.count() == written.ambulances


def test_bulk_clients_have_valid_distinct_codes():
    from saferoom.clients.codes import is_valid_display_code

    codes = [display_code_for(n) for n in range(1, 3000)]
    assert len(set(codes)) == len(codes)
    assert all(is_valid_display_code(code) for code in codes)


def test_a_bulk_client_steps_around_a_code_someone_already_holds():
    taken = frozenset({display_code_for(5)})
    code = unique_display_code(5, taken)
    assert code != display_code_for(5)
    # Nor is the stand-in any other bulk client's code.
    assert code not in {display_code_for(n) for n in range(1, 3000)}
    assert unique_display_code(6, taken) == display_code_for(6)


def test_bulk_history_beside_desk_registered_clients_reuses_none_of_their_codes(
    site_a, network, desk
):
    from tests.care.supplies.conftest import make_client

    # A client registered at the desk whose random code is the next bulk client's code.
    held = make_client(network, site_a, desk)
    Client.objects.filter(pk=held.pk).update(display_code=display_code_for(held.pk + 1))
    simulate_bulk(
        "--bulk", "--site", "riverside", "--days", "3", "--start", "2026-04-20",
    )  # fmt: skip
    codes = list(Client.objects.filter(network=network).values_list("display_code", flat=True))
    assert len(codes) > 2
    assert len(set(codes)) == len(codes)
    assert Client.objects.get(pk=held.pk).display_code == display_code_for(held.pk + 1)


def test_the_sites_rollups_are_forgotten_and_built_afresh(site_a):
    with time_machine.travel(NOW, tick=False):
        rollups.build()
    assert RollupWatermark.objects.filter(site=site_a).exists()
    out = simulate_bulk(
        "--bulk", "--site", "riverside", "--days", "5", "--start", "2026-04-20",
    )  # fmt: skip
    assert "Visits:" in out
    assert "rollups were forgotten" in out
    assert not RollupWatermark.objects.filter(site=site_a).exists()
    with time_machine.travel(NOW, tick=False):
        summary = rollups.build()
    assert summary.days == (NOW.date() - dt.date(2026, 4, 20)).days


def test_bulk_is_refused_outside_development(site_a, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="runs only in development"):
        simulate_bulk("--bulk", "--site", "riverside", "--days", "3")
    assert not Visit.objects.exists()


def test_bulk_needs_at_least_one_worker(site_a):
    with pytest.raises(CommandError, match="--workers must be at least 1"):
        simulate_bulk("--bulk", "--site", "riverside", "--days", "3", "--workers", "0")
