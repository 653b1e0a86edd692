"""API tokens: how an integration (or a field client) proves which member of staff it acts for.

A token is shown once, when it is made (``saferoom api_token create``). The database keeps only
a short prefix, to find and name the token, and a salted SHA-256 of the whole token: a copy of
the database does not give anyone a working token. (The secret part is 256 random bits, so a
fast hash is enough: there is nothing to guess, and no password-style stretching is needed on
every request.)"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def token_hash(salt: str, token: str) -> str:
    return hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens"
    )
    name = models.CharField(_("what it is for"), max_length=80)
    # Shown in lists and audit events; never enough to use the token.
    prefix = models.CharField(max_length=12, unique=True)
    salt = models.CharField(max_length=32)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    # Empty when made from the command line (the audit trail says "system").
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "api_apitoken"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_by__isnull=True) | Q(revoked_at__isnull=False),
                name="apitoken_revoked_by_needs_revoked_at",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("created_at")),
                name="apitoken_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    def audit_label(self) -> str:
        return f"API token {self.prefix}"

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.secret_hash, token_hash(self.salt, token))

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked, not expired, and its user may still log in."""
        if self.revoked_at is not None:
            return False
        if self.expires_at is not None and self.expires_at <= moment:
            return False
        return bool(self.user.is_active)
