"""The writes of an incident: start it (from the board's emergency or stand-alone), record each
intervention with its own time, say what it was and how it ended, notes and the debrief, the
manager's review and close, and corrections as amendments with a reason.

Each runs in one transaction with its audit event; creates are idempotent; a refusal raises
ActionRefused with what to do next and changes nothing. The incident row is locked while an
intervention is checked against the timeline, so two people tapping at once take turns.

Corrections are version-checked (``saferoom.core.versioning``): each takes the incident's
``expected_version`` its form was opened on, and one saved by a colleague since refuses it.
Saying what happened and the first outcome move the version too (a correction form opened
before either is stale); a tap, a note and the review do not: they add, and change nothing a
correction form shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core import audit, tap_time, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import parse_key, remember, replayed
from saferoom.core.models import User
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents.models import (
    BREATHING_RATE_MAX,
    MEDICAL_KINDS,
    NALOXONE_MAX_MG,
    NALOXONE_MIN_MG,
    OXYGEN_MAX_L_MIN,
    Incident,
    IncidentAmendment,
    IncidentNote,
    Intervention,
    InterventionAmendment,
    Kind,
    Location,
    Outcome,
    OutcomeAmendment,
)
from saferoom.sites.models import Site, Space

IKind = Intervention.Kind
# A device's clock may run a little ahead of the server's; beyond this a time is "in the future".
CLOCK_SLACK = timedelta(minutes=1)
REASON_MAX = 300
NOTE_MAX = 5000


def _clock(site: Site, moment: datetime) -> str:
    return site.local(moment).strftime("%H:%M:%S")


def _fresh(incident: Incident, *, lock: bool = True) -> Incident:
    """The incident re-read (row locked on PostgreSQL; SQLite's IMMEDIATE transactions already
    serialise writers) with what its rules look at."""
    if lock:
        # Lock the bare row (PostgreSQL refuses FOR UPDATE on the nullable side of a join).
        list(Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk"))
    return (
        Incident.objects.select_related("site", "client", "space", "session")
        .prefetch_related("amendments", "outcome_amendments", "interventions__amendments")
        .get(pk=incident.pk)
    )


def _not_closed(incident: Incident) -> None:
    if incident.is_closed:
        raise ActionRefused(
            _(
                "This incident was reviewed and closed at %(time)s: nothing more can be added "
                "to its timeline. Add a note, or correct a time with an amendment and a reason."
            )
            % {"time": _clock(incident.site, incident.reviewed_at or incident.onset_at)},
            code="closed",
        )


def _not_future(site: Site, moment: datetime, now: datetime) -> None:
    if moment > now + CLOCK_SLACK:
        raise ActionRefused(
            _("%(time)s is in the future. Give a time that has already happened.")
            % {"time": _clock(site, moment)},
            code="future",
        )


def _reason(value: str, *, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ActionRefused(
            _("Say why %(what)s (for example: “clock on the wall was read wrong”).")
            % {"what": what},
            code="no_reason",
        )
    if len(text) > REASON_MAX:
        raise ActionRefused(
            _("Keep the reason under %(n)s characters.") % {"n": REASON_MAX}, code="too_long"
        )
    return text


def _replay(key: Any, by: User, action: str, details: dict[str, Any]) -> tuple[Any, int | None]:
    parsed = parse_key(key)
    return parsed, replayed(key=parsed, by=by, action=action, details=details)


# --- Starting ---------------------------------------------------------------------------------


def start_from_session(
    *, session: ConsumptionSession, by: User, at: datetime | None = None
) -> Incident:
    """The incident of a board emergency: pre-filled with the client, the space and the
    session, onset at the emergency's time. A second call (a colleague pressed too, a retry)
    returns the same incident."""
    now = timezone.now()
    with transaction.atomic():
        existing = Incident.objects.filter(session=session).first()
        if existing is not None:
            return existing
        current = ConsumptionSession.objects.select_related("visit__client", "space", "site").get(
            pk=session.pk
        )
        onset = current.emergency_at or at or now
        _not_future(current.site, onset, at or now)
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    site=current.site,
                    onset_at=onset,
                    started_at=at or now,
                    started_by=by,
                    visit=current.visit,
                    session=current,
                    client=current.visit.client,
                    space=current.space,
                    location=Location.SPACE,
                )
        except IntegrityError:
            # A colleague's request created it between our look and our insert.
            return Incident.objects.get(session=current)
        incident.staff_present.add(by)
        audit.record(
            action="incident.started",
            by=by,
            obj=incident,
            site=incident.site,
            at=at or now,
            detail={"from": "board", "session": current.pk, "space": current.space_id},
        )
    return incident


def start_incident(
    *,
    site: Site,
    by: User,
    idempotency_key: Any,
    location: str,
    location_detail: str = "",
    kind: str = "",
    visit: Visit | None = None,
    space: Space | None = None,
    at: datetime | None = None,
) -> Incident:
    """A stand-alone incident: someone collapses in the lounge or at the door, a fight, a
    substance found. Onset is now (or ``at``); where is a place, not a person."""
    now = timezone.now()
    onset = at or now
    detail_text = (location_detail or "").strip()
    details = {
        "site": site.pk,
        "location": location,
        "detail": detail_text,
        "kind": kind,
        "visit": visit.pk if visit else None,
        "space": space.pk if space else None,
    }
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "incident.start", details)
        if existing is not None:
            return Incident.objects.get(pk=existing)
        if location not in Location.values:
            raise ActionRefused(
                _("Choose where it is happening from the places shown."), code="bad_location"
            )
        if location == Location.SPACE and space is None:
            raise ActionRefused(
                _("Choose which booth or room, or choose another place."), code="bad_location"
            )
        if kind and kind not in Kind.values:
            raise ActionRefused(_("Choose what is happening from the list."), code="bad_kind")
        if len(detail_text) > 120:
            raise ActionRefused(_("Keep “where exactly” short (120 characters)."), code="too_long")
        if space is not None and space.site_id != site.pk:
            raise ActionRefused(_("Choose a space of this site."), code="bad_space")
        if visit is not None and visit.site_id != site.pk:
            raise ActionRefused(_("Choose a visit of this site."), code="bad_visit")
        _not_future(site, onset, now)
        incident = Incident.objects.create(
            site=site,
            kind=kind,
            onset_at=onset,
            started_at=onset if at else now,
            started_by=by,
            visit=visit,
            client=visit.client if visit is not None else None,
            space=space,
            location=location,
            location_detail=detail_text,
        )
        incident.staff_present.add(by)
        remember(key=key, by=by, action="incident.start", details=details, obj=incident)
        audit.record(
            action="incident.started",
            by=by,
            obj=incident,
            site=site,
            at=onset,
            detail={"from": "stand-alone", "location": location, "kind": kind},
        )
    return incident


def set_kind(*, incident: Incident, kind: str, by: User, at: datetime | None = None) -> Incident:
    """Say what is happening (it may change as it becomes clear, until the incident closes)."""
    with transaction.atomic():
        current = _fresh(incident)
        _not_closed(current)
        if kind not in Kind.values:
            raise ActionRefused(_("Choose what is happening from the list."), code="bad_kind")
        if current.kind == kind:
            return current
        if current.outcome == Outcome.RESOLVED and kind in MEDICAL_KINDS:
            raise ActionRefused(
                _(
                    "The outcome says there was no medical need. A medical incident needs a "
                    "medical outcome: ask a manager to correct it."
                ),
                code="outcome_mismatch",
            )
        before = current.kind
        Incident.objects.filter(pk=current.pk).update(kind=kind)
        # Not checked: in an emergency the kind changes as it becomes clear, tap by tap, and
        # each is on the screen at once. It moves the version so no correction undoes it.
        versioning.bump_unchecked(current)
        current.staff_present.add(by)
        audit.record(
            action="incident.kind_set",
            by=by,
            obj=current,
            site=current.site,
            at=at,
            detail={"from": before, "to": kind, "version": current.version},
        )
    current.kind = kind
    return current


# --- The timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    pk: int | None
    kind: str
    at: datetime


def _steps(incident: Incident) -> list[Step]:
    """The interventions that count (not struck out), at their latest times."""
    return [Step(i.pk, i.kind, i.time) for i in incident.interventions.all() if i.struck is None]


def _check_order(site: Site, steps: list[Step]) -> None:
    """The timeline's own rules: an ambulance arrives after it was called, paramedics take over
    after it arrived, CPR stops after it started."""
    ordered = sorted(steps, key=lambda s: (s.at, s.kind != IKind.AMBULANCE_CALLED))
    called = arrived = cpr = 0
    for step in ordered:
        if step.kind == IKind.AMBULANCE_CALLED:
            called += 1
        elif step.kind == IKind.AMBULANCE_ARRIVED:
            if not called:
                raise ActionRefused(
                    _(
                        "The ambulance cannot arrive (%(time)s) before it was called. Record "
                        "“Ambulance called” first, or correct its time."
                    )
                    % {"time": _clock(site, step.at)},
                    code="arrived_before_called",
                )
            arrived += 1
        elif step.kind == IKind.HANDED_OVER:
            if not arrived:
                raise ActionRefused(
                    _(
                        "Handing over to paramedics (%(time)s) needs the ambulance to have "
                        "arrived first. Record “Ambulance arrived” first."
                    )
                    % {"time": _clock(site, step.at)},
                    code="handover_before_arrival",
                )
        elif step.kind == IKind.CPR_STARTED:
            cpr += 1
        elif step.kind == IKind.CPR_STOPPED:
            if cpr <= 0:
                raise ActionRefused(
                    _("CPR cannot stop (%(time)s) when it was not started. Record “CPR started”.")
                    % {"time": _clock(site, step.at)},
                    code="cpr_not_started",
                )
            cpr -= 1


def _within_incident(incident: Incident, moment: datetime, now: datetime) -> None:
    site = incident.site
    _not_future(site, moment, now)
    onset = incident.onset
    if moment < onset:
        raise ActionRefused(
            _(
                "%(time)s is before the onset (%(onset)s). An intervention cannot come before "
                "the incident began: check the time, or correct the onset with a reason."
            )
            % {"time": _clock(site, moment), "onset": _clock(site, onset)},
            code="before_onset",
        )
    ended = incident.outcome_time
    if ended is not None and moment > ended:
        raise ActionRefused(
            _(
                "%(time)s is after the outcome was recorded (%(end)s). Correct the outcome "
                "time first, with a reason."
            )
            % {"time": _clock(site, moment), "end": _clock(site, ended)},
            code="after_outcome",
        )


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _bad_dose(value: Any) -> ActionRefused:
    return ActionRefused(
        _(
            "%(dose)s mg is not a plausible naloxone dose. One dose is between %(min)s mg and "
            "%(max)s mg: usually 0.4 mg IM (repeated every 2–3 minutes), or 1.8–2 mg "
            "intranasal. Check the ampoule or spray and tap the dose again."
        )
        % {"dose": value, "min": NALOXONE_MIN_MG, "max": NALOXONE_MAX_MG},
        code="implausible_dose",
    )


def _clean_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The intervention's own values, checked for plausibility; only those its kind uses."""
    if kind not in IKind.values:
        raise ActionRefused(_("Choose what was done from the buttons shown."), code="bad_kind")
    clean: dict[str, Any] = {}
    if kind == IKind.NALOXONE:
        dose = _decimal(values.get("naloxone_mg"))
        if dose is None or not (NALOXONE_MIN_MG <= dose <= NALOXONE_MAX_MG):
            raise _bad_dose(values.get("naloxone_mg"))
        if dose != dose.quantize(Decimal("0.01")):
            raise _bad_dose(values.get("naloxone_mg"))
        route = values.get("naloxone_route") or ""
        if route not in Intervention.Route.values:
            raise ActionRefused(
                _("Say how naloxone was given: IN (nose), IM (muscle) or IV (vein)."),
                code="bad_route",
            )
        clean.update(naloxone_mg=dose, naloxone_route=route)
    elif kind == IKind.OXYGEN:
        flow = _int(values.get("oxygen_l_min"))
        if flow is None or not (1 <= flow <= OXYGEN_MAX_L_MIN):
            raise ActionRefused(
                _("Oxygen flow is between 1 and %(max)s litres a minute. Tap the flow given.")
                % {"max": OXYGEN_MAX_L_MIN},
                code="bad_flow",
            )
        clean["oxygen_l_min"] = flow
    elif kind == IKind.OBSERVATION:
        rate = _int(values.get("breathing_rate"))
        spo2 = _int(values.get("spo2"))
        avpu = values.get("avpu") or ""
        if values.get("breathing_rate") not in (None, "") and (
            rate is None or not 0 <= rate <= BREATHING_RATE_MAX
        ):
            raise ActionRefused(
                _("A breathing rate is between 0 and %(max)s breaths a minute.")
                % {"max": BREATHING_RATE_MAX},
                code="bad_observation",
            )
        if values.get("spo2") not in (None, "") and (spo2 is None or not 0 <= spo2 <= 100):
            raise ActionRefused(
                _("SpO₂ is a percentage between 0 and 100."), code="bad_observation"
            )
        if avpu and avpu not in Intervention.Avpu.values:
            raise ActionRefused(_("AVPU is one of A, V, P or U."), code="bad_observation")
        if rate is None and spo2 is None and not avpu:
            raise ActionRefused(
                _("Record at least one observation: breathing rate, SpO₂ or AVPU."),
                code="bad_observation",
            )
        clean.update(breathing_rate=rate, spo2=spo2, avpu=avpu)
    note = (values.get("note") or "").strip()
    if len(note) > 200:
        raise ActionRefused(_("Keep the note under 200 characters."), code="too_long")
    if note:
        clean["note"] = note
    return clean


