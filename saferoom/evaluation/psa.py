"""Probabilistic sensitivity analysis: the model run once on arrays of draws (vectorised Monte
Carlo, NumPy ``Generator`` with a seed), summarised, plus a one-way tornado. Pure Python + NumPy:
no Django.

The model is :func:`saferoom.evaluation.model.compute`, the same function the deterministic run
uses: the PSA never has its own copy of a formula."""

from __future__ import annotations

import math
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from saferoom.evaluation.model import (
    MODULE_SPECS,
    Computed,
    check_perspective,
    compute,
    total_benefit,
    values_of,
)
from saferoom.evaluation.modules import Number
from saferoom.evaluation.parameters import Distribution, Parameter, ParameterError, Preset, require

MAX_DRAWS = 1_000_000  # about 40 arrays of draws: 320 MB at the most
HISTOGRAM_BINS = 30
TORNADO_BARS = 10
NO_DISTRIBUTION_SWING = 0.20  # a tornado input without a distribution moves ±20%
# The tornado reads an input's 2.5th and 97.5th percentiles from at most this many of its draws.
TORNADO_QUANTILE_DRAWS = 20_000
# NumPy's samplers and sorts release the GIL: a few threads share the work on a multi-core host.
WORKERS = max(1, min(4, os.cpu_count() or 1))

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Summary:
    mean: float
    median: float
    low: float  # 2.5th percentile
    high: float  # 97.5th percentile

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "median": self.median, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class TornadoBar:
    parameter: str
    label: str
    low_input: float
    high_input: float
    net_benefit_at_low: float
    net_benefit_at_high: float

    @property
    def swing(self) -> float:
        return abs(self.net_benefit_at_high - self.net_benefit_at_low)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "label": self.label,
            "low_input": self.low_input,
            "high_input": self.high_input,
            "net_benefit_at_low": self.net_benefit_at_low,
            "net_benefit_at_high": self.net_benefit_at_high,
        }


@dataclass(frozen=True)
class PSAResult:
    draws: int
    seed: int
    outputs: dict[str, Summary]
    probability_net_benefit_positive: float
    histogram_edges: tuple[float, ...]
    histogram_counts: tuple[int, ...]
    tornado: tuple[TornadoBar, ...]
    perspective: str = "societal"
    base_net_benefit: float = 0.0  # the deterministic net benefit the tornado swings around
    varied: tuple[str, ...] = ()  # the parameters drawn from a distribution

    def to_dict(self) -> dict[str, Any]:
        return {
            "draws": self.draws,
            "seed": self.seed,
            "perspective": self.perspective,
            "varied": list(self.varied),
            "outputs": {key: summary.to_dict() for key, summary in self.outputs.items()},
            "probability_net_benefit_positive": self.probability_net_benefit_positive,
            "histogram": {
                "edges": list(self.histogram_edges),
                "counts": list(self.histogram_counts),
            },
            "tornado": {
                "base_net_benefit": self.base_net_benefit,
                "bars": [bar.to_dict() for bar in self.tornado],
            },
        }


def sample(distribution: Distribution, rng: np.random.Generator, size: int) -> Array:
    """``size`` draws of ``distribution``."""
    p = distribution.params
    kind = distribution.kind
    if kind == "beta":
        return rng.beta(p["alpha"], p["beta"], size)
    if kind == "gamma":
        shape = (p["mean"] / p["sd"]) ** 2
        return rng.gamma(shape, p["sd"] ** 2 / p["mean"], size)
    if kind == "lognormal":
        if "mu" in p:
            mu, sigma = p["mu"], p["sigma"]
        else:
            sigma = math.sqrt(math.log1p((p["sd"] / p["mean"]) ** 2))
            mu = math.log(p["mean"]) - sigma**2 / 2
        return rng.lognormal(mu, sigma, size)
    if kind == "triangular":
        return rng.triangular(p["low"], p["mode"], p["high"], size)
    if kind == "uniform":
        return rng.uniform(p["low"], p["high"], size)
    return rng.normal(p["mean"], p["sd"], size)


def _clip(parameter: Parameter, draws: Array) -> Array:
    """Keep draws inside the parameter's kind (a normal can stray below 0)."""
    if parameter.kind == "share":
        return np.clip(draws, 0.0, 1.0)
    if parameter.kind in ("count", "money", "rate", "ratio"):
        return np.maximum(draws, 0.0)
    return draws


# The Jacobs model's inputs that measure one behaviour for both viruses: HIV's and HCV's share a
# random stream, so with the same distribution they get the same draws (one city has one
# number of needles in circulation), and the uncertainty is not halved by independent draws.
SHARED_ACROSS_VIRUSES = (
    "needles",
    "sharing_share",
    "unbleached_share",
    "partners",
    "sharing_reduction",
)


def stream_name(name: str) -> str:
    module, _, rest = name.partition(".")
    if module in ("hiv", "hcv") and rest in SHARED_ACROSS_VIRUSES:
        return f"jacobs.{rest}"
    return name


