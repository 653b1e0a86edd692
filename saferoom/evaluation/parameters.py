"""Parameters and presets of the evaluation engine: every input with its unit, kind, source and
distribution, loaded from the TOML files in ``presets/`` and validated. Pure Python: no Django.

A parameter's *definition* (label, unit, kind, module) lives once, in :data:`CATALOGUE`; a
preset file gives its value, source, money year and distribution, and is refused when it
disagrees with the catalogue."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

KINDS = ("share", "count", "money", "rate", "ratio", "number")
DISTRIBUTIONS = ("beta", "lognormal", "gamma", "triangular", "uniform", "normal")
MODULES = ("site", "hiv", "hcv", "ssti", "deaths", "emergency", "treatment", "cost")

# Choices a preset (or a user) makes between published formulas. The first value is the default.
OPTIONS: dict[str, tuple[str, ...]] = {
    # Overdose deaths: Marshall 2011 area-based, or Milloy 2008 event-based.
    "deaths_estimator": ("area", "event"),
    # A death averted is worth a productivity annuity, a value of a prevented fatality, or
    # nothing (the health system does not pay for a death).
    "death_value": ("productivity", "vpf", "zero"),
    # Hospital admissions averted as a share of overdoses (Irwin) or of ED visits (ICER).
    "admissions_basis": ("overdoses", "ed"),
    # "modelled": on-site events from injections × rates (a hypothetical site);
    # "observed": the site's own recorded counts (a running trial, ``uk-site``).
    "site_counts": ("modelled", "observed"),
    # The operating cost entered, or a reference site's cost × a cost-of-living ratio (ICER).
    "cost_basis": ("entered", "reference"),
    # ICER lists a syringe-programme comparator cost; "subtract" counts the site's cost net of it.
    "comparator": ("ignore", "subtract"),
    # The Jacobs model's uninfected share I: "complement" is I = 1 − q (every published use),
    # so the two never disagree in a PSA draw; "given" reads hiv/hcv.uninfected_share.
    "uninfected": ("complement", "given"),
}


@dataclass(frozen=True)
class Spec:
    """The definition of one parameter: what it is, not what it is worth."""

    name: str
    label: str
    unit: str
    kind: str
    optional: bool = False  # may stay empty (the Pinkerton guard's inputs)
    units: tuple[str, ...] = ()  # other accepted units (area in square feet or square metres)

    @property
    def module(self) -> str:
        return self.name.split(".", 1)[0]


def _s(name: str, label: str, unit: str, kind: str, **extra: Any) -> Spec:
    return Spec(name, label, unit, kind, **extra)


def _jacobs(prefix: str, virus: str) -> list[Spec]:
    return [
        _s(
            f"{prefix}.uninfected_share",
            f"Share of PWID not infected with {virus} (I)",
            "share",
            "share",
        ),
        _s(f"{prefix}.prevalence", f"Share of PWID infected with {virus} (q)", "share", "share"),
        _s(f"{prefix}.needles", "Needles in circulation a year (N)", "needles per year", "count"),
        _s(
            f"{prefix}.sharing_share",
            "Share of injections with a needle already used by someone else (s)",
            "share",
            "share",
        ),
        _s(
            f"{prefix}.unbleached_share",
            "Share of shared needles not bleached (d)",
            "share",
            "share",
        ),
        _s(
            f"{prefix}.transmission_probability",
            f"{virus} infection probability per injection with an infected needle (t)",
            "probability",
            "share",
        ),
        _s(f"{prefix}.partners", "Sharing partners per shared injection (m)", "partners", "count"),
        _s(
            f"{prefix}.sharing_reduction",
            "Reduction in sharing among site clients (n = 1 − odds ratio)",
            "share",
            "share",
        ),
        _s(f"{prefix}.lifetime_cost", f"Lifetime {virus} treatment cost", "money", "money"),
        _s(
            f"{prefix}.observed_incidence",
            f"Observed new {virus} infections a year among local PWID (Pinkerton guard)",
            "infections per year",
            "count",
            optional=True,
        ),
        _s(
            f"{prefix}.sharing_attributable_share",
            f"Share of new {virus} infections attributable to sharing (Pinkerton guard)",
            "share",
            "share",
            optional=True,
        ),
    ]


CATALOGUE_SPECS: list[Spec] = [
    _s("site.unique_clients", "Unique clients of the site a year (C)", "people", "count"),
    _s("site.pwid", "People who inject drugs in the area (T, P)", "people", "count"),
    _s("site.injecting_episodes", "Supervised injections a year", "per year", "count"),
    _s(
        "site.overdoses",
        "Overdoses and medical emergencies on site a year (S1)",
        "per year",
        "count",
    ),
    _s("site.naloxone", "Overdoses on site needing naloxone a year (S3)", "per year", "count"),
    _s("site.ambulance", "Ambulances called to the site a year (S5)", "per year", "count"),
    _s(
        "site.hospital_transfers",
        "Transfers from the site to hospital a year (S6)",
        "per year",
        "count",
    ),
    _s("site.treatment_referrals", "Referrals to drug treatment a year (E2)", "per year", "count"),
    *_jacobs("hiv", "HIV"),
    *_jacobs("hcv", "HCV"),
    _s(
        "ssti.hospitalisation_rate",
        "SSTI hospitalisations per PWID a year (h)",
        "per person a year",
        "share",
    ),
    _s(
        "ssti.reduction",
        "Reduction in SSTI hospitalisation among site clients (r)",
        "share",
        "share",
    ),
    _s("ssti.length_of_stay", "Length of an SSTI hospital stay (L)", "days", "count"),
    _s("ssti.bed_day_cost", "Cost of a hospital bed-day", "money", "money"),
    _s(
        "deaths.reduction_within",
        "Fall in overdose deaths near the site (r_within)",
        "share",
        "share",
    ),
    _s("deaths.reduction_beyond", "Fall in overdose deaths elsewhere (r_beyond)", "share", "share"),
    _s(
        "deaths.catchment_share",
        "Share of the city's overdose deaths in the site's catchment (p)",
        "share",
        "share",
    ),
    _s("deaths.city_deaths", "Overdose deaths in the city a year (D)", "deaths per year", "count"),
    _s(
        "deaths.potentially_fatal_overdoses",
        "Potentially fatal overdoses managed on site a year (O_pf)",
        "per year",
        "count",
    ),
    _s("deaths.local_deaths", "Local overdose deaths a year (D_local)", "deaths per year", "count"),
    _s(
        "deaths.nonfatal_overdose_rate",
        "Non-fatal overdoses per PWID a year (o_nf)",
        "per person a year",
        "rate",
    ),
    _s("deaths.median_wage", "Median annual wage (W)", "money", "money"),
    _s("deaths.discount_rate", "Discount rate (i)", "per year", "rate"),
    _s("deaths.working_years", "Working years lost per death (Y)", "years", "count"),
    _s("deaths.vpf", "Value of a prevented fatality", "money", "money"),
    _s("emergency.overdose_rate", "Overdoses per supervised injection", "per injection", "share"),
    _s(
        "emergency.ambulance_rate_without",
        "Share of overdoses with an ambulance, without the site",
        "share",
        "share",
    ),
    _s(
        "emergency.ambulance_rate_in_site",
        "Share of overdoses with an ambulance, in the site",
        "share",
        "share",
    ),
    _s("emergency.ambulance_cost", "Cost of an ambulance call-out", "money", "money"),
    _s(
        "emergency.ed_rate_without",
        "Share of overdoses attending an emergency department, without the site",
        "share",
        "share",
    ),
    _s(
        "emergency.ed_rate_in_site",
        "Share of overdoses attending an emergency department, in the site",
        "share",
        "share",
    ),
    _s("emergency.ed_cost", "Cost of an emergency department attendance", "money", "money"),
    _s(
        "emergency.admission_rate_without",
        "Share of overdoses admitted to hospital, without the site",
        "share",
        "share",
    ),
    _s(
        "emergency.admission_rate_in_site",
        "Share of overdoses admitted to hospital, in the site",
        "share",
        "share",
    ),
    _s(
        "emergency.admission_share_of_ed",
        "Share of emergency department visits admitted to hospital",
        "share",
        "share",
    ),
    _s("emergency.admission_cost", "Cost of an overdose hospital admission", "money", "money"),
    _s(
        "treatment.referral_rate",
        "Share of clients entering treatment through site referral (r)",
        "share",
        "share",
    ),
    _s(
        "treatment.referral_entry_share",
        "Share of referrals to drug treatment that start treatment",
        "share",
        "share",
    ),
    _s(
        "treatment.retention_share", "Share of entrants retained in treatment (f)", "share", "share"
    ),
    _s("treatment.annual_cost", "Annual cost of treatment per person", "money", "money"),
    _s(
        "treatment.benefit_cost_ratio",
        "Benefit–cost ratio of treatment (benefit per unit spent)",
        "ratio",
        "ratio",
    ),
    _s("cost.operating", "Operating cost of the site a year (C1)", "money", "money"),
    _s("cost.reference_operating", "Operating cost of a reference site a year", "money", "money"),
    _s("cost.cost_of_living_ratio", "Cost-of-living ratio to the reference site", "ratio", "ratio"),
    _s(
        "cost.space_area",
        "Space purchased",
        "square feet",
        "count",
        units=("square metres",),
    ),
    _s("cost.price_per_area", "Purchase price per unit of area", "money", "money"),
    _s("cost.loan_rate", "Loan interest rate", "per year", "rate"),
    _s("cost.loan_years", "Loan term", "years", "count"),
    _s(
        "cost.comparator",
        "Cost of the comparator (syringe programme) a year",
        "money",
        "money",
        optional=True,
    ),
]
CATALOGUE: dict[str, Spec] = {spec.name: spec for spec in CATALOGUE_SPECS}


def needed_parameters(options: Mapping[str, str]) -> list[str]:
    """The parameters the model reads under these options, in catalogue order (optional ones
    included: they are read when given)."""
    observed = options.get("site_counts") == "observed"
    needed: set[str] = {"site.unique_clients", "site.pwid"}
    for virus in ("hiv", "hcv"):
        needed |= {s.name for s in CATALOGUE_SPECS if s.module == virus}
        if options.get("uninfected") != "given":
            needed.discard(f"{virus}.uninfected_share")
    needed |= {s.name for s in CATALOGUE_SPECS if s.module == "ssti"}
    if options.get("deaths_estimator") == "event":
        needed |= {"deaths.local_deaths", "deaths.nonfatal_overdose_rate"}
        needed.add("site.naloxone" if observed else "deaths.potentially_fatal_overdoses")
    else:
        needed |= {
            "deaths.reduction_within",
            "deaths.reduction_beyond",
            "deaths.catchment_share",
            "deaths.city_deaths",
        }
    value = options.get("death_value")
    if value == "productivity":
        needed |= {"deaths.median_wage", "deaths.discount_rate", "deaths.working_years"}
    elif value == "vpf":
        needed.add("deaths.vpf")
    if observed:
        needed |= {"site.overdoses", "site.ambulance", "site.hospital_transfers"}
    else:
        needed |= {
            "site.injecting_episodes",
            "emergency.overdose_rate",
            "emergency.ambulance_rate_in_site",
            "emergency.ed_rate_in_site",
        }
    needed |= {
        "emergency.ambulance_rate_without",
        "emergency.ambulance_cost",
        "emergency.ed_rate_without",
        "emergency.ed_cost",
        "emergency.admission_cost",
    }
    if options.get("admissions_basis") == "ed":
        needed.add("emergency.admission_share_of_ed")
    else:
        needed |= {"emergency.admission_rate_without", "emergency.admission_rate_in_site"}
    needed |= {"treatment.retention_share", "treatment.annual_cost", "treatment.benefit_cost_ratio"}
    needed |= (
        {"site.treatment_referrals", "treatment.referral_entry_share"}
        if observed
        else {"treatment.referral_rate"}
    )
    if options.get("cost_basis") == "reference":
        needed |= {"cost.reference_operating", "cost.cost_of_living_ratio"}
    else:
        needed.add("cost.operating")
    needed |= {"cost.space_area", "cost.price_per_area", "cost.loan_rate", "cost.loan_years"}
    if options.get("comparator") == "subtract":
        needed.add("cost.comparator")
    return [spec.name for spec in CATALOGUE_SPECS if spec.name in needed]


class ParameterError(ValueError):
    """An input refused or missing. The message names the parameter; ``parameter`` holds it."""

    def __init__(self, message: str, *, parameter: str = "", missing: bool = False) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.missing = missing  # True: a required input without a value (not a bad value)


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Distribution:
    """The uncertainty of one input, for the probabilistic sensitivity analysis."""

    kind: str
    params: dict[str, float]

    def describe(self) -> str:
        p = self.params
        if self.kind == "beta":
            return f"Beta(α={_fmt(p['alpha'])}, β={_fmt(p['beta'])})"
        if self.kind == "lognormal":
            if "mu" in p:
                return f"LogNormal(μ={_fmt(p['mu'])}, σ={_fmt(p['sigma'])})"
            return f"LogNormal(mean={_fmt(p['mean'])}, sd={_fmt(p['sd'])})"
        if self.kind == "gamma":
            return f"Gamma(mean={_fmt(p['mean'])}, sd={_fmt(p['sd'])})"
        if self.kind == "triangular":
            return f"Triangular({_fmt(p['low'])}, {_fmt(p['mode'])}, {_fmt(p['high'])})"
        if self.kind == "uniform":
            return f"Uniform({_fmt(p['low'])}, {_fmt(p['high'])})"
        return f"Normal(mean={_fmt(p['mean'])}, sd={_fmt(p['sd'])})"

    def mean(self) -> float:
        p = self.params
        if self.kind == "beta":
            return p["alpha"] / (p["alpha"] + p["beta"])
        if self.kind == "lognormal" and "mu" in p:
            return math.exp(p["mu"] + p["sigma"] ** 2 / 2)
        if self.kind == "triangular":
            return (p["low"] + p["mode"] + p["high"]) / 3
        if self.kind == "uniform":
            return (p["low"] + p["high"]) / 2
        return p["mean"]

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take."""
        p = self.params
        if self.kind == "beta":
            return 0.0, 1.0
        if self.kind in ("lognormal", "gamma"):
            return 0.0, math.inf
        if self.kind in ("triangular", "uniform"):
            return p["low"], p["high"]
        return -math.inf, math.inf