def record_intervention(
    *,
    incident: Incident,
    kind: str,
    by: User,
    idempotency_key: Any,
    at: datetime | None = None,
    tapped_at: datetime | None = None,
    **values: Any,
) -> Intervention:
    """One tap on the emergency screen: what was done (or seen), now (or ``at``), by whom.

    ``tapped_at``: the time a device gives (an offline tap sent later, or "when, if not now"),
    believed only within ``tap_time``'s bounds, so that a tap sent again after its idempotency
    key was forgotten is refused, never recorded twice. ``at`` is for trusted callers (the API's
    incident reports, the simulation), bounded by the incident alone.

    ``values``: ``naloxone_mg`` and ``naloxone_route`` for naloxone, ``oxygen_l_min`` for
    oxygen, ``breathing_rate``/``spo2``/``avpu`` for an observation, ``note`` for any."""
    now = timezone.now()
    moment = at or now
    clean = _clean_values(kind, values)
    details = {"incident": incident.pk, "kind": kind, **{k: str(v) for k, v in clean.items()}}
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "incident.intervention", details)
        if existing is not None:
            return Intervention.objects.get(pk=existing)
        current = _fresh(incident)
        _not_closed(current)
        if tapped_at is not None:
            moment = tap_time.checked(tapped_at, site=current.site, now=now)
        _within_incident(current, moment, now)
        _check_order(current.site, [*_steps(current), Step(None, kind, moment)])
        step = Intervention.objects.create(
            incident=current, kind=kind, at=moment, by=by, recorded_at=at or now, **clean
        )
        current.staff_present.add(by)
        remember(key=key, by=by, action="incident.intervention", details=details, obj=step)
        audit.record(
            action="incident.intervention",
            by=by,
            obj=current,
            site=current.site,
            at=moment,
            # The note stays out of the audit trail: it is encrypted at rest, the trail is not.
            detail={
                "intervention": step.pk,
                "kind": kind,
                **{k: str(v) for k, v in clean.items() if k != "note"},
                "with_note": "note" in clean,
                **tap_time.received(tapped_at),
            },
        )
    return step


