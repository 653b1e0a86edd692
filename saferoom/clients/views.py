"""Views of the client registry: find, register, record, intake, bans and merges."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from saferoom.core.roles import Role
from saferoom.sites.access import site_view
from saferoom.sites.models import Site


@site_view(Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
def find(request: HttpRequest, site: Site) -> HttpResponse:
    return render(request, "clients/find.html", {})
