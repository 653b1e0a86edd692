"""A site's report dashboard through HTTP: every indicator grouped with the previous period and
the change, exact for the site's staff and suppressed for an evaluator on the same data; the
period chooser (quick choices and any period, a bad one refused before anything is computed);
the printable report; downloads."""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from saferoom.floor.models import Visit
from saferoom.reports import reading
from saferoom.reports.registry import load

LONDON = ZoneInfo("Europe/London")
# Early April 2026: March is last month, complete.
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def arrive(site, desk, when: dt.datetime, n: int = 1) -> None:
    for _ in range(n):
        Visit.objects.create(
            site=site,
            anonymous=True,
            arrived_at=when,
            state=Visit.State.LEFT,
            ended_at=when + dt.timedelta(minutes=30),
            ended_by=desk,
            end_reason=Visit.EndReason.CHECKED_OUT,
            created_by=desk,
        )


@pytest.fixture
def march(site_a, desk) -> None:
    """Three visits in March 2026 (Monday 2 March, 10:15 and 10:40; Tuesday 3 March, 14:05)
    and twenty in February."""
    arrive(site_a, desk, dt.datetime(2026, 3, 2, 10, 15, tzinfo=LONDON))
    arrive(site_a, desk, dt.datetime(2026, 3, 2, 10, 40, tzinfo=LONDON))
    arrive(site_a, desk, dt.datetime(2026, 3, 3, 14, 5, tzinfo=LONDON))
    arrive(site_a, desk, dt.datetime(2026, 2, 10, 11, 0, tzinfo=LONDON), n=20)


def dashboard(site: str = "riverside", **query: str) -> str:
    url = reverse("reports:dashboard", kwargs={"site": site})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def cell(html: str, figure: str, column: str = "now") -> str:
    """The text of one figure's cell (``now``, ``before`` or ``change``) on the page."""
    row = re.search(rf'<tr data-figure="{re.escape(figure)}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {figure}"
    found = re.search(rf'<td class="num {column}">(.*?)</td>', row.group(1), re.S)
    assert found, f"no {column} cell for {figure}"
    return html_module.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


# --- who sees what ---------------------------------------------------------------------------


def test_the_manager_sees_exact_figures_and_the_evaluator_the_same_figures_suppressed(
    march, as_manager, as_evaluator
):
    mine = as_manager.get(dashboard(period="2026-03")).content.decode()
    theirs = as_evaluator.get(dashboard(period="2026-03")).content.decode()

    assert cell(mine, "U1.total") == "3"
    assert cell(mine, "U1.total", "before") == "20"
    assert cell(mine, "U1.total", "change") == "−17 (−85%)"
    assert 'data-rule="exact"' in mine

    assert cell(theirs, "U1.total") == "<10 (hidden under the small-number rule)"
    assert cell(theirs, "U1.total", "before") == "20"
    assert cell(theirs, "U1.total", "change") == "—"
    assert "Figures under rule 1–9 shown as &lt;10" in theirs
    assert "Counts from 1 to 9 are shown as &lt;10" in theirs


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("as_desk", "3"),
        ("as_nurse", "3"),
        ("as_manager", "3"),
        ("as_admin", "3"),
        ("as_evaluator", "<10 (hidden under the small-number rule)"),
    ],
)
def test_everyone_at_the_site_may_open_its_reports_exact_unless_they_evaluate(
    persona, expected, march, request
):
    response = request.getfixturevalue(persona).get(dashboard(period="2026-03"))
    assert response.status_code == 200
    assert cell(response.content.decode(), "U1.total") == expected


def test_another_sites_worker_gets_404(as_other_site_worker, march):
    assert as_other_site_worker.get(dashboard(period="2026-03")).status_code == 404


def test_the_evaluators_charts_draw_a_hidden_count_as_hidden_never_at_its_size(march, as_evaluator):
    html = as_evaluator.get(dashboard(period="2026-03")).content.decode()
    heatmap = re.search(
        r'<figure class="chart-figure" data-chart-figure="weekday-hour">.*?</figure>', html, re.S
    )
    assert heatmap
    figure = heatmap.group(0)
    assert 'role="img"' in figure
    assert 'aria-label="Visits by weekday and hour.' in figure
    # Monday 10:00 held two visits: the evaluator's table says <10, the drawing hatches it.
    assert "url(#hidden-weekday-hour)" in figure
    assert '<td class="num">2</td>' not in figure
    assert "&lt;10" in figure


