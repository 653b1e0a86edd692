"""The evaluation pages of a site: cost–benefit (a published model or the site's own data, every
input editable, a deterministic result beside the probabilistic one, charts), its printable
annex and XLSX, and capacity planning with its XLSX.

For evaluators, managers and administrators; everyone else at the site gets 403 and other
sites' staff 404. Everything here is model inputs and aggregates: no client-level data.

A run is a GET whose query holds the inputs (they are not personal data), so a result has an
address that can be bookmarked or attached to a council paper; nothing is stored. The long
cost–benefit form is posted and redirected to the run's short address (only what differs from
the published model). Each run is bounded (at most 100,000 draws; at most 365 simulated days)
and says how long it took."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from saferoom.core.roles import Role
from saferoom.core.svg import Chart
from saferoom.evaluation import capacity, charts, exports, site_data
from saferoom.evaluation.charts import money, money_short, number, percent, ratio
from saferoom.evaluation.forms import (
    MODULE_LABELS,
    PERSPECTIVE_LABELS,
    SITE_DATA_PRESET,
    CostBenefitForm,
    PlanForm,
    PresetChoiceForm,
    SiteFillForm,
    options_from_query,
    preset_choices,
    query_for,
)
from saferoom.evaluation.model import PERSPECTIVES, Result, evaluate
from saferoom.evaluation.parameters import (
    Parameter,
    ParameterError,
    Preset,
    load_preset,
    preset_names,
)
from saferoom.evaluation.psa import PSAResult, run_psa
from saferoom.evaluation.site_figures import SiteFigures, site_preset
from saferoom.reports.publish import NOT_DEFINED
from saferoom.reports.scopes import rule_for, site_scope
from saferoom.sites.access import site_view, sites_for
from saferoom.sites.models import Site

EVALUATION_ROLES = (Role.EVALUATOR, Role.MANAGER, Role.ADMIN)
DEFAULT_PRESET = "irwin-2017-baltimore"


# --- Cost–benefit ------------------------------------------------------------------------------


@dataclass
class SiteFill:
    """The site's own data (``uk-site``) filled from a site's reports: the form that chose the
    site and period and, once it was valid, what the reports gave this reader (exact for the
    site's own staff, suppressed for everyone else)."""

    form: SiteFillForm
    figures: SiteFigures | None = None
    site: Site | None = None
    period_code: str = ""
    period_text: str = ""
    exact: bool = False
    rule_text: str = ""

    def query(self) -> dict[str, str]:
        return self.form.query() if self.figures is not None else {}

    def required_notes(self) -> dict[str, str]:
        """What to say beside each input the reports could not fill for this reader."""
        if self.figures is None or self.site is None:
            return {}
        notes = {}
        for name, shown in self.figures.hidden.items():
            where = {"site": self.site.name, "period": self.period_code, "shown": shown}
            if shown in ("", NOT_DEFINED):
                notes[name] = (
                    _(
                        "Required: %(site)s's reports have no figure for %(period)s (nothing is "
                        "recorded or entered). Enter a value from the site's own records."
                    )
                    % where
                )
            else:
                notes[name] = (
                    _(
                        "Required: %(site)s's reports show this to you as %(shown)s for %(period)s "
                        "(small numbers are hidden). Enter a value yourself: ask the site for the "
                        "exact figure, or run the lowest and highest it could be."
                    )
                    % where
                )
        return notes


def _site_fill(request: HttpRequest, site: Site, data: QueryDict) -> SiteFill | None:
    """The fill of the site's own data asked for in ``data`` (``from_site`` and ``period``),
    from one of the sites of this network the user may evaluate. None for a published model."""
    if data.get("preset") != SITE_DATA_PRESET:
        return None
    user = request.user
    sites = list(
        sites_for(user, *EVALUATION_ROLES)  # type: ignore[arg-type]
        .filter(network_id=site.network_id)
        .select_related("network")
    )
    asked = "from_site" in data or "period" in data
    form = SiteFillForm(data if asked else None, sites=sites, current=site)
    fill = SiteFill(form=form)
    if not asked or not form.is_valid():
        return fill
    chosen: Site = form.cleaned_data["from_site"]
    period = form.cleaned_data["period"]
    rule = rule_for(user, site_scope(chosen, period))
    fill.figures = site_preset(chosen, period, rule=rule)
    fill.site, fill.period_code, fill.exact = chosen, period.code, rule is None
    fill.period_text = _("%(first)s to %(last)s") % {
        "first": period.first.strftime("%d %b %Y"),
        "last": period.last.strftime("%d %b %Y"),
    }
    fill.rule_text = "" if rule is None else f"{rule.label}. {rule.describe()}"
    return fill


@dataclass
class CostBenefitRun:
    """What a cost–benefit request asked for and, when it ran, what came out."""

    base: Preset
    form: CostBenefitForm
    chooser: PresetChoiceForm
    ran: bool = False
    result: Result | None = None
    psa: PSAResult | None = None
    seconds: float = 0.0
    query: dict[str, str] = field(default_factory=dict)
    perspective: str = "societal"
    fill: SiteFill | None = None


def _titles(names: list[str]) -> dict[str, str]:
    titles = {}
    for name in names:
        try:
            titles[name] = load_preset(name).title
        except ParameterError:  # a broken preset file: listed by name, refused when chosen
            titles[name] = name
    return titles


def _cost_benefit_run(
    data: QueryDict, *, fill: SiteFill | None = None, execute: bool = True
) -> CostBenefitRun:
    """Read a run from ``data`` (the query, or a posted form) and, with ``execute``, run it.
    With ``fill`` (the site's own data read from its reports), the filled ``uk-site`` is the
    model the inputs start from."""
    names = preset_names()
    choices = preset_choices(names, _titles(names))
    asked = data.get("preset") or (DEFAULT_PRESET if DEFAULT_PRESET in names else names[0])
    chooser = PresetChoiceForm({"preset": asked}, choices=choices)
    if not chooser.is_valid():
        asked = DEFAULT_PRESET if DEFAULT_PRESET in names else names[0]
    base = load_preset(asked)
    if fill is not None and fill.figures is not None and base.name == SITE_DATA_PRESET:
        base = fill.figures.preset
    shown = options_from_query(base, data)
    wants_run = "run" in data
    form = CostBenefitForm(
        data if wants_run else None,
        base=base,
        preset=shown,
        required_notes=fill.required_notes() if fill is not None else None,
    )
    run = CostBenefitRun(base=base, form=form, chooser=chooser, fill=fill)
    if not wants_run or not chooser.is_valid() or not form.is_valid():
        return run
    perspective = form.cleaned_data["perspective"]
    draws, seed = form.cleaned_data["draws"], form.cleaned_data["seed"]
    run.query = query_for(
        preset=base.name,
        overrides=form.overrides,
        perspective=perspective,
        draws=draws,
        seed=seed,
        distributions=form.distribution_texts(),
        fill=fill.query() if fill is not None else None,
    )
    if not execute:
        return run
    started = time.perf_counter()
    try:
        result = evaluate(form.scenario, perspective=perspective)
        psa = (
            run_psa(form.scenario, draws=draws, seed=seed, perspective=perspective)
            if draws
            else None
        )
    except ParameterError as error:
        form.add_engine_error(error)
        return run
    run.seconds = time.perf_counter() - started
    run.ran, run.result, run.psa, run.perspective = True, result, psa, perspective
    return run


def _counts_in(module_perspective: str, perspective: str) -> bool:
    """Whether a benefit of ``module_perspective`` counts in a total of ``perspective``: the
    perspectives nest (health system within public sector within societal)."""
    order = list(PERSPECTIVES)
    if module_perspective not in order or perspective not in order:
        return True
    return order.index(module_perspective) <= order.index(perspective)


def _interval(summary: Any, fmt: Callable[[float], str]) -> str:
    if summary is None:
        return ""
    return _("%(mean)s (95%% interval %(low)s to %(high)s)") % {
        "mean": fmt(summary.mean),
        "low": fmt(summary.low),
        "high": fmt(summary.high),
    }


def _perspective_label(name: str) -> str:
    return str(PERSPECTIVE_LABELS.get(name, name))


def _result_rows(run: CostBenefitRun) -> dict[str, Any]:
    """The results table: per module, then the totals, each with the PSA beside it."""
    result, psa = run.result, run.psa
    assert result is not None
    currency = result.currency

    def cash(value: float | None) -> str:
        return money(value, currency)

    outputs = psa.outputs if psa else {}
    modules = [
        {
            "name": m.name,
            "label": m.label,
            "events": number(m.events_averted, 2),
            "unit": m.unit,
            "value": cash(m.value),
            "perspective": _perspective_label(m.perspective),
            "counted": getattr(m, "counted", _counts_in(m.perspective, result.perspective)),
            "notes": list(m.notes),
            "psa_events": _interval(
                outputs.get(f"{m.name}.events_averted"), lambda v: number(v, 2)
            ),
            "psa_value": _interval(outputs.get(f"{m.name}.value"), cash),
        }
        for m in result.modules
    ]
    totals = [
        {
            "key": "total_benefit",
            "label": _("Total benefit"),
            "value": cash(result.total_benefit),
            "psa": _interval(outputs.get("total_benefit"), cash),
        },
        {
            "key": "cost",
            "label": _("Cost of the site"),
            "value": cash(result.cost),
            "psa": _interval(outputs.get("cost"), cash),
        },
        {
            "key": "net_benefit",
            "label": _("Net benefit (benefit minus cost)"),
            "value": cash(result.net_benefit),
            "psa": _interval(outputs.get("net_benefit"), cash),
        },
        {
            "key": "benefit_cost_ratio",
            "label": _("Benefit–cost ratio"),
            "value": ratio(result.benefit_cost_ratio),
            "psa": _interval(outputs.get("benefit_cost_ratio"), ratio),
        },
    ]
    return {"modules": modules, "totals": totals}


def _input_value(parameter: Parameter | None, value: float, currency: str) -> str:
    if parameter is not None and parameter.kind == "money":
        return money(value, currency)
    if parameter is not None and parameter.kind == "share":
        return f"{value:.4g}"
    return number(value, 4)


def _cost_benefit_charts(run: CostBenefitRun) -> list[Chart]:
    result, psa = run.result, run.psa
    assert result is not None
    currency = result.currency

    def cash(value: float) -> str:
        return money(value, currency)

    def short(value: float) -> str:
        return money_short(value, currency)

    made: list[Chart] = []
    items = [(m.label, m.value) for m in result.modules]
    largest = max(result.modules, key=lambda m: m.value, default=None)
    made.append(
        charts.bar_chart(
            "benefit-by-module",
            _("Benefit by module, a year"),
            items,
            fmt=cash,
            value_heading=_("Value a year"),
            label_heading=_("Module"),
            summary=(
                _("The largest benefit is %(label)s at %(value)s; total %(total)s.")
                % {
                    "label": largest.label,
                    "value": cash(largest.value),
                    "total": cash(result.total_benefit),
                }
                if largest
                else _("No module produced a benefit.")
            ),
        )
    )
    if psa is None:
        return made
    net = psa.outputs.get("net_benefit")
    made.append(
        charts.histogram(
            "psa-histogram",
            _("Net benefit across %(draws)s draws") % {"draws": f"{psa.draws:,}"},
            psa.histogram_edges,
            psa.histogram_counts,
            fmt=cash,
            fmt_short=short,
            value_heading=_("Net benefit a year"),
            summary=(
                _(
                    "Mean %(mean)s, 95%% of draws between %(low)s and %(high)s; "
                    "%(share)s of draws above zero."
                )
                % {
                    "mean": cash(net.mean),
                    "low": cash(net.low),
                    "high": cash(net.high),
                    "share": percent(psa.probability_net_benefit_positive, 1),
                }
                if net
                else ""
            ),
        )
    )
    if psa.tornado:
        bars = [
            charts.TornadoInput(
                label=bar.label,
                low_input=_input_value(
                    run.form.scenario.parameters.get(bar.parameter), bar.low_input, currency
                ),
                high_input=_input_value(
                    run.form.scenario.parameters.get(bar.parameter), bar.high_input, currency
                ),
                at_low=bar.net_benefit_at_low,
                at_high=bar.net_benefit_at_high,
            )
            for bar in psa.tornado
        ]
        top = psa.tornado[0]
        made.append(
            charts.tornado(
                "tornado",
                _("What moves net benefit most (one input at a time)"),
                result.net_benefit,
                bars,
                fmt=cash,
                fmt_short=short,
                summary=_(
                    "From the deterministic net benefit of %(base)s, the most influential input "
                    "is %(label)s: %(low)s to %(high)s across its range."
                )
                % {
                    "base": cash(result.net_benefit),
                    "label": top.label,
                    "low": cash(top.net_benefit_at_low),
                    "high": cash(top.net_benefit_at_high),
                },
            )
        )
    made.append(
        charts.probability_bar(
            "probability-cost-saving",
            _("Probability the site saves more than it costs"),
            psa.probability_net_benefit_positive,
            summary=_("In %(share)s of %(draws)s draws the net benefit is above zero.")
            % {
                "share": percent(psa.probability_net_benefit_positive, 1),
                "draws": f"{psa.draws:,}",
            },
        )
    )
    return made


def _links(site: Site, run: CostBenefitRun) -> dict[str, str]:
    if not run.ran:
        return {}
    query = urlencode(run.query)
    return {
        name: f"{reverse(f'evaluation:{name}', kwargs={'site': site.slug})}?{query}"
        for name in ("cost_benefit", "annex", "cost_benefit_xlsx")
    }


def _cost_benefit_context(
    request: HttpRequest, site: Site, run: CostBenefitRun | None = None
) -> dict[str, Any]:
    run = run or _cost_benefit_run(request.GET, fill=_site_fill(request, site, request.GET))
    fill = run.fill
    figures = fill.figures if fill is not None else None
    context: dict[str, Any] = {
        "site": site,
        "run": run,
        "form": run.form,
        "chooser": run.chooser,
        "base": run.base,
        "input_groups": run.form.input_groups(),
        "option_fields": run.form.option_fields(),
        "site_data_preset": run.base.name == SITE_DATA_PRESET,
        "missing": run.base.missing(),
        "fill": fill,
        "filled_names": sorted(figures.filled) if figures is not None else [],
        "hidden_names": sorted(figures.hidden) if figures is not None else [],
        "links": _links(site, run),
        "seconds": f"{run.seconds:.2f}",
        "generated_at": timezone.localtime(),
    }
    if run.ran:
        assert run.result is not None
        context["rows"] = _result_rows(run)
        context["charts"] = _cost_benefit_charts(run)
        context["perspective_label"] = _perspective_label(run.perspective)
        context["changed"] = list(run.form.overrides) + [
            _("distribution of %(name)s") % {"name": name} for name in run.form.distributions
        ]
        if run.psa is not None:
            context["probability"] = percent(run.psa.probability_net_benefit_positive, 1)
    return context


@site_view(*EVALUATION_ROLES)
@require_http_methods(["GET", "POST"])
def cost_benefit(request: HttpRequest, site: Site) -> HttpResponse:
    """Choose a model, see and change its inputs, run it, read the results and charts.

    The inputs form is posted (every input of a model makes an address too long for some
    servers) and answered with a redirect to the run's short address, which holds only what
    differs from the published model: that address is the result, to bookmark or share.
    Refused inputs are shown at once, with nothing run."""
    if request.method == "POST":
        fill = _site_fill(request, site, request.POST)
        run = _cost_benefit_run(request.POST, fill=fill, execute=False)
        if run.form.is_bound and run.form.is_valid() and run.query:
            address = reverse("evaluation:cost_benefit", kwargs={"site": site.slug})
            return redirect(f"{address}?{urlencode(run.query)}#results")
        context = _cost_benefit_context(request, site, run)
        return render(request, "evaluation/cost_benefit.html", context)
    return render(request, "evaluation/cost_benefit.html", _cost_benefit_context(request, site))


@site_view(*EVALUATION_ROLES)
@require_GET
def annex(request: HttpRequest, site: Site) -> HttpResponse:
    """The printable annex of a run (A4): inputs with sources, results, charts with numbers.
    Without a valid run it shows the form's page, so the problem is seen where it is fixed."""
    context = _cost_benefit_context(request, site)
    if not context["run"].ran:
        return render(request, "evaluation/cost_benefit.html", context)
    return render(request, "evaluation/annex.html", context)


def _download(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@site_view(*EVALUATION_ROLES)
@require_GET
def cost_benefit_xlsx(request: HttpRequest, site: Site) -> HttpResponse:
    """The workbook of a run: Inputs, Results, PSA, Tornado, About."""
    context = _cost_benefit_context(request, site)
    run: CostBenefitRun = context["run"]
    if not run.ran:
        return render(request, "evaluation/cost_benefit.html", context)
    assert run.result is not None
    content = exports.cost_benefit_workbook(
        site_name=site.name,
        base=run.base,
        scenario=run.form.scenario,
        result=run.result,
        psa=run.psa,
        perspective_label=_perspective_label(run.perspective),
        module_labels={k: str(v) for k, v in MODULE_LABELS.items()},
        generated_at=timezone.localtime(),
        address=request.build_absolute_uri(context["links"]["cost_benefit"]),
    )
    return _download(content, f"saferoom-{site.slug}-{slugify(run.base.name)}-cost-benefit.xlsx")


# --- Capacity planning -------------------------------------------------------------------------


def _profiles() -> list[tuple[str, str]]:
    """The shipped arrival profiles as (name, title) choices."""
    names = capacity.profile_names()
    choices = []
    for name in names:
        try:
            profile = capacity.load_profile(name)
        except ValueError:
            continue
        title = profile.title or name
        per_day = profile.arrivals_per_week / 7
        choices.append(
            (
                name,
                _("%(title)s (about %(n)s visits a day)")
                % {"title": title, "n": f"{per_day:,.0f}"},
            )
        )
    return choices


@dataclass
class PlanRun:
    form: PlanForm
    ran: bool = False
    plan: capacity.PlanInput | None = None
    result: capacity.PlanResult | None = None
    smallest_booths: tuple[int, capacity.PlanResult] | None = None
    smallest_rooms: tuple[int, capacity.PlanResult] | None = None
    searched: bool = False
    seconds: float = 0.0
    source_text: str = ""
    target: float = 0.0
    warning: str = ""


def _plan_run(request: HttpRequest, site: Site) -> PlanRun:
    defaults = site_data.site_plan_defaults(site)
    today = timezone.localdate()
    wants_run = "run" in request.GET
    form = PlanForm(
        request.GET if wants_run else None, profiles=_profiles(), defaults=defaults, today=today
    )
    run = PlanRun(form=form)
    if not wants_run or not form.is_valid():
        return run
    data = form.cleaned_data
    started = time.perf_counter()
    try:
        if data["source"] == PlanForm.SOURCE_RECORDED:
            profile = site_data.recorded_profile(site, data["start"], data["end"])
            run.source_text = _("%(site)s's recorded arrivals, %(start)s to %(end)s") % {
                "site": site.name,
                "start": data["start"].strftime("%d %b %Y"),
                "end": data["end"].strftime("%d %b %Y"),
            }
            if profile.arrivals_per_week == 0:
                run.warning = _(
                    "No arrivals are recorded in this period, so nobody waits. Choose a period "
                    "when the site was open, or a shipped profile."
                )
        else:
            profile = capacity.load_profile(data["profile"])
            run.source_text = profile.title or profile.name
        plan = capacity.PlanInput(
            profile=profile,
            booths=data["booths"],
            inhalation_rooms=data["inhalation_rooms"],
            seats_per_room=data["seats_per_room"],
            open_hours=data["open_hours"],
            clear_down_minutes=defaults.get("clear_down_minutes") or {},
            patience_minutes=data["patience_minutes"],
            days=data["days"],
            seed=data["seed"],
        )
        result = capacity.simulate(plan)
        run.target = data["target_p95_minutes"]
        if data["find_smallest"]:
            run.searched = True
            run.smallest_booths = capacity.smallest_booths(plan, target_p95_minutes=run.target)
            run.smallest_rooms = capacity.smallest_rooms(plan, target_p95_minutes=run.target)
    except ValueError as error:
        form.add_error(None, str(error))
        return run
    run.seconds = time.perf_counter() - started
    run.ran, run.plan, run.result = True, plan, result
    return run


def _minutes(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return _("%(n)s min") % {"n": number(value, 1)}


def _plan_charts(result: capacity.PlanResult) -> list[Chart]:
    # An hour nobody arrives in has no wait to show (the engine reports 0): leave a gap.
    arriving = getattr(result, "arrivals_by_hour", None) or (1.0,) * 24

    def waits(values: tuple[float, ...]) -> list[float]:
        return [v if arriving[h] > 0 else math.nan for h, v in enumerate(values)]

    peak_hour = max(range(24), key=lambda h: result.p95_wait_by_hour[h], default=0)
    busiest = max(range(24), key=lambda h: result.occupancy_by_hour[h], default=0)
    return [
        charts.hourly_chart(
            "waits-by-hour",
            _("Waits by hour of the day"),
            [
                (_("Median wait"), waits(result.median_wait_by_hour)),
                (_("95th percentile wait"), waits(result.p95_wait_by_hour)),
            ],
            fmt=_minutes,
            axis_label=_("Hour of arrival (site time)"),
            summary=_(
                "The longest waits are for arrivals at %(hour)s:00: 95%% wait at most %(p95)s."
            )
            % {"hour": f"{peak_hour:02d}", "p95": _minutes(result.p95_wait_by_hour[peak_hour])},
        ),
        charts.hourly_chart(
            "occupancy-by-hour",
            _("Occupancy by hour of the day"),
            [(_("Share of spaces in use or being cleared"), result.occupancy_by_hour)],
            fmt=lambda v: percent(v),
            axis_label=_("Hour of the day (site time)"),
            maximum=1.0,
            bars=True,
            summary=_("Busiest at %(hour)s:00, with %(share)s of spaces in use or being cleared.")
            % {"hour": f"{busiest:02d}", "share": percent(result.occupancy_by_hour[busiest])},
        ),
    ]


def _plan_query(request: HttpRequest) -> str:
    return urlencode(dict(request.GET.items()))


def _plan_context(request: HttpRequest, site: Site) -> dict[str, Any]:
    run = _plan_run(request, site)
    context: dict[str, Any] = {"site": site, "run": run, "form": run.form}
    if run.ran:
        assert run.result is not None
        assert run.plan is not None
        result = run.result
        context["charts"] = _plan_charts(result)
        context["facts"] = [
            (_("Arrivals simulated"), f"{result.arrivals:,}"),
            (_("Served"), f"{result.served:,}"),
            (_("Median wait"), _minutes(result.median_wait_minutes)),
            (_("95th percentile wait"), _minutes(result.p95_wait_minutes)),
            (_("Left without being served"), percent(result.share_unserved, 1)),
        ]
        kinds = []
        for label, space in (
            (_("Injection booths"), result.booth),
            (_("Inhalation seats"), result.inhalation),
        ):
            if space is not None and space.spaces:
                kinds.append(
                    {
                        "label": label,
                        "spaces": space.spaces,
                        "arrivals": f"{space.arrivals:,}",
                        "median": _minutes(space.median_wait_minutes),
                        "p95": _minutes(space.p95_wait_minutes),
                        "unserved": percent(space.share_unserved, 1),
                    }
                )
        context["kinds"] = kinds
        context["seconds"] = f"{run.seconds:.2f}"
        context["target_text"] = _minutes(run.target)
        query = _plan_query(request)
        context["xlsx_link"] = (
            f"{reverse('evaluation:plan_xlsx', kwargs={'site': site.slug})}?{query}"
        )
        context["per_day"] = number(run.plan.profile.arrivals_per_week / 7, 0)
    return context


@site_view(*EVALUATION_ROLES)
@require_GET
def plan(request: HttpRequest, site: Site) -> HttpResponse:
    """How many booths and rooms, and when open: a simulation of the site's queue."""
    return render(request, "evaluation/plan.html", _plan_context(request, site))


@site_view(*EVALUATION_ROLES)
@require_GET
def plan_xlsx(request: HttpRequest, site: Site) -> HttpResponse:
    """The workbook of a capacity plan: Inputs, Results, By hour, Arrivals, About."""
    context = _plan_context(request, site)
    run: PlanRun = context["run"]
    if not run.ran:
        return render(request, "evaluation/plan.html", context)
    assert run.plan is not None
    assert run.result is not None
    content = exports.plan_workbook(
        site_name=site.name,
        plan=run.plan,
        result=run.result,
        source_text=run.source_text,
        target_p95_minutes=run.target,
        smallest_booths=run.smallest_booths,
        smallest_rooms=run.smallest_rooms,
        searched=run.searched,
        seconds=run.seconds,
        generated_at=timezone.localtime(),
        address=request.build_absolute_uri(
            f"{reverse('evaluation:plan', kwargs={'site': site.slug})}?{_plan_query(request)}"
        ),
    )
    return _download(content, f"saferoom-{site.slug}-capacity-plan.xlsx")


__all__ = ["annex", "cost_benefit", "cost_benefit_xlsx", "plan", "plan_xlsx"]
