"""Security alerts for managers (too many searches or record views, break-glass use) and the
break-glass grants themselves. Imported by ``saferoom.core.models``.

Sites and clients are held by id without foreign keys, like the audit trail: core comes before
sites and clients, and an alert or a grant must outlive what it was about.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.core.fields import SealedTextField


class BreakGlassGrant(models.Model):
    """Emergency access, with a reason, for one person to one client's history at every site
    of the network, until ``expires_at``. Never changed after it is made; it simply lapses."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    client_id = models.BigIntegerField()
    client_label = models.CharField(max_length=150)  # the display code, as in the audit trail
    site_id = models.BigIntegerField()  # where the person asked for it
    network_id = models.BigIntegerField()
    reason = SealedTextField(_("reason"))  # encrypted at rest: it may name the emergency
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "core_breakglassgrant"
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["user", "client_id", "expires_at"], name="breakglass_lookup_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("started_at")),
                name="breakglass_expires_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"break-glass {self.pk} for {self.client_label}"

    def audit_label(self) -> str:
        return f"break-glass {self.pk}"


class SecurityAlert(models.Model):
    """Something a site's managers must look at: someone searched or opened records faster
    than anyone needs to, or used break-glass. Open until a manager marks it as reviewed."""

    class Kind(models.TextChoices):
        SEARCH_LIMIT = "search_limit", _("Too many client searches")
        RECORD_LIMIT = "record_limit", _("Too many client records opened")
        BREAK_GLASS = "break_glass", _("Break-glass access")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    site_id = models.BigIntegerField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="security_alerts"
    )
    raised_at = models.DateTimeField()
    # A person who keeps going past a limit raises one alert per window, counted here.
    last_at = models.DateTimeField()
    times = models.PositiveIntegerField(default=1)
    grant = models.ForeignKey(
        BreakGlassGrant, on_delete=models.PROTECT, null=True, blank=True, related_name="alerts"
    )
    detail = models.JSONField(default=dict, blank=True)  # counts and limits, never content
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    review_note = SealedTextField(blank=True)  # encrypted at rest

    class Meta:
        db_table = "core_securityalert"
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True, reviewed_by__isnull=True)
                | Q(reviewed_at__isnull=False, reviewed_by__isnull=False),
                name="securityalert_reviewed_at_and_by",
            ),
            models.CheckConstraint(
                condition=Q(kind="break_glass", grant__isnull=False)
                | (~Q(kind="break_glass") & Q(grant__isnull=True)),
                name="securityalert_grant_iff_break_glass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.user}"

    def audit_label(self) -> str:
        return f"security alert {self.pk}"


class RateTally(models.Model):
    """How many searches (or record views) one person made in one minute: the sliding window
    of ``saferoom.core.ratelimit`` adds up the last few minutes' rows. Rows older than the
    window are removed as new ones are made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "core_ratetally"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "minute"], name="ratetally_one_row_per_minute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.minute:%H:%M} × {self.count}"
