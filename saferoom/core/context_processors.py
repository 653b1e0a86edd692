"""Template context every page needs: the sites and roles of the person logged in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def saferoom(request: HttpRequest) -> dict[str, Any]:
    return {
        "current_site": getattr(request, "current_site", None),
        "current_role": getattr(request, "current_role", None),
        "idle_timeout_seconds": settings.SESSION_IDLE_TIMEOUT,
    }
