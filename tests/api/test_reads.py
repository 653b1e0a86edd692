"""Reading through the API: the sites a token's user works at, a site's set-up, and indicators
published for the reader exactly as the reports publish them — exact for the site's staff,
suppressed for evaluators, from the same data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from saferoom.core.roles import Role
from saferoom.floor.models import Visit
from saferoom.reports import registry
from saferoom.reports.registry import Context, Figure, Result
from tests.api.conftest import Api, token
from tests.conftest import make_user


def test_the_sites_list_is_the_sites_the_user_works_at_with_their_roles(
    api_desk, admin, site_a, site_b
):
    assert api_desk.get("api:sites").json() == [
        {
            "slug": "riverside",
            "name": "Riverside",
            "kind": "fixed",
            "time_zone": site_a.time_zone,
            "network_id": site_a.network_id,
            "roles": ["desk"],
        }
    ]
    everywhere = Api(token(admin)).get("api:sites").json()
    assert [(s["slug"], s["roles"]) for s in everywhere] == [
        ("eastgate", ["admin"]),
        ("riverside", ["admin"]),
    ]


def test_a_sites_setup_lists_its_spaces_and_codes(api_desk, site_a):
    answer = api_desk.get("api:site", {"slug": site_a.slug}).json()
    assert answer["anonymous_visits_allowed"] is True
    assert [s["name"] for s in answer["spaces"]] == [
        "Booth 1",
        "Booth 2",
        "Booth 3",
        "Booth 4",
        "Smoking room",
        "Recovery",
    ]
    assert {"heroin", "crack"} <= {entry["code"] for entry in answer["substances"]}
    assert "foil" in {entry["code"] for entry in answer["supplies"]}


# --- indicators -----------------------------------------------------------------------------


@pytest.fixture
def visits_indicator(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A made-up indicator standing in for the real ones: visits that arrived in the period at
    the scope's sites (a count, so it is suppressed for evaluators)."""
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def visits(ctx: Context) -> Result:
        total = 0
        for site in ctx.scope.sites:
            start, end = ctx.scope.bounds(site)
            total += Visit.objects.filter(
                site=site, arrived_at__gte=start, arrived_at__lt=end
            ).count()
        return Result("U1", figures=(Figure("visits", "Visits", total),))

    registry.indicator("U1", title="Visits (test)", group="use", definition="made up")(visits)
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def visits_figure(answer: dict[str, Any]) -> Any:
    (indicator,) = answer["indicators"]
    assert indicator["code"] == "U1"
    (figure,) = indicator["figures"]
    return figure


def test_a_manager_sees_exact_figures_and_an_evaluator_suppressed_ones_of_the_same_data(
    visits_indicator, api_manager, api_evaluator, floor_a, site_a
):
    for _ in range(3):
        floor_a.visit()
    kwargs = {"slug": site_a.slug}
    exact = api_manager.get("api:site_indicators", kwargs, period="2026-03").json()
    suppressed = api_evaluator.get("api:site_indicators", kwargs, period="2026-03").json()

    assert exact["exact"] is True
    assert visits_figure(exact) == {
        "key": "visits",
        "label": "Visits",
        "kind": "count",
        "note": "",
        "value": 3,
        "text": "3",
        "hidden": None,
    }
    assert suppressed["exact"] is False
    assert suppressed["suppression"]["code"] == "lt10"
    shown = visits_figure(suppressed)
    assert (shown["value"], shown["text"], shown["hidden"]) == (None, "<10", "primary")
    assert exact["period"] == {
        "code": "2026-03",
        "kind": "month",
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }


def test_figures_at_or_above_the_threshold_are_shown_to_evaluators(
    visits_indicator, api_evaluator, floor_a, site_a
):
    for _ in range(10):
        floor_a.visit()
    answer = api_evaluator.get(
        "api:site_indicators", {"slug": site_a.slug}, period="2026-03", codes="u1"
    ).json()
    assert visits_figure(answer)["value"] == 10


def test_network_indicators_cover_every_site_of_the_network(
    visits_indicator, admin, network, floor_a, site_b
):
    for _ in range(2):
        floor_a.visit()
    answer = (
        Api(token(admin))
        .get("api:network_indicators", {"network_id": network.pk}, period="2026-03")
        .json()
    )
    assert answer["scope"]["kind"] == "network"
    assert [s["slug"] for s in answer["scope"]["sites"]] == ["eastgate", "riverside"]
    assert visits_figure(answer)["value"] == 2

    evaluator = make_user("nel.network.evaluator", (Role.EVALUATOR, network))
    hidden = (
        Api(token(evaluator))
        .get("api:network_indicators", {"network_id": network.pk}, period="2026-03")
        .json()
    )
    assert visits_figure(hidden)["hidden"] == "primary"


def test_visits_outside_the_period_are_not_counted(visits_indicator, api_manager, floor_a, site_a):
    floor_a.visit()
    answer = api_manager.get("api:site_indicators", {"slug": site_a.slug}, period="2026-02")
    assert visits_figure(answer.json())["value"] == 0


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"period": "March"}, "period", "bad_period"),
        ({"period": "2026-13"}, "period", "bad_period"),
        ({"period": "2026-03", "codes": "U1,X99"}, "codes", "unknown_indicator"),
        ({}, "period", "invalid"),
        ({"period": "2" * 500}, "period", "invalid"),
    ],
)
def test_a_bad_period_or_indicator_is_refused_naming_the_field(
    visits_indicator, api_manager, site_a, query, field, code
):
    response = api_manager.get("api:site_indicators", {"slug": site_a.slug}, **query)
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["code"]) == (field, code)


def test_the_real_visits_indicator_is_exact_for_staff_and_suppressed_for_evaluators(
    api_manager, api_evaluator, floor_a, site_a
):
    """The registry's own U1 (not a stand-in), on the same three visits."""
    for _ in range(3):
        floor_a.visit()
    kwargs = {"slug": site_a.slug}
    exact = api_manager.get("api:site_indicators", kwargs, period="2026-03", codes="U1").json()
    hidden = api_evaluator.get("api:site_indicators", kwargs, period="2026-03", codes="U1").json()
    figures = {f["key"]: f for f in exact["indicators"][0]["figures"]}
    assert (figures["total"]["value"], figures["anonymous"]["value"]) == (3, 3)
    shown = {f["key"]: f for f in hidden["indicators"][0]["figures"]}
    assert (shown["total"]["value"], shown["total"]["text"]) == (None, "<10")
    tables = {t["key"]: t for t in hidden["indicators"][0]["tables"]}
    assert tables["by_site"]["total"]["value"] is None
    assert [i["code"] for i in exact["indicators"]] == ["U1"]


def test_every_indicator_is_served_when_none_is_named(api_manager, site_a):
    answer = api_manager.get("api:site_indicators", {"slug": site_a.slug}, period="2026-03")
    assert answer.status_code == 200
    assert [i["code"] for i in answer.json()["indicators"]] == list(registry.load())
