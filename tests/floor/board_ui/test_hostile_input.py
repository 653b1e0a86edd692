"""Bad and hostile input on every board form: missing, malformed and enormous ids, script tags,
forged choices and seats. Each gets a clear message on the fresh board, writes nothing, and
never a 500."""

from __future__ import annotations

import html

import pytest

from saferoom.core.models import AuditEvent
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, MobileStop, SessionCheck
from tests.floor.board_ui.conftest import HTMX, SCRIPT, key, keyed, url

HUGE = "9" * 400
MISSING = "That is no longer on the board. The board has been refreshed."
CHOOSE = "Choose a free space from the list."


@pytest.fixture
def world(site_a, arrive, seat_in):
    """Someone waiting and someone in Booth 1."""
    waiting = arrive(site_a)
    session = seat_in(arrive(site_a), "Booth 1")
    return {"visit": waiting.pk, "session": session.pk, "free": key(site_a, "Booth 2")}


def snapshot() -> tuple[int, int, int, int]:
    return (
        AuditEvent.objects.count(),
        ConsumptionSession.objects.count(),
        SessionCheck.objects.count(),
        MobileStop.objects.count(),
    )


CASES = [
    # (action, data with {visit}/{session}/{free} placeholders, expected message)
    ("assign", {"target": "{free}"}, MISSING),
    ("assign", {"visit": "abc", "target": "{free}"}, MISSING),
    ("assign", {"visit": "-4", "target": "{free}"}, MISSING),
    ("assign", {"visit": "0", "target": "{free}"}, MISSING),
    ("assign", {"visit": HUGE, "target": "{free}"}, MISSING),
    ("assign", {"visit": SCRIPT, "target": "{free}"}, MISSING),
    ("assign", {"visit": "{visit}"}, CHOOSE),
    ("assign", {"visit": "{visit}", "target": SCRIPT}, CHOOSE),
    ("assign", {"visit": "{visit}", "target": "12"}, CHOOSE),
    ("assign", {"visit": "{visit}", "target": HUGE + "-1"}, CHOOSE),
    ("assign", {"visit": "{visit}", "target": "1-99"}, CHOOSE),
    ("assign", {"visit": "{visit}", "space": "x", "seat": "1"}, CHOOSE),
    ("assign", {"visit": "{visit}", "space": "1", "seat": "-1"}, CHOOSE),
    (
        "assign",
        {"visit": "{visit}", "target": "{free}", "board_version": "yesterday"},
        "out of date",
    ),
    ("next_free", {}, MISSING),
    ("next_free", {"visit": SCRIPT}, MISSING),
    ("check", {}, MISSING),
    ("check", {"session": HUGE}, MISSING),
    ("check", {"session": "{session}", "outcome": "fine-ish"}, "Choose how the check went"),
    ("check", {"session": "{session}", "outcome": SCRIPT}, "Choose how the check went"),
    ("end", {"session": "1.5"}, MISSING),
    ("end", {"session": SCRIPT}, MISSING),
    ("cleaned", {}, "That space is no longer on the board."),
    ("cleaned", {"target": SCRIPT}, "That space is no longer on the board."),
    ("checkout", {"visit": ""}, MISSING),
    ("ack", {"escalation": SCRIPT}, MISSING),
    ("emergency", {"session": SCRIPT, "confirm": "1"}, MISSING),
    ("shift_lead", {"shift_lead": SCRIPT}, "Choose the shift lead from the list shown."),
    ("shift_lead", {"shift_lead": HUGE}, "Choose the shift lead from the list shown."),
    ("shift_lead", {}, "Choose who is shift lead"),
]


def fill(data: dict[str, str], world: dict[str, object]) -> dict[str, str]:
    """The case's fields, with a fresh idempotency key unless the case sends its own."""
    filled = {k: v.format(**world) if "{" in v and "<" not in v else v for k, v in data.items()}
    return keyed(filled) if "idempotency_key" not in data else filled


@pytest.mark.parametrize(("action", "data", "message"), CASES)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    as_nurse, site_a, world, action, data, message
):
    before = snapshot()
    response = as_nurse.post(url(site_a, action), fill(data, world))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in html.unescape(page)
    assert SCRIPT not in page
    assert '<div id="board-live"' in page
    assert snapshot() == before


@pytest.mark.parametrize(("action", "data", "message"), CASES[:6])
def test_bad_input_from_htmx_answers_422_with_the_board_and_the_message(
    as_nurse, site_a, world, action, data, message
):
    version = board.board_version(site_a)
    response = as_nurse.post(url(site_a, action), fill(data, world), **HTMX)
    assert response.status_code == 422
    page = response.content.decode()
    assert message in html.unescape(page)
    assert 'hx-swap-oob="innerHTML"' in page
    assert board.board_version(site_a) == version


def test_a_get_on_an_action_is_not_allowed(as_nurse, site_a):
    for action in ("assign", "next_free", "check", "end", "cleaned", "checkout", "ack"):
        assert as_nurse.get(url(site_a, action)).status_code == 405


def test_a_visit_id_that_does_not_exist_answers_404(as_nurse, site_a):
    response = as_nurse.post(
        url(site_a, "assign"), keyed({"visit": "987654", "target": key(site_a, "Booth 1")})
    )
    assert response.status_code == 404


def test_a_space_id_that_does_not_exist_answers_404(as_nurse, site_a, world):
    response = as_nurse.post(
        url(site_a, "assign"), keyed({"visit": world["visit"], "target": "987654-1"})
    )
    assert response.status_code == 404
    assert not ConsumptionSession.objects.filter(visit_id=world["visit"]).exists()


def test_a_seat_beyond_the_space_is_refused_by_the_action(as_nurse, site_a, world):
    response = as_nurse.post(
        url(site_a, "assign"), keyed({"visit": world["visit"], "target": key(site_a, "Booth 2", 4)})
    )
    assert response.status_code == 200
    assert "Booth 2 has one seat." in html.unescape(response.content.decode())
    assert not ConsumptionSession.objects.filter(visit_id=world["visit"]).exists()


def test_an_after_care_area_cannot_be_assigned(as_nurse, site_a, world):
    response = as_nurse.post(
        url(site_a, "assign"), keyed({"visit": world["visit"], "target": key(site_a, "Recovery")})
    )
    assert "is the after-care area" in html.unescape(response.content.decode())
    assert not ConsumptionSession.objects.filter(visit_id=world["visit"]).exists()
