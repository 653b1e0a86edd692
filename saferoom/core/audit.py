"""Writing audit events: one per write (inside the write's transaction) and one per view of a
client-level record. Labels are pseudonymous: a client appears by display code only. Each event
is appended to the HMAC hash chain (``saferoom.core.audit_chain``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from saferoom.core import audit_chain
from saferoom.core.middleware import current_request_id
from saferoom.core.models import AuditEvent, User


class _Labelled(Protocol):
    pk: Any

    def audit_label(self) -> str: ...


class _SiteLike(Protocol):
    pk: Any
    name: str


def record(
    *,
    action: str,
    by: User | None,
    obj: _Labelled | None = None,
    site: _SiteLike | None = None,
    role: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append an audit event. Call inside the transaction of the write it describes."""
    return audit_chain.append(
        {
            "at": at or timezone.now(),
            "actor_id": by.pk if by is not None else None,
            "actor_label": by.get_username() if by is not None else "system",
            "role": role,
            "action": action,
            "object_type": obj._meta.label_lower if obj is not None else "",  # type: ignore[attr-defined]
            "object_id": str(obj.pk) if obj is not None else "",
            "object_label": obj.audit_label() if obj is not None else "",
            "site_id": site.pk if site is not None else None,
            "site_label": site.name if site is not None else "",
            "request_id": current_request_id(),
            "detail": detail or {},
        }
    )
