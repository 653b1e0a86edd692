"""The safety indicators (S1–S9 of indicators.md), read from incidents and their interventions
with every correction applied: the latest amended onset decides the period, the latest amended
outcome decides transfers and deaths, interventions struck out as recorded in error do not
count, and amended intervention times are the ones timed (ADR 8).

A fixed handful of queries serves all nine, whatever the number of incidents (shared through
``Context.cache``): incidents by kind and outcome, the interventions' counts, and each medical
incident's onset with its first care intervention and first naloxone dose."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    Func,
    Min,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from saferoom.incidents.models import (
    MEDICAL_KINDS,
    Incident,
    IncidentAmendment,
    Intervention,
    InterventionAmendment,
    Kind,
    Outcome,
    OutcomeAmendment,
)
from saferoom.reports.facts import nearest_rank
from saferoom.reports.registry import Breakdown, Context, Figure, Result, indicator, one_way

if TYPE_CHECKING:
    from saferoom.reports.registry import Scope
    from saferoom.sites.models import Site

IKind = Intervention.Kind

# S1's four kinds, and the incident kinds each one takes.
MEDICAL_GROUPS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("opioid", gettext_noop("Opioid"), frozenset({Kind.OPIOID})),
    ("stimulant", gettext_noop("Stimulant"), frozenset({Kind.STIMULANT})),
    (
        "other_drug",
        gettext_noop("Other drug-related"),
        frozenset({Kind.SEDATIVE, Kind.SEIZURE, Kind.AGITATION}),
    ),
    ("other_medical", gettext_noop("Other medical"), frozenset({Kind.OTHER_MEDICAL})),
)
SERIOUS_NON_MEDICAL = (Kind.VIOLENCE, Kind.DEALING, Kind.POLICE, Kind.SUBSTANCE_FOUND)
# What a first response is (S9): care given to the person, not the calls, arrivals and
# observations around it.
CARE_KINDS = (
    IKind.STIMULATION,
    IKind.AIRWAY,
    IKind.OXYGEN,
    IKind.VENTILATION,
    IKind.NALOXONE,
    IKind.CPR_STARTED,
    IKind.DEFIBRILLATOR,
)
VENTILATION_KINDS = (IKind.OXYGEN, IKind.VENTILATION)


# --- the records, as corrected ----------------------------------------------------------------
#
# A correction is a row (ADR 8); the one in force is the latest of its record, by
# (recorded_at, id), as ``Incident.onset``, ``Incident.effective_outcome`` and
# ``Intervention.time`` read it. Filters are written as "first recorded so and never
# corrected, or corrected to so by the correction in force": the (site, onset_at) index does
# the narrowing and the corrections (few) are hashed once, where a Coalesce(Subquery) per row
# cost 10× more on PostgreSQL (its estimate also switched JIT compilation on, +2.5 s).

A = TypeVar("A", bound=Model)


def onset_fixes() -> QuerySet[IncidentAmendment]:
    return IncidentAmendment.objects.filter(field=IncidentAmendment.Field.ONSET)


def in_force(corrections: QuerySet[A], of: str) -> QuerySet[A]:
    """Of ``corrections`` of one kind, those no later one of the same record (``of``)
    replaces."""
    later = corrections.filter(**{of: OuterRef(of)}).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return corrections.filter(~Exists(later))


def counted_interventions() -> QuerySet[Intervention]:
    """Interventions not struck out as recorded in error."""
    struck = InterventionAmendment.objects.filter(
        intervention=OuterRef("pk"), field=InterventionAmendment.Field.ERROR
    )
    return Intervention.objects.filter(~Exists(struck))


def outcome_is(outcome: str) -> Q:
    """Incidents whose outcome, as last corrected, is ``outcome``."""
    corrected = OutcomeAmendment.objects.all()
    never_corrected = ~Q(pk__in=corrected.values("incident_id"))
    corrected_to = in_force(corrected, "incident").filter(new_outcome=outcome)
    return (Q(outcome=outcome) & never_corrected) | Q(pk__in=corrected_to.values("incident_id"))


def incidents_in_period(scope: Scope) -> QuerySet[Incident]:
    """Incidents of the scope's sites whose onset, as last corrected, falls in the period, each
    site's period running from its own local midnight (sites grouped by time zone)."""
    by_zone: dict[str, list[Site]] = {}
    for site in scope.sites:
        by_zone.setdefault(site.time_zone, []).append(site)
    never_corrected = ~Q(pk__in=onset_fixes().values("incident_id"))
    wheres = []
    for sites in by_zone.values():
        start, end = scope.bounds(sites[0])
        corrected_into = in_force(onset_fixes(), "incident").filter(
            new_at__gte=start, new_at__lt=end
        )
        wheres.append(
            Q(site_id__in=[s.pk for s in sites])
            & (
                (Q(onset_at__gte=start, onset_at__lt=end) & never_corrected)
                | Q(pk__in=corrected_into.values("incident_id"))
            )
        )
    if not wheres:
        return Incident.objects.none()
    return Incident.objects.filter(reduce(operator.or_, wheres))


