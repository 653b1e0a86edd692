"""Template context every page needs: the sites and roles of the person logged in."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from saferoom.core.security_alerts import open_alerts


def _security_alert_count(request: HttpRequest) -> int:
    """Open security alerts of the current site, for its managers' navigation."""
    site = getattr(request, "current_site", None)
    if site is None or getattr(request, "current_role", None) not in ("manager", "admin"):
        return 0
    return open_alerts(site.pk).count()


def saferoom(request: HttpRequest) -> dict[str, Any]:
    return {
        "current_site": getattr(request, "current_site", None),
        "current_role": getattr(request, "current_role", None),
        "idle_timeout_seconds": settings.SESSION_IDLE_TIMEOUT,
        # Called (one COUNT) only by templates that show it: the managers' navigation.
        "security_alert_count": partial(_security_alert_count, request),
    }
