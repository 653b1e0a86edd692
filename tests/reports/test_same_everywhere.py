"""The same figure is identical on screen (the dashboard), in CSV, XLSX and JSON downloads, in
the API and from ``saferoom report``: for a site read exactly by its manager, the same site
read suppressed by an evaluator, and the whole network read by a network evaluator. Every
headline figure of every indicator is compared, as value and as printed text."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_module
import io
import json
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.core.roles import Role
from tests.api.conftest import Api, token
from tests.conftest import login, make_user
from tests.reports.safety_data import incident, visits_and_episodes
from tests.reports.test_network_dashboard import arrive

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)
PERIOD = "2026-03"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def march(site_a, site_b, desk) -> None:
    """Small numbers at Riverside (4 visits), larger ones at Eastgate (37 visits and episodes,
    2 overdoses): some figures shown, some hidden, some rates over hidden counts."""
    arrive(site_a, desk, dt.datetime(2026, 3, 2, 10, 15, tzinfo=LONDON), 4)
    start = dt.datetime(2026, 3, 5, 12, 0, tzinfo=LONDON)
    visits_and_episodes(site_b, desk, day=start, visits=37, episodes=37)
    for hour in (13, 15):
        incident(site_b, desk, kind="opioid", onset=start.replace(hour=hour))


Figures = dict[tuple[str, str], tuple[Any, str]]  # (code, key) → (value, text)


def from_json(data: dict[str, Any]) -> Figures:
    return {
        (ind["code"], fig["key"]): (fig["value"], fig["text"])
        for ind in data["indicators"]
        for fig in ind["figures"]
    }


def from_csv(content: bytes) -> Figures:
    rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    found: Figures = {}
    for row in rows:
        if row["kind"] == "text" or row["table"]:
            continue
        value = json.loads(row["value"]) if row["value"] else None
        found[(row["code"], row["row"])] = (value, row["shown"])
    return found


def from_xlsx(content: bytes) -> Figures:
    sheet = load_workbook(io.BytesIO(content))["Figures"]
    return {
        (row[0], row[2]): (row[5], row[6]) for row in sheet.iter_rows(min_row=2, values_only=True)
    }


def from_screen(page: str) -> dict[tuple[str, str], str]:
    """Each headline figure's text as the dashboard prints it (a hidden one: its marker)."""
    found = {}
    for ref, row in re.findall(r'<tr data-figure="([A-Z]\d+\.[a-z0-9_]+)">(.*?)</tr>', page, re.S):
        now = re.search(r'<td class="num now">(.*?)</td>', row, re.S)
        assert now, ref
        cell = re.sub(r'<span class="visually-hidden">.*?</span>', "", now.group(1), flags=re.S)
        text = html_module.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
        code, key = ref.split(".", 1)
        found[(code, key)] = text
    return found


def same_everywhere(
    reader, *, page: str, download: str, api: tuple[str, dict[str, Any]], cli: list[str]
) -> int:
    browser = login(reader)
    files = {
        fmt: browser.get(download, {"period": PERIOD, "format": fmt}).content
        for fmt in ("csv", "xlsx", "json")
    }
    expected = from_json(json.loads(files["json"]))
    assert from_csv(files["csv"]) == expected
    assert from_xlsx(files["xlsx"]) == expected
    api_answer = Api(token(reader)).get(api[0], api[1], period=PERIOD)
    assert api_answer.status_code == 200
    assert from_json(api_answer.json()) == expected
    out = StringIO()
    call_command("report", *cli, "--period", PERIOD, "--format", "json", stdout=out)
    assert from_json(json.loads(out.getvalue())) == expected
    screen = from_screen(browser.get(page, {"period": PERIOD}).content.decode())
    assert screen == {ref: text for ref, (_value, text) in expected.items()}
    return len(expected)


def test_a_site_read_exactly_by_its_manager_is_the_same_everywhere(manager, site_a, march):
    site = {"site": site_a.slug}
    checked = same_everywhere(
        manager,
        page=reverse("reports:dashboard", kwargs=site),
        download=reverse("reports:export", kwargs=site),
        api=("api:site_indicators", {"slug": site_a.slug}),
        cli=["--site", site_a.slug, "--exact"],
    )
    assert checked > 40


def test_a_site_read_by_an_evaluator_is_the_same_suppressed_everywhere(evaluator, site_a, march):
    site = {"site": site_a.slug}
    same_everywhere(
        evaluator,
        page=reverse("reports:dashboard", kwargs=site),
        download=reverse("reports:export", kwargs=site),
        api=("api:site_indicators", {"slug": site_a.slug}),
        cli=["--site", site_a.slug],
    )
    json_answer = login(evaluator).get(
        reverse("reports:export", kwargs=site), {"period": PERIOD, "format": "json"}
    )
    figures = from_json(json.loads(json_answer.content))
    assert figures[("U1", "total")] == (None, "<10")  # 4 visits: the comparison can fail


def test_the_network_read_by_a_network_evaluator_is_the_same_everywhere(network, march):
    reader = make_user("ned.network", (Role.EVALUATOR, network))
    net = {"network": network.pk}
    same_everywhere(
        reader,
        page=reverse("network_reports:dashboard", kwargs=net),
        download=reverse("network_reports:export", kwargs=net),
        api=("api:network_indicators", {"network_id": network.pk}),
        cli=["--network", network.name],
    )
