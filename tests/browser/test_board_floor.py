"""The floor board on one nurse's tablet, in real Chromium:

- a check falls due and the tile turns amber, then red, with the browser's clock moved by the
  test (Playwright's ``page.clock``; nothing sleeps), and "Check done" puts it right;
- the whole way from the queue to check-out with the keyboard alone;
- axe-core finds no serious or critical problem on the board (empty, busy, with an
  emergency, a mobile unit's stop banner), the emergency page, the handover and the stop log.

Elements are found by role and accessible name, as a person (or a screen reader) finds them."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, SessionCheck, Visit
from saferoom.sites.actions import set_out_of_service
from saferoom.sites.models import Membership, Site, Space
from tests.browser.accessibility import assert_accessible
from tests.browser.test_board_live import (
    board_url,
    code_of,
    one_request_at_a_time,
    open_all_day,
    queue_entry,
    tile,
    waiting,
)
from tests.conftest import make_site

__all__ = ["one_request_at_a_time", "open_all_day"]  # fixtures used here

pytestmark = pytest.mark.django_db(transaction=True)


def space(site: Site, name: str) -> Space:
    return Space.objects.get(site=site, name=name)


def in_space(
    site: Site, desk: User, nurse: User, name: str, *, started: dt.datetime, route: str = "inject"
) -> ConsumptionSession:
    """Someone checked in and put in ``name`` at ``started``, through the real actions."""
    visit = waiting(site, desk, route=route, at=started - dt.timedelta(minutes=1))
    seat = 1
    if space(site, name).seats > 1:
        taken = ConsumptionSession.objects.filter(space__name=name, ended_at__isnull=True)
        seat = taken.count() + 1
    return board.assign_space(visit=visit, space=space(site, name), seat=seat, by=nurse, at=started)


def background(locator: Locator) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).backgroundColor"))


# --- Check-on prompts, with the browser's clock in the test's hands -------------------------


def test_a_check_falls_due_turns_the_tile_amber_then_red_and_check_done_puts_it_right(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    now = timezone.now()
    # Booths are checked every 5 minutes and a due check turns red 2 minutes later: someone
    # who went into Booth 1 four minutes ago is due a check in one minute.
    assert open_all_day.check_interval_booth == 5
    assert open_all_day.check_overdue_minutes == 2
    session = in_space(open_all_day, desk, nurse, "Booth 1", started=now - dt.timedelta(minutes=4))
    assert session.next_check_due_at == now + dt.timedelta(minutes=1)

    page.clock.install(time=now)
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))
    booth = tile(page, "Booth 1")
    expect(booth).to_contain_text(code_of(session.visit))
    expect(booth).to_have_class(re.compile(r"\bcheck-ok\b"))
    expect(booth).to_contain_text("Occupied")
    expect(booth).to_contain_text(re.compile(r"due in 0:[0-5]\d"))
    calm = background(booth)

    page.clock.fast_forward("01:05")  # the check is due
    expect(booth).to_have_class(re.compile(r"\bcheck-due\b"))
    expect(booth).to_contain_text("Check due")
    expect(booth).to_contain_text("due now")
    amber = background(booth)

    page.clock.fast_forward("02:00")  # two minutes later, nobody has looked: overdue
    expect(booth).to_have_class(re.compile(r"\bcheck-overdue\b"))
    expect(booth).to_contain_text("Check overdue")
    expect(booth).to_contain_text(re.compile(r"overdue by 2:0\d"))
    red = background(booth)
    assert len({calm, amber, red}) == 3, (calm, amber, red)

    booth.get_by_role("button", name="Check done").click()
    expect(booth).to_have_class(re.compile(r"\bcheck-ok\b"))
    expect(booth).to_contain_text("Occupied")
    expect(booth).not_to_contain_text("overdue")
    assert background(booth) == calm
    with one_request_at_a_time.lock:
        checks = list(SessionCheck.objects.filter(session=session))
    assert [(c.by, c.outcome) for c in checks] == [(nurse, "ok")]


# --- The keyboard alone -------------------------------------------------------------------


def tab_to(page: Page, target: Locator, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, as a keyboard user would."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{target} never received the focus after {limit} presses of {key}")


def test_the_whole_visit_from_queue_to_check_out_with_the_keyboard_alone(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    visit = waiting(open_all_day, desk)
    code = code_of(visit)
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))
    expect(queue_entry(page, code)).to_be_visible()

    # Pick the person waiting...
    pick = page.get_by_role("button", name=f"Select {code}")
    tab_to(page, pick)
    page.keyboard.press("Enter")
    expect(pick).to_have_attribute("aria-pressed", "true")
    # ...then the booth: the spaces come before the queue on the page, so back up to it.
    assign = page.get_by_role("button", name="Assign to Booth 1")
    expect(assign).to_be_visible()
    tab_to(page, assign, backwards=True)
    page.keyboard.press("Enter")
    booth = tile(page, "Booth 1")
    expect(booth).to_contain_text(code)

    # Check on them (Space presses a button as well as Enter does).
    check = booth.get_by_role("button", name="Check done")
    tab_to(page, check)
    page.keyboard.press("Space")
    expect(page.get_by_role("status").filter(has_text=f"Check recorded for {code}")).to_be_visible()

    # End the session: they go to after-care, and the booth is cleaned.
    end = booth.get_by_role("button", name="End session")
    tab_to(page, end)
    page.keyboard.press("Enter")
    expect(booth).to_contain_text("Cleaning")
    aftercare = page.get_by_role("region", name=re.compile("After-care"))
    expect(aftercare).to_contain_text(code)

    # And check them out when they leave.
    check_out = aftercare.get_by_role("button", name=f"Check out {code}")
    tab_to(page, check_out)
    page.keyboard.press("Enter")
    expect(aftercare).to_contain_text("Nobody is in after-care.")

    with one_request_at_a_time.lock:
        visit.refresh_from_db()
        session = ConsumptionSession.objects.get(visit=visit)
        assert (visit.state, visit.end_reason) == (Visit.State.LEFT, Visit.EndReason.CHECKED_OUT)
        assert visit.aftercare_started_at is not None
        assert session.space.name == "Booth 1"
        assert session.ended_at is not None
        assert session.ended_by == nurse
        assert SessionCheck.objects.filter(session=session, by=nurse).count() == 1


# --- axe-core ----------------------------------------------------------------------------


def test_the_board_empty_and_busy_has_no_serious_accessibility_problems(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))
    expect(page.get_by_text("Nobody is waiting.")).to_be_visible()
    assert_accessible(page, "the board, empty")

    now = timezone.now()
    with one_request_at_a_time.lock:
        due = in_space(open_all_day, desk, nurse, "Booth 1", started=now - dt.timedelta(minutes=6))
        in_space(open_all_day, desk, nurse, "Booth 2", started=now - dt.timedelta(minutes=12))
        in_space(open_all_day, desk, nurse, "Booth 3", started=now - dt.timedelta(minutes=1))
        in_space(
            open_all_day,
            desk,
            nurse,
            "Smoking room",
            route="smoke",
            started=now - dt.timedelta(minutes=2),
        )
        leaving = in_space(
            open_all_day,
            desk,
            nurse,
            "Smoking room",
            route="smoke",
            started=now - dt.timedelta(minutes=9),
        )
        board.end_session(session=leaving, by=nurse)  # ventilating, and in after-care
        board.escalate_overdue_checks(site=open_all_day, at=now)  # Booth 2: missed check
        set_out_of_service(space=space(open_all_day, "Booth 4"), reason="Broken light", by=nurse)
        newcomer = waiting(open_all_day, desk, route="smoke")
        waiting(open_all_day, desk)
    page.reload()
    expect(tile(page, "Booth 1")).to_contain_text(code_of(due.visit))
    expect(page.get_by_role("button", name=re.compile("^Acknowledge"))).to_be_visible()
    assert_accessible(page, "the board, busy")

    # A person picked from the queue: the seats that fit offer "Assign to …".
    page.get_by_role("button", name=f"Select {code_of(newcomer)}").click()
    expect(page.get_by_role("button", name=re.compile("^Assign to Smoking room"))).to_have_count(1)
    assert_accessible(page, "the board, picking a seat")

    page.get_by_role("link", name="Shift handover").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Shift handover")
    assert_accessible(page, "the shift handover")


def test_the_board_and_page_of_an_emergency_have_no_serious_accessibility_problems(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    now = timezone.now()
    session = in_space(open_all_day, desk, nurse, "Booth 2", started=now - dt.timedelta(minutes=3))
    in_space(open_all_day, desk, nurse, "Booth 1", started=now - dt.timedelta(minutes=1))
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))

    # The two-step emergency button: one tap arms it, the second starts the emergency.
    booth = tile(page, "Booth 2")
    booth.get_by_role("button", name="Emergency").click()
    booth.get_by_role("button", name="Confirm emergency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("EMERGENCY in Booth 2")
    expect(page.get_by_text(code_of(session.visit), exact=True)).to_be_visible()
    assert_accessible(page, "the emergency page")

    page.goto(board_url(live_server.url, open_all_day))
    expect(tile(page, "Booth 2")).to_contain_text("EMERGENCY")
    assert_accessible(page, "the board with an emergency")

    page.goto(f"{live_server.url}{reverse('board:handover', kwargs={'site': open_all_day.slug})}")
    expect(page.get_by_role("region", name=re.compile("Open emergencies"))).to_contain_text(
        code_of(session.visit)
    )
    assert_accessible(page, "the shift handover with an emergency")
    with one_request_at_a_time.lock:
        session.refresh_from_db()
        assert session.emergency_at is not None
        assert session.emergency_by == nurse


@pytest.fixture
def van(network, nurse) -> Site:
    """A mobile unit, with Nina on its floor team."""
    unit = make_site(network, "Night van", "night-van", kind=Site.Kind.MOBILE)
    Membership.objects.create(user=nurse, network=network, site=unit, role=Role.FLOOR)
    return unit


def test_a_mobile_units_board_and_stop_log_have_no_serious_accessibility_problems(
    page, log_in, live_server, one_request_at_a_time, van, nurse
):
    log_in(nurse)
    page.goto(board_url(live_server.url, van))
    expect(page.get_by_text("No stop open")).to_be_visible()
    assert_accessible(page, "a mobile unit's board with no stop open")

    page.get_by_role("link", name="Open a stop").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop log")
    assert_accessible(page, "the stop log")

    with one_request_at_a_time.lock:
        board.open_stop(site=van, place="Market Square", by=nurse, idempotency_key=uuid.uuid4())
    page.goto(board_url(live_server.url, van))
    expect(page.get_by_text(re.compile("At: Market Square since"))).to_be_visible()
    assert_accessible(page, "a mobile unit's board at a stop")


def test_the_desk_sees_a_read_only_board_with_no_serious_accessibility_problems(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    session = in_space(
        open_all_day, desk, nurse, "Booth 1", started=timezone.now() - dt.timedelta(minutes=2)
    )
    log_in(desk)
    page.goto(board_url(live_server.url, open_all_day))
    expect(tile(page, "Booth 1")).to_contain_text(code_of(session.visit))
    expect(page.get_by_role("button", name="Check done")).to_have_count(0)
    assert_accessible(page, "the board, as the desk sees it")
