"""An evaluator reaches no client-level data through any report page or download: the site's
and the network's dashboards, printable reports and exports in every format carry aggregates
only — no client's code, no year of birth beside a code, no link to a client or a visit — and
reading them logs no client as viewed. (The API's reads are held to the same in
tests/api/test_access.py.)"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from tests.conftest import login, make_user

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)
SERIAL = count(1)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clients_with_visits(site_a, desk) -> list[Client]:
    clients = []
    for i in range(12):
        client = Client.objects.create(
            network=site_a.network,
            display_code=new_display_code(),
            linkage_hash=f"{next(SERIAL):064d}",
            scheme=site_a.network.client_code_scheme,
            gender="not_stated",
            year_of_birth=1980 + i,
            registered_at=NOW - dt.timedelta(days=90),
            registered_site=site_a,
            registered_by=desk,
        )
        arrived = dt.datetime(2026, 3, 1 + i, 10, 0, tzinfo=LONDON)
        Visit.objects.create(
            site=site_a,
            client=client,
            anonymous=False,
            arrived_at=arrived,
            state=Visit.State.LEFT,
            ended_at=arrived + dt.timedelta(minutes=40),
            ended_by=desk,
            end_reason=Visit.EndReason.CHECKED_OUT,
            created_by=desk,
        )
        clients.append(client)
    return clients


def readable(content: bytes, content_type: str) -> str:
    if "spreadsheetml" in content_type:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(name).decode() for name in archive.namelist())
    return content.decode("utf-8-sig")


def report_urls(site_a, network) -> list[tuple[str, dict[str, str]]]:
    site = {"site": site_a.slug}
    net = {"network": str(network.pk)}
    urls = [
        (reverse("reports:dashboard", kwargs=site), {"period": "2026-03"}),
        (reverse("reports:print", kwargs=site), {"period": "2026-03"}),
        (reverse("network_reports:dashboard", kwargs=net), {"period": "2026-03"}),
        (reverse("network_reports:print", kwargs=net), {"period": "2026-03"}),
    ]
    for fmt in ("csv", "xlsx", "json"):
        urls.append((reverse("reports:export", kwargs=site), {"period": "2026-03", "format": fmt}))
        urls.append(
            (reverse("network_reports:export", kwargs=net), {"period": "2026-03", "format": fmt})
        )
    return urls


def test_an_evaluator_reaches_no_client_level_data_through_any_report_page_or_download(
    clients_with_visits, site_a, site_b, network
):
    evaluator = make_user("eva.network", (Role.EVALUATOR, network))
    browser = login(evaluator)
    for url, query in report_urls(site_a, network):
        response = browser.get(url, query)
        assert response.status_code == 200, url
        text = readable(response.content, response["Content-Type"])
        assert "12" in text or "<10" in text or "&lt;10" in text, url  # the report is there
        for client in clients_with_visits:
            assert client.display_code not in text, url
        assert "/clients/" not in text, url
        assert "/visits/" not in text, url
    assert not AuditEvent.objects.filter(action="client.viewed").exists()