def generator_for(seed: int, name: str) -> np.random.Generator:
    """The random stream of one parameter: fixed by the seed and the parameter's name, so a
    parameter's draws do not change when another parameter is added or removed."""
    key = zlib.crc32(stream_name(name).encode())
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key,)))


def _summary(values: Array) -> Summary:
    if values.ndim == 0 or values.size == 1 or bool(np.all(values == values.flat[0])):
        only = float(values.flat[0])
        return Summary(only, only, only, only)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan)
    low, median, high = np.percentile(finite, [2.5, 50.0, 97.5])
    return Summary(float(np.mean(finite)), float(median), float(low), float(high))


def _net(computed: Computed, perspective: str) -> Number:
    return np.subtract(total_benefit(computed, perspective), computed.cost)


def run_psa(preset: Preset, *, draws: int, seed: int, perspective: str = "societal") -> PSAResult:
    """The PSA of ``preset``: ``draws`` joint draws of every input with a distribution, the
    others at their value. The same seed gives the same result."""
    check_perspective(perspective)
    require(preset)
    if not 2 <= draws <= MAX_DRAWS:
        raise ParameterError(
            f"The number of PSA draws must be between 2 and {MAX_DRAWS:,}, not {draws}.",
            parameter="draws",
        )
    base = values_of(preset)
    values: dict[str, Number | None] = dict(base)
    uncertain = [
        preset.parameters[name]
        for name in preset.needed()
        if preset.parameters[name].distribution is not None
        and preset.parameters[name].value is not None
    ]

    def draw(parameter: Parameter) -> Array:
        assert parameter.distribution is not None
        rng = generator_for(seed, parameter.name)
        return _clip(parameter, sample(parameter.distribution, rng, draws))

    with ThreadPoolExecutor(WORKERS) as pool:
        drawn = dict(zip((p.name for p in uncertain), pool.map(draw, uncertain), strict=True))
        values.update(drawn)
        outputs, net = _outputs(preset, values, draws, perspective, pool)
    counts, edges = np.histogram(net, bins=HISTOGRAM_BINS)
    base_net = float(_net(compute(base, preset.options), perspective))
    return PSAResult(
        draws=draws,
        seed=seed,
        outputs=outputs,
        probability_net_benefit_positive=float(np.mean(net > 0)),
        histogram_edges=tuple(float(edge) for edge in edges),
        histogram_counts=tuple(int(count) for count in counts),
        tornado=tornado(preset, drawn, perspective=perspective),
        perspective=perspective,
        base_net_benefit=base_net,
        varied=tuple(drawn),
    )


def _outputs(
    preset: Preset,
    values: dict[str, Number | None],
    draws: int,
    perspective: str,
    pool: ThreadPoolExecutor,
) -> tuple[dict[str, Summary], Array]:
    computed = compute(values, preset.options)
    full = np.ones(draws)
    benefit = np.asarray(total_benefit(computed, perspective)) * full
    cost = np.asarray(computed.cost) * full
    net = benefit - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        bcr = np.where(cost > 0, benefit / np.where(cost > 0, cost, 1.0), np.nan)
    series: dict[str, Array] = {
        "total_benefit": benefit,
        "cost": cost,
        "net_benefit": net,
        "benefit_cost_ratio": bcr,
    }
    for spec in MODULE_SPECS:
        series[f"{spec.name}.events_averted"] = np.asarray(computed.events[spec.name])
        series[f"{spec.name}.value"] = np.asarray(computed.values[spec.name])
    summaries = pool.map(_summary, series.values())
    return dict(zip(series, summaries, strict=True)), net


def tornado(
    preset: Preset,
    drawn: dict[str, Array],
    *,
    perspective: str = "societal",
    bars: int = TORNADO_BARS,
) -> tuple[TornadoBar, ...]:
    """One-way sensitivity: each input alone at its 2.5th and 97.5th percentile (from its
    draws), or ±20% when it has no distribution, the rest at their values; the ``bars`` inputs
    that move net benefit most, largest swing first."""
    base = values_of(preset)
    found: list[TornadoBar] = []
    for name in preset.needed():
        parameter = preset.parameters[name]
        if parameter.value is None:
            continue
        if name in drawn:
            sample_draws = drawn[name][:TORNADO_QUANTILE_DRAWS]
            low, high = (float(x) for x in np.percentile(sample_draws, [2.5, 97.5]))
        else:
            low = parameter.value * (1 - NO_DISTRIBUTION_SWING)
            high = parameter.value * (1 + NO_DISTRIBUTION_SWING)
            if parameter.kind == "share":
                high = min(high, 1.0)
        if low == high:
            continue
        values: dict[str, Number | None] = dict(base)
        values[name] = np.array([low, high])
        net = np.asarray(_net(compute(values, preset.options), perspective)) * np.ones(2)
        found.append(TornadoBar(name, parameter.label, low, high, float(net[0]), float(net[1])))
    found.sort(key=lambda bar: (-bar.swing, bar.parameter))
    return tuple(found[:bars])
