"""The same board form sent twice (a double tap without JavaScript, a retry after a network blip)
does the thing once: the second answer is the first one's, with the same message and no second
row. The same key with different details is refused and changes nothing. Every form on the board
carries its own key, new with every render."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

import time_machine
from django.contrib.messages import get_messages
from django.test import Client as HttpClient

from saferoom.core.models import AuditEvent, IdempotencyKey
from saferoom.floor import board
from saferoom.floor.models import BoardState, ConsumptionSession, Escalation, SessionCheck, Visit
from tests.floor.board_ui.conftest import HTMX, key, space, url
from tests.floor.conftest import AFTERNOON

REUSED = "This form was already sent with different details."
OUT_OF_DATE = "This form is out of date. Reload the page and try again."


def twice(client: HttpClient, address: str, data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Post the same plain (no-JavaScript) form twice, following each answer back to the board
    as a browser would; the messages each board showed."""
    said = []
    for _attempt in range(2):
        response = client.post(address, data, follow=True)
        assert response.redirect_chain == [(url_of_board(address), 302)], response.redirect_chain
        said.append([str(m) for m in get_messages(response.wsgi_request)])
    return said[0], said[1]


def url_of_board(action_address: str) -> str:
    return action_address.rsplit("/", 2)[0] + "/"


