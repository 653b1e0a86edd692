"""An overdose from the board to the manager's review in real Chromium, by taps alone:

- the nurse starts the emergency on the board's tile and lands on the incident's emergency
  screen; says it is an opioid overdose; naloxone 0.4 mg IM twice, oxygen, ambulance called and
  arrived, handed to paramedics, transferred to hospital (the hospital field is pre-filled);
- the timeline shows every step with its time, as the database holds it;
- meanwhile a colleague starts a stand-alone incident at the door on another tablet: the two
  incidents' timelines never mix;
- the manager opens the review queue and reviews and closes the incident;
- axe finds no serious or critical problem on the emergency screen; a refused tap's reason
  shows where the person is looking.

Elements are found by role and accessible name, as a person (or a screen reader) finds them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from saferoom.incidents.models import Incident
from tests.browser.accessibility import assert_accessible
from tests.browser.test_board_floor import in_space
from tests.browser.test_board_live import (
    board_url,
    code_of,
    devices,
    one_request_at_a_time,
    open_all_day,
    second_nurse,
    tile,
)

__all__ = ["devices", "one_request_at_a_time", "open_all_day", "second_nurse"]

pytestmark = pytest.mark.django_db(transaction=True)


def timeline(page: Page):
    return page.get_by_role("list", name="Timeline")


def press(page: Page, name: str) -> None:
    """One tap on a big button, then wait until the screen has come back from the server."""
    button = page.get_by_role("button", name=name, exact=True)
    before = timeline(page).get_by_role("listitem").count()
    button.click()
    expect(timeline(page).get_by_role("listitem")).not_to_have_count(before)


def test_an_overdose_from_the_board_to_review_by_taps_alone(
    devices, live_server, one_request_at_a_time, open_all_day, nurse, second_nurse, desk, manager
):
    site = open_all_day
    session = in_space(
        site, desk, nurse, "Booth 2", started=timezone.now() - dt.timedelta(minutes=3)
    )
    code = code_of(session.visit)

    tablet = devices(nurse)
    tablet.goto(board_url(live_server.url, site))
    booth = tile(tablet, "Booth 2")
    booth.get_by_role("button", name="Emergency").click()
    booth.get_by_role("button", name="Confirm emergency").click()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("EMERGENCY in Booth 2")
    expect(tablet.get_by_text(code, exact=True)).to_be_visible()
    expect(tablet).to_have_url(re.compile(r"/incidents/\d+/emergency/$"))

    tablet.get_by_role("button", name="Opioid overdose").click()
    expect(tablet.get_by_role("button", name="Opioid overdose")).to_have_attribute(
        "aria-pressed", "true"
    )
    press(tablet, "Naloxone 0.4 mg IM")

    # Meanwhile, at the door: a colleague starts a second incident on another tablet.
    door = devices(second_nurse)
    door.goto(board_url(live_server.url, site))
    door.get_by_role("link", name="New incident").click()
    door.get_by_role("radio", name="At the door or entrance").check()
    door.get_by_role("button", name="Start incident").click()
    expect(door.get_by_role("heading", level=1)).to_have_text("EMERGENCY: At the door or entrance")
    press(door, "Oxygen 10 L/min")

    press(tablet, "Naloxone 0.4 mg IM")  # the second dose: its own record, its own time
    press(tablet, "Oxygen 4 L/min")
    press(tablet, "Ambulance called")
    press(tablet, "Ambulance arrived")
    press(tablet, "Handed to paramedics")
    # The outcome ends the emergency: one more tap opens its buttons.
    tablet.get_by_text("It is over: record the outcome").click()
    press(tablet, "Transferred to hospital")

    with one_request_at_a_time.lock:
        booth_incident = Incident.objects.get(session=session)
        door_incident = Incident.objects.exclude(pk=booth_incident.pk).get()
        steps = list(booth_incident.interventions.order_by("at", "id"))
        booth_incident.refresh_from_db()
    assert [s.kind for s in steps] == [
        "naloxone",
        "naloxone",
        "oxygen",
        "ambulance_called",
        "ambulance_arrived",
        "handed_over",
    ]
    assert steps[0].at < steps[1].at
    assert booth_incident.outcome == "hospital"
    assert booth_incident.hospital == "Nearest emergency department"
    assert booth_incident.kind == "opioid"
    assert [s.kind for s in door_incident.interventions.all()] == ["oxygen"]

    # Every step on the screen, with its time as recorded.
    items = timeline(tablet).get_by_role("listitem")
    expect(items).to_have_count(len(steps) + 2)  # onset, the steps, the outcome
    for item, step in zip(items.all()[1:-1], steps, strict=True):
        expect(item).to_contain_text(site.local(step.at).strftime("%H:%M:%S"))
        expect(item).to_contain_text(step.summary())
    expect(items.last).to_contain_text("Transferred to hospital")
    expect(timeline(tablet)).not_to_contain_text("Oxygen 10 L/min")
    door.reload()
    expect(timeline(door)).to_contain_text("Oxygen 10 L/min")
    expect(timeline(door)).not_to_contain_text("Naloxone")

    # The printable timeline has every step too.
    tablet.get_by_role("link", name="Print timeline").click()
    for step in steps:
        expect(timeline(tablet)).to_contain_text(site.local(step.at).strftime("%H:%M:%S"))

    # The manager reviews and closes it.
    office = devices(manager)
    office.goto(f"{live_server.url}{reverse('incidents:review', kwargs={'site': site.slug})}")
    office.get_by_role(
        "link", name=re.compile(site.local(booth_incident.onset_at).strftime("%H:%M"))
    ).click()
    office.get_by_role("button", name="Review and close").click()
    expect(office.get_by_role("status")).to_contain_text("Reviewed and closed.")
    with one_request_at_a_time.lock:
        booth_incident.refresh_from_db()
        assert booth_incident.reviewed_by == manager


def test_the_emergency_screen_has_no_serious_accessibility_problems(
    devices, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    session = in_space(
        open_all_day, desk, nurse, "Booth 1", started=timezone.now() - dt.timedelta(minutes=2)
    )
    tablet = devices(nurse)
    tablet.goto(board_url(live_server.url, open_all_day))
    booth = tile(tablet, "Booth 1")
    booth.get_by_role("button", name="Emergency").click()
    booth.get_by_role("button", name="Confirm emergency").click()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("EMERGENCY in Booth 1")
    press(tablet, "Naloxone 0.4 mg IM")
    assert_accessible(tablet, "the emergency screen")
    # A refused tap far down the screen: the reason shows where the person is looking.
    tablet.get_by_role("button", name="CPR stopped").click()
    alert = tablet.locator("#incident-alert")
    expect(alert).to_contain_text("CPR cannot stop")
    expect(alert).to_be_in_viewport()
    assert_accessible(tablet, "the emergency screen with a refusal")
    tablet.get_by_role("link", name="Full record").click()
    assert_accessible(tablet, "the incident record")
    with one_request_at_a_time.lock:
        assert Incident.objects.get().session == session
