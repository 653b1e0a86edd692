"""The evaluation model: a preset's inputs through every module to benefits, cost and net
benefit, counted in one perspective. Pure Python + NumPy: no Django.

:func:`compute` is the one implementation of the model. The deterministic :func:`evaluate`
calls it with floats; the probabilistic sensitivity analysis (``psa.py``) calls it with arrays
of draws.

**Perspectives never double count.** Every module's value belongs to exactly one perspective,
the narrowest that pays for (or gains) it: treatment costs of infections, bed-days, ambulances,
emergency departments and admissions to the *health system*; the value of a death (lost
productivity or a value of a prevented fatality) and the net benefit of treatment (mostly
crime and productivity) to *society*. The perspectives nest, ``health_system ⊂ public_sector ⊂
societal``: a total counted in a perspective adds the modules whose perspective is within it,
each once. The site's cost counts in every perspective."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from saferoom.evaluation import modules as m
from saferoom.evaluation.modules import Number
from saferoom.evaluation.parameters import ParameterError, Preset, require

PERSPECTIVES = ("health_system", "public_sector", "societal")
PERSPECTIVE_LABELS = {
    "health_system": "Health system",
    "public_sector": "Public sector",
    "societal": "Societal",
}


@dataclass(frozen=True)
class ModuleSpec:
    name: str
    label: str
    unit: str
    perspective: str


MODULE_SPECS: tuple[ModuleSpec, ...] = (
    ModuleSpec("hiv", "HIV infections averted", "infections", "health_system"),
    ModuleSpec("hcv", "HCV infections averted", "infections", "health_system"),
    ModuleSpec("ssti", "SSTI hospital days averted", "hospital days", "health_system"),
    ModuleSpec("deaths", "Overdose deaths averted", "deaths", "societal"),
    ModuleSpec("ambulance", "Ambulance call-outs averted", "call-outs", "health_system"),
    ModuleSpec("ed", "Emergency department attendances averted", "attendances", "health_system"),
    ModuleSpec("hospital", "Hospital admissions averted", "admissions", "health_system"),
    ModuleSpec(
        "treatment",
        "People retained in treatment (our reading)",
        "people retained in treatment",
        "societal",
    ),
)
MODULE_NAMES = tuple(spec.name for spec in MODULE_SPECS)


def counts_in(module_perspective: str, perspective: str) -> bool:
    """Whether a value belonging to ``module_perspective`` is counted in ``perspective``."""
    return PERSPECTIVES.index(module_perspective) <= PERSPECTIVES.index(perspective)


def check_perspective(perspective: str) -> None:
    if perspective not in PERSPECTIVES:
        raise ParameterError(
            f"Unknown perspective {perspective!r}: choose one of {', '.join(PERSPECTIVES)}.",
            parameter="perspective",
        )


@dataclass
class Computed:
    """What :func:`compute` returns: per module events averted and value, the cost and its
    parts, and the share of runs where the Pinkerton guard bound (per virus)."""

    events: dict[str, Number]
    values: dict[str, Number]
    cost: Number
    cost_parts: dict[str, Number]
    guard_bound: dict[str, Number] = field(default_factory=dict)
    unit_values: dict[str, Number] = field(default_factory=dict)


def compute(v: Mapping[str, Number | None], options: Mapping[str, str]) -> Computed:
    """The whole model on values keyed by parameter name (floats or arrays of draws)."""

    def g(name: str) -> Number:
        value = v.get(name)
        if value is None:
            raise ParameterError(f"{name} has no value.", parameter=name)
        return value

    observed = options.get("site_counts") == "observed"
    events: dict[str, Number] = {}
    values: dict[str, Number] = {}
    guard: dict[str, Number] = {}
    unit_values: dict[str, Number] = {}
    clients, pwid = g("site.unique_clients"), g("site.pwid")

    for virus in ("hiv", "hcv"):
        prevalence = g(f"{virus}.prevalence")
        if options.get("uninfected") == "given":
            uninfected = g(f"{virus}.uninfected_share")
        else:
            uninfected = m._out(np.subtract(1.0, prevalence))
        new = m.jacobs_new_infections(
            uninfected,
            g(f"{virus}.needles"),
            g(f"{virus}.sharing_share"),
            g(f"{virus}.unbleached_share"),
            prevalence,
            g(f"{virus}.transmission_probability"),
            g(f"{virus}.partners"),
        )
        averted = m.jacobs_averted(new, clients, pwid, g(f"{virus}.sharing_reduction"))
        incidence = v.get(f"{virus}.observed_incidence")
        attributable = v.get(f"{virus}.sharing_attributable_share")
        if incidence is not None and attributable is not None:
            averted, guard[virus] = m.pinkerton_cap(averted, incidence, attributable)
        events[virus] = averted
        unit_values[virus] = g(f"{virus}.lifetime_cost")
        values[virus] = m.value(averted, unit_values[virus])

    events["ssti"] = m.ssti_days_averted(
        clients, g("ssti.hospitalisation_rate"), g("ssti.reduction"), g("ssti.length_of_stay")
    )
    unit_values["ssti"] = g("ssti.bed_day_cost")
    values["ssti"] = m.value(events["ssti"], unit_values["ssti"])

    if options.get("deaths_estimator") == "event":
        potentially_fatal = (
            g("site.naloxone") if observed else g("deaths.potentially_fatal_overdoses")
        )
        events["deaths"] = m.deaths_event_based(
            potentially_fatal, g("deaths.local_deaths"), pwid, g("deaths.nonfatal_overdose_rate")
        )
    else:
        events["deaths"] = m.deaths_area_based(
            g("deaths.reduction_within"),
            g("deaths.reduction_beyond"),
            g("deaths.catchment_share"),
            g("deaths.city_deaths"),
        )
    death_value = options.get("death_value")
    if death_value == "productivity":
        per_death = m.productivity_value(
            g("deaths.median_wage"), g("deaths.discount_rate"), g("deaths.working_years")
        )
    elif death_value == "vpf":
        per_death = g("deaths.vpf")
    else:
        per_death = 0.0
    unit_values["deaths"] = per_death
    values["deaths"] = m.value(events["deaths"], per_death)

    if observed:
        overdoses = g("site.overdoses")
        events["ambulance"] = m.service_averted_observed(
            overdoses, g("emergency.ambulance_rate_without"), g("site.ambulance")
        )
        events["ed"] = m.service_averted_observed(
            overdoses, g("emergency.ed_rate_without"), g("site.hospital_transfers")
        )
    else:
        overdoses = m.overdoses_on_site(g("site.injecting_episodes"), g("emergency.overdose_rate"))
        events["ambulance"] = m.service_averted(
            overdoses, g("emergency.ambulance_rate_without"), g("emergency.ambulance_rate_in_site")
        )
        events["ed"] = m.service_averted(
            overdoses, g("emergency.ed_rate_without"), g("emergency.ed_rate_in_site")
        )
    if options.get("admissions_basis") == "ed":
        events["hospital"] = m.admissions_from_ed(
            events["ed"], g("emergency.admission_share_of_ed")
        )
    else:
        events["hospital"] = m.service_averted(
            overdoses,
            g("emergency.admission_rate_without"),
            g("emergency.admission_rate_in_site"),
        )
    for module, cost_name in (
        ("ambulance", "emergency.ambulance_cost"),
        ("ed", "emergency.ed_cost"),
        ("hospital", "emergency.admission_cost"),
    ):
        unit_values[module] = g(cost_name)
        values[module] = m.value(events[module], unit_values[module])

    if observed:
        entrants = m.value(g("site.treatment_referrals"), g("treatment.referral_entry_share"))
    else:
        entrants = m.value(clients, g("treatment.referral_rate"))
    events["treatment"] = m.treatment_retained(entrants, g("treatment.retention_share"))
    values["treatment"] = m.treatment_value(
        events["treatment"], g("treatment.annual_cost"), g("treatment.benefit_cost_ratio")
    )

    if options.get("cost_basis") == "reference":
        operating = m.value(g("cost.reference_operating"), g("cost.cost_of_living_ratio"))
    else:
        operating = g("cost.operating")
    space = m.loan_payment(
        m.value(g("cost.space_area"), g("cost.price_per_area")),
        g("cost.loan_rate"),
        g("cost.loan_years"),
    )
    parts: dict[str, Number] = {"operating": operating, "space_annuity": space}
    cost = m._out(np.add(operating, space))
    if options.get("comparator") == "subtract":
        parts["comparator"] = m._out(np.negative(g("cost.comparator")))
        cost = m._out(np.add(cost, parts["comparator"]))
    return Computed(events, values, cost, parts, guard, unit_values)


def total_benefit(computed: Computed, perspective: str) -> Number:
    """The sum of the module values counted in ``perspective`` (see the module docstring)."""
    total: Number = 0.0
    for spec in MODULE_SPECS:
        if counts_in(spec.perspective, perspective):
            total = m._out(np.add(total, computed.values[spec.name]))
    return total


@dataclass(frozen=True)
class ModuleResult:
    name: str
    label: str
    events_averted: float
    unit: str
    value: float
    perspective: str
    notes: tuple[str, ...] = ()
    counted: bool = True  # whether the value is in the totals of the result's perspective

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "events_averted": self.events_averted,
            "unit": self.unit,
            "value": self.value,
            "perspective": self.perspective,
            "counted": self.counted,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Result:
    preset: str
    currency: str
    price_year: int
    perspective: str
    modules: tuple[ModuleResult, ...]
    total_benefit: float
    cost: float
    net_benefit: float
    benefit_cost_ratio: float | None
    cost_parts: dict[str, float] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    def module(self, name: str) -> ModuleResult:
        return next(result for result in self.modules if result.name == name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of ``saferoom evaluate --format json`` (docs/evaluation.md)."""
        return {
            "preset": self.preset,
            "currency": self.currency,
            "price_year": self.price_year,
            "perspective": self.perspective,
            "options": dict(self.options),
            "modules": [module.to_dict() for module in self.modules],
            "total_benefit": self.total_benefit,
            "cost": self.cost,
            "cost_parts": dict(self.cost_parts),
            "net_benefit": self.net_benefit,
            "benefit_cost_ratio": self.benefit_cost_ratio,
        }


