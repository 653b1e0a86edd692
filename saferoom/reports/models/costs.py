"""Operating cost entered for a site and month (indicator C1 and the evaluation's facility
cost). Entries are never edited: a correction is a later entry for the same month, and the
month's cost is its latest entry, so the history of what was reported stays readable."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.sites.models import Site


class OperatingCost(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="operating_costs")
    month = models.DateField(_("month"), help_text=_("The first day of the month it covers."))
    amount = models.DecimalField(_("operating cost"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="GBP")
    note = models.CharField(_("what it includes (no names)"), max_length=200, blank=True)
    reason = models.CharField(_("why it was corrected"), max_length=200, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered"))

    class Meta:
        db_table = "reports_operatingcost"
        ordering = ["site", "month", "-entered_at", "-id"]
        indexes = [
            models.Index(fields=["site", "month", "entered_at"], name="opcost_site_month_idx")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opcost_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.month:%Y-%m}: {self.amount} {self.currency}"

    def audit_label(self) -> str:
        return f"operating cost {self.pk} ({self.month:%Y-%m})"
