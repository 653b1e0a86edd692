"""The cost–benefit page's "fill from this site's reports": the site's own data (``uk-site``)
read from a site's reports for a period, through HTTP as a manager, an evaluator, a network
administrator and people who may not see the site use it.

The site's own staff get exact figures; an evaluator gets the figures as published outside
the site, and a figure hidden from them (``<10``) stays a required input with a message that
says why. Expected values come from ``site_preset`` and the engine with the same inputs."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.core.suppression import DEFAULT_RULE, rule_named
from saferoom.evaluation import views
from saferoom.evaluation.charts import money
from saferoom.evaluation.model import evaluate
from saferoom.evaluation.parameters import Preset, with_overrides
from saferoom.evaluation.site_figures import site_preset
from saferoom.reports.models import OperatingCost
from saferoom.reports.periods import parse_period
from saferoom.sites.models import Site
from tests.conftest import login, make_user
from tests.reports.safety_data import incident

NOW = dt.datetime(2026, 4, 15, 10, 0, tzinfo=dt.UTC)
MARCH = "2026-03"
OVERDOSES = 3  # in March: fewer than 10, so hidden from anyone outside the site


@pytest.fixture(autouse=True)
def april() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def march(site_a: Site, manager: User) -> Site:
    """Riverside's March: three opioid overdoses and an operating cost entered."""
    for day in range(OVERDOSES):
        incident(
            site_a,
            manager,
            kind="opioid",
            onset=dt.datetime(2026, 3, 3 + day * 7, 14, 0, tzinfo=dt.UTC),
        )
    OperatingCost.objects.create(
        site=site_a,
        month=dt.date(2026, 3, 1),
        amount=Decimal("31000.00"),
        entered_by=manager,
        entered_at=dt.datetime(2026, 4, 2, 9, tzinfo=dt.UTC),
    )
    return site_a


def url(site: str = "riverside", name: str = "cost_benefit", **query: Any) -> str:
    address = reverse(f"evaluation:{name}", kwargs={"site": site})
    return f"{address}?{urlencode(query)}" if query else address


def fill(**extra: Any) -> dict[str, Any]:
    return {"preset": "uk-site", "from_site": "riverside", "period": MARCH, **extra}


def html(response: Any) -> str:
    return str(response.content.decode())


def local_inputs(preset: Preset) -> dict[str, str]:
    """A value for every input the reports cannot give (local epidemiology, UK unit costs):
    what an evaluator would type from their own sources."""
    return {
        name: "0.1" if preset.parameters[name].kind == "share" else "250"
        for name in preset.missing()
    }


def figures_for(site: Site, *, exact: bool) -> Any:
    rule = None if exact else rule_named(site.suppression_rule or DEFAULT_RULE)
    return site_preset(site, parse_period(MARCH), rule=rule)


# --- The site's own staff: exact figures ---------------------------------------------------


def test_a_manager_fills_the_site_data_from_march_exactly_each_input_saying_where_from(
    as_manager: HttpClient, march: Site
) -> None:
    response = as_manager.get(url(**fill()))
    assert response.status_code == 200
    page = html(response)
    yearly = OVERDOSES * 365 / 31
    assert f'name="site.overdoses" value="{yearly!r}"' in page
    assert "Riverside&#x27;s reports, 2026-03: overdoses and medical emergencies (S1) = 3" in page
    assert "Exact figures: you work at this site." in page
    assert "7 inputs filled from Riverside's reports for 2026-03" in page
    assert page.count("from the site's reports</span>") == 7
    assert "not in the reports you may see" not in page
    # The inputs form carries the fill, so a run starts from the same figures.
    assert '<input type="hidden" name="from_site" value="riverside">' in page
    assert '<input type="hidden" name="period" value="2026-03">' in page


def test_a_run_from_the_filled_inputs_is_the_engines_answer_and_its_address_keeps_the_fill(
    as_manager: HttpClient, march: Site
) -> None:
    filled = figures_for(march, exact=True).preset
    typed = local_inputs(filled)
    response = as_manager.post(url(), {**fill(), "run": "1", "draws": "0", "seed": "1", **typed})
    assert response.status_code == 302
    address = response["Location"]
    assert "from_site=riverside" in address
    assert "period=2026-03" in address
    assert "site.overdoses" not in address  # read from the reports, not carried in the link
    page = html(as_manager.get(address))
    expected = evaluate(with_overrides(filled, {k: float(v) for k, v in typed.items()}))
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "GBP")}<' in page

    annex = html(as_manager.get(address.replace(url(), url(name="annex")).split("#")[0]))
    assert "Riverside&#x27;s reports, 2026-03" in annex
    workbook = as_manager.get(address.replace(url(), url(name="cost_benefit_xlsx")).split("#")[0])
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.content))
    cells = [str(c) for row in book["Inputs"].iter_rows(values_only=True) for c in row if c]
    assert any("Riverside's reports, 2026-03: operating cost (C1) = 31000" in c for c in cells)


def test_a_network_administrator_may_fill_from_either_site_of_the_network(
    as_admin: HttpClient, march: Site, site_b: Site
) -> None:
    page = html(as_admin.get(url(**fill(from_site="eastgate"))))
    assert "from Eastgate's reports for 2026-03" in page
    assert "Exact figures" in page