# --- Outcome, notes, review -------------------------------------------------------------------


def _check_outcome(incident: Incident, outcome: str, hospital: str) -> None:
    """The rules an outcome meets, whether first recorded or corrected by an amendment."""
    if outcome not in Outcome.values:
        raise ActionRefused(_("Choose the outcome from the buttons shown."), code="bad_outcome")
    if outcome == Outcome.HOSPITAL and not hospital:
        raise ActionRefused(
            _("Say which hospital they were taken to (or “not known”)."), code="no_hospital"
        )
    if len(hospital) > 120:
        raise ActionRefused(_("Keep the answers short."), code="too_long")
    if outcome == Outcome.RESOLVED and incident.kind in MEDICAL_KINDS:
        raise ActionRefused(
            _(
                "This is recorded as a medical incident (%(kind)s): choose a medical "
                "outcome, or change what happened first."
            )
            % {"kind": Kind(incident.kind).label},
            code="outcome_mismatch",
        )


def record_outcome(
    *,
    incident: Incident,
    outcome: str,
    by: User,
    hospital: str = "",
    reason: str = "",
    at: datetime | None = None,
) -> Incident:
    """How it ended. An outcome timed before the last intervention needs a reason (the person
    recovered, and the ambulance crew's handover was recorded after)."""
    now = timezone.now()
    moment = at or now
    hospital = (hospital or "").strip()
    reason = (reason or "").strip()
    with transaction.atomic():
        current = _fresh(incident)
        _not_closed(current)
        site = current.site
        if current.outcome:
            raise ActionRefused(
                _(
                    "The outcome was already recorded (%(outcome)s at %(time)s). Floor staff or "
                    "a manager can correct it, or its time, with an amendment and a reason."
                )
                % {
                    "outcome": Outcome(current.outcome).label,
                    "time": _clock(site, current.outcome_time or current.onset_at),
                },
                code="outcome_recorded",
            )
        if len(reason) > REASON_MAX:
            raise ActionRefused(_("Keep the answers short."), code="too_long")
        _check_outcome(current, outcome, hospital)
        _not_future(site, moment, now)
        onset = current.onset
        if moment < onset:
            raise ActionRefused(
                _("The outcome (%(time)s) cannot come before the onset (%(onset)s).")
                % {"time": _clock(site, moment), "onset": _clock(site, onset)},
                code="before_onset",
            )
        steps = _steps(current)
        last = max((s.at for s in steps), default=None)
        if last is not None and moment < last and not reason:
            raise ActionRefused(
                _(
                    "The outcome (%(time)s) is before the last intervention (%(last)s). Give a "
                    "reason, or check the times."
                )
                % {"time": _clock(site, moment), "last": _clock(site, last)},
                code="outcome_before_last",
            )
        Incident.objects.filter(pk=current.pk).update(
            outcome=outcome,
            outcome_at=moment,
            outcome_by=by,
            hospital=hospital if outcome == Outcome.HOSPITAL else "",
            outcome_reason=reason,
        )
        versioning.bump_unchecked(current)
        current.staff_present.add(by)
        audit.record(
            action="incident.outcome",
            by=by,
            obj=current,
            site=site,
            at=moment,
            detail={"outcome": outcome, "with_reason": bool(reason), "version": current.version},
        )
    current.refresh_from_db()
    return current


