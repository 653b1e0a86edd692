"""The printable shift handover: who is where, the queue, after-care, open emergencies, overdue
checks, escalations, clear-downs, spaces out of service, the shift lead and when it was made."""

from __future__ import annotations

import datetime as dt
import html
import re

import time_machine

from saferoom.floor import board
from saferoom.floor.models import BoardState
from saferoom.sites.models import Space
from tests.floor.board_ui.conftest import url
from tests.floor.conftest import AFTERNOON


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert match, f"no section {heading_id}"
    return html.unescape(match.group(0))


def test_the_handover_lists_everything_the_next_shift_must_know(
    as_nurse, site_a, arrive, seat_in, nurse
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        in_booth = arrive(site_a)
        overdue = seat_in(in_booth, "Booth 1")
        emergency = seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=3)
        resting = arrive(site_a)
        resting_session = seat_in(resting, "Booth 2")
        waiting = arrive(site_a)
        Space.objects.filter(site=site_a, name="Booth 4").update(
            out_of_service=True, out_of_service_reason="Leaking sink"
        )
        BoardState.objects.filter(site=site_a).update(shift_lead=nurse)
        clock.shift(dt.timedelta(minutes=1))
        board.start_emergency(session=emergency, by=nurse)
        clock.shift(dt.timedelta(minutes=9))
        board.escalate_overdue_checks(site=site_a, at=AFTERNOON + dt.timedelta(minutes=10))
        board.end_session(session=resting_session, by=nurse)
        response = as_nurse.get(url(site_a, "handover"))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Shift handover: Riverside</h1>" in page
    assert "Generated Tuesday 10 March 2026, 14:10" in page
    assert "Shift lead: nina.nurse" in page

    emergencies = section(page, "h-emergencies")
    assert "Smoking room, seat 3" in emergencies
    assert emergency.visit.client.display_code in emergencies
    assert "14:01" in emergencies

    late = section(page, "h-overdue")
    assert "Booth 1" in late
    assert overdue.visit.client.display_code in late
    assert "14:05" in late  # when the check was due
    assert "due 14:05, passed on 14:10" in late

    where = section(page, "h-where")
    assert in_booth.client.display_code in where
    assert "Heroin · Inject" in where
    assert "EMERGENCY" in where

    assert waiting.client.display_code in section(page, "h-queue")
    assert resting.client.display_code in section(page, "h-aftercare")
    spaces = section(page, "h-spaces")
    assert "Booth 2: cleaning until 14:12" in spaces
    assert "Booth 4: Leaking sink" in spaces


def test_a_quiet_handover_says_none_rather_than_leaving_gaps(as_nurse, site_a):
    page = html.unescape(as_nurse.get(url(site_a, "handover")).content.decode())
    assert "nobody named (missed checks go to all floor staff)" in page
    assert "Nobody is in a space." in page
    assert "Nobody is waiting." in page
    assert "Nobody is in after-care." in page
    assert page.count("None.") >= 4


def test_the_desk_may_read_the_handover_the_evaluator_may_not(
    as_desk, as_evaluator, as_other_site_worker, site_a
):
    assert as_desk.get(url(site_a, "handover")).status_code == 200
    assert as_evaluator.get(url(site_a, "handover")).status_code == 403
    assert as_other_site_worker.get(url(site_a, "handover")).status_code == 404


def test_the_board_links_to_the_handover(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    assert f'href="{url(site_a, "handover")}">Shift handover</a>' in page


def test_a_mobile_units_handover_says_where_it_stands(as_van_nurse, van, van_nurse):
    import uuid

    board.open_stop(site=van, place="Market Street", by=van_nurse, idempotency_key=uuid.uuid4())
    page = html.unescape(as_van_nurse.get(url(van, "handover")).content.decode())
    assert "At Market Street since" in page
