"""Visits: one arrival at a site, from the desk's check-in through the queue to leaving, or a
turn-away. (Consumption sessions, the board and after-care build on this.)

Every write to a visit must set ``changed_at`` to the wall-clock time: ``save()`` does it by
itself (``auto_now``), but a queryset ``update()`` (a conditional claim) must set it too, or the
queue and the board will not notice the change when they poll."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import Client, OtherwiseLocation
from saferoom.core.fields import SealedTextField
from saferoom.sites.models import CatalogueItem, Route, Site


class Visit(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        IN_SPACE = "in_space", _("In a space")
        AFTERCARE = "aftercare", _("In after-care")
        LEFT = "left", _("Left")
        TURNED_AWAY = "turned_away", _("Turned away")

    class EndReason(models.TextChoices):
        CHECKED_OUT = "checked_out", _("Checked out")
        LEFT_QUEUE = "left_queue", _("Left the queue before being seen")
        LEFT_WITHOUT_CHECKOUT = "left_without_checkout", _("Left without check-out")
        TURNED_AWAY = "turned_away", _("Turned away")

    class Alone(models.TextChoices):
        YES = "yes", _("Yes, alone")
        NO = "no", _("No, with others")
        NOT_SAID = "not_said", _("Did not say")

    OPEN_STATES = ("waiting", "in_space", "aftercare")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="visits")
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )
    anonymous = models.BooleanField(_("anonymous visit"), default=False)
    arrived_at = models.DateTimeField(_("arrived"), db_index=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    planned_route = models.CharField(_("route"), max_length=10, choices=Route.choices, blank=True)
    planned_substances = models.ManyToManyField(
        CatalogueItem, blank=True, related_name="+", verbose_name=_("substances")
    )
    otherwise_location = models.CharField(
        _("where they would otherwise have used"),
        max_length=16,
        choices=OtherwiseLocation.choices,
        default=OtherwiseLocation.NOT_SAID,
    )
    would_use_alone = models.CharField(
        _("would they have used alone"), max_length=10, choices=Alone.choices, default="not_said"
    )
    eligibility = models.JSONField(_("eligibility answers"), default=dict, blank=True)
    turnaway_reason = models.ForeignKey(
        CatalogueItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.CharField(max_length=24, choices=EndReason.choices, blank=True)
    # When the row last changed, by the server's clock (not the action's ``at``, which may be
    # replayed history): the queue's and board's poll versions are built from it.
    changed_at = models.DateTimeField(auto_now=True)
    aftercare_started_at = models.DateTimeField(_("into after-care"), null=True, blank=True)
    stop = models.ForeignKey(
        "floor.MobileStop", on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )

    class Meta:
        db_table = "floor_visit"
        ordering = ["arrived_at", "id"]
        indexes = [
            # The queue reads a site's waiting visits oldest first, without touching the rest
            # of its history (which grows by hundreds of visits a day).
            models.Index(fields=["site", "state", "arrived_at"], name="visit_site_state_idx"),
            models.Index(fields=["site", "arrived_at"], name="visit_site_arrived_idx"),
            models.Index(fields=["site", "changed_at", "id"], name="visit_site_changed_idx"),
        ]
        constraints = [
            # One open visit per client per site: a double check-in from two desks, or a retry
            # that slipped past the idempotency key, fails here instead of queueing them twice.
            models.UniqueConstraint(
                fields=["site", "client"],
                condition=Q(state__in=["waiting", "in_space", "aftercare"]),
                name="visit_one_open_per_client_and_site",
            ),
            # A turn-away always says why, and only turn-aways carry a reason.
            models.CheckConstraint(
                condition=Q(state="turned_away", turnaway_reason__isnull=False)
                | (~Q(state="turned_away") & Q(turnaway_reason__isnull=True)),
                name="visit_turnaway_has_reason",
            ),
            # Anonymous visits are not linked to a client; every other admitted visit is.
            models.CheckConstraint(
                condition=Q(anonymous=True, client__isnull=True)
                | Q(anonymous=False, client__isnull=False)
                | Q(anonymous=False, state="turned_away"),
                name="visit_client_or_anonymous",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, ended_by__isnull=True, end_reason="")
                | (Q(ended_at__isnull=False) & ~Q(end_reason="")),
                name="visit_ended_fields_paired",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("arrived_at")),
                name="visit_ends_after_arrival",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["waiting", "in_space", "aftercare"], ended_at__isnull=True)
                | Q(state__in=["left", "turned_away"], ended_at__isnull=False),
                name="visit_open_iff_not_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"visit {self.pk}"

    def audit_label(self) -> str:
        if self.client_id is not None and self.client is not None:
            who = self.client.display_code
        else:
            who = "anonymous" if self.anonymous else "unregistered"
        return f"visit {self.pk} ({who})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class ConsumptionSession(models.Model):
    """A visit's time in one seat of one space: started, checked on, ended, cleared down.

    The partial unique constraint on (space, seat) among sessions not yet ended is what makes
    assignment atomic: two devices assigning the same seat at once cannot both insert."""

    class EndReason(models.TextChoices):
        FINISHED = "finished", _("Finished")
        EMERGENCY = "emergency", _("Ended by an emergency")
        LEFT = "left", _("Left the space")
        CLOSING = "closing", _("Closed at closing time")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="sessions")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="sessions")
    space = models.ForeignKey("sites.Space", on_delete=models.PROTECT, related_name="sessions")
    seat = models.PositiveSmallIntegerField(_("seat"), default=1)
    route = models.CharField(_("route"), max_length=10, choices=Route.choices)
    substances = models.ManyToManyField(CatalogueItem, blank=True, related_name="+")
    started_at = models.DateTimeField(_("started"), db_index=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    check_interval_minutes = models.PositiveSmallIntegerField()
    next_check_due_at = models.DateTimeField()
    last_check_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Set by the board's emergency control: the person is being treated where they are.
    emergency_at = models.DateTimeField(null=True, blank=True)
    emergency_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.CharField(max_length=12, choices=EndReason.choices, blank=True)
    # The seat is free again only when its clear-down (cleaning, ventilation) is over.
    clear_down_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "floor_consumptionsession"
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["site", "ended_at"], name="session_site_ended_idx"),
            models.Index(fields=["site", "clear_down_until"], name="session_site_cleardown_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["space", "seat"],
                condition=Q(ended_at__isnull=True),
                name="session_one_open_per_seat",
            ),
            models.UniqueConstraint(
                fields=["visit"],
                condition=Q(ended_at__isnull=True),
                name="session_one_open_per_visit",
            ),
            models.CheckConstraint(condition=Q(seat__gte=1), name="session_seat_positive"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, end_reason="", clear_down_until__isnull=True)
                | (Q(ended_at__isnull=False) & ~Q(end_reason="")),
                name="session_ended_fields_paired",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="session_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(clear_down_until__isnull=True)
                | Q(clear_down_until__gte=models.F("ended_at")),
                name="session_clear_down_after_end",
            ),
        ]

    def __str__(self) -> str:
        return f"session {self.pk}"

    def audit_label(self) -> str:
        return f"session {self.pk} (visit {self.visit_id})"


class SessionCheck(models.Model):
    """One check on someone in a space: who looked, when, and what they saw."""

    class Outcome(models.TextChoices):
        OK = "ok", _("All right")
        ROUSED = "roused", _("Needed rousing")
        CONCERN = "concern", _("Concern: watching closely")

    session = models.ForeignKey(ConsumptionSession, on_delete=models.PROTECT, related_name="checks")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    was_overdue = models.BooleanField(default=False)

    class Meta:
        db_table = "floor_sessioncheck"
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"check {self.pk}"

    def audit_label(self) -> str:
        return f"check of session {self.session_id}"


class BoardState(models.Model):
    """Per site: a version number bumped by every change the board shows (so an unchanged
    board answers a poll with one tiny query), and who is shift lead now."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, primary_key=True)
    version = models.BigIntegerField(default=0)
    shift_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "floor_boardstate"

    def __str__(self) -> str:
        return f"board of site {self.site_id} v{self.version}"


