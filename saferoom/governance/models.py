"""Disclosures of one client's identifiable record to someone outside the service (a court, a
client's own solicitor with their consent, safeguarding), each with its legal basis, approved
by a second person, and accounted for every time it is released."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import Client
from saferoom.core.fields import SealedTextField
from saferoom.sites.models import Site


class LegalBasis(models.TextChoices):
    CONSENT = "consent", _("The client's written consent")
    COURT_ORDER = "court_order", _("Court order (PACE 1984 Schedule 1, or equivalent)")
    VITAL_INTERESTS = "vital_interests", _("Safeguarding or vital interests")
    OTHER_STATUTORY = "other_statutory", _("Another statutory duty to disclose")


class Disclosure(models.Model):
    """A request to disclose one client's record. Opened by a manager, approved or refused by a
    different manager or administrator, then released once as a one-client export."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for a second person to decide")
        APPROVED = "approved", _("Approved, not yet released")
        REFUSED = "refused", _("Refused")
        RELEASED = "released", _("Released")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="disclosures")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="disclosures")
    recipient = models.CharField(_("who receives it"), max_length=200)
    legal_basis = models.CharField(_("legal basis"), max_length=20, choices=LegalBasis.choices)
    reference = models.CharField(_("reference"), max_length=120)
    # Why, and the decision's note, are encrypted at rest: they tell the client's story. The
    # recipient and reference stay searchable: they name the requester, not the client.
    justification = SealedTextField(_("why this disclosure is necessary"), max_length=2000)
    include_identity = models.BooleanField(_("include the consented identity record"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_note = SealedTextField(_("note on the decision"), max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_at__isnull=True, decided_by__isnull=True)
                | Q(decided_at__isnull=False, decided_by__isnull=False),
                name="disclosure_decided_pair",
            ),
            # Segregation of duties: whoever asked cannot approve.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="disclosure_decided_by_another_person",
            ),
            models.CheckConstraint(
                condition=Q(status="requested", decided_at__isnull=True)
                | Q(~Q(status="requested"), decided_at__isnull=False),
                name="disclosure_status_matches_decision",
            ),
            models.CheckConstraint(
                condition=~Q(reference="") & ~Q(justification="") & ~Q(recipient=""),
                name="disclosure_has_its_basis",
            ),
        ]

    def __str__(self) -> str:
        return f"disclosure {self.pk}"

    def audit_label(self) -> str:
        return f"disclosure {self.pk} ({self.client.display_code})"


class DisclosureRelease(models.Model):
    """The accounting of disclosures: one row for each time a client's record left the service,
    saying what, to whom, on what basis and by whom, with a hash of what was released."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.PROTECT, related_name="releases")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    recipient = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices)
    reference = models.CharField(max_length=120)
    released_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    contents = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-released_at", "-id"]

    def __str__(self) -> str:
        return f"release of disclosure {self.disclosure_id}"

    def audit_label(self) -> str:
        return f"release of disclosure {self.disclosure_id}"
