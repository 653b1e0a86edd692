"""The floor board as each person sees it: every space as a tile in its state, the queue and
after-care beside them, colours right on first paint (before any JavaScript runs), and the
front desk's read-only view."""

from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.urls import reverse

from saferoom.floor import board
from saferoom.floor.models import BoardState
from saferoom.sites.models import Space
from tests.floor.board_ui.conftest import key, shown_version, space, tile, url
from tests.floor.conftest import AFTERNOON


def test_a_nurse_sees_every_space_as_a_tile_grouped_by_kind(as_nurse, site_a):
    Space.objects.create(site=site_a, name="Quiet room", kind="flexible", sort_order=15)
    response = as_nurse.get(url(site_a))
    assert response.status_code == 200
    page = response.content.decode()
    groups = re.findall(r'<h3 class="group-heading">([^<]+)</h3>', page)
    assert groups == ["Injection booths", "Inhalation rooms", "Flexible spaces"]
    for name in ("Booth 1", "Booth 2", "Booth 3", "Booth 4", "Quiet room"):
        assert f'id="tile-{key(site_a, name)}"' in page
    # An inhalation room shows each seat; the after-care area is the list, not a tile.
    for seat in (1, 2, 3):
        assert f">Smoking room, seat {seat}</h4>" in page
    assert "Recovery</h4>" not in page
    assert '<h1 id="board-heading" tabindex="-1">Floor board</h1>' in page
    assert "8 free · 0 in use" in page


