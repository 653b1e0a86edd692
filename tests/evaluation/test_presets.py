"""Every preset file validates (units, kinds, sources, money years, distributions), ships with
the package, and bad overrides or bad files are refused naming the parameter."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from saferoom.evaluation.parameters import (
    CATALOGUE,
    DISTRIBUTIONS,
    KINDS,
    MODULES,
    OPTIONS,
    Distribution,
    ParameterError,
    load_preset,
    parse_preset,
    preset_names,
    with_distribution,
    with_overrides,
)

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "saferoom" / "evaluation" / "presets"


def test_the_three_presets_ship():
    assert preset_names() == ["icer-2021", "irwin-2017-baltimore", "uk-site"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["saferoom"]
    assert "evaluation/presets/*.toml" in data


@pytest.mark.parametrize("name", ["icer-2021", "irwin-2017-baltimore", "uk-site"])
def test_every_preset_file_validates(name):
    preset = load_preset(name)
    assert preset.name == name
    assert preset.citation
    assert preset.title
    assert preset.description
    assert set(preset.options) == set(OPTIONS)
    assert preset.modules() == [m for m in MODULES if m in preset.modules()]
    for parameter in preset.parameters.values():
        spec = CATALOGUE[parameter.name]
        assert parameter.kind == spec.kind in KINDS
        assert parameter.unit in (spec.unit, *spec.units)
        assert parameter.module == parameter.name.split(".")[0] in MODULES
        assert len(parameter.source) > 10, parameter.name
        if parameter.kind == "money":
            assert parameter.currency == preset.currency
            assert isinstance(parameter.price_year, int)
        else:
            assert parameter.currency is None
            assert parameter.price_year is None
        if parameter.value is None:
            # A required input says where to find a value (or that it is optional).
            assert parameter.optional or "Required input" in parameter.source
        if parameter.kind == "share" and parameter.value is not None:
            assert 0 <= parameter.value <= 1
        if parameter.distribution is not None:
            assert parameter.distribution.kind in DISTRIBUTIONS
            assert parameter.distribution.describe()
            # Centred on the value the paper gives (within 2%)
            assert parameter.distribution.mean() == pytest.approx(parameter.value, rel=0.02)
            if parameter.kind == "share":
                assert parameter.distribution.kind == "beta"
            if parameter.kind == "money":
                assert parameter.distribution.kind == "gamma"


@pytest.mark.parametrize("name", ["icer-2021", "irwin-2017-baltimore", "uk-site"])
def test_every_needed_parameter_is_listed_in_the_file(name):
    listed = {
        entry["name"]
        for entry in tomllib.loads((PRESETS / f"{name}.toml").read_text())["parameter"]
    }
    preset = load_preset(name)
    assert {n for n in preset.needed() if not CATALOGUE[n].optional} <= listed


def test_irwin_has_exactly_the_inputs_of_the_design():
    preset = load_preset("irwin-2017-baltimore")
    v = preset.value
    assert (v("hiv.uninfected_share"), v("hiv.prevalence"), v("hiv.needles")) == (
        0.823,
        0.177,
        1.6e6,
    )
    assert (
        v("hiv.sharing_share"),
        v("hiv.unbleached_share"),
        v("hiv.transmission_probability"),
    ) == (
        0.028,
        1.0,
        0.0067,
    )
    assert (v("hiv.partners"), v("hiv.sharing_reduction"), v("hiv.lifetime_cost")) == (
        1.2,
        0.7,
        402_000,
    )
    assert (v("hcv.uninfected_share"), v("hcv.prevalence"), v("hcv.transmission_probability")) == (
        0.25,
        0.75,
        0.03,
    )
    assert v("hcv.lifetime_cost") == 68_219
    assert (v("site.unique_clients"), v("site.pwid")) == (2100, 20950)
    assert v("emergency.ed_cost") is None
    assert preset.missing() == ["emergency.ed_cost"]
    assert v("cost.operating") == 1_800_000


def test_icer_has_exactly_the_inputs_of_the_design():
    preset = load_preset("icer-2021")
    v = preset.value
    assert v("site.pwid") == 29_500
    assert v("cost.cost_of_living_ratio") == 1.24
    assert (
        v("cost.price_per_area"),
        v("cost.space_area"),
        v("cost.loan_rate"),
        v("cost.loan_years"),
    ) == (
        550,
        1000,
        0.07,
        15,
    )
    assert v("deaths.city_deaths") == 250
    assert v("emergency.overdose_rate") == 0.0095
    assert v("emergency.admission_share_of_ed") == 0.48
    assert (
        v("emergency.ambulance_cost"),
        v("emergency.ed_cost"),
        v("emergency.admission_cost"),
    ) == (
        523,
        3451,
        8379,
    )
    assert v("cost.reference_operating") == 1_687_286
    assert v("cost.comparator") == 1_641_277
    assert (v("hiv.partners"), v("hiv.sharing_share"), v("hiv.needles")) == (1.69, 0.011, 2_806_017)
    assert (v("hiv.prevalence"), v("hcv.prevalence")) == (0.17, 0.25)
    assert (v("hiv.lifetime_cost"), v("hcv.lifetime_cost"), v("treatment.annual_cost")) == (0, 0, 0)
    assert preset.options["admissions_basis"] == "ed"
    assert preset.missing() == []


def test_uk_site_uses_only_the_values_we_could_source():
    preset = load_preset("uk-site")
    assert preset.currency == "GBP"
    assert preset.value("hiv.lifetime_cost") == 185_200
    assert "Nakagawa" in preset.parameters["hiv.lifetime_cost"].source
    assert preset.value("cost.reference_operating") == 2_300_000
    for name in (
        "emergency.ambulance_cost",
        "emergency.ed_cost",
        "ssti.bed_day_cost",
        "hcv.lifetime_cost",
    ):
        parameter = preset.parameters[name]
        assert parameter.value is None
        assert "National Cost Collection" in parameter.source or "PSSRU" in parameter.source


def test_unknown_preset_is_refused_naming_it():
    with pytest.raises(ParameterError, match="'baltimore'") as refused:
        load_preset("baltimore")
    assert refused.value.parameter == "baltimore"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("hiv.prevalence", 1.2, "between 0 and 1"),
        ("hiv.prevalence", -0.1, "between 0 and 1"),
        ("site.unique_clients", -5, "cannot be negative"),
        ("emergency.ambulance_cost", -750, "cannot be negative"),
        ("site.pwid", "many", "must be a number"),
        ("treatment.benefit_cost_ratio", 0, "above 0"),
        ("hiv.needles", "nan", "finite"),
        ("hiv.sharing", 0.1, "Unknown parameter"),
    ],
)
def test_invalid_overrides_are_refused_naming_the_parameter(name, value, words):
    preset = load_preset("irwin-2017-baltimore")
    with pytest.raises(ParameterError, match=words) as refused:
        with_overrides(preset, {name: value})
    assert refused.value.parameter == name
    assert name in str(refused.value)


def test_an_unknown_option_value_is_refused():
    with pytest.raises(ParameterError, match="deaths_estimator") as refused:
        with_overrides(load_preset("icer-2021"), {"deaths_estimator": "guess"})
    assert refused.value.parameter == "deaths_estimator"


def test_overrides_accept_text_numbers_and_leave_the_preset_unchanged():
    preset = load_preset("irwin-2017-baltimore")
    changed = with_overrides(preset, {"emergency.ed_cost": "1,200", "death_value": "vpf"})
    assert changed.value("emergency.ed_cost") == 1200
    assert "Entered by the user" in changed.parameters["emergency.ed_cost"].source
    assert changed.options["death_value"] == "vpf"
    # The vpf option makes deaths.vpf a needed (and missing) input
    assert "deaths.vpf" in changed.missing()
    assert preset.value("emergency.ed_cost") is None


def test_distributions_can_be_changed_and_are_validated():
    preset = load_preset("icer-2021")
    changed = with_distribution(
        preset, "site.pwid", Distribution("uniform", {"low": 20000, "high": 40000})
    )
    distribution = changed.parameters["site.pwid"].distribution
    assert distribution is not None
    assert distribution.describe() == "Uniform(20000, 40000)"
    with pytest.raises(ParameterError, match="share"):
        with_distribution(preset, "hiv.prevalence", Distribution("gamma", {"mean": 0.2, "sd": 0.1}))
    with pytest.raises(ParameterError, match="alpha"):
        with_distribution(preset, "hiv.prevalence", Distribution("beta", {"mean": 0.2}))


def _file(**changes: Any) -> dict[str, Any]:
    data = tomllib.loads((PRESETS / "icer-2021.toml").read_text())
    entry = next(p for p in data["parameter"] if p["name"] == "site.pwid")
    entry.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"unit": "households"}, "the unit is"),
        ({"kind": "money"}, "the kind is"),
        ({"source": ""}, "needs a source"),
        ({"value": -1}, "cannot be negative"),
        ({"distribution": {"kind": "poisson", "mean": 1}}, "unknown distribution"),
        ({"distribution": {"kind": "normal", "mean": 29500, "sd": 3000}}, "cannot be negative"),
        ({"currency": "USD"}, "only money"),
    ],
)
def test_a_bad_preset_file_is_refused_naming_the_parameter(changes, words):
    with pytest.raises(ParameterError, match=words) as refused:
        parse_preset(_file(**changes))
    assert refused.value.parameter == "site.pwid"


def test_a_preset_file_must_list_what_its_options_need():
    data = tomllib.loads((PRESETS / "icer-2021.toml").read_text())
    data["parameter"] = [p for p in data["parameter"] if p["name"] != "emergency.ed_cost"]
    with pytest.raises(ParameterError, match=r"emergency\.ed_cost"):
        parse_preset(data)