def add_note(
    *,
    incident: Incident,
    text: str,
    by: User,
    idempotency_key: Any,
    kind: str = IncidentNote.Kind.NOTE,
    at: datetime | None = None,
) -> IncidentNote:
    """A note or the debrief, appended to the record (also after close: the file only grows)."""
    moment = at or timezone.now()
    body = (text or "").strip()
    details = {"incident": incident.pk, "kind": kind, "text": body}
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "incident.note", details)
        if existing is not None:
            return IncidentNote.objects.get(pk=existing)
        if kind not in IncidentNote.Kind.values:
            raise ActionRefused(_("Choose a note or a debrief."), code="bad_kind")
        if not body:
            raise ActionRefused(_("Write the note first (no names)."), code="empty")
        if len(body) > NOTE_MAX:
            raise ActionRefused(
                _("Keep a note under %(n)s characters.") % {"n": NOTE_MAX}, code="too_long"
            )
        current = _fresh(incident)
        note = IncidentNote.objects.create(incident=current, kind=kind, text=body, by=by, at=moment)
        remember(key=key, by=by, action="incident.note", details=details, obj=note)
        audit.record(
            action=f"incident.{kind}",
            by=by,
            obj=current,
            site=current.site,
            at=moment,
            detail={"note": note.pk, "length": len(body)},
        )
    return note


