"""The capacity-planning page and its XLSX, through HTTP: from the site's recorded arrivals
(hourly counts only) or a shipped profile, with the site's own spaces and hours as defaults;
bounded runs that say how long they took; refused inputs run nothing."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.evaluation import capacity
from saferoom.evaluation.charts import percent
from saferoom.evaluation.site_data import site_plan_defaults
from saferoom.floor.models import Visit
from saferoom.sites.models import Site


def url(name: str = "plan", **query: Any) -> str:
    address = reverse(f"evaluation:{name}", kwargs={"site": "riverside"})
    return f"{address}?{urlencode(query)}" if query else address


def plan_query(**extra: Any) -> dict[str, Any]:
    query = {
        "run": "1",
        "source": "profile",
        "profile": "nrw-mixed-150",
        "booths": "4",
        "inhalation_rooms": "1",
        "seats_per_room": "3",
        "open_hours": "Mon-Sun 09:00-21:00",
        "patience_minutes": "30",
        "target_p95_minutes": "15",
        "days": "7",
        "seed": "3",
    }
    query.update(extra)
    return query


def html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the simulation ran although the inputs were refused")

    monkeypatch.setattr(capacity, "simulate", refuse)
    monkeypatch.setattr(capacity, "smallest_booths", refuse)
    monkeypatch.setattr(capacity, "smallest_rooms", refuse)


def test_the_form_starts_from_the_site_spaces_and_opening_hours(
    as_evaluator: HttpClient, site_a: Site
) -> None:
    response = as_evaluator.get(url())
    assert response.status_code == 200
    page = html(response)
    # Riverside: Booths 1-4, a smoking room of 3 seats, open 09:00-21:00 every day.
    assert re.search(r'name="booths" value="4"', page)
    assert re.search(r'name="inhalation_rooms" value="1"', page)
    assert re.search(r'name="seats_per_room" value="3"', page)
    assert 'value="Mon-Sun 09:00-21:00"' in page
    for name in capacity.profile_names():
        assert f'value="{name}"' in page
    assert 'id="results"' not in page


def test_a_run_from_a_shipped_profile_shows_waits_unserved_sizes_charts_and_its_time(
    as_evaluator: HttpClient, site_a: Site
) -> None:
    response = as_evaluator.get(url(**plan_query(find_smallest="on")))
    assert response.status_code == 200
    page = html(response)
    plan = capacity.PlanInput(
        profile=capacity.load_profile("nrw-mixed-150"),
        booths=4,
        inhalation_rooms=1,
        seats_per_room=3,
        open_hours=capacity.parse_open_hours("Mon-Sun 09:00-21:00"),
        clear_down_minutes=site_plan_defaults(site_a)["clear_down_minutes"],
        patience_minutes=30,
        days=7,
        seed=3,
    )
    expected = capacity.simulate(plan)
    assert f"{expected.arrivals:,}" in page
    assert percent(expected.share_unserved, 1) in page
    assert re.search(r"Took \d+\.\d\d s\.", page)
    booths = capacity.smallest_booths(plan, target_p95_minutes=15)
    assert booths is not None
    smallest = re.search(r'data-smallest="booths">(\d+) injection booth', page)
    assert smallest is not None
    assert int(smallest.group(1)) == booths[0]
    charts = re.findall(r'role="img" aria-label="([^"]+)"', page)
    assert len(charts) == 2
    assert charts[0].startswith("Waits by hour of the day. The longest waits are for arrivals at")
    assert charts[1].startswith("Occupancy by hour of the day. Busiest at")
    assert page.count('<details class="chart-numbers"') == 2


def test_a_run_from_recorded_arrivals_uses_the_site_visits_and_shows_no_client(
    as_manager: HttpClient, site_a: Site, desk: Any, network: Any
) -> None:
    now = timezone.now()
    client = Client.objects.create(
        network=network,
        display_code=new_display_code(),
        linkage_hash="1" * 64,
        scheme=network.client_code_scheme,
        gender="not_stated",
        year_of_birth=1980,
        registered_at=now - dt.timedelta(days=60),
        registered_site=site_a,
        registered_by=desk,
    )
    start = timezone.localdate() - dt.timedelta(days=14)
    for day in range(14):
        for hour in (10, 11, 12, 15, 18):
            arrived = dt.datetime.combine(
                start + dt.timedelta(days=day), dt.time(hour, 5), site_a.tz
            )
            Visit.objects.create(
                site=site_a,
                anonymous=True,
                arrived_at=arrived,
                planned_route="inject",
                created_by=desk,
            )
    Visit.objects.create(site=site_a, client=client, arrived_at=now, created_by=desk)
    query = plan_query(
        source="recorded", start=start.isoformat(), end=(start + dt.timedelta(days=13)).isoformat()
    )
    response = as_manager.get(url(**query))
    page = html(response)
    assert response.status_code == 200
    assert "Riverside&#x27;s recorded arrivals" in page
    # 5 arrivals a day, at 10, 11, 12, 15 and 18 o'clock: waits by hour show those hours only.
    assert "about 5 arrivals a day" in page
    assert "Busiest at 1" in page
    assert client.display_code not in page


def test_a_period_with_no_arrivals_says_so(as_evaluator: HttpClient, site_a: Site) -> None:
    today = timezone.localdate()
    query = plan_query(
        source="recorded",
        start=(today - dt.timedelta(days=10)).isoformat(),
        end=(today - dt.timedelta(days=1)).isoformat(),
    )
    page = html(as_evaluator.get(url(**query)))
    assert "No arrivals are recorded in this period" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"days": "366"}, "days", "At most 365 days."),
        ({"days": "0"}, "days", "Ensure this value is greater than or equal to 1."),
        ({"open_hours": "whenever"}, "open_hours", "Cannot read opening hours"),
        ({"booths": "0", "inhalation_rooms": "0"}, "booths", "Plan at least one booth"),
        (
            {"source": "recorded", "start": "2026-03-10", "end": "2026-03-01"},
            "end",
            "ends before it starts",
        ),
        (
            {"source": "recorded", "start": "2024-01-01", "end": "2026-01-01"},
            "end",
            "at most a year",
        ),
        ({"profile": "nowhere"}, "profile", "Select a valid choice"),
    ],
)
def test_refused_inputs_are_named_and_nothing_runs(
    as_evaluator: HttpClient,
    site_a: Site,
    nothing_runs: None,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    page = html(as_evaluator.get(url(**plan_query(**changes))))
    assert "Nothing was run" in page
    assert f'id="id_{field}_error"' in page
    assert message in page
    assert 'id="results"' not in page


def test_a_period_shorter_than_a_week_gets_the_engine_message(
    as_evaluator: HttpClient, site_a: Site
) -> None:
    query = plan_query(source="recorded", start="2026-03-01", end="2026-03-03")
    page = html(as_evaluator.get(url(**query)))
    assert "Nothing was run" in page
    assert "at least 7 days" in page
    assert 'id="results"' not in page


def test_the_plan_xlsx_opens_with_inputs_results_hours_and_arrivals(
    as_evaluator: HttpClient, site_a: Site
) -> None:
    response = as_evaluator.get(url("plan_xlsx", **plan_query(find_smallest="on")))
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        'attachment; filename="saferoom-riverside-capacity-plan.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Inputs", "Results", "By hour", "Arrivals", "About"]
    inputs = dict(book["Inputs"].iter_rows(min_row=2, max_col=2, values_only=True))
    assert inputs["Injection booths"] == 4
    assert inputs["Days simulated"] == 7
    assert inputs["Open on Monday"].startswith("09:00")
    results = dict(book["Results"].iter_rows(min_row=2, values_only=True))
    assert results["Arrivals"] > 0
    assert isinstance(results["Smallest number of booths meeting the target"], int)
    assert book["By hour"].max_row == 25
    assert book["Arrivals"].max_row == 169


def test_the_plan_xlsx_of_refused_inputs_is_not_made(
    as_evaluator: HttpClient, site_a: Site, nothing_runs: None
) -> None:
    response = as_evaluator.get(url("plan_xlsx", **plan_query(days="1000")))
    assert response["Content-Type"].startswith("text/html")
    assert "At most 365 days." in html(response)


@pytest.mark.parametrize("name", ["plan", "plan_xlsx"])
def test_the_desk_and_the_floor_are_refused_and_another_site_sees_nothing(
    as_desk: HttpClient, as_nurse: HttpClient, as_other_site_worker: HttpClient, name: str
) -> None:
    address = url(name, **plan_query())
    assert as_desk.get(address).status_code == 403
    assert as_nurse.get(address).status_code == 403
    assert as_other_site_worker.get(address).status_code == 404


def test_recorded_arrivals_are_read_in_a_few_aggregate_queries_however_many_visits(
    as_evaluator: HttpClient, site_a: Site, desk: Any, django_assert_max_num_queries: Any
) -> None:
    start = timezone.localdate() - dt.timedelta(days=8)
    for day in range(7):
        for minute in range(0, 60, 6):
            arrived = dt.datetime.combine(
                start + dt.timedelta(days=day), dt.time(12, minute), site_a.tz
            )
            Visit.objects.create(
                site=site_a,
                anonymous=True,
                arrived_at=arrived,
                planned_route="smoke",
                created_by=desk,
            )
    query = plan_query(
        source="recorded",
        start=start.isoformat(),
        end=(start + dt.timedelta(days=6)).isoformat(),
    )
    # Session, user, memberships, the site, its spaces and hours, two aggregates of visits.
    with django_assert_max_num_queries(14):
        response = as_evaluator.get(url(**query))
    assert "about 10 arrivals a day" in html(response)
