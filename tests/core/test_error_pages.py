"""Safe failure (checklist item 28, ASVS 7.4): a server error shows a generic page with a
reference number and nothing else; the log line has the same reference and the stack, but not
the exception's message, which may hold what someone typed (a client code)."""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tests.clients.conftest import register_via_http
from tests.conftest import PASSWORD


@pytest.fixture
def request_log():
    """What Django's request logger writes, through saferoom's own console handler settings
    (formatter and request-id filter), into a buffer."""
    logger = logging.getLogger("django.request")
    console = next(h for h in logger.handlers if isinstance(h, logging.StreamHandler))
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)


def _browser_that_sees_500s(user) -> HttpClient:
    http = HttpClient(raise_request_exception=False)
    assert http.login(username=user.username, password=PASSWORD)
    return http


def test_a_crash_on_a_client_record_shows_a_reference_and_logs_it_without_the_code(
    desk, as_desk, site_a, monkeypatch, request_log
):
    client = register_via_http(as_desk, site_a)
    code = client.display_code
    # What the exception says: a client code and a note (built here, so that the stack's
    # source lines, which are logged, do not hold them).
    message = f"could not build the card of {code} (notes: sleeps by the canal)"

    def broken(*args, **kwargs):
        raise RuntimeError(message)

    monkeypatch.setattr("saferoom.clients.views._card", broken)
    http = _browser_that_sees_500s(desk)
    response = http.get(reverse("clients:detail", kwargs={"site": site_a.slug, "pk": client.pk}))

    assert response.status_code == 500
    reference = response["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", reference)
    page = response.content.decode()
    assert "Something went wrong" in page
    assert reference in page
    for secret in (code, "canal", "Traceback", "RuntimeError", "could not build"):
        assert secret not in page

    log = request_log.getvalue()
    assert reference in log  # the reference leads from the page to this line
    assert "Traceback (most recent call last)" in log
    assert "builtins.RuntimeError (message withheld)" in log
    assert "in broken" in log  # the frames are there, for whoever fixes it
    for secret in (code, "canal", "could not build"):
        assert secret not in log
    assert "raise RuntimeError(message)" in log  # the source line, not the value


@pytest.mark.django_db
def test_the_error_page_needs_no_database(rf):
    """The page shows even when the error was the database: it is rendered without the
    request's user or session, so it runs no query."""
    from django.db import connection

    from saferoom.core.views import server_error

    with connection.execute_wrapper(_no_queries):
        response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def _no_queries(execute, sql, params, many, context):
    raise AssertionError(f"the 500 page ran a query: {sql}")


def test_a_page_of_another_site_answers_404_with_a_reference_in_the_same_style(
    as_other_site_worker, site_a
):
    response = as_other_site_worker.get(reverse("clients:find", kwargs={"site": site_a.slug}))
    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page
    assert response["X-Request-Id"] in page
    assert 'class="topbar"' in page


def test_a_forbidden_page_answers_403_with_a_reference(as_evaluator, site_a):
    response = as_evaluator.get(reverse("clients:find", kwargs={"site": site_a.slug}))
    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()
    assert response["X-Request-Id"] in response.content.decode()


def test_every_page_has_a_live_region_where_a_failed_live_update_is_explained(as_desk, site_a):
    html = as_desk.get(reverse("floor:queue", kwargs={"site": site_a.slug})).content.decode()
    region = re.search(r'<div id="htmx-error"[^>]*>', html)
    assert region is not None
    assert 'role="alert"' in region.group(0)
    assert "data-text-response=" in region.group(0)
    assert "data-text-send=" in region.group(0)
