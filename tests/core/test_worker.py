"""``saferoom worker``: purges old keys and sessions, and closes visits left open at closing,
once per site and closing, however many workers run."""

from __future__ import annotations

import datetime as dt
import os
import signal
import uuid
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from saferoom.accounts.models import LoginSession as Session
from saferoom.accounts.sessions import SessionStore
from saferoom.core import jobs
from saferoom.core.models import AuditEvent, IdempotencyKey, JobRun, User
from saferoom.floor.actions import check_in
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site

LONDON = ZoneInfo("Europe/London")
# Riverside (the test site) is open 09:00–21:00 every day.
EVENING = dt.datetime(2026, 3, 10, 20, 0, tzinfo=LONDON)
CLOSING = dt.datetime(2026, 3, 10, 21, 0, tzinfo=LONDON)
NEXT_MORNING = dt.datetime(2026, 3, 11, 10, 0, tzinfo=LONDON)

pytestmark = pytest.mark.django_db


def worker(*args: str) -> str:
    out = StringIO()
    call_command("worker", *args, stdout=out)
    return out.getvalue()


def anonymous_visit(site: Site, by: User, at: dt.datetime) -> Visit:
    heroin = CatalogueItem.objects.get(network=site.network, kind="substance", code="heroin")
    return check_in(
        site=site,
        client=None,
        anonymous=True,
        planned_route="inject",
        planned_substances=[heroin],
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"old_enough": True, "first_time": False, "intoxicated": False},
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
    )


def test_one_pass_purges_expired_idempotency_keys_and_keeps_fresh_ones(desk):
    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    for hours_ago in (100, 1):
        IdempotencyKey.objects.create(
            key=uuid.uuid4(),
            user=desk,
            action="visit.check_in",
            fingerprint="x",
            object_type="floor.visit",
            object_id=1,
            created_at=now - dt.timedelta(hours=hours_ago),
        )
    with time_machine.travel(now, tick=False):
        out = worker("--once")
    assert "purge_idempotency_keys: 1 expired keys deleted" in out
    assert list(IdempotencyKey.objects.values_list("created_at", flat=True)) == [
        now - dt.timedelta(hours=1)
    ]


def test_one_pass_clears_expired_sessions():
    expired = SessionStore()
    expired.set_expiry(1)
    expired.create()
    live = SessionStore()
    live.create()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5), tick=False):
        out = worker("--once")
    assert "clear_expired_sessions: 1 expired sessions deleted" in out
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_visits_still_open_at_closing_are_closed_once(site_a, desk):
    with time_machine.travel(EVENING, tick=False):
        visit = anonymous_visit(site_a, desk, EVENING)
    with time_machine.travel(NEXT_MORNING, tick=False):
        out = worker("--once")
    assert "close_open_visits: 1 open visits closed" in out
    visit.refresh_from_db()
    assert visit.state == Visit.State.LEFT
    assert visit.end_reason == Visit.EndReason.LEFT_WITHOUT_CHECKOUT
    assert visit.ended_at == CLOSING
    assert JobRun.objects.get(site_id=site_a.pk, period_end=CLOSING).count == 1

    with time_machine.travel(NEXT_MORNING + dt.timedelta(minutes=1), tick=False):
        out = worker("--once")
    assert "close_open_visits: 0 open visits closed after 0 closing(s)" in out
    assert AuditEvent.objects.filter(action="visit.closed_at_closing").count() == 1
    assert JobRun.objects.filter(site_id=site_a.pk, period_end=CLOSING).count() == 1


def test_visits_at_a_site_that_is_still_open_are_left_alone(site_a, desk):
    morning = dt.datetime(2026, 3, 11, 9, 30, tzinfo=LONDON)
    with time_machine.travel(morning, tick=False):
        visit = anonymous_visit(site_a, desk, morning)
        worker("--once")
    visit.refresh_from_db()
    assert visit.state == Visit.State.WAITING


