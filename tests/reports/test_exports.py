"""Report exports (CSV, XLSX, JSON and the printed table) made from one published report: every
file carries its scope, period, time, rule and definitions; a figure reads the same in every
format; a hidden figure is only ever its marker."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.core.suppression import RULES, Rule
from saferoom.reports import exports, registry
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import ShownReport, publish
from saferoom.reports.registry import Breakdown, Figure, Report, Result, Scope

LT10 = RULES["lt10"]
# Under lt10 this cell is hidden to protect the 3 beside it (secondary suppression); its exact
# value is recognisable anywhere it might leak.
SECRET = 48173
SECRET_MEDIAN = 417.5  # the median of a row whose count is hidden
NOW = dt.datetime(2026, 4, 1, 10, 30, tzinfo=ZoneInfo("Europe/London"))  # 09:30 UTC


@pytest.fixture(autouse=True)
def test_indicators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Made-up indicators with the codes of real ones, removed afterwards."""
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def nothing(ctx: registry.Context) -> Result:  # never called: results are built by hand
        raise AssertionError

    made_up: tuple[tuple[str, str, registry.Group, bool, str], ...] = (
        ("U1", "Visits", "use", True, ""),
        ("U2", "Supervised consumption episodes", "use", True, ""),
        ("U7", "Waiting time", "use", True, ""),
        ("S1", "Overdoses and medical emergencies", "safety", True, ""),
        ("S2", "Emergency rate", "safety", True, "8–14 per 1,000 (Insite, OnPoint, Thistle)"),
        ("S7", "Deaths on site", "safety", False, ""),
        ("C1", "Cost per visit, per episode, per client", "cost", True, ""),
    )
    for code, title, group, suppressible, comparators in made_up:
        registry.indicator(
            code,
            title=title,
            group=group,
            definition=f"The definition of {code}, in words.",
            breakdowns=("site",) if code == "U1" else (),
            suppressible=suppressible,
            comparators=comparators,
        )(nothing)
    # load() imports the real modules, which would register the real ones: keep them out.
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def site(slug: str, name: str, zone: str = "Europe/London") -> Any:
    return SimpleNamespace(pk=hash(slug), slug=slug, name=name, time_zone=zone)


def scope(*, network: bool = False) -> Scope:
    sites: tuple[Any, ...] = (site("riverside", "Riverside"),)
    if network:
        sites += (site("eastgate", "Eastgate", "Europe/Dublin"),)
    return Scope(
        network=SimpleNamespace(pk=1, name="Test network"),  # type: ignore[arg-type]
        sites=sites,
        period=parse_period("2026-03"),
        now=NOW,
        is_network=network,
    )


def report(*, network: bool = False) -> Report:
    def count(code: str, key: str, label: str, value: int) -> Result:
        return Result(code, figures=(Figure(key, label, value),))

    visits = Breakdown(
        key="site_day",
        label="Visits by site and day type",
        row_label="Site",
        rows=(("riverside", "Riverside"), ("eastgate", "Eastgate")),
        columns=(("weekday", "Weekdays"), ("weekend", "Weekends")),
        values=((3, SECRET), (50000, 60000)),
    )
    waits = Breakdown(
        key="hour",
        label="Waiting by hour",
        row_label="Hour",
        rows=(("09", "09:00"), ("10", "10:00")),
        columns=(("n", "Visits"), ("median", "Median minutes")),
        values=((4, SECRET_MEDIAN), (40, 12.0)),
        column_kinds=("count", "minutes"),
        additive=False,
        total_key=None,
        note="Waits of visits that were seen.",
    )
    return Report(
        scope=scope(network=network),
        results={
            "U1": Result("U1", figures=(Figure("total", "Visits", 158176),), breakdowns=(visits,)),
            "U2": Result(
                "U2",
                figures=(
                    Figure("total", "Episodes", 2000),
                    Figure("smoked", "Share smoked", 0.12345, kind="share"),
                ),
            ),
            "U7": Result(
                "U7",
                figures=(
                    Figure("n", "Visits seen", 44),
                    Figure("median", "Median wait", 13.25, kind="minutes", basis="U7.n"),
                ),
                breakdowns=(waits,),
            ),
            "S1": count("S1", "total", "Emergencies", 7),
            "S2": Result(
                "S2",
                figures=(
                    Figure(
                        "per_episode",
                        "Emergencies per 1,000 episodes",
                        3.5,
                        kind="rate",
                        numerator="S1.total",
                        denominator="U2.total",
                        scale=1000,
                        note="per 1,000 supervised consumption episodes (U2)",
                    ),
                ),
            ),
            "S7": count("S7", "total", "Deaths", 1),
            "C1": Result(
                "C1",
                figures=(
                    Figure("per_visit", "Cost per visit", 123.456, kind="money"),
                    Figure("per_client", "Cost per client", None, kind="money"),
                ),
                notes=("No operating cost entered for part of the period.",),
            ),
        },
    )


