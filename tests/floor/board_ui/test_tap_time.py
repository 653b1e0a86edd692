"""A board tap sent late keeps the time it was made (the offline outbox sends it with ``at``):
a check done in time counts as done in time, whatever the board escalated meanwhile, and the
time is believed only within bounds (not in the future, not over 48 hours old, not before the
session). A refusal answers 422 and writes nothing; the same tap sent again with another
``at`` is the same tap."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from saferoom.core.models import AuditEvent, User
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, Escalation, SessionCheck
from tests.conftest import login
from tests.floor.board_ui.conftest import HTMX, key, url
from tests.floor.board_ui.test_actions import alert, notice, written
from tests.floor.conftest import AFTERNOON


def minute(n: float) -> dt.datetime:
    """A moment of the afternoon, ``n`` minutes after 14:00 (London is on UTC in March)."""
    return AFTERNOON + dt.timedelta(minutes=n)


def instant(moment: dt.datetime) -> str:
    """The ``at`` outbox.js sends: an instant in UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check_form(
    session: ConsumptionSession, at: dt.datetime | str | None, **extra: str
) -> dict[str, object]:
    data: dict[str, object] = {"idempotency_key": str(uuid.uuid4()), "session": session.pk, **extra}
    if at is not None:
        data["at"] = at if isinstance(at, str) else instant(at)
    return data


@pytest.fixture
def clock():
    with time_machine.travel(AFTERNOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clock, site_a, arrive, seat_in) -> ConsumptionSession:
    """In Booth 1 from 14:00: a check is due at 14:05, red from 14:07, escalated from 14:09."""
    made: ConsumptionSession = seat_in(arrive(site_a), "Booth 1")
    return made


def arrives_at(clock, moment: dt.datetime, nurse: User):
    """The network is back at ``moment``: a fresh login (an idle one would have timed out)."""
    clock.move_to(moment)
    return login(nurse)


def test_a_check_done_in_time_and_sent_late_counts_as_done_in_time(site_a, clock, session, nurse):
    # Tapped at 14:04, in time; the tablet has no network until 14:20. Meanwhile the worker
    # passes the "missed" check to the shift lead.
    clock.move_to(minute(20))
    assert board.escalate_overdue_checks(site=site_a, at=minute(20)) == 1

    response = arrives_at(clock, minute(20), nurse).post(
        url(site_a, "check"), check_form(session, minute(4)), **HTMX
    )

    assert response.status_code == 200
    code = session.visit.client.display_code
    assert notice(response.content.decode()) == (
        f"Check recorded for {code} in Booth 1 at 14:04: All right."
    )
    check = SessionCheck.objects.get(session=session)
    assert (check.at, check.was_overdue, check.by) == (minute(4), False, nurse)
    session.refresh_from_db()
    # The next one was due 14:09 and is overdue now: the board says so, as it should.
    assert (session.last_check_at, session.next_check_due_at) == (minute(4), minute(9))
    # The escalation stays as it was raised; it was answered when the check arrived.
    escalation = Escalation.objects.get()
    assert (escalation.due_at, escalation.escalated_at) == (minute(5), minute(20))
    assert (escalation.acknowledged_at, escalation.acknowledged_by) == (minute(20), nurse)
    event = AuditEvent.objects.get(action="session.checked")
    assert event.at == minute(4)
    assert event.detail["was_overdue"] is False
    assert event.detail["received_at"] == minute(20).isoformat()


def test_without_a_time_the_check_is_timed_when_it_arrives(site_a, clock, session, nurse):
    clock.move_to(minute(3))
    response = arrives_at(clock, minute(3), nurse).post(
        url(site_a, "check"), check_form(session, None), **HTMX
    )
    assert response.status_code == 200
    assert SessionCheck.objects.get().at == minute(3)
    assert "received_at" not in AuditEvent.objects.get(action="session.checked").detail


def test_the_sites_local_time_is_read_as_well(site_a, clock, session, nurse):
    response = arrives_at(clock, minute(10), nurse).post(
        url(site_a, "check"), check_form(session, "2026-03-10T14:04:30"), **HTMX
    )
    assert response.status_code == 200
    assert SessionCheck.objects.get().at == minute(4.5)


def test_the_same_tap_sent_again_with_another_time_is_the_same_check(site_a, clock, session, nurse):
    nurse_client = arrives_at(clock, minute(8), nurse)
    form = check_form(session, minute(4))
    first = nurse_client.post(url(site_a, "check"), form, **HTMX)
    again = nurse_client.post(url(site_a, "check"), {**form, "at": instant(minute(6))}, **HTMX)

    assert first.status_code == again.status_code == 200
    assert notice(again.content.decode()) == notice(first.content.decode())
    assert SessionCheck.objects.get().at == minute(4)
    assert AuditEvent.objects.filter(action="session.checked").count() == 1


def test_the_same_tap_sent_again_after_its_time_is_out_of_bounds_is_still_answered(
    site_a, clock, session, nurse
):
    form = check_form(session, minute(4))
    arrives_at(clock, minute(8), nurse).post(url(site_a, "check"), form, **HTMX)
    # The answer was lost; the tablet sends it again the next morning.
    response = arrives_at(clock, minute(20 * 60), nurse).post(url(site_a, "check"), form, **HTMX)
    assert response.status_code == 200
    assert SessionCheck.objects.count() == 1


