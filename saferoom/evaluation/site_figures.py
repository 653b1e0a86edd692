"""The ``uk-site`` preset filled from a site's own reports: the Django side of the link between
the evaluation engine and the indicator registry. It reads published indicator figures (never
client rows): exact for the site's own staff, suppressed otherwise, and a figure the reader
may not see stays a required input.

Counts of events and the operating cost are scaled to a year (× 365 ÷ the period's days), as
the preset's inputs are yearly; unique clients are taken as counted, so a period shorter than a
year gives a lower bound (said in the notes)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from saferoom.core.suppression import Rule
from saferoom.evaluation.parameters import Preset, load_preset
from saferoom.reports.periods import Period
from saferoom.reports.publish import Shown, ShownReport, publish
from saferoom.reports.registry import compute_report
from saferoom.reports.scopes import site_scope
from saferoom.sites.models import Site

SITE_PRESET = "uk-site"
TREATMENT_KINDS = ("drug_treatment", "detox_rehab")

# parameter → (indicator reference, annualise, what it is)
MAPPING: dict[str, tuple[str, bool, str]] = {
    "site.unique_clients": ("U3.total", False, "unique clients (U3)"),
    "site.overdoses": ("S1.total", True, "overdoses and medical emergencies (S1)"),
    "site.naloxone": ("S3.incidents", True, "emergencies with naloxone (S3)"),
    "site.ambulance": ("S5.incidents", True, "ambulance calls (S5)"),
    "site.hospital_transfers": ("S6.incidents", True, "hospital transfers (S6)"),
    "site.treatment_referrals": ("E2.kind", True, "referrals to drug treatment or detox (E2)"),
    "cost.operating": ("C1.operating_cost", True, "operating cost (C1)"),
}
CODES = ("U3", "S1", "S3", "S5", "S6", "E2", "C1")


@dataclass
class SiteFigures:
    """``preset`` filled; ``filled`` the yearly values read; ``hidden`` the inputs the reader
    cannot have, each with what the report shows them instead (``<10``, ``*``, or ``—`` where
    nothing is recorded, such as a month without an operating cost)."""

    preset: Preset
    filled: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    hidden: dict[str, str] = field(default_factory=dict)


def _value(shown: ShownReport, ref: str) -> Shown:
    code, key = ref.split(".", 1)
    result = shown.results[code]
    if code == "E2":
        table = result.breakdown(key)
        cells = [
            table.cells[i][0]
            for i, (row, _label) in enumerate(table.rows)
            if row in TREATMENT_KINDS
        ]
        hidden = [cell for cell in cells if cell.value is None]
        if hidden:
            return Shown(None, " + ".join(cell.text for cell in cells), hidden[0].hidden)
        total = float(sum(cell.value or 0 for cell in cells))
        return Shown(total, f"{total:g}")
    return result.figure(key).shown


def site_preset(site: Site, period: Period, *, rule: Rule | None) -> SiteFigures:
    """``uk-site`` with the site's figures for ``period`` as published under ``rule``."""
    preset = load_preset(SITE_PRESET)
    shown = publish(compute_report(site_scope(site, period), CODES), rule)
    factor = 365 / period.days
    out = SiteFigures(preset=preset)
    parameters = dict(preset.parameters)
    for name, (ref, annualise, what) in MAPPING.items():
        figure = _value(shown, ref)
        value = figure.value
        if value is None:
            out.hidden[name] = figure.text
            out.notes.append(
                f"{name}: the {what} for {period.code} is not available to you "
                "(hidden under the small-number rule, or not entered); give it with --set."
            )
            continue
        yearly = value * factor if annualise else value
        out.filled[name] = yearly
        how = f", × 365/{period.days} days for a year" if annualise and period.days != 365 else ""
        parameters[name] = replace(
            parameters[name],
            value=yearly,
            source=f"{site.name}'s reports, {period.code}: {what} = {value:g}{how}.",
        )
    if period.days < 365:
        out.notes.append(
            "site.unique_clients is the count for a period shorter than a year: "
            "a lower bound for the year's unique clients."
        )
    out.preset = replace(preset, parameters=parameters)
    return out
