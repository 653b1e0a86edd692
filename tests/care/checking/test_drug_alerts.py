"""Drug alerts: a manager issues one, every board and desk of the network shows it until it
expires (no background job) or is withdrawn; the alert log says who did what and when."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.care.checking import actions
from saferoom.care.checking.models import DrugAlert
from saferoom.core.errors import ActionRefused
from saferoom.core.middleware import POLL_HEADER
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.floor import board, board_cache
from saferoom.sites.models import Site
from tests.care.checking.conftest import AFTERNOON, alert_form
from tests.conftest import login, make_user

POLL: dict[str, Any] = {POLL_HEADER: "1", "HTTP_HX_REQUEST": "true"}
MESSAGE = "Nitazene in heroin"


def board_url(site: Site) -> str:
    return reverse("board:board", kwargs={"site": site.slug})


def poll_url(site: Site, version: int) -> str:
    return reverse("board:poll", kwargs={"site": site.slug}) + f"?v={version}"


def queue_url(site: Site) -> str:
    return reverse("floor:queue", kwargs={"site": site.slug})


def alerts_url(site: Site) -> str:
    return reverse("checking:alerts", kwargs={"site": site.slug})


def new_url(site: Site) -> str:
    return reverse("checking:alert_new", kwargs={"site": site.slug})


def withdraw_url(site: Site, alert: DrugAlert) -> str:
    return reverse("checking:alert_withdraw", kwargs={"site": site.slug, "pk": alert.pk})


def banner_url(site: Site) -> str:
    return reverse("checking:banner", kwargs={"site": site.slug})


def shows(browser: HttpClient, url: str, text: str = MESSAGE) -> bool:
    response = browser.get(url)
    assert response.status_code == 200
    return text in response.content.decode()


# --- Issuing ----------------------------------------------------------------------------------


def test_an_alert_from_site_a_shows_on_every_board_and_desk_of_the_network(
    issue, as_nurse, as_nurse_b, as_other_site_worker, site_a, site_b
):
    issue()
    assert shows(as_nurse, board_url(site_a))
    assert shows(as_nurse, queue_url(site_a))
    assert shows(as_nurse_b, board_url(site_b))
    assert shows(as_other_site_worker, queue_url(site_b))


def test_the_banner_is_a_named_region_saying_how_serious_it_is(issue, as_nurse, site_a):
    issue(severity="warning")
    page = as_nurse.get(board_url(site_a)).content.decode()
    assert 'aria-labelledby="drug-alerts-heading"' in page
    assert 'id="drug-alerts-heading"' in page
    assert "drug-alert-warning" in page
    assert "Warning:</strong> Nitazene in heroin" in page


def test_another_networks_alert_does_not_show(issue, other_network_site, as_nurse, site_a):
    elsewhere = make_user("elle.manager", (Role.MANAGER, other_network_site))
    issue(site=other_network_site, by=elsewhere)
    assert not shows(as_nurse, board_url(site_a))


def test_issuing_bumps_the_board_of_every_site_of_the_network(
    issue, site_a, site_b, other_network_site
):
    before = {s.pk: board.board_version(s) for s in (site_a, site_b, other_network_site)}
    issue()
    assert board.board_version(site_a) == before[site_a.pk] + 1
    assert board.board_version(site_b) == before[site_b.pk] + 1
    assert board.board_version(other_network_site) == before[other_network_site.pk]


def test_an_open_board_shows_a_new_alert_at_its_next_poll(issue, as_nurse_b, site_b):
    as_nurse_b.get(board_url(site_b))
    seen = board.board_version(site_b)
    assert as_nurse_b.get(poll_url(site_b, seen), **POLL).status_code == 204
    issue()  # at Riverside
    response = as_nurse_b.get(poll_url(site_b, seen), **POLL)
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()


def test_a_manager_issues_an_alert_through_the_form(as_manager, site_a, manager):
    response = as_manager.post(new_url(site_a), alert_form(lasts="7"), follow=True)
    assert response.status_code == 200
    assert "Alert issued" in response.content.decode()
    alert = DrugAlert.objects.get()
    assert (alert.severity, alert.site, alert.issued_by) == ("danger", site_a, manager)
    assert alert.expires_at - alert.issued_at == dt.timedelta(days=7)
    assert AuditEvent.objects.filter(action="drug_alert.issued", object_id=str(alert.pk)).exists()


def test_until_a_date_shows_to_the_end_of_that_day_in_site_time(as_manager, site_a):
    as_manager.post(new_url(site_a), alert_form(lasts="until", last_day="2026-03-12"))
    alert = DrugAlert.objects.get()
    assert alert.expires_at == dt.datetime(2026, 3, 13, 0, 0, tzinfo=site_a.tz)


def test_a_double_tap_issues_one_alert_and_bumps_once(as_manager, site_a):
    data = alert_form()
    as_manager.post(new_url(site_a), data)
    version = board.board_version(site_a)
    as_manager.post(new_url(site_a), data)
    assert DrugAlert.objects.count() == 1
    assert board.board_version(site_a) == version


def test_the_same_key_with_another_message_is_refused(site_a, manager):
    key = uuid.uuid4()
    until = AFTERNOON + dt.timedelta(days=1)
    args = {"site": site_a, "severity": "info", "expires_at": until, "by": manager}
    actions.issue_alert(message="One", idempotency_key=key, **args)
    with pytest.raises(ActionRefused) as refused:
        actions.issue_alert(message="Two", idempotency_key=key, **args)
    assert refused.value.code == "key_reused"
    assert DrugAlert.objects.count() == 1


# --- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"expires_at": AFTERNOON - dt.timedelta(minutes=1)}, "expires_at"),
        ({"expires_at": AFTERNOON}, "expires_at"),
        ({"expires_at": AFTERNOON + dt.timedelta(days=91)}, "expires_at"),
        ({"severity": "panic"}, "severity"),
        ({"message": "   "}, "message"),
        ({"message": "<script>"}, "message"),
        ({"message": "x" * 281}, "message"),
    ],
    ids=["past", "now", "too_long", "severity", "empty", "markup", "message_too_long"],
)
def test_a_bad_alert_is_refused_and_changes_nothing(site_a, manager, change, code):
    version = board.board_version(site_a)
    args = {
        "site": site_a,
        "severity": "danger",
        "message": MESSAGE,
        "expires_at": AFTERNOON + dt.timedelta(days=1),
        "by": manager,
        "idempotency_key": uuid.uuid4(),
    }
    args.update(change)
    with pytest.raises(ActionRefused) as refused:
        actions.issue_alert(**args)
    assert refused.value.code == code
    assert not DrugAlert.objects.exists()
    assert board.board_version(site_a) == version


def test_an_expiry_in_the_past_over_http_is_shown_next_to_the_date(as_manager, site_a):
    response = as_manager.post(new_url(site_a), alert_form(lasts="until", last_day="2026-03-09"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "That time has already passed" in page
    assert 'id="id_last_day_error"' in page
    assert not DrugAlert.objects.exists()


def test_until_a_date_needs_the_date(as_manager, site_a):
    response = as_manager.post(new_url(site_a), alert_form(lasts="until"))
    assert "Choose the last day the alert shows." in response.content.decode()
    assert not DrugAlert.objects.exists()


def test_the_database_refuses_an_alert_that_expires_before_it_was_issued(issue):
    alert = issue()
    with pytest.raises(IntegrityError), transaction.atomic():
        DrugAlert.objects.filter(pk=alert.pk).update(expires_at=alert.issued_at)


# --- Expiry without a job ----------------------------------------------------------------------


def test_an_alert_expires_on_every_site_without_any_job(
    issue, afternoon, nurse, nurse_b, other_site_worker, site_a, site_b
):
    issue(days=1)  # by Riverside's manager
    assert shows(login(other_site_worker), queue_url(site_b))
    assert shows(login(nurse), board_url(site_a))
    # (Each step logs in afresh: a day later the old sessions have timed out.)
    afternoon.move_to(AFTERNOON + dt.timedelta(days=1, seconds=-1))
    assert shows(login(nurse_b), board_url(site_b))
    afternoon.move_to(AFTERNOON + dt.timedelta(days=1))
    assert not shows(login(nurse), board_url(site_a))
    assert not shows(login(nurse_b), board_url(site_b))
    desk_b = login(other_site_worker)
    assert not shows(desk_b, queue_url(site_b))
    log = desk_b.get(alerts_url(site_b)).content.decode()
    assert MESSAGE in log
    assert "Expired" in log


def test_the_banner_poll_notices_expiry_and_answers_204_while_nothing_changes(
    issue, afternoon, nurse_b, site_b
):
    issue(days=1)
    tablet = login(nurse_b)
    first = tablet.get(banner_url(site_b), **POLL)
    assert first.status_code == 200
    assert MESSAGE in first.content.decode()
    version = first.content.decode().split('data-alerts-version="')[1].split('"')[0]
    same = tablet.get(banner_url(site_b), HTTP_IF_NONE_MATCH=f'"{version}"', **POLL)
    assert same.status_code == 204
    afternoon.move_to(AFTERNOON + dt.timedelta(days=2))
    later = login(nurse_b).get(banner_url(site_b), HTTP_IF_NONE_MATCH=f'"{version}"', **POLL)
    assert later.status_code == 200
    assert MESSAGE not in later.content.decode()


def test_the_banner_opened_in_a_browser_leads_to_the_alert_log(as_desk, site_a):
    response = as_desk.get(banner_url(site_a))
    assert response.status_code == 302
    assert response["Location"] == alerts_url(site_a)


# --- Withdrawing ------------------------------------------------------------------------------


def test_a_manager_of_another_site_withdraws_it_everywhere(
    issue, as_manager_b, manager_b, as_nurse, site_a, site_b
):
    alert = issue()
    before = board.board_version(site_a)
    response = as_manager_b.post(
        withdraw_url(site_b, alert), {"reason": "False alarm"}, follow=True
    )
    assert "Alert withdrawn" in response.content.decode()
    alert.refresh_from_db()
    assert alert.withdrawn_by == manager_b
    assert alert.withdraw_reason == "False alarm"
    assert board.board_version(site_a) == before + 1
    assert not shows(as_nurse, board_url(site_a))
    log = as_nurse.get(alerts_url(site_a)).content.decode()
    assert "bea.manager" in log
    assert "False alarm" in log
    assert "mo.manager" in log


def test_withdrawing_twice_is_refused(issue, site_a, manager):
    alert = issue()
    actions.withdraw_alert(alert=alert, site=site_a, by=manager)
    with pytest.raises(ActionRefused) as refused:
        actions.withdraw_alert(alert=alert, site=site_a, by=manager, reason="again")
    assert refused.value.code == "already_withdrawn"
    alert.refresh_from_db()
    assert alert.withdraw_reason == ""


def test_withdrawing_twice_over_http_says_so(issue, as_manager, site_a):
    alert = issue()
    as_manager.post(withdraw_url(site_a, alert))
    response = as_manager.post(withdraw_url(site_a, alert), follow=True)
    assert "This alert was already withdrawn at 14:00" in response.content.decode()
    assert AuditEvent.objects.filter(action="drug_alert.withdrawn").count() == 1


def test_withdrawing_an_expired_alert_is_refused(issue, afternoon, site_a, manager):
    alert = issue(days=1)
    afternoon.move_to(AFTERNOON + dt.timedelta(days=2))
    with pytest.raises(ActionRefused) as refused:
        actions.withdraw_alert(alert=alert, site=site_a, by=manager)
    assert refused.value.code == "expired"


def test_another_networks_alert_is_a_404(issue, as_manager, site_a, other_network_site):
    alert = issue(site=other_network_site, by=make_user("x", (Role.MANAGER, other_network_site)))
    assert as_manager.post(withdraw_url(site_a, alert)).status_code == 404
    alert.refresh_from_db()
    assert alert.withdrawn_at is None


# --- Who may ---------------------------------------------------------------------------------


def test_only_managers_and_administrators_issue_and_withdraw(
    issue, as_desk, as_nurse, as_admin, as_evaluator, site_a
):
    alert = issue()
    for browser in (as_desk, as_nurse, as_evaluator):
        assert browser.post(new_url(site_a), alert_form()).status_code == 403
        assert browser.post(withdraw_url(site_a, alert)).status_code == 403
    assert DrugAlert.objects.count() == 1
    assert as_admin.post(new_url(site_a), alert_form()).status_code == 302
    assert DrugAlert.objects.count() == 2


def test_all_staff_read_the_alert_log_but_evaluators_do_not(
    issue, as_desk, as_nurse, as_evaluator, site_a
):
    issue()
    assert shows(as_desk, alerts_url(site_a))
    assert shows(as_nurse, alerts_url(site_a))
    assert as_evaluator.get(alerts_url(site_a)).status_code == 403


def test_alerts_show_where_drug_checking_is_not_offered(issue, as_nurse_b, site_b):
    site_b.drug_checking_allowed = False
    site_b.save(update_fields=["drug_checking_allowed"])
    issue()
    assert shows(as_nurse_b, board_url(site_b))
    assert shows(as_nurse_b, alerts_url(site_b))


def test_the_banner_costs_the_same_queries_however_many_alerts(issue, as_nurse, site_a):
    issue()
    as_nurse.get(board_url(site_a))  # warm the session
    board_cache.clear()  # both measurements render the board afresh, not the shared copy
    with CaptureQueriesContext(connection) as one:
        as_nurse.get(board_url(site_a))
    for n in range(5):
        issue(message=f"Alert {n}")
    board_cache.clear()
    with CaptureQueriesContext(connection) as six:
        page = as_nurse.get(board_url(site_a)).content.decode()
    assert page.count('class="drug-alert drug-alert-') == 6
    assert len(six) == len(one)
