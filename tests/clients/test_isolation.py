"""Site isolation: a client's record is open to workers of the sites the client registered at
or visited, or who found the client at their own desk in the last two hours. Another network
never finds the client. Evaluators never see a client page. Every view is audited."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.http import Http404
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse

from saferoom.clients import actions
from saferoom.clients.access import GRANT_SECONDS, access_client, grant_client
from saferoom.clients.models import Ban, Client
from saferoom.core.models import AuditEvent
from saferoom.sites.models import Site
from tests.clients.conftest import (
    NDTMS,
    detail_url,
    find_by_code,
    make_visit,
    post_registration,
    register_via_http,
)


@pytest.fixture
def client_a(as_desk, site_a) -> Client:
    return register_via_http(as_desk, site_a)


@pytest.fixture
def ban_a(client_a, site_a, manager) -> Ban:
    import uuid

    return actions.set_ban(
        client=client_a,
        site=site_a,
        reason="damage",
        note="",
        starts_at=None,
        expires_at=None,
        by=manager,
        idempotency_key=uuid.uuid4(),
    )


def client_urls(site: Site, client: Client, ban: Ban) -> dict[str, str]:
    kw = {"site": site.slug, "pk": client.pk}
    return {
        "detail": reverse("clients:detail", kwargs=kw),
        "intake": reverse("clients:intake", kwargs=kw),
        "ban_new": reverse("clients:ban_new", kwargs=kw),
        "ban_lift": reverse("clients:ban_lift", kwargs={**kw, "ban": ban.pk}),
        "merge": reverse("clients:merge", kwargs=kw),
    }


URL_NAMES = ["detail", "intake", "ban_new", "ban_lift", "merge"]


def post_if_allowed(http: HttpClient, name: str, url: str) -> int | None:
    """The record itself is read-only (a POST gets 405 from anyone); the rest take POSTs."""
    return http.post(url, {"reason": "x"}).status_code if name != "detail" else None


@pytest.mark.parametrize("name", URL_NAMES)
def test_a_manager_of_another_site_gets_404_for_a_client_they_have_never_met(
    as_site_b_manager, site_a, site_b, client_a, ban_a, name
):
    for site in (site_b, site_a):  # through their own site, and through site A
        url = client_urls(site, client_a, ban_a)[name]
        assert as_site_b_manager.get(url).status_code == 404
        assert post_if_allowed(as_site_b_manager, name, url) in (404, None)
    assert not AuditEvent.objects.filter(action="client.viewed").exists()


@pytest.mark.parametrize("name", ["detail", "intake"])
def test_a_desk_worker_of_another_site_gets_404(
    as_other_site_worker, site_b, client_a, ban_a, name
):
    url = client_urls(site_b, client_a, ban_a)[name]
    assert as_other_site_worker.get(url).status_code == 404


@pytest.mark.parametrize("name", URL_NAMES)
def test_a_worker_of_another_network_gets_404_for_every_client_page(
    as_other_network_worker, other_network_site, site_a, client_a, ban_a, name
):
    for site in (other_network_site, site_a):
        url = client_urls(site, client_a, ban_a)[name]
        assert as_other_network_worker.get(url).status_code == 404
        assert post_if_allowed(as_other_network_worker, name, url) in (404, None)


@pytest.mark.parametrize("name", URL_NAMES)
def test_evaluators_get_403_on_every_client_page(as_evaluator, site_a, client_a, ban_a, name):
    url = client_urls(site_a, client_a, ban_a)[name]
    assert as_evaluator.get(url).status_code == 403
    assert post_if_allowed(as_evaluator, name, url) in (403, None)


def test_evaluators_cannot_search_or_register(as_evaluator, site_a, client_a):
    find = reverse("clients:find", kwargs={"site": site_a.slug})
    register = reverse("clients:register", kwargs={"site": site_a.slug})
    assert as_evaluator.get(find).status_code == 403
    assert find_by_code(as_evaluator, site_a, client_a.display_code).status_code == 403
    assert as_evaluator.get(register).status_code == 403
    assert post_registration(as_evaluator, site_a, {**NDTMS, "initials": "AB"}).status_code == 403
    assert Client.objects.count() == 1


def test_a_visit_at_their_site_opens_the_record_to_that_sites_workers(
    as_other_site_worker, other_site_worker, site_b, client_a
):
    url = detail_url(site_b, client_a)
    assert as_other_site_worker.get(url).status_code == 404
    make_visit(site_b, client_a, other_site_worker)
    assert as_other_site_worker.get(url).status_code == 200


def test_finding_the_client_at_their_desk_opens_the_record_for_a_while(
    as_other_site_worker, site_b, client_a
):
    url = detail_url(site_b, client_a)
    assert as_other_site_worker.get(url).status_code == 404
    find_by_code(as_other_site_worker, site_b, client_a.display_code)
    assert as_other_site_worker.get(url).status_code == 200


def test_registering_at_another_site_of_the_network_is_visible_there_only_after_finding(
    as_other_site_worker, as_desk, site_a, site_b
):
    client = register_via_http(as_other_site_worker, site_b)
    assert as_other_site_worker.get(detail_url(site_b, client)).status_code == 200
    assert as_desk.get(detail_url(site_a, client)).status_code == 404
    html = find_by_code(as_desk, site_a, client.display_code).content.decode()
    assert "Eastgate" in html  # registered where: another site of the same network
    assert as_desk.get(detail_url(site_a, client)).status_code == 200


def test_a_desk_grant_lasts_two_hours(other_site_worker, site_b, client_a):
    request = RequestFactory().get("/")
    request.user = other_site_worker
    request.session = SessionStore()
    start = time.time()
    with time_machine.travel(start, tick=False):
        grant_client(request, client_a)
        assert access_client(request, site_b, client_a.pk) == client_a
    with time_machine.travel(start + GRANT_SECONDS - 1, tick=False):
        assert access_client(request, site_b, client_a.pk) == client_a
    with time_machine.travel(start + GRANT_SECONDS + 1, tick=False), pytest.raises(Http404):
        access_client(request, site_b, client_a.pk)


def test_a_grant_is_no_use_from_another_network(other_network_worker, other_network_site, client_a):
    request = RequestFactory().get("/")
    request.user = other_network_worker
    request.session = SessionStore()
    grant_client(request, client_a)
    with pytest.raises(Http404):
        access_client(request, other_network_site, client_a.pk)


def test_a_client_pk_that_does_not_exist_is_404(as_desk, site_a):
    assert as_desk.get(detail_url(site_a, 999999)).status_code == 404


def test_every_view_of_a_client_page_writes_an_audit_event(as_manager, site_a, client_a, ban_a):
    urls = client_urls(site_a, client_a, ban_a)
    for name in URL_NAMES:
        before = AuditEvent.objects.filter(action="client.viewed").count()
        assert as_manager.get(urls[name]).status_code == 200
        events = AuditEvent.objects.filter(action="client.viewed").order_by("-pk")
        assert events.count() == before + 1, name
        event = events.first()
        assert event is not None
        assert (event.object_label, event.actor_label, event.role, event.site_label) == (
            client_a.display_code,
            "mo.manager",
            "manager",
            "Riverside",
        )
        assert event.object_id == str(client_a.pk)


def test_the_record_lists_visits_at_the_users_sites_newest_first_25_a_page(
    as_desk, desk, other_site_worker, site_a, site_b, client_a
):
    for hours in range(30, 0, -1):
        make_visit(site_a, client_a, desk, hours_ago=hours * 3)
    hidden = make_visit(site_b, client_a, other_site_worker, hours_ago=1)
    first = as_desk.get(detail_url(site_a, client_a)).content.decode()
    assert "Page 1 of 2" in first
    assert "Eastgate" not in first.split("Visits at the sites")[1]
    rows = first.split('aria-labelledby="visits-heading"')[1].count("<tr>") - 1
    assert rows == 25
    second = as_desk.get(detail_url(site_a, client_a), {"page": 2}).content.decode()
    assert second.split('aria-labelledby="visits-heading"')[1].count("<tr>") - 1 == 5
    assert hidden.pk  # the Eastgate visit exists; the desk at Riverside just does not see it
    bad_page = as_desk.get(detail_url(site_a, client_a), {"page": "<script>"})
    assert bad_page.status_code == 200


def test_no_client_code_or_detail_ever_appears_in_a_url(as_desk, site_a, client_a):
    html = find_by_code(as_desk, site_a, client_a.display_code).content.decode()
    import re

    for href in re.findall(r'(?:href|action)="([^"]*)"', html):
        assert client_a.display_code not in href
        assert "QZ" not in href
        assert "1987" not in href
