"""Assigning a waiting person to a seat, and every reason the board refuses one. A refusal says
what to do in words and changes nothing: no session, the visit still waiting, no audit event,
the board version where it was."""

from __future__ import annotations

import datetime as dt

import pytest

from saferoom.core.errors import ActionRefused
from saferoom.floor import actions, board
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Space
from tests.floor.board.conftest import assign, at, audits, space


def refused(visit, name, *, by, seat=1, minutes=1.0, site=None) -> ActionRefused:
    """Try the assignment, expect a refusal, and prove it changed nothing."""
    target = space(site or visit.site, name)
    version = board.board_version(visit.site)
    sessions = ConsumptionSession.objects.count()
    state = Visit.objects.get(pk=visit.pk).state
    started = audits("session.started")
    with pytest.raises(ActionRefused) as refusal:
        board.assign_space(visit=visit, space=target, seat=seat, by=by, at=at(minutes))
    assert ConsumptionSession.objects.count() == sessions
    assert Visit.objects.get(pk=visit.pk).state == state
    assert audits("session.started") == started
    assert board.board_version(visit.site) == version
    return refusal.value


def test_assigning_a_waiting_person_starts_their_session_in_the_booth(site_a, visit, nurse):
    version = board.board_version(site_a)

    session = assign(visit, "Booth 2", by=nurse)

    assert (session.space.name, session.seat, session.route) == ("Booth 2", 1, "inject")
    assert [s.code for s in session.substances.all()] == ["heroin"]
    assert (session.started_at, session.started_by) == (at(1), nurse)
    assert session.check_interval_minutes == site_a.check_interval_booth == 5
    assert session.next_check_due_at == at(6)
    assert session.ended_at is None
    assert session.clear_down_until is None
    visit.refresh_from_db()
    assert visit.state == "in_space"
    assert audits("session.started") == 1
    assert board.board_version(site_a) == version + 1


def test_a_seat_in_the_inhalation_room_is_checked_at_the_rooms_own_interval(site_a, smoker, nurse):
    site_a.check_interval_inhalation = 8
    site_a.save()

    session = assign(smoker, "Smoking room", seat=2, by=nurse)

    assert (session.seat, session.route, session.check_interval_minutes) == (2, "smoke", 8)
    assert session.next_check_due_at == at(9)


def test_three_people_share_the_smoking_rooms_three_seats(site_a, arrive, nurse):
    smokers = [arrive(site_a, route="smoke", code="crack") for _ in range(3)]
    for seat, person in enumerate(smokers, start=1):
        assign(person, "Smoking room", seat=seat, by=nurse)
    assert ConsumptionSession.objects.filter(space__name="Smoking room").count() == 3


def test_a_flexible_space_takes_any_route(site_a, visit, smoker, nurse):
    Space.objects.create(site=site_a, name="Flex A", kind="flexible", sort_order=15)
    Space.objects.create(site=site_a, name="Flex B", kind="flexible", sort_order=16)
    assert assign(visit, "Flex A", by=nurse).route == "inject"
    assert assign(smoker, "Flex B", by=nurse).route == "smoke"


def test_an_occupied_seat_is_refused_naming_who_is_there(site_a, visit, arrive, nurse):
    assign(visit, "Booth 1", by=nurse)
    other = arrive(site_a)

    refusal = refused(other, "Booth 1", by=nurse, minutes=2)

    assert refusal.code == "seat_taken"
    assert refusal.message == (
        f"Booth 1 was just taken by {visit.client.display_code}. The board has been refreshed."
    )


def test_a_seat_taken_by_an_anonymous_visitor_is_refused_without_a_code(
    site_a, arrive, desk, nurse
):
    anonymous = actions.check_in(
        site=site_a,
        client=None,
        anonymous=True,
        planned_route="inject",
        planned_substances=list(site_a.network.catalogue.filter(code="heroin")),
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"first_time": False, "intoxicated": False, "old_enough": True},
        by=desk,
        idempotency_key="6a0c3f38-8d64-4b8e-9e4e-3c1c4c3f2d10",
        at=at(0),
    )
    assign(anonymous, "Booth 1", by=nurse)

    refusal = refused(arrive(site_a), "Booth 1", by=nurse, minutes=2)

    assert refusal.message.startswith("Booth 1 was just taken by an anonymous visitor.")


def test_a_booth_being_cleaned_is_refused_until_its_clear_down_ends(site_a, visit, arrive, nurse):
    board.end_session(session=assign(visit, "Booth 1", by=nurse), by=nurse, at=at(20))
    other = arrive(site_a)

    refusal = refused(other, "Booth 1", by=nurse, minutes=21)

    assert refusal.code == "clear_down"
    assert refusal.message == (
        "Booth 1 is being cleaned until 14:22. "
        "Choose another seat, or mark it cleaned if it is ready."
    )
    # At the end of the clear-down the booth is free again.
    assert assign(other, "Booth 1", by=nurse, minutes=22).space.name == "Booth 1"