# --- the facts every S indicator reads ------------------------------------------------------


@dataclass(frozen=True)
class SafetyFacts:
    by_kind: dict[str, int]  # incidents by Incident.kind ("" while not yet said)
    hospital: int  # any kind, effective outcome hospital
    died: int  # any kind, effective outcome died
    # Of medical incidents (S1), counting only interventions not struck out:
    naloxone_incidents: int
    naloxone_doses: int
    naloxone_mg: Decimal
    ventilation_incidents: int
    ambulance_incidents: int
    to_first_care: tuple[float, ...]  # seconds from onset, one per incident timed
    to_first_naloxone: tuple[float, ...]

    @property
    def medical(self) -> int:
        return sum(n for kind, n in self.by_kind.items() if kind in MEDICAL_KINDS)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Microseconds(Func):
    """An instant as whole microseconds since 1970 (UTC), worked out by the database: tens of
    thousands of instants made into Python datetimes cost more than the query that finds them
    (a network's year), and whole numbers subtract exactly."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite keeps instants as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]"; the fraction (or
        # none) is characters 21 to 26. "%%s" is how Django's SQLite backend writes a "%".
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return (
            f"(CAST(strftime('%%s', {sql}) AS INTEGER) * 1000000"
            f" + CAST(substr({sql} || '.000000', 21, 6) AS INTEGER))",
            (*params, *params),
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
        return self.as_sql(compiler, connection, template=template)


def _microseconds(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _response_times(
    care: QuerySet[Intervention], medical: QuerySet[Any]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Seconds from onset to the first care intervention, and to the first naloxone dose, of
    each medical incident with one (ascending). Interventions whose time was never corrected
    are grouped in SQL; the few corrected ones, and corrected onsets, are read as they stand
    and merged here (a subquery per intervention costs more than it saves). Instants are
    whole microseconds since 1970 throughout (``_Microseconds``), so each gap divided by a
    million is exactly ``timedelta.total_seconds()``."""
    naloxone = Q(kind=IKind.NALOXONE)
    time_fixes = InterventionAmendment.objects.filter(
        field=InterventionAmendment.Field.TIME, new_at__isnull=False
    )
    onset: dict[int, int] = {}
    first_care: dict[int, int] = {}
    first_naloxone: dict[int, int] = {}

    def earliest(into: dict[int, int], incident: int, at: int | None) -> None:
        if at is not None and (incident not in into or at < into[incident]):
            into[incident] = at

    never_retimed = (
        care.exclude(pk__in=time_fixes.values("intervention_id"))
        .values("incident")
        .annotate(
            onset_us=_Microseconds("incident__onset_at"),
            first_care_us=_Microseconds(Min("at")),
            first_naloxone_us=_Microseconds(Min("at", filter=naloxone)),
        )
        .order_by()
        .values_list("incident", "onset_us", "first_care_us", "first_naloxone_us")
    )
    for incident, onset_us, care_us, naloxone_us in never_retimed:
        onset[incident] = onset_us
        earliest(first_care, incident, care_us)
        earliest(first_naloxone, incident, naloxone_us)
    retimed = (
        in_force(time_fixes, "intervention")
        .filter(intervention__in=care)
        .values_list(
            "intervention__incident_id",
            "intervention__incident__onset_at",
            "intervention__kind",
            "new_at",
        )
    )
    for incident, onset_at, kind, at in retimed:
        if at is None:
            continue  # none: the query asks for new times only
        onset[incident] = _microseconds(onset_at)
        earliest(first_care, incident, _microseconds(at))
        if kind == IKind.NALOXONE:
            earliest(first_naloxone, incident, _microseconds(at))
    onset.update(
        (incident, _microseconds(at))
        for incident, at in in_force(onset_fixes(), "incident")
        .filter(incident__in=medical)
        .values_list("incident_id", "new_at")
        if at is not None
    )

    def seconds(firsts: dict[int, int]) -> tuple[float, ...]:
        # The actions refuse an intervention before the onset; a negative gap could only come
        # from records written around them, and counts as an immediate response.
        return tuple(sorted(max(0.0, (at - onset[i]) / 1_000_000) for i, at in firsts.items()))

    return seconds(first_care), seconds(first_naloxone)


