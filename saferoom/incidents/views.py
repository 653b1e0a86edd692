"""Incident pages of a site: the list (open first), the emergency screen of big buttons, the
record with its history, the printable timeline for the paramedics and the clinical file, the
manager's review queue, and the forms that correct a time with a reason.

Who may do what:

- Floor staff, managers and administrators do everything on the floor side.
- The front desk may START a stand-alone incident and log interventions, the outcome and notes:
  desk staff are often the first to see someone collapse at the door or in the lounge, and the
  first minutes are the ones whose times matter most (when breathing stopped, when naloxone
  went in, when the ambulance was called). A second pair of hands logging while the nurse
  treats is how sites work. The desk does not correct times (amendments are for the clinical
  team) and does not review or close (managers and administrators do).
- Evaluators see aggregates only: every page here answers 403. Other sites' staff get 404.

Every tap is a POST with an idempotency key; it works without JavaScript (then back to the
screen) and with htmx (the live part of the screen comes back with the new timeline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.core import audit, conflicts, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.incidents import actions, forms
from saferoom.incidents.access import (
    CORRECTORS,
    REVIEWERS,
    TAPPERS,
    VIEWERS,
    access_incident,
    access_intervention,
)
from saferoom.incidents.models import (
    MEDICAL_KINDS,
    Incident,
    IncidentAmendment,
    IncidentNote,
    Intervention,
    Kind,
    Outcome,
)
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

LIST_CLOSED = 50

# The emergency screen's preset buttons (issue 4): the doses and flows used most.
NALOXONE_PRESETS = (("0.4", "IM"), ("0.8", "IM"), ("1.8", "IN"), ("2", "IN"), ("0.4", "IV"))
OXYGEN_PRESETS = (2, 4, 6, 10, 15)
SPO2_PRESETS = (98, 94, 90, 85, 80)
BREATHING_PRESETS = (0, 4, 8, 12, 16, 20)
CARE_BUTTONS = (
    Intervention.Kind.STIMULATION,
    Intervention.Kind.AIRWAY,
    Intervention.Kind.VENTILATION,
    Intervention.Kind.CPR_STARTED,
    Intervention.Kind.CPR_STOPPED,
    Intervention.Kind.DEFIBRILLATOR,
)
AMBULANCE_BUTTONS = (
    Intervention.Kind.AMBULANCE_CALLED,
    Intervention.Kind.AMBULANCE_ARRIVED,
    Intervention.Kind.HANDED_OVER,
    Intervention.Kind.POLICE_CALLED,
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _role(request: HttpRequest) -> str:
    return str(getattr(request, "current_role", "") or "")


def _viewed(request: HttpRequest, incident: Incident, page: str) -> None:
    """Opening a client's incident is a read of client-level data: it is audited."""
    if incident.client is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=incident.client,
            site=incident.site,
            role=_role(request),
            detail={"page": page, "incident": incident.pk},
        )


def _title(incident: Incident) -> str:
    if incident.space is not None:
        return _("EMERGENCY in %(where)s") % {"where": incident.where()}
    return _("EMERGENCY: %(where)s") % {"where": incident.where()}


def timeline_rows(incident: Incident) -> list[dict[str, Any]]:
    """The interventions at their latest times, oldest first, each with its history."""
    steps = sorted(incident.interventions.all(), key=lambda step: (step.time, step.pk))
    return [
        {
            "step": step,
            "time": step.time,
            "struck": step.struck,
            "amended": list(step.amendments.all()),
        }
        for step in steps
    ]


def counts(incident: Incident) -> dict[str, Any]:
    live = [s for s in incident.interventions.all() if s.struck is None]
    doses = [s for s in live if s.kind == Intervention.Kind.NALOXONE]
    return {
        "naloxone_doses": len(doses),
        "naloxone_total": sum((s.naloxone_mg or 0) for s in doses),
        "ambulance_called": any(s.kind == Intervention.Kind.AMBULANCE_CALLED for s in live),
    }