def shown(rule: Rule | None = LT10, *, network: bool = False) -> ShownReport:
    return publish(report(network=network), rule)


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def every_text(content: bytes) -> str:
    """All the text inside an XLSX file (it is a zip of XML parts)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(archive.read(name).decode() for name in archive.namelist())


def workbook(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content))


def table_sheet(book: Any, title: str) -> Any:
    for sheet in book.worksheets:
        if sheet["A1"].value == title:
            return sheet
    raise AssertionError(f"no sheet titled {title!r}")


# --- what every export carries ---------------------------------------------------------------


def test_json_carries_scope_period_time_rule_and_every_definition():
    data = json.loads(exports.to_json(shown(network=True)))
    assert data["scope"] == {
        "kind": "network",
        "name": "Test network",
        "label": "Test network (all sites)",
        "network": "Test network",
        "sites": [
            {"slug": "riverside", "name": "Riverside", "time_zone": "Europe/London"},
            {"slug": "eastgate", "name": "Eastgate", "time_zone": "Europe/Dublin"},
        ],
    }
    assert data["period"] == {
        "code": "2026-03",
        "kind": "month",
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }
    assert data["generated_at"] == "2026-04-01T09:30:00Z"
    assert data["exact"] is False
    assert data["suppression"]["code"] == "lt10"
    assert data["suppression"]["rule"] == f"{LT10.label}. {LT10.describe()}"
    assert [i["code"] for i in data["indicators"]] == ["U1", "U2", "U7", "S1", "S2", "S7", "C1"]
    s2 = data["indicators"][4]
    assert s2["title"] == "Emergency rate"
    assert s2["definition"] == "The definition of S2, in words."
    assert s2["comparators"] == "8–14 per 1,000 (Insite, OnPoint, Thistle)"
    assert s2["figures"] == [
        {
            "key": "per_episode",
            "label": "Emergencies per 1,000 episodes",
            "kind": "rate",
            "note": "per 1,000 supervised consumption episodes (U2)",
            "value": None,
            "text": "<10",
            "hidden": "primary",
        }
    ]


def test_json_tables_have_cells_row_and_column_totals_and_the_total():
    u1 = json.loads(exports.to_json(shown(None)))["indicators"][0]
    table = u1["tables"][0]
    assert [c["key"] for c in table["columns"]] == ["weekday", "weekend"]
    assert [r["label"] for r in table["rows"]] == ["Riverside", "Eastgate"]
    assert [c["value"] for c in table["rows"][1]["cells"]] == [50000, 60000]
    assert table["rows"][1]["total"] == {"value": 110000, "text": "110,000", "hidden": None}
    assert [c["value"] for c in table["column_totals"]] == [50003, 108173]
    assert table["total"]["value"] == 158176
    assert u1["figures"][0]["value"] == 158176


def test_exact_exports_say_so():
    data = exports.as_dict(shown(None))
    assert data["exact"] is True
    assert data["suppression"]["code"] == "exact"
    assert "exact figures" in data["suppression"]["rule"]
    assert {row["suppression"] for row in csv_rows(exports.to_csv(shown(None)))} == {"exact"}


def test_csv_is_one_table_with_the_documented_columns_and_the_report_facts_on_every_row():
    rows = csv_rows(exports.to_csv(shown(network=True)))
    assert list(rows[0]) == [name for name, _meaning in exports.CSV_COLUMNS]
    for row in rows:
        assert row["scope"] == "Test network (all sites)"
        assert row["sites"] == "riverside eastgate"
        assert row["time_zones"] == "Europe/London Europe/Dublin"
        assert (row["period"], row["first_day"], row["last_day"]) == (
            "2026-03",
            "2026-03-01",
            "2026-03-31",
        )
        assert row["generated_at"] == "2026-04-01T09:30:00Z"
        assert row["suppression"] == "lt10"
    texts = {(r["code"], r["table"], r["row"]): r["shown"] for r in rows if r["kind"] == "text"}
    assert texts[("", "", "suppression_rule")] == f"{LT10.label}. {LT10.describe()}"
    assert texts[("S2", "", "definition")] == "The definition of S2, in words."
    assert texts[("S2", "", "comparators")] == "8–14 per 1,000 (Insite, OnPoint, Thistle)"
    assert texts[("C1", "", "note")] == "No operating cost entered for part of the period."
    assert texts[("U7", "hour", "note")] == "Waits of visits that were seen."


def test_csv_starts_with_a_byte_order_mark_so_spreadsheets_read_its_dashes():
    content = exports.to_csv(shown())
    assert content.startswith(b"\xef\xbb\xbfscope,sites,")
    assert "—" in content.decode("utf-8-sig")  # the cost per client is not defined


def test_xlsx_has_an_about_sheet_a_figures_sheet_and_a_sheet_per_table():
    book = workbook(exports.to_xlsx(shown()))
    assert book.sheetnames[:2] == ["About", "Figures"]
    assert len(book.sheetnames) == 4
    about = {row[0]: row[1] for row in book["About"].iter_rows(values_only=True) if row[0]}
    assert about["Scope"] == "Riverside"
    assert about["Sites"] == "riverside"
    assert about["Time zones"] == "Europe/London"
    assert about["Period"] == "2026-03"
    assert (about["First day"], about["Last day"]) == ("2026-03-01", "2026-03-31")
    assert about["Generated (UTC)"] == "2026-04-01T09:30:00Z"
    assert about["Suppression rule"] == "lt10"
    assert about["Suppression rule in words"] == f"{LT10.label}. {LT10.describe()}"
    definitions = {
        row[0]: row for row in book["About"].iter_rows(values_only=True) if row[0] in {"S2", "S7"}
    }
    assert definitions["S2"][3] == "The definition of S2, in words."
    assert definitions["S2"][4] == "8–14 per 1,000 (Insite, OnPoint, Thistle)"
    assert definitions["S7"][6] == "no"  # never suppressed
    waits = table_sheet(book, "U7 Waiting time: Waiting by hour")
    assert waits["A2"].value == "Waits of visits that were seen."
    assert [c.value for c in waits[3]] == ["Hour", "Visits", "Median minutes"]


def test_sheet_names_are_valid_and_unique_when_table_labels_clash():
    tables = tuple(
        Breakdown(
            key=f"t{i}",
            label="Visits by weekday × hour: [all] spaces / rooms, a long name",
            row_label="Day",
            rows=(("mon", "Monday"),),
            columns=(("n", "Visits"),),
            values=((12,),),
        )
        for i in range(3)
    )
    made = Report(
        scope=scope(),
        results={"U1": Result("U1", figures=(Figure("total", "Visits", 12),), breakdowns=tables)},
    )
    names = workbook(exports.to_xlsx(publish(made, LT10))).sheetnames[2:]
    assert len(set(names)) == 3
    for name in names:
        assert len(name) <= 31
        assert not set(name) & set("[]:*?/\\")


# --- the same figure in every format --------------------------------------------------------


@pytest.mark.parametrize("rule", [LT10, RULES["nhs"], None], ids=["lt10", "nhs", "exact"])
def test_every_figure_and_cell_reads_the_same_in_json_csv_and_xlsx(rule):
    published = shown(rule)
    data = exports.as_dict(published)
    rows = {
        (r["code"], r["table"], r["row"], r["column"]): r
        for r in csv_rows(exports.to_csv(published))
        if r["kind"] != "text"
    }
    book = workbook(exports.to_xlsx(published))
    figures_sheet = {
        (row[0], row[2]): row for row in book["Figures"].iter_rows(min_row=2, values_only=True)
    }
    checked = 0

    def same(code: str, table: str, row: str, column: str, cell: dict[str, Any]) -> None:
        nonlocal checked
        line = rows.pop((code, table, row, column))
        value = cell["value"]
        assert line["value"] == ("" if value is None else json.dumps(value))
        assert line["shown"] == cell["text"]
        assert line["hidden"] == (cell["hidden"] or "")
        checked += 1

    for ind in data["indicators"]:
        code = ind["code"]
        for fig in ind["figures"]:
            same(code, "", fig["key"], "", fig)
            xlsx = figures_sheet[(code, fig["key"])]
            assert xlsx[5] == fig["value"]
            assert xlsx[6] == fig["text"]
            assert (xlsx[7] or None) == fig["hidden"]
        for table in ind["tables"]:
            sheet = table_sheet(book, f"{code} {ind['title']}: {table['label']}")
            for r, line in enumerate(table["rows"]):
                for c, cell in enumerate(line["cells"]):
                    same(code, table["key"], line["key"], table["columns"][c]["key"], cell)
                    xlsx_value = sheet.cell(row=4 + r, column=2 + c).value
                    assert xlsx_value == (cell["text"] if cell["value"] is None else cell["value"])
                if line["total"]:
                    same(code, table["key"], line["key"], "total", line["total"])
                    total = sheet.cell(row=4 + r, column=2 + len(line["cells"])).value
                    assert total == (line["total"]["value"] or line["total"]["text"])
            for column, cell in zip(table["columns"], table["column_totals"] or [], strict=False):
                same(code, table["key"], "total", column["key"], cell)
            if table["total"]:
                same(code, table["key"], "total", "total", table["total"])
    assert rows == {}  # the CSV holds nothing the JSON does not
    assert checked == 10 + 9 + 4  # figures, the visits table with totals, the waits table


def test_printed_table_writes_each_figure_as_the_exports_do():
    published = shown()
    printed = exports.to_text(published)
    assert printed.startswith("Riverside: 2026-03 (2026-03-01 to 2026-03-31)\n")
    assert "Generated: 2026-04-01T09:30:00Z" in printed
    for ind in exports.as_dict(published)["indicators"]:
        assert f"{ind['code']}  {ind['title']}" in printed
        for fig in ind["figures"]:
            line = next(x for x in printed.splitlines() if x.strip().startswith(fig["label"]))
            assert line.split(fig["label"], 1)[1].split()[0] == fig["text"].split()[0]
    assert "8–14 per 1,000 (Insite, OnPoint, Thistle)" in printed
    assert "Waits of visits that were seen." in printed


# --- hidden figures never leak --------------------------------------------------------------


def every_format(published: ShownReport) -> dict[str, str]:
    return {
        "json": exports.to_json(published).decode(),
        "csv": exports.to_csv(published).decode("utf-8-sig"),
        "xlsx": every_text(exports.to_xlsx(published)),
        "table": exports.to_text(published),
    }


def test_the_exact_export_shows_the_recognisable_values_so_the_next_test_can_fail():
    for fmt, content in every_format(shown(None)).items():
        assert str(SECRET) in content.replace(",", ""), fmt
        assert str(SECRET_MEDIAN) in content, fmt


def test_a_hidden_cell_shows_its_marker_and_never_its_value_in_any_format():
    published = shown(LT10)
    u1 = exports.as_dict(published)["indicators"][0]["tables"][0]
    secret_cell = u1["rows"][0]["cells"][1]
    assert secret_cell == {"value": None, "text": "[c]", "hidden": "secondary"}
    u7 = exports.as_dict(published)["indicators"][2]["tables"][0]
    assert u7["rows"][0]["cells"][1] == {"value": None, "text": "<10", "hidden": "primary"}
    for fmt, content in every_format(published).items():
        assert str(SECRET) not in content.replace(",", ""), fmt
        assert "48,173" not in content, fmt
        assert str(SECRET_MEDIAN) not in content, fmt
        assert "[c]" in content, fmt
        assert "<10" in content or "&lt;10" in content, fmt


def one_way_and_wide() -> ShownReport:
    by_day = Breakdown(
        key="day",
        label="Visits by day",
        row_label="Day",
        rows=(("mon", "Monday"), ("tue", "Tuesday")),
        columns=(("n", "Visits"),),
        values=((30,), (40,)),
    )
    by_hour = Breakdown(
        key="hour",
        label="Visits by weekday and hour",
        row_label="Weekday",
        rows=(("mon", "Monday"), ("tue", "Tuesday")),
        columns=tuple((f"{h:02d}", f"{h:02d}:00") for h in range(24)),
        values=(tuple([0] * 9 + [30] + [0] * 14), tuple([0] * 9 + [40] + [0] * 14)),
    )
    made = Report(
        scope=scope(),
        results={
            "U1": Result(
                "U1", figures=(Figure("total", "Visits", 70),), breakdowns=(by_day, by_hour)
            )
        },
    )
    return publish(made, LT10)


def test_one_way_tables_print_no_repeated_total_column_but_the_data_keeps_it():
    published = one_way_and_wide()
    printed = exports.to_text(published)
    table = printed.split("    Visits by day\n", 1)[1].split("\n\n", 1)[0]
    assert table.splitlines() == [
        "      Day      Visits",
        "      Monday       30",
        "      Tuesday      40",
        "      Total        70",
    ]
    sheet = table_sheet(workbook(exports.to_xlsx(published)), "U1 Visits: Visits by day")
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=3)] == [
        ["Day", "Visits"],
        ["Monday", 30],
        ["Tuesday", 40],
        ["Total", 70],
    ]
    rows = csv_rows(exports.to_csv(published))
    assert {(r["row"], r["column"], r["value"]) for r in rows if r["table"] == "day"} >= {
        ("mon", "total", "30"),
        ("total", "total", "70"),
    }


def test_a_table_much_wider_than_long_is_printed_on_its_side():
    printed = exports.to_text(one_way_and_wide()).splitlines()
    start = printed.index("    Visits by weekday and hour")
    assert printed[start + 1].split() == ["Monday", "Tuesday", "Total"]
    assert printed[start + 11].split() == ["09:00", "30", "40", "70"]
    assert printed[start + 26].split() == ["Total", "30", "40", "70"]
