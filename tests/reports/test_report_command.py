"""``saferoom report``: the same files the exports make, suppressed under the site's rule unless
``--exact``; bad input refused with one clear line and exit code 2."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.core.suppression import RULES
from saferoom.reports import exports, registry
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import ShownReport, publish
from saferoom.reports.registry import Breakdown, Context, Figure, Result, compute_report, load
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import Site, Space

AS_AT = "2026-04-01T10:30:00+01:00"
WHEN = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def made_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two made-up indicators computed from the database (spaces per site, and sites), standing
    in for the real ones so these tests do not depend on them; removed afterwards."""
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def spaces(ctx: Context) -> Result:
        counts = [Space.objects.filter(site=s).count() for s in ctx.scope.sites]
        table = Breakdown(
            key="site",
            label="Spaces by site",
            row_label="Site",
            rows=tuple((s.slug, s.name) for s in ctx.scope.sites),
            columns=(("spaces", "Spaces"),),
            values=tuple((n,) for n in counts),
        )
        return Result("U1", figures=(Figure("total", "Spaces", sum(counts)),), breakdowns=(table,))

    def sites(ctx: Context) -> Result:
        return Result("U3", figures=(Figure("total", "Sites", len(ctx.scope.sites)),))

    registry.indicator("U1", title="Spaces", group="use", definition="Spaces.")(spaces)
    registry.indicator("U3", title="Sites", group="use", definition="Sites.")(sites)
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def run(*args: str, stdout: Any = None) -> str:
    out = stdout if stdout is not None else StringIO()
    call_command("report", *args, stdout=out, stderr=StringIO())
    return out.getvalue() if isinstance(out, StringIO) else ""


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    return str(error.value)


def expected(site: Site, *, exact: bool = False) -> ShownReport:
    report = compute_report(site_scope(site, parse_period("2026-03"), WHEN))
    return publish(report, None if exact else RULES[site.suppression_rule])


def test_the_default_is_a_text_table_suppressed_under_the_sites_rule(made_up, site_a):
    text = run("--site", "riverside", "--period", "2026-03", "--as-at", AS_AT)
    assert text == exports.to_text(expected(site_a))
    assert "Spaces  <10" in text  # six spaces: a small number, hidden
    assert "Suppression: 1–9 shown as <10." in text
    assert "Generated: 2026-04-01T09:30:00Z" in text


def test_exact_gives_the_exact_figures(made_up, site_a):
    data = json.loads(
        run("--site", "riverside", "--period", "2026-03", "--format", "json", "--exact")
    )
    assert data["exact"] is True
    assert data["indicators"][0]["figures"][0]["value"] == 6


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_every_text_format_is_exactly_what_the_export_gives(made_up, site_a, fmt):
    site_a.suppression_rule = "ndtms"
    site_a.save(update_fields=["suppression_rule"])
    out = run("--site", "riverside", "--period", "2026-03", "--format", fmt, "--as-at", AS_AT)
    writer = {"table": lambda s: exports.to_text(s).encode(), "csv": exports.to_csv}
    made = writer.get(fmt, exports.to_json)(expected(site_a))
    assert out == made.decode("utf-8")
    assert "<5" in out  # the site's own rule


@time_machine.travel(WHEN, tick=False)
def test_xlsx_is_written_to_the_output_file_byte_for_byte(made_up, site_a, tmp_path: Path):
    target = tmp_path / "riverside-2026-03.xlsx"
    run("--site", "riverside", "--period", "2026-03", "--format", "xlsx", "--output", str(target))
    assert target.read_bytes() == exports.to_xlsx(expected(site_a))
    assert load_workbook(target).sheetnames == ["About", "Figures", "U1 Spaces by site"]


def test_csv_goes_to_a_file_too(made_up, site_a, tmp_path: Path):
    target = tmp_path / "report.csv"
    args = ("--site", "riverside", "--period", "2026-03", "--format", "csv", "--as-at", AS_AT)
    assert run(*args, "--output", str(target)) == ""
    assert target.read_bytes() == exports.to_csv(expected(site_a))


class Terminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_xlsx_goes_to_standard_output_only_when_it_is_not_a_terminal(made_up, site_a):
    args = ("--site", "riverside", "--period", "2026-03", "--format", "xlsx")
    piped = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    run(*args, stdout=piped)
    content = piped.buffer.getvalue()
    assert content.startswith(b"PK")  # a zip: the workbook
    assert load_workbook(io.BytesIO(content)).sheetnames[0] == "About"
    with pytest.raises(CommandError, match="add --output FILE") as error:
        run(*args, stdout=Terminal(io.BytesIO(), encoding="utf-8"))
    assert error.value.returncode == 2


def test_indicators_chooses_a_subset(made_up, site_a):
    args = ("--site", "riverside", "--period", "2026-03", "--format", "json")
    data = json.loads(run(*args, "--indicators", "u3"))
    assert [i["code"] for i in data["indicators"]] == ["U3"]
    message = refused(*args, "--indicators", "U3,X9")
    assert message == "Unknown indicator X9. Choose from U1, U3, separated by commas."


def test_a_network_report_covers_every_site_under_the_strictest_rule(made_up, site_a, site_b):
    site_a.suppression_rule = "ndtms"  # 1–4 hidden
    site_a.save(update_fields=["suppression_rule"])
    site_b.suppression_rule = "nhs"  # 1–7 hidden, the rest rounded to 5: the stricter
    site_b.save(update_fields=["suppression_rule"])
    out = run(
        "--network", "Test network", "--period", "2026-Q1", "--format", "json", "--as-at", AS_AT
    )
    scope = network_scope(site_a.network, parse_period("2026-Q1"), WHEN)
    assert out == exports.to_json(publish(compute_report(scope), RULES["nhs"])).decode()
    data = json.loads(out)
    assert [s["slug"] for s in data["scope"]["sites"]] == ["eastgate", "riverside"]
    assert data["suppression"]["code"] == "nhs"
    assert data["indicators"][0]["figures"][0]["text"] == "10"  # 12 spaces, rounded to 5


def test_as_at_without_an_offset_is_read_as_utc(made_up, site_a):
    args = ("--site", "riverside", "--period", "2026-03", "--format", "json")
    data = json.loads(run(*args, "--as-at", "2026-04-01T09:30"))
    assert data["generated_at"] == "2026-04-01T09:30:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "2026-03"), "Choose what to report on: --site SLUG or --network NAME."),
        (("--site", "riverside"), "Choose a period with --period"),
        (("--site", "riverside", "--period", "March"), "'March' is not a period. Write one of"),
        (("--site", "riverside", "--period", "2026-13"), "'2026-13' is not a period."),
        (("--site", "nowhere", "--period", "2026-03"), "No site 'nowhere'. Sites: riverside."),
        (("--network", "Nope", "--period", "2026-03"), "No network 'Nope'. Networks: Test net"),
        (
            ("--site", "riverside", "--period", "2026-03", "--as-at", "soon"),
            "--as-at 'soon' is not a date-time.",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(made_up, site_a, args, message):
    assert message in refused(*args)


def test_site_and_network_together_are_refused(made_up, site_a):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("--site", "riverside", "--network", "Test network", "--period", "2026-03")


def test_the_console_exits_2_without_a_traceback_on_a_bad_period():
    env = {**os.environ, "SAFEROOM_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "saferoom.cli", "report", "--site", "x", "--period", "2026-W99"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "'2026-W99' is not a period" in lines[0]


# --- with the real indicators ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "xlsx"])
def test_every_registered_indicator_reports_on_an_empty_site_in_every_format(
    site_a, fmt, tmp_path: Path
):
    target = tmp_path / f"report.{fmt}"
    args = ("--site", "riverside", "--period", "2026-03", "--format", fmt, "--output", str(target))
    run(*args)
    content = target.read_bytes()
    codes = list(load())
    if fmt == "json":
        assert [i["code"] for i in json.loads(content)["indicators"]] == codes
    elif fmt == "xlsx":
        about = load_workbook(io.BytesIO(content))["About"]
        assert [r[0] for r in about.iter_rows(min_row=14, values_only=True)] == codes
    else:
        text = content.decode("utf-8-sig")
        assert all(code in text for code in codes)
