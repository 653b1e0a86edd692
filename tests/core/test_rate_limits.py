"""Bulk-extraction guard (checklist item 15, ASVS 8.1.4): searches and record views are limited
per person in a sliding window; past the limit the person gets a 429 page that says what to do,
an audit event is written, and the site's managers get one security alert."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from saferoom.core import ratelimit
from saferoom.core.models import AuditEvent
from saferoom.core.models_security import RateTally, SecurityAlert
from tests.clients.conftest import detail_url, find_by_code, find_url, register_via_http

NOW = dt.datetime(2026, 6, 1, 18, 0, 20, tzinfo=dt.UTC)
LIMITS = override_settings(
    RATE_LIMIT_SEARCHES=3, RATE_LIMIT_RECORD_VIEWS=3, RATE_LIMIT_WINDOW_MINUTES=10
)


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client_a(as_manager, site_a, travel):
    return register_via_http(as_manager, site_a)


@LIMITS
def test_the_search_past_the_limit_gets_a_429_page_an_audit_event_and_an_alert(
    as_desk, desk, site_a, client_a, travel
):
    for _ in range(3):
        assert find_by_code(as_desk, site_a, client_a.display_code).status_code == 200
    response = find_by_code(as_desk, site_a, client_a.display_code)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many searches" in page
    assert "Your manager has been told" in page
    assert client_a.display_code not in page  # the search was not done
    assert int(response["Retry-After"]) > 0
    refused = AuditEvent.objects.get(action="security.rate_limited")
    assert refused.actor_id == desk.pk
    assert refused.site_id == site_a.pk
    assert refused.detail == {"kind": "search", "count": 3, "limit": 3, "window_minutes": 10}
    alert = SecurityAlert.objects.get()
    assert (alert.kind, alert.user, alert.site_id, alert.times) == (
        "search_limit",
        desk,
        site_a.pk,
        1,
    )
    # The refused search found nobody: only three searches are in the audit trail.
    assert AuditEvent.objects.filter(action="client.found", actor_id=desk.pk).count() == 3


@LIMITS
def test_going_on_past_the_limit_counts_on_the_same_alert(as_desk, site_a, client_a, travel):
    for _ in range(3):
        find_by_code(as_desk, site_a, client_a.display_code)
    for _ in range(4):
        assert find_by_code(as_desk, site_a, client_a.display_code).status_code == 429
    alert = SecurityAlert.objects.get()
    assert alert.times == 4


@LIMITS
def test_the_window_slides_so_searching_works_again_after_ten_minutes(
    as_desk, site_a, client_a, travel
):
    for _ in range(3):
        find_by_code(as_desk, site_a, client_a.display_code)
    travel.shift(dt.timedelta(minutes=9))
    assert find_by_code(as_desk, site_a, client_a.display_code).status_code == 429
    travel.shift(dt.timedelta(minutes=1))
    assert find_by_code(as_desk, site_a, client_a.display_code).status_code == 200
    # Minutes that left the window are forgotten.
    assert RateTally.objects.filter(minute__lt=NOW + dt.timedelta(minutes=1)).count() == 0


@LIMITS
def test_one_persons_searches_do_not_use_up_a_colleagues(
    as_desk, as_nurse, site_a, client_a, travel
):
    for _ in range(3):
        find_by_code(as_desk, site_a, client_a.display_code)
    assert find_by_code(as_desk, site_a, client_a.display_code).status_code == 429
    assert find_by_code(as_nurse, site_a, client_a.display_code).status_code == 200


@LIMITS
def test_opening_records_past_the_limit_gets_a_429_and_an_alert(
    as_desk, desk, site_a, client_a, travel
):
    find_by_code(as_desk, site_a, client_a.display_code)
    for _ in range(3):
        assert as_desk.get(detail_url(site_a, client_a)).status_code == 200
    response = as_desk.get(detail_url(site_a, client_a))
    assert response.status_code == 429
    assert "Too many records opened" in response.content.decode()
    assert SecurityAlert.objects.get().kind == "record_limit"
    # Saving is never limited: the desk can still check the client in or write intake.
    intake = reverse("clients:intake", kwargs={"site": site_a.slug, "pk": client_a.pk})
    assert as_desk.post(intake, {}).status_code != 429


@LIMITS
def test_an_htmx_request_past_the_limit_gets_the_429_status_for_the_page_script(
    as_desk, site_a, client_a, travel
):
    for _ in range(3):
        find_by_code(as_desk, site_a, client_a.display_code)
    response = as_desk.post(
        find_url(site_a), {"search": "code", "code": client_a.display_code}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 429


def test_a_busy_desk_never_reaches_the_default_limits(desk, site_a):
    """The busiest known site sees 500–800 visits a day; at a rush, one desk worker finds a
    client every 20 seconds and opens each record twice, for an hour."""
    start = NOW
    for i in range(180):
        at = start + dt.timedelta(seconds=20 * i)
        ratelimit.check_user(desk, ratelimit.SEARCH, site=site_a, at=at)
        ratelimit.check_user(desk, ratelimit.RECORD, site=site_a, at=at)
        ratelimit.check_user(desk, ratelimit.RECORD, site=site_a, at=at)
    assert not SecurityAlert.objects.exists()
    # ...and the limits do bite well before a bulk download of the register.
    later = start + dt.timedelta(hours=2)
    for _ in range(ratelimit.limit(ratelimit.SEARCH)):
        ratelimit.check_user(desk, ratelimit.SEARCH, site=site_a, at=later)
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.check_user(desk, ratelimit.SEARCH, site=site_a, at=later)


@LIMITS
def test_managers_see_the_alert_with_a_count_in_their_navigation_and_review_it(
    as_desk, as_manager, manager, site_a, client_a, travel
):
    for _ in range(4):
        find_by_code(as_desk, site_a, client_a.display_code)
    alerts_url = reverse("sites:security_alerts", kwargs={"site": site_a.slug})
    home = as_manager.get(reverse("floor:queue", kwargs={"site": site_a.slug})).content.decode()
    assert alerts_url in home
    assert '<span class="count-badge">1<span class="visually-hidden"> to review' in home

    page = as_manager.get(alerts_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Too many client searches: dana.desk" in html
    assert "3 in 10 minutes" in html
    assert as_desk.get(alerts_url).status_code == 403

    alert = SecurityAlert.objects.get()
    review = reverse("sites:security_alert_review", kwargs={"site": site_a.slug, "pk": alert.pk})
    response = as_manager.post(review, {"note": "Spoke to them: testing a new scanner."})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.reviewed_by == manager
    assert alert.review_note == "Spoke to them: testing a new scanner."
    assert AuditEvent.objects.filter(action="security.alert_reviewed").count() == 1
    home = as_manager.get(reverse("floor:queue", kwargs={"site": site_a.slug})).content.decode()
    assert "count-badge" not in home
    # Reviewing twice changes nothing.
    as_manager.post(review, {"note": "again"})
    alert.refresh_from_db()
    assert alert.review_note == "Spoke to them: testing a new scanner."


@LIMITS
def test_another_sites_manager_cannot_see_or_review_the_alert(
    as_desk, as_other_site_worker, site_a, site_b, client_a, travel
):
    for _ in range(4):
        find_by_code(as_desk, site_a, client_a.display_code)
    alert = SecurityAlert.objects.get()
    review = reverse("sites:security_alert_review", kwargs={"site": site_a.slug, "pk": alert.pk})
    assert as_other_site_worker.post(review, {"note": "x"}).status_code == 404
    alert.refresh_from_db()
    assert alert.reviewed_at is None