def screen_context(request: HttpRequest, site: Site, incident: Incident) -> dict[str, Any]:
    role = _role(request)
    return {
        "site": site,
        "incident": incident,
        "title": _title(incident),
        "rows": timeline_rows(incident),
        "counts": counts(incident),
        "server_now": timezone.now(),
        "can_tap": role in TAPPERS and not incident.is_closed,
        "can_correct": role in CORRECTORS,
        "can_review": role in REVIEWERS,
        "kinds": Kind.choices,
        "medical_kinds": MEDICAL_KINDS,
        "outcomes": [(v, label) for v, label in Outcome.choices if v != Outcome.HOSPITAL],
        "naloxone_presets": NALOXONE_PRESETS,
        "oxygen_presets": OXYGEN_PRESETS,
        "spo2_presets": SPO2_PRESETS,
        "breathing_presets": BREATHING_PRESETS,
        "care_buttons": [(k, Intervention.Kind(k).label) for k in CARE_BUTTONS],
        "ambulance_buttons": [(k, Intervention.Kind(k).label) for k in AMBULANCE_BUTTONS],
        "avpu_choices": Intervention.Avpu.choices,
        "routes": Intervention.Route.choices,
    }


def _screen(
    request: HttpRequest,
    site: Site,
    incident: Incident,
    *,
    error: str = "",
    flash: str = "",
    status: int = 200,
) -> HttpResponse:
    context = screen_context(request, site, incident)
    context.update(error=error, flash=flash)
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    template = "incidents/screen.htmx.html" if htmx else "incidents/screen.html"
    return render(request, template, context, status=status)


def _after_write(
    request: HttpRequest, site: Site, incident: Incident, flash: str, *, to: str = "screen"
) -> HttpResponse:
    """Success: htmx gets the fresh live part at once; a plain form goes back (PRG)."""
    if request.htmx:  # type: ignore[attr-defined]
        return _screen(request, site, access_incident(site, incident.pk), flash=flash)
    messages.success(request, flash)
    return redirect(f"incidents:{to}", site=site.slug, pk=incident.pk)


def _refused(
    request: HttpRequest, site: Site, incident: Incident, message: str, *, page: str = "screen"
) -> HttpResponse:
    """A refusal: the same screen, the message in an alert, nothing changed (422)."""
    fresh = access_incident(site, incident.pk)
    if page == "detail" and not request.htmx:  # type: ignore[attr-defined]
        return _detail(request, site, fresh, error=message, status=422)
    return _screen(request, site, fresh, error=message, status=422)


# --- Lists ----------------------------------------------------------------------------------


def _listed(site: Site) -> Any:
    doses = (
        Intervention.objects.filter(incident=OuterRef("pk"), kind=Intervention.Kind.NALOXONE)
        .exclude(amendments__field="error")
        .order_by()
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Incident.objects.filter(site=site)
        .select_related("client", "space")
        .prefetch_related("outcome_amendments")
        .annotate(naloxone=Coalesce(Subquery(doses, output_field=IntegerField()), 0))
    )


@site_view(*VIEWERS)
@require_GET
def incident_list(request: HttpRequest, site: Site) -> HttpResponse:
    """The site's incidents: those still open first (newest first), then the latest closed."""
    rows = _listed(site)
    open_ones = list(rows.filter(reviewed_at__isnull=True).order_by("-onset_at", "-id"))
    closed = list(rows.filter(reviewed_at__isnull=False).order_by("-onset_at", "-id")[:LIST_CLOSED])
    context = {
        "site": site,
        "open_incidents": open_ones,
        "closed_incidents": closed,
        "can_review": _role(request) in REVIEWERS,
        "to_review": sum(1 for i in open_ones if i.outcome),
    }
    return render(request, "incidents/list.html", context)


@site_view(*REVIEWERS)
@require_GET
def review_queue(request: HttpRequest, site: Site) -> HttpResponse:
    """The manager's queue: incidents that are over (outcome recorded) but not yet reviewed."""
    waiting = list(
        _listed(site)
        .filter(reviewed_at__isnull=True)
        .exclude(outcome="")
        .order_by("outcome_at", "id")
    )
    return render(request, "incidents/review.html", {"site": site, "incidents": waiting})


# --- Starting -------------------------------------------------------------------------------


@site_view(*TAPPERS)
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest, site: Site) -> HttpResponse:
    """A stand-alone incident: onset now, where it happens, what it is if known."""
    if request.method != "POST":
        form = forms.StartForm(site=site)
        return render(request, "incidents/new.html", {"site": site, "form": form})
    form = forms.StartForm(request.POST, site=site)
    refusal = ""
    if form.is_valid():
        data = form.cleaned_data
        try:
            incident = actions.start_incident(
                site=site,
                by=_user(request),
                idempotency_key=data["idempotency_key"],
                location=data["location"],
                location_detail=data["location_detail"],
                kind=data["kind"],
                space=data["space"],
            )
        except ActionRefused as error:
            refusal = error.message
        else:
            return redirect("incidents:screen", site=site.slug, pk=incident.pk)
    context = {"site": site, "form": form, "refusal": refusal}
    return render(request, "incidents/new.html", context, status=422)


