"""The probabilistic sensitivity analysis: reproducible with a seed, centred on the
deterministic run, its samplers right, its tornado ordered."""

from __future__ import annotations

import numpy as np
import pytest

from saferoom.evaluation.model import MODULE_NAMES, evaluate
from saferoom.evaluation.parameters import (
    Distribution,
    ParameterError,
    Preset,
    load_preset,
    with_distribution,
    with_overrides,
)
from saferoom.evaluation.psa import generator_for, run_psa, sample, tornado


def irwin() -> Preset:
    return with_overrides(load_preset("irwin-2017-baltimore"), {"emergency.ed_cost": 1000.0})


def test_same_seed_same_result_and_another_seed_differs():
    first = run_psa(irwin(), draws=5000, seed=7)
    again = run_psa(irwin(), draws=5000, seed=7)
    other = run_psa(irwin(), draws=5000, seed=8)
    assert first == again
    assert first.to_dict() == again.to_dict()
    assert other.outputs["net_benefit"].mean != first.outputs["net_benefit"].mean


def test_mean_is_near_the_deterministic_value():
    preset = irwin()
    result = evaluate(preset)
    psa = run_psa(preset, draws=50_000, seed=1)
    # The model is nearly linear in most inputs and every distribution is centred on the
    # value: the means agree within a few per cent.
    assert psa.outputs["total_benefit"].mean == pytest.approx(result.total_benefit, rel=0.03)
    assert psa.outputs["cost"].mean == pytest.approx(result.cost, rel=0.01)
    assert psa.outputs["ssti.events_averted"].mean == pytest.approx(
        result.module("ssti").events_averted, rel=0.02
    )
    summary = psa.outputs["net_benefit"]
    assert summary.low < result.net_benefit < summary.high
    assert summary.low <= summary.median <= summary.high
    assert psa.base_net_benefit == pytest.approx(result.net_benefit)


def test_every_output_is_summarised():
    psa = run_psa(irwin(), draws=2000, seed=1)
    keys = {"total_benefit", "cost", "net_benefit", "benefit_cost_ratio"}
    for name in MODULE_NAMES:
        keys |= {f"{name}.events_averted", f"{name}.value"}
    assert set(psa.outputs) == keys
    assert sum(psa.histogram_counts) == 2000
    assert len(psa.histogram_counts) == 30
    assert len(psa.histogram_edges) == 31
    assert 0.0 <= psa.probability_net_benefit_positive <= 1.0
    data = psa.to_dict()
    assert data["draws"] == 2000
    assert data["seed"] == 1
    assert len(data["tornado"]["bars"]) == 10


def test_probability_of_net_benefit_counts_the_draws():
    # ICER at twice the cost-of-living ratio: sometimes worth it, sometimes not
    preset = with_overrides(load_preset("icer-2021"), {"cost.cost_of_living_ratio": 2.2})
    psa = run_psa(preset, draws=20_000, seed=3)
    assert 0.05 < psa.probability_net_benefit_positive < 0.95


def test_a_preset_without_distributions_has_no_spread():
    preset = irwin()
    for name, parameter in preset.parameters.items():
        if parameter.distribution is not None:
            preset = with_distribution(preset, name, None)
    psa = run_psa(preset, draws=100, seed=1)
    summary = psa.outputs["net_benefit"]
    assert summary.low == summary.high == pytest.approx(evaluate(preset).net_benefit)
    assert psa.varied == ()


def test_tornado_is_ordered_by_swing_and_holds_the_ten_largest():
    psa = run_psa(irwin(), draws=20_000, seed=1)
    swings = [abs(b.net_benefit_at_high - b.net_benefit_at_low) for b in psa.tornado]
    assert len(swings) == 10
    assert swings == sorted(swings, reverse=True)
    # A widened input moves to the top
    wide = with_distribution(
        irwin(), "ssti.bed_day_cost", Distribution("uniform", {"low": 0, "high": 100_000})
    )
    top = run_psa(wide, draws=20_000, seed=1).tornado[0]
    assert top.parameter == "ssti.bed_day_cost"
    assert top.low_input == pytest.approx(2500, rel=0.1)
    assert top.high_input == pytest.approx(97_500, rel=0.02)
    # One-way: the rest stay at their values, so the bar is the formula's own slope
    days = 2100 * 0.0443 * 0.67 * 6
    assert top.net_benefit_at_high - top.net_benefit_at_low == pytest.approx(
        days * (top.high_input - top.low_input)
    )


def test_an_input_without_a_distribution_moves_twenty_percent_in_the_tornado():
    preset = irwin()
    bars = {b.parameter: b for b in tornado(preset, {}, bars=100)}
    bar = bars["cost.operating"]
    assert (bar.low_input, bar.high_input) == pytest.approx((1_440_000, 2_160_000))
    assert bar.net_benefit_at_low - bar.net_benefit_at_high == pytest.approx(720_000)


def test_bad_draw_counts_are_refused():
    with pytest.raises(ParameterError, match="draws"):
        run_psa(irwin(), draws=1, seed=1)
    with pytest.raises(ParameterError, match=r"emergency\.ed_cost"):
        run_psa(load_preset("irwin-2017-baltimore"), draws=100, seed=1)


@pytest.mark.parametrize(
    ("distribution", "mean", "sd"),
    [
        (Distribution("beta", {"alpha": 40, "beta": 17}), 40 / 57, (40 * 17 / (57**2 * 58)) ** 0.5),
        (Distribution("gamma", {"mean": 750, "sd": 187.5}), 750, 187.5),
        (Distribution("lognormal", {"mean": 4.5, "sd": 1.0}), 4.5, 1.0),
        (Distribution("lognormal", {"mu": 0.0, "sigma": 0.5}), np.exp(0.125), None),
        (Distribution("triangular", {"low": 1, "mode": 1.2, "high": 1.4}), 1.2, None),
        (Distribution("uniform", {"low": 0, "high": 1}), 0.5, (1 / 12) ** 0.5),
        (Distribution("normal", {"mean": 10, "sd": 2}), 10, 2),
    ],
)
def test_samplers_have_the_stated_moments(distribution, mean, sd):
    draws = sample(distribution, generator_for(1, "x"), 200_000)
    assert draws.mean() == pytest.approx(mean, rel=0.01)
    assert distribution.mean() == pytest.approx(mean, rel=1e-9)
    if sd is not None:
        assert draws.std() == pytest.approx(sd, rel=0.02)


def test_a_parameters_draws_do_not_depend_on_the_others():
    a = generator_for(5, "hiv.prevalence").random(3)
    b = generator_for(5, "hiv.prevalence").random(3)
    c = generator_for(5, "hcv.prevalence").random(3)
    assert list(a) == list(b) != list(c)


def test_hiv_and_hcv_share_the_draws_of_the_same_behaviour():
    # One city has one number of needles in circulation: same distribution, same draws.
    same = generator_for(3, "hiv.needles").random(4)
    assert list(same) == list(generator_for(3, "hcv.needles").random(4))
    assert list(generator_for(3, "hiv.prevalence").random(4)) != list(
        generator_for(3, "hcv.prevalence").random(4)
    )
