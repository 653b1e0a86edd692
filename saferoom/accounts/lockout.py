"""What a locked-out username sees, and the audit events of a lockout (django-axes)."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from saferoom.core import audit
from saferoom.core.models import User


def cool_off_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """The login page again, saying the username is locked and for how long (429)."""
    from saferoom.accounts.forms import LoginForm

    return render(
        request,
        "registration/login.html",
        {"form": LoginForm(request), "locked_out": True, "cool_off_minutes": cool_off_minutes()},
        status=429,
    )


@receiver(user_locked_out)
def record_lockout(sender: Any, request: HttpRequest, username: str | None, **kwargs: Any) -> None:
    """One audit event when a username is locked, and one for each login refused while it is.
    A username nobody has is not written down: it may be a password typed in the wrong box."""
    user = User.objects.filter(username=username).first() if username else None
    fresh = getattr(request, "axes_failures_since_start", None) is not None
    audit.record(
        action="auth.locked_out" if fresh else "auth.login_refused_locked_out",
        by=user,
        obj=user,
        detail={"known_username": user is not None},
    )