# --- The emergency screen -------------------------------------------------------------------


@site_view(*VIEWERS)
@require_GET
def screen(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """The emergency screen: big buttons, the timeline, time since onset. An htmx poll asks
    for the timeline alone (other devices tapping on the same incident)."""
    incident = access_incident(site, pk)
    if request.htmx and request.GET.get("part") == "timeline":  # type: ignore[attr-defined]
        context = screen_context(request, site, incident)
        return render(request, "incidents/_timeline.html", context)
    _viewed(request, incident, "incident_screen")
    return _screen(request, site, incident)


@site_view(*TAPPERS)
@require_POST
def tap(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """One tap: an intervention or observation, timed now, by the person tapping."""
    incident = access_incident(site, pk)
    form = forms.TapForm(request.POST)
    page = "detail" if request.POST.get("from") == "detail" else "screen"
    if not form.is_valid():
        return _refused(request, site, incident, form.first_error(), page=page)
    data = form.cleaned_data
    try:
        step = actions.record_intervention(
            incident=incident,
            kind=data["kind"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
            tapped_at=data["at"],
            **form.values(),
        )
    except ActionRefused as error:
        return _refused(request, site, incident, error.message, page=page)
    flash = _("Recorded at %(time)s: %(what)s.") % {
        "time": site.local(step.at).strftime("%H:%M:%S"),
        "what": step.summary(),
    }
    return _after_write(request, site, incident, flash, to=page)


@site_view(*TAPPERS)
@require_POST
def kind(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    incident = access_incident(site, pk)
    form = forms.KindForm(request.POST)
    if not form.is_valid():
        return _refused(request, site, incident, form.first_error())
    try:
        actions.set_kind(incident=incident, kind=form.cleaned_data["kind"], by=_user(request))
    except ActionRefused as error:
        return _refused(request, site, incident, error.message)
    flash = _("Recorded: %(kind)s.") % {"kind": Kind(form.cleaned_data["kind"]).label}
    return _after_write(request, site, incident, flash)


@site_view(*TAPPERS)
@require_POST
def outcome(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    incident = access_incident(site, pk)
    form = forms.OutcomeForm(request.POST)
    page = "detail" if request.POST.get("from") == "detail" else "screen"
    if not form.is_valid():
        return _refused(request, site, incident, form.first_error(), page=page)
    data = form.cleaned_data
    try:
        done = actions.record_outcome(
            incident=incident,
            outcome=data["outcome"],
            hospital=data["hospital"],
            reason=data["reason"],
            at=data["at"],
            by=_user(request),
        )
    except ActionRefused as error:
        return _refused(request, site, incident, error.message, page=page)
    flash = _("Outcome recorded: %(outcome)s.") % {"outcome": Outcome(done.outcome).label}
    return _after_write(request, site, incident, flash, to="detail")


# --- The record -----------------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    site: Site,
    incident: Incident,
    *,
    error: str = "",
    note_form: forms.NoteForm | None = None,
    close_form: forms.CloseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = screen_context(request, site, incident)
    notes = list(incident.notes.all())
    context.update(
        error=error,
        notes=[n for n in notes if n.kind == IncidentNote.Kind.NOTE],
        debriefs=[n for n in notes if n.kind == IncidentNote.Kind.DEBRIEF],
        note_form=note_form or forms.NoteForm(),
        close_form=close_form or forms.CloseForm(),
        outcome_choices=Outcome.choices,
        step_choices=Intervention.Kind.choices,
        staff=sorted({str(u) for u in incident.staff_present.all()}),
        incident_amendments=list(incident.amendments.all()),
        outcome_amendments=list(incident.outcome_amendments.all()),
    )
    return render(request, "incidents/detail.html", context, status=status)


@site_view(*VIEWERS)
@require_GET
def detail(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """The whole record: facts, timeline with every correction, notes, debrief, review."""
    incident = access_incident(site, pk)
    _viewed(request, incident, "incident_detail")
    return _detail(request, site, incident)


@site_view(*VIEWERS)
@require_GET
def timeline(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """One printable A4 page for the paramedics' handover and the clinical file."""
    incident = access_incident(site, pk)
    _viewed(request, incident, "incident_timeline")
    context = screen_context(request, site, incident)
    context["staff"] = sorted({str(u) for u in incident.staff_present.all()})
    return render(request, "incidents/timeline.html", context)


@site_view(*TAPPERS)
@require_POST
def note(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    incident = access_incident(site, pk)
    form = forms.NoteForm(request.POST)
    if not form.is_valid():
        return _detail(request, site, incident, note_form=form, status=422)
    data = form.cleaned_data
    try:
        added = actions.add_note(
            incident=incident,
            text=data["text"],
            kind=data["kind"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
        )
    except ActionRefused as error:
        return _detail(request, site, incident, error=error.message, note_form=form, status=422)
    flash = _("Debrief added.") if added.kind == IncidentNote.Kind.DEBRIEF else _("Note added.")
    messages.success(request, flash)
    return redirect("incidents:detail", site=site.slug, pk=incident.pk)


@site_view(*REVIEWERS)
@require_POST
def close(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """The manager's review: the record is right and complete, the incident closes."""
    incident = access_incident(site, pk)
    form = forms.CloseForm(request.POST)
    if not form.is_valid():
        return _detail(request, site, incident, close_form=form, status=422)
    try:
        actions.review_and_close(
            incident=incident, note=form.cleaned_data["note"], by=_user(request)
        )
    except ActionRefused as error:
        return _detail(request, site, incident, error=error.message, close_form=form, status=422)
    messages.success(request, _("Reviewed and closed."))
    return redirect("incidents:detail", site=site.slug, pk=incident.pk)


# --- Corrections ----------------------------------------------------------------------------


def _local_input(site: Site, moment: Any) -> str:
    return site.local(moment).strftime("%Y-%m-%dT%H:%M:%S") if moment else ""


@site_view(*CORRECTORS)
@require_http_methods(["GET", "POST"])
def amend(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Correct the onset or the outcome time, with a reason; the original stays."""
    incident = access_incident(site, pk)
    refusal = ""
    if request.method == "POST":
        form = forms.AmendIncidentForm(request.POST)
        if conflicts.reopening(request):
            conflicts.reopened(request)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                actions.amend_incident_time(
                    incident=incident,
                    field=data["field"],
                    new_at=data["new_at"],
                    reason=data["reason"],
                    expected_version=data["version"],
                    by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except versioning.StaleEdit as stale:
                return _conflict(request, site, incident, stale, _time_rows(form))
            except ActionRefused as error:
                refusal = error.message
            else:
                messages.success(request, _("Time corrected. The original stays in the record."))
                return redirect("incidents:detail", site=site.slug, pk=incident.pk)
    else:
        form = forms.AmendIncidentForm(
            initial={
                "field": "onset_at",
                "new_at": _local_input(site, incident.onset),
                "version": incident.version,
            }
        )
    context = {"site": site, "incident": incident, "form": form, "refusal": refusal}
    status = 422 if request.method == "POST" and not conflicts.reopening(request) else 200
    return render(request, "incidents/amend.html", context, status=status)


@site_view(*CORRECTORS)
@require_http_methods(["GET", "POST"])
def amend_outcome(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Correct a mis-tapped outcome or the hospital, with a reason; the original stays."""
    incident = access_incident(site, pk)
    refusal = ""
    if request.method == "POST":
        form = forms.AmendOutcomeForm(request.POST)
        if conflicts.reopening(request):
            conflicts.reopened(request)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                actions.amend_outcome(
                    incident=incident,
                    outcome=data["outcome"],
                    hospital=data["hospital"],
                    reason=data["reason"],
                    expected_version=data["version"],
                    by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except versioning.StaleEdit as stale:
                return _conflict(request, site, incident, stale, _outcome_rows(form))
            except ActionRefused as error:
                refusal = error.message
            else:
                messages.success(request, _("Outcome corrected. The original stays in the record."))
                return redirect("incidents:detail", site=site.slug, pk=incident.pk)
    else:
        form = forms.AmendOutcomeForm(
            initial={
                "outcome": incident.effective_outcome,
                "hospital": incident.effective_hospital,
                "version": incident.version,
            }
        )
    context = {"site": site, "incident": incident, "form": form, "refusal": refusal}
    status = 422 if request.method == "POST" and not conflicts.reopening(request) else 200
    return render(request, "incidents/amend_outcome.html", context, status=status)


@site_view(*CORRECTORS)
@require_http_methods(["GET", "POST"])
def amend_intervention(request: HttpRequest, site: Site, pk: int, step: int) -> HttpResponse:
    """Correct an intervention's time, or strike it out as recorded in error, with a reason."""
    incident = access_incident(site, pk)
    intervention = access_intervention(incident, step)
    refusal = ""
    if request.method == "POST":
        form = forms.AmendInterventionForm(request.POST)
        if conflicts.reopening(request):
            conflicts.reopened(request)
        elif form.is_valid():
            data = form.cleaned_data
            in_error = data["change"] == forms.AmendInterventionForm.IN_ERROR
            try:
                actions.amend_intervention(
                    intervention=intervention,
                    new_at=None if in_error else data["new_at"],
                    in_error=in_error,
                    reason=data["reason"],
                    expected_version=data["version"],
                    by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except versioning.StaleEdit as stale:
                rows = _intervention_rows(form, intervention.pk)
                return _conflict(request, site, incident, stale, rows)
            except ActionRefused as error:
                refusal = error.message
            else:
                messages.success(request, _("Corrected. The original stays in the record."))
                return redirect("incidents:detail", site=site.slug, pk=incident.pk)
    else:
        form = forms.AmendInterventionForm(
            initial={"new_at": _local_input(site, intervention.time), "version": incident.version}
        )
    context = {
        "site": site,
        "incident": incident,
        "intervention": intervention,
        "form": form,
        "refusal": refusal,
    }
    status = 422 if request.method == "POST" and not conflicts.reopening(request) else 200
    return render(request, "incidents/amend_intervention.html", context, status=status)


# --- A correction a colleague overtook -------------------------------------------------------

# The comparison rows of a correction, given the incident as saved now.
_RowsFor = Callable[[Incident], list[conflicts.Row]]


def _conflict(
    request: HttpRequest,
    site: Site,
    incident: Incident,
    stale: versioning.StaleEdit,
    rows_for: _RowsFor,
) -> HttpResponse:
    """Another correction (or the kind, or the outcome) was saved while this person was
    correcting: the record as saved now beside their correction (409); nothing written."""
    saved = access_incident(site, incident.pk)
    _viewed(request, saved, "incident_conflict")
    return conflicts.conflict(
        request,
        stale=stale,
        record=saved,
        what=_("Incident %(pk)s") % {"pk": saved.pk},
        rows=rows_for(saved),
        back_url=reverse("incidents:detail", kwargs={"site": site.slug, "pk": saved.pk}),
        site=site,
    )


def _why(form: Any) -> conflicts.Row:
    return conflicts.Row(_("Why"), _("Not given"), form.cleaned_data["reason"])


def _time_rows(form: forms.AmendIncidentForm) -> _RowsFor:
    def rows(saved: Incident) -> list[conflicts.Row]:
        field, new_at = form.cleaned_data["field"], form.cleaned_data["new_at"]
        now = {"onset_at": saved.onset, "outcome_at": saved.outcome_time}
        return [
            conflicts.Row(
                str(label),
                conflicts.plain(now[value]),
                conflicts.plain(new_at if value == field else now[value]),
            )
            for value, label in IncidentAmendment.Field.choices
        ] + [_why(form)]

    return rows


def _outcome_rows(form: forms.AmendOutcomeForm) -> _RowsFor:
    def rows(saved: Incident) -> list[conflicts.Row]:
        outcome = form.fields["outcome"]
        data = form.cleaned_data
        hospital = data["hospital"] if data["outcome"] == Outcome.HOSPITAL else ""
        return [
            conflicts.Row(
                str(outcome.label),
                conflicts.shown(outcome, saved.effective_outcome),
                conflicts.shown(outcome, form.cleaned_data["outcome"]),
            ),
            conflicts.Row(
                str(form.fields["hospital"].label),
                conflicts.plain(saved.effective_hospital),
                conflicts.plain(hospital),
            ),
            _why(form),
        ]

    return rows


def _intervention_rows(form: forms.AmendInterventionForm, step_pk: int) -> _RowsFor:
    def rows(saved: Incident) -> list[conflicts.Row]:
        step = next(s for s in saved.interventions.all() if s.pk == step_pk)
        in_error = form.cleaned_data["change"] == forms.AmendInterventionForm.IN_ERROR
        struck = _("Recorded in error")
        return [
            conflicts.Row(
                step.summary(),
                struck if step.struck is not None else conflicts.plain(step.time),
                struck if in_error else conflicts.plain(form.cleaned_data["new_at"]),
            ),
            _why(form),
        ]

    return rows


def screen_url(incident: Incident) -> str:
    return reverse("incidents:screen", kwargs={"site": incident.site.slug, "pk": incident.pk})
