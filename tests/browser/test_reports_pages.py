"""The report pages in real Chromium: a manager opens the site dashboard, chooses last month,
reads the charts by their accessible names and the numbers behind one; types a period that
cannot be read and is told so; opens the printable report and prints it without the menus. An
evaluator sees the same page under the small-number rule; a network administrator compares
the sites. axe-core finds no serious or critical problem on any of them.

Elements are found by role and accessible name, as a person (or a screen reader) finds them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from saferoom.floor.models import Visit
from tests.browser.accessibility import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)

LONDON = ZoneInfo("Europe/London")


def last_month() -> tuple[int, int]:
    today = dt.datetime.now(LONDON).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return first.year, first.month


@pytest.fixture
def visits(site_a, site_b, desk) -> str:
    """Last month: visits at Riverside on the 2nd (three at 10:00, one at 14:00) and 25 at
    Eastgate; returns last month's code."""
    year, month = last_month()
    for site, day, hour, n in ((site_a, 2, 10, 3), (site_a, 2, 14, 1), (site_b, 3, 11, 25)):
        arrived = dt.datetime(year, month, day, hour, 5, tzinfo=LONDON)
        for _ in range(n):
            Visit.objects.create(
                site=site,
                anonymous=True,
                arrived_at=arrived,
                state=Visit.State.LEFT,
                ended_at=arrived + dt.timedelta(minutes=30),
                ended_by=desk,
                end_reason=Visit.EndReason.CHECKED_OUT,
                created_by=desk,
            )
    return f"{year}-{month:02d}"


def test_a_manager_reads_last_months_report_its_charts_and_prints_it(
    page, log_in, live_server, manager, visits
):
    log_in(manager)
    page.goto(f"{live_server.url}{reverse('reports:dashboard', kwargs={'site': 'riverside'})}")
    expect(page.get_by_role("heading", level=1, name="Reports: Riverside")).to_be_visible()
    expect(page.get_by_role("link", name="Reports", exact=True)).to_have_attribute(
        "aria-current", "page"
    )

    page.get_by_role("navigation", name="Quick periods").get_by_role(
        "link", name="Last month"
    ).click()
    expect(page).to_have_url(re.compile(rf"\?period={visits}$"))
    expect(
        page.get_by_role("navigation", name="Quick periods").get_by_role("link", name="Last month")
    ).to_have_attribute("aria-current", "true")
    visits_row = page.locator('[data-figure="U1.total"]')
    expect(visits_row.locator("td.now")).to_have_text("4")

    for name in ("Visits over the period", "Visits by weekday and hour"):
        expect(page.get_by_role("img", name=re.compile(f"^{re.escape(name)}"))).to_be_visible()
    heatmap = page.get_by_role("figure", name="Visits by weekday and hour")
    heatmap.get_by_text("The numbers: Visits by weekday and hour").click()
    expect(heatmap.get_by_role("table")).to_be_visible()
    expect(heatmap.get_by_role("cell", name="3", exact=True)).to_be_visible()

    page.get_by_text("Definition of U1").click()
    expect(page.get_by_text("Visits whose arrival falls in the period").first).to_be_visible()
    assert_accessible(page, "the site dashboard")

    page.get_by_label("Any period").fill("March please")
    page.get_by_role("button", name="Show this period").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was computed")
    expect(page.get_by_label("Any period")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-indicator]")).to_have_count(0)
    assert_accessible(page, "the site dashboard with a period it cannot read")

    page.goto(
        f"{live_server.url}{reverse('reports:print', kwargs={'site': 'riverside'})}?period={visits}"
    )
    expect(page.get_by_role("heading", level=1, name="Report: Riverside")).to_be_visible()
    expect(page.get_by_text("Suppression rule:").first).to_be_visible()
    assert_accessible(page, "the printable report")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Site pages")).to_be_hidden()
    expect(page.get_by_role("img", name=re.compile("^Visits by weekday and hour"))).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Use", exact=True)).to_be_visible()
    page.emulate_media(media="screen")


def test_an_evaluator_sees_small_numbers_hidden_in_figures_and_charts(
    page, log_in, live_server, evaluator, visits
):
    log_in(evaluator)
    page.goto(
        f"{live_server.url}{reverse('reports:dashboard', kwargs={'site': 'riverside'})}"
        f"?period={visits}"
    )
    expect(page.get_by_text("Figures under rule 1–9 shown as <10")).to_be_visible()
    expect(page.locator('[data-figure="U1.total"] td.now')).to_have_text(
        "<10 (hidden under the small-number rule)"
    )
    heatmap = page.get_by_role("img", name=re.compile("^Visits by weekday and hour"))
    expect(heatmap).to_have_attribute("aria-label", re.compile("Hatched: hidden"))
    assert_accessible(page, "the site dashboard under the small-number rule")

    page.goto(f"{live_server.url}{reverse('reports:export', kwargs={'site': 'riverside'})}")
    expect(page.get_by_role("heading", level=1, name="Download figures: Riverside")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^CSV"))).to_be_checked()
    assert_accessible(page, "the download page")


def test_a_network_administrator_compares_the_sites(
    page, log_in, live_server, admin, network, visits
):
    log_in(admin)
    page.goto(
        f"{live_server.url}"
        f"{reverse('network_reports:dashboard', kwargs={'network': network.pk})}?period={visits}"
    )
    expect(
        page.get_by_role("heading", level=1, name="Reports: Test network (all sites)")
    ).to_be_visible()
    compared = page.get_by_role("table", name=re.compile("^Key figures by site"))
    expect(compared.get_by_role("row", name=re.compile("^Eastgate"))).to_contain_text("25")
    expect(compared.get_by_role("row", name=re.compile("^All sites"))).to_contain_text("29")
    expect(page.get_by_role("img", name=re.compile("^Visits over the period"))).to_be_visible()
    assert_accessible(page, "the network dashboard")
