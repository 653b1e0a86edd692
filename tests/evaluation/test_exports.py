"""The XLSX exports of the evaluation pages, made straight from engine results: the sheets a
council paper attaches, every input with its source, and the facts needed to rerun a result
(preset, citation, perspective rule, seed)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.evaluation import capacity, exports
from saferoom.evaluation.forms import follow_changes
from saferoom.evaluation.model import evaluate
from saferoom.evaluation.parameters import load_preset, with_overrides
from saferoom.evaluation.psa import run_psa

WHEN = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def open_book(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content))


def cost_benefit(*, draws: int, **changes: float | str) -> bytes:
    base = load_preset("irwin-2017-baltimore")
    scenario = with_overrides(base, {"emergency.ed_cost": 1000.0, **changes})
    scenario = follow_changes(scenario, [n for n in changes if "." in n], base)
    return exports.cost_benefit_workbook(
        site_name="Riverside",
        base=base,
        scenario=scenario,
        result=evaluate(scenario, perspective="public_sector"),
        psa=run_psa(scenario, draws=draws, seed=11, perspective="public_sector") if draws else None,
        perspective_label="Public sector",
        module_labels={"hiv": "HIV infections"},
        generated_at=WHEN,
        address="https://example.org/sites/riverside/evaluation/?run=1",
    )


def test_inputs_list_every_parameter_with_unit_source_distribution_and_what_changed() -> None:
    changes: dict[str, float | str] = {"deaths_estimator": "area", "cost.operating": 2e6}
    book = open_book(cost_benefit(draws=500, **changes))
    sheet = book["Inputs"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Module", "Parameter", "Input", "Value"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True) if row[1]}
    preset = load_preset("irwin-2017-baltimore")
    for name in preset.parameters:
        assert name in rows, name
    hiv = rows["hiv.sharing_share"]
    assert hiv[0] == "HIV infections"  # the module's words
    assert hiv[3] == pytest.approx(0.028)
    assert hiv[7].startswith("Beta(")
    assert not hiv[9]  # unchanged
    operating = rows["cost.operating"]
    assert (operating[3], operating[5], operating[6], operating[9], operating[10]) == (
        2_000_000,
        "USD",
        2016,
        "yes",
        1_800_000,
    )
    assert operating[8].startswith("Entered by the user")
    # Its distribution moved with it (the pages' rule), and the sheet says so.
    assert operating[11] == "yes"
    assert operating[7] == "Gamma(mean=2e+06, sd=300000)"
    assert not hiv[11]
    # The methods follow the inputs.
    assert rows["deaths_estimator"][3] == "area"


def test_results_hold_modules_totals_and_the_psa_beside_them() -> None:
    base = with_overrides(load_preset("irwin-2017-baltimore"), {"emergency.ed_cost": 1000.0})
    expected = evaluate(base, perspective="public_sector")
    psa = run_psa(base, draws=500, seed=11, perspective="public_sector")
    sheet = open_book(cost_benefit(draws=500))["Results"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True) if row and row[1]}
    deaths = rows["Overdose deaths averted"]
    assert deaths[0] == "deaths"
    assert deaths[4] == pytest.approx(expected.module("deaths").value)
    assert deaths[5] == "societal"
    assert deaths[7] == pytest.approx(psa.outputs["deaths.value"].mean)
    net = rows["Net benefit"]
    assert net[4] == pytest.approx(expected.net_benefit)
    assert (net[7], net[8], net[9]) == pytest.approx(
        (
            psa.outputs["net_benefit"].mean,
            psa.outputs["net_benefit"].low,
            psa.outputs["net_benefit"].high,
        )
    )
    assert rows["Probability that net benefit is positive"][4] == pytest.approx(
        psa.probability_net_benefit_positive
    )
    # Money as whole units with separators; the ratio with two decimals.
    cells = {c.value: c for c in sheet["B"]}
    row = cells["Net benefit"].row
    assert sheet.cell(row=row, column=5).number_format == "#,##0"
    row = cells["Benefit–cost ratio"].row
    assert sheet.cell(row=row, column=5).number_format == "#,##0.00"


def test_psa_and_tornado_sheets_hold_the_summaries_the_histogram_and_ten_inputs() -> None:
    book = open_book(cost_benefit(draws=500))
    psa = {
        row[0]: row for row in book["PSA"].iter_rows(min_row=2, values_only=True) if row and row[0]
    }
    assert {"total_benefit", "cost", "net_benefit", "benefit_cost_ratio", "hiv.value"} <= set(psa)
    assert psa["Draws"][1] == 500
    assert psa["Seed"][1] == 11
    histogram = [row for row in book["PSA"].iter_rows(values_only=True) if isinstance(row[2], int)]
    assert sum(row[2] for row in histogram) == 500
    tornado = list(book["Tornado"].iter_rows(min_row=2, values_only=True))
    assert len(tornado) == 10
    swings = [row[6] for row in tornado]
    assert swings == sorted(swings, reverse=True)


def test_about_says_what_was_run_so_anyone_can_rerun_it() -> None:
    about = dict(open_book(cost_benefit(draws=500))["About"].iter_rows(min_row=2, values_only=True))
    assert about["Site"] == "Riverside"
    assert about["Preset"].endswith("(irwin-2017-baltimore)")
    assert "Harm Reduction Journal" in about["Citation"]
    assert about["Perspective"] == "Public sector"
    assert "nothing is counted twice" in about["Perspective rule"]
    assert about["Seed"] == 11
    assert about["Inputs changed from the preset"] == "emergency.ed_cost"
    assert about["Address of this run"].startswith("https://example.org/")
    assert "no client-level data" in about["Data"]


def test_a_deterministic_run_has_no_psa_and_says_so() -> None:
    book = open_book(cost_benefit(draws=0))
    assert book["PSA"]["A2"].value.startswith("No probabilistic sensitivity analysis")
    assert book["Tornado"].max_row == 1
    about = dict(book["About"].iter_rows(min_row=2, values_only=True))
    assert about["Uncertainty draws"] == 0


def test_the_plan_workbook_holds_inputs_results_hours_arrivals_and_about() -> None:
    plan = capacity.PlanInput(
        profile=capacity.load_profile("nrw-mixed-150"),
        booths=3,
        inhalation_rooms=1,
        seats_per_room=2,
        open_hours=capacity.parse_open_hours("Mon-Fri 10:00-18:00"),
        days=7,
        seed=5,
    )
    result = capacity.simulate(plan)
    content = exports.plan_workbook(
        site_name="Riverside",
        plan=plan,
        result=result,
        source_text="A shipped profile",
        target_p95_minutes=10,
        smallest_booths=None,
        smallest_rooms=None,
        searched=False,
        seconds=0.25,
        generated_at=WHEN,
        address="https://example.org/plan",
    )
    book = open_book(content)
    assert book.sheetnames == ["Inputs", "Results", "By hour", "Arrivals", "About"]
    inputs = dict(book["Inputs"].iter_rows(min_row=2, values_only=True))
    assert inputs["Injection booths"] == 3
    assert inputs["Open on Monday"] == ", ".join(
        f"{h:02d}:00–{h + 1:02d}:00" for h in range(10, 18)
    )
    assert inputs["Open on Sunday"] == "closed"
    results = dict(book["Results"].iter_rows(min_row=2, values_only=True))
    assert results["Arrivals"] == result.arrivals
    assert results["95th percentile wait (minutes)"] == pytest.approx(result.p95_wait_minutes)
    assert "Smallest number of booths meeting the target" not in results  # not searched
    hours = list(book["By hour"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in hours] == [f"{h:02d}:00" for h in range(24)]
    assert hours[12][3] == pytest.approx(result.occupancy_by_hour[12])
    arrivals = list(book["Arrivals"].iter_rows(min_row=2, values_only=True))
    assert len(arrivals) == 168
    assert arrivals[0][:2] == ("Monday", "00:00")
    about = dict(book["About"].iter_rows(min_row=2, values_only=True))
    assert about["Seed"] == 5
    assert "no client-level data" in about["Data"]
