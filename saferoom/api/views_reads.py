"""Reading: the sites a token's user works at, one site's set-up (spaces and lists, for a field
client), and indicators for a site or a whole network over any period — published for the
reader exactly as the report pages publish them (exact for the site's own staff, suppressed
for everyone else). Nothing here is client-level: evaluators may use every read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router
from ninja.params import functions as params

from saferoom.api.auth import user_of
from saferoom.api.errors import ApiError
from saferoom.api.schemas import MAX_ID, Problem, SiteDetailOut, SiteOut
from saferoom.core.roles import ALL_ROLES, Role
from saferoom.reports.access import NETWORK_REPORT_ROLES, access_network
from saferoom.reports.exports import as_dict
from saferoom.reports.periods import Period, PeriodError, parse_period
from saferoom.reports.reading import published_for
from saferoom.reports.registry import Scope, load
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.access import access_site, sites_for
from saferoom.sites.models import CatalogueItem, Membership, Site, catalogue_for

router = Router(tags=["reading"])

# Anyone with a role at a site may read its indicators (evaluators see them suppressed).
READERS = tuple(Role(r) for r in sorted(ALL_ROLES))
REFUSALS: dict[int | str, Any] = {401: Problem, 403: Problem, 404: Problem, 422: Problem}


def _roles_by_site(user: Any, sites: list[Site]) -> dict[int, list[str]]:
    memberships = list(Membership.objects.filter(user=user).only("site_id", "network_id", "role"))
    roles: dict[int, list[str]] = {}
    for site in sites:
        held = {
            m.role
            for m in memberships
            if m.site_id == site.pk or (m.site_id is None and m.network_id == site.network_id)
        }
        roles[site.pk] = sorted(held)
    return roles


def _site_out(site: Site, roles: list[str]) -> dict[str, Any]:
    return {
        "slug": site.slug,
        "name": site.name,
        "kind": site.kind,
        "time_zone": site.time_zone,
        "network_id": site.network_id,
        "roles": roles,
    }


@router.get("/sites", response={200: list[SiteOut], 401: Problem}, url_name="sites")
def sites(request: HttpRequest) -> list[dict[str, Any]]:
    """The sites where the token's user holds a role, with those roles."""
    user = user_of(request)
    found = list(sites_for(user))
    roles = _roles_by_site(user, found)
    return [_site_out(site, roles[site.pk]) for site in found]


def _entries(site: Site, kind: str) -> list[dict[str, str]]:
    return [
        {"code": item.code, "label": _(item.label), "category": item.category}
        for item in catalogue_for(site, kind)
    ]


@router.get("/sites/{slug:slug}", response={200: SiteDetailOut, **REFUSALS}, url_name="site")
def site_detail(request: HttpRequest, slug: str) -> dict[str, Any]:
    """One site's set-up: its spaces (ids for starting a session) and the codes of its
    substances and supplies lists (for check-in and give-outs)."""
    user = user_of(request)
    site, _role = access_site(user, slug, *READERS)
    return {
        **_site_out(site, _roles_by_site(user, [site])[site.pk]),
        "anonymous_visits_allowed": site.anonymous_visits_allowed,
        "permitted_routes": list(site.permitted_routes),
        "spaces": [
            {
                "id": space.pk,
                "name": space.name,
                "kind": space.kind,
                "seats": space.seats,
                "accessible": space.accessible,
                "out_of_service": space.out_of_service,
            }
            for space in site.spaces.order_by("sort_order", "name", "id")
        ],
        "substances": _entries(site, CatalogueItem.Kind.SUBSTANCE),
        "supplies": _entries(site, CatalogueItem.Kind.SUPPLY),
    }


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except PeriodError as error:
        raise ApiError(422, "bad_period", str(error), field="period") from None


def _codes(text: str | None) -> list[str] | None:
    if not text:
        return None
    wanted = [code.strip().upper() for code in text.split(",") if code.strip()]
    known = load()
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise ApiError(
            422,
            "unknown_indicator",
            _("No indicator is called %(codes)s. Known: %(known)s.")
            % {"codes": ", ".join(unknown), "known": ", ".join(known) or _("none yet")},
            field="codes",
        )
    return wanted


def _published(request: HttpRequest, scope: Scope, codes: list[str] | None) -> dict[str, Any]:
    # As the report pages publish it: a network's sites' counts as one table with its totals.
    return as_dict(published_for(user_of(request), scope, codes))


PERIOD = params.Query(
    ...,
    max_length=40,
    description="A day (2026-03-14), ISO week (2026-W11), month (2026-03), quarter (2026-Q1), "
    "year (2026) or range (2026-03-01..2026-04-15), in the site's local calendar.",
)
CODES = params.Query(None, max_length=200, description="Indicator codes, comma-separated (U1,S2).")


@router.get(
    "/sites/{slug:slug}/indicators",
    response={200: dict[str, Any], **REFUSALS},
    url_name="site_indicators",
)
def site_indicators(
    request: HttpRequest, slug: str, period: str = PERIOD, codes: str | None = CODES
) -> dict[str, Any]:
    """A site's indicators for a period, as the report shows them to you: exact if you work at
    the site (desk, floor, manager) or administer its network; suppressed under the site's
    small-number rule otherwise (evaluators). Same structure as the report's JSON export."""
    site, _role = access_site(user_of(request), slug, *READERS)
    chosen, wanted = _period(period), _codes(codes)
    return _published(request, site_scope(site, chosen), wanted)


@router.get(
    "/networks/{int:network_id}/indicators",
    response={200: dict[str, Any], **REFUSALS},
    url_name="network_indicators",
)
def network_indicators(
    request: HttpRequest,
    network_id: int = params.Path(..., ge=1, le=MAX_ID),
    period: str = PERIOD,
    codes: str | None = CODES,
) -> dict[str, Any]:
    """Every site of a network together, for people with a network-wide role (manager,
    evaluator, administrator), as the network report shows it: exact for network managers and
    administrators, suppressed under the strictest of its sites' rules for evaluators. Anyone
    else gets 404, as on the network report pages."""
    network, _role = access_network(user_of(request), network_id, *NETWORK_REPORT_ROLES)
    chosen, wanted = _period(period), _codes(codes)
    return _published(request, network_scope(network, chosen), wanted)