def test_a_closing_claimed_by_another_worker_is_not_done_again(site_a, desk):
    with time_machine.travel(EVENING, tick=False):
        visit = anonymous_visit(site_a, desk, EVENING)
    # Another worker got there first (its own transaction holds the claim).
    JobRun.objects.create(
        job=jobs.CLOSE_OPEN_VISITS, site_id=site_a.pk, period_end=CLOSING, ran_at=CLOSING
    )
    with time_machine.travel(NEXT_MORNING, tick=False):
        worker("--once")
    visit.refresh_from_db()
    assert visit.state == Visit.State.WAITING
    assert not AuditEvent.objects.filter(action="visit.closed_at_closing").exists()


def test_the_claim_is_a_database_constraint(site_a):
    from django.db import IntegrityError, transaction

    JobRun.objects.create(
        job="close_open_visits", site_id=site_a.pk, period_end=CLOSING, ran_at=CLOSING
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        JobRun.objects.create(
            job="close_open_visits", site_id=site_a.pk, period_end=CLOSING, ran_at=CLOSING
        )


def test_closings_include_periods_that_end_after_midnight(site_a):
    site_a.opening_hours.update(opens=dt.time(18), closes=dt.time(3))
    now = dt.datetime(2026, 3, 11, 4, 0, tzinfo=LONDON)
    ends = jobs.closings(site_a, now=now, lookback=dt.timedelta(hours=12))
    assert ends == [dt.datetime(2026, 3, 11, 3, 0, tzinfo=LONDON)]


def test_a_failing_job_is_logged_and_the_others_still_run(monkeypatch, caplog):
    def broken(now):
        raise RuntimeError("client K7F-29Q")  # the message must not reach the log

    monkeypatch.setattr(jobs, "JOBS", (broken, jobs.purge_idempotency_keys))
    out = worker("--once")
    assert "broken: 0 FAILED (RuntimeError)" in out
    assert "purge_idempotency_keys" in out
    assert "K7F-29Q" not in out + caplog.text
    assert "Job broken failed: RuntimeError" in caplog.text


def test_sigterm_lets_the_pass_finish_and_stops_the_worker(monkeypatch):
    from saferoom.core.management.commands import worker as worker_module

    def sleep_then_terminate(seconds):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(worker_module, "pause", sleep_then_terminate)
    before = signal.getsignal(signal.SIGTERM)
    out = worker("--interval", "5")
    assert "purge_idempotency_keys" in out
    assert "finishing the current pass, then stopping" in out
    assert out.rstrip().endswith("saferoom worker stopped.")
    assert signal.getsignal(signal.SIGTERM) == before


def test_the_interval_must_be_positive():
    with pytest.raises(CommandError, match="at least 1 second"):
        worker("--interval", "0")


def test_a_check_missed_past_the_escalation_time_goes_to_the_shift_lead_once(site_a, desk, nurse):
    from saferoom.floor import board
    from saferoom.floor.models import Escalation

    visit = anonymous_visit(site_a, desk, EVENING)
    booth = site_a.spaces.get(name="Booth 1")
    session = board.assign_space(visit=visit, space=booth, by=nurse, at=EVENING)
    board.set_shift_lead(site=site_a, user=nurse, by=nurse, at=EVENING)
    due = session.next_check_due_at
    just_before = due + dt.timedelta(minutes=site_a.check_escalate_minutes, seconds=-1)
    with time_machine.travel(just_before, tick=False):
        assert "escalate_overdue_checks: 0" in worker("--once")
    with time_machine.travel(due + dt.timedelta(minutes=site_a.check_escalate_minutes), tick=False):
        assert "escalate_overdue_checks: 1 missed checks escalated" in worker("--once")
        worker("--once")
    escalation = Escalation.objects.get()
    assert (escalation.session, escalation.due_at, escalation.to_user) == (session, due, nurse)
