"""Referrals to other services, their follow-ups, and the consented identity record.

A referral is pseudonymous like everything else: it names the client by code only. When the
service needs a real identity (name, date of birth, contact, health number), that goes in a
separate IdentityRecord: recorded with the person's consent, encrypted at rest, opened only by
named people (the site's managers and administrators, and staff a manager has granted), every
opening audited. Nothing here is ever deleted: corrections are amendments with a reason, and
withdrawing consent erases the identity details but keeps the record that consent existed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import Client
from saferoom.core.fields import SealedTextField
from saferoom.core.versioning import version_field
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Site


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    SOON = "soon", _("Soon")
    URGENT = "urgent", _("Urgent")


# Days from the referral to its first follow-up, by urgency (the person making the referral
# may choose another date). Urgent: within two days, while the person is still reachable.
FOLLOW_UP_DAYS = {Urgency.URGENT: 2, Urgency.SOON: 7, Urgency.ROUTINE: 14}
URGENCY_RANK = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


class Referral(models.Model):
    class Status(models.TextChoices):
        MADE = "made", _("Made, waiting for follow-up")
        ATTENDED = "attended", _("Attended")
        DECLINED = "declined", _("Declined")
        UNKNOWN = "unknown", _("Not known (did not attend, lost contact)")

    CLOSED = ("attended", "declined", "unknown")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="referrals")
    # Empty for an anonymous visit: the referral is counted, but cannot be followed up by name.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    target = models.ForeignKey(
        CatalogueItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("referred to")
    )
    # The target's reporting group when the referral was made (housing, drug treatment…), so
    # counts by kind do not move when a manager later edits the list.
    category = models.CharField(_("kind"), max_length=30)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    made_at = models.DateTimeField(_("made"), db_index=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    follow_up_due = models.DateField(_("follow up by"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.MADE
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Follow-ups and corrections are version-checked (saferoom.core.versioning).
    version = version_field()
    # When the retention schedule cleared its free text (saferoom.core.retention): the job
    # picks referrals by this, as sealed text cannot be compared with what it wrote.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "referrals_referral"
        ordering = ["-made_at", "-id"]
        indexes = [
            # The follow-ups due list: a site's open referrals by due date.
            models.Index(fields=["site", "status", "follow_up_due"], name="referral_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(client__isnull=False) | Q(visit__isnull=False),
                name="referral_has_client_or_visit",
            ),
            models.CheckConstraint(
                condition=Q(status="made", closed_at__isnull=True, closed_by__isnull=True)
                | Q(status__in=["attended", "declined", "unknown"])
                & Q(closed_at__isnull=False, closed_by__isnull=False),
                name="referral_closed_iff_outcome",
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=["routine", "soon", "urgent"]),
                name="referral_urgency_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"referral {self.pk}"

    def audit_label(self) -> str:
        who = self.client.display_code if self.client_id and self.client else "anonymous"
        return f"referral {self.pk} ({who})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.MADE

    def who(self) -> str:
        if self.client_id and self.client is not None:
            return self.client.display_code
        return str(_("Anonymous visitor"))


class FollowUp(models.Model):
    """One attempt to find out what happened: dated, by whom, how, and the outcome. A final
    outcome closes the referral; 'not known yet' sets the next follow-up date."""

    class Outcome(models.TextChoices):
        ATTENDED = "attended", _("Attended")
        DECLINED = "declined", _("Declined")
        UNKNOWN = "unknown", _("Not known: did not attend or lost contact")
        NOT_YET = "not_yet", _("Not known yet: try again later")

    class Method(models.TextChoices):
        IN_PERSON = "in_person", _("Asked them in person")
        PHONE = "phone", _("By phone")
        SERVICE = "service", _("The service told us")
        OTHER = "other", _("Other")

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="follow_ups")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    method = models.CharField(_("how"), max_length=10, choices=Method.choices)
    # Free text is encrypted at rest (SealedTextField), in the column it always had.
    note = SealedTextField(_("note"), blank=True, db_column="sealed_note")
    next_due = models.DateField(_("next follow-up"), null=True, blank=True)

    class Meta:
        db_table = "referrals_followup"
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="not_yet", next_due__isnull=False)
                | (~Q(outcome="not_yet") & Q(next_due__isnull=True)),
                name="followup_next_due_iff_not_yet",
            ),
        ]

    def __str__(self) -> str:
        return f"follow-up {self.pk}"

    def audit_label(self) -> str:
        return f"follow-up {self.pk} of referral {self.referral_id}"


class ReferralAmendment(models.Model):
    """A correction of a referral: what changed (old and new values), why, who and when."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="amendments")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # {"field": [old shown value, new shown value]}
    changes = models.JSONField()
    # Encrypted at rest, and kept here only: the audit event names the amendment, not the text.
    reason = SealedTextField(_("why"), max_length=200)

    class Meta:
        db_table = "referrals_amendment"
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="amendment_has_reason"),
        ]

    def __str__(self) -> str:
        return f"amendment {self.pk}"

    def audit_label(self) -> str:
        return f"amendment {self.pk} of referral {self.referral_id}"