def review_and_close(
    *, incident: Incident, by: User, note: str = "", at: datetime | None = None
) -> Incident:
    """The manager's review: the record is complete and right; the incident is closed."""
    moment = at or timezone.now()
    text = (note or "").strip()
    with transaction.atomic():
        current = _fresh(incident)
        _not_closed(current)
        if not current.outcome:
            raise ActionRefused(
                _("Record the outcome first: an incident closes once it is over."),
                code="no_outcome",
            )
        if not current.kind:
            raise ActionRefused(
                _("Say what happened (the kind of incident) before closing it."), code="no_kind"
            )
        if len(text) > NOTE_MAX:
            raise ActionRefused(_("Keep the review shorter."), code="too_long")
        updated = Incident.objects.filter(pk=current.pk, reviewed_at__isnull=True).update(
            reviewed_at=moment, reviewed_by=by, review_note=text
        )
        if not updated:  # pragma: no cover - the row lock makes this a race we never lose
            raise ActionRefused(_("A colleague closed it a moment ago."), code="closed")
        audit.record(
            action="incident.closed",
            by=by,
            obj=current,
            site=current.site,
            at=moment,
            detail={"outcome": current.outcome, "kind": current.kind},
        )
    current.refresh_from_db()
    return current


# --- Amendments -------------------------------------------------------------------------------


