"""Incidents (overdoses, medical and non-medical events) and their timed interventions.

Clinical records are never deleted and their times are never overwritten: a time recorded in
the heat of the moment is corrected by an amendment with a reason (``IncidentAmendment``,
``InterventionAmendment``); the original row keeps its value and the pages show the latest
amended time beside the history. A mis-tapped outcome or hospital is corrected the same way
(``OutcomeAmendment``; ``Incident.effective_outcome``). Notes and the debrief are append-only
rows too.

Fields named for reports (domain.md §2.1, minimum incident record): ``onset_at``, ``kind``,
``outcome``, naloxone doses (one ``Intervention`` each, with dose and route), ambulance called
and arrived (interventions), transfer (``outcome`` = hospital, ``hospital``), died."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import Client
from saferoom.core.fields import SealedTextField
from saferoom.core.versioning import version_field
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Site, Space

# A single naloxone dose, in mg. Doses in use: 0.04 mg IV titration steps (the smallest), 0.4 mg
# IM (the usual ampoule, repeated every 2–3 minutes), 0.8 mg, 1.8 mg and 2 mg intranasal sprays,
# up to 4 mg IN in some kits; 10 mg is the most ever given at once in hospital protocols. A
# value outside this range is a slip of the finger (mg vs µg, a misplaced decimal point).
NALOXONE_MIN_MG = Decimal("0.04")
NALOXONE_MAX_MG = Decimal("10")
OXYGEN_MAX_L_MIN = 15
BREATHING_RATE_MAX = 60


class Kind(models.TextChoices):
    OPIOID = "opioid", _("Opioid overdose")
    STIMULANT = "stimulant", _("Stimulant over-amping")
    SEDATIVE = "sedative", _("Sedative or benzodiazepine")
    SEIZURE = "seizure", _("Seizure")
    AGITATION = "agitation", _("Agitation or psychosis")
    OTHER_MEDICAL = "other_medical", _("Other medical")
    VIOLENCE = "violence", _("Violence or threat")
    DEALING = "dealing", _("Dealing or sharing on the premises")
    POLICE = "police", _("Police contact")
    SUBSTANCE_FOUND = "substance_found", _("Substance left behind or found")


MEDICAL_KINDS = frozenset(
    {Kind.OPIOID, Kind.STIMULANT, Kind.SEDATIVE, Kind.SEIZURE, Kind.AGITATION, Kind.OTHER_MEDICAL}
)


class Outcome(models.TextChoices):
    RECOVERED = "recovered", _("Recovered on site")
    HOSPITAL = "hospital", _("Transferred to hospital")
    REFUSED_TRANSFER = "refused_transfer", _("Refused transfer")
    LEFT_AGAINST_ADVICE = "left_against_advice", _("Left against advice")
    DIED = "died", _("Died")
    RESOLVED = "resolved", _("Dealt with on site (no medical need)")


class Location(models.TextChoices):
    SPACE = "space", _("In a booth or room")
    LOUNGE = "lounge", _("Lounge or after-care")
    DOOR = "door", _("At the door or entrance")
    TOILET = "toilet", _("Toilet")
    OUTSIDE = "outside", _("Outside the site")
    OTHER = "other", _("Elsewhere on site")


class Incident(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="incidents")
    # Empty while nobody has said yet what is happening (the screen asks with big buttons);
    # closing needs it.
    kind = models.CharField(_("what happened"), max_length=20, choices=Kind.choices, blank=True)
    # As first recorded; corrections are IncidentAmendment rows (see ``onset``).
    onset_at = models.DateTimeField(_("onset"), db_index=True)
    started_at = models.DateTimeField(_("recorded at"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    session = models.ForeignKey(
        ConsumptionSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    space = models.ForeignKey(
        Space, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    location = models.CharField(
        _("where"), max_length=10, choices=Location.choices, default=Location.SPACE
    )
    # Free text is encrypted at rest (SealedTextField): it can be read, never searched.
    location_detail = SealedTextField(_("where exactly (no names)"), max_length=120, blank=True)
    staff_present = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("staff present")
    )

    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    outcome_at = models.DateTimeField(_("outcome time"), null=True, blank=True)
    outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hospital = models.CharField(_("which hospital"), max_length=120, blank=True)
    outcome_reason = SealedTextField(
        _("why the outcome comes before the last intervention"), max_length=300, blank=True
    )

    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_note = SealedTextField(_("manager's review"), blank=True)
    # Corrections are version-checked (saferoom.core.versioning). The kind and the outcome
    # move it too; taps on the timeline, notes and the review do not.
    version = version_field()
    # When the retention schedule cleared its free text (saferoom.core.retention): the job
    # picks incidents by this, as sealed text cannot be compared with what it wrote.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "incidents_incident"
        ordering = ["-onset_at", "-id"]
        indexes = [
            models.Index(fields=["site", "onset_at"], name="incident_site_onset_idx"),
            models.Index(fields=["site", "reviewed_at"], name="incident_site_reviewed_idx"),
        ]
        constraints = [
            # One incident per emergency on the board: a second nurse pressing too, or a retry,
            # lands on the same record.
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(session__isnull=False),
                name="incident_one_per_session",
            ),
            models.CheckConstraint(
                condition=Q(outcome="", outcome_at__isnull=True, outcome_by__isnull=True)
                | (~Q(outcome="") & Q(outcome_at__isnull=False)),
                name="incident_outcome_fields_paired",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="hospital") | ~Q(hospital=""),
                name="incident_transfer_names_hospital",
            ),
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True, reviewed_by__isnull=True)
                | (Q(reviewed_at__isnull=False, reviewed_by__isnull=False) & ~Q(outcome="")),
                name="incident_review_after_outcome",
            ),
            # No "outcome after onset" constraint here: the onset that counts is the latest
            # amended one (an amendment row), which the actions check; the first-recorded
            # onset may be later than the true one.
        ]

    def __str__(self) -> str:
        return f"incident {self.pk}"

    def audit_label(self) -> str:
        if self.client_id is not None and self.client is not None:
            return f"incident {self.pk} ({self.client.display_code})"
        return f"incident {self.pk}"

    @property
    def is_closed(self) -> bool:
        return self.reviewed_at is not None

    @property
    def is_medical(self) -> bool:
        return self.kind in MEDICAL_KINDS

    def _latest(self, field: str) -> IncidentAmendment | None:
        found = [a for a in self.amendments.all() if a.field == field]
        return max(found, key=lambda a: (a.recorded_at, a.pk)) if found else None

    @property
    def onset(self) -> datetime:
        """The onset as last amended (the original stays in ``onset_at``)."""
        latest = self._latest(IncidentAmendment.Field.ONSET)
        return latest.new_at if latest is not None else self.onset_at

    @property
    def outcome_time(self) -> datetime | None:
        latest = self._latest(IncidentAmendment.Field.OUTCOME)
        return latest.new_at if latest is not None else self.outcome_at

    def _latest_outcome(self) -> OutcomeAmendment | None:
        found = list(self.outcome_amendments.all())
        return max(found, key=lambda a: (a.recorded_at, a.pk)) if found else None

    @property
    def effective_outcome(self) -> str:
        """The outcome as last amended (the original stays in ``outcome``)."""
        latest = self._latest_outcome()
        return latest.new_outcome if latest is not None else self.outcome

    @property
    def effective_hospital(self) -> str:
        """The hospital as last amended (the original stays in ``hospital``)."""
        latest = self._latest_outcome()
        return latest.new_hospital if latest is not None else self.hospital

    def effective_outcome_label(self) -> str:
        value = self.effective_outcome
        return str(Outcome(value).label) if value in Outcome.values else value

    def where(self) -> str:
        if self.space is not None:
            return str(self.space.name)
        label = str(Location(self.location).label)
        return f"{label}: {self.location_detail}" if self.location_detail else label


class Intervention(models.Model):
    """One thing done or seen, with its own time and who did it."""

    class Kind(models.TextChoices):
        STIMULATION = "stimulation", _("Stimulation (sternal rub, voice)")
        AIRWAY = "airway", _("Airway opened / recovery position")
        OXYGEN = "oxygen", _("Oxygen")
        VENTILATION = "ventilation", _("Rescue breaths / bag-valve-mask")
        NALOXONE = "naloxone", _("Naloxone")
        CPR_STARTED = "cpr_started", _("CPR started")
        CPR_STOPPED = "cpr_stopped", _("CPR stopped")
        DEFIBRILLATOR = "defibrillator", _("Defibrillator")
        AMBULANCE_CALLED = "ambulance_called", _("Ambulance called")
        AMBULANCE_ARRIVED = "ambulance_arrived", _("Ambulance arrived")
        HANDED_OVER = "handed_over", _("Handed to paramedics")
        OBSERVATION = "observation", _("Observation")
        POLICE_CALLED = "police_called", _("Police called")
        OTHER = "other", _("Other")

    class Route(models.TextChoices):
        IN = "IN", _("Intranasal (IN)")
        IM = "IM", _("Intramuscular (IM)")
        IV = "IV", _("Intravenous (IV)")

    class Avpu(models.TextChoices):
        A = "A", _("Alert")
        V = "V", _("Responds to voice")
        P = "P", _("Responds to pain")
        U = "U", _("Unresponsive")

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="interventions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # When it was done, as first recorded; corrections are InterventionAmendment rows.
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    naloxone_mg = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    naloxone_route = models.CharField(max_length=2, choices=Route.choices, blank=True)
    oxygen_l_min = models.PositiveSmallIntegerField(null=True, blank=True)
    breathing_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField(null=True, blank=True)
    avpu = models.CharField(max_length=1, choices=Avpu.choices, blank=True)
    note = SealedTextField(max_length=200, blank=True)

    class Meta:
        db_table = "incidents_intervention"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "kind"], name="intervention_kind_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="naloxone")
                | (
                    Q(naloxone_mg__gte=NALOXONE_MIN_MG, naloxone_mg__lte=NALOXONE_MAX_MG)
                    & Q(naloxone_route__in=["IN", "IM", "IV"])
                ),
                name="intervention_naloxone_dose_and_route",
            ),
            models.CheckConstraint(
                condition=~Q(kind="oxygen")
                | Q(oxygen_l_min__gte=1, oxygen_l_min__lte=OXYGEN_MAX_L_MIN),
                name="intervention_oxygen_flow",
            ),
            models.CheckConstraint(
                condition=Q(spo2__isnull=True) | Q(spo2__lte=100), name="intervention_spo2_range"
            ),
            models.CheckConstraint(
                condition=Q(breathing_rate__isnull=True)
                | Q(breathing_rate__lte=BREATHING_RATE_MAX),
                name="intervention_breathing_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return f"intervention {self.pk}"

    def audit_label(self) -> str:
        return f"intervention {self.pk} (incident {self.incident_id})"

    def _latest(self, field: str) -> InterventionAmendment | None:
        found = [a for a in self.amendments.all() if a.field == field]
        return max(found, key=lambda a: (a.recorded_at, a.pk)) if found else None

    @property
    def time(self) -> datetime:
        """The time as last amended (the original stays in ``at``)."""
        latest = self._latest(InterventionAmendment.Field.TIME)
        return latest.new_at if latest is not None and latest.new_at else self.at

    @property
    def struck(self) -> InterventionAmendment | None:
        """The amendment that says this was recorded in error (a mis-tap), if any."""
        return self._latest(InterventionAmendment.Field.ERROR)

    def summary(self) -> str:
        label = str(self.Kind(self.kind).label)
        if self.kind == self.Kind.NALOXONE and self.naloxone_mg is not None:
            return f"{label} {self.naloxone_mg.normalize():f} mg {self.naloxone_route}"
        if self.kind == self.Kind.OXYGEN and self.oxygen_l_min is not None:
            return f"{label} {self.oxygen_l_min} L/min"
        if self.kind == self.Kind.OBSERVATION:
            parts = []
            if self.breathing_rate is not None:
                parts.append(_("breathing %(n)s/min") % {"n": self.breathing_rate})
            if self.spo2 is not None:
                parts.append(f"SpO₂ {self.spo2}%")
            if self.avpu:
                parts.append(f"AVPU {self.avpu} ({self.Avpu(self.avpu).label})")
            return f"{label}: {', '.join(str(p) for p in parts)}"
        if self.note:
            return f"{label}: {self.note}"
        return label


class IncidentAmendment(models.Model):
    """A correction of an incident's time, with the reason. The incident row keeps the original."""

    class Field(models.TextChoices):
        ONSET = "onset_at", _("Onset")
        OUTCOME = "outcome_at", _("Outcome time")

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="amendments")
    field = models.CharField(max_length=12, choices=Field.choices)
    old_at = models.DateTimeField()
    new_at = models.DateTimeField()
    reason = SealedTextField(max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "incidents_incidentamendment"
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="incident_amendment_has_reason")
        ]

    def __str__(self) -> str:
        return f"amendment {self.pk}"

    def audit_label(self) -> str:
        return f"amendment {self.pk} (incident {self.incident_id})"


