"""One render of a changed board, shared: the devices asking for the same version in the same
second get the same board (saferoom.floor.board_cache), each with its own CSRF token, a fresh
idempotency key in every form and the server's clock; a change is shown at once, and someone who
may only look never gets the board of someone who may act."""

from __future__ import annotations

import re
from typing import Any

import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from saferoom.floor import board
from saferoom.sites.models import Site
from tests.conftest import login
from tests.floor.board_ui.conftest import POLL, shown_version, url

KEYS = re.compile(r'name="idempotency_key" value="([^"]*)"')
TOKENS = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')
AFTERNOON = "2026-03-10 14:00:00+00:00"


def poll(browser: HttpClient, site: Site, version: object = "") -> Any:
    return browser.get(url(site, "poll"), {"v": str(version)}, **POLL)


def _without_per_request_parts(page: str) -> str:
    page = KEYS.sub('name="idempotency_key" value=""', page)
    page = TOKENS.sub('name="csrfmiddlewaretoken" value=""', page)
    return re.sub(r'data-server-now="[^"]*"', 'data-server-now=""', page)


def test_two_devices_in_the_same_second_share_one_render_with_their_own_keys_and_tokens(
    nurse, nurse2, site_a, arrive, seat_in
):
    with time_machine.travel(AFTERNOON, tick=False):
        seat_in(arrive(site_a), "Booth 1")
        arrive(site_a)
        first, second = login(nurse), login(nurse2)
        poll(second, site_a, board.board_version(site_a))  # its session's first request
        one = poll(first, site_a).content.decode()
        with CaptureQueriesContext(connection) as shared:
            two = poll(second, site_a).content.decode()
        with CaptureQueriesContext(connection) as unchanged:
            poll(second, site_a, board.board_version(site_a))
    assert _without_per_request_parts(one) == _without_per_request_parts(two)
    keys = KEYS.findall(one) + KEYS.findall(two)
    assert len(keys) > 4
    assert all(keys)
    assert len(set(keys)) == len(keys)  # every form of every copy has its own key
    assert set(TOKENS.findall(one)).isdisjoint(TOKENS.findall(two))
    # The shared copy costs what "nothing changed" costs, not a new snapshot.
    assert len(shared) <= len(unchanged) + 1


def test_a_change_is_shown_at_once_even_within_the_same_second(nurse, site_a, arrive, seat_in):
    with time_machine.travel(AFTERNOON, tick=False):
        browser = login(nurse)
        before = poll(browser, site_a).content.decode()
        visit = arrive(site_a)
        seat_in(visit, "Booth 2")
        after = poll(browser, site_a, shown_version(before)).content.decode()
    assert shown_version(after) == board.board_version(site_a) > shown_version(before)
    assert visit.client.display_code in after
    assert visit.client.display_code not in before


def test_the_desk_never_gets_the_board_of_someone_who_may_act(
    as_nurse, as_desk, site_a, arrive, seat_in
):
    seat_in(arrive(site_a), "Booth 1")
    with time_machine.travel(AFTERNOON, tick=False):
        acting = poll(as_nurse, site_a).content.decode()
        looking = poll(as_desk, site_a).content.decode()
        page = as_desk.get(url(site_a)).content.decode()
    assert "Check done" in acting
    assert "Check done" not in looking
    assert "Check done" not in page


def test_the_board_page_holds_the_same_shared_board_with_the_pages_own_keys(
    as_nurse, site_a, arrive, seat_in
):
    seat_in(arrive(site_a), "Booth 1")
    with time_machine.travel(AFTERNOON, tick=False):
        partial = poll(as_nurse, site_a).content.decode()
        page = as_nurse.get(url(site_a)).content.decode()
    live = page[page.index('<div id="board-live"') :]
    assert _without_per_request_parts(partial) in _without_per_request_parts(live)
    assert set(KEYS.findall(partial)).isdisjoint(KEYS.findall(page))
