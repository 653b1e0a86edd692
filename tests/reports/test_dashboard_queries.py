"""The site dashboard's database work does not grow with the records it counts: the same
number of queries for 5 visits as for 50 (no query per visit, client or row of a table)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.floor.models import Visit
from saferoom.reports import rollups

LONDON = ZoneInfo("Europe/London")
SERIAL = itertools.count(1)
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def make_visits(site, desk, n: int) -> None:
    """``n`` visits spread over March and February, half of them by registered clients (a
    client for every two of those), the rest anonymous."""
    clients = [
        Client.objects.create(
            network=site.network,
            display_code=new_display_code(),
            linkage_hash=f"{next(SERIAL):064d}",
            scheme=site.network.client_code_scheme,
            gender="not_stated",
            year_of_birth=1980 + i % 20,
            registered_at=NOW - dt.timedelta(days=90),
            registered_site=site,
            registered_by=desk,
        )
        for i in range(max(n // 4, 1))
    ]
    for i in range(n):
        arrived = dt.datetime(2026, 2 + i % 2, 1 + i % 27, 9 + i % 12, 5, tzinfo=LONDON)
        client = clients[i % len(clients)] if i % 2 else None
        Visit.objects.create(
            site=site,
            client=client,
            anonymous=client is None,
            arrived_at=arrived,
            state=Visit.State.LEFT,
            ended_at=arrived + dt.timedelta(minutes=40),
            ended_by=desk,
            end_reason=Visit.EndReason.CHECKED_OUT,
            created_by=desk,
        )


def queries_for(client, site) -> int:
    url = reverse("reports:dashboard", kwargs={"site": site.slug})
    # The rollup readers remember what they looked up for a few seconds (one report asks
    # several times); each measured request starts without, so the count is the same however
    # fast the test runs.
    rollups.forget_seen()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"period": "2026-03"})
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("persona", ["as_manager", "as_evaluator"])
def test_the_dashboard_makes_as_many_queries_for_fifty_visits_as_for_five(
    persona, request, site_a, site_b, desk
):
    browser = request.getfixturevalue(persona)
    make_visits(site_a, desk, 5)
    make_visits(site_b, desk, 50)
    queries_for(browser, site_a)  # once first: catalogues and the like are cached per process
    few = queries_for(browser, site_a)
    # The same page again, now over ten times the visits.
    make_visits(site_a, desk, 45)
    assert Visit.objects.filter(site=site_a).count() == 50
    many = queries_for(browser, site_a)
    assert many == few, f"{few} queries for 5 visits, {many} for 50"
