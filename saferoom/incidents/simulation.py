"""Simulated incidents for ``saferoom simulate`` / ``saferoom demo``: what the floor team records
when the engine says an emergency happened, and now and then a non-medical incident.

Everything goes through the real actions with the ``rng`` given (reproducible runs). A step
whose time would still be in the future (a demo run that reaches today) is left out, and an
expected refusal is skipped, never raised.

Rates (``../shared/reference/domain.md``):

- §2.2, Canada all SCS 2017–2024: 26% of overdoses needed naloxone → ``NALOXONE_SHARE``.
- §2.2, OnPoint first 2 months: 19 naloxone, 35 oxygen, 26 monitoring-only of 80 responses →
  oxygen in 35/80 ≈ 44% of opioid overdoses (``OXYGEN_SHARE``).
- §2.2, EMS calls: OnPoint year 1, 23 of 636 interventions (3.6%); Thistle first 9 months,
  12 ambulances for 60 emergencies (20%). We aim between: about 10% of medical incidents
  (6% without naloxone, 20% with it); 8 of Thistle's 12 ambulances took someone to hospital
  (``HOSPITAL_GIVEN_AMBULANCE`` = 2/3).
- §2.2, deaths: none at OnPoint, Insite 2017, MSIR, MSIC over a million injections, Canada's
  41,538 overdoses → no simulated death.
- §2.1, clinical protocol: naloxone 0.4 mg IM, repeated after 2–3 minutes if breathing does not
  return; oxygen and rescue breaths first (Hamburg: ventilation bag and oxygen at the counter).
- Kind mix: Thistle's emergencies are mostly at injection (opioid); at smoking sites stimulant
  over-amping leads (§1.9, §2.1 "OverAmp"); Hamburg names seizures and psychoses next.
- Non-medical incidents (violence, dealing, police, substance found) have no published rate in
  domain.md: the per-day rates below are our assumption, kept low.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, Kind, Outcome
from saferoom.sites.models import Site

NALOXONE_SHARE = 0.26
OXYGEN_SHARE = 0.44
AMBULANCE_WITHOUT_NALOXONE = 0.06
AMBULANCE_WITH_NALOXONE = 0.20
HOSPITAL_GIVEN_AMBULANCE = 2 / 3
LEFT_AGAINST_ADVICE = 0.03
REVIEWED_SHARE = 0.95
DEBRIEF_SHARE = 0.3

# Kind of a medical emergency by how the person used.
KIND_MIX_INJECT = (
    (Kind.OPIOID, 0.75),
    (Kind.STIMULANT, 0.08),
    (Kind.SEDATIVE, 0.06),
    (Kind.SEIZURE, 0.04),
    (Kind.AGITATION, 0.02),
    (Kind.OTHER_MEDICAL, 0.05),
)
KIND_MIX_SMOKE = (
    (Kind.STIMULANT, 0.50),
    (Kind.OPIOID, 0.30),
    (Kind.AGITATION, 0.07),
    (Kind.SEIZURE, 0.05),
    (Kind.SEDATIVE, 0.03),
    (Kind.OTHER_MEDICAL, 0.05),
)

# Non-medical incidents a day at a site (our assumption; see the module docstring).
STANDALONE_PER_DAY = (
    (Kind.VIOLENCE, "lounge", 0.05),
    (Kind.DEALING, "outside", 0.03),
    (Kind.POLICE, "door", 0.03),
    (Kind.SUBSTANCE_FOUND, "toilet", 0.08),
)


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(weight for _, weight in mix)
    for value, weight in mix:
        roll -= weight
        if roll <= 0:
            return value
    return mix[-1][0]


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high) * 60)


class _Recorder:
    """Taps on one incident, each at its time; steps still in the future are left out."""

    def __init__(self, incident: Incident, by: User, now: datetime) -> None:
        self.incident = incident
        self.by = by
        self.now = now
        self.last: datetime = incident.onset_at

    def tap(self, kind: str, at: datetime, **values: Any) -> bool:
        if at > self.now:
            return False
        try:
            actions.record_intervention(
                incident=self.incident,
                kind=kind,
                by=self.by,
                idempotency_key=uuid.uuid4(),
                at=at,
                **values,
            )
        except ActionRefused:
            return False
        self.last = max(self.last, at)
        return True


def _medical_timeline(
    rng: random.Random, recorder: _Recorder, kind: str, onset: datetime
) -> tuple[str, str, datetime]:
    """The interventions of a medical emergency; returns (outcome, hospital, outcome time)."""
    t = onset + _minutes(rng, 0.1, 0.6)
    opioid = kind in (Kind.OPIOID, Kind.SEDATIVE)
    if rng.random() < 0.85:
        recorder.tap("stimulation", t)
    rate = rng.choice((0, 2, 4, 6, 8)) if opioid else rng.choice((18, 22, 26, 30))
    spo2 = rng.randint(72, 89) if opioid else rng.randint(92, 99)
    avpu = rng.choice("PU") if opioid else rng.choice("AV")
    recorder.tap(
        "observation", t + _minutes(rng, 0.1, 0.5), breathing_rate=rate, spo2=spo2, avpu=avpu
    )
    t += _minutes(rng, 0.5, 1.0)
    if opioid and rng.random() < 0.6:
        recorder.tap("airway", t)
    # Decided first: whoever needs naloxone nearly always gets oxygen too; of the rest, enough
    # get oxygen that about 44% of opioid overdoses are "oxygen" responses (OnPoint).
    naloxone = kind == Kind.OPIOID and rng.random() < NALOXONE_SHARE
    if opioid:
        with_naloxone = 0.8
        oxygen_share = (
            with_naloxone
            if naloxone
            else (OXYGEN_SHARE - NALOXONE_SHARE * with_naloxone) / (1 - NALOXONE_SHARE)
        )
        if rng.random() < oxygen_share:
            flow = rng.choice((4, 6, 10, 15))
            recorder.tap("oxygen", t + _minutes(rng, 0.1, 0.5), oxygen_l_min=flow)
        if rng.random() < 0.25:
            recorder.tap("ventilation", t + _minutes(rng, 0.5, 1.0))
        if naloxone:
            doses = 1 + (rng.random() < 0.35) + (rng.random() < 0.1)
            for _dose in range(doses):
                t += _minutes(rng, 1.0, 3.0)
                if rng.random() < 0.9:
                    recorder.tap("naloxone", t, naloxone_mg="0.4", naloxone_route="IM")
                else:
                    recorder.tap("naloxone", t, naloxone_mg="2", naloxone_route="IN")
    elif kind == Kind.SEIZURE:
        recorder.tap("airway", t + _minutes(rng, 1.0, 3.0))
    ambulance = rng.random() < (AMBULANCE_WITH_NALOXONE if naloxone else AMBULANCE_WITHOUT_NALOXONE)
    t += _minutes(rng, 2.0, 5.0)
    recorder.tap(
        "observation",
        t,
        breathing_rate=rng.randint(10, 16),
        spo2=rng.randint(92, 99),
        avpu=rng.choice("AV"),
    )
    if ambulance:
        called = t + _minutes(rng, 0.2, 1.0)
        recorder.tap("ambulance_called", called)
        arrived = called + _minutes(rng, 6.0, 18.0)
        recorder.tap("ambulance_arrived", arrived)
        if rng.random() < HOSPITAL_GIVEN_AMBULANCE:
            handed = arrived + _minutes(rng, 3.0, 10.0)
            recorder.tap("handed_over", handed)
            return Outcome.HOSPITAL, "Nearest emergency department", handed + _minutes(rng, 1, 3)
        end = arrived + _minutes(rng, 5.0, 15.0)
        return Outcome.REFUSED_TRANSFER, "", end
    end = t + _minutes(rng, 10.0, 40.0)
    if rng.random() < LEFT_AGAINST_ADVICE:
        return Outcome.LEFT_AGAINST_ADVICE, "", end
    return Outcome.RECOVERED, "", end


def _finish(
    rng: random.Random,
    incident: Incident,
    *,
    outcome: str,
    hospital: str,
    end: datetime,
    by: User,
    now: datetime,
) -> None:
    if end > now:
        return  # still going on at the end of the simulated history
    try:
        actions.record_outcome(incident=incident, outcome=outcome, hospital=hospital, by=by, at=end)
        later = end + _minutes(rng, 30, 60 * 24)
        if later > now:
            return
        if rng.random() < DEBRIEF_SHARE:
            actions.add_note(
                incident=incident,
                kind="debrief",
                text="Team debrief: response and equipment checked; nothing to change.",
                by=by,
                idempotency_key=uuid.uuid4(),
                at=later,
            )
        if rng.random() < REVIEWED_SHARE:
            actions.review_and_close(incident=incident, by=by, note="Reviewed.", at=later)
    except ActionRefused:
        return


def simulate_incident(
    *,
    rng: random.Random,
    site: Site,
    visit: Visit | None,
    session: ConsumptionSession | None,
    at: datetime,
    by: User,
) -> None:
    """An emergency happened at ``at`` (in ``session``, or in the lounge/at the door)."""
    now = timezone.now()
    if at > now:
        return
    route = session.route if session is not None else (visit.planned_route if visit else "")
    kind = _pick(rng, KIND_MIX_SMOKE if route == "smoke" else KIND_MIX_INJECT)
    try:
        if session is not None:
            incident = actions.start_from_session(session=session, by=by, at=at)
            actions.set_kind(incident=incident, kind=kind, by=by, at=at)
        else:
            incident = actions.start_incident(
                site=site,
                by=by,
                idempotency_key=uuid.uuid4(),
                location=rng.choice(("lounge", "lounge", "door", "toilet")),
                kind=kind,
                visit=visit,
                at=at,
            )
    except ActionRefused:
        return
    if incident.interventions.exists():
        return  # already simulated (the same session twice)
    recorder = _Recorder(incident, by, now)
    outcome, hospital, end = _medical_timeline(rng, recorder, kind, incident.onset_at)
    end = max(end, recorder.last)
    _finish(rng, incident, outcome=outcome, hospital=hospital, end=end, by=by, now=now)


def simulate_standalone_incidents(
    *, rng: random.Random, site: Site, day_start: datetime, day_end: datetime, by: User
) -> None:
    """Non-medical incidents of one day, at low rates (see the module docstring)."""
    now = timezone.now()
    span = (min(day_end, now) - day_start).total_seconds()
    if span <= 0:
        return
    for kind, where, per_day in STANDALONE_PER_DAY:
        if rng.random() >= per_day:
            continue
        at = day_start + timedelta(seconds=rng.uniform(0, span))
        try:
            incident = actions.start_incident(
                site=site,
                by=by,
                idempotency_key=uuid.uuid4(),
                location=where,
                kind=kind,
                at=at,
            )
        except ActionRefused:
            continue
        recorder = _Recorder(incident, by, now)
        if kind in (Kind.POLICE, Kind.VIOLENCE) and rng.random() < 0.3:
            recorder.tap("police_called", at + _minutes(rng, 1, 5))
        end = max(recorder.last, at) + _minutes(rng, 5, 30)
        _finish(rng, incident, outcome=Outcome.RESOLVED, hospital="", end=end, by=by, now=now)
