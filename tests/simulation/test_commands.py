"""``saferoom simulate`` and ``saferoom demo`` from the command line."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.simulation.management.commands.demo import (
    DEMO_ACCOUNTS,
    DEMO_NETWORK,
    DEMO_PASSWORD,
)
from saferoom.sites.models import Membership, Network, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path  # the history log and marker stay out of the real var/


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- simulate ------------------------------------------------------------------------------


def test_simulate_writes_history_and_prints_a_summary(debug, site_a):
    out, err = run(
        "simulate", "--site", "riverside", "--days", "2", "--start", "2025-05-05",
        "--profile", "glasgow", "--set", "visits_per_day=20", "--seed", "3",
    )  # fmt: skip
    visits = Visit.objects.filter(site=site_a)
    admitted = visits.exclude(state="turned_away").count()
    assert admitted > 0
    assert f"Visits:            {admitted}" in out
    assert f"New clients:       {Client.objects.count()}" in out
    assert "Turn-aways:" in out
    assert "per 1,000 episodes" in out
    assert "2025-05-05 to 2025-05-06" in out
    assert "2/2 days" in err  # the progress bar
    first = site_a.local(visits.earliest("arrived_at").arrived_at).date()
    last = site_a.local(visits.latest("arrived_at").arrived_at).date()
    assert dt.date(2025, 5, 5) <= first <= last <= dt.date(2025, 5, 6)


def test_simulate_a_whole_network_quietly(debug, site_a, site_b):
    out, err = run(
        "simulate", "--network", "Test network", "--days", "1", "--start", "2025-05-05",
        "--profile", "mobile", "--quiet",
    )  # fmt: skip
    assert out == err == ""
    assert Visit.objects.filter(site=site_a).exists()
    assert Visit.objects.filter(site=site_b).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--site", "atlantis", "--days", "2"], "no site called 'atlantis'"),
        (["--network", "Nowhere", "--days", "2"], "no network called 'Nowhere'"),
        (["--site", "riverside", "--days", "-3"], "at least 1"),
        (["--site", "riverside", "--days", "0"], "at least 1"),
        (["--site", "riverside", "--days", "2", "--profile", "vegas"], "no profile called"),
        (["--site", "riverside", "--days", "2", "--start", "5/5/2025"], "YYYY-MM-DD"),
        (["--site", "riverside", "--days", "2", "--start", "2999-01-01"], "end by yesterday"),
        (
            ["--site", "riverside", "--days", "2", "--profile", "nrw", "--set", "colour=red"],
            "Unknown profile parameter",
        ),
        (
            ["--site", "riverside", "--days", "2", "--profile", "nrw", "--set", "ban_days=x"],
            "cannot be set",
        ),
        (["--site", "riverside", "--days", "2", "--set", "ban_days=1,2"], "--profile"),
        (["--site", "riverside", "--network", "Test network", "--days", "2"], "not allowed"),
        (["--days", "2"], "required"),
        (["--site", "riverside"], "--days"),
    ],
)
def test_simulate_refuses_bad_arguments_with_a_clear_message(debug, site_a, args, message):
    with pytest.raises(CommandError, match=message):
        run("simulate", *args)
    assert not Visit.objects.exists()


def test_simulate_skips_a_site_without_opening_hours(debug, site_a):
    site_a.opening_hours.all().delete()
    with pytest.raises(CommandError, match="None of the chosen sites"):
        run("simulate", "--site", "riverside", "--days", "1", "--start", "2025-05-05")


def test_simulate_refuses_to_run_without_debug(settings, site_a):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="SAFEROOM_DEBUG=1"):
        run("simulate", "--site", "riverside", "--days", "1")
    assert not Visit.objects.exists()


# --- demo ----------------------------------------------------------------------------------


def test_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="SAFEROOM_DEBUG=1"):
        run("demo", "--days", "1")
    assert not Network.objects.exists()
    assert not User.objects.exists()


def test_demo_creates_the_network_accounts_and_history_once(debug):
    out, _err = run("demo", "--days", "1", "--quiet")

    network = Network.objects.get(name=DEMO_NETWORK)
    sites = {s.slug: s for s in network.sites.all()}
    assert set(sites) == {"riverside", "eastgate", "van"}
    assert sites["riverside"].permitted_routes == ["inject"]
    assert sites["riverside"].spaces.filter(kind="booth").count() == 8
    assert sites["riverside"].spaces.filter(kind="booth", accessible=True).count() == 2
    assert sites["eastgate"].anonymous_visits_allowed
    assert sites["eastgate"].spaces.filter(kind="inhalation", seats=3).count() == 2
    assert sites["van"].kind == Site.Kind.MOBILE
    assert sorted(sites["van"].opening_hours.values_list("weekday", flat=True)) == [1, 2, 3, 4]
    visits = Visit.objects.count()
    assert visits > 0
    assert "http://127.0.0.1:8000" in out
    for account in DEMO_ACCOUNTS:
        assert f"{account.username}" in out
    assert DEMO_PASSWORD in out

    out, _err = run("demo", "--days", "1", "--quiet")
    assert "already exists" in out
    assert "not simulating again" in out
    assert Network.objects.filter(name=DEMO_NETWORK).count() == 1
    assert Site.objects.count() == 3
    assert Visit.objects.count() == visits
    assert User.objects.filter(username__in=[a.username for a in DEMO_ACCOUNTS]).count() == 5


def test_the_demo_box_names_the_address_it_is_served_at(debug):
    out, _err = run("demo", "--days", "0", "--quiet", "--url", "http://127.0.0.1:8765")

    assert "saferoom demo: open http://127.0.0.1:8765" in out
    assert "8000" not in out


def test_every_demo_account_logs_in_with_the_demo_password(debug):
    run("demo", "--days", "0", "--quiet")
    network = Network.objects.get(name=DEMO_NETWORK)
    for account in DEMO_ACCOUNTS:
        user = User.objects.get(username=account.username)
        validate_password(DEMO_PASSWORD, user)  # passes the production validators
        assert Membership.objects.filter(
            user=user, network=network, site=None, role=account.role
        ).exists()
        browser = HttpClient()
        response = browser.post(
            reverse("login"), {"username": account.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, account.username


def test_demo_repairs_a_changed_demo_account(debug):
    run("demo", "--days", "0", "--quiet")
    desk = User.objects.get(username="dana.desk")
    desk.set_password("something else entirely 42")
    desk.is_active = False
    desk.save()
    run("demo", "--days", "0", "--quiet")
    desk.refresh_from_db()
    assert desk.is_active
    assert desk.check_password(DEMO_PASSWORD)


def test_demo_can_make_its_history_in_the_background_so_the_server_starts_at_once(
    debug, monkeypatch, tmp_path
):
    started = []

    class FakePopen:
        def __init__(self, args, **kwargs):
            started.append(args)

    monkeypatch.setattr("saferoom.simulation.management.commands.demo.subprocess.Popen", FakePopen)
    out, _err = run("demo", "--days", "365", "--history", "background")
    assert len(started) == 1
    assert started[0][-5:] == ["demo", "--days", "365", "--pause", "0.02"]
    assert "in the background" in out
    assert not Visit.objects.exists()
    # Run again before the history has begun: it says so instead of starting a second one.
    out, _err = run("demo", "--days", "365", "--history", "background")
    assert len(started) == 1
    assert "still being made" in out