def test_a_seat_of_the_inhalation_room_being_ventilated_is_refused(site_a, arrive, nurse):
    first, second = arrive(site_a, route="smoke"), arrive(site_a, route="smoke")
    board.end_session(session=assign(first, "Smoking room", seat=2, by=nurse), by=nurse, at=at(20))

    refusal = refused(second, "Smoking room", seat=2, by=nurse, minutes=25)

    assert refusal.code == "clear_down"
    assert refusal.message.startswith("Smoking room, seat 2 is being ventilated until 14:30.")
    # The other seats are not affected.
    assert assign(second, "Smoking room", seat=1, by=nurse, minutes=25).seat == 1


def test_an_out_of_service_space_is_refused_with_its_reason(site_a, visit, nurse):
    Space.objects.filter(site=site_a, name="Booth 3").update(
        out_of_service=True, out_of_service_reason="broken light"
    )

    refusal = refused(visit, "Booth 3", by=nurse)

    assert refusal.code == "out_of_service"
    assert refusal.message == "Booth 3 is out of service (broken light). Choose another space."


def test_the_after_care_area_is_not_assigned_from_the_queue(site_a, visit, nurse):
    refusal = refused(visit, "Recovery", by=nurse)
    assert refusal.code == "not_assignable"
    assert "Recovery is the after-care area" in refusal.message


def test_smoking_is_refused_in_an_injection_booth(site_a, smoker, nurse):
    refusal = refused(smoker, "Booth 1", by=nurse)
    assert refusal.code == "wrong_route"
    assert refusal.message == (
        "Booth 1 is an injection booth: it is not for smoking. "
        f"Choose an inhalation room or a flexible space for {smoker.client.display_code}."
    )


@pytest.mark.parametrize("route", ["inject", "snort", "oral"])
def test_only_smoking_goes_in_the_inhalation_room(site_a, arrive, nurse, route):
    person = arrive(site_a, route=route)
    refusal = refused(person, "Smoking room", by=nurse)
    assert refusal.code == "wrong_route"
    assert "Smoking room is an inhalation room" in refusal.message


@pytest.mark.parametrize("route", ["snort", "oral"])
def test_a_booth_also_takes_snorting_and_oral_use(site_a, arrive, nurse, route):
    assert assign(arrive(site_a, route=route), "Booth 1", by=nurse).route == route


@pytest.mark.parametrize(
    ("name", "seat", "message"),
    [
        ("Booth 1", 2, "Booth 1 has one seat."),
        ("Booth 1", 0, "Booth 1 has one seat."),
        ("Smoking room", 4, "Smoking room has seats 1 to 3. Choose one of those."),
        ("Smoking room", -1, "Smoking room has seats 1 to 3. Choose one of those."),
        ("Smoking room", "2", "Smoking room has seats 1 to 3. Choose one of those."),
        ("Smoking room", True, "Smoking room has seats 1 to 3. Choose one of those."),
    ],
)
def test_a_seat_number_out_of_range_is_refused(site_a, arrive, nurse, name, seat, message):
    person = arrive(site_a, route="smoke" if name == "Smoking room" else "inject")
    refusal = refused(person, name, seat=seat, by=nurse)
    assert (refusal.code, refusal.message) == ("bad_seat", message)


def test_someone_already_in_a_booth_cannot_be_assigned_again(site_a, visit, nurse):
    assign(visit, "Booth 1", by=nurse)
    refusal = refused(visit, "Booth 2", by=nurse, minutes=2)
    assert refusal.code == "not_waiting"
    assert refusal.message == (
        f"{visit.client.display_code} is already in Booth 1. The board has been refreshed."
    )


def test_someone_in_after_care_cannot_be_assigned(site_a, visit, nurse):
    board.end_session(session=assign(visit, "Booth 1", by=nurse), by=nurse, at=at(10))
    refusal = refused(visit, "Booth 2", by=nurse, minutes=11)
    assert refusal.code == "not_waiting"
    assert refusal.message.startswith(f"{visit.client.display_code} is in after-care now.")


def test_someone_who_has_left_cannot_be_assigned(site_a, visit, desk, nurse):
    actions.leave_queue(visit=visit, by=desk, at=at(3))
    refusal = refused(visit, "Booth 1", by=nurse, minutes=4)
    assert refusal.code == "not_waiting"
    assert "is no longer here: their visit ended at 14:03." in refusal.message


