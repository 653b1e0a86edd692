"""The emergency control on an occupied tile: a second tap confirms (the server asks once more
when JavaScript is off), every board turns the tile loud, and the person who pressed lands on
the large emergency page."""

from __future__ import annotations

import datetime as dt
import html

import time_machine

from saferoom.core.models import AuditEvent
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession
from saferoom.incidents.models import Incident
from saferoom.incidents.views import screen_url as incident_screen
from tests.conftest import login
from tests.floor.board_ui.conftest import HTMX, key, tile, url
from tests.floor.conftest import AFTERNOON


def test_the_emergency_button_is_a_two_step_button_not_a_browser_dialog(
    as_nurse, site_a, arrive, seat_in
):
    seat_in(arrive(site_a), "Booth 1")
    page = as_nurse.get(url(site_a)).content.decode()
    booth = tile(page, key(site_a, "Booth 1"))
    assert 'data-two-step data-label="Emergency" data-confirm-label="Confirm emergency"' in booth
    assert 'name="confirm" value="" data-confirm-input' in booth
    assert "confirm(" not in page
    assert "hx-confirm" not in page


def test_without_the_second_tap_the_server_asks_to_confirm_and_writes_nothing(
    as_nurse, site_a, arrive, seat_in
):
    session = seat_in(arrive(site_a), "Booth 1")
    before = AuditEvent.objects.count()
    response = as_nurse.post(url(site_a, "emergency"), {"session": session.pk})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    code = session.visit.client.display_code
    assert f"Start an emergency for {code} in Booth 1?" in page
    assert '<input type="hidden" name="confirm" value="1">' in page
    assert ">Confirm emergency</button>" in page
    session.refresh_from_db()
    assert session.emergency_at is None
    assert AuditEvent.objects.count() == before


def test_a_confirmed_emergency_is_recorded_and_opens_the_emergency_page(
    as_nurse, site_a, arrive, seat_in, nurse
):
    with time_machine.travel(AFTERNOON + dt.timedelta(minutes=3), tick=False):
        session = seat_in(arrive(site_a), "Booth 1")
        seen = board.board_version(site_a)
        response = as_nurse.post(url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    assert response.status_code == 302
    # The incident record opens with the emergency, and its emergency screen is the page.
    incident = Incident.objects.get(session=session)
    assert response["Location"] == incident_screen(incident)
    session.refresh_from_db()
    assert (session.emergency_at, session.emergency_by) == (
        AFTERNOON + dt.timedelta(minutes=3),
        nurse,
    )
    assert session.ended_at is None  # treated where they are
    assert board.board_version(site_a) == seen + 1
    assert AuditEvent.objects.filter(action="session.emergency_started").count() == 1


def test_every_other_board_shows_the_loud_tile_on_its_next_poll(
    as_nurse, site_a, arrive, seat_in, nurse2
):
    session = seat_in(arrive(site_a), "Booth 2")
    other = login(nurse2)
    seen = board.board_version(site_a)
    as_nurse.post(url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    page = other.get(
        url(site_a, "poll"), {"v": seen}, HTTP_HX_REQUEST="true", HTTP_X_SAFEROOM_POLL="1"
    ).content.decode()
    assert "tile-emergency" in tile(page, key(site_a, "Booth 2"))
    assert ">EMERGENCY</p>" in page


def test_a_second_nurse_pressing_too_lands_on_the_same_emergency_page(
    as_nurse, site_a, arrive, seat_in, nurse2
):
    session = seat_in(arrive(site_a), "Booth 1")
    as_nurse.post(url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    other = login(nurse2)
    response = other.post(url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == incident_screen(Incident.objects.get(session=session))
    page = html.unescape(other.get(response["Location"]).content.decode())
    assert "was already started at" in page
    assert AuditEvent.objects.filter(action="session.emergency_started").count() == 1


def test_an_emergency_on_a_session_that_has_ended_is_refused_on_the_board(
    as_nurse, site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a), "Booth 1")
    board.end_session(session=session, by=nurse)
    response = as_nurse.post(url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    assert response.status_code == 200
    assert "there is nobody in Booth 1 to check" in html.unescape(response.content.decode())
    session.refresh_from_db()
    assert session.emergency_at is None


def test_the_emergency_page_is_large_print_with_who_where_and_time_since_onset(
    as_nurse, site_a, arrive, seat_in, nurse
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        visit = arrive(site_a, code="crack")
        session = seat_in(visit, "Booth 3")
        clock.shift(dt.timedelta(minutes=4))
        board.start_emergency(session=session, by=nurse)
        clock.shift(dt.timedelta(minutes=1, seconds=15))
        response = as_nurse.get(url(site_a, "emergency_view", pk=session.pk))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "EMERGENCY in Booth 3</h1>" in page
    assert f'<p class="emergency-code code">{visit.client.display_code}</p>' in page
    assert 'data-since="2026-03-10T14:04:00+00:00">1:15</time>' in page
    assert "14:04:00" in page
    assert "started by nina.nurse" in page
    assert "Crack cocaine" in page
    assert "Inject" in page
    assert ">End session<" in page
    assert ">Back to the board</a>" in page
    viewed = AuditEvent.objects.filter(
        action="client.viewed", object_label=visit.client.display_code
    )
    assert viewed.filter(detail__page="emergency").count() == 1


def test_ending_the_session_after_an_emergency_records_it_as_an_emergency_ending(
    as_nurse, site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a), "Booth 1")
    board.start_emergency(session=session, by=nurse)
    response = as_nurse.post(url(site_a, "end"), {"session": session.pk})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.end_reason == ConsumptionSession.EndReason.EMERGENCY
    page = as_nurse.get(url(site_a, "emergency_view", pk=session.pk)).content.decode()
    assert "Session ended" in page
    assert ">End session<" not in page


def test_the_emergency_page_of_a_session_without_one_offers_to_start_it(
    as_nurse, site_a, arrive, seat_in
):
    session = seat_in(arrive(site_a), "Booth 1")
    page = html.unescape(
        as_nurse.get(url(site_a, "emergency_view", pk=session.pk)).content.decode()
    )
    assert "Booth 1: no emergency started</h1>" in page
    assert "data-two-step" in page


def test_the_desk_may_read_the_emergency_page_but_gets_no_buttons(
    as_desk, site_a, arrive, seat_in, nurse
):
    session = seat_in(arrive(site_a), "Booth 1")
    board.start_emergency(session=session, by=nurse)
    response = as_desk.get(url(site_a, "emergency_view", pk=session.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "EMERGENCY in Booth 1" in page
    assert "<button" not in page.split('<main id="main"')[1].split("Back to the board")[0]


def test_an_emergency_sent_by_htmx_sends_the_whole_page_to_the_emergency_page(
    as_nurse, site_a, arrive, seat_in
):
    session = seat_in(arrive(site_a), "Booth 1")
    response = as_nurse.post(
        url(site_a, "emergency"), {"session": session.pk, "confirm": "1"}, **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == incident_screen(Incident.objects.get(session=session))