_DISTRIBUTION_PARAMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "beta": (("alpha", "beta"),),
    "lognormal": (("mu", "sigma"), ("mean", "sd")),
    "gamma": (("mean", "sd"),),
    "triangular": (("low", "mode", "high"),),
    "uniform": (("low", "high"),),
    "normal": (("mean", "sd"),),
}


def make_distribution(name: str, kind: str, params: Mapping[str, Any]) -> Distribution:
    """A validated :class:`Distribution` for the parameter ``name``."""
    if kind not in DISTRIBUTIONS:
        raise ParameterError(
            f"{name}: unknown distribution {kind!r} (use one of {', '.join(DISTRIBUTIONS)}).",
            parameter=name,
        )
    keys = set(params)
    shapes = _DISTRIBUTION_PARAMS[kind]
    if not any(keys == set(shape) for shape in shapes):
        wanted = " or ".join("{" + ", ".join(shape) + "}" for shape in shapes)
        raise ParameterError(
            f"{name}: a {kind} distribution takes {wanted}, not {{{', '.join(sorted(keys))}}}.",
            parameter=name,
        )
    values = {key: _number(name, f"distribution {key}", params[key]) for key in params}
    positive = {"alpha", "beta", "sigma", "sd"}
    if kind in ("gamma", "lognormal") and "mean" in values:
        positive.add("mean")
    for key in sorted(positive & set(values)):
        if values[key] <= 0:
            raise ParameterError(
                f"{name}: the {kind} distribution's {key} must be above 0.", parameter=name
            )
    if kind == "triangular" and not values["low"] <= values["mode"] <= values["high"]:
        raise ParameterError(f"{name}: a triangular needs low ≤ mode ≤ high.", parameter=name)
    if kind in ("triangular", "uniform") and not values["low"] < values["high"]:
        raise ParameterError(f"{name}: the range needs low < high.", parameter=name)
    return Distribution(kind, values)


