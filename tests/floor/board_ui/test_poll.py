"""Live on every device, cheaply: each device polls with the version it shows; an unchanged
board answers 204 after a handful of queries, a changed one sends the board partial, and the
board costs the same number of queries with 5 spaces or 30."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from saferoom.core.models import User
from saferoom.floor import board, board_cache
from saferoom.floor.models import Escalation, Visit
from saferoom.sites.models import Site, Space
from tests.conftest import login
from tests.floor.board_ui.conftest import POLL, shown_version, url


def poll(browser, site: Site, version: object, **extra):
    return browser.get(url(site, "poll"), {"v": version}, **{**POLL, **extra})


def test_an_unchanged_board_answers_204_with_nothing_in_it(as_nurse, site_a, arrive):
    arrive(site_a)
    response = poll(as_nurse, site_a, board.board_version(site_a))
    assert response.status_code == 204
    assert response.content == b""


def test_a_changed_board_answers_with_the_board_partial_and_its_new_version(
    as_nurse, site_a, arrive, seat_in
):
    seen = board.board_version(site_a)
    visit = arrive(site_a)
    seat_in(visit, "Booth 2")
    response = poll(as_nurse, site_a, seen)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div id="board-live"' in page
    assert "<html" not in page  # a partial, not a page
    assert shown_version(page) == board.board_version(site_a) == seen + 2
    assert visit.client.display_code in page


@pytest.mark.parametrize("seen", ["", "abc", "-1", "1" * 400, "<script>", "9999999"])
def test_a_missing_or_malformed_version_gets_the_fresh_board_not_an_error(as_nurse, site_a, seen):
    response = poll(as_nurse, site_a, seen)
    assert response.status_code == 200
    assert '<div id="board-live"' in response.content.decode()


def test_the_poll_opened_in_a_browser_leads_to_the_board(as_nurse, site_a):
    response = as_nurse.get(url(site_a, "poll"), {"v": "0"})
    assert response.status_code == 302
    assert response["Location"] == url(site_a)


def test_the_desk_can_poll_the_board_it_may_see(as_desk, site_a, arrive):
    arrive(site_a)
    assert poll(as_desk, site_a, board.board_version(site_a)).status_code == 204
    page = poll(as_desk, site_a, 0).content.decode()
    assert ">Check done<" not in page
    assert "Next free space" not in page


def test_an_evaluator_and_another_sites_worker_cannot_poll(
    as_evaluator, as_other_site_worker, site_a
):
    assert poll(as_evaluator, site_a, 0).status_code == 403
    assert poll(as_other_site_worker, site_a, 0).status_code == 404


def test_an_unchanged_poll_costs_at_most_five_queries_with_session_and_auth(
    as_nurse, site_a, arrive, django_assert_max_num_queries
):
    arrive(site_a)
    current = board.board_version(site_a)
    as_nurse.get(url(site_a))  # the session is warm, as on a tablet that has the board open
    with django_assert_max_num_queries(5):
        assert poll(as_nurse, site_a, current).status_code == 204


def test_an_unchanged_poll_does_not_write_the_session(as_nurse, site_a):
    current = board.board_version(site_a)
    as_nurse.get(url(site_a))  # the first request of a login starts its idle clock
    with CaptureQueriesContext(connection) as queries:
        poll(as_nurse, site_a, current)
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes == []


# --- the same number of queries for a small board and a big one ---------------------------


@pytest.fixture
def busy_site(network, register, desk, nurse, manager) -> Callable[[int], tuple[Site, User]]:
    """A site with ``n`` booths, about half of them occupied (one in an emergency, one with an
    escalation), some in clear-down, a queue and people in after-care, and a floor nurse."""
    import uuid

    from saferoom.core.roles import Role
    from saferoom.floor import actions
    from tests.conftest import make_site, make_user
    from tests.floor.conftest import substance

    def make(n: int) -> tuple[Site, User]:
        site = make_site(network, f"Busy {n}", f"busy-{n}")
        Space.objects.filter(site=site, kind="booth").delete()
        for i in range(n):
            Space.objects.create(site=site, name=f"Cubicle {i}", kind="booth", sort_order=i)
        worker = make_user(f"floor{n}", (Role.FLOOR, site), (Role.DESK, site))
        make_user(f"lead{n}", (Role.MANAGER, site))

        def arrive() -> Visit:
            return actions.check_in(
                site=site,
                client=register(site, by=manager),
                planned_route="inject",
                planned_substances=[substance(site), substance(site, "crack")],
                otherwise_location="street",
                would_use_alone="yes",
                eligibility={"first_time": False, "intoxicated": False},
                by=worker,
                idempotency_key=uuid.uuid4(),
            )

        booths = list(Space.objects.filter(site=site, kind="booth"))
        sessions = [
            board.assign_space(visit=arrive(), space=booth, by=worker)
            for booth in booths[: n // 2 + 2]
        ]
        board.start_emergency(session=sessions[0], by=worker)
        Escalation.objects.create(
            session=sessions[1],
            site=site,
            due_at=sessions[1].next_check_due_at,
            escalated_at=sessions[1].next_check_due_at,
        )
        for session in sessions[-2:]:
            board.end_session(session=session, by=worker)
        for _ in range(max(2, n // 3)):
            arrive()
        board.set_shift_lead(site=site, user=worker, by=worker)
        return site, worker

    return make


def count_queries(browser, path: str, **extra) -> int:
    """The queries of a fresh render (not the one-second shared copy, board_cache)."""
    board_cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(path, **extra)
    assert response.status_code == 200
    return len(queries)


def test_the_board_page_costs_the_same_queries_for_5_spaces_as_for_30(
    busy_site, django_assert_max_num_queries
):
    small, small_nurse = busy_site(5)
    big, big_nurse = busy_site(30)
    small_browser, big_browser = login(small_nurse), login(big_nurse)
    small_browser.get(url(small))  # warm the session
    big_browser.get(url(big))
    small_count = count_queries(small_browser, url(small))
    big_count = count_queries(big_browser, url(big))
    assert small_count == big_count
    with django_assert_max_num_queries(20):
        big_browser.get(url(big))


def test_a_changed_poll_costs_the_same_queries_for_5_spaces_as_for_30(
    busy_site, django_assert_max_num_queries
):
    small, small_nurse = busy_site(5)
    big, big_nurse = busy_site(30)
    small_browser, big_browser = login(small_nurse), login(big_nurse)
    small_browser.get(url(small))
    big_browser.get(url(big))
    small_count = count_queries(small_browser, url(small, "poll") + "?v=0", **POLL)
    big_count = count_queries(big_browser, url(big, "poll") + "?v=0", **POLL)
    assert small_count == big_count
    with django_assert_max_num_queries(20):
        big_browser.get(url(big, "poll") + "?v=0", **POLL)


def test_the_big_board_shows_everything_it_was_given(busy_site):
    site, worker = busy_site(30)
    page = login(worker).get(url(site)).content.decode()
    assert page.count('class="tile tile-occupied') == 15
    assert page.count("tile-emergency") == 1
    assert page.count('class="tile tile-clear_down"') == 2
    assert page.count('class="queue-entry"') == 10
    assert page.count('class="aftercare-entry"') == 2
    assert "Missed checks passed to the shift lead" in page