class Escalation(models.Model):
    """A missed check passed to the shift lead by the worker; stays until acknowledged."""

    session = models.ForeignKey(
        ConsumptionSession, on_delete=models.PROTECT, related_name="escalations"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField()
    escalated_at = models.DateTimeField()
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "floor_escalation"
        ordering = ["escalated_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "due_at"], name="escalation_once_per_due"),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                name="escalation_ack_paired",
            ),
        ]

    def __str__(self) -> str:
        return f"escalation {self.pk}"

    def audit_label(self) -> str:
        return f"escalation {self.pk} (session {self.session_id})"


class MobileStop(models.Model):
    """Where a mobile unit stood, and when it opened and closed there."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="stops")
    place = models.CharField(_("where the unit stands"), max_length=120)
    opened_at = models.DateTimeField(_("opened"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Encrypted at rest, like every free-text note (it may still describe people).
    note = SealedTextField(_("note (no names)"), max_length=200, blank=True)

    class Meta:
        db_table = "floor_mobilestop"
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"], condition=Q(closed_at__isnull=True), name="stop_one_open_per_site"
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, closed_by__isnull=True)
                | (Q(closed_at__isnull=False) & Q(closed_at__gte=models.F("opened_at"))),
                name="stop_closed_after_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"stop {self.place}"

    def audit_label(self) -> str:
        return f"stop {self.pk}"