def values_of(preset: Preset) -> dict[str, float | None]:
    return {name: parameter.value for name, parameter in preset.parameters.items()}


def ratio(benefit: float, cost: float) -> float | None:
    return benefit / cost if cost > 0 else None


def _notes(
    name: str, computed: Computed, options: Mapping[str, str], currency: str
) -> tuple[str, ...]:
    notes: list[str] = []
    if name in computed.guard_bound and float(np.mean(computed.guard_bound[name])) > 0:
        notes.append(
            "Pinkerton guard bound: infections averted capped at the observed incidence × "
            "the share attributable to sharing."
        )
    if name == "deaths":
        value = options.get("death_value")
        if value == "zero":
            notes.append("Deaths counted but not valued (death_value = zero).")
        elif value == "productivity":
            per = float(np.mean(computed.unit_values["deaths"]))
            notes.append(f"Valued by lost productivity: {per:,.0f} {currency} per death.")
        else:
            notes.append("Valued by a value of a prevented fatality.")
        estimator = options.get("deaths_estimator")
        notes.append(
            "Event-based estimator (Milloy et al. 2008)."
            if estimator == "event"
            else "Area-based estimator (Marshall et al. 2011)."
        )
    if name == "treatment":
        notes.append(
            "Our reading: retained × annual treatment cost × (benefit–cost ratio − 1); "
            "the paper's own valuation is not available to us."
        )
    if name == "hospital" and options.get("admissions_basis") == "ed":
        notes.append("Admissions as a share of emergency department visits averted (ICER).")
    if name in ("ambulance", "ed") and options.get("site_counts") == "observed":
        notes.append("In-site count observed by the site; the rate without a site is assumed.")
    return tuple(notes)


def evaluate(preset: Preset, *, perspective: str = "societal") -> Result:
    """The deterministic run of ``preset``. Raises :class:`ParameterError` naming the first
    required input without a value, or an unknown perspective."""
    check_perspective(perspective)
    require(preset)
    computed = compute(values_of(preset), preset.options)
    results = []
    for spec in MODULE_SPECS:
        results.append(
            ModuleResult(
                name=spec.name,
                label=spec.label,
                events_averted=float(computed.events[spec.name]),
                unit=spec.unit,
                value=float(computed.values[spec.name]),
                perspective=spec.perspective,
                notes=_notes(spec.name, computed, preset.options, preset.currency),
                counted=counts_in(spec.perspective, perspective),
            )
        )
    benefit = float(total_benefit(computed, perspective))
    cost = float(computed.cost)
    return Result(
        preset=preset.name,
        currency=preset.currency,
        price_year=preset.price_year,
        perspective=perspective,
        modules=tuple(results),
        total_benefit=benefit,
        cost=cost,
        net_benefit=benefit - cost,
        benefit_cost_ratio=ratio(benefit, cost),
        cost_parts={key: float(value) for key, value in computed.cost_parts.items()},
        options=dict(preset.options),
    )
