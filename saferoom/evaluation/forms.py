"""Forms of the evaluation pages: the inputs of a cost–benefit run (every parameter of the
chosen preset, its options, the perspective and the PSA settings) and of a capacity plan.

The engine is the one judge of a parameter: a value typed here goes to ``with_overrides`` and
the engine's ``ParameterError`` is shown next to the field it names. Nothing runs while any
field is wrong. A run's inputs travel in its address (GET; they are not personal data), so it
can be bookmarked, sent to a colleague or attached to a council paper; the long cost–benefit
form is posted once and redirected to that address."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.evaluation.capacity import parse_open_hours
from saferoom.evaluation.model import PERSPECTIVES
from saferoom.evaluation.parameters import (
    OPTIONS,
    Distribution,
    Parameter,
    ParameterError,
    Preset,
    with_distribution,
    with_overrides,
)
from saferoom.reports.periods import EXAMPLES as PERIOD_EXAMPLES
from saferoom.reports.periods import Period, PeriodError, parse_period
from saferoom.sites.models import Site

MAX_DRAWS = 100_000
MIN_DRAWS = 100
DEFAULT_DRAWS = 10_000
MAX_SEED = 2**31 - 1
MAX_DAYS = 365
MAX_PERIOD_DAYS = 366

# The site's own data: the preset that takes a site's recorded counts (see the design page).
SITE_DATA_PRESET = "uk-site"

PERSPECTIVE_LABELS = {
    "health_system": gettext_lazy("Health system"),
    "public_sector": gettext_lazy("Public sector"),
    "societal": gettext_lazy("Societal"),
}
PERSPECTIVE_HELP = {
    "health_system": gettext_lazy("Only what the health service saves."),
    "public_sector": gettext_lazy("What the health service and other public bodies save."),
    "societal": gettext_lazy("Everything, including lives valued by the chosen method."),
}

MODULE_LABELS = {
    "site": gettext_lazy("The site"),
    "hiv": gettext_lazy("HIV infections"),
    "hcv": gettext_lazy("Hepatitis C infections"),
    "ssti": gettext_lazy("Skin and soft-tissue infections"),
    "deaths": gettext_lazy("Overdose deaths"),
    "emergency": gettext_lazy("Emergency care"),
    "treatment": gettext_lazy("Treatment entry"),
    "cost": gettext_lazy("Facility cost"),
    "options": gettext_lazy("Methods"),
}

# Words for the choices of each preset option (the engine's OPTIONS list the values). A value
# without words here is shown as it is, so a new engine option never breaks the page.
OPTION_VALUE_LABELS: dict[str, Any] = {
    "deaths_estimator.area": gettext_lazy("Area-based (Marshall et al. 2011)"),
    "deaths_estimator.event": gettext_lazy("Event-based (Milloy et al. 2008)"),
    "death_value.productivity": gettext_lazy("Lost productivity (Irwin et al. 2017)"),
    "death_value.vpf": gettext_lazy("Value of a prevented fatality"),
    "death_value.zero": gettext_lazy("Not valued (health-system view)"),
    "admissions_basis.overdoses": gettext_lazy("A share of overdoses (Irwin et al. 2017)"),
    "admissions_basis.ed": gettext_lazy("A share of emergency department visits (ICER 2021)"),
    "site_counts.modelled": gettext_lazy("Modelled from injections and rates (a planned site)"),
    "site_counts.observed": gettext_lazy("The site's own recorded counts (a running site)"),
    "cost_basis.entered": gettext_lazy("The operating cost entered"),
    "cost_basis.reference": gettext_lazy("A reference site's cost × a cost-of-living ratio"),
    "comparator.ignore": gettext_lazy("Not subtracted"),
    "comparator.subtract": gettext_lazy("Subtract the syringe-programme comparator cost"),
}
OPTION_LABELS = {
    "deaths_estimator": gettext_lazy("How overdose deaths averted are estimated"),
    "death_value": gettext_lazy("How a death averted is valued"),
    "admissions_basis": gettext_lazy("Hospital admissions are counted as"),
    "site_counts": gettext_lazy("Events on site"),
    "cost_basis": gettext_lazy("Operating cost"),
    "comparator": gettext_lazy("Comparator cost"),
}


def option_choices(option: str, current: str) -> list[tuple[str, Any]]:
    values = list(OPTIONS.get(option, ()))
    if current not in values:
        values.append(current)
    return [(v, OPTION_VALUE_LABELS.get(f"{option}.{v}", v)) for v in values]


def options_from_query(base: Preset, data: Mapping[str, Any]) -> Preset:
    """``base`` with the methods chosen in the query applied (the inputs a method needs depend
    on it). A value the engine refuses is left out here; the form reports it."""
    preset = base
    for option in base.options:
        value = data.get(option)
        if isinstance(value, str) and value and value != preset.options[option]:
            try:
                preset = with_overrides(preset, {option: value})
            except ParameterError:
                continue
    return preset


KIND_UNITS = {
    "share": gettext_lazy("share, 0 to 1"),
    "count": gettext_lazy("count"),
    "rate": gettext_lazy("rate"),
    "ratio": gettext_lazy("ratio"),
}


def module_label(module: str) -> str:
    return str(MODULE_LABELS.get(module, module.replace("_", " ").capitalize()))


def input_text(value: float | None) -> str:
    """A parameter value as a person would type it: 1600000, 0.0067, 68219."""
    if value is None:
        return ""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def parse_number(raw: str) -> float | str:
    """The number typed, or the text itself for the engine to refuse by name. Thousands
    separators and spaces are allowed ("1,600,000")."""
    cleaned = raw.strip().replace(",", "").replace("_", "").replace(" ", "")
    try:
        value = float(cleaned)
    except ValueError:
        return raw.strip()
    return value if math.isfinite(value) else raw.strip()


def unit_text(parameter: Parameter) -> str:
    """The unit shown beside an input: "money (USD, 2017 prices)", "share, 0 to 1"."""
    if parameter.kind == "money":
        currency = parameter.currency or ""
        if parameter.price_year:
            return _("%(currency)s, %(year)s prices") % {
                "currency": currency,
                "year": parameter.price_year,
            }
        return currency or _("money")
    if parameter.unit and parameter.unit not in ("share", "count", "rate", "ratio", "number"):
        return parameter.unit
    return str(KIND_UNITS.get(parameter.kind, parameter.unit))


def _mean(distribution: Distribution) -> float | None:
    mean = getattr(distribution, "mean", None)
    try:
        return float(mean()) if callable(mean) else None
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def recentred(distribution: Distribution, old: float | None, new: float) -> Distribution | None:
    """``distribution`` moved to centre on a value the user typed instead of ``old``, keeping
    its shape and relative spread (a Beta keeps its α + β; a Gamma, log-normal, triangular or
    uniform is scaled by new/old; a normal is shifted). None when it cannot be moved (a share
    typed as exactly 0 or 1, or an old value of 0): the input is then fixed in the PSA."""
    p = distribution.params
    kind = distribution.kind
    if kind == "beta":
        concentration = p["alpha"] + p["beta"]
        if not 0 < new < 1:
            return None
        return Distribution(
            "beta", {"alpha": new * concentration, "beta": (1 - new) * concentration}
        )
    if kind == "normal":
        centre = _mean(distribution)
        if centre is None:
            return None
        return Distribution("normal", {"mean": new, "sd": p["sd"]})
    centre = _mean(distribution) if old is None else old
    if not centre or new <= 0 or centre <= 0:
        return None
    factor = new / centre
    if kind == "lognormal" and "mu" in p:
        return Distribution("lognormal", {"mu": p["mu"] + math.log(factor), "sigma": p["sigma"]})
    if kind in ("lognormal", "gamma", "triangular", "uniform"):
        return Distribution(kind, {key: value * factor for key, value in p.items()})
    return None


def follow_changes(scenario: Preset, changed: list[str], base: Preset) -> Preset:
    """The PSA draws an input from its distribution: an input the user changed must have its
    distribution moved to the new value, or the uncertainty would ignore the change. (The
    engine keeps a preset's distribution as it is; this is the pages' rule, said on the page.)
    A distribution the engine already centres on the new value is left alone."""
    for name in changed:
        parameter = scenario.parameters.get(name)
        if parameter is None or parameter.distribution is None or parameter.value is None:
            continue
        centre = _mean(parameter.distribution)
        if centre is not None and math.isclose(centre, parameter.value, rel_tol=1e-6):
            continue
        published = base.parameters.get(name)
        moved = recentred(
            parameter.distribution, published.value if published else None, parameter.value
        )
        try:
            scenario = with_distribution(scenario, name, moved)
        except ParameterError:
            scenario = with_distribution(scenario, name, None)
    return scenario


# A distribution is typed as the engine writes it: "Beta(α=12, β=5)", "Gamma(mean=100, sd=20)",
# "LogNormal(μ=0, σ=0.5)", "Triangular(1, 2, 3)", "Uniform(1, 3)", "Normal(mean=0, sd=1)"; Greek
# letters or their names, named or in this order; "fixed" for none.
DIST_PREFIX = "dist."
FIXED_WORDS = ("", "fixed", "none", "—", "-")
_DIST_SHAPE = re.compile(r"^\s*([A-Za-z-]+)\s*\((.*)\)\s*$")
_DIST_ORDER = {
    "beta": ("alpha", "beta"),
    "gamma": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "triangular": ("low", "mode", "high"),
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
}
_DIST_KEYS = {"α": "alpha", "β": "beta", "μ": "mu", "σ": "sigma", "a": "alpha", "b": "beta"}
DIST_HELP = gettext_lazy(
    "Write it like Beta(α=12, β=5), Gamma(mean=100, sd=20), LogNormal(mean=1, sd=0.2), "
    "Triangular(low, mode, high), Uniform(low, high) or Normal(mean=0, sd=1); "
    "'fixed' for none. Numbers without thousands separators (1800000 or 1.8e6)."
)


def distribution_text(distribution: Distribution | None) -> str:
    return distribution.describe() if distribution is not None else "fixed"


def parse_distribution(text: str) -> Distribution | None:
    """What a person typed as a distribution; ValueError with a clear message otherwise. The
    engine then checks that it fits the input (``with_distribution``)."""
    if text.strip().lower() in FIXED_WORDS:
        return None
    match = _DIST_SHAPE.match(text)
    kind = match.group(1).lower().replace("-", "") if match else ""
    if not match or kind not in _DIST_ORDER:
        raise ValueError(_("Cannot read this distribution. %(help)s") % {"help": DIST_HELP})
    params: dict[str, float] = {}
    parts = [part.strip() for part in match.group(2).split(",") if part.strip()]
    for index, part in enumerate(parts):
        if "=" in part:
            key, raw = (piece.strip() for piece in part.split("=", 1))
            key = _DIST_KEYS.get(key, key.lower())
        elif index < len(_DIST_ORDER[kind]):
            key, raw = _DIST_ORDER[kind][index], part
        else:
            raise ValueError(
                _("Too many numbers for this distribution. %(help)s") % {"help": DIST_HELP}
            )
        try:
            params[key] = float(raw)
        except ValueError:
            raise ValueError(
                _("%(raw)s is not a number. %(help)s") % {"raw": raw, "help": DIST_HELP}
            ) from None
    return Distribution(kind, params)


def preset_choices(names: list[str], titles: Mapping[str, str]) -> list[tuple[str, str]]:
    choices = []
    for name in names:
        title = titles.get(name, name)
        if name == SITE_DATA_PRESET:
            title = _("This site's own data (%(title)s)") % {"title": title}
        choices.append((name, title))
    return choices


class PresetChoiceForm(forms.Form):
    """Which published model (or the site's own data) to start from."""

    preset = forms.ChoiceField(label=gettext_lazy("Start from"))

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["preset"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class SiteFillForm(forms.Form):
    """Whose reports, for which period, fill the site's own data (``uk-site``): one of the
    sites the user may evaluate, and a period written as ``saferoom report --period`` takes it,
    in that site's calendar. Both travel in the run's address (a slug and a period are not
    personal data)."""

    from_site = forms.ChoiceField(
        label=gettext_lazy("Site"),
        error_messages={
            "required": gettext_lazy("Choose the site whose reports fill the inputs."),
            "invalid_choice": gettext_lazy(
                "Choose one of the sites listed: the inputs can be filled only from the "
                "reports of a site you may evaluate."
            ),
        },
    )
    period = forms.CharField(
        label=gettext_lazy("Period"),
        max_length=40,
        help_text=gettext_lazy(
            "A month (2026-03), quarter (2026-Q1), year (2026), week (2026-W11) or any range "
            "of days (2026-01-01..2026-06-30), in the site's calendar: at most a year, and "
            "already over."
        ),
        error_messages={"required": gettext_lazy("Enter the period of the reports.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, sites: list[Site], current: Site
    ) -> None:
        super().__init__(data, initial={"from_site": current.slug})
        self.sites = {site.slug: site for site in sites}
        field = self.fields["from_site"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(site.slug, site.name) for site in sites]
        last_month = (timezone.localdate(timezone=current.tz).replace(day=1)) - dt.timedelta(days=1)
        self.fields["period"].initial = f"{last_month:%Y-%m}"

    def clean_from_site(self) -> Site:
        return self.sites[self.cleaned_data["from_site"]]

    def clean_period(self) -> Period:
        try:
            return parse_period(self.cleaned_data["period"])
        except PeriodError:
            raise forms.ValidationError(
                _("Cannot read this period. Write one of: %(examples)s.")
                % {"examples": PERIOD_EXAMPLES}
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        site, period = cleaned.get("from_site"), cleaned.get("period")
        if not isinstance(site, Site) or not isinstance(period, Period):
            return cleaned
        if period.days > MAX_PERIOD_DAYS:
            # The model's inputs are yearly; unique clients over more than a year would
            # overstate a year's.
            self.add_error("period", _("Choose a period of at most a year."))
        elif period.last >= timezone.localdate(timezone=site.tz):
            self.add_error(
                "period",
                _(
                    "%(period)s has not ended yet at %(site)s, so its counts are not complete. "
                    "Choose a period that has ended, or a range up to yesterday."
                )
                % {"period": period.code, "site": site.name},
            )
        return cleaned

    def query(self) -> dict[str, str]:
        """The fill as it travels in a run's address."""
        return {
            "from_site": self.cleaned_data["from_site"].slug,
            "period": self.cleaned_data["period"].code,
        }


@dataclass(frozen=True)
class InputRow:
    """One input of the form, with what the page shows beside it."""

    field: forms.BoundField
    parameter: Parameter
    unit: str
    preset_value: str
    changed: bool
    used: bool = True
    value_text: str = ""
    dist_field: forms.BoundField | None = None
    dist_used: str = ""  # the distribution the run used, when it differs from the box


@dataclass(frozen=True)
class InputGroup:
    module: str
    label: str
    rows: list[InputRow]


class CostBenefitForm(forms.Form):
    """Every input of the preset as a field named after its parameter (``hiv.sharing_share``),
    each method option, the perspective and the PSA settings.

    ``base`` is the preset as published; ``preset`` is the one shown (``base`` with the methods
    chosen in the query, which may need more inputs). An empty field means "the published
    value"; a required input has none, so leaving it empty is refused with a message. After
    ``is_valid()``, ``scenario`` is the preset with the changes applied and ``overrides`` the
    changes from ``base`` alone (for short, bookmarkable links)."""

    perspective = forms.ChoiceField(
        label=gettext_lazy("Perspective"),
        choices=[(p, PERSPECTIVE_LABELS.get(p, p)) for p in PERSPECTIVES],
        initial="societal",
        widget=forms.RadioSelect,
        help_text=gettext_lazy(
            "Each benefit counts in the narrowest perspective it belongs to; a wider "
            "perspective adds the narrower ones, so nothing is counted twice."
        ),
    )
    draws = forms.IntegerField(
        label=gettext_lazy("Uncertainty draws"),
        min_value=0,
        max_value=MAX_DRAWS,
        initial=DEFAULT_DRAWS,
        help_text=gettext_lazy(
            "Monte Carlo draws of the probabilistic sensitivity analysis: 100 to 100,000. "
            "0 runs the deterministic model only."
        ),
        error_messages={
            "max_value": gettext_lazy("At most 100,000 draws: the page must answer in seconds."),
            "min_value": gettext_lazy("Enter 0 or more draws."),
            "invalid": gettext_lazy("Enter a whole number of draws, such as 10000."),
        },
    )
    seed = forms.IntegerField(
        label=gettext_lazy("Random seed"),
        min_value=0,
        max_value=MAX_SEED,
        initial=1,
        help_text=gettext_lazy("The same seed and inputs give the same uncertainty results."),
        error_messages={"invalid": gettext_lazy("Enter a whole number, such as 1.")},
    )

    CONTROL_NAMES = ("preset", "perspective", "draws", "seed", "run", "from_site", "period")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        base: Preset,
        preset: Preset | None = None,
        required_notes: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(data)
        self.base = base
        # Why a required input has no value, when there is more to say than "not published"
        # (a figure of the site's reports hidden from this reader).
        self.required_notes = dict(required_notes or {})
        self.preset = preset or base
        self.scenario: Preset = self.preset
        self.overrides: dict[str, float | str] = {}
        needed = set(self.preset.needed()) if hasattr(self.preset, "needed") else None
        self.unused: set[str] = (
            {n for n in self.preset.parameters if n not in needed} if needed is not None else set()
        )
        for name, parameter in self.preset.parameters.items():
            if name in self.CONTROL_NAMES:
                raise ValueError(f"A parameter may not be called {name!r}")
            self.fields[name] = forms.CharField(
                label=parameter.label,
                required=False,
                initial=input_text(parameter.value),
                widget=forms.TextInput(
                    attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}
                ),
            )
            self.fields[DIST_PREFIX + name] = forms.CharField(
                label=_("Distribution of: %(label)s") % {"label": parameter.label},
                required=False,
                max_length=120,
                initial=distribution_text(parameter.distribution),
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )
        self.distributions: dict[str, Distribution | None] = {}
        for option, value in self.preset.options.items():
            self.fields[option] = forms.ChoiceField(
                label=OPTION_LABELS.get(option, option.replace("_", " ").capitalize()),
                choices=option_choices(option, value),
                initial=value,
                required=False,
            )
        if data is not None:
            # A short address carries only what changed: every other field takes its published
            # value, so the boxes show what was run.
            merged: dict[str, Any] = {
                name: f.initial for name, f in self.fields.items() if f.initial is not None
            }
            merged.update({key: data.get(key) for key in data})
            self.data = merged

    def clean_draws(self) -> int:
        draws: int = self.cleaned_data["draws"]
        if 0 < draws < MIN_DRAWS:
            raise forms.ValidationError(
                _("Enter 0, or at least 100 draws for a meaningful interval.")
            )
        return draws

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_error"

    # --- what the template shows -----------------------------------------------------------

    def input_groups(self) -> list[InputGroup]:
        by_module: dict[str, list[InputRow]] = {}
        for name, parameter in self.preset.parameters.items():
            published = self.base.parameters.get(name)
            current = self.scenario.parameters.get(name, parameter)
            by_module.setdefault(parameter.module, []).append(
                InputRow(
                    field=self[name],
                    parameter=current,
                    unit=unit_text(parameter),
                    preset_value=input_text(published.value if published else None),
                    changed=name in self.overrides,
                    used=name not in self.unused,
                    value_text=input_text(current.value),
                    dist_field=self[DIST_PREFIX + name],
                    dist_used=self._dist_used(name, current),
                )
            )
        order = [m for m in self.preset.modules() if m in by_module]
        order += [m for m in by_module if m not in order]
        return [InputGroup(m, module_label(m), by_module[m]) for m in order]

    def _dist_used(self, name: str, current: Parameter) -> str:
        if not self.is_bound or not hasattr(self, "cleaned_data") or self.errors:
            return ""
        used = distribution_text(current.distribution)
        typed = str(self.data.get(DIST_PREFIX + name) or "").strip()
        same = typed == used or (typed.lower() in FIXED_WORDS and current.distribution is None)
        return "" if same else used

    def option_fields(self) -> list[forms.BoundField]:
        return [self[option] for option in self.preset.options]

    # --- validation: the engine decides -----------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        overrides: dict[str, float | str] = {}
        for option, published_option in self.base.options.items():
            chosen = str(cleaned.get(option) or "").strip()
            if chosen and chosen != published_option:
                self._try(option, {option: chosen}, overrides)
        for name in self.preset.parameters:
            raw = str(cleaned.get(name) or "").strip()
            if not raw:
                continue
            value = parse_number(raw)
            published = self.base.parameters.get(name)
            if published is not None and isinstance(value, float) and value == published.value:
                continue
            self._try(name, {name: value}, overrides)
        distributions = self._clean_distributions(cleaned)
        # Required inputs are reported with any other refusal, so one round of corrections does.
        try:
            scenario = with_overrides(self.base, overrides)
            moved = [n for n in overrides if "." in n and n not in distributions]
            scenario = follow_changes(scenario, moved, self.base)
            for name, distribution in distributions.items():
                scenario = with_distribution(scenario, name, distribution)
        except ParameterError as error:
            self.add_engine_error(error)
            return cleaned
        for name in scenario.missing():
            if name in self.fields and not self.has_error(name):
                self.add_error(
                    name,
                    self.required_notes.get(name)
                    or _(
                        "Required: the preset has no value for this input. Enter one from "
                        "your own records or a published source."
                    ),
                )
            elif name not in self.fields:
                self.add_error(
                    None, _("%(name)s is a required input without a value.") % {"name": name}
                )
        if self.errors:
            return cleaned
        self.scenario = scenario
        self.overrides = overrides
        self.distributions = distributions
        return cleaned

    def _clean_distributions(self, cleaned: Mapping[str, Any]) -> dict[str, Distribution | None]:
        """The distributions typed differently from the published ones, each checked by the
        engine against its input (a share's distribution must stay within 0..1 …)."""
        changed: dict[str, Distribution | None] = {}
        for name in self.preset.parameters:
            field = DIST_PREFIX + name
            typed = str(cleaned.get(field) or "").strip()
            published = self.base.parameters.get(name)
            original = distribution_text(published.distribution if published else None)
            if typed == original or (typed.lower() in FIXED_WORDS and original == "fixed"):
                continue
            try:
                distribution = parse_distribution(typed)
                with_distribution(self.preset, name, distribution)
            except ValueError as error:  # ParameterError is a ValueError too
                self.add_error(field, str(error))
                continue
            changed[name] = distribution
        return changed

    def _try(
        self, field: str, values: dict[str, float | str], into: dict[str, float | str]
    ) -> None:
        try:
            with_overrides(self.base, values)
        except ParameterError as error:
            self.add_error(field, str(error))
        else:
            into.update(values)

    def add_engine_error(self, error: ParameterError) -> None:
        """The engine's message next to the field it names (or at the top if it names none)."""
        name = getattr(error, "parameter", None)
        self.add_error(name if name in self.fields else None, str(error))

    def distribution_texts(self) -> dict[str, str]:
        """The distributions typed differently from the published ones, as typed forms."""
        return {name: distribution_text(d) for name, d in self.distributions.items()}


def query_for(
    *,
    preset: str,
    overrides: Mapping[str, float | str],
    perspective: str,
    draws: int,
    seed: int,
    distributions: Mapping[str, str] | None = None,
    fill: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The short query string of a run: only what differs from the preset (and, for the
    site's own data, which site's reports and period filled it)."""
    query = {"preset": preset, **(fill or {})}
    query.update({"perspective": perspective, "draws": str(draws), "seed": str(seed)})
    for name, value in overrides.items():
        query[name] = input_text(value) if isinstance(value, float) else str(value)
    for name, text in (distributions or {}).items():
        query[DIST_PREFIX + name] = text
    query["run"] = "1"
    return query


# --- Capacity planning ------------------------------------------------------------------------

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hours_text(flags: tuple[bool, ...] | list[bool]) -> str:
    """168 open-hour flags written so that ``parse_open_hours`` reads them back:
    "Mon-Fri 09:00-21:00; Sat 10:00-18:00", or "24/7"."""
    if len(flags) == 168 and all(flags):
        return "24/7"
    per_day: list[str] = []
    for day in range(7):
        ranges, hour = [], 0
        while hour < 24:
            if flags[day * 24 + hour]:
                end = hour
                while end < 24 and flags[day * 24 + end]:
                    end += 1
                ranges.append(f"{hour:02d}:00-{end:02d}:00")
                hour = end
            else:
                hour += 1
        per_day.append(", ".join(ranges))
    parts: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and per_day[last + 1] == per_day[day]:
            last += 1
        if per_day[day]:
            days = DAY_NAMES[day] if last == day else f"{DAY_NAMES[day]}-{DAY_NAMES[last]}"
            parts.extend(f"{days} {r}" for r in per_day[day].split(", "))
        day = last + 1
    return "; ".join(parts)


class PlanForm(forms.Form):
    """The inputs of a capacity plan. Opening hours are one period a day, in whole hours."""

    SOURCE_RECORDED = "recorded"
    SOURCE_PROFILE = "profile"

    source = forms.ChoiceField(
        label=gettext_lazy("Arrivals"),
        widget=forms.RadioSelect,
        initial=SOURCE_RECORDED,
        choices=[
            (SOURCE_RECORDED, gettext_lazy("This site's recorded arrivals, for a period")),
            (SOURCE_PROFILE, gettext_lazy("An arrival profile shipped with saferoom")),
        ],
    )
    start = forms.DateField(
        label=gettext_lazy("Period from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    end = forms.DateField(
        label=gettext_lazy("Period to (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
    )
    profile = forms.ChoiceField(label=gettext_lazy("Arrival profile"), required=False)
    booths = forms.IntegerField(
        label=gettext_lazy("Injection booths"), min_value=0, max_value=200, initial=4
    )
    inhalation_rooms = forms.IntegerField(
        label=gettext_lazy("Inhalation rooms"), min_value=0, max_value=50, initial=1
    )
    seats_per_room = forms.IntegerField(
        label=gettext_lazy("Seats per inhalation room"), min_value=1, max_value=20, initial=1
    )
    patience_minutes = forms.FloatField(
        label=gettext_lazy("Patience: minutes people wait, on average, before leaving"),
        min_value=1,
        max_value=600,
        initial=30,
    )
    target_p95_minutes = forms.FloatField(
        label=gettext_lazy("Target: 95% of people wait at most (minutes)"),
        min_value=0,
        max_value=600,
        initial=15,
    )
    days = forms.IntegerField(
        label=gettext_lazy("Days to simulate"),
        min_value=1,
        max_value=MAX_DAYS,
        initial=28,
        help_text=gettext_lazy("Up to 365. More days give steadier numbers but take longer."),
        error_messages={"max_value": gettext_lazy("At most 365 days.")},
    )
    seed = forms.IntegerField(
        label=gettext_lazy("Random seed"), min_value=0, max_value=MAX_SEED, initial=1
    )
    find_smallest = forms.BooleanField(
        label=gettext_lazy(
            "Also find the smallest numbers of booths and rooms that meet the target"
        ),
        required=False,
        initial=True,
    )

    open_hours = forms.CharField(
        label=gettext_lazy("Opening hours"),
        max_length=400,
        help_text=gettext_lazy(
            "Days and hours, site time: 'Mon-Fri 09:00-21:00; Sat-Sun 12:00-18:00'. A closing "
            "time earlier than the opening means after midnight; '24/7' means always open."
        ),
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        profiles: list[tuple[str, str]],
        defaults: Mapping[str, Any],
        today: dt.date,
    ) -> None:
        super().__init__(data)
        profile_field = self.fields["profile"]
        assert isinstance(profile_field, forms.ChoiceField)
        profile_field.choices = profiles
        if profiles:
            profile_field.initial = profiles[0][0]
        for name in ("booths", "inhalation_rooms", "seats_per_room"):
            if defaults.get(name) is not None:
                self.fields[name].initial = defaults[name]
        self.fields["open_hours"].initial = hours_text(
            tuple(defaults.get("open_hours") or (True,) * 168)
        )
        self.fields["end"].initial = today - dt.timedelta(days=1)
        self.fields["start"].initial = today - dt.timedelta(days=28)

    def clean_open_hours(self) -> tuple[bool, ...]:
        text = self.cleaned_data.get("open_hours") or ""
        try:
            flags = parse_open_hours(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if not any(flags):
            raise forms.ValidationError(_("The site is never open: give at least one period."))
        return flags

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("source") == self.SOURCE_RECORDED:
            start, end = cleaned.get("start"), cleaned.get("end")
            if not start:
                self.add_error("start", _("Enter the first day of the period."))
            if not end:
                self.add_error("end", _("Enter the last day of the period."))
            if start and end:
                if end < start:
                    self.add_error("end", _("The period ends before it starts."))
                elif (end - start).days + 1 > MAX_PERIOD_DAYS:
                    self.add_error("end", _("Choose a period of at most a year."))
        elif not cleaned.get("profile"):
            self.add_error("profile", _("Choose an arrival profile."))
        sized = not self.has_error("booths") and not self.has_error("inhalation_rooms")
        if sized and not (cleaned.get("booths") or cleaned.get("inhalation_rooms")):
            self.add_error("booths", _("Plan at least one booth or one inhalation room."))
        return cleaned
