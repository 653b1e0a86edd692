"""Hand-built incidents for the safety indicator tests, recorded through the incident actions
as staff record them (onset, each intervention at its own time, the outcome), and the visits
and episodes the rates are taken over."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from saferoom.core.models import User
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents import actions
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site, Space
from tests.versions import version_of

UTC = dt.UTC


@dataclass(frozen=True)
class Step:
    """An intervention ``seconds`` after the onset."""

    kind: str
    seconds: float
    values: dict[str, Any] = field(default_factory=dict)


def naloxone(seconds: float, mg: str = "0.4", route: str = "IM") -> Step:
    return Step("naloxone", seconds, {"naloxone_mg": mg, "naloxone_route": route})


def oxygen(seconds: float) -> Step:
    return Step("oxygen", seconds, {"oxygen_l_min": 4})


def step(kind: str, seconds: float) -> Step:
    return Step(kind, seconds)


def incident(
    site: Site,
    by: User,
    *,
    kind: str,
    onset: dt.datetime,
    steps: tuple[Step, ...] = (),
    outcome: str = "",
    hospital: str = "",
) -> Incident:
    """A stand-alone incident in the lounge, its interventions and (when given) its outcome,
    recorded one minute after the last intervention."""
    made = actions.start_incident(
        site=site, by=by, idempotency_key=uuid.uuid4(), location="lounge", kind=kind, at=onset
    )
    last = onset
    for s in steps:
        at = onset + dt.timedelta(seconds=s.seconds)
        actions.record_intervention(
            incident=made, kind=s.kind, by=by, idempotency_key=uuid.uuid4(), at=at, **s.values
        )
        last = max(last, at)
    if outcome:
        actions.record_outcome(
            incident=made,
            outcome=outcome,
            hospital=hospital,
            by=by,
            at=last + dt.timedelta(minutes=1),
        )
    return made


def intervention(made: Incident, kind: str, nth: int = 0) -> Intervention:
    """The ``nth`` intervention of ``kind`` of an incident, in the order recorded."""
    return list(made.interventions.filter(kind=kind).order_by("at", "pk"))[nth]


def strike(made: Incident, kind: str, by: User, nth: int = 0) -> None:
    actions.amend_intervention(
        intervention=intervention(made, kind, nth),
        by=by,
        reason="tapped the wrong button",
        idempotency_key=uuid.uuid4(),
        in_error=True,
        expected_version=version_of((intervention(made, kind, nth)).incident),
    )


def retime(made: Incident, kind: str, by: User, new_at: dt.datetime, nth: int = 0) -> None:
    actions.amend_intervention(
        intervention=intervention(made, kind, nth),
        by=by,
        reason="read from the defibrillator log",
        idempotency_key=uuid.uuid4(),
        new_at=new_at,
        expected_version=version_of((intervention(made, kind, nth)).incident),
    )


def move_onset(made: Incident, by: User, new_at: dt.datetime) -> None:
    actions.amend_incident_time(
        incident=made,
        field="onset_at",
        new_at=new_at,
        reason="CCTV shows the collapse earlier",
        by=by,
        idempotency_key=uuid.uuid4(),
        expected_version=version_of(made),
    )


def correct_outcome(made: Incident, by: User, outcome: str, hospital: str = "") -> None:
    actions.amend_outcome(
        incident=made,
        outcome=outcome,
        hospital=hospital,
        reason="mis-tapped",
        by=by,
        idempotency_key=uuid.uuid4(),
        expected_version=version_of(made),
    )


def visits_and_episodes(
    site: Site, by: User, *, day: dt.datetime, visits: int, episodes: int
) -> None:
    """``visits`` anonymous visits that left, arriving a minute apart from ``day``; the first
    ``episodes`` of them with one finished consumption session in Booth 1."""
    booth = Space.objects.get(site=site, name="Booth 1")
    for i in range(visits):
        arrived = day + dt.timedelta(minutes=i)
        visit = Visit.objects.create(
            site=site,
            anonymous=True,
            arrived_at=arrived,
            state=Visit.State.LEFT,
            created_by=by,
            ended_at=arrived + dt.timedelta(minutes=30),
            ended_by=by,
            end_reason=Visit.EndReason.CHECKED_OUT,
        )
        if i < episodes:
            started = arrived + dt.timedelta(seconds=20)
            ConsumptionSession.objects.create(
                site=site,
                visit=visit,
                space=booth,
                route="inject",
                started_at=started,
                started_by=by,
                check_interval_minutes=5,
                next_check_due_at=started + dt.timedelta(minutes=5),
                ended_at=started + dt.timedelta(seconds=30),
                end_reason=ConsumptionSession.EndReason.FINISHED,
            )
