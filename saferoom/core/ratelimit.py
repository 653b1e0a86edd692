"""Per-person limits on client searches and client record views, against bulk extraction
(checklist item 15, ASVS 8.1.4): a sliding window of whole minutes, counted in the database so
that every server process sees the same count.

A view calls :func:`check` before it searches or shows a record. Past the limit it raises
:class:`RateLimited`; :class:`RateLimitMiddleware` answers 429 with a page that says what
happened and when to try again. The first refusal in a window writes an audit event and raises
a security alert for the site's managers; further refusals count on that alert.

Emergency pages (the board, incident screens) are never limited: they do not call ``check``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core import audit
from saferoom.core.middleware import current_request_id
from saferoom.core.models import User
from saferoom.core.models_security import RateTally, SecurityAlert
from saferoom.core.security_alerts import raise_alert

SEARCH = "search"
RECORD = "record"
_ALERT_KIND = {SEARCH: SecurityAlert.Kind.SEARCH_LIMIT, RECORD: SecurityAlert.Kind.RECORD_LIMIT}


def window() -> timedelta:
    return timedelta(minutes=settings.RATE_LIMIT_WINDOW_MINUTES)


def limit(kind: str) -> int:
    return int(settings.RATE_LIMIT_SEARCHES if kind == SEARCH else settings.RATE_LIMIT_RECORD_VIEWS)


class RateLimited(Exception):
    """This person has searched, or opened records, more often than the limit allows."""

    def __init__(self, kind: str, retry_after: int) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _window_start(at: datetime) -> datetime:
    # The current minute and the whole minutes before it, WINDOW minutes in all.
    return _minute(at) - window() + timedelta(minutes=1)


def used(user: User, kind: str, at: datetime | None = None) -> int:
    """How many searches (or record views) ``user`` made in the window ending at ``at``."""
    at = at or timezone.now()
    total = RateTally.objects.filter(
        user=user, kind=kind, minute__gte=_window_start(at), minute__lte=at
    ).aggregate(total=Sum("count"))["total"]
    return int(total or 0)


def _count(user: User, kind: str, at: datetime) -> None:
    minute = _minute(at)
    if RateTally.objects.filter(user=user, kind=kind, minute=minute).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            RateTally.objects.create(user=user, kind=kind, minute=minute, count=1)
    except IntegrityError:  # another request of this person made the row first
        RateTally.objects.filter(user=user, kind=kind, minute=minute).update(count=F("count") + 1)
    # Once a minute per person: forget minutes that have left the window.
    RateTally.objects.filter(user=user, kind=kind, minute__lt=_window_start(at)).delete()


def check(request: HttpRequest, kind: str, *, site: Any) -> None:
    """Count one search or record view by the person making ``request`` at ``site``, or
    refuse it (raise :class:`RateLimited`) when they are at the limit."""
    user: User = request.user  # type: ignore[assignment]
    if user.is_authenticated:
        check_user(user, kind, site=site, role=str(getattr(request, "current_role", "") or ""))


def check_user(
    user: User, kind: str, *, site: Any, role: str = "", at: datetime | None = None
) -> None:
    """:func:`check` for callers without a request (the API)."""
    at = at or timezone.now()
    count = used(user, kind, at)
    if count < limit(kind):
        _count(user, kind, at)
        return
    refuse(user=user, kind=kind, site=site, role=role, count=count, at=at)
    retry_after = int((_window_start(at) + window() - at).total_seconds()) + 1
    raise RateLimited(kind, retry_after)


def refuse(*, user: User, kind: str, site: Any, role: str, count: int, at: datetime) -> None:
    """Write down a refusal: an audit event, and an alert for the site's managers (one per
    person and window, counting the refusals)."""
    detail = {
        "kind": kind,
        "count": count,
        "limit": limit(kind),
        "window_minutes": settings.RATE_LIMIT_WINDOW_MINUTES,
    }
    with transaction.atomic():
        audit.record(
            action="security.rate_limited", by=user, site=site, role=role, detail=detail, at=at
        )
        raise_alert(
            kind=_ALERT_KIND[kind],
            user=user,
            site_id=site.pk,
            at=at,
            detail=detail,
            merge_within=window(),
        )


def refused_response(request: HttpRequest, refused: RateLimited) -> HttpResponse:
    minutes = max(1, (refused.retry_after + 59) // 60)
    if refused.kind == SEARCH:
        title = _("Too many searches")
        text = _(
            "You have searched for clients more often than anyone needs to in a few minutes, "
            "so searching is paused for you. Try again in %(minutes)d minutes. Your manager "
            "has been told; if you were doing ordinary work, tell them so."
        ) % {"minutes": minutes}
    else:
        title = _("Too many records opened")
        text = _(
            "You have opened more client records than anyone needs to in a few minutes, so "
            "opening records is paused for you. Try again in %(minutes)d minutes. Your manager "
            "has been told; if you were doing ordinary work, tell them so. Emergencies on the "
            "floor board are never paused."
        ) % {"minutes": minutes}
    response = render(
        request,
        "core/error.html",
        {"title": title, "text": text, "reference": current_request_id(), "status": 429},
        status=429,
    )
    response["Retry-After"] = str(refused.retry_after)
    return response


class RateLimitMiddleware:
    """Turns :class:`RateLimited` raised by a view into the 429 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return refused_response(request, exception)
        return None