def test_a_visit_of_another_site_is_refused(site_a, site_b, arrive, nurse):
    elsewhere = arrive(site_b)
    refusal = refused(elsewhere, "Booth 1", by=nurse, site=site_a)
    assert refusal.code == "wrong_site"
    assert refusal.message == "Booth 1 is at another site. Choose a space on this board."


def test_a_space_of_another_site_is_refused(site_a, site_b, visit, nurse):
    refusal = refused(visit, "Booth 1", by=nurse, site=site_b)
    assert refusal.code == "wrong_site"


def test_a_session_cannot_start_before_the_person_arrived(site_a, visit, nurse):
    refusal = refused(visit, "Booth 1", by=nurse, minutes=-5)
    assert refusal.code == "bad_time"


# Next free seat --------------------------------------------------------------------------------


def test_next_free_for_injecting_is_the_first_free_booth_in_board_order(site_a, visit, nurse):
    assert board.next_free_seat(visit=visit, at=at(1)) == (space(site_a, "Booth 1"), 1)


def test_next_free_skips_occupied_cleaning_and_out_of_service_booths(site_a, arrive, visit, nurse):
    assign(arrive(site_a), "Booth 1", by=nurse)
    board.end_session(session=assign(arrive(site_a), "Booth 2", by=nurse), by=nurse, at=at(5))
    Space.objects.filter(site=site_a, name="Booth 3").update(out_of_service=True)

    assert board.next_free_seat(visit=visit, at=at(6)) == (space(site_a, "Booth 4"), 1)
    # Once Booth 2's clear-down is over it comes first again.
    assert board.next_free_seat(visit=visit, at=at(7)) == (space(site_a, "Booth 2"), 1)


def test_next_free_for_smoking_fills_the_inhalation_room_seat_by_seat(site_a, arrive, nurse):
    room = space(site_a, "Smoking room")
    for seat in (1, 2, 3):
        person = arrive(site_a, route="smoke")
        assert board.next_free_seat(visit=person, at=at(1)) == (room, seat)
        board.assign_space(visit=person, space=room, seat=seat, by=nurse, at=at(1))
    assert board.next_free_seat(visit=arrive(site_a, route="smoke"), at=at(1)) is None


def test_next_free_falls_back_to_a_flexible_space_when_the_right_kind_is_full(
    site_a, arrive, nurse
):
    flexible = Space.objects.create(site=site_a, name="Flex", kind="flexible", sort_order=0)
    person = arrive(site_a)
    # A flexible space placed first on the board still comes after the booths.
    assert board.next_free_seat(visit=person, at=at(1)) == (space(site_a, "Booth 1"), 1)
    for name in ("Booth 1", "Booth 2", "Booth 3", "Booth 4"):
        assign(arrive(site_a), name, by=nurse)
    assert board.next_free_seat(visit=person, at=at(1)) == (flexible, 1)


def test_accessible_booths_are_kept_for_last_unless_the_person_needs_one(site_a, visit, nurse):
    Space.objects.filter(site=site_a, name="Booth 1").update(accessible=True)

    assert board.next_free_seat(visit=visit, at=at(1)) == (space(site_a, "Booth 2"), 1)
    assert board.next_free_seat(visit=visit, at=at(1), prefer_accessible=True) == (
        space(site_a, "Booth 1"),
        1,
    )
    Space.objects.filter(site=site_a, name__in=["Booth 2", "Booth 3", "Booth 4"]).update(
        out_of_service=True
    )
    assert board.next_free_seat(visit=visit, at=at(1)) == (space(site_a, "Booth 1"), 1)


def test_next_free_is_none_when_nothing_fits(site_a, visit):
    Space.objects.filter(site=site_a, kind="booth").update(out_of_service=True)
    assert board.next_free_seat(visit=visit, at=at(1)) is None


def test_next_free_only_looks_at_the_visits_own_site(site_a, site_b, arrive):
    elsewhere = arrive(site_b)
    found = board.next_free_seat(visit=elsewhere, at=at(1))
    assert found is not None
    assert found[0].site_id == site_b.pk


def test_next_free_and_assign_agree_on_the_clear_down_boundary(site_a, visit, arrive, nurse):
    board.end_session(session=assign(arrive(site_a), "Booth 1", by=nurse), by=nurse, at=at(5))
    moment = at(5) + dt.timedelta(minutes=2)  # exactly when the clear-down ends
    assert board.next_free_seat(visit=visit, at=moment) == (space(site_a, "Booth 1"), 1)
    assert (
        board.assign_space(visit=visit, space=space(site_a, "Booth 1"), by=nurse, at=moment).seat
        == 1
    )
