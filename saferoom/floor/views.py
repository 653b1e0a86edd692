"""Views of the front desk: check-in, turn-away and the queue."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from saferoom.core.roles import Role
from saferoom.sites.access import site_view
from saferoom.sites.models import Site


@site_view(Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
def queue(request: HttpRequest, site: Site) -> HttpResponse:
    return render(request, "floor/queue.html", {})