@dataclass(frozen=True)
class Parameter:
    """One input of a preset: its definition (from :data:`CATALOGUE`) and its value."""

    name: str
    module: str
    label: str
    unit: str
    value: float | None
    source: str
    kind: str
    currency: str | None = None
    price_year: int | None = None
    distribution: Distribution | None = None
    optional: bool = False


@dataclass(frozen=True)
class Preset:
    """A named set of parameters and options with the publication they come from."""

    name: str
    title: str
    description: str
    citation: str
    currency: str
    price_year: int
    parameters: dict[str, Parameter]
    options: dict[str, str] = field(default_factory=dict)

    def needed(self) -> list[str]:
        """The parameters the model reads under this preset's options."""
        return needed_parameters(self.options)

    def missing(self) -> list[str]:
        """Names of required inputs still without a value, in display order."""
        return [
            name
            for name in self.needed()
            if not self.parameters[name].optional and self.parameters[name].value is None
        ]

    def modules(self) -> list[str]:
        present = {p.module for p in self.parameters.values()}
        return [m for m in MODULES if m in present]

    def value(self, name: str) -> float | None:
        return self.parameters[name].value


def _number(name: str, what: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise ParameterError(f"{name}: {what} must be a number, not {raw!r}.", parameter=name)
    if isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("_", "")
        try:
            number = float(text)
        except ValueError:
            raise ParameterError(
                f"{name}: {what} must be a number, not {raw!r}.", parameter=name
            ) from None
    elif isinstance(raw, int | float):
        number = float(raw)
    else:
        raise ParameterError(f"{name}: {what} must be a number, not {raw!r}.", parameter=name)
    if not math.isfinite(number):
        raise ParameterError(f"{name}: {what} must be a finite number.", parameter=name)
    return number


def check_value(name: str, raw: Any) -> float:
    """``raw`` as a float, refused with a message naming ``name`` when it is not a valid value
    of that parameter's kind."""
    spec = CATALOGUE.get(name)
    if spec is None:
        raise ParameterError(_unknown(name), parameter=name)
    value = _number(name, "the value", raw)
    label = f"{name} ({spec.label})"
    if spec.kind == "share" and not 0.0 <= value <= 1.0:
        raise ParameterError(
            f"{label} is a share and must be between 0 and 1 (write 35% as 0.35), "
            f"not {_fmt(value)}.",
            parameter=name,
        )
    if spec.kind in ("count", "money", "rate") and value < 0:
        raise ParameterError(f"{label} cannot be negative ({_fmt(value)}).", parameter=name)
    if spec.kind == "ratio" and value <= 0:
        raise ParameterError(f"{label} is a ratio and must be above 0.", parameter=name)
    return value


def _unknown(name: str) -> str:
    close = [n for n in CATALOGUE if n.split(".")[-1] == name.split(".")[-1] or n.startswith(name)]
    hint = f" Did you mean {', '.join(close[:3])}?" if close else ""
    return f"Unknown parameter {name!r}.{hint}"


# --- Preset files --------------------------------------------------------------------------------


def _presets_folder() -> Any:
    # A folder of data files inside the package (shipped as package data, not a package).
    return resources.files("saferoom.evaluation").joinpath("presets")


def preset_names() -> list[str]:
    """The presets shipped with saferoom, by name."""
    folder = _presets_folder()
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_preset(name: str) -> Preset:
    """The preset ``name``, validated. An unknown name raises :class:`ParameterError`."""
    if name not in preset_names():
        raise ParameterError(
            f"Unknown preset {name!r}: choose one of {', '.join(preset_names())}.",
            parameter=name,
        )
    text = _presets_folder().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return parse_preset(tomllib.loads(text), expected_name=name)


def parse_preset(data: Mapping[str, Any], *, expected_name: str | None = None) -> Preset:
    """A :class:`Preset` from a decoded preset file; every rule of the format is checked."""
    name = _text(data, "name", "the preset")
    if expected_name is not None and name != expected_name:
        raise ParameterError(f"Preset file {expected_name}.toml is named {name!r} inside.")
    currency = _text(data, "currency", name)
    price_year = data.get("price_year")
    if not isinstance(price_year, int):
        raise ParameterError(f"Preset {name}: price_year must be a year.")
    options = dict(data.get("options", {}))
    options = {key: str(value) for key, value in options.items()}
    for key, value in options.items():
        _check_option(key, value)
    options = {key: options.get(key, choices[0]) for key, choices in OPTIONS.items()}

    given: dict[str, Parameter] = {}
    for entry in data.get("parameter", []):
        parameter = _parameter_from_file(entry, currency=currency, price_year=price_year)
        if parameter.name in given:
            raise ParameterError(
                f"{parameter.name} appears twice in preset {name}.", parameter=parameter.name
            )
        given[parameter.name] = parameter
    preset = Preset(
        name=name,
        title=_text(data, "title", name),
        description=_text(data, "description", name),
        citation=_text(data, "citation", name),
        currency=currency,
        price_year=price_year,
        parameters=_ordered(given),
        options=options,
    )
    for needed in preset.needed():
        spec = CATALOGUE[needed]
        if needed not in given and not spec.optional:
            raise ParameterError(
                f"Preset {name} does not list {needed}, which its options need: list it, "
                "with no value if the preset cannot source it.",
                parameter=needed,
            )
    return _complete(preset)


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{where}: {key} must be given as text.")
    return value


def _parameter_from_file(entry: Mapping[str, Any], *, currency: str, price_year: int) -> Parameter:
    name = entry.get("name")
    if not isinstance(name, str):
        raise ParameterError(f"A parameter without a name: {dict(entry)!r}.")
    spec = CATALOGUE.get(name)
    if spec is None:
        raise ParameterError(_unknown(name), parameter=name)
    allowed = {"name", "value", "unit", "kind", "source", "currency", "price_year", "distribution"}
    extra = set(entry) - allowed
    if extra:
        raise ParameterError(f"{name}: unexpected keys {sorted(extra)}.", parameter=name)
    unit = entry.get("unit")
    if unit != spec.unit and unit not in spec.units:
        raise ParameterError(f"{name}: the unit is {spec.unit!r}, not {unit!r}.", parameter=name)
    if entry.get("kind") != spec.kind:
        raise ParameterError(
            f"{name}: the kind is {spec.kind!r}, not {entry.get('kind')!r}.", parameter=name
        )
    source = entry.get("source")
    if not isinstance(source, str) or len(source.strip()) < 5:
        raise ParameterError(f"{name}: every parameter needs a source.", parameter=name)
    value = check_value(name, entry["value"]) if "value" in entry else None
    money_currency = entry.get("currency")
    money_year = entry.get("price_year")
    if spec.kind == "money":
        if money_currency != currency:
            raise ParameterError(
                f"{name}: money must be in the preset's currency {currency}, "
                f"not {money_currency!r}.",
                parameter=name,
            )
        if not isinstance(money_year, int):
            raise ParameterError(f"{name}: money needs its price_year.", parameter=name)
    elif money_currency is not None or money_year is not None:
        raise ParameterError(f"{name}: only money has a currency and price year.", parameter=name)
    distribution = None
    raw = entry.get("distribution")
    if raw is not None:
        params = {key: v for key, v in dict(raw).items() if key != "kind"}
        distribution = make_distribution(name, str(raw.get("kind")), params)
        _check_distribution_fits(spec, distribution)
    return Parameter(
        name=name,
        module=spec.module,
        label=spec.label,
        unit=str(unit),
        value=value,
        source=source,
        kind=spec.kind,
        currency=money_currency,
        price_year=money_year,
        distribution=distribution,
        optional=spec.optional,
    )


def _check_distribution_fits(spec: Spec, distribution: Distribution) -> None:
    low, high = distribution.support()
    if spec.kind == "share" and (low < 0 or high > 1):
        raise ParameterError(
            f"{spec.name} is a share: its distribution must stay within 0..1 (use a Beta).",
            parameter=spec.name,
        )
    if spec.kind in ("count", "money", "rate", "ratio") and low < 0:
        raise ParameterError(
            f"{spec.name} cannot be negative: its distribution must stay at or above 0 "
            "(use a Gamma, log-normal, triangular or uniform).",
            parameter=spec.name,
        )


def _ordered(parameters: Mapping[str, Parameter]) -> dict[str, Parameter]:
    order = {module: i for i, module in enumerate(MODULES)}
    position = {name: i for i, name in enumerate(parameters)}
    names = sorted(parameters, key=lambda n: (order[parameters[n].module], position[n]))
    return {name: parameters[name] for name in names}


def _blank(name: str, preset: Preset) -> Parameter:
    spec = CATALOGUE[name]
    money = spec.kind == "money"
    source = (
        "Optional: give it to apply the guard."
        if spec.optional
        else f"Not sourced by the {preset.name} preset: a required input."
    )
    return Parameter(
        name=name,
        module=spec.module,
        label=spec.label,
        unit=spec.unit,
        value=None,
        source=source,
        kind=spec.kind,
        currency=preset.currency if money else None,
        price_year=preset.price_year if money else None,
        optional=spec.optional,
    )


def _complete(preset: Preset) -> Preset:
    """Add an empty entry for every parameter the options need that the preset lacks, so
    that it can be shown, set and reported as missing."""
    parameters = dict(preset.parameters)
    for name in preset.needed():
        if name not in parameters:
            parameters[name] = _blank(name, preset)
    return replace(preset, parameters=_ordered(parameters))


def _check_option(key: str, value: str) -> None:
    if key not in OPTIONS:
        raise ParameterError(f"Unknown option {key!r}.", parameter=key)
    if value not in OPTIONS[key]:
        raise ParameterError(
            f"{key} must be one of {', '.join(OPTIONS[key])}, not {value!r}.", parameter=key
        )


def with_overrides(preset: Preset, values: Mapping[str, float | str]) -> Preset:
    """A copy of ``preset`` with some parameter values (floats, or text that reads as a number)
    and options (text) replaced. Every value is validated; the first bad one raises
    :class:`ParameterError` naming it, and nothing is changed."""
    options = dict(preset.options)
    for key, raw in values.items():
        if key in OPTIONS:
            _check_option(key, str(raw).strip())
            options[key] = str(raw).strip()
    parameters = dict(preset.parameters)
    for key, raw in values.items():
        if key in OPTIONS:
            continue
        value = check_value(key, raw)
        current = parameters.get(key) or _blank(key, preset)
        parameters[key] = replace(current, value=value, source=_overridden(current, value))
    return _complete(replace(preset, parameters=_ordered(parameters), options=options))


def _overridden(parameter: Parameter, value: float) -> str:
    if parameter.value is not None and parameter.value == value:
        return parameter.source
    return f"Entered by the user (the preset: {parameter.source})"


def with_distribution(preset: Preset, name: str, distribution: Distribution | None) -> Preset:
    """A copy of ``preset`` where ``name`` has a new distribution (or none)."""
    if name not in preset.parameters:
        if name not in CATALOGUE:
            raise ParameterError(_unknown(name), parameter=name)
        preset = _complete(
            replace(preset, parameters={**preset.parameters, name: _blank(name, preset)})
        )
    if distribution is not None:
        distribution = make_distribution(name, distribution.kind, distribution.params)
        _check_distribution_fits(CATALOGUE[name], distribution)
    parameters = dict(preset.parameters)
    parameters[name] = replace(parameters[name], distribution=distribution)
    return replace(preset, parameters=parameters)


def require(preset: Preset) -> None:
    """Raise :class:`ParameterError` naming the first required input without a value."""
    missing = preset.missing()
    if missing:
        first = preset.parameters[missing[0]]
        others = (
            f" ({len(missing) - 1} more required inputs are missing too)"
            if len(missing) > 1
            else ""
        )
        raise ParameterError(
            f"{first.name} ({first.label}) is a required input without a value in preset "
            f"{preset.name}. {first.source.removeprefix('Required input: ')}{others}",
            parameter=first.name,
            missing=True,
        )