def test_a_free_tile_says_free_and_offers_itself_when_someone_is_picked(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    booth = tile(page, key(site_a, "Booth 3"))
    assert '<p class="tile-state">Free</p>' in booth
    assert "Assign to Booth 3</button>" in booth
    assert "hidden>" in booth  # shown by board.js only while someone in the queue is picked


def test_an_occupied_tile_shows_who_what_how_long_and_the_next_check(
    as_nurse, site_a, arrive, seat_in
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        visit = arrive(site_a, code="crack")
        session = seat_in(visit, "Booth 2")
        clock.shift(dt.timedelta(minutes=1, seconds=30))
        page = as_nurse.get(url(site_a)).content.decode()
    booth = tile(page, key(site_a, "Booth 2"))
    assert "tile-occupied check-ok" in booth
    assert visit.client.display_code in booth
    assert "Crack cocaine · Inject" in booth
    assert f'data-since="{session.started_at.isoformat()}">1:30</time>' in booth
    assert f'data-check-due="{session.next_check_due_at.isoformat()}"' in booth
    overdue = session.next_check_due_at + dt.timedelta(minutes=site_a.check_overdue_minutes)
    assert f'data-check-overdue="{overdue.isoformat()}"' in booth
    assert ">14:05</time>" in booth
    assert "due in 3:30" in booth
    # Each tile's buttons name their space for screen readers ("Check done, Booth 2").
    for control in ("Check done", "Needed rousing", "Concern", "End session"):
        assert f'>{control}<span class="visually-hidden">, Booth 2</span></button>' in booth
    assert '>Emergency</span><span class="visually-hidden">, Booth 2</span></button>' in booth


def test_a_tile_is_amber_when_the_check_is_due_and_red_when_overdue_on_first_paint(
    as_nurse, site_a, arrive, seat_in
):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        seat_in(arrive(site_a), "Booth 1")
        where = key(site_a, "Booth 1")
        clock.shift(dt.timedelta(minutes=5))
        due = tile(as_nurse.get(url(site_a)).content.decode(), where)
        clock.shift(dt.timedelta(minutes=site_a.check_overdue_minutes))
        late = tile(as_nurse.get(url(site_a)).content.decode(), where)
    assert "check-due" in due
    assert ">Check due</p>" in due
    assert "due now" in due
    assert "check-overdue" in late
    assert ">Check overdue</p>" in late
    assert "overdue by 2:00" in late


def test_a_seat_in_clear_down_counts_down_and_can_be_freed_early(
    as_nurse, site_a, arrive, seat_in, nurse
):
    booth = seat_in(arrive(site_a), "Booth 1")
    smoker = seat_in(arrive(site_a, route="smoke", code="crack"), "Smoking room", seat=2)
    board.end_session(session=booth, by=nurse)
    board.end_session(session=smoker, by=nurse)
    page = as_nurse.get(url(site_a)).content.decode()
    cleaning = tile(page, key(site_a, "Booth 1"))
    airing = tile(page, key(site_a, "Smoking room", 2))
    assert ">Cleaning</p>" in cleaning
    assert ">Ventilating</p>" in airing
    assert "data-until=" in airing
    assert "data-clear-until=" in airing
    assert (
        'Cleaned — free it now<span class="visually-hidden">, Booth 1</span></button>' in cleaning
    )


def test_a_space_out_of_service_is_greyed_with_its_reason(as_nurse, site_a):
    Space.objects.filter(site=site_a, name="Booth 4").update(
        out_of_service=True, out_of_service_reason="Broken light"
    )
    booth = tile(as_nurse.get(url(site_a)).content.decode(), key(site_a, "Booth 4"))
    assert "tile-out_of_service" in booth
    assert ">Out of service</p>" in booth
    assert "Broken light" in booth
    assert "Assign to" not in booth


def test_an_emergency_tile_is_loud_and_counts_from_onset(as_nurse, site_a, arrive, seat_in, nurse):
    session = seat_in(arrive(site_a), "Booth 3")
    board.start_emergency(session=session, by=nurse)
    session.refresh_from_db()
    booth = tile(as_nurse.get(url(site_a)).content.decode(), key(site_a, "Booth 3"))
    assert "tile-emergency" in booth
    assert ">EMERGENCY</p>" in booth
    assert f'data-since="{session.emergency_at.isoformat()}"' in booth
    assert reverse("board:emergency_view", kwargs={"site": "riverside", "pk": session.pk}) in booth
    # The person is being treated: no check prompts on this tile.
    assert "data-check-due" not in booth


def test_the_queue_lists_waiting_people_oldest_first_with_a_live_wait(as_nurse, site_a, arrive):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        first = arrive(site_a)
        clock.shift(dt.timedelta(minutes=4))
        second = arrive(site_a, route="smoke", code="crack")
        clock.shift(dt.timedelta(minutes=1))
        page = as_nurse.get(url(site_a)).content.decode()
    codes = re.findall(r'<span class="code" id="queue-\d+-name">([^<]+)</span>', page)
    assert codes == [first.client.display_code, second.client.display_code]
    assert f'data-since="{first.arrived_at.isoformat()}">5:00</time>' in page
    name = first.client.display_code
    assert f'aria-label="Select {name}"' in page
    assert 'aria-pressed="false"' in page
    assert f'aria-label="Next free space for {name}"' in page


def test_each_queue_entry_has_a_form_that_works_without_javascript(as_nurse, site_a, arrive):
    smoker = arrive(site_a, route="smoke", code="crack")
    page = as_nurse.get(url(site_a)).content.decode()
    form = re.search(
        rf'<form class="assign-pick" method="post" action="{url(site_a, "assign")}".*?</form>',
        page,
        re.S,
    )
    assert form, "no plain assign form"
    html = form.group(0)
    assert f'name="visit" value="{smoker.pk}"' in html
    assert f'<label for="pick-{smoker.pk}">Space for {smoker.client.display_code}</label>' in html
    # Only the seats that fit how they use: the smoking room's three seats, no booth.
    options = re.findall(r'<option value="([0-9-]+)">([^<]+)</option>', html)
    assert [label for _value, label in options] == [
        "Smoking room, seat 1",
        "Smoking room, seat 2",
        "Smoking room, seat 3",
    ]
    assert ">Assign</button>" in html


def test_after_care_lists_who_is_there_and_for_how_long(as_nurse, site_a, arrive, seat_in, nurse):
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        visit = arrive(site_a)
        board.end_session(session=seat_in(visit, "Booth 1"), by=nurse)
        clock.shift(dt.timedelta(minutes=12))
        page = as_nurse.get(url(site_a)).content.decode()
    entry = re.search(r'<li class="aftercare-entry".*?</li>', page, re.S)
    assert entry
    assert visit.client.display_code in entry.group(0)
    assert ">12:00</time>" in entry.group(0)
    assert f'aria-label="Check out {visit.client.display_code}"' in entry.group(0)


def test_the_board_carries_its_version_and_the_server_time(as_nurse, site_a, arrive):
    arrive(site_a)
    page = as_nurse.get(url(site_a)).content.decode()
    assert shown_version(page) == board.board_version(site_a) == 1
    assert '<meta name="server-now" content="' in page
    assert f'data-poll-url="{url(site_a, "poll")}"' in page
    assert 'data-poll-ms="1500"' in page


def test_the_sound_toggle_is_a_pressed_button_shown_by_javascript(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    assert (
        '<button type="button" id="board-sound" class="secondary" aria-pressed="false" hidden>'
        "Sound on/off</button>"
    ) in page
    assert "saferoom/board.js" in page


def test_live_regions_for_refusals_status_and_connection_are_on_the_page(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    assert 'id="board-flash" class="board-flash" role="alert"' in page
    assert 'id="board-notice" class="board-notice" role="status"' in page
    assert 'id="board-connection" class="connection" role="status"' in page


def test_the_front_desk_sees_the_board_without_any_action_buttons(
    as_desk, site_a, arrive, seat_in, nurse
):
    seat_in(arrive(site_a), "Booth 1")
    board.end_session(session=seat_in(arrive(site_a), "Booth 2"), by=nurse)
    arrive(site_a)
    BoardState.objects.filter(site=site_a).update(shift_lead=nurse)
    response = as_desk.get(url(site_a))
    assert response.status_code == 200
    page = response.content.decode()
    assert "You can see the board. The floor team assign spaces and record checks." in page
    assert '<form method="post" action="/sites/riverside/floor/' not in page
    assert 'class="assign-pick"' not in page
    for control in ("Check done", "End session", "Emergency", "Assign", "Check out"):
        assert f">{control}<" not in page
    assert "nina.nurse" in page  # the shift lead, named


def test_an_evaluator_cannot_open_the_board_and_another_sites_worker_gets_404(
    as_evaluator, as_other_site_worker, site_a
):
    assert as_evaluator.get(url(site_a)).status_code == 403
    assert as_other_site_worker.get(url(site_a)).status_code == 404


def test_a_site_with_no_spaces_says_how_to_add_them(as_nurse, site_a):
    Space.objects.filter(site=site_a).delete()
    page = as_nurse.get(url(site_a)).content.decode()
    assert "This site has no spaces on the board yet." in page


def test_the_floor_board_is_in_the_site_menu_and_on_the_home_page(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    assert f'<a href="{url(site_a)}" aria-current="page">Floor board</a>' in page
    home = as_nurse.get(reverse("home")).content.decode()
    assert f'href="{url(site_a)}">Floor board</a>' in home


def test_the_shift_lead_picker_lists_floor_staff_and_managers_only(
    as_nurse, site_a, nurse, manager, desk, evaluator
):
    page = as_nurse.get(url(site_a)).content.decode()
    picker = re.search(r'<select id="shift-lead" name="shift_lead">.*?</select>', page, re.S)
    assert picker
    names = re.findall(r"<option [^>]*>([^<]+)</option>", picker.group(0))
    assert names == ["No shift lead (alerts go to all floor staff)", "mo.manager", "nina.nurse"]
    assert ">Set shift lead</button>" in page


def test_an_anonymous_visitor_is_named_by_arrival_time(as_nurse, site_a, nurse):
    import uuid

    from saferoom.floor import actions
    from tests.floor.conftest import substance

    with time_machine.travel(AFTERNOON + dt.timedelta(minutes=7), tick=False):
        actions.check_in(
            site=site_a,
            client=None,
            anonymous=True,
            planned_route="inject",
            planned_substances=[substance(site_a)],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility={"old_enough": True, "first_time": False, "intoxicated": False},
            by=nurse,
            idempotency_key=uuid.uuid4(),
        )
        page = as_nurse.get(url(site_a)).content.decode()
    assert "Anonymous, arrived 14:07" in page
    assert 'aria-label="Select Anonymous, arrived 14:07"' in page


def test_tiles_are_named_list_items_so_a_person_can_find_them(as_nurse, site_a):
    page = as_nurse.get(url(site_a)).content.decode()
    where = key(site_a, "Booth 2")
    assert f'aria-labelledby="tile-{where}-name"' in page
    assert f'<h4 class="tile-name" id="tile-{where}-name">Booth 2</h4>' in page
    assert space(site_a, "Booth 2").pk == int(where.split("-")[0])
