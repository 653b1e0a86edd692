"""The cost–benefit page, its printable annex and its XLSX, through HTTP as an evaluator,
a manager and an administrator use them; the desk and the floor are refused, another site's
staff do not see the pages exist.

A run is a GET whose query holds the inputs, so the tests build queries as the form sends them.
Expected figures come from the engine itself with the same inputs, formatted as the page
formats money: the page must show the engine's answer, not its own."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.evaluation import views
from saferoom.evaluation.charts import money, ratio
from saferoom.evaluation.model import evaluate
from saferoom.evaluation.parameters import (
    Distribution,
    load_preset,
    with_distribution,
    with_overrides,
)
from saferoom.evaluation.psa import run_psa

IRWIN = "irwin-2017-baltimore"
# Irwin et al. 2017's emergency department cost is not available: the one input to enter.
ED_COST = {"emergency.ed_cost": "1000"}


def url(name: str = "cost_benefit", **query: Any) -> str:
    address = reverse(f"evaluation:{name}", kwargs={"site": "riverside"})
    return f"{address}?{urlencode(query)}" if query else address


def run_query(**extra: Any) -> dict[str, Any]:
    query = {"preset": IRWIN, "run": "1", "draws": "1000", "seed": "7", **ED_COST}
    query.update(extra)
    return query


def irwin(**values: float | str) -> Any:
    return with_overrides(load_preset(IRWIN), {"emergency.ed_cost": 1000.0, **values})


def html(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call into the engine's run fails the test: refused input must run nothing."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the engine ran although the inputs were refused")

    monkeypatch.setattr(views, "evaluate", refuse)
    monkeypatch.setattr(views, "run_psa", refuse)


# --- The page before a run ----------------------------------------------------------------


def test_the_page_shows_every_input_of_the_irwin_model_grouped_by_module_with_unit_and_source(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    response = as_evaluator.get(url())
    assert response.status_code == 200
    page = html(response)
    preset = load_preset(IRWIN)
    assert preset.title in page
    assert "Harm Reduction Journal 2017" in page  # the citation
    for name, parameter in preset.parameters.items():
        assert f'name="{name}"' in page, name
        assert parameter.label.replace("'", "&#x27;") in page
    # Grouped by module, in the engine's order, each a fieldset with its legend.
    legends = re.findall(r'<fieldset class="group module-inputs" data-module="(\w+)">', page)
    assert legends == preset.modules()
    # Unit, source and distribution beside an input.
    assert "Irwin et al. 2017: clients of a 13-booth site (C)" in page
    assert "Triangular(1680, 2100, 2520)" in page
    assert "USD, 2016 prices" in page
    # The input Irwin cannot source is marked required and says where to find it.
    assert "1 input has no published value" in page
    assert 'id="results"' not in page


def test_the_site_own_data_preset_offers_to_fill_its_counts_from_the_reports(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(preset="uk-site")))
    assert "This site&#x27;s own data" in page
    assert "come from the site's reports: choose the site and the period below" in page
    assert '<button type="submit" class="secondary big">Fill from the reports</button>' in page
    assert "National Cost Collection" in page
    assert 'name="site.unique_clients"' in page


def test_running_the_site_own_data_without_its_counts_names_every_missing_input(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None
) -> None:
    missing = load_preset("uk-site").missing()
    page = html(as_evaluator.get(url(preset="uk-site", run="1")))
    assert "Nothing was run" in page
    for name in missing:
        assert f'id="id_{name}_error"' in page, name
    # Each one next to its field and in the list at the top.
    assert page.count("Required: the preset has no value for this input") == 2 * len(missing)


def test_an_unknown_preset_falls_back_to_the_default_and_says_so(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    response = as_evaluator.get(url(preset="no-such-model"))
    assert response.status_code == 200
    assert "There is no such model" in html(response)
    assert load_preset(IRWIN).title in html(response)


def test_choosing_another_method_shows_the_inputs_it_needs(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(preset=IRWIN, deaths_estimator="event")))
    # Milloy's event-based estimator reads local deaths and the non-fatal overdose rate.
    assert 'name="deaths.local_deaths"' in page
    assert 'name="deaths.nonfatal_overdose_rate"' in page


# --- A run --------------------------------------------------------------------------------


def test_a_run_of_irwin_shows_the_engine_net_benefit_formatted_beside_the_psa(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    response = as_evaluator.get(url(**run_query()))
    assert response.status_code == 200
    page = html(response)
    expected = evaluate(irwin())
    psa = run_psa(irwin(), draws=1000, seed=7)
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "USD")}<' in page
    assert f'data-headline="benefit_cost_ratio">{ratio(expected.benefit_cost_ratio)}<' in page
    # Every module: events averted, unit, value, perspective.
    for module in expected.modules:
        assert module.label in page
        assert money(module.value, "USD") in page
        assert module.unit in page
    # Totals, deterministic and PSA side by side.
    assert money(expected.total_benefit, "USD") in page
    assert money(expected.cost, "USD") in page
    net = psa.outputs["net_benefit"]
    assert f"{money(net.mean, 'USD')} (95% interval {money(net.low, 'USD')} to " in page
    assert "Uncertainty from 1000 draws, seed 7." in page
    assert re.search(r"Ran in \d+\.\d\d s\.", page)
    assert "Changed from the published model: emergency.ed_cost." in page


def test_the_results_carry_four_charts_each_named_for_screen_readers_with_its_numbers(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(**run_query())))
    charts = re.findall(
        r'<svg class="chart" role="img" aria-label="([^"]+)"[^>]*data-chart="([^"]+)"', page
    )
    assert [key for _label, key in charts] == [
        "benefit-by-module",
        "psa-histogram",
        "tornado",
        "probability-cost-saving",
    ]
    labels = {key: label for label, key in charts}
    assert labels["benefit-by-module"].startswith(
        "Benefit by module, a year. The largest benefit is"
    )
    assert "draws above zero" in labels["psa-histogram"]
    assert "most influential input" in labels["tornado"]
    # Each chart's numbers as a table in a <details>.
    assert page.count('<details class="chart-numbers"') == 4


def test_the_perspective_changes_what_counts_and_the_page_says_which(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(**run_query(perspective="health_system", draws="0"))))
    expected = evaluate(irwin(), perspective="health_system")
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "USD")}<' in page
    assert "Health system perspective" in page
    # Deaths and treatment belong to the societal perspective: shown, not counted.
    assert page.count("not counted in this perspective") == 2
    assert "Deterministic run only (0 draws)." in page
    assert 'data-chart="psa-histogram"' not in page


def test_an_edited_input_changes_the_result_and_is_marked_as_changed(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{"cost.operating": "2,500,000"}))))
    expected = evaluate(irwin(**{"cost.operating": 2_500_000.0}))
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "USD")}<' in page
    assert "Changed (published: 1800000)" in page
    assert 'value="2,500,000"' in page  # the box keeps what was typed


def test_a_changed_input_takes_its_distribution_with_it_into_the_psa(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    query = run_query(**{"cost.operating": "2500000"})
    page = html(as_evaluator.get(url(**query)))
    moved = with_distribution(
        irwin(**{"cost.operating": 2_500_000.0}),
        "cost.operating",
        Distribution("gamma", {"mean": 2_500_000.0, "sd": 375_000.0}),
    )
    psa = run_psa(moved, draws=1000, seed=7)
    assert psa.outputs["cost"].mean == pytest.approx(2_500_000, rel=0.05)
    cost = psa.outputs["cost"]
    assert f"{money(cost.mean, 'USD')} (95% interval {money(cost.low, 'USD')}" in page
    assert Distribution("gamma", {"mean": 2_500_000.0, "sd": 375_000.0}).describe() in page


def test_a_share_typed_as_exactly_one_is_fixed_in_the_psa(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    assert load_preset(IRWIN).parameters["hiv.sharing_reduction"].distribution is not None
    page = html(as_evaluator.get(url(**run_query(**{"hiv.sharing_reduction": "1"}))))
    row = re.search(r'name="hiv.sharing_reduction".*?</tr>', page, flags=re.S)
    assert row is not None
    assert "Used: fixed (moved with the value)" in row.group(0)
    assert 'id="results"' in page


def test_an_edited_distribution_is_used_by_the_psa_and_kept_in_the_link(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    wide = "Gamma(mean=1800000, sd=900000)"
    page = html(as_evaluator.get(url(**run_query(**{"dist.cost.operating": wide}))))
    scenario = with_distribution(
        irwin(), "cost.operating", Distribution("gamma", {"mean": 1_800_000.0, "sd": 900_000.0})
    )
    cost = run_psa(scenario, draws=1000, seed=7).outputs["cost"]
    assert f"{money(cost.mean, 'USD')} (95% interval {money(cost.low, 'USD')}" in page
    assert "emergency.ed_cost, distribution of cost.operating." in page
    link = re.search(r'href="([^"]+)#results">Link to these results', page)
    assert link is not None
    assert "dist.cost.operating=Gamma" in link.group(1)


def test_a_fixed_distribution_takes_the_input_out_of_the_psa(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{"dist.cost.operating": "fixed"}))))
    assert "Cost of the site" in page
    assert "$1,800,000 (95% interval $1,800,000 to $1,800,000)" in page


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("cost.operating", "Gamma(mean=big)", "is not a number"),
        ("cost.operating", "Poisson(3)", "Cannot read this distribution"),
        ("hiv.prevalence", "Gamma(mean=0.2, sd=0.1)", "must stay within 0..1"),
        ("cost.operating", "Triangular(3, 2, 1)", "low ≤ mode ≤ high"),
    ],
)
def test_a_bad_distribution_is_refused_next_to_it_and_nothing_runs(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None, name: str, typed: str, message: str
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{f"dist.{name}": typed}))))
    error = re.search(rf'<p class="error" id="id_dist.{re.escape(name)}_error">([^<]+)</p>', page)
    assert error is not None
    assert message in error.group(1).replace("&#x27;", "'")
    assert 'id="results"' not in page


def test_the_link_to_the_results_carries_only_the_changes_and_gives_the_same_answer(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{"cost.operating": "2500000"}))))
    link = re.search(r'href="([^"]+)#results">Link to these results', page)
    assert link is not None
    address = link.group(1).replace("&amp;", "&")
    assert "hiv.prevalence" not in address  # unchanged inputs stay out of the address
    assert "cost.operating=2500000" in address
    again = html(as_evaluator.get(address))
    expected = evaluate(irwin(**{"cost.operating": 2_500_000.0}))
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "USD")}<' in again
    assert 'value="0.177"' in again  # the unchanged inputs show their published values


# --- Refused inputs: the engine's message next to the field, and nothing runs ---------------


def test_a_missing_required_input_is_named_next_to_its_field_and_nothing_runs(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None
) -> None:
    query = run_query()
    del query["emergency.ed_cost"]
    response = as_evaluator.get(url(**query))
    assert response.status_code == 200
    page = html(response)
    assert "Nothing was run" in page
    assert 'id="id_emergency.ed_cost_error"' in page
    assert "Required: the preset has no value for this input" in page
    assert 'aria-describedby="id_emergency.ed_cost_error"' in page
    assert 'aria-invalid="true"' in page
    assert 'id="results"' not in page


def test_a_share_above_one_gets_the_engine_message_naming_it_and_nothing_runs(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{"hiv.sharing_share": "1.5"}))))
    error = re.search(r'<p class="error" id="id_hiv.sharing_share_error">([^<]+)</p>', page)
    assert error is not None
    assert "hiv.sharing_share" in error.group(1)
    assert "is a share and must be between 0 and 1" in error.group(1)
    assert 'value="1.5"' in page  # what was typed stays, to be corrected
    assert 'id="results"' not in page


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("site.unique_clients", "-5", "cannot be negative"),
        ("cost.operating", "lots", "must be a number"),
        ("treatment.benefit_cost_ratio", "0", "is a ratio and must be above 0"),
    ],
)
def test_other_bad_values_get_the_engine_message_and_nothing_runs(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None, name: str, typed: str, message: str
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{name: typed}))))
    assert f'id="id_{name}_error"' in page
    assert message in page
    assert 'id="results"' not in page


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("draws", "200000", "At most 100,000 draws"),
        ("draws", "-1", "Enter 0 or more draws"),
        ("draws", "5", "Enter 0, or at least 100 draws"),
        ("seed", "x", "Enter a whole number, such as 1."),
        ("perspective", "everyone", "Select a valid choice"),
        ("deaths_estimator", "guess", "Select a valid choice"),
    ],
)
def test_bad_run_settings_are_refused_and_nothing_runs(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None, field: str, typed: str, message: str
) -> None:
    page = html(as_evaluator.get(url(**run_query(**{field: typed}))))
    assert f'id="id_{field}_error"' in page
    assert message in page
    assert 'id="results"' not in page


# --- The annex and the workbook --------------------------------------------------------------


def test_the_annex_holds_inputs_with_sources_results_and_charts_for_print(
    as_manager: HttpClient, site_a: Any
) -> None:
    response = as_manager.get(url("annex", **run_query(**{"cost.operating": "2000000"})))
    assert response.status_code == 200
    page = html(response)
    expected = evaluate(irwin(**{"cost.operating": 2_000_000.0}))
    assert "Cost–benefit annex: Riverside" in page
    assert "saferoom/evaluation.css" in page  # the A4 print styles
    assert "Harm Reduction Journal 2017" in page
    assert money(expected.net_benefit, "USD") in page
    # Inputs with their sources; the changed one says so, with the published value.
    assert "Irwin et al. 2017: clients of a 13-booth site (C)" in page
    assert "changed; published 1800000" in page
    assert "Entered by the user" in page
    # Charts print with their numbers open.
    assert page.count('role="img"') == 4
    assert page.count('<details class="chart-numbers" open>') == 4
    assert "Changed from the published model" in page


def test_the_annex_of_refused_inputs_shows_the_form_with_the_message_instead(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None
) -> None:
    response = as_evaluator.get(url("annex", **run_query(**{"hiv.prevalence": "2"})))
    assert response.status_code == 200
    page = html(response)
    assert "Cost–benefit annex" not in page
    assert "Nothing was run" in page
    assert 'id="id_hiv.prevalence_error"' in page


def test_the_xlsx_opens_and_holds_inputs_results_psa_tornado_and_about(
    as_evaluator: HttpClient, site_a: Any
) -> None:
    response = as_evaluator.get(url("cost_benefit_xlsx", **run_query()))
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == (
        'attachment; filename="saferoom-riverside-irwin-2017-baltimore-cost-benefit.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Inputs", "Results", "PSA", "Tornado", "About"]
    inputs = {row[1]: row for row in book["Inputs"].iter_rows(min_row=2, values_only=True)}
    assert inputs["emergency.ed_cost"][3] == 1000
    assert inputs["emergency.ed_cost"][9] == "yes"
    assert inputs["site.unique_clients"][3] == 2100
    assert inputs["site.unique_clients"][8].startswith("Irwin et al. 2017")
    expected = evaluate(irwin())
    results = {row[1]: row for row in book["Results"].iter_rows(min_row=2, values_only=True)}
    assert results["Net benefit"][4] == pytest.approx(expected.net_benefit)
    assert results["Overdose deaths averted"][2] == pytest.approx(
        expected.module("deaths").events_averted
    )
    about = dict(book["About"].iter_rows(min_row=2, values_only=True))
    assert "Harm Reduction Journal" in about["Citation"]
    assert about["Seed"] == 7
    assert about["Uncertainty draws"] == 1000
    assert "narrowest perspective" in about["Perspective rule"]
    assert len(list(book["Tornado"].iter_rows(min_row=2))) == 10


def test_the_xlsx_of_refused_inputs_is_not_made(
    as_evaluator: HttpClient, site_a: Any, nothing_runs: None
) -> None:
    query = run_query()
    del query["emergency.ed_cost"]
    response = as_evaluator.get(url("cost_benefit_xlsx", **query))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Nothing was run" in html(response)


# --- Who may see it ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cost_benefit", "annex", "cost_benefit_xlsx"])
def test_the_desk_and_the_floor_are_refused_and_another_site_sees_nothing(
    as_desk: HttpClient, as_nurse: HttpClient, as_other_site_worker: HttpClient, name: str
) -> None:
    address = url(name, **run_query())
    assert as_desk.get(address).status_code == 403
    assert as_nurse.get(address).status_code == 403
    assert as_other_site_worker.get(address).status_code == 404


@pytest.mark.parametrize("persona", ["as_evaluator", "as_manager", "as_admin"])
def test_evaluators_managers_and_administrators_run_it(
    persona: str, request: pytest.FixtureRequest, site_a: Any
) -> None:
    client = request.getfixturevalue(persona)
    response = client.get(url(**run_query(draws="0")))
    assert response.status_code == 200
    assert 'id="results"' in html(response)


def test_the_site_menu_links_to_evaluation_for_evaluators_but_not_the_desk(
    as_evaluator: HttpClient, as_desk: HttpClient, site_a: Any
) -> None:
    link = f'href="{url()}"'
    assert link in html(as_evaluator.get(url()))
    queue = as_desk.get(reverse("floor:queue", kwargs={"site": "riverside"}))
    assert ">Evaluation</a>" not in html(queue)


def full_form(preset: str = IRWIN, **changes: str) -> dict[str, Any]:
    """Every field as the page's form posts it: each input with its published value."""
    page = html(login_client_for_form.get(url(preset=preset)))
    data = dict(re.findall(r'<input type="text" name="([^"]+)" value="([^"]*)"', page))
    data.update(
        {"preset": preset, "run": "1", "perspective": "societal", "draws": "1000", "seed": "7"}
    )
    data.update(changes)
    return data