@dataclass(frozen=True)
class IdentityDetails:
    """The identity a service needs. Only ever held in memory, decrypted for a named person."""

    full_name: str
    date_of_birth: str = ""  # ISO date, or empty
    contact: str = ""
    health_number: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IdentityDetails:
        data = json.loads(text)
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})

    def date_of_birth_as_date(self) -> date | None:
        return date.fromisoformat(self.date_of_birth) if self.date_of_birth else None

    def __repr__(self) -> str:  # never print the content by accident (logs, tracebacks)
        return "IdentityDetails(<sealed>)"


class IdentityRecord(models.Model):
    """A client's real identity, kept for referrals that need it, with the person's consent."""

    class Scope(models.TextChoices):
        THIS_REFERRAL = "this_referral", _("For this referral only")
        REFERRALS = "referrals", _("For this and later referrals from this site")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="identity_records")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="identity_records")
    referrals = models.ManyToManyField(Referral, related_name="identity_records", blank=True)
    # IdentityDetails as JSON (``IdentityDetails.from_json``), encrypted at rest with the newest
    # field key. Empty once consent is withdrawn (the details are erased).
    details_json = SealedTextField(blank=True, db_column="sealed_details")
    consent_scope = models.CharField(_("consent given"), max_length=20, choices=Scope.choices)
    consent_given_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    consent_withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "referrals_identityrecord"
        ordering = ["-consent_given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "client"],
                condition=Q(consent_withdrawn_at__isnull=True),
                name="identity_one_consented_per_client_and_site",
            ),
            models.CheckConstraint(
                condition=Q(consent_withdrawn_at__isnull=True, consent_withdrawn_by__isnull=True)
                | Q(consent_withdrawn_at__isnull=False, consent_withdrawn_by__isnull=False),
                name="identity_withdrawn_pair",
            ),
            # Withdrawn consent: the details are gone.
            models.CheckConstraint(
                condition=Q(consent_withdrawn_at__isnull=True) | Q(details_json=""),
                name="identity_withdrawn_erased",
            ),
        ]

    def __str__(self) -> str:
        return f"identity record {self.pk}"

    def audit_label(self) -> str:
        return f"identity record {self.pk} ({self.client.display_code})"

    @property
    def consented(self) -> bool:
        return self.consent_withdrawn_at is None


class IdentityAccessGrant(models.Model):
    """A manager's decision that one member of staff (desk or floor) may open the site's
    identity records, with a reason, until an optional end or until revoked."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="identity_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="identity_grants"
    )
    # Encrypted at rest, and kept here only: the audit event says that one was given.
    reason = SealedTextField(_("why they need it"), max_length=200)
    granted_at = models.DateTimeField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField(_("until"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "referrals_identityaccessgrant"
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "user"],
                condition=Q(revoked_at__isnull=True),
                name="identity_grant_one_open_per_user_and_site",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="identity_grant_revoked_pair",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="identity_grant_has_reason"),
        ]

    def __str__(self) -> str:
        return f"identity access grant {self.pk}"

    def audit_label(self) -> str:
        return f"identity access of {self.user.get_username()}"


class IdentityOpening(models.Model):
    """One opening of an identity record: who, when, and why (a reason from the list, and in
    their own words when it is "other"). The words are kept here, encrypted, and nowhere else:
    the audit event names this row. They go with the record when the retention schedule
    deletes it."""

    class Reason(models.TextChoices):
        REFERRAL = "referral", _("To make or send the referral")
        FOLLOW_UP = "follow_up", _("To follow up the referral")
        UPDATE = "update", _("The person asked to check or update their details")
        OTHER = "other", _("Other (say why)")

    record = models.ForeignKey(IdentityRecord, on_delete=models.CASCADE, related_name="openings")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("why"), max_length=10, choices=Reason.choices)
    note = SealedTextField(_("why, in their words"), max_length=200, blank=True)

    class Meta:
        db_table = "referrals_identityopening"
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=["referral", "follow_up", "update", "other"]),
                name="identity_opening_reason_valid",
            ),
            models.CheckConstraint(
                condition=~Q(reason="other") | ~Q(note=""), name="identity_opening_other_says_why"
            ),
        ]

    def __str__(self) -> str:
        return f"identity opening {self.pk}"

    def audit_label(self) -> str:
        return f"opening {self.pk} of identity record {self.record_id}"