def amend_incident_time(
    *,
    incident: Incident,
    field: str,
    new_at: datetime,
    reason: str,
    expected_version: int,
    by: User,
    idempotency_key: Any,
) -> IncidentAmendment:
    """Correct the onset or the outcome time. The incident keeps what was first recorded."""
    now = timezone.now()
    details = {"incident": incident.pk, "field": field, "new_at": new_at.isoformat(), "r": reason}
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "incident.amend", details)
        if existing is not None:
            return IncidentAmendment.objects.get(pk=existing)
        text = _reason(reason, what=_("the time is corrected"))
        current = _fresh(incident)
        versioning.expect(current, expected_version)
        site = current.site
        if field not in IncidentAmendment.Field.values:
            raise ActionRefused(_("Choose which time to correct."), code="bad_field")
        _not_future(site, new_at, now)
        steps = _steps(current)
        first = min((s.at for s in steps), default=None)
        if field == IncidentAmendment.Field.ONSET:
            old = current.onset
            if first is not None and new_at > first:
                raise ActionRefused(
                    _(
                        "The onset (%(time)s) cannot come after the first intervention "
                        "(%(first)s). Correct that intervention's time first."
                    )
                    % {"time": _clock(site, new_at), "first": _clock(site, first)},
                    code="onset_after_intervention",
                )
            ended = current.outcome_time
            if ended is not None and new_at > ended:
                raise ActionRefused(
                    _("The onset cannot come after the outcome (%(end)s).")
                    % {"end": _clock(site, ended)},
                    code="onset_after_outcome",
                )
            if current.session is not None and new_at < current.session.started_at:
                raise ActionRefused(
                    _("The onset cannot come before the session began (%(start)s).")
                    % {"start": _clock(site, current.session.started_at)},
                    code="before_session",
                )
        else:
            if current.outcome_time is None:
                raise ActionRefused(
                    _("There is no outcome yet: record the outcome first."), code="no_outcome"
                )
            old = current.outcome_time
            if new_at < current.onset:
                raise ActionRefused(
                    _("The outcome cannot come before the onset (%(onset)s).")
                    % {"onset": _clock(site, current.onset)},
                    code="before_onset",
                )
            # An amended outcome carries its reason: before the last step is allowed.
        if new_at == old:
            raise ActionRefused(
                _("That is already the recorded time (%(time)s).") % {"time": _clock(site, old)},
                code="unchanged",
            )
        versioning.bump(current, expected_version)
        amendment = IncidentAmendment.objects.create(
            incident=current,
            field=field,
            old_at=old,
            new_at=new_at,
            reason=text,
            by=by,
            recorded_at=now,
        )
        remember(key=key, by=by, action="incident.amend", details=details, obj=amendment)
        audit.record(
            action="incident.amended",
            by=by,
            obj=current,
            site=site,
            detail={
                "field": field,
                "old": old.isoformat(),
                "new": new_at.isoformat(),
                "version": current.version,
            },
        )
    return amendment


