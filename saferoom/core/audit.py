"""Writing audit events: one per write (inside the write's transaction), one per view of a
client-level record, and one per refused request (an authorisation failure). Labels are
pseudonymous: a client appears by display code only. Each event is appended to the HMAC hash
chain (``saferoom.core.audit_chain``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from django.db import DatabaseError, transaction
from django.http import HttpRequest
from django.utils import timezone

from saferoom.core import audit_chain
from saferoom.core.access import user_roles
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


def record_refusal(request: HttpRequest, status: int) -> None:
    """An authorisation failure (403, or the 404 of another site's page or object) by someone
    logged in: who, in which role, the page and the ids it was asked for, never the path or
    query as typed. Written in its own transaction; a failure to write it is logged and does
    not turn the refusal into an error page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    match = getattr(request, "resolver_match", None)
    detail: dict[str, Any] = {"status": status, "method": request.method}
    if match is not None:
        detail["page"] = match.view_name
        # Ids and slugs only (URLs never hold personal data): which record was tried.
        detail["asked_for"] = {
            name: value
            for name, value in match.kwargs.items()
            if isinstance(value, int) or (isinstance(value, str) and len(value) <= 60)
        }
    try:
        held = sorted(user_roles(user))
        detail["roles"] = held
        role = str(getattr(request, "current_role", "") or "")
        with transaction.atomic():
            record(
                action="access.refused",
                by=user,
                site=getattr(request, "current_site", None),
                role=role or (held[0] if len(held) == 1 else ""),
                detail=detail,
            )
    except DatabaseError:
        logging.getLogger("saferoom.audit").warning(
            "Could not record a refused request (%s) in the audit log.", status
        )
