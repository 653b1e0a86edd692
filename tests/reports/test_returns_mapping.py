"""The mapping language of the returns, and the check that keeps the mappings honest: every
reference of every return resolves to a figure or a table of the real registry, on a real
report computed for a small hand-built site, for staff and for evaluators."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import time_machine

from saferoom.core.models import User
from saferoom.core.suppression import RULES
from saferoom.reports import returns
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import ShownReport, publish
from saferoom.reports.registry import Breakdown, Figure, Report, Result, Scope, load
from saferoom.reports.returns import (
    EachRow,
    Field,
    MappingError,
    NotRecorded,
    Ref,
    ReturnShape,
    Section,
    parse_ref,
    resolve,
)
from saferoom.sites.models import Site
from tests.reports.test_returns import NOW, build_riverside

LT10 = RULES["lt10"]


@pytest.fixture(autouse=True)
def april_morning() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- the language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("U1.total", Ref("U1", "total")),
        ("S1.kind[opioid]", Ref("S1", "kind", "opioid")),
        ("E6.finding[fentanyl][checks]", Ref("E6", "finding", "fentanyl", "checks")),
        ("U2.by_route[*]", Ref("U2", "by_route", "*")),
        ("U3.by_age_band[18–24]", Ref("U3", "by_age_band", "18–24")),
        (" U1.total ", Ref("U1", "total")),
    ],
)
def test_a_reference_reads_as_a_figure_or_a_cell(text: str, ref: Ref):
    assert parse_ref(text) == ref
    assert str(ref) == text.strip()


@pytest.mark.parametrize(
    "text", ["", "U1", "total", "u1.total", "U1.total[", "U1.kind[a][b][c]", "U1.to tal", "U1."]
)
def test_anything_else_is_refused_with_the_forms_that_are_understood(text: str):
    with pytest.raises(MappingError, match=re.escape("CODE.table[row]")):
        parse_ref(text)


def made_up_scope() -> Scope:
    site = SimpleNamespace(pk=1, name="Riverside", slug="riverside", time_zone="Europe/London")
    return Scope(
        network=SimpleNamespace(pk=1, name="Test network"),  # type: ignore[arg-type]
        sites=(site,),  # type: ignore[arg-type]
        period=parse_period("2026-03"),
        now=dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC),
    )


def made_up_report(rule: object = None, *, smoke: int | None = 15) -> ShownReport:
    """Hand-built results under two real codes: an additive one-way table and its total, a
    two-column table, and a table that is not additive. ``smoke=None`` leaves that row out."""
    routes = (("inject", "Inject", 25), ("smoke", "Smoke", smoke))
    kept = [(key, label, n) for key, label, n in routes if n is not None]
    u2 = Result(
        "U2",
        figures=(Figure("total", "Episodes", sum(n for _k, _l, n in kept)),),
        breakdowns=(
            Breakdown(
                key="by_route",
                label="By route",
                row_label="Route",
                rows=tuple((key, label) for key, label, _n in kept),
                columns=(("count", "Episodes"),),
                values=tuple((n,) for _k, _l, n in kept),
            ),
        ),
    )
    e6 = Result(
        "E6",
        figures=(Figure("total", "Drug checks", 30),),
        breakdowns=(
            Breakdown(
                key="grid",
                label="By method and timing",
                row_label="Method",
                rows=(("strip", "Test strip"), ("ftir", "FTIR")),
                columns=(("before", "Before use"), ("after", "After use")),
                values=((12, 3), (10, 5)),
                total_key=None,
            ),
            Breakdown(
                key="finding",
                label="By finding",
                row_label="Finding",
                rows=(("fentanyl", "Fentanyl"),),
                columns=(("checks", "Checks"), ("share", "Share")),
                values=((4, 4 / 30),),
                column_kinds=("count", "share"),
                additive=False,
                total_key=None,
            ),
        ),
    )
    return publish(Report(scope=made_up_scope(), results={"U2": u2, "E6": e6}), rule)  # type: ignore[arg-type]


def test_a_figure_resolves_to_its_shown_value_and_says_what_it_is_in_our_terms():
    value = resolve(made_up_report(), "U2.total")

    assert value.shown.value == 40
    assert value.kind == "count"
    assert value.ours == "U2 Supervised consumption episodes: Episodes"


def test_a_cell_of_a_one_column_table_needs_only_its_row():
    value = resolve(made_up_report(), "U2.by_route[smoke]")

    assert value.shown.value == 15
    assert value.ours == "U2 Supervised consumption episodes: By route — Smoke"


def test_a_cell_of_a_table_of_several_columns_needs_its_column_too():
    report = made_up_report()

    assert resolve(report, "E6.grid[ftir][after]").shown.value == 5
    assert resolve(report, "E6.grid[ftir][after]").ours.endswith("FTIR, After use")
    with pytest.raises(MappingError, match=re.escape("has 2 columns; name one (before, after)")):
        resolve(report, "E6.grid[ftir]")


def test_a_star_reads_the_tables_totals():
    report = made_up_report()

    assert resolve(report, "U2.by_route[*]").shown.value == 40
    assert resolve(report, "E6.grid[*][*]").shown.value == 30
    assert resolve(report, "E6.grid[strip][*]").shown.value == 15
    assert resolve(report, "E6.grid[*][before]").shown.value == 22


def test_a_table_that_shows_no_totals_has_none_to_read():
    with pytest.raises(MappingError, match="shows no totals"):
        resolve(made_up_report(), "E6.finding[*][checks]")


def test_a_share_column_keeps_its_kind():
    value = resolve(made_up_report(), "E6.finding[fentanyl][share]")

    assert value.kind == "share"
    assert value.shown.text == "13.3%"


def test_a_cell_reads_what_the_reader_is_shown_not_the_exact_count():
    report = made_up_report(LT10)

    assert resolve(report, "E6.grid[strip][after]").shown.text == "<10"
    assert resolve(report, "E6.grid[strip][after]").shown.hidden == "primary"
    assert resolve(report, "U2.by_route[inject]").shown.value == 25


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("U1.total", "the report has no indicator U1"),
        ("U2.visits", "U2 has no figure 'visits'"),
        ("U2.by_day[2026-03-01]", "U2 has no table 'by_day'"),
        ("U2.by_route[snort]", "has no row 'snort'"),
        ("E6.grid[ftir][during]", "has no column 'during'"),
    ],
)
def test_a_reference_that_names_nothing_is_a_mapping_error(ref: str, says: str):
    with pytest.raises(MappingError, match=says):
        resolve(made_up_report(), ref)


def one_section(*lines: returns.Line) -> ReturnShape:
    return ReturnShape(
        slug="test",
        title="Test return",
        funder="Nobody",
        summary="",
        period_kinds=("month",),
        layout="months",
        sections=(Section("All", lines),),
    )


def filled_from(shape: ReturnShape, *reports: ShownReport) -> returns.FilledReturn:
    months = tuple(parse_period(f"2026-{m:02d}") for m in range(1, len(reports) + 1))
    return returns.fill_from(
        shape,
        site=SimpleNamespace(name="Riverside", time_zone="Europe/London"),  # type: ignore[arg-type]
        period=parse_period("2026"),
        columns=months,
        reports=reports,
        rule=None,
        generated_at=reports[0].generated_at,
    )


def test_a_category_one_months_table_lacks_reads_a_dash_there_and_is_no_problem():
    filled = filled_from(
        one_section(EachRow("Route", "U2.by_route")),
        made_up_report(),
        made_up_report(smoke=None),
    )
    lines = {ln.label: ln for _s, ln in filled.lines()}

    assert [v.text for v in lines["Route: Inject"].values] == ["25", "25"]
    assert [v.text for v in lines["Route: Smoke"].values] == ["15", "—"]
    assert filled.problems == []


def test_a_line_whose_reference_names_nothing_shows_a_dash_and_the_problem_never_a_number():
    shape = ReturnShape(
        slug="test",
        title="Test return",
        funder="Nobody",
        summary="",
        period_kinds=("month",),
        layout="period",
        sections=(
            Section(
                "All",
                (
                    Field("Visits", "U2.visits"),
                    Field("Episodes", "U2.total"),
                    EachRow("Route", "U2.by_route"),
                    EachRow("Days", "U2.by_day"),
                    NotRecorded("Weather", "We do not look outside."),
                ),
            ),
        ),
    )
    report = made_up_report()
    filled = returns.fill_from(
        shape,
        site=SimpleNamespace(name="Riverside", time_zone="Europe/London"),  # type: ignore[arg-type]
        period=parse_period("2026-03"),
        columns=(parse_period("2026-03"),),
        reports=(report,),
        rule=None,
        generated_at=report.generated_at,
    )
    lines = {ln.label: ln for _s, ln in filled.lines()}

    assert lines["Visits"].values[0].text == "—"
    assert lines["Visits"].values[0].value is None
    assert lines["Episodes"].values[0].value == 40
    assert [lines["Route: Inject"].values[0].value, lines["Route: Smoke"].values[0].value] == [
        25,
        15,
    ]
    assert lines["Days"].values[0].text == "—"
    assert filled.problems == [
        "U2.visits: U2 has no figure 'visits'.",
        "U2.by_day: U2 has no table 'by_day'.",
    ]
    assert lines["Weather"].maps == "Not recorded by saferoom: We do not look outside."


# --- every return against the real registry -------------------------------------------------


def test_every_indicator_a_return_reads_is_in_the_registry():
    registry = load()
    for shape in returns.SHAPES.values():
        assert shape.codes() <= set(registry), shape.slug


@pytest.mark.parametrize("slug", sorted(returns.SHAPES))
@pytest.mark.parametrize("rule", [None, LT10], ids=["exact", "suppressed"])
def test_every_reference_of_a_return_resolves_on_a_real_report(
    site_a: Site, manager: User, slug: str, rule: object
):
    build_riverside(site_a, manager)
    shape = returns.SHAPES[slug]
    period = {"month": "2026-03", "quarter": "2026-Q1", "year": "2026"}[shape.period_kinds[0]]
    filled = returns.fill(
        shape,
        site=site_a,
        period=parse_period(period),
        rule=rule,  # type: ignore[arg-type]
        now=NOW,
    )

    assert filled.problems == []
    for report in filled.reports:
        for ref in shape.references():
            parsed = parse_ref(ref)
            result = report.results[parsed.code]
            if parsed.is_cell or any(f.key == parsed.key for f in result.figures):
                assert resolve(report, parsed).kind == "count", ref
            else:  # the table of an EachRow line
                assert result.breakdown(parsed.key).rows, ref
    for _section, ln in filled.lines():
        assert len(ln.values) == len(filled.columns)
        assert ln.recorded == (ln.kind is not None), ln.label
        if ln.recorded:
            assert ln.maps.startswith(ln.source.split(".", 1)[0] + " "), ln.label
