"""Idempotency keys: the same submission replayed returns the first result, never a second row.

Every create action takes ``idempotency_key``. Inside its transaction it calls
:func:`replayed`; if that returns an object id the action returns the existing object, otherwise
it creates and then calls :func:`remember`. The same key with different details is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core.errors import ActionRefused
from saferoom.core.models import IdempotencyKey, User


def fingerprint(details: dict[str, Any]) -> str:
    """A stable hash of what was submitted (never stored in clear: it may hold attributes)."""
    canonical = json.dumps(details, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_key(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise ActionRefused(
            _("This form is out of date. Reload the page and try again."), code="bad_key"
        ) from None


def replayed(*, key: uuid.UUID, by: User, action: str, details: dict[str, Any]) -> int | None:
    """The id of the object this key already created, or None if the key is new."""
    existing = IdempotencyKey.objects.filter(user=by, key=key).first()
    if existing is None:
        return None
    if existing.action != action or existing.fingerprint != fingerprint(details):
        raise ActionRefused(
            _(
                "This form was already sent with different details. "
                "Reload the page to start a new one."
            ),
            code="key_reused",
        )
    return existing.object_id


def remember(*, key: uuid.UUID, by: User, action: str, details: dict[str, Any], obj: Any) -> None:
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                key=key,
                user=by,
                action=action,
                fingerprint=fingerprint(details),
                object_type=obj._meta.label_lower,
                object_id=obj.pk,
                created_at=timezone.now(),
            )
    except IntegrityError:
        # A concurrent request with the same key won the race; roll this one back.
        raise ActionRefused(
            _("This form is already being saved. Wait a moment and reload the page."),
            code="in_flight",
        ) from None


def purge_expired(now: Any = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _counts = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