@pytest.mark.parametrize(
    ("tapped", "said"),
    [
        (
            minute(12),
            "The time of this tap, 14:12:00, is in the future: this tablet's clock is wrong. "
            "Nothing was recorded: set the clock right, then record it again.",
        ),
        (
            minute(-1),
            "The time of this tap, 13:59:00, is before the session began (14:00:00). Nothing "
            "was recorded: check this tablet's clock.",
        ),
        ("yesterday", "The time of this tap could not be read. Nothing was recorded: record it"),
    ],
)
def test_a_time_out_of_bounds_is_refused_and_nothing_is_written(
    site_a, clock, session, tapped, said, nurse
):
    nurse_client = arrives_at(clock, minute(10), nurse)
    before, version = written(), board.board_version(site_a)

    response = nurse_client.post(url(site_a, "check"), check_form(session, tapped), **HTMX)

    assert response.status_code == 422
    assert said in alert(response.content.decode())
    assert not SessionCheck.objects.exists()
    assert (written(), board.board_version(site_a)) == (before, version)
    session.refresh_from_db()
    assert session.last_check_at is None


def test_a_clock_a_little_ahead_of_the_servers_is_believed(site_a, clock, session, nurse):
    response = arrives_at(clock, minute(4), nurse).post(
        url(site_a, "check"), check_form(session, minute(4.5)), **HTMX
    )
    assert response.status_code == 200
    assert SessionCheck.objects.get().at == minute(4.5)


def test_a_tap_more_than_two_days_old_is_refused(site_a, arrive, seat_in, nurse):
    with time_machine.travel(AFTERNOON + dt.timedelta(hours=5), tick=False) as clock:
        session = seat_in(arrive(site_a), "Booth 2")  # 19:00
        tapped = AFTERNOON + dt.timedelta(hours=5, minutes=3)
        response = arrives_at(clock, tapped + dt.timedelta(hours=48, minutes=1), nurse).post(
            url(site_a, "check"), check_form(session, tapped), **HTMX
        )
    assert response.status_code == 422
    assert alert(response.content.decode()).startswith(
        "This was tapped at 10 Mar 19:03, more than 48 hours ago: too long ago to record it "
        "at that time. Nothing was recorded"
    )
    assert not SessionCheck.objects.exists()


def test_a_late_check_behind_a_colleagues_later_one_does_not_move_the_schedule_back(
    site_a, clock, session, nurse2, nurse
):
    board.record_check(session=session, by=nurse2, at=minute(6))  # next due 14:11

    response = arrives_at(clock, minute(8), nurse).post(
        url(site_a, "check"), check_form(session, minute(4)), **HTMX
    )

    assert response.status_code == 200
    assert list(SessionCheck.objects.values_list("at", "was_overdue")) == [
        (minute(4), False),
        (minute(6), False),
    ]
    session.refresh_from_db()
    assert (session.last_check_at, session.next_check_due_at) == (minute(6), minute(11))


def test_a_late_check_that_was_itself_overdue_says_so(site_a, clock, session, nurse2, nurse):
    board.record_check(session=session, by=nurse2, at=minute(12))
    # Tapped at 14:08 (red since 14:07), arriving after the 14:12 check.
    arrives_at(clock, minute(13), nurse).post(
        url(site_a, "check"), check_form(session, minute(8)), **HTMX
    )
    assert SessionCheck.objects.get(at=minute(8)).was_overdue is True


def test_a_check_done_before_a_colleague_ended_the_session_is_still_recorded(
    site_a, clock, session, nurse2, nurse
):
    board.end_session(session=session, by=nurse2, at=minute(6))
    nurse_client = arrives_at(clock, minute(8), nurse)

    done_before = nurse_client.post(url(site_a, "check"), check_form(session, minute(4)), **HTMX)
    done_after = nurse_client.post(url(site_a, "check"), check_form(session, minute(7)), **HTMX)

    assert done_before.status_code == 200
    assert done_after.status_code == 422
    assert "there is nobody in Booth 1 to check" in alert(done_after.content.decode())
    assert list(SessionCheck.objects.values_list("at", flat=True)) == [minute(4)]
    session.refresh_from_db()
    assert session.ended_at == minute(6)


def test_ending_a_session_keeps_the_time_of_its_tap(site_a, clock, session, nurse):
    response = arrives_at(clock, minute(30), nurse).post(
        url(site_a, "end"), check_form(session, minute(3)), **HTMX
    )
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.ended_at == minute(3)
    assert session.visit.aftercare_started_at == minute(3)
    assert AuditEvent.objects.get(action="session.ended").at == minute(3)


def test_freeing_a_seat_keeps_the_time_of_its_tap(site_a, clock, arrive, seat_in, nurse):
    smoker = seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=2)
    board.end_session(session=smoker, by=nurse, at=minute(1))  # aired until 14:11

    response = arrives_at(clock, minute(8), nurse).post(
        url(site_a, "cleaned"),
        {
            "idempotency_key": str(uuid.uuid4()),
            "target": key(site_a, "Smoking room", 2),
            "at": instant(minute(4)),
        },
        **HTMX,
    )

    assert response.status_code == 200
    smoker.refresh_from_db()
    assert smoker.clear_down_until == minute(4)
    assert AuditEvent.objects.get(action="seat.cleaned").at == minute(4)


def test_ending_a_session_with_a_time_before_it_began_is_refused(site_a, clock, session, nurse):
    response = arrives_at(clock, minute(5), nurse).post(
        url(site_a, "end"), check_form(session, minute(-2)), **HTMX
    )
    assert response.status_code == 422
    assert "is before the session began" in alert(response.content.decode())
    session.refresh_from_db()
    assert session.ended_at is None


def test_a_tap_is_refused_for_its_age_before_its_idempotency_key_is_forgotten(settings):
    # A tap sent again after the server forgot its key must be refused, not recorded twice.
    from saferoom.core.tap_time import MAX_AGE

    assert dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS) > MAX_AGE
