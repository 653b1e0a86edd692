"""docs/indicators.md is generated from the indicator registry and never stale; the registry
holds every indicator of the design's indicator set."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from saferoom.core.suppression import RULES
from saferoom.reports import docs, registry
from saferoom.reports.registry import Context, Result, load

# The tables of ../shared/design/indicators.md (version 1), by group.
INDICATOR_SET = {
    "use": [f"U{n}" for n in range(1, 10)],
    "safety": [f"S{n}" for n in range(1, 10)],
    "engagement": [f"E{n}" for n in range(1, 7)],
    "cost": ["C1"],
}


def test_docs_indicators_md_is_up_to_date():
    assert docs.DOC_PATH.read_text(encoding="utf-8") == docs.generate(), (
        "docs/indicators.md is stale: run `saferoom indicators_doc` to regenerate it."
    )


def test_every_indicator_of_the_design_is_registered_in_its_group():
    registered = load()
    for group, codes in INDICATOR_SET.items():
        assert [c for c in codes if c not in registered] == [], f"{group}: not registered"
        assert {registered[c].group for c in codes} == {group}
    assert list(registered) == [c for codes in INDICATOR_SET.values() for c in codes]


@pytest.fixture
def made_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = dict(registry.INDICATORS)
    registry.INDICATORS.clear()

    def nothing(ctx: Context) -> Result:
        raise AssertionError

    registry.indicator(
        "S7",
        title="Deaths on site",
        group="safety",
        definition="Incidents whose outcome is death.\nShown even when zero.",
        suppressible=False,
    )(nothing)
    registry.indicator(
        "S4",
        title="Oxygen / ventilation support",
        group="safety",
        definition="Incidents with oxygen.",
        breakdowns=("kind", "site"),
        comparators="8–14 per 1,000 (Insite)",
    )(nothing)
    monkeypatch.setattr(registry, "INDICATOR_MODULES", ())
    yield
    registry.INDICATORS.clear()
    registry.INDICATORS.update(saved)


def test_the_page_lists_each_indicator_with_its_definition_breakdowns_and_suppression(made_up):
    text = docs.generate()
    assert "Do not edit" in text
    assert "saferoom indicators_doc" in text
    assert "## Rules for every report" in text
    assert "## Safety" in text
    assert "## Use" not in text  # no indicator of that group registered
    s4 = text.index("### S4 Oxygen / ventilation support")
    s7 = text.index("### S7 Deaths on site")
    assert s4 < s7  # in code order
    assert "| [S4](#s4-oxygen--ventilation-support) | Oxygen / ventilation support |" in text
    assert "Incidents with oxygen.\n\n- **Breakdowns:** kind, site." in text
    assert "- **Comparators:** 8–14 per 1,000 (Insite)" in text
    assert "Incidents whose outcome is death. Shown even when zero." in text
    assert "never suppressed: published as it is, even when zero." in text[s7:]


def test_the_page_describes_every_suppression_rule_and_every_csv_column(made_up):
    text = docs.generate()
    for code, rule in RULES.items():
        assert f"| `{code}`" in text
        assert rule.describe() in text
    for column in ("scope", "generated_at", "value", "shown", "hidden"):
        assert f"| `{column}` |" in text


def test_the_command_writes_the_page_and_check_fails_when_it_differs(made_up, tmp_path: Path):
    page = tmp_path / "indicators.md"
    with pytest.raises(CommandError) as error:
        call_command("indicators_doc", "--check", "--path", str(page), stdout=StringIO())
    assert error.value.returncode == 1
    assert "run `saferoom indicators_doc` to regenerate" in str(error.value)

    call_command("indicators_doc", "--path", str(page), stdout=StringIO())
    assert page.read_text(encoding="utf-8") == docs.generate()
    out = StringIO()
    call_command("indicators_doc", "--check", "--path", str(page), stdout=out)
    assert "up to date" in out.getvalue()

    page.write_text(docs.generate().replace("Deaths on site", "Deaths"), encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command("indicators_doc", "--check", "--path", str(page), stdout=StringIO())
    assert error.value.returncode == 1