def test_the_managers_heatmap_shows_the_exact_counts_in_its_table(march, as_manager):
    html = as_manager.get(dashboard(period="2026-03")).content.decode()
    figure = re.search(r'data-chart-figure="weekday-hour">.*?</figure>', html, re.S)
    assert figure
    monday = re.search(r"<tr><th scope=\"row\">Monday</th>(.*?)</tr>", figure.group(0), re.S)
    assert monday
    cells = re.findall(r'<td class="num">(.*?)</td>', monday.group(1))
    assert cells[10] == "2"
    assert "url(#hidden-" not in figure.group(0).split("<defs>", 1)[1].split("</defs>", 1)[1]


# --- what the page holds ---------------------------------------------------------------------


def test_every_registered_indicator_is_shown_in_its_group_with_its_definition(march, as_manager):
    html = as_manager.get(dashboard(period="2026-03")).content.decode()
    registered = load()
    assert registered, "no indicators are registered"
    for code, _indicator in registered.items():
        assert f'data-indicator="{code}"' in html, code
        assert f"Definition of {code}" in html
    groups = re.findall(r'data-group="(\w+)"', html)
    assert groups == [
        g
        for g in ("use", "safety", "engagement", "cost")
        if any(i.group == g for i in registered.values())
    ]
    assert "<summary>Definition of U1</summary>" in html
    assert "Visits whose arrival falls in the period" in html


def test_the_page_says_when_the_figures_were_computed_and_what_they_are_compared_with(
    march, as_manager
):
    html = as_manager.get(dashboard(period="2026-03")).content.decode()
    assert "2 April 2026, 10:00" in html
    assert "Europe/London" in html
    assert 'data-period="2026-03"' in html
    assert "March 2026" in html
    assert "(2026-02)" in html


def test_the_reports_link_in_the_site_menu_marks_this_page(march, as_evaluator):
    html = as_evaluator.get(dashboard()).content.decode()
    assert re.search(r'<a href="/sites/riverside/reports/" aria-current="page">Reports</a>', html)


# --- choosing a period -----------------------------------------------------------------------


def test_without_a_period_the_page_shows_this_month_so_far(march, as_manager):
    html = as_manager.get(dashboard()).content.decode()
    assert 'data-period="2026-04"' in html
    assert cell(html, "U1.total") == "0"
    assert cell(html, "U1.total", "before") == "3"


def test_quick_choices_link_to_the_usual_periods_in_the_sites_calendar(as_manager):
    html = as_manager.get(dashboard(period="2026-03")).content.decode()
    links = {
        label: code
        for code, label in re.findall(
            r'<a class="button secondary" href="/sites/riverside/reports/\?period=([^"]+)"'
            r'(?: aria-current="true")?>([^<]+)</a>',
            html,
        )
    }
    assert links == {
        "Today": "2026-04-02",
        "This week": "2026-W14",
        "This month": "2026-04",
        "Last month": "2026-03",
        "This quarter": "2026-Q2",
        "This year": "2026",
    }
    assert 'href="/sites/riverside/reports/?period=2026-03" aria-current="true">Last month' in html


