"""The only way a desk or board view (or the API) gets hold of a visit or a consumption
session: by its site, so another site's visit is a 404 as if it did not exist. (The site itself,
and the user's role there, come from ``site_view``.) Also who may use the desk and the board,
in one place for the pages and the API."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from saferoom.core.roles import Role
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import Site

# The order is the order of preference.
DESK_ROLES = (Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
BOARD_VIEWERS = (Role.FLOOR, Role.MANAGER, Role.ADMIN, Role.DESK)
BOARD_ACTORS = (Role.FLOOR, Role.MANAGER, Role.ADMIN)


def access_visit(request: HttpRequest, site: Site, pk: int) -> Visit:
    visit = Visit.objects.select_related("client", "site").filter(site=site, pk=pk).first()
    if visit is None:
        raise Http404
    return visit


def access_session(site: Site, pk: int) -> ConsumptionSession:
    session = (
        ConsumptionSession.objects.select_related(
            "space", "site", "visit__client", "visit__site", "emergency_by"
        )
        .filter(site=site, pk=pk)
        .first()
    )
    if session is None:
        raise Http404
    return session
