"""The desk's queue: who is waiting and for how long, today's counts, and a poll that costs
almost nothing while nothing changes."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.floor import actions
from saferoom.floor.models import Visit
from saferoom.sites.models import OpeningHours, Site
from tests.conftest import login
from tests.floor.conftest import AFTERNOON, LONDON, reason, substance

POLL: dict[str, Any] = {"HTTP_HX_REQUEST": "true", "HTTP_X_SAFEROOM_POLL": "1"}


def queue_url(site) -> str:
    return reverse("floor:queue", kwargs={"site": site.slug})


def check_in(
    site: Site,
    client: Client | None,
    by: User,
    *,
    codes: tuple[str, ...] = ("heroin",),
    route: str = "inject",
    anonymous: bool = False,
) -> Visit:
    return actions.check_in(
        site=site,
        client=client,
        anonymous=anonymous,
        planned_route=route,
        planned_substances=[substance(site, code) for code in codes],
        otherwise_location="not_said",
        would_use_alone="not_said",
        eligibility={"old_enough": True, "first_time": False, "intoxicated": False}
        if anonymous
        else {"first_time": False, "intoxicated": False},
        by=by,
        idempotency_key=uuid.uuid4(),
    )


def poll(browser: HttpClient, site: Site, version: str) -> Any:
    return browser.get(queue_url(site), HTTP_IF_NONE_MATCH=version, **POLL)


def poller_version(page: str) -> str:
    match = re.search(r'"If-None-Match": "([^"]+)"', page)
    assert match, "the queue has no poller"
    return match.group(1)


def test_the_queue_lists_waiting_visits_oldest_first_with_live_waits(
    as_desk, site_a, register, desk
):
    first = register(site_a)
    with time_machine.travel(AFTERNOON, tick=False) as clock:
        check_in(site_a, first, desk, codes=("heroin", "crack"))
        clock.shift(dt.timedelta(minutes=7))
        check_in(site_a, None, desk, route="smoke", codes=("crack",), anonymous=True)
        clock.shift(dt.timedelta(minutes=3, seconds=5))
        response = as_desk.get(queue_url(site_a))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta name="server-now" content="2026-03-10T14:10:05+00:00">' in page
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 2
    assert first.display_code in rows[0]
    assert "Heroin, Crack cocaine" in rows[0]
    assert "Inject" in rows[0]
    assert ">14:00</time>" in rows[0]
    assert '<time data-since="2026-03-10T14:00:00+00:00">10:05</time>' in rows[0]
    assert "Anonymous" in rows[1]
    assert "Smoke or inhale" in rows[1]
    assert '<time data-since="2026-03-10T14:07:00+00:00">3:05</time>' in rows[1]
    assert 'hx-confirm="Has ' in rows[0]  # leaving the queue asks first


def test_the_queue_shows_the_way_in_and_todays_counts(as_desk, site_a, client_a, desk):
    check_in(site_a, client_a, desk)
    actions.turn_away(
        site=site_a,
        client=None,
        reason=reason(site_a, "full"),
        by=desk,
        idempotency_key=uuid.uuid4(),
    )
    page = as_desk.get(queue_url(site_a)).content.decode()
    assert f'href="{reverse("clients:find", kwargs={"site": site_a.slug})}"' in page
    assert "Check in a client" in page
    assert "Anonymous visit" in page
    assert "Turn away someone" in page
    assert "Since opening at 09:00" in page
    assert "<dt>Waiting now</dt><dd>1</dd>" in page
    assert "<dt>Checked in</dt><dd>1</dd>" in page
    assert "<dt>Turned away</dt><dd>1</dd>" in page


def test_a_site_without_anonymous_visits_does_not_offer_them(as_other_site_worker, site_b):
    page = as_other_site_worker.get(queue_url(site_b)).content.decode()
    assert "Anonymous visit" not in page
    assert "Nobody is waiting." in page


def test_counts_follow_the_opening_period_across_midnight(site_a, client_a, desk, afternoon):
    OpeningHours.objects.filter(site=site_a).update(opens=dt.time(9), closes=dt.time(3))
    afternoon.move_to(dt.datetime(2026, 3, 10, 23, 30, tzinfo=LONDON))
    check_in(site_a, client_a, desk)
    afternoon.move_to(dt.datetime(2026, 3, 11, 1, 30, tzinfo=LONDON))
    page = login(desk).get(queue_url(site_a)).content.decode()
    # Still Tuesday's session: the 23:30 check-in counts.
    assert "Since opening at 09:00" in page
    assert "<dt>Checked in</dt><dd>1</dd>" in page


def test_the_poller_refreshes_every_five_seconds_without_counting_as_activity(as_desk, site_a):
    page = as_desk.get(queue_url(site_a)).content.decode()
    found = re.search(r"<span hidden hx-get=[^>]*>", page)
    assert found
    poller = found.group(0)
    assert f'hx-get="{queue_url(site_a)}"' in poller
    assert 'hx-trigger="every 5s"' in poller
    assert '"X-Saferoom-Poll": "1"' in poller
    assert 'hx-target="#queue-live"' in poller


def test_the_poll_answers_204_while_nothing_changes(as_desk, site_a, client_a, desk):
    check_in(site_a, client_a, desk)
    response = as_desk.get(queue_url(site_a))
    version = poller_version(response.content.decode())
    assert response["ETag"] == f'"{version}"'
    for _ in range(3):
        answer = poll(as_desk, site_a, version)
        assert answer.status_code == 204
        assert answer.content == b""


def test_the_poll_sends_the_new_queue_after_a_change(as_desk, site_a, register, desk):
    version = poller_version(as_desk.get(queue_url(site_a)).content.decode())
    newcomer = register(site_a)
    check_in(site_a, newcomer, desk)
    answer = poll(as_desk, site_a, version)
    assert answer.status_code == 200
    partial = answer.content.decode()
    assert partial.startswith('<section id="queue-live"')
    assert "<html" not in partial
    assert newcomer.display_code in partial
    new_version = poller_version(partial)
    assert new_version != version
    assert poll(as_desk, site_a, new_version).status_code == 204


@pytest.mark.parametrize("change", ["leave", "check_out", "turn_away", "in_space"])
def test_every_kind_of_change_is_noticed_by_the_poll(
    as_desk, site_a, client_a, desk, change, afternoon
):
    visit = check_in(site_a, client_a, desk)
    version = poller_version(as_desk.get(queue_url(site_a)).content.decode())
    afternoon.shift(dt.timedelta(seconds=5))
    if change == "leave":
        actions.leave_queue(visit=visit, by=desk)
    elif change == "check_out":
        actions.check_out(visit=visit, by=desk)
    elif change == "turn_away":
        actions.turn_away(
            site=site_a,
            client=None,
            reason=reason(site_a, "full"),
            by=desk,
            idempotency_key=uuid.uuid4(),
        )
    else:
        # How the board will claim a visit for a space: a conditional update.
        Visit.objects.filter(pk=visit.pk).update(
            state="in_space", changed_at=dt.datetime.now(dt.UTC)
        )
    assert poll(as_desk, site_a, version).status_code == 200


def test_a_poll_without_htmx_gets_304(as_desk, site_a):
    version = poller_version(as_desk.get(queue_url(site_a)).content.decode())
    response = as_desk.get(
        queue_url(site_a), HTTP_IF_NONE_MATCH=f'"{version}"', HTTP_X_SAFEROOM_POLL="1"
    )
    assert response.status_code == 304


def test_another_sites_changes_do_not_wake_the_poll(as_desk, site_a, site_b, register, desk):
    version = poller_version(as_desk.get(queue_url(site_a)).content.decode())
    check_in(site_b, register(site_b), desk)
    assert poll(as_desk, site_a, version).status_code == 204


def _queries(browser, url, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = browser.get(url, **headers)
        assert response.status_code in (200, 204)
    return len(captured)


def test_the_queue_and_its_poll_cost_the_same_however_long_the_queue(
    as_desk, site_a, register, desk, django_assert_max_num_queries
):
    url = queue_url(site_a)
    check_in(site_a, register(site_a), desk)
    as_desk.get(url)  # warm the session
    few_page = _queries(as_desk, url)
    version = poller_version(as_desk.get(url).content.decode())
    few_poll = _queries(as_desk, url, HTTP_IF_NONE_MATCH=version, **POLL)

    for _ in range(24):
        check_in(site_a, register(site_a), desk, codes=("heroin", "crack"))
    check_in(site_a, None, desk, anonymous=True)
    many_page = _queries(as_desk, url)
    version = poller_version(as_desk.get(url).content.decode())
    many_poll = _queries(as_desk, url, HTTP_IF_NONE_MATCH=version, **POLL)

    assert many_page == few_page
    assert many_poll == few_poll
    with django_assert_max_num_queries(10):
        assert as_desk.get(url).content.decode().count("<time data-since") == 26
    with django_assert_max_num_queries(6):
        assert poll(as_desk, site_a, version).status_code == 204


def test_evaluators_get_403_and_other_sites_404(as_evaluator, as_other_site_worker, site_a):
    assert as_evaluator.get(queue_url(site_a)).status_code == 403
    assert as_evaluator.get(queue_url(site_a), **POLL).status_code == 403
    assert as_other_site_worker.get(queue_url(site_a)).status_code == 404
    assert as_other_site_worker.get(queue_url(site_a), **POLL).status_code == 404


def test_nurses_managers_and_admins_see_the_queue(as_nurse, as_manager, as_admin, site_a):
    for browser in (as_nurse, as_manager, as_admin):
        assert browser.get(queue_url(site_a)).status_code == 200


def test_the_queue_is_never_cached_by_the_browser(as_desk, site_a):
    assert as_desk.get(queue_url(site_a))["Cache-Control"] == "no-store"


def test_times_are_shown_on_the_sites_own_clock(as_desk, site_a, client_a, desk, afternoon):
    site_a.time_zone = "America/Vancouver"
    site_a.save()
    OpeningHours.objects.filter(site=site_a).update(opens=dt.time(0), closes=dt.time(23, 59))
    check_in(site_a, client_a, desk)
    page = as_desk.get(queue_url(site_a)).content.decode()
    # 14:00 in London is 07:00 in Vancouver.
    assert AFTERNOON.astimezone(site_a.tz).hour == 7
    assert ">07:00</time>" in page
