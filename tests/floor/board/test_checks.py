"""Checks on someone in a space: when one falls due and turns red, recording it, and a missed
check escalated to the shift lead once per due time until someone answers it."""

from __future__ import annotations

import pytest

from saferoom.core.errors import ActionRefused
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, Escalation, SessionCheck
from tests.floor.board.conftest import assign, at, audits


@pytest.fixture
def session(visit, nurse) -> ConsumptionSession:
    """In Booth 1 from 14:01; the first check is due at 14:06, red from 14:08, and goes to the
    shift lead at 14:10 (Riverside's defaults: every 5 minutes, red after 2, escalate after 4)."""
    return assign(visit, "Booth 1", by=nurse)


@pytest.mark.parametrize(
    ("minutes", "status"),
    [(1, "ok"), (5.99, "ok"), (6, "due"), (7.99, "due"), (8, "overdue"), (30, "overdue")],
)
def test_a_check_is_due_at_its_time_and_overdue_after_the_sites_grace(
    site_a, session, minutes, status
):
    assert board.check_status(session, site=site_a, now=at(minutes)) == status
    seat = board.board_snapshot(site_a, at(minutes)).spaces[0].seats[0]
    assert seat.check_status == status
    # The board's JavaScript counts from these two timestamps and must agree.
    assert (seat.next_check_due_at, seat.overdue_at) == (at(6), at(8))


def test_the_overdue_grace_is_the_sites_setting(site_a, session):
    site_a.check_overdue_minutes = 3
    assert board.check_status(session, site=site_a, now=at(8)) == "due"
    assert board.check_status(session, site=site_a, now=at(9)) == "overdue"


def test_recording_a_check_on_time_sets_the_next_one_an_interval_later(site_a, session, nurse2):
    version = board.board_version(site_a)

    check = board.record_check(session=session, by=nurse2, at=at(5))

    assert (check.at, check.by, check.outcome, check.was_overdue) == (at(5), nurse2, "ok", False)
    session.refresh_from_db()
    assert (session.last_check_at, session.next_check_due_at) == (at(5), at(10))
    assert audits("session.checked") == 1
    assert board.board_version(site_a) == version + 1


def test_a_late_check_is_recorded_as_overdue(site_a, session, nurse):
    assert not board.record_check(session=session, by=nurse, at=at(7)).was_overdue
    # Due 14:12 now; red from 14:14.
    assert board.record_check(session=session, by=nurse, at=at(14.5), outcome="roused").was_overdue
    assert list(SessionCheck.objects.values_list("outcome", flat=True)) == ["ok", "roused"]


def test_checking_a_session_that_has_ended_is_refused(site_a, session, nurse):
    board.end_session(session=session, by=nurse, at=at(4))
    version = board.board_version(site_a)

    with pytest.raises(ActionRefused) as refusal:
        board.record_check(session=session, by=nurse, at=at(5))

    assert refusal.value.code == "session_ended"
    assert refusal.value.message == (
        f"{session.visit.client.display_code}'s session ended at 14:04: there is nobody in "
        "Booth 1 to check. The board has been refreshed."
    )
    assert not SessionCheck.objects.exists()
    assert board.board_version(site_a) == version


@pytest.mark.parametrize("outcome", ["", "fine", "<script>alert(1)</script>"])
def test_a_check_with_an_outcome_not_on_the_list_is_refused(session, nurse, outcome):
    with pytest.raises(ActionRefused) as refusal:
        board.record_check(session=session, by=nurse, outcome=outcome, at=at(5))
    assert refusal.value.code == "bad_outcome"
    assert not SessionCheck.objects.exists()


def test_a_check_before_the_session_began_is_refused(session, nurse):
    with pytest.raises(ActionRefused) as refusal:
        board.record_check(session=session, by=nurse, at=at(0))
    assert refusal.value.code == "bad_time"


# Escalation -----------------------------------------------------------------------------------


def test_a_missed_check_is_not_escalated_before_due_plus_the_sites_minutes(site_a, session):
    assert board.escalate_overdue_checks(site=site_a, at=at(9.99)) == 0
    assert not Escalation.objects.exists()