@pytest.mark.parametrize(
    ("period", "days"),
    [("2026-03-02", 1), ("2026-W10", 7), ("2026-Q1", 90), ("2026-03-01..2026-03-02", 2)],
)
def test_any_period_parse_period_reads_can_be_asked_for(period, days, march, as_manager):
    response = as_manager.get(dashboard(period=period))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-period="{period}"' in html
    expected = {"2026-03-02": "2", "2026-W10": "3", "2026-Q1": "23", "2026-03-01..2026-03-02": "2"}
    assert cell(html, "U1.total") == expected[period]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("March", "That is not a period we can read. Write one of:"),
        ("2026-13", "That is not a period we can read."),
        ("2026-04-15..2026-03-01", "A period cannot end before it starts."),
        ("1850", "Choose a period between the years 2000 and 2099."),
        ("2001-01-01..2026-01-01", "A report covers at most five years."),
        ("0001-01-01..9999-12-31", "Choose a period between the years 2000 and 2099."),
    ],
)
def test_a_period_that_cannot_be_read_is_refused_on_the_page_and_nothing_is_computed(
    typed, message, as_manager, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("a report was computed for a bad period")

    monkeypatch.setattr(reading, "compute_report", never)
    for name in ("reports:dashboard", "reports:print"):
        response = as_manager.get(reverse(name, kwargs={"site": "riverside"}), {"period": typed})
        assert response.status_code == 400
        html = response.content.decode()
        assert "Nothing was computed: the period could not be read." in html
        assert message in html
        assert 'aria-invalid="true"' in html
        assert "data-indicator=" not in html


# --- print and downloads ---------------------------------------------------------------------


def test_the_printable_report_has_every_definition_in_full_the_rule_and_open_tables(
    march, as_evaluator
):
    response = as_evaluator.get(
        reverse("reports:print", kwargs={"site": "riverside"}), {"period": "2026-03"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Report: Riverside</h1>" in html
    assert "reports.css" in html
    for code in load():
        assert f'data-indicator="{code}"' in html
    assert "<summary>Definition of" not in html  # in full, not folded away
    assert "<strong>Definition:</strong> Visits whose arrival falls in the period" in html
    assert "Suppression rule:</strong> 1–9 shown as &lt;10. Counts from 1 to 9" in html
    assert '<details class="chart-numbers" open>' in html
    assert 'data-table="U1.by_day"' in html


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("json", "application/json"),
    ],
)
def test_a_download_has_its_content_type_and_a_filename_of_site_and_period(
    fmt, content_type, march, as_manager
):
    response = as_manager.get(
        reverse("reports:export", kwargs={"site": "riverside"}),
        {"period": "2026-03", "format": fmt},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == (
        f'attachment; filename="saferoom-riverside-2026-03.{fmt}"'
    )
    assert response.content


def test_a_range_downloads_with_a_filename_that_says_both_ends(march, as_manager):
    response = as_manager.get(
        reverse("reports:export", kwargs={"site": "riverside"}),
        {"period": "2026-03-01..2026-03-15", "format": "csv"},
    )
    assert response["Content-Disposition"] == (
        'attachment; filename="saferoom-riverside-2026-03-01_to_2026-03-15.csv"'
    )


def u1_total(response) -> dict[str, Any]:
    data = json.loads(response.content)
    u1 = next(i for i in data["indicators"] if i["code"] == "U1")
    return next(f for f in u1["figures"] if f["key"] == "total")


def test_downloads_carry_what_the_reader_may_see(march, as_manager, as_evaluator):
    query = {"period": "2026-03", "format": "json"}
    url = reverse("reports:export", kwargs={"site": "riverside"})
    assert u1_total(as_manager.get(url, query))["value"] == 3
    hidden = u1_total(as_evaluator.get(url, query))
    assert hidden["value"] is None
    assert hidden["text"] == "<10"
    # Staff preparing a file to share outside the service apply the rule themselves.
    shared = u1_total(as_manager.get(url, {**query, "published": "1"}))
    assert shared["value"] is None
    # An evaluator cannot ask for exact figures.
    assert u1_total(as_evaluator.get(url, {**query, "published": "0"}))["value"] is None


def test_without_a_format_the_download_address_is_a_page_to_choose_one(as_manager):
    response = as_manager.get(reverse("reports:export", kwargs={"site": "riverside"}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Download figures: Riverside</h1>" in html
    assert 'value="csv"' in html
    assert "Apply the small-number rule" in html


def test_an_evaluator_is_not_offered_exact_figures_to_download(as_evaluator):
    html = as_evaluator.get(reverse("reports:export", kwargs={"site": "riverside"})).content
    assert b"Apply the small-number rule" not in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "2026-03", "format": "pdf"}, "Choose a file format: CSV, XLSX or JSON."),
        ({"period": "soon", "format": "csv"}, "That is not a period we can read."),
    ],
)
def test_a_download_that_cannot_be_made_says_why_and_makes_no_file(
    query, message, as_manager, monkeypatch
):
    monkeypatch.setattr(reading, "compute_report", lambda *a, **k: pytest.fail("computed"))
    response = as_manager.get(reverse("reports:export", kwargs={"site": "riverside"}), query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode()


def test_a_network_administrator_finds_the_network_report_from_the_site_report(
    network, as_admin, as_manager
):
    link = f'href="/networks/{network.pk}/reports/?period=2026-03">The whole network</a>'
    assert link in as_admin.get(dashboard(period="2026-03")).content.decode()
    assert "The whole network" not in as_manager.get(dashboard(period="2026-03")).content.decode()
