"""Managers read their site's audit log (administrators the whole network), filtered by date,
person, action and client code sent in the form body, a page at a time, and download it as
CSV. Reading and downloading it are audit events themselves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from saferoom.core import audit
from saferoom.core.models import AuditEvent
from saferoom.governance.views import EVENTS_PER_PAGE
from tests.governance.conftest import make_client

pytestmark = pytest.mark.django_db


def log_url(site) -> str:
    return reverse("governance:audit_log", kwargs={"site": site.slug})


def export_url(site) -> str:
    return reverse("governance:audit_export", kwargs={"site": site.slug})


@pytest.fixture
def events(site_a, site_b, desk, nurse, other_site_worker):
    client = make_client(site_a, desk, name="Nobody Atall")
    audit.record(action="client.viewed", by=desk, obj=client, site=site_a)
    audit.record(action="visit.checked_in", by=nurse, site=site_a)
    audit.record(action="client.viewed", by=other_site_worker, site=site_b)
    audit.record(action="auth.login", by=desk, at=timezone.now() - dt.timedelta(days=40))  # no site
    return client


def test_a_manager_sees_their_sites_events_and_not_another_sites(as_manager, site_a, events):
    response = as_manager.get(log_url(site_a))
    assert response.status_code == 200
    text = response.content.decode()
    assert events.display_code in text
    assert "visit.checked_in" in text
    assert "oscar.other" not in text
    assert 'name="scope"' not in text  # a site manager cannot ask for the network


def test_an_administrator_may_see_the_whole_network(as_admin, site_a, events):
    response = as_admin.post(log_url(site_a), {"scope": "network"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "oscar.other" in text
    assert "auth.login" in text


def test_a_site_manager_asking_for_the_network_gets_their_site(as_manager, site_a, events):
    response = as_manager.post(log_url(site_a), {"scope": "network"})
    assert response.status_code == 200
    assert "oscar.other" not in response.content.decode()


def test_filters_by_person_action_client_code_and_dates(as_manager, site_a, events):
    by_code = as_manager.post(log_url(site_a), {"object_code": events.display_code.lower()})
    page = by_code.context["page"]
    assert [e.object_label for e in page] == [events.display_code]
    by_person = as_manager.post(log_url(site_a), {"person": "nina.nurse"})
    assert {e.actor_label for e in by_person.context["page"]} == {"nina.nurse"}
    by_action = as_manager.post(log_url(site_a), {"action": "visit."})
    assert [e.action for e in by_action.context["page"]] == ["visit.checked_in"]
    today = site_a.local(timezone.now()).date()
    future = as_manager.post(log_url(site_a), {"date_from": today + dt.timedelta(days=1)})
    assert list(future.context["page"]) == []


def test_the_client_code_never_appears_in_the_address(as_manager, site_a, events):
    response = as_manager.post(log_url(site_a), {"object_code": events.display_code})
    assert events.display_code not in response.request["PATH_INFO"]
    assert response.request.get("QUERY_STRING", "") == ""


def test_bad_filters_say_what_is_wrong_and_show_nothing(as_manager, site_a, events):
    before = AuditEvent.objects.count()
    response = as_manager.post(
        log_url(site_a),
        {"date_from": "2026-05-02", "date_to": "2026-05-01", "object_code": "<script>x"},
    )
    assert response.status_code == 200
    assert response.context["page"] is None
    text = response.content.decode()
    assert "The end date is before the start date." in text
    assert "<script>x" not in text
    assert AuditEvent.objects.count() == before


def test_reading_the_log_is_itself_audited(as_manager, manager, site_a, events):
    as_manager.post(log_url(site_a), {"person": "dana.desk", "page": 1})
    read = AuditEvent.objects.filter(action="audit.viewed").get()
    assert (read.actor_label, read.site_id) == (manager.username, site_a.pk)
    assert read.detail == {"person": "dana.desk", "page": 1}


def test_the_log_is_shown_a_page_at_a_time(as_manager, desk, site_a):
    for i in range(EVENTS_PER_PAGE + 5):
        audit.record(action="visit.checked_in", by=desk, site=site_a, detail={"i": i})
    first = as_manager.post(log_url(site_a), {"action": "visit."})
    second = as_manager.post(log_url(site_a), {"action": "visit.", "page": 2})
    assert len(first.context["page"]) == EVENTS_PER_PAGE
    assert len(second.context["page"]) == 5
    assert "Older events" in first.content.decode()


def test_a_manager_downloads_the_filtered_log_as_csv(as_manager, site_a, events):
    response = as_manager.post(export_url(site_a), {"person": "dana.desk"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("id,at_utc,person")
    assert len(lines) == 2
    assert events.display_code in lines[1]
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.detail["rows"] == 1


def test_desk_and_evaluators_cannot_read_the_log(as_desk, as_evaluator, site_a, events):
    assert as_desk.post(log_url(site_a), {}).status_code == 403
    assert as_evaluator.post(export_url(site_a), {}).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="audit.").exists()


def test_a_csv_cell_cannot_become_a_spreadsheet_formula(as_manager, site_a, desk):
    from saferoom.sites.models import Site

    Site.objects.filter(pk=site_a.pk).update(name="=HYPERLINK(1)")
    site_a.refresh_from_db()
    audit.record(action="visit.checked_in", by=desk, site=site_a)
    lines = as_manager.post(export_url(site_a), {}).content.decode().splitlines()
    assert any(line.endswith(",'=HYPERLINK(1),") for line in lines)
