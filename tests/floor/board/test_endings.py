"""How a session ends: into after-care (or straight out), the seat's clear-down, marking a seat
cleaned early, check-out from wherever the person is, closing time, and the emergency control."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from saferoom.core.errors import ActionRefused
from saferoom.floor import actions, board
from saferoom.floor.board import SeatView
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Site
from tests.floor.board.conftest import assign, at, audits, space


def seat(site: Site, name: str, number: int = 1, *, now: dt.datetime | None = None) -> SeatView:
    snapshot = board.board_snapshot(site, now or timezone.now())
    return next(
        s for v in snapshot.spaces for s in v.seats if v.space.name == name and s.seat == number
    )


@pytest.fixture
def session(visit, nurse) -> ConsumptionSession:
    return assign(visit, "Booth 1", by=nurse)


def test_ending_a_session_moves_the_person_to_after_care_and_cleans_the_booth(
    site_a, visit, session, nurse2
):
    version = board.board_version(site_a)

    ended = board.end_session(session=session, by=nurse2, at=at(12))

    assert (ended.ended_at, ended.ended_by, ended.end_reason) == (at(12), nurse2, "finished")
    assert ended.clear_down_until == at(14)  # a booth's two minutes of cleaning
    visit.refresh_from_db()
    assert (visit.state, visit.aftercare_started_at, visit.ended_at) == ("aftercare", at(12), None)
    assert audits("session.ended") == 1
    assert board.board_version(site_a) == version + 1
    snapshot = board.board_snapshot(site_a, at(13))
    assert [v.pk for v in snapshot.aftercare] == [visit.pk]


def test_the_seat_is_in_clear_down_until_its_time_and_then_free(site_a, smoker, nurse, afternoon):
    afternoon.move_to(at(1))
    session = board.assign_space(
        visit=smoker, space=space(site_a, "Smoking room"), seat=2, by=nurse
    )
    afternoon.move_to(at(15))
    ended = board.end_session(session=session, by=nurse)
    assert ended.clear_down_until is not None
    assert ended.ended_at is not None
    assert ended.clear_down_until - ended.ended_at == dt.timedelta(minutes=10)

    view = seat(site_a, "Smoking room", 2)
    assert (view.state, view.clear_down_until) == ("clear_down", ended.clear_down_until)
    assert seat(site_a, "Smoking room", 1).state == "free"
    afternoon.move_to(at(24.9))
    assert seat(site_a, "Smoking room", 2).state == "clear_down"
    afternoon.move_to(ended.clear_down_until)
    assert seat(site_a, "Smoking room", 2).state == "free"


def test_ending_a_session_twice_is_refused_with_the_time_it_ended(site_a, session, nurse):
    board.end_session(session=session, by=nurse, at=at(12))
    version = board.board_version(site_a)

    with pytest.raises(ActionRefused) as refusal:
        board.end_session(session=session, by=nurse, at=at(13))

    assert refusal.value.code == "already_ended"
    assert refusal.value.message == (
        f"{session.visit.client.display_code}'s session already ended at 14:12. "
        "The board has been refreshed."
    )
    session.refresh_from_db()
    assert session.ended_at == at(12)
    assert audits("session.ended") == 1
    assert board.board_version(site_a) == version


def test_a_session_cannot_end_before_it_began(session, nurse):
    with pytest.raises(ActionRefused) as refusal:
        board.end_session(session=session, by=nurse, at=at(0))
    assert refusal.value.code == "bad_time"
    assert ConsumptionSession.objects.get().ended_at is None


def test_someone_who_leaves_straight_from_the_booth_is_checked_out(site_a, visit, session, nurse):
    board.end_session(session=session, by=nurse, at=at(12), to_aftercare=False)
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason, visit.ended_at) == ("left", "checked_out", at(12))
    assert audits("visit.checked_out") == 1


def test_after_care_then_check_out_ends_the_visit(site_a, visit, session, nurse, desk):
    board.end_session(session=session, by=nurse, at=at(12))
    version = board.board_version(site_a)

    actions.check_out(visit=visit, by=desk, at=at(30))

    visit.refresh_from_db()
    assert (visit.state, visit.end_reason, visit.ended_at) == ("left", "checked_out", at(30))
    assert visit.aftercare_started_at == at(12)
    assert board.board_version(site_a) == version + 1
    assert board.board_snapshot(site_a, at(31)).aftercare == []


def test_checking_out_from_a_booth_ends_the_session_and_starts_the_clear_down(
    site_a, visit, session, desk
):
    actions.check_out(visit=visit, by=desk, at=at(9))

    session.refresh_from_db()
    assert (session.ended_at, session.end_reason, session.ended_by) == (at(9), "left", desk)
    assert session.clear_down_until == at(11)
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason) == ("left", "checked_out")
    assert seat(site_a, "Booth 1", now=at(10)).state == "clear_down"
    assert audits("session.ended") == 1


def test_a_check_out_dated_before_the_session_began_is_refused(site_a, visit, session, desk):
    with pytest.raises(ActionRefused) as refusal:
        actions.check_out(visit=visit, by=desk, at=at(0.5))
    assert refusal.value.code == "bad_time"
    assert ConsumptionSession.objects.get().ended_at is None
    assert Visit.objects.get(pk=visit.pk).state == "in_space"


def test_closing_time_ends_open_sessions_and_visits(site_a, arrive, nurse):
    in_booth = arrive(site_a)
    assign(in_booth, "Booth 1", by=nurse)
    in_aftercare = arrive(site_a)
    board.end_session(session=assign(in_aftercare, "Booth 2", by=nurse), by=nurse, at=at(5))
    waiting = arrive(site_a)
    version = board.board_version(site_a)
    closing = at(7 * 60)

    assert actions.close_open_visits(site=site_a, at=closing) == 3

    open_session = ConsumptionSession.objects.get(visit=in_booth)
    assert (open_session.ended_at, open_session.end_reason) == (closing, "closing")
    assert open_session.ended_by is None
    assert ConsumptionSession.objects.get(visit=in_aftercare).end_reason == "finished"
    for visit in (in_booth, in_aftercare, waiting):
        visit.refresh_from_db()
        assert (visit.state, visit.end_reason) == ("left", "left_without_checkout")
    assert audits("session.ended") == 2
    assert board.board_version(site_a) == version + 1
    assert board.board_snapshot(site_a, closing).count("occupied") == 0


# Clear-down done early ------------------------------------------------------------------------


def test_marking_a_booth_cleaned_frees_it_before_its_time(site_a, session, nurse):
    board.end_session(session=session, by=nurse, at=at(10))
    version = board.board_version(site_a)

    board.finish_clear_down(space=space(site_a, "Booth 1"), seat=1, by=nurse, at=at(11))

    assert seat(site_a, "Booth 1", now=at(11)).state == "free"
    assert ConsumptionSession.objects.get().clear_down_until == at(11)
    assert audits("seat.cleaned") == 1
    assert board.board_version(site_a) == version + 1


def test_marking_one_seat_of_the_inhalation_room_aired_leaves_the_others(site_a, arrive, nurse):
    room = space(site_a, "Smoking room")
    for number in (1, 2):
        person = arrive(site_a, route="smoke")
        session = board.assign_space(visit=person, space=room, seat=number, by=nurse, at=at(1))
        board.end_session(session=session, by=nurse, at=at(5))

    board.finish_clear_down(space=room, seat=2, by=nurse, at=at(6))

    assert seat(site_a, "Smoking room", 1, now=at(6)).state == "clear_down"
    assert seat(site_a, "Smoking room", 2, now=at(6)).state == "free"


def test_marking_a_free_seat_cleaned_is_refused(site_a, nurse):
    with pytest.raises(ActionRefused) as refusal:
        board.finish_clear_down(space=space(site_a, "Booth 2"), seat=1, by=nurse, at=at(1))
    assert refusal.value.code == "not_clearing"
    assert refusal.value.message == "Booth 2 is not being cleared down: it is ready already."
    assert audits("seat.cleaned") == 0


def test_marking_an_occupied_seat_cleaned_is_refused(site_a, session, nurse):
    with pytest.raises(ActionRefused) as refusal:
        board.finish_clear_down(space=space(site_a, "Booth 1"), seat=1, by=nurse, at=at(2))
    assert refusal.value.code == "occupied"
    assert ConsumptionSession.objects.get().ended_at is None


def test_marking_a_seat_that_does_not_exist_cleaned_is_refused(site_a, nurse):
    with pytest.raises(ActionRefused) as refusal:
        board.finish_clear_down(space=space(site_a, "Smoking room"), seat=9, by=nurse, at=at(1))
    assert refusal.value.code == "bad_seat"


# The emergency control ------------------------------------------------------------------------


def test_the_emergency_control_marks_the_session_and_every_board_shows_it(site_a, session, nurse2):
    version = board.board_version(site_a)

    marked = board.start_emergency(session=session, by=nurse2, at=at(4))

    assert (marked.emergency_at, marked.emergency_by, marked.ended_at) == (at(4), nurse2, None)
    assert audits("session.emergency_started") == 1
    assert board.board_version(site_a) == version + 1
    view = seat(site_a, "Booth 1", now=at(5))
    assert (view.state, view.emergency, view.emergency_at) == ("occupied", True, at(4))
    assert board.board_snapshot(site_a, at(5)).emergencies == [view]


def test_starting_an_emergency_twice_is_refused(site_a, session, nurse, nurse2):
    board.start_emergency(session=session, by=nurse, at=at(4))
    with pytest.raises(ActionRefused) as refusal:
        board.start_emergency(session=session, by=nurse2, at=at(4.5))
    assert refusal.value.code == "already_emergency"
    assert refusal.value.message == (
        f"An emergency for {session.visit.client.display_code} in Booth 1 was already "
        "started at 14:04."
    )
    assert ConsumptionSession.objects.get().emergency_by == nurse
    assert audits("session.emergency_started") == 1


def test_an_emergency_on_an_ended_session_is_refused(session, nurse):
    board.end_session(session=session, by=nurse, at=at(3))
    with pytest.raises(ActionRefused) as refusal:
        board.start_emergency(session=session, by=nurse, at=at(4))
    assert refusal.value.code == "session_ended"
    assert ConsumptionSession.objects.get().emergency_at is None


def test_a_session_ended_after_an_emergency_says_so(session, nurse):
    board.start_emergency(session=session, by=nurse, at=at(4))
    ended = board.end_session(session=session, by=nurse, at=at(30), to_aftercare=False)
    assert ended.end_reason == "emergency"