# --- An evaluator: suppressed figures, a hidden one stays required --------------------------


def test_an_evaluator_gets_the_published_figures_and_a_hidden_one_stays_a_required_input(
    as_evaluator: HttpClient, march: Site
) -> None:
    page = html(as_evaluator.get(url(**fill())))
    assert "Figures as published outside the site, with small numbers hidden" in page
    box = re.search(r'<input[^>]*name="site\.overdoses"[^>]*>', page)
    assert box is not None
    assert "value=" not in box.group(0)
    assert "not in the reports you may see" in page
    assert "(S1) = " not in page  # the hidden count appears nowhere
    assert repr(OVERDOSES * 365 / 31) not in page
    assert "site.overdoses" in page.split('id="fill-status"')[1].split("</div>")[0]
    # Filled figures still say where they came from.
    assert "Riverside&#x27;s reports, 2026-03: operating cost (C1) = 31000" in page


def test_running_without_the_hidden_figure_is_refused_with_the_reason_and_nothing_runs(
    as_evaluator: HttpClient, march: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the engine ran although an input was missing")

    monkeypatch.setattr(views, "evaluate", refuse)
    filled = figures_for(march, exact=False)
    assert "site.overdoses" in filled.hidden
    typed = local_inputs(filled.preset)
    typed.pop("site.overdoses")
    response = as_evaluator.post(url(), {**fill(), "run": "1", "draws": "0", **typed})
    assert response.status_code == 200
    page = html(response)
    assert "Nothing was run" in page
    assert (
        "Riverside&#x27;s reports show this to you as &lt;10 for 2026-03 (small numbers are "
        "hidden). Enter a value yourself" in page
    )
    assert 'id="results"' not in page


def test_the_evaluator_enters_the_hidden_figure_and_the_run_uses_it(
    as_evaluator: HttpClient, march: Site
) -> None:
    filled = figures_for(march, exact=False)
    typed = local_inputs(filled.preset)
    typed["site.overdoses"] = "60"
    response = as_evaluator.post(url(), {**fill(), "run": "1", "draws": "0", **typed})
    assert response.status_code == 302
    assert "site.overdoses=60" in response["Location"]
    page = html(as_evaluator.get(response["Location"]))
    expected = evaluate(with_overrides(filled.preset, {k: float(v) for k, v in typed.items()}))
    assert f'data-headline="net_benefit">{money(expected.net_benefit, "GBP")}<' in page


# --- Who may fill from which site; bad input ------------------------------------------------


@pytest.mark.parametrize("chosen", ["eastgate", "elsewhere", "nowhere"])
def test_a_site_the_user_may_not_evaluate_is_refused_plainly_and_nothing_is_filled(
    as_manager: HttpClient, march: Site, site_b: Site, other_network_site: Site, chosen: str
) -> None:
    response = as_manager.get(url(**fill(from_site=chosen)))
    assert response.status_code == 200
    page = html(response)
    assert "Nothing was filled" in page
    assert "the inputs can be filled only from the reports of a site you may evaluate" in page
    assert "from the site's reports</span>" not in page
    assert "Eastgate" not in page
    assert "Elsewhere" not in page


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("March", "Cannot read this period"),
        ("2026-13", "Cannot read this period"),
        ("2026-04", "has not ended yet at Riverside"),
        ("2024-01-01..2025-12-31", "at most a year"),
        ("<script>alert(1)</script>", "Cannot read this period"),
    ],
)
def test_a_bad_period_is_refused_plainly_and_nothing_is_filled(
    as_manager: HttpClient, march: Site, period: str, message: str
) -> None:
    response = as_manager.get(url(**fill(period=period)))
    assert response.status_code == 200
    page = html(response)
    assert message in page
    assert "from the site's reports</span>" not in page
    assert "<script>alert(1)" not in page


def test_a_run_posted_with_a_bad_fill_does_not_run(as_manager: HttpClient, march: Site) -> None:
    response = as_manager.post(url(), {**fill(period="soon"), "run": "1", "draws": "0"})
    assert response.status_code == 200
    assert "Cannot read this period" in html(response)


def test_another_networks_site_page_does_not_exist_for_them(
    as_manager: HttpClient, march: Site, other_network_site: Site
) -> None:
    assert as_manager.get(url("elsewhere", **fill(from_site="riverside"))).status_code == 404


def test_another_sites_worker_does_not_see_the_page_exist(
    as_other_site_worker: HttpClient, march: Site
) -> None:
    assert as_other_site_worker.get(url(**fill())).status_code == 404


def test_an_evaluator_of_two_sites_chooses_the_other_and_gets_its_figures(
    march: Site, site_b: Site
) -> None:
    both = make_user("evan.two", (Role.EVALUATOR, march), (Role.EVALUATOR, site_b))
    page = html(login(both).get(url(**fill(from_site="eastgate"))))
    assert "from Eastgate's reports for 2026-03" in page
    assert "Figures as published outside the site" in page


def test_the_fill_is_offered_only_with_the_site_data_preset(
    as_evaluator: HttpClient, march: Site
) -> None:
    assert "Fill from this site" not in html(as_evaluator.get(url(preset="icer-2021")))
    page = html(as_evaluator.get(url(preset="uk-site")))
    assert "Fill from this site's reports" in page
    assert 'value="2026-03"' in page  # last month, in the site's calendar, offered first
