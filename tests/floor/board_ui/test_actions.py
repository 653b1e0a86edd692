"""Every action on the board through HTTP, as a nurse's tap sends it: with htmx (the fresh board
comes back with a message in a live region) and without JavaScript (a plain form, then back to
the board). Refusals show the message and the fresh board, and write nothing."""

from __future__ import annotations

import datetime as dt
import html
import re

import time_machine

from saferoom.core.models import AuditEvent
from saferoom.floor import board
from saferoom.floor.models import (
    BoardState,
    ConsumptionSession,
    Escalation,
    SessionCheck,
    Visit,
)
from saferoom.sites.models import Space
from tests.conftest import login
from tests.floor.board_ui.conftest import HTMX, key, keyed, shown_version, space, tile, url
from tests.floor.conftest import AFTERNOON


def written() -> int:
    """Audit events other than the record of a refused request (saferoom.core.audit)."""
    return AuditEvent.objects.exclude(action="access.refused").count()


def alert(page: str) -> str:
    """The text swapped into the board's role=alert region (out of band)."""
    match = re.search(r'<div id="board-flash"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no alert region in the answer"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def notice(page: str) -> str:
    match = re.search(r'<div id="board-notice"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no status region in the answer"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def assign_form(visit: Visit, where: str, version: int | None = None) -> dict[str, object]:
    data: dict[str, object] = keyed({"visit": visit.pk, "target": where})
    if version is not None:
        data["board_version"] = version
    return data


# --- Assigning ------------------------------------------------------------------------------


def test_tapping_a_person_then_a_seat_puts_them_there_and_returns_the_fresh_board(
    as_nurse, site_a, arrive, nurse
):
    visit = arrive(site_a)
    seen = board.board_version(site_a)
    where = key(site_a, "Booth 3")
    response = as_nurse.post(url(site_a, "assign"), assign_form(visit, where, seen), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    code = visit.client.display_code
    assert notice(page) == f"{code} is in Booth 3."
    assert alert(page) == ""
    assert 'hx-swap-oob="innerHTML"' in page
    assert shown_version(page) == seen + 1
    assert f'data-focus="check-{where}"' in page
    assert code in tile(page, where)
    session = ConsumptionSession.objects.get(visit=visit)
    assert (session.space.name, session.seat, session.started_by) == ("Booth 3", 1, nurse)
    visit.refresh_from_db()
    assert visit.state == Visit.State.IN_SPACE
    assert AuditEvent.objects.filter(action="session.started", object_id=str(session.pk)).exists()


def test_without_javascript_the_queue_entrys_form_assigns_and_returns_to_the_board(
    as_nurse, site_a, arrive
):
    visit = arrive(site_a, route="smoke", code="crack")
    where = key(site_a, "Smoking room", 2)
    response = as_nurse.post(url(site_a, "assign"), assign_form(visit, where))
    assert response.status_code == 302
    assert response["Location"] == url(site_a)
    page = as_nurse.get(url(site_a)).content.decode()
    assert f"{visit.client.display_code} is in Smoking room, seat 2." in page
    assert visit.client.display_code in tile(page, where)


def test_a_seat_taken_on_another_device_is_refused_with_a_message_and_the_fresh_board(
    as_nurse, site_a, arrive, nurse2
):
    first, second = arrive(site_a), arrive(site_a)
    seen = board.board_version(site_a)
    where = key(site_a, "Booth 1")
    other_tablet = login(nurse2)
    assert other_tablet.post(url(site_a, "assign"), assign_form(first, where, seen), **HTMX)
    response = as_nurse.post(url(site_a, "assign"), assign_form(second, where, seen), **HTMX)
    assert response.status_code == 422  # refused: htmx swaps the fresh board in all the same
    page = response.content.decode()
    message = alert(page)
    assert f"Booth 1 was just taken by {first.client.display_code}." in message
    assert "The board has been refreshed." in message
    assert "The board had changed since you last looked at it." in message
    assert first.client.display_code in tile(page, where)
    assert shown_version(page) == board.board_version(site_a)
    second.refresh_from_db()
    assert second.state == Visit.State.WAITING
    assert ConsumptionSession.objects.count() == 1


def test_without_javascript_a_refusal_shows_the_whole_board_with_the_message(
    as_nurse, site_a, arrive, seat_in
):
    first, second = arrive(site_a), arrive(site_a)
    seat_in(first, "Booth 2")
    response = as_nurse.post(url(site_a, "assign"), assign_form(second, key(site_a, "Booth 2")))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1" in page
    assert f"Booth 2 was just taken by {first.client.display_code}." in alert(page)
    assert "hx-swap-oob" not in page


def test_an_action_from_a_stale_board_is_still_handled(as_nurse, site_a, arrive, seat_in):
    visit = arrive(site_a)
    stale = board.board_version(site_a)
    seat_in(arrive(site_a), "Booth 1")  # the board moved on since this tablet looked
    response = as_nurse.post(
        url(site_a, "assign"), assign_form(visit, key(site_a, "Booth 2"), stale), **HTMX
    )
    assert response.status_code == 200
    assert notice(response.content.decode()) == f"{visit.client.display_code} is in Booth 2."
    assert ConsumptionSession.objects.filter(visit=visit, space__name="Booth 2").exists()


def test_a_booth_is_refused_for_someone_who_smokes(as_nurse, site_a, arrive):
    smoker = arrive(site_a, route="smoke", code="crack")
    response = as_nurse.post(
        url(site_a, "assign"), assign_form(smoker, key(site_a, "Booth 1")), **HTMX
    )
    assert response.status_code == 422
    assert "it is not for smoking" in alert(response.content.decode())
    assert not ConsumptionSession.objects.exists()


def test_a_space_out_of_service_is_refused(as_nurse, site_a, arrive):
    Space.objects.filter(site=site_a, name="Booth 4").update(
        out_of_service=True, out_of_service_reason="Needle bin full"
    )
    visit = arrive(site_a)
    response = as_nurse.post(
        url(site_a, "assign"), assign_form(visit, key(site_a, "Booth 4")), **HTMX
    )
    assert "Booth 4 is out of service (Needle bin full)." in alert(response.content.decode())
    assert not ConsumptionSession.objects.exists()


def test_assign_also_takes_space_and_seat_as_separate_fields(as_nurse, site_a, arrive):
    smoker = arrive(site_a, route="smoke", code="crack")
    response = as_nurse.post(
        url(site_a, "assign"),
        keyed({"visit": smoker.pk, "space": space(site_a, "Smoking room").pk, "seat": 3}),
        **HTMX,
    )
    assert response.status_code == 200
    assert ConsumptionSession.objects.get(visit=smoker).seat == 3


def test_assigning_someone_already_in_a_space_twice_is_refused(as_nurse, site_a, arrive, seat_in):
    visit = arrive(site_a)
    seat_in(visit, "Booth 1")
    response = as_nurse.post(
        url(site_a, "assign"), assign_form(visit, key(site_a, "Booth 2")), **HTMX
    )
    assert f"{visit.client.display_code} is already in Booth 1." in alert(response.content.decode())
    assert ConsumptionSession.objects.count() == 1


def test_next_free_space_picks_the_first_seat_that_fits_how_they_use(
    as_nurse, site_a, arrive, seat_in
):
    seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room")
    smoker = arrive(site_a, route="smoke", code="crack")
    response = as_nurse.post(url(site_a, "next_free"), keyed({"visit": smoker.pk}), **HTMX)
    assert response.status_code == 200
    assert notice(response.content.decode()) == (
        f"{smoker.client.display_code} is in Smoking room, seat 2."
    )
    assert ConsumptionSession.objects.get(visit=smoker).seat == 2


def test_next_free_space_says_so_when_nothing_fits(as_nurse, site_a, arrive, seat_in):
    for seat in (1, 2, 3):
        seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=seat)
    smoker = arrive(site_a, route="smoke", code="crack")
    response = as_nurse.post(url(site_a, "next_free"), keyed({"visit": smoker.pk}), **HTMX)
    assert response.status_code == 422
    message = alert(response.content.decode())
    assert f"No free space fits {smoker.client.display_code} (Smoke or inhale) right now." in (
        message
    )
    smoker.refresh_from_db()
    assert smoker.state == Visit.State.WAITING


# --- Checks, ending, clear-down, check-out --------------------------------------------------


def test_check_done_records_an_ok_check_with_who_and_when(as_nurse, site_a, arrive, seat_in, nurse):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        session = seat_in(arrive(site_a), "Booth 1")
        clock.shift(dt.timedelta(minutes=6))
        response = as_nurse.post(url(site_a, "check"), keyed({"session": session.pk}), **HTMX)
    assert response.status_code == 200
    code = session.visit.client.display_code
    assert notice(response.content.decode()) == (
        f"Check recorded for {code} in Booth 1 at 14:06: All right."
    )
    check = SessionCheck.objects.get(session=session)
    assert (check.outcome, check.by, check.was_overdue) == ("ok", nurse, False)
    session.refresh_from_db()
    assert session.next_check_due_at == AFTERNOON + dt.timedelta(minutes=11)
    assert "check-ok" in tile(response.content.decode(), key(site_a, "Booth 1"))


def test_the_check_menu_records_needed_rousing_and_concern(as_nurse, site_a, arrive, seat_in):
    session = seat_in(arrive(site_a), "Booth 1")
    for outcome, label in (("roused", "Needed rousing"), ("concern", "Concern: watching closely")):
        response = as_nurse.post(
            url(site_a, "check"), keyed({"session": session.pk, "outcome": outcome}), **HTMX
        )
        assert label in notice(response.content.decode())
    assert list(SessionCheck.objects.values_list("outcome", flat=True)) == ["roused", "concern"]


def test_a_check_on_a_session_that_has_ended_is_refused(as_nurse, site_a, arrive, seat_in, nurse):
    session = seat_in(arrive(site_a), "Booth 1")
    board.end_session(session=session, by=nurse)
    response = as_nurse.post(url(site_a, "check"), keyed({"session": session.pk}), **HTMX)
    assert "there is nobody in Booth 1 to check" in alert(response.content.decode())
    assert not SessionCheck.objects.exists()


def test_ending_a_session_moves_the_person_to_after_care_and_starts_clear_down(
    as_nurse, site_a, arrive, seat_in, nurse
):
    with time_machine.travel(AFTERNOON, tick=False):
        visit = arrive(site_a)
        session = seat_in(visit, "Booth 2")
        response = as_nurse.post(url(site_a, "end"), keyed({"session": session.pk}), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    code = visit.client.display_code
    assert notice(page) == (
        f"{code}'s session in Booth 2 has ended: they are in after-care. Booth 2 is free at 14:02."
    )
    where = key(site_a, "Booth 2")
    assert ">Cleaning</p>" in tile(page, where)
    assert f'data-focus="cleaned-{where}"' in page
    assert f'id="aftercare-{visit.pk}"' in page
    session.refresh_from_db()
    visit.refresh_from_db()
    assert (session.ended_by, session.end_reason) == (nurse, "finished")
    assert visit.state == Visit.State.AFTERCARE


def test_ending_a_session_twice_says_when_it_already_ended(as_nurse, site_a, arrive, seat_in):
    with time_machine.travel(AFTERNOON + dt.timedelta(minutes=32), tick=False):
        session = seat_in(arrive(site_a), "Booth 1")
        as_nurse.post(url(site_a, "end"), keyed({"session": session.pk}), **HTMX)
        before = AuditEvent.objects.count()
        response = as_nurse.post(url(site_a, "end"), keyed({"session": session.pk}), **HTMX)
    assert response.status_code == 422  # a refusal, swapped in by htmx like bad input
    code = session.visit.client.display_code
    assert f"{code}'s session already ended at 14:32." in alert(response.content.decode())
    assert AuditEvent.objects.count() == before


def test_cleaned_frees_a_seat_before_its_clear_down_is_over(
    as_nurse, site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=2)
    board.end_session(session=session, by=nurse)
    where = key(site_a, "Smoking room", 2)
    response = as_nurse.post(url(site_a, "cleaned"), keyed({"target": where}), **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert notice(page) == "Smoking room, seat 2 is free."
    assert '<p class="tile-state">Free</p>' in tile(page, where)
    again = as_nurse.post(url(site_a, "cleaned"), keyed({"target": where}), **HTMX)
    assert "is not being cleared down: it is ready already." in alert(again.content.decode())


def test_checking_out_from_after_care_ends_the_visit(as_nurse, site_a, arrive, seat_in, nurse):
    visit = arrive(site_a)
    board.end_session(session=seat_in(visit, "Booth 1"), by=nurse)
    response = as_nurse.post(url(site_a, "checkout"), {"visit": visit.pk}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert notice(page) == f"{visit.client.display_code} is checked out."
    assert 'data-focus="aftercare-heading"' in page
    assert f'id="aftercare-{visit.pk}"' not in page
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason) == ("left", "checked_out")
    again = as_nurse.post(url(site_a, "checkout"), {"visit": visit.pk}, **HTMX)
    assert "was already checked out at" in alert(again.content.decode())


# --- Escalations and the shift lead -------------------------------------------------------


def test_a_missed_check_shows_a_banner_that_can_be_acknowledged(
    as_nurse, site_a, arrive, seat_in, nurse
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        session = seat_in(arrive(site_a), "Booth 1")
        BoardState.objects.filter(site=site_a).update(shift_lead=nurse)
        clock.shift(dt.timedelta(minutes=10))
        board.escalate_overdue_checks(site=site_a, at=AFTERNOON + dt.timedelta(minutes=10))
        page = as_nurse.get(url(site_a)).content.decode()
        escalation = Escalation.objects.get(session=session)
        assert "Missed checks passed to the shift lead" in page
        assert "the check due at 14:05 was not done. Passed on at 14:10 to nina.nurse." in page
        assert 'aria-label="Acknowledge the missed check in Booth 1">Acknowledge</button>' in page
        assert f'data-escalations="{escalation.pk} "' in page
        response = as_nurse.post(url(site_a, "ack"), keyed({"escalation": escalation.pk}), **HTMX)
    page = response.content.decode()
    assert notice(page) == (
        f"Acknowledged: the missed check for {session.visit.client.display_code} in Booth 1."
    )
    assert "Missed checks passed to the shift lead" not in page
    escalation.refresh_from_db()
    assert escalation.acknowledged_by == nurse
    again = as_nurse.post(url(site_a, "ack"), keyed({"escalation": escalation.pk}), **HTMX)
    assert "already acknowledged this at" in alert(again.content.decode())


def test_the_shift_lead_is_chosen_from_the_floor_staff(as_nurse, site_a, nurse, manager):
    response = as_nurse.post(url(site_a, "shift_lead"), keyed({"shift_lead": manager.pk}), **HTMX)
    assert response.status_code == 200
    assert notice(response.content.decode()) == "mo.manager is shift lead."
    assert BoardState.objects.get(site=site_a).shift_lead == manager
    response = as_nurse.post(url(site_a, "shift_lead"), keyed({"shift_lead": "none"}), **HTMX)
    assert "missed checks go to all floor staff" in notice(response.content.decode())
    assert BoardState.objects.get(site=site_a).shift_lead is None


def test_a_desk_worker_evaluator_or_other_sites_worker_cannot_be_made_shift_lead(
    as_nurse, site_a, desk, evaluator, other_site_worker
):
    for person in (desk, evaluator, other_site_worker):
        response = as_nurse.post(
            url(site_a, "shift_lead"), keyed({"shift_lead": person.pk}), **HTMX
        )
        assert response.status_code == 422
        assert "Choose the shift lead from the list shown." in alert(response.content.decode())
    assert not BoardState.objects.filter(site=site_a, shift_lead__isnull=False).exists()


# --- Who may act --------------------------------------------------------------------------


ACTIONS = ("assign", "next_free", "check", "end", "cleaned", "checkout", "emergency", "ack")


def test_the_front_desk_can_look_but_every_action_answers_403_and_writes_nothing(
    as_desk, site_a, arrive, seat_in
):
    visit = arrive(site_a)
    session = seat_in(arrive(site_a), "Booth 1")
    # Each refusal is recorded as one (access.refused); nothing else is written.
    before = (written(), board.board_version(site_a))
    payload = {
        "visit": visit.pk,
        "session": session.pk,
        "target": key(site_a, "Booth 2"),
        "confirm": "1",
        "shift_lead": "none",
    }
    for name in (*ACTIONS, "shift_lead", "stops", "stop_close"):
        assert as_desk.post(url(site_a, name), payload).status_code == 403, name
        assert as_desk.post(url(site_a, name), payload, **HTMX).status_code == 403, name
    assert (written(), board.board_version(site_a)) == before


def test_an_evaluator_gets_403_and_another_sites_worker_404_for_every_action(
    as_evaluator, as_other_site_worker, site_a, arrive
):
    visit = arrive(site_a)
    for name in (*ACTIONS, "shift_lead"):
        assert as_evaluator.post(url(site_a, name), {"visit": visit.pk}).status_code == 403
        assert as_other_site_worker.post(url(site_a, name), {"visit": visit.pk}).status_code == 404
    assert not ConsumptionSession.objects.exists()


def test_another_sites_visits_sessions_spaces_and_escalations_answer_404(
    as_nurse, site_a, site_b, arrive, seat_in, nurse
):
    from saferoom.core.roles import Role
    from tests.conftest import make_user

    eastgate_nurse = make_user("erin.east", (Role.FLOOR, site_b))
    theirs = arrive(site_b)
    their_session = board.assign_space(
        visit=arrive(site_b), space=space(site_b, "Booth 1"), by=eastgate_nurse
    )
    escalation = Escalation.objects.create(
        session=their_session,
        site=site_b,
        due_at=their_session.next_check_due_at,
        escalated_at=their_session.next_check_due_at,
    )
    ours = arrive(site_a)
    before = (written(), ConsumptionSession.objects.count())
    attempts = [
        ("assign", {"visit": theirs.pk, "target": key(site_a, "Booth 1")}),
        ("assign", {"visit": ours.pk, "target": key(site_b, "Booth 2")}),
        ("next_free", {"visit": theirs.pk}),
        ("check", {"session": their_session.pk}),
        ("end", {"session": their_session.pk}),
        ("emergency", {"session": their_session.pk, "confirm": "1"}),
        ("cleaned", {"target": key(site_b, "Booth 1")}),
        ("checkout", {"visit": theirs.pk}),
        ("ack", {"escalation": escalation.pk}),
    ]
    for name, data in attempts:
        assert as_nurse.post(url(site_a, name), keyed(data), **HTMX).status_code == 404, name
    assert as_nurse.get(url(site_a, "emergency_view", pk=their_session.pk)).status_code == 404
    assert (written(), ConsumptionSession.objects.count()) == before