def _compute_facts(scope: Scope) -> SafetyFacts:
    incidents = incidents_in_period(scope)
    by_kind: dict[str, int] = {}
    hospital = died = 0
    rows = (
        incidents.values("kind")
        .annotate(
            n=Count("pk"),
            hospital=Count("pk", filter=outcome_is(Outcome.HOSPITAL)),
            died=Count("pk", filter=outcome_is(Outcome.DIED)),
        )
        .order_by()
    )
    for row in rows:
        by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + row["n"]
        hospital += row["hospital"]
        died += row["died"]

    medical = incidents.filter(kind__in=MEDICAL_KINDS).values("pk")
    steps = counted_interventions().filter(incident__in=medical)
    naloxone = Q(kind=IKind.NALOXONE)
    totals = steps.aggregate(
        naloxone_incidents=Count("incident", distinct=True, filter=naloxone),
        naloxone_doses=Count("pk", filter=naloxone),
        naloxone_mg=Sum("naloxone_mg", filter=naloxone),
        ventilation_incidents=Count(
            "incident", distinct=True, filter=Q(kind__in=VENTILATION_KINDS)
        ),
        ambulance_incidents=Count("incident", distinct=True, filter=Q(kind=IKind.AMBULANCE_CALLED)),
    )

    to_care, to_naloxone = _response_times(steps.filter(kind__in=CARE_KINDS), medical)
    return SafetyFacts(
        by_kind=by_kind,
        hospital=hospital,
        died=died,
        naloxone_incidents=totals["naloxone_incidents"],
        naloxone_doses=totals["naloxone_doses"],
        naloxone_mg=totals["naloxone_mg"] or Decimal(0),
        ventilation_incidents=totals["ventilation_incidents"],
        ambulance_incidents=totals["ambulance_incidents"],
        to_first_care=to_care,
        to_first_naloxone=to_naloxone,
    )


def facts(ctx: Context) -> SafetyFacts:
    """The scope's safety facts, read once per report."""
    found = ctx.cache.get("safety")
    if not isinstance(found, SafetyFacts):
        found = _compute_facts(ctx.scope)
        ctx.cache["safety"] = found
    return found


# --- small helpers --------------------------------------------------------------------------


