"""Idempotency keys: the same submission replayed returns the first result, never a second row.

Every create action takes ``idempotency_key``. Inside its transaction it calls
:func:`replayed`; if that returns an object id the action returns the existing object, otherwise
it creates and then calls :func:`remember`. The same key with different details is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from saferoom.core.errors import ActionRefused
from saferoom.core.models import IdempotencyKey, User

_SALT = "saferoom.core.idempotency.fingerprint"


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, default=str, separators=(",", ":"))


def fingerprint(details: dict[str, Any], *, secret: str | bytes | None = None) -> str:
    """A stable, keyed hash of what was submitted. Details may hold a note or a keyed client
    hash, so the fingerprint is an HMAC under the secret key: someone who reads the table
    cannot test guesses of what was written."""
    return salted_hmac(_SALT, _canonical(details), secret=secret, algorithm="sha256").hexdigest()


def _same_details(stored: str, details: dict[str, Any]) -> bool:
    """``stored`` is the fingerprint of ``details`` under the secret key, one it replaced
    (``SECRET_KEY_FALLBACKS``), or, for a key remembered before fingerprints were keyed (kept
    no longer than the keys are), the plain SHA-256 they used to be."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    candidates = [fingerprint(details, secret=secret) for secret in secrets]
    candidates.append(hashlib.sha256(_canonical(details).encode()).hexdigest())
    return any(hmac.compare_digest(stored, candidate) for candidate in candidates)


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
    if existing.action != action or not _same_details(existing.fingerprint, details):
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
