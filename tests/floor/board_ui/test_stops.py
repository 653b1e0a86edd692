"""A mobile unit's board: the stop banner, and the stop log where the floor team open a stop
where the van stands and close it when it leaves."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import time_machine

from saferoom.core.models import AuditEvent
from saferoom.floor import board
from saferoom.floor.models import MobileStop
from tests.floor.board_ui.conftest import SCRIPT, url
from tests.floor.conftest import AFTERNOON


def open_form(**overrides: str) -> dict[str, str]:
    data = {"idempotency_key": str(uuid.uuid4()), "place": "Market Street", "note": ""}
    data.update(overrides)
    return data


def test_a_van_with_no_stop_open_says_so_on_the_board(as_van_nurse, van):
    page = html.unescape(as_van_nurse.get(url(van)).content.decode())
    assert "No stop open — open a stop to start checking people in" in page
    assert f'href="{url(van, "stops")}">Open a stop</a>' in page


def test_opening_a_stop_shows_where_the_van_is_on_the_board(as_van_nurse, van, van_nurse):
    with time_machine.travel(AFTERNOON + dt.timedelta(minutes=5), tick=False):
        response = as_van_nurse.post(url(van, "stops"), open_form())
    assert response.status_code == 302
    assert response["Location"] == url(van, "stops")
    stop = MobileStop.objects.get(site=van)
    assert (stop.place, stop.opened_by, stop.closed_at) == ("Market Street", van_nurse, None)
    page = html.unescape(as_van_nurse.get(url(van)).content.decode())
    assert "At: Market Street since 14:05" in page


def test_the_same_open_form_sent_twice_opens_one_stop(as_van_nurse, van):
    form = open_form()
    as_van_nurse.post(url(van, "stops"), form)
    as_van_nurse.post(url(van, "stops"), form)
    assert MobileStop.objects.filter(site=van).count() == 1


def test_a_second_stop_cannot_open_while_one_is_open(as_van_nurse, van, van_nurse):
    board.open_stop(site=van, place="Market Street", by=van_nurse, idempotency_key=uuid.uuid4())
    response = as_van_nurse.post(url(van, "stops"), open_form(place="Station Road"))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    # The page offers to close the open stop; a forged second open is refused in words.
    assert "The unit is already open at Market Street" in page
    assert MobileStop.objects.filter(site=van).count() == 1


def test_closing_the_stop_and_the_log_of_past_stops_with_visit_counts(
    as_van_nurse, van, van_nurse, register
):
    from saferoom.floor import actions
    from tests.floor.conftest import substance

    with time_machine.travel(AFTERNOON, tick=False) as clock:
        first = board.open_stop(
            site=van, place="Market Street", by=van_nurse, idempotency_key=uuid.uuid4()
        )
        for _ in range(2):
            actions.check_in(
                site=van,
                client=register(van),
                planned_route="inject",
                planned_substances=[substance(van)],
                otherwise_location="street",
                would_use_alone="yes",
                eligibility={"first_time": False, "intoxicated": False},
                by=van_nurse,
                idempotency_key=uuid.uuid4(),
            )
        clock.shift(dt.timedelta(hours=1, minutes=30))
        page = html.unescape(as_van_nurse.get(url(van, "stops")).content.decode())
        assert "Open at Market Street" in page
        assert "2 visits so far." in page
        response = as_van_nurse.post(url(van, "stop_close"), {"stop": first.pk})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.closed_by == van_nurse
    page = html.unescape(as_van_nurse.get(url(van, "stops")).content.decode())
    assert "The stop at Market Street is closed (15:30)." in page
    assert "Tue 10 Mar, 14:00" in page
    assert "Tue 10 Mar, 15:30" in page
    assert "<td>2</td>" in page
    assert ">Open the stop</button>" in page  # ready for the next place


def test_closing_a_stop_twice_says_when_it_closed(as_van_nurse, van, van_nurse):
    stop = board.open_stop(
        site=van, place="Market Street", by=van_nurse, idempotency_key=uuid.uuid4()
    )
    as_van_nurse.post(url(van, "stop_close"), {"stop": stop.pk})
    response = as_van_nurse.post(url(van, "stop_close"), {"stop": stop.pk})
    assert response.status_code == 200
    assert "was already closed at" in html.unescape(response.content.decode())


def test_bad_stop_input_is_refused_with_a_clear_message_and_nothing_written(as_van_nurse, van):
    before = AuditEvent.objects.count()
    cases = [
        (open_form(place=""), "Say where the unit is standing."),
        (open_form(place="   "), "Say where the unit is standing."),
        (open_form(place="x" * 121), "Keep the place to 120 characters or fewer."),
        (open_form(place=SCRIPT), "< and > are not allowed here."),
        (open_form(note=SCRIPT), "< and > are not allowed here."),
        (open_form(idempotency_key="not-a-key"), "This form is out of date."),
    ]
    for data, message in cases:
        response = as_van_nurse.post(url(van, "stops"), data)
        assert response.status_code == 200
        page = response.content.decode()
        assert message in html.unescape(page)
        assert SCRIPT not in page
    for bad in ("", "abc", SCRIPT, "9" * 400):
        response = as_van_nurse.post(url(van, "stop_close"), {"stop": bad})
        assert response.status_code == 200
        assert "That is no longer on the board." in html.unescape(response.content.decode())
    assert not MobileStop.objects.exists()
    assert AuditEvent.objects.count() == before


def test_another_sites_stop_answers_404(as_van_nurse, van, site_a, nurse):
    stop = MobileStop.objects.create(
        site=site_a, place="Elsewhere", opened_at=AFTERNOON, opened_by=nurse
    )
    assert as_van_nurse.post(url(van, "stop_close"), {"stop": stop.pk}).status_code == 404
    stop.refresh_from_db()
    assert stop.closed_at is None


def test_a_fixed_site_has_no_stops(as_nurse, site_a):
    page = html.unescape(as_nurse.get(url(site_a, "stops")).content.decode())
    assert "Riverside is a fixed site: stops are only kept for mobile units." in page
    response = as_nurse.post(url(site_a, "stops"), open_form())
    assert "is a fixed site" in html.unescape(response.content.decode())
    assert not MobileStop.objects.exists()
    assert "Stop log" not in as_nurse.get(url(site_a)).content.decode()


def test_the_stop_log_is_for_the_floor_not_the_desk(van, network):
    from saferoom.core.roles import Role
    from tests.conftest import login, make_user

    desk_only = login(make_user("dee.desk", (Role.DESK, van)))
    assert desk_only.get(url(van, "stops")).status_code == 403
    assert desk_only.post(url(van, "stops"), open_form()).status_code == 403
    page = desk_only.get(url(van)).content.decode()
    assert "No stop open" in html.unescape(page)
    assert url(van, "stops") not in page