def test_a_missed_check_goes_to_the_shift_lead_once(site_a, session, nurse, manager):
    board.set_shift_lead(site=site_a, user=manager, by=nurse, at=at(0))
    version = board.board_version(site_a)

    assert board.escalate_overdue_checks(site=site_a, at=at(10)) == 1
    assert board.escalate_overdue_checks(site=site_a, at=at(11)) == 0

    escalation = Escalation.objects.get()
    assert (escalation.session, escalation.site, escalation.to_user) == (session, site_a, manager)
    assert (escalation.due_at, escalation.escalated_at) == (at(6), at(10))
    assert escalation.acknowledged_at is None
    session.refresh_from_db()
    assert session.escalated_at == at(10)
    assert audits("escalation.raised") == 1
    assert board.board_version(site_a) == version + 1
    snapshot = board.board_snapshot(site_a, at(11))
    assert snapshot.escalations == [escalation]
    assert snapshot.spaces[0].seats[0].escalated


def test_without_a_shift_lead_an_escalation_goes_to_all_floor_staff(site_a, session):
    board.escalate_overdue_checks(site=site_a, at=at(10))
    assert Escalation.objects.get().to_user is None


def test_a_check_answers_the_escalation_and_the_next_miss_escalates_again(site_a, session, nurse):
    board.escalate_overdue_checks(site=site_a, at=at(10))

    board.record_check(session=session, by=nurse, at=at(11))

    escalation = Escalation.objects.get()
    assert (escalation.acknowledged_at, escalation.acknowledged_by) == (at(11), nurse)
    assert board.board_snapshot(site_a, at(12)).escalations == []
    # Next due 14:16; missed again, it escalates again at 14:20, as a new escalation.
    assert board.escalate_overdue_checks(site=site_a, at=at(19)) == 0
    assert board.escalate_overdue_checks(site=site_a, at=at(20)) == 1
    assert list(Escalation.objects.values_list("due_at", flat=True)) == [at(6), at(16)]


def test_acknowledging_an_escalation_records_who_and_when_once(site_a, session, manager, nurse):
    board.escalate_overdue_checks(site=site_a, at=at(10))
    escalation = Escalation.objects.get()
    version = board.board_version(site_a)

    board.acknowledge_escalation(escalation=escalation, by=manager, at=at(10.5))

    escalation.refresh_from_db()
    assert (escalation.acknowledged_at, escalation.acknowledged_by) == (at(10.5), manager)
    assert audits("escalation.acknowledged") == 1
    assert board.board_version(site_a) == version + 1
    with pytest.raises(ActionRefused) as refusal:
        board.acknowledge_escalation(escalation=escalation, by=nurse, at=at(11))
    assert refusal.value.code == "already_acknowledged"
    assert refusal.value.message == "mo.manager already acknowledged this at 14:10."
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == manager
    # Acknowledging is not a check: the person still needs one.
    assert board.check_status(session, site=site_a, now=at(11)) == "overdue"


def test_a_session_in_an_emergency_is_not_escalated(site_a, session, nurse):
    board.start_emergency(session=session, by=nurse, at=at(3))
    assert board.escalate_overdue_checks(site=site_a, at=at(30)) == 0


def test_ending_the_session_answers_its_escalation(site_a, session, nurse):
    board.escalate_overdue_checks(site=site_a, at=at(10))
    board.end_session(session=session, by=nurse, at=at(11))
    assert Escalation.objects.get().acknowledged_by == nurse


def test_escalation_at_one_site_leaves_the_others_alone(site_a, site_b, session, arrive, nurse):
    other = arrive(site_b)
    board.assign_space(visit=other, space=site_b.spaces.get(name="Booth 1"), by=nurse, at=at(1))
    version_b = board.board_version(site_b)
    assert board.escalate_overdue_checks(site=site_a, at=at(10)) == 1
    assert Escalation.objects.get().site == site_a
    assert board.board_version(site_b) == version_b
