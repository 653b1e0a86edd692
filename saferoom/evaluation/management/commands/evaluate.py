"""``saferoom evaluate``: a preset's cost–benefit evaluation (and its probabilistic sensitivity
analysis) as a table or as JSON. The schema of the JSON is in docs/evaluation.md."""

from __future__ import annotations

import json
import math
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from saferoom.evaluation.model import PERSPECTIVE_LABELS, PERSPECTIVES, Result, evaluate
from saferoom.evaluation.parameters import (
    ParameterError,
    Preset,
    load_preset,
    preset_names,
    with_overrides,
)
from saferoom.evaluation.psa import PSAResult, run_psa
from saferoom.evaluation.site_figures import SITE_PRESET, SiteFigures, site_preset

BAD_INPUT = 2


def refuse(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_INPUT)


def parse_sets(items: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs; a malformed one is refused naming it."""
    values: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise refuse(f"--set {item!r}: write NAME=VALUE, e.g. --set emergency.ed_cost=1200.")
        values[name.strip()] = value.strip()
    return values


def clean(data: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: clean(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [clean(value) for value in data]
    return data


def money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.0f}"


def plain(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def number(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.2f}"


class Command(BaseCommand):
    help = (
        "Evaluate a site's costs and benefits with a preset (Irwin 2017, ICER 2021 or a UK "
        "site), optionally with a probabilistic sensitivity analysis."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--preset", help=f"the preset: {', '.join(preset_names())}")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="set a parameter or option, e.g. --set emergency.ed_cost=1200 "
            "--set death_value=vpf (repeat for more)",
        )
        parser.add_argument(
            "--psa", type=int, metavar="N", help="also run a PSA with N draws (e.g. 10000)"
        )
        parser.add_argument("--seed", type=int, default=1, help="PSA seed (default 1)")
        parser.add_argument("--format", choices=("table", "json"), default="table")
        parser.add_argument(
            "--perspective",
            choices=PERSPECTIVES,
            default="societal",
            help="the perspective totals are counted in (default societal)",
        )
        parser.add_argument(
            "--site",
            help="run uk-site on this site's recorded figures (its short name); needs --period",
        )
        parser.add_argument(
            "--period", help="the period of the site's figures, e.g. 2026, 2026-Q1, 2026-03"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site_figures = None
        if options["site"] or options["period"]:
            site_figures = self._site_figures(options)
        elif not options["preset"]:
            raise refuse(f"Choose a preset with --preset ({', '.join(preset_names())}).")
        try:
            preset = site_figures.preset if site_figures else load_preset(options["preset"])
            preset = with_overrides(preset, parse_sets(options["set"]))
            result = evaluate(preset, perspective=options["perspective"])
            psa = None
            if options["psa"] is not None:
                psa = run_psa(
                    preset,
                    draws=options["psa"],
                    seed=options["seed"],
                    perspective=options["perspective"],
                )
        except ParameterError as error:
            hint = ""
            if error.missing:
                hint = f" Set it with --set {error.parameter}=VALUE."
            raise refuse(f"{error}{hint}") from None
        if site_figures is not None:
            for note in site_figures.notes:
                self.stderr.write(note)
        if options["format"] == "json":
            data = {"title": preset.title, **result.to_dict()}
            if site_figures is not None:
                data["site_figures"] = site_figures.filled
            if psa is not None:
                data["psa"] = psa.to_dict()
            self.stdout.write(json.dumps(clean(data), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(table(preset, result, psa))

    def _site_figures(self, options: dict[str, Any]) -> SiteFigures:
        from saferoom.reports.periods import PeriodError, parse_period
        from saferoom.sites.models import Site

        if not (options["site"] and options["period"]):
            raise refuse("--site and --period go together: give both.")
        if options["preset"] and options["preset"] != SITE_PRESET:
            raise refuse(f"--site runs the {SITE_PRESET} preset; leave out --preset.")
        site = Site.objects.select_related("network").filter(slug=options["site"]).first()
        if site is None:
            raise refuse(f"No site is called {options['site']!r}.")
        try:
            period = parse_period(options["period"])
        except PeriodError as error:
            raise refuse(str(error)) from None
        # The operator runs this on the server, as the site's own staff would: exact figures.
        return site_preset(site, period, rule=None)


def table(preset: Preset, result: Result, psa: PSAResult | None) -> str:
    cur = result.currency
    lines = [
        f"{preset.title} ({preset.name})",
        f"{cur}, {result.price_year} prices; totals counted from the "
        f"{PERSPECTIVE_LABELS[result.perspective].lower()} perspective; per year.",
        "",
        f"{'Module':<44} {'Averted':>10}  {'Unit':<30} {'Value (' + cur + ')':>14}  Perspective",
    ]
    notes: list[str] = []
    for module in result.modules:
        counted = "" if module.counted else " (not counted)"
        lines.append(
            f"{module.label:<44} {number(module.events_averted):>10}  {module.unit:<30} "
            f"{money(module.value):>14}  {PERSPECTIVE_LABELS[module.perspective]}{counted}"
        )
        notes.extend(f"{module.name}: {note}" for note in module.notes)
    lines += [
        "",
        f"{'Total benefit':<44} {money(result.total_benefit):>57} {cur}",
        f"{'Cost':<44} {money(result.cost):>57} {cur}",
        f"{'Net benefit':<44} {money(result.net_benefit):>57} {cur}",
        f"{'Benefit–cost ratio':<44} "
        f"{(f'{result.benefit_cost_ratio:.2f}' if result.benefit_cost_ratio else '–'):>57}",
    ]
    if notes:
        lines += ["", "Notes:", *(f"  {note}" for note in notes)]
    if psa is not None:
        lines += ["", *psa_table(psa, cur)]
    return "\n".join(lines)


def psa_table(psa: PSAResult, currency: str) -> list[str]:
    lines = [
        f"Probabilistic sensitivity analysis: {psa.draws:,} draws, seed {psa.seed}, "
        f"{len(psa.varied)} inputs varied.",
        f"{'Output':<34} {'Mean':>14} {'Median':>14} {'95% interval':>32}",
    ]
    for key, summary in psa.outputs.items():
        fmt = number if key.endswith("events_averted") or key == "benefit_cost_ratio" else money
        interval = f"{fmt(summary.low)} to {fmt(summary.high)}"
        lines.append(f"{key:<34} {fmt(summary.mean):>14} {fmt(summary.median):>14} {interval:>32}")
    lines += [
        "",
        f"Probability that net benefit > 0: {psa.probability_net_benefit_positive:.1%}",
        "",
        f"Tornado (net benefit, {currency}; deterministic {money(psa.base_net_benefit)}):",
    ]
    for bar in psa.tornado:
        low = f"{plain(bar.low_input):>12} → {money(bar.net_benefit_at_low):>12}"
        high = f"{plain(bar.high_input):>12} → {money(bar.net_benefit_at_high):>12}"
        lines.append(f"  {bar.parameter:<38} {low}   {high}")
    return lines