@pytest.fixture
def form_reader(as_evaluator: HttpClient) -> None:
    global login_client_for_form
    login_client_for_form = as_evaluator


login_client_for_form: HttpClient


def test_posting_the_whole_form_redirects_to_the_short_address_of_the_run(
    as_evaluator: HttpClient, site_a: Any, form_reader: None
) -> None:
    data = full_form(**{"emergency.ed_cost": "1000", "cost.operating": "2000000"})
    assert len(data) > 100  # every input and its distribution
    response = as_evaluator.post(url(), data)
    assert response.status_code == 302
    location = response["Location"]
    assert location.endswith("#results")
    assert "emergency.ed_cost=1000" in location
    assert "cost.operating=2000000" in location
    assert "hiv.prevalence" not in location  # unchanged inputs stay out
    assert len(location) < 400
    page = html(as_evaluator.get(location.split("#")[0]))
    expected = evaluate(irwin(**{"cost.operating": 2_000_000.0}))
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "USD")}<' in page


def test_posting_refused_inputs_shows_the_messages_at_once_and_runs_nothing(
    as_evaluator: HttpClient, site_a: Any, form_reader: None, nothing_runs: None
) -> None:
    response = as_evaluator.post(url(), full_form(**{"hiv.sharing_share": "2"}))
    assert response.status_code == 200
    page = html(response)
    assert "Nothing was run" in page
    assert 'id="id_hiv.sharing_share_error"' in page
    assert 'id="id_emergency.ed_cost_error"' in page  # still required
    assert 'value="2"' in page


def test_the_desk_cannot_post_a_run(as_desk: HttpClient, site_a: Any) -> None:
    assert as_desk.post(url(), run_query()).status_code == 403