class OutcomeAmendment(models.Model):
    """A correction of an incident's outcome value (a mis-tapped outcome, the wrong hospital),
    with the reason. The incident row keeps the outcome and hospital first recorded."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="outcome_amendments"
    )
    old_outcome = models.CharField(max_length=20, choices=Outcome.choices)
    new_outcome = models.CharField(max_length=20, choices=Outcome.choices)
    old_hospital = models.CharField(max_length=120, blank=True)
    new_hospital = models.CharField(max_length=120, blank=True)
    reason = SealedTextField(max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "incidents_outcomeamendment"
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="outcome_amendment_has_reason"),
            models.CheckConstraint(
                condition=~Q(new_outcome="hospital") | ~Q(new_hospital=""),
                name="outcome_amendment_transfer_names_hospital",
            ),
        ]

    def __str__(self) -> str:
        return f"outcome amendment {self.pk}"

    def audit_label(self) -> str:
        return f"outcome amendment {self.pk} (incident {self.incident_id})"


class InterventionAmendment(models.Model):
    """A correction of one intervention: another time, or "recorded in error" (a mis-tap with
    gloves on). The intervention row keeps what was first recorded."""

    class Field(models.TextChoices):
        TIME = "at", _("Time")
        ERROR = "error", _("Recorded in error")

    intervention = models.ForeignKey(
        Intervention, on_delete=models.PROTECT, related_name="amendments"
    )
    field = models.CharField(max_length=5, choices=Field.choices)
    old_at = models.DateTimeField()
    new_at = models.DateTimeField(null=True, blank=True)
    reason = SealedTextField(max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "incidents_interventionamendment"
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""), name="intervention_amendment_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(field="error") | Q(new_at__isnull=False),
                name="intervention_amendment_time_has_new_time",
            ),
        ]

    def __str__(self) -> str:
        return f"amendment {self.pk}"

    def audit_label(self) -> str:
        return f"amendment {self.pk} (intervention {self.intervention_id})"


class IncidentNote(models.Model):
    """A note or the debrief, appended (never edited): the clinical file only grows."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        DEBRIEF = "debrief", _("Debrief")

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NOTE)
    text = SealedTextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        db_table = "incidents_incidentnote"
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="incident_note_not_empty")
        ]

    def __str__(self) -> str:
        return f"note {self.pk}"

    def audit_label(self) -> str:
        return f"note {self.pk} (incident {self.incident_id})"
