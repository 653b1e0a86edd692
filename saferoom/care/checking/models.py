"""Drug checks (what was tested, how, what was found, what the person decided) and drug alerts
a manager issues to every site of a network (domain.md §1.7)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.sites.models import CatalogueItem, Network, Site


class Method(models.TextChoices):
    FENTANYL_STRIP = "fentanyl_strip", _("Fentanyl test strip")
    BENZODIAZEPINE_STRIP = "benzodiazepine_strip", _("Benzodiazepine test strip")
    XYLAZINE_STRIP = "xylazine_strip", _("Xylazine test strip")
    FTIR = "ftir", _("FTIR spectrometer")
    OTHER = "other", _("Other method")


# A test strip answers one question: is this one substance there?
STRIP_TARGETS: dict[str, str] = {
    Method.FENTANYL_STRIP: "fentanyl",
    Method.BENZODIAZEPINE_STRIP: "benzodiazepine",
    Method.XYLAZINE_STRIP: "xylazine",
}
STRIP_METHODS = tuple(STRIP_TARGETS)


class StripResult(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")
    INVALID = "invalid", _("Invalid (no clear result)")


class Finding(models.TextChoices):
    FENTANYL = "fentanyl", _("Fentanyl")
    NITAZENE = "nitazene", _("Nitazene")
    XYLAZINE = "xylazine", _("Xylazine")
    BENZODIAZEPINE = "benzodiazepine", _("Benzodiazepine")
    AS_EXPECTED = "as_expected", _("As expected (nothing unexpected)")
    OTHER = "other", _("Something else")


class Timing(models.TextChoices):
    BEFORE = "before", _("Before use")
    AFTER = "after", _("After use")


class Decision(models.TextChoices):
    AS_PLANNED = "as_planned", _("Use as planned")
    REDUCE_DOSE = "reduce_dose", _("Reduce the dose")
    WITH_SOMEONE = "with_someone", _("Use with someone")
    DISPOSE = "dispose", _("Dispose of it")
    NOT_DECIDED = "not_decided", _("Not decided")


class DrugCheck(models.Model):
    """One sample checked at a site: for a visit, or for a walk-in (no visit)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="drug_checks")
    visit = models.ForeignKey(
        "floor.Visit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="drug_checks",
    )
    method = models.CharField(_("method"), max_length=24, choices=Method.choices)
    strip_result = models.CharField(
        _("strip result"), max_length=10, choices=StripResult.choices, blank=True
    )
    expected = models.ForeignKey(
        CatalogueItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("what they thought it was"),
    )
    found = models.JSONField(_("what was found"), default=list, blank=True)
    found_other = models.CharField(_("something else found"), max_length=80, blank=True)
    timing = models.CharField(_("before or after use"), max_length=6, choices=Timing.choices)
    decision = models.CharField(
        _("what they decided"), max_length=14, choices=Decision.choices, blank=True
    )
    checked_at = models.DateTimeField(_("checked at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "checking_drugcheck"
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["site", "checked_at"], name="drugcheck_site_at_idx")]
        constraints = [
            # A strip always has its result; other methods never do.
            models.CheckConstraint(
                condition=(Q(method__in=STRIP_METHODS) & ~Q(strip_result=""))
                | (Q(method__in=[Method.FTIR, Method.OTHER]) & Q(strip_result="")),
                name="drugcheck_strip_result_iff_strip",
            ),
            # A dose plan is made before use; a check after use has none.
            models.CheckConstraint(
                condition=(Q(timing=Timing.BEFORE) & ~Q(decision=""))
                | Q(timing=Timing.AFTER, decision=""),
                name="drugcheck_decision_iff_before_use",
            ),
        ]

    def __str__(self) -> str:
        return f"drug check {self.pk}"

    def audit_label(self) -> str:
        return f"drug check {self.pk}"

    @property
    def is_strip(self) -> bool:
        return self.method in STRIP_METHODS

    def found_labels(self) -> list[str]:
        """What was found, in words (the free text for "something else")."""
        labels = []
        for code in self.found:
            if code == Finding.OTHER and self.found_other:
                labels.append(self.found_other)
            else:
                labels.append(str(Finding(code).label) if code in Finding.values else code)
        return labels


class Severity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    DANGER = "danger", _("Danger")


class DrugAlert(models.Model):
    """A warning about the local drug supply, shown on every board and desk of the network until
    it expires or is withdrawn. Issued from one site; applies to the whole network."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="drug_alerts")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="+", verbose_name=_("issued from")
    )
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    message = models.CharField(_("message"), max_length=280)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField(_("shows until"))
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdraw_reason = models.CharField(_("why withdrawn"), max_length=200, blank=True)

    class Meta:
        db_table = "checking_drugalert"
        ordering = ["-issued_at", "-id"]
        indexes = [
            # Every board render asks for the network's alerts still showing.
            models.Index(fields=["network", "expires_at"], name="drugalert_network_exp_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("issued_at")),
                name="drugalert_expires_after_issue",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True, withdrawn_by__isnull=True)
                | Q(withdrawn_at__isnull=False, withdrawn_by__isnull=False),
                name="drugalert_withdrawn_fields_paired",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["info", "warning", "danger"]),
                name="drugalert_severity_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"drug alert {self.pk}"

    def audit_label(self) -> str:
        return f"drug alert {self.pk} ({self.severity})"