def per(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator * scale / denominator


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _by_kind(
    key: str, label: str, row_label: str, rows: Sequence[tuple[str, str, int]]
) -> Breakdown:
    """Incidents by kind: (key, label, count) rows as a one-way table."""
    return one_way(
        key,
        label,
        row_label,
        tuple((k, name) for k, name, _n in rows),
        ("incidents", _("Incidents")),
        {k: n for k, _name, n in rows},
    )


# --- the indicators -------------------------------------------------------------------------


@indicator(
    "S1",
    title=gettext_noop("Overdoses and medical emergencies"),
    group="safety",
    definition=gettext_noop(
        "Incidents of a medical kind whose onset falls in the period, by kind: opioid (opioid "
        "overdose), stimulant (stimulant over-amping), other drug-related (sedative or "
        "benzodiazepine, seizure, agitation or psychosis) and other medical. An incident whose "
        "kind is not yet recorded is counted once it is. Onset times are as last corrected."
    ),
    breakdowns=("kind",),
)
def s1_medical_incidents(ctx: Context) -> Result:
    found = facts(ctx)
    rows = [
        (key, _(label), sum(found.by_kind.get(k, 0) for k in kinds))
        for key, label, kinds in MEDICAL_GROUPS
    ]
    notes: tuple[str, ...] = ()
    if found.by_kind.get(""):
        notes = (_("Some incidents of the period have no kind recorded yet: not counted here."),)
    return Result(
        "S1",
        figures=(Figure("total", _("Overdoses and medical emergencies"), found.medical),),
        breakdowns=(_by_kind("kind", _("By kind"), _("Kind"), rows),),
        notes=notes,
    )


@indicator(
    "S2",
    title=gettext_noop("Emergency rate"),
    group="safety",
    definition=gettext_noop(
        "S1 per 1,000 supervised consumption episodes (U2) and per 1,000 visits (U1) of the "
        "same sites and period."
    ),
    comparators=gettext_noop(
        "8–14 per 1,000 supervised consumption episodes (Insite, OnPoint, Thistle)"
    ),
)
def s2_emergency_rate(ctx: Context) -> Result:
    incidents = ctx.value("S1.total")
    return Result(
        "S2",
        figures=(
            Figure(
                "per_1000_episodes",
                _("Medical emergencies per 1,000 episodes"),
                per(incidents, ctx.value("U2.total"), 1000),
                kind="rate",
                numerator="S1.total",
                denominator="U2.total",
                scale=1000,
                note=_("per 1,000 supervised consumption episodes (U2)"),
            ),
            Figure(
                "per_1000_visits",
                _("Medical emergencies per 1,000 visits"),
                per(incidents, ctx.value("U1.total"), 1000),
                kind="rate",
                numerator="S1.total",
                denominator="U1.total",
                scale=1000,
                note=_("per 1,000 visits (U1)"),
            ),
        ),
    )


@indicator(
    "S3",
    title=gettext_noop("Naloxone given"),
    group="safety",
    definition=gettext_noop(
        "Incidents of S1 with at least one naloxone dose; the number of doses and their total "
        "in milligrams; and the share of S1 with naloxone. Onset times are as last corrected; "
        "doses struck out as recorded in error do not count."
    ),
)
def s3_naloxone(ctx: Context) -> Result:
    found = facts(ctx)
    return Result(
        "S3",
        figures=(
            Figure("incidents", _("Incidents with naloxone"), found.naloxone_incidents),
            Figure("doses", _("Naloxone doses"), found.naloxone_doses),
            Figure(
                "mg",
                _("Naloxone given (mg)"),
                float(found.naloxone_mg),
                kind="number",
                basis="S3.incidents",
            ),
            Figure(
                "share",
                _("Share of medical emergencies with naloxone"),
                per(found.naloxone_incidents, ctx.value("S1.total")),
                kind="share",
                numerator="S3.incidents",
                denominator="S1.total",
                note=_("of S1"),
            ),
        ),
    )


@indicator(
    "S4",
    title=gettext_noop("Oxygen / ventilation support"),
    group="safety",
    definition=gettext_noop(
        "Incidents of S1 with oxygen, or rescue breaths or bag-valve-mask ventilation. Onset "
        "times are as last corrected; interventions struck out as recorded in error do not "
        "count."
    ),
)
def s4_ventilation(ctx: Context) -> Result:
    return Result(
        "S4",
        figures=(
            Figure(
                "incidents",
                _("Incidents with oxygen or ventilation"),
                facts(ctx).ventilation_incidents,
            ),
        ),
    )


@indicator(
    "S5",
    title=gettext_noop("Ambulance calls"),
    group="safety",
    definition=gettext_noop(
        "Incidents of S1 with an ambulance called; per 1,000 visits (U1); and the share of S1. "
        "Onset times are as last corrected; a call struck out as recorded in error does not "
        "count."
    ),
)
def s5_ambulance(ctx: Context) -> Result:
    called = facts(ctx).ambulance_incidents
    return Result(
        "S5",
        figures=(
            Figure("incidents", _("Incidents with an ambulance called"), called),
            Figure(
                "per_1000_visits",
                _("Ambulance calls per 1,000 visits"),
                per(called, ctx.value("U1.total"), 1000),
                kind="rate",
                numerator="S5.incidents",
                denominator="U1.total",
                scale=1000,
                note=_("per 1,000 visits (U1)"),
            ),
            Figure(
                "share",
                _("Share of medical emergencies with an ambulance called"),
                per(called, ctx.value("S1.total")),
                kind="share",
                numerator="S5.incidents",
                denominator="S1.total",
                note=_("of S1"),
            ),
        ),
    )


@indicator(
    "S6",
    title=gettext_noop("Hospital transfers"),
    group="safety",
    definition=gettext_noop(
        "Incidents of any kind with onset in the period whose outcome is transfer to hospital. "
        "Onset and outcome are as last corrected."
    ),
)
def s6_hospital(ctx: Context) -> Result:
    return Result(
        "S6",
        figures=(Figure("incidents", _("Transfers to hospital"), facts(ctx).hospital),),
    )


@indicator(
    "S7",
    title=gettext_noop("Deaths on site"),
    group="safety",
    definition=gettext_noop(
        "Incidents of any kind with onset in the period whose outcome is death. Shown even when "
        "zero; never suppressed. Onset and outcome are as last corrected."
    ),
    suppressible=False,
)
def s7_deaths(ctx: Context) -> Result:
    return Result("S7", figures=(Figure("total", _("Deaths on site"), facts(ctx).died),))


@indicator(
    "S8",
    title=gettext_noop("Serious non-medical incidents"),
    group="safety",
    definition=gettext_noop(
        "Incidents of these kinds with onset in the period, by kind: violence or threat, "
        "dealing or sharing on the premises, police contact, substance left behind or found. "
        "Onset times are as last corrected."
    ),
    breakdowns=("kind",),
)
def s8_non_medical(ctx: Context) -> Result:
    found = facts(ctx)
    rows = [(str(k), str(k.label), found.by_kind.get(k, 0)) for k in SERIOUS_NON_MEDICAL]
    return Result(
        "S8",
        figures=(Figure("total", _("Serious non-medical incidents"), sum(n for *_k, n in rows)),),
        breakdowns=(_by_kind("kind", _("By kind"), _("Kind"), rows),),
    )


@indicator(
    "S9",
    title=gettext_noop("Response time"),
    group="safety",
    definition=gettext_noop(
        "For incidents of S1: minutes from onset to the first care intervention (stimulation, "
        "airway or recovery position, oxygen, rescue breaths or bag-valve-mask, naloxone, CPR, "
        "defibrillator), and from onset to the first naloxone dose. Median and 90th percentile "
        "by nearest rank (the shortest time with at least half, or 90 per cent, of the "
        "incidents timed at or below it), with the number of incidents timed; calls, arrivals "
        "and observations are not a response. Onset and intervention times are as last "
        "corrected; interventions struck out as recorded in error do not count."
    ),
)
def s9_response_time(ctx: Context) -> Result:
    found = facts(ctx)
    care, naloxone = found.to_first_care, found.to_first_naloxone
    return Result(
        "S9",
        figures=(
            Figure("care_incidents", _("Incidents timed to the first care"), len(care)),
            Figure(
                "care_median",
                _("Median minutes from onset to first care"),
                _minutes(nearest_rank(care, 50)),
                kind="minutes",
                basis="S9.care_incidents",
            ),
            Figure(
                "care_p90",
                _("90th percentile minutes from onset to first care"),
                _minutes(nearest_rank(care, 90)),
                kind="minutes",
                basis="S9.care_incidents",
            ),
            Figure("naloxone_incidents", _("Incidents timed to naloxone"), len(naloxone)),
            Figure(
                "naloxone_median",
                _("Median minutes from onset to first naloxone"),
                _minutes(nearest_rank(naloxone, 50)),
                kind="minutes",
                basis="S9.naloxone_incidents",
            ),
            Figure(
                "naloxone_p90",
                _("90th percentile minutes from onset to first naloxone"),
                _minutes(nearest_rank(naloxone, 90)),
                kind="minutes",
                basis="S9.naloxone_incidents",
            ),
        ),
    )
