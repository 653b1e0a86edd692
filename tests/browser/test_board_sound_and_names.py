"""The floor board's emergency button and its optional sound, in real Chromium, with the
browser's clock in the test's hands (Playwright's ``page.clock``; nothing sleeps):

- the Emergency button is named for its seat ("Emergency, Booth 2") for a screen reader, before
  and after board.js arms it ("Confirm emergency, Booth 2"), after it disarms, and after the
  live board is swapped in under it;
- with the sound switched on, a check going overdue sounds once (and only once, however long it
  stays overdue); with the sound off it never sounds.

The sound is counted, not heard: an init script swaps the browser's AudioContext (what board.js
plays its beep with) and HTMLMediaElement.play for counters before the page loads."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.test_board_floor import in_space
from tests.browser.test_board_live import (
    board_url,
    code_of,
    one_request_at_a_time,
    open_all_day,
    tile,
)

__all__ = ["one_request_at_a_time", "open_all_day"]  # fixtures used here

pytestmark = pytest.mark.django_db(transaction=True)

# One beep is two short tones (two oscillators started).
TONES_PER_BEEP = 2


def named(words: str, seat: str) -> re.Pattern[str]:
    """A button's whole accessible name: the words, then the seat ("Emergency, Booth 2"; the
    browser may put a space before the comma of the visually hidden part)."""
    return re.compile(rf"^{re.escape(words)} ?, {re.escape(seat)}$")


COUNT_SOUNDS = """
window.__sound = { contexts: 0, tones: 0, plays: 0 };
(function () {
  function Param() {}
  Param.prototype.setValueAtTime = function () {};
  Param.prototype.exponentialRampToValueAtTime = function () {};
  function Node() { this.gain = new Param(); this.frequency = { value: 0 }; }
  Node.prototype.connect = function (next) { return next; };
  Node.prototype.start = function () { window.__sound.tones += 1; };
  Node.prototype.stop = function () {};
  function FakeContext() {
    window.__sound.contexts += 1;
    this.state = "running";
    this.currentTime = 0;
    this.destination = new Node();
  }
  FakeContext.prototype.resume = function () { return Promise.resolve(); };
  FakeContext.prototype.createOscillator = function () { return new Node(); };
  FakeContext.prototype.createGain = function () { return new Node(); };
  window.AudioContext = FakeContext;
  window.webkitAudioContext = FakeContext;
  HTMLMediaElement.prototype.play = function () {
    window.__sound.plays += 1;
    return Promise.resolve();
  };
})();
"""


def beeps(page: Page) -> float:
    sound: dict[str, Any] = page.evaluate("() => window.__sound")
    return float(sound["tones"]) / TONES_PER_BEEP + float(sound["plays"])


def expect_beeps(page: Page, count: int) -> None:
    """Wait (Playwright retries, no sleep) for exactly ``count`` beeps so far."""
    page.wait_for_function(
        f"() => window.__sound.tones / {TONES_PER_BEEP} + window.__sound.plays === {count}"
    )


# --- The Emergency button's accessible name ---------------------------------------------------


def test_the_emergency_button_is_named_for_its_seat_before_and_after_it_is_armed(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    now = timezone.now()
    in_space(open_all_day, desk, nurse, "Booth 2", started=now - dt.timedelta(minutes=1))
    in_space(open_all_day, desk, nurse, "Booth 3", started=now - dt.timedelta(minutes=1))
    page.clock.install(time=now)
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))

    booth = tile(page, "Booth 2")
    button = page.get_by_role("button", name=named("Emergency", "Booth 2"))
    expect(button).to_have_count(1)
    expect(page.get_by_role("button", name=named("Emergency", "Booth 3"))).to_have_count(1)
    expect(booth.get_by_role("button", name=named("Emergency", "Booth 2"))).to_be_visible()
    # What a sighted person reads is still the one word.
    expect(button.locator("[data-two-step-label]")).to_have_text("Emergency")

    button.click()  # the first tap arms it
    armed = page.get_by_role("button", name=named("Confirm emergency", "Booth 2"))
    expect(armed).to_have_count(1)
    expect(armed.locator("[data-two-step-label]")).to_have_text("Confirm emergency")
    # The other seat's button is untouched.
    expect(page.get_by_role("button", name=named("Emergency", "Booth 3"))).to_have_count(1)

    # A change on another device: the live board is swapped in under the armed button.
    with one_request_at_a_time.lock:
        newcomer = in_space(open_all_day, desk, nurse, "Booth 4", started=timezone.now())
    page.clock.fast_forward("00:02")
    expect(tile(page, "Booth 4")).to_contain_text(code_of(newcomer.visit))
    expect(page.get_by_role("button", name=named("Confirm emergency", "Booth 2"))).to_have_count(1)

    page.clock.fast_forward("00:06")  # nobody confirmed: it disarms
    expect(page.get_by_role("button", name=named("Emergency", "Booth 2"))).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("^Confirm emergency"))).to_have_count(0)


# --- The optional sound -----------------------------------------------------------------------


def overdue_soon(site: Any, desk: Any, nurse: Any, now: dt.datetime) -> None:
    """Someone in Booth 1 whose check is due in one minute (booths: every 5 minutes, red 2
    minutes after it is due)."""
    assert site.check_interval_booth == 5
    assert site.check_overdue_minutes == 2
    session = in_space(site, desk, nurse, "Booth 1", started=now - dt.timedelta(minutes=4))
    assert session.next_check_due_at == now + dt.timedelta(minutes=1)


def test_with_the_sound_on_a_check_going_overdue_sounds_exactly_once(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    now = timezone.now()
    overdue_soon(open_all_day, desk, nurse, now)
    page.add_init_script(COUNT_SOUNDS)
    page.clock.install(time=now)
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))
    booth = tile(page, "Booth 1")
    expect(booth).to_have_class(re.compile(r"\bcheck-ok\b"))

    sound = page.get_by_role("button", name="Sound on/off")
    sound.click()
    expect(sound).to_have_attribute("aria-pressed", "true")
    expect_beeps(page, 1)  # switching it on plays one beep (browsers allow sound after a tap)

    page.clock.fast_forward("01:05")  # due: amber, no sound
    expect(booth).to_have_class(re.compile(r"\bcheck-due\b"))
    assert beeps(page) == 1

    page.clock.fast_forward("02:00")  # overdue: red, one beep
    expect(booth).to_have_class(re.compile(r"\bcheck-overdue\b"))
    expect_beeps(page, 2)

    # Still overdue a minute later, after several ticks and polls: no second beep.
    for _ in range(4):
        page.clock.fast_forward("00:15")
    expect(booth).to_contain_text(re.compile(r"overdue by 3:[0-5]\d"))
    assert beeps(page) == 2


def test_with_the_sound_off_a_check_going_overdue_makes_no_sound(
    page, log_in, live_server, one_request_at_a_time, open_all_day, nurse, desk
):
    now = timezone.now()
    overdue_soon(open_all_day, desk, nurse, now)
    page.add_init_script(COUNT_SOUNDS)
    page.clock.install(time=now)
    log_in(nurse)
    page.goto(board_url(live_server.url, open_all_day))
    booth = tile(page, "Booth 1")
    expect(page.get_by_role("button", name="Sound on/off")).to_have_attribute(
        "aria-pressed", "false"
    )

    page.clock.fast_forward("01:05")
    expect(booth).to_have_class(re.compile(r"\bcheck-due\b"))
    page.clock.fast_forward("02:00")
    expect(booth).to_have_class(re.compile(r"\bcheck-overdue\b"))
    page.clock.fast_forward("00:05")
    assert beeps(page) == 0
    assert page.evaluate("() => window.__sound.contexts") == 0