def amend_outcome(
    *,
    incident: Incident,
    outcome: str,
    reason: str,
    expected_version: int,
    by: User,
    idempotency_key: Any,
    hospital: str = "",
) -> OutcomeAmendment:
    """Correct a mis-tapped outcome (or the hospital). The incident keeps what was first
    recorded; the latest amendment is the outcome that counts (``Incident.effective_outcome``).
    Like a time correction, it is allowed after the review: the record must be right."""
    now = timezone.now()
    hospital = (hospital or "").strip()
    details = {"incident": incident.pk, "outcome": outcome, "hospital": hospital, "r": reason}
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "incident.amend_outcome", details)
        if existing is not None:
            return OutcomeAmendment.objects.get(pk=existing)
        text = _reason(reason, what=_("the outcome is corrected"))
        current = _fresh(incident)
        versioning.expect(current, expected_version)
        site = current.site
        if not current.outcome:
            raise ActionRefused(
                _("There is no outcome yet: record the outcome first."), code="no_outcome"
            )
        _check_outcome(current, outcome, hospital)
        if outcome != Outcome.HOSPITAL:
            hospital = ""
        old_outcome = current.effective_outcome
        old_hospital = current.effective_hospital
        if (outcome, hospital) == (old_outcome, old_hospital):
            raise ActionRefused(
                _("That is already the recorded outcome (%(outcome)s).")
                % {"outcome": current.effective_outcome_label()},
                code="unchanged",
            )
        versioning.bump(current, expected_version)
        amendment = OutcomeAmendment.objects.create(
            incident=current,
            old_outcome=old_outcome,
            new_outcome=outcome,
            old_hospital=old_hospital,
            new_hospital=hospital,
            reason=text,
            by=by,
            recorded_at=now,
        )
        remember(key=key, by=by, action="incident.amend_outcome", details=details, obj=amendment)
        audit.record(
            action="incident.outcome_amended",
            by=by,
            obj=current,
            site=site,
            detail={
                "old": old_outcome,
                "new": outcome,
                "hospital_changed": old_hospital != hospital,
                "version": current.version,
            },
        )
    return amendment


def amend_intervention(
    *,
    intervention: Intervention,
    by: User,
    reason: str,
    expected_version: int,
    idempotency_key: Any,
    new_at: datetime | None = None,
    in_error: bool = False,
) -> InterventionAmendment:
    """Correct an intervention's time, or strike it out as recorded in error. The intervention
    keeps what was first recorded; the timeline shows both. ``expected_version`` is the
    incident's: its timeline is one record, whose rules tie the interventions together."""
    now = timezone.now()
    details = {
        "intervention": intervention.pk,
        "new_at": new_at.isoformat() if new_at else None,
        "error": in_error,
        "r": reason,
    }
    with transaction.atomic():
        key, existing = _replay(idempotency_key, by, "intervention.amend", details)
        if existing is not None:
            return InterventionAmendment.objects.get(pk=existing)
        text = _reason(
            reason, what=_("it was recorded in error") if in_error else _("the time is corrected")
        )
        current = _fresh(intervention.incident)
        versioning.expect(current, expected_version)
        site = current.site
        step = next(i for i in current.interventions.all() if i.pk == intervention.pk)
        if step.struck is not None:
            raise ActionRefused(
                _("This entry is already struck out as recorded in error."), code="struck"
            )
        others = [s for s in _steps(current) if s.pk != step.pk]
        if in_error:
            _check_order(site, others)
            field = InterventionAmendment.Field.ERROR
            new_at = None
        else:
            if new_at is None:
                raise ActionRefused(_("Give the corrected time."), code="no_time")
            _within_incident(current, new_at, now)
            if new_at == step.time:
                raise ActionRefused(
                    _("That is already the recorded time (%(time)s).")
                    % {"time": _clock(site, step.time)},
                    code="unchanged",
                )
            _check_order(site, [*others, Step(step.pk, step.kind, new_at)])
            field = InterventionAmendment.Field.TIME
        versioning.bump(current, expected_version)
        amendment = InterventionAmendment.objects.create(
            intervention=step,
            field=field,
            old_at=step.time,
            new_at=new_at,
            reason=text,
            by=by,
            recorded_at=now,
        )
        remember(key=key, by=by, action="intervention.amend", details=details, obj=amendment)
        audit.record(
            action="incident.intervention_amended",
            by=by,
            obj=current,
            site=site,
            detail={
                "intervention": step.pk,
                "field": field,
                "old": step.time.isoformat(),
                "new": new_at.isoformat() if new_at else None,
                "version": current.version,
            },
        )
    return amendment