def alert(page: str) -> str:
    match = re.search(r'<div id="board-flash"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no alert region in the answer"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def notice(page: str) -> str:
    match = re.search(r'<div id="board-notice"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no status region in the answer"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def fresh() -> str:
    return str(uuid.uuid4())


# --- Every form carries its own key ---------------------------------------------------------


def test_every_action_form_on_the_board_has_its_own_fresh_key(
    as_nurse, site_a, arrive, seat_in, nurse
):
    arrive(site_a)
    session = seat_in(arrive(site_a), "Booth 1")
    board.end_session(session=seat_in(arrive(site_a), "Booth 2"), by=nurse)
    Escalation.objects.create(
        session=session, site=site_a, due_at=session.next_check_due_at, escalated_at=AFTERNOON
    )
    page = as_nurse.get(url(site_a)).content.decode()
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    keyed = [f for f in forms if 'name="idempotency_key"' in f]
    actions = {re.search(r'action="[^"]*/floor/([a-z-]+)/"', f).group(1) for f in keyed}  # type: ignore[union-attr]
    assert actions >= {"assign", "next-free", "check", "end", "cleaned", "emergency", "acknowledge"}
    assert actions >= {"shift-lead"}
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert len(keys) == len(keyed)
    assert len(set(keys)) == len(keys)
    again = as_nurse.get(url(site_a)).content.decode()
    assert not set(keys) & set(re.findall(r'name="idempotency_key" value="([^"]+)"', again))


# --- Each create, sent twice ----------------------------------------------------------------


def test_assign_sent_twice_puts_the_person_in_the_seat_once_with_the_same_message(
    as_nurse, site_a, arrive
):
    visit = arrive(site_a)
    data = {"idempotency_key": fresh(), "visit": visit.pk, "target": key(site_a, "Booth 3")}
    audits = AuditEvent.objects.count()
    first, second = twice(as_nurse, url(site_a, "assign"), data)
    code = visit.client.display_code
    assert first == second == [f"{code} is in Booth 3."]
    assert ConsumptionSession.objects.filter(visit=visit).count() == 1
    assert AuditEvent.objects.filter(action="session.started").count() == 1
    assert AuditEvent.objects.count() == audits + 1


def test_assign_replayed_with_htmx_answers_the_same_message_not_a_refusal(as_nurse, site_a, arrive):
    visit = arrive(site_a)
    data = {"idempotency_key": fresh(), "visit": visit.pk, "target": key(site_a, "Booth 3")}
    first = as_nurse.post(url(site_a, "assign"), data, **HTMX).content.decode()
    second = as_nurse.post(url(site_a, "assign"), data, **HTMX).content.decode()
    assert notice(first) == notice(second) == f"{visit.client.display_code} is in Booth 3."
    assert alert(second) == ""
    assert ConsumptionSession.objects.count() == 1


def test_assign_with_a_used_key_for_another_seat_is_refused_and_changes_nothing(
    as_nurse, site_a, arrive
):
    visit = arrive(site_a)
    used = fresh()
    as_nurse.post(
        url(site_a, "assign"),
        {"idempotency_key": used, "visit": visit.pk, "target": key(site_a, "Booth 3")},
    )
    version = board.board_version(site_a)
    response = as_nurse.post(
        url(site_a, "assign"),
        {"idempotency_key": used, "visit": visit.pk, "target": key(site_a, "Booth 2")},
        **HTMX,
    )
    assert REUSED in alert(response.content.decode())
    assert ConsumptionSession.objects.get(visit=visit).space == space(site_a, "Booth 3")
    assert board.board_version(site_a) == version


def test_next_free_sent_twice_assigns_once_with_the_same_message(as_nurse, site_a, arrive):
    visit = arrive(site_a)
    first, second = twice(
        as_nurse, url(site_a, "next_free"), {"idempotency_key": fresh(), "visit": visit.pk}
    )
    assert first == second == [f"{visit.client.display_code} is in Booth 1."]
    assert ConsumptionSession.objects.filter(visit=visit).count() == 1
    assert ConsumptionSession.objects.count() == 1


def test_next_free_with_a_key_used_for_another_person_is_refused(as_nurse, site_a, arrive):
    first, other = arrive(site_a), arrive(site_a)
    used = fresh()
    as_nurse.post(url(site_a, "next_free"), {"idempotency_key": used, "visit": first.pk})
    response = as_nurse.post(
        url(site_a, "next_free"), {"idempotency_key": used, "visit": other.pk}, **HTMX
    )
    assert REUSED in alert(response.content.decode())
    other.refresh_from_db()
    assert other.state == Visit.State.WAITING


def test_check_done_sent_twice_records_one_check_with_the_same_message(
    as_nurse, site_a, arrive, seat_in
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        session = seat_in(arrive(site_a), "Booth 1")
        clock.shift(dt.timedelta(minutes=6))
        data = {"idempotency_key": fresh(), "session": session.pk, "outcome": "ok"}
        first, _ = twice(as_nurse, url(site_a, "check"), data)
        clock.shift(dt.timedelta(seconds=40))
        second, _ = twice(as_nurse, url(site_a, "check"), data)
    code = session.visit.client.display_code
    assert first == second == [f"Check recorded for {code} in Booth 1 at 14:06: All right."]
    assert SessionCheck.objects.filter(session=session).count() == 1
    assert AuditEvent.objects.filter(action="session.checked").count() == 1
    session.refresh_from_db()
    assert session.next_check_due_at == AFTERNOON + dt.timedelta(minutes=11)


def test_a_check_key_sent_again_with_another_outcome_is_refused(as_nurse, site_a, arrive, seat_in):
    session = seat_in(arrive(site_a), "Booth 1")
    used = fresh()
    as_nurse.post(url(site_a, "check"), {"idempotency_key": used, "session": session.pk})
    response = as_nurse.post(
        url(site_a, "check"),
        {"idempotency_key": used, "session": session.pk, "outcome": "concern"},
        **HTMX,
    )
    assert REUSED in alert(response.content.decode())
    assert list(SessionCheck.objects.values_list("outcome", flat=True)) == ["ok"]


def test_a_check_without_a_key_is_refused_as_out_of_date(as_nurse, site_a, arrive, seat_in):
    session = seat_in(arrive(site_a), "Booth 1")
    for bad in ({}, {"idempotency_key": "not-a-key"}, {"idempotency_key": "<b>"}):
        response = as_nurse.post(url(site_a, "check"), {"session": session.pk, **bad}, **HTMX)
        assert response.status_code == 422
        assert OUT_OF_DATE in alert(response.content.decode())
    assert not SessionCheck.objects.exists()


def test_end_session_sent_twice_ends_it_once_with_the_same_message(
    as_nurse, site_a, arrive, seat_in
):
    with time_machine.travel(AFTERNOON, tick=False):
        visit = arrive(site_a)
        session = seat_in(visit, "Booth 2")
        first, second = twice(
            as_nurse, url(site_a, "end"), {"idempotency_key": fresh(), "session": session.pk}
        )
    code = visit.client.display_code
    ended = f"{code}'s session in Booth 2 has ended: they are in after-care."
    assert first == second == [f"{ended} Booth 2 is free at 14:02."]
    assert AuditEvent.objects.filter(action="session.ended").count() == 1


def test_cleaned_sent_twice_frees_the_seat_once_without_a_refusal(
    as_nurse, site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=2)
    board.end_session(session=session, by=nurse)
    data = {"idempotency_key": fresh(), "target": key(site_a, "Smoking room", 2)}
    first, second = twice(as_nurse, url(site_a, "cleaned"), data)
    assert first == second == ["Smoking room, seat 2 is free."]
    assert AuditEvent.objects.filter(action="seat.cleaned").count() == 1


def test_acknowledge_sent_twice_acknowledges_once_with_the_same_message(
    as_nurse, site_a, arrive, seat_in
):
    session = seat_in(arrive(site_a), "Booth 1")
    escalation = Escalation.objects.create(
        session=session, site=site_a, due_at=session.next_check_due_at, escalated_at=AFTERNOON
    )
    first, second = twice(
        as_nurse, url(site_a, "ack"), {"idempotency_key": fresh(), "escalation": escalation.pk}
    )
    code = session.visit.client.display_code
    assert first == second == [f"Acknowledged: the missed check for {code} in Booth 1."]
    assert AuditEvent.objects.filter(action="escalation.acknowledged").count() == 1


def test_shift_lead_sent_twice_names_them_once(as_nurse, site_a, manager):
    data = {"idempotency_key": fresh(), "shift_lead": manager.pk}
    first, second = twice(as_nurse, url(site_a, "shift_lead"), data)
    assert first == second == ["mo.manager is shift lead."]
    assert AuditEvent.objects.filter(action="shift_lead.set").count() == 1
    assert BoardState.objects.get(site=site_a).shift_lead == manager
    response = as_nurse.post(url(site_a, "shift_lead"), {**data, "shift_lead": "none"}, **HTMX)
    assert REUSED in alert(response.content.decode())
    assert BoardState.objects.get(site=site_a).shift_lead == manager


def test_a_key_is_per_person_a_colleague_with_the_same_key_is_not_a_replay(
    as_nurse, site_a, arrive, seat_in, nurse2
):
    session = seat_in(arrive(site_a), "Booth 1")
    other = HttpClient()
    other.force_login(nurse2)
    data = {"idempotency_key": fresh(), "session": session.pk}
    as_nurse.post(url(site_a, "check"), data)
    other.post(url(site_a, "check"), data)
    assert SessionCheck.objects.filter(session=session).count() == 2
    assert IdempotencyKey.objects.filter(action="session.check").count() == 2


# --- The actions themselves -----------------------------------------------------------------


def test_start_emergency_with_the_same_key_twice_answers_the_session_once(
    site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a), "Booth 1")
    used = uuid.uuid4()
    first = board.start_emergency(session=session, by=nurse, idempotency_key=used)
    second = board.start_emergency(session=session, by=nurse, idempotency_key=used)
    assert first.pk == second.pk
    assert second.emergency_at == first.emergency_at
    assert AuditEvent.objects.filter(action="session.emergency_started").count() == 1


def test_internal_callers_without_a_key_keep_working(site_a, arrive, seat_in, nurse):
    session = seat_in(arrive(site_a), "Booth 1")
    board.record_check(session=session, by=nurse)
    board.record_check(session=session, by=nurse)
    assert SessionCheck.objects.filter(session=session).count() == 2
    assert not IdempotencyKey.objects.filter(action="session.check").exists()
