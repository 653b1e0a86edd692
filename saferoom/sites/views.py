"""Views of site configuration: spaces, opening hours, catalogues, rules and staff."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from saferoom.core.roles import Role
from saferoom.sites.access import site_view
from saferoom.sites.models import Site


@site_view(Role.MANAGER, Role.ADMIN)
def settings_home(request: HttpRequest, site: Site) -> HttpResponse:
    return render(request, "sites/settings.html", {})
