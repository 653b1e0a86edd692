"""People who log in, the append-only audit trail, and idempotency keys for every create."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from saferoom.core.roles import Role
from saferoom.core.versioning import version_field


class User(AbstractUser):
    """A named member of staff. Roles are held per site through ``sites.Membership``."""

    display_name = models.CharField(_("name shown to colleagues"), max_length=80, blank=True)
    # Edits are version-checked (saferoom.core.versioning): the name and the
    # roles of the staff page.
    version = version_field()

    class Meta:
        db_table = "core_user"

    def __str__(self) -> str:
        return self.display_name or self.username

    def audit_label(self) -> str:
        return self.username


class AuditEvent(models.Model):
    """One thing someone did or looked at. Append-only; no foreign keys, so it outlives what it
    describes. Labels never hold personal data: clients appear by display code only."""

    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=150)
    role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=150, blank=True)
    site_id = models.BigIntegerField(null=True, db_index=True)
    site_label = models.CharField(max_length=120, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # The HMAC hash chain (saferoom.core.audit_chain): the previous event's row_hash, and this
    # event's HMAC over prev_hash and its own fields. Database triggers refuse UPDATE and DELETE.
    prev_hash = models.CharField(max_length=64, blank=True)
    row_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "core_auditevent"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_label}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """The end of the audit hash chain: one row, locked by every append so that two writers
    never chain onto the same event, and read by ``audit_verify`` so that events cut off the
    end of the chain are noticed. Its seal (an HMAC with the audit key, rewritten by every
    append) means that nobody without the key can move it back to hide the events they cut."""

    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    appended = models.BigIntegerField(default=0)
    seal = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "core_auditchainhead"

    def __str__(self) -> str:
        return f"audit chain head at event {self.last_id}"


class AuditCheckpoint(models.Model):
    """Where the audit chain starts after the retention job removed its oldest events: the last
    removed event's id and row_hash, and how many were removed, under an HMAC of their own so
    that nobody without the key can declare events "removed by retention". The delete trigger
    lets only events at or before the latest checkpoint go."""

    through_id = models.BigIntegerField(unique=True)
    through_hash = models.CharField(max_length=64)
    through_at = models.DateTimeField()
    removed = models.BigIntegerField()
    made_at = models.DateTimeField()
    seal = models.CharField(max_length=64)

    class Meta:
        db_table = "core_auditcheckpoint"
        ordering = ["-through_id"]

    def __str__(self) -> str:
        return f"audit checkpoint through event {self.through_id}"


class IdempotencyKey(models.Model):
    """Remembers a create that a form or API call made, so that a double tap, a retry or an
    offline replay with the same key returns the first result instead of a second record."""

    key = models.UUIDField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=60)
    fingerprint = models.CharField(max_length=64)
    object_type = models.CharField(max_length=60)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "core_idempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.key}"


class JobRun(models.Model):
    """A claim that a background job ran for one site and one period (closing the visits still
    open when a site's opening period ended). The unique constraint is the claim: a second
    worker inserting the same row fails, so the job never runs twice for the same period."""

    job = models.CharField(max_length=40)
    # The site's id, without a foreign key: core comes before sites, and a claim may outlive
    # the site it was for.
    site_id = models.BigIntegerField()
    period_end = models.DateTimeField()
    ran_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "core_jobrun"
        ordering = ["-period_end", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "site_id", "period_end"], name="jobrun_once_per_site_and_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.job} site {self.site_id} {self.period_end:%Y-%m-%d %H:%M}"


def new_idempotency_key() -> uuid.UUID:
    return uuid.uuid4()


# Security alerts and break-glass grants live in their own module.
from saferoom.core.models_security import (  # noqa: E402, F401
    BreakGlassGrant,
    RateTally,
    SecurityAlert,
)

__all__ = [
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "IdempotencyKey",
    "JobRun",
    "Role",
    "User",
    "new_idempotency_key",
]
