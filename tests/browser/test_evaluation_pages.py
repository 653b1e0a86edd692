"""The evaluation pages in real Chromium, as an evaluator uses them: choose the Irwin et al.
2017 model, enter the one input it cannot source, change another, run, read the results and
the four charts, open the printable annex; then plan capacity; and fill the site's own data
from its reports, exact for a manager and with the hidden figure left to enter for an
evaluator. axe-core finds no serious or
critical problem on any of these pages, with results and with refused inputs.

Elements are found by role and accessible name, as a person (or a screen reader) finds them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from saferoom.evaluation.charts import money
from saferoom.evaluation.model import evaluate
from saferoom.evaluation.parameters import load_preset, with_overrides
from tests.browser.accessibility import assert_accessible
from tests.reports.safety_data import incident

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS: str | None = None  # a folder path keeps screenshots while working on the pages


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=False)
        for i, figure in enumerate(page.locator("figure").all()):
            figure.screenshot(path=f"{SCREENSHOTS}/{name}-chart{i}.png")


def test_an_evaluator_changes_an_input_runs_and_reads_the_results_and_charts(
    page, log_in, live_server, evaluator, site_a
):
    log_in(evaluator)
    page.goto(
        f"{live_server.url}{reverse('evaluation:cost_benefit', kwargs={'site': 'riverside'})}"
    )
    expect(page.get_by_role("heading", level=1, name="Cost–benefit evaluation")).to_be_visible()
    expect(page.get_by_role("link", name="Evaluation")).to_have_attribute("aria-current", "page")
    assert_accessible(page, "the cost–benefit page before a run")

    # Irwin's preset has no emergency department cost: running without one is refused,
    # next to the field, and nothing runs.
    page.get_by_role("button", name="Run the evaluation").first.click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was run")
    ed_cost = page.get_by_label("Cost of an emergency department attendance", exact=True)
    expect(ed_cost).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#results")).to_have_count(0)
    shot(page, "refused")
    assert_accessible(page, "the cost–benefit page with a refused input")

    ed_cost.fill("1,000")
    page.get_by_label("Share of PWID infected with HIV (q)", exact=True).fill("0.2")
    page.get_by_label("Distribution of: Operating cost of the site a year (C1)").fill(
        "Gamma(mean=1800000, sd=500000)"
    )
    page.get_by_label("Uncertainty draws").fill("2000")
    page.get_by_role("button", name="Run the evaluation").first.click()

    expected = evaluate(
        with_overrides(
            load_preset("irwin-2017-baltimore"),
            {"emergency.ed_cost": 1000.0, "hiv.prevalence": 0.2},
        )
    )
    results = page.locator("#results")
    expect(results.get_by_role("heading", name="Results")).to_be_visible()
    expect(results.locator('[data-headline="net_benefit"]')).to_have_text(
        money(expected.net_benefit, "USD")
    )
    expect(results).to_contain_text(
        "Changed from the published model: hiv.prevalence, emergency.ed_cost, "
        "distribution of cost.operating."
    )
    for name in (
        "Benefit by module, a year",
        "Net benefit across 2,000 draws",
        "What moves net benefit most",
        "Probability the site saves more than it costs",
    ):
        expect(results.get_by_role("img", name=re.compile(re.escape(name)))).to_be_visible()
    # The numbers behind a chart, for anyone who cannot see it.
    numbers = results.get_by_role("figure", name="Benefit by module, a year")
    numbers.get_by_text("The numbers: Benefit by module, a year").click()
    expect(
        numbers.get_by_role("cell", name=money(expected.modules[0].value, "USD"))
    ).to_be_visible()
    # The edited value is still in its box, marked as changed.
    expect(page.get_by_label("Share of PWID infected with HIV (q)", exact=True)).to_have_value(
        "0.2"
    )
    expect(page.get_by_text("Changed (published: 0.177)")).to_be_visible()
    page.locator("#results").scroll_into_view_if_needed()
    shot(page, "results")
    assert_accessible(page, "the cost–benefit page with results")

    page.get_by_role("link", name="Printable annex").click()
    expect(
        page.get_by_role("heading", level=1, name=re.compile("Cost–benefit annex"))
    ).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Benefit by module"))).to_be_visible()
    expect(page.get_by_text("Harm Reduction Journal 2017").first).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    if SCREENSHOTS:  # an A4 page's width at 96 dpi
        page.set_viewport_size({"width": 794, "height": 1123})
        for i in range(3):
            page.screenshot(
                path=f"{SCREENSHOTS}/annex-print-{i}.png",
                full_page=True,
                clip={"x": 0, "y": i * 1123, "width": 794, "height": 1123},
            )
        page.pdf(path=f"{SCREENSHOTS}/annex.pdf", format="A4")
    page.emulate_media(media="screen")
    shot(page, "annex")
    assert_accessible(page, "the printable annex")


def test_an_evaluator_plans_capacity_and_sees_waits_and_occupancy_by_hour(
    page, log_in, live_server, evaluator, site_a
):
    log_in(evaluator)
    page.goto(f"{live_server.url}{reverse('evaluation:plan', kwargs={'site': 'riverside'})}")
    expect(page.get_by_role("heading", level=1, name="Capacity planning")).to_be_visible()
    # The site's own set-up is the starting point: 4 booths, 1 room of 3 seats, 09:00–21:00.
    expect(page.get_by_label("Injection booths")).to_have_value("4")
    expect(page.get_by_label("Seats per inhalation room")).to_have_value("3")
    expect(page.get_by_label("Opening hours")).to_have_value("Mon-Sun 09:00-21:00")
    assert_accessible(page, "the capacity page before a run")

    page.get_by_label("An arrival profile shipped with saferoom").check()
    page.get_by_label("Injection booths").fill("6")
    page.get_by_label("Days to simulate").fill("14")
    page.get_by_role("button", name="Run the simulation").click()
    results = page.locator("#results")
    expect(results.get_by_text("Median wait").first).to_be_visible()
    expect(results.locator("[data-run-time]")).to_contain_text(re.compile(r"Took \d+\.\d\d s"))
    expect(results.get_by_role("img", name=re.compile("Waits by hour of the day"))).to_be_visible()
    expect(
        results.get_by_role("img", name=re.compile("Occupancy by hour of the day"))
    ).to_be_visible()
    expect(results.locator('[data-smallest="booths"]')).to_contain_text("injection booth")
    shot(page, "plan")
    assert_accessible(page, "the capacity page with results")


def _last_month_with_overdoses(site, by, count: int) -> str:
    """``count`` opioid overdoses at ``site`` last month (site calendar); its period code."""
    first_of_this_month = timezone.localdate(timezone=site.tz).replace(day=1)
    last_month = first_of_this_month - dt.timedelta(days=1)
    for day in range(count):
        incident(
            site,
            by,
            kind="opioid",
            onset=dt.datetime(last_month.year, last_month.month, 2 + day, 14, tzinfo=site.tz),
        )
    return f"{last_month:%Y-%m}"


def test_the_site_data_is_filled_from_the_reports_exact_for_staff_and_hidden_for_evaluators(
    page, log_in, live_server, manager, evaluator, site_a
):
    period = _last_month_with_overdoses(site_a, manager, 3)
    address = reverse("evaluation:cost_benefit", kwargs={"site": "riverside"})

    # The manager works at the site: exact figures, each saying which report and period.
    log_in(manager)
    page.goto(f"{live_server.url}{address}")
    page.get_by_label("Start from").select_option("uk-site")
    page.get_by_role("button", name="Show this model's inputs").click()
    fill = page.get_by_role("region", name="Fill from this site's reports")
    expect(fill.get_by_label("Site")).to_have_value("riverside")
    expect(fill.get_by_label("Period")).to_have_value(period)
    assert_accessible(page, "the site's own data before filling")
    fill.get_by_label("Period").fill("last March")
    fill.get_by_role("button", name="Fill from the reports").click()
    expect(page.get_by_role("alert")).to_contain_text("Cannot read this period")
    assert_accessible(page, "the fill form with a refused period")
    fill.get_by_label("Period").fill(period)
    fill.get_by_role("button", name="Fill from the reports").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text(f"6 inputs filled from Riverside's reports for {period}")
    # No operating cost was entered for the month: it stays to be entered, and says so.
    expect(status).to_contain_text("could not be filled and stays a required input")
    expect(page.get_by_role("row", name=re.compile("cost.operating"))).to_contain_text(
        "not in the reports you may see"
    )
    overdoses = page.get_by_label(
        "Overdoses and medical emergencies on site a year (S1)", exact=True
    )
    expect(overdoses).not_to_have_value("")
    expect(page.get_by_role("row", name=re.compile("site.overdoses"))).to_contain_text(
        f"Riverside's reports, {period}: overdoses and medical emergencies (S1) = 3"
    )
    shot(page, "site-fill-manager")
    assert_accessible(page, "the site's own data filled for a manager")

    # The evaluator sees what is published: the overdoses (<10) stay a required input.
    page.context.clear_cookies()
    log_in(evaluator)
    page.goto(f"{live_server.url}{address}?preset=uk-site&from_site=riverside&period={period}")
    expect(page.get_by_role("status")).to_contain_text("small numbers hidden")
    overdoses = page.get_by_label(
        "Overdoses and medical emergencies on site a year (S1)", exact=True
    )
    expect(overdoses).to_have_value("")
    page.get_by_role("button", name="Run the evaluation").first.click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was run")
    expect(overdoses).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("row", name=re.compile("site.overdoses"))).to_contain_text(
        "show this to you as <10"
    )
    shot(page, "site-fill-evaluator")
    assert_accessible(page, "the site's own data with a hidden figure refused")
