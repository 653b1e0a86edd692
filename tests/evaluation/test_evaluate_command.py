"""``saferoom evaluate``: table, JSON (the documented schema), PSA, and bad input refused with a
one-line message and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from saferoom.evaluation.model import MODULE_NAMES


def run(*args: str) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    return str(error.value)


def test_table_shows_every_module_and_the_totals():
    text = run("--preset", "icer-2021")
    assert "ICER 2021" in text
    for label in ("HIV infections averted", "Ambulance call-outs averted", "Hospital admissions"):
        assert label in text
    assert "Net benefit" in text
    assert "Benefit–cost ratio" in text
    assert "2,152,622" in text  # the cost: Insite × 1.24 + the loan on the space


def test_json_is_one_object_with_the_documented_fields():
    data = json.loads(run("--preset", "icer-2021", "--format", "json"))
    assert [m["name"] for m in data["modules"]] == list(MODULE_NAMES)
    for module in data["modules"]:
        assert {"name", "events_averted", "value", "unit", "perspective", "notes"} <= set(module)
    for key in ("total_benefit", "cost", "net_benefit", "benefit_cost_ratio"):
        assert isinstance(data[key], float)
    assert data["net_benefit"] == pytest.approx(data["total_benefit"] - data["cost"])
    assert data["currency"] == "USD"
    assert data["preset"] == "icer-2021"
    assert "psa" not in data


def test_set_overrides_parameters_and_options():
    data = json.loads(
        run(
            "--preset",
            "irwin-2017-baltimore",
            "--set",
            "emergency.ed_cost=1000",
            "--set",
            "death_value=zero",
            "--format",
            "json",
        )
    )
    modules = {m["name"]: m for m in data["modules"]}
    assert modules["ed"]["value"] == pytest.approx(modules["ed"]["events_averted"] * 1000)
    assert modules["deaths"]["value"] == 0


def test_perspective_changes_what_is_counted():
    args = ("--preset", "irwin-2017-baltimore", "--set", "emergency.ed_cost=0", "--format", "json")
    societal = json.loads(run(*args))
    health = json.loads(run(*args, "--perspective", "health_system"))
    assert health["perspective"] == "health_system"
    assert health["total_benefit"] < societal["total_benefit"]
    deaths = next(m for m in health["modules"] if m["name"] == "deaths")
    assert deaths["counted"] is False


def test_psa_in_json_is_reproducible_with_a_seed():
    args = ("--preset", "icer-2021", "--psa", "2000", "--seed", "4", "--format", "json")
    first, again = json.loads(run(*args)), json.loads(run(*args))
    assert first["psa"] == again["psa"]
    psa = first["psa"]
    assert psa["draws"] == 2000
    assert psa["seed"] == 4
    assert set(psa["outputs"]["net_benefit"]) == {"mean", "median", "low", "high"}
    assert 0 <= psa["probability_net_benefit_positive"] <= 1
    assert len(psa["tornado"]["bars"]) == 10
    assert sum(psa["histogram"]["counts"]) == 2000


def test_psa_in_the_table():
    text = run("--preset", "icer-2021", "--psa", "1000")
    assert "1,000 draws, seed 1" in text
    assert "Probability that net benefit > 0" in text
    assert "Tornado" in text


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--preset", "baltimore"), "Unknown preset 'baltimore'"),
        (("--preset", "icer-2021", "--set", "hiv.prevalence=1.5"), "hiv.prevalence"),
        (("--preset", "icer-2021", "--set", "site.pwid=-3"), "site.pwid"),
        (("--preset", "icer-2021", "--set", "site.pwid=lots"), "must be a number"),
        (("--preset", "icer-2021", "--set", "no.such=1"), "Unknown parameter 'no.such'"),
        (("--preset", "icer-2021", "--set", "site.pwid"), "NAME=VALUE"),
        (("--preset", "icer-2021", "--psa", "1"), "draws"),
        (
            (
                "--preset",
                "irwin-2017-baltimore",
            ),
            "--set emergency.ed_cost=VALUE",
        ),
        (("--site", "riverside"), "go together"),
        ((), "--preset"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(args, words):
    assert words in refused(*args)


def test_the_console_exits_2_without_a_traceback():
    env = {**os.environ, "SAFEROOM_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "saferoom.cli", "evaluate", "--preset", "uk-site"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "site.unique_clients" in lines[0]
