"""The only way a view gets hold of a client: site isolation inside a network, plus the short
grant a worker earns by finding the client at their own desk.

A worker sees a client's record when the client belongs to the site's network and either was
registered at, or has visited, a site where the worker holds a client-level role, or the worker
found or registered the client at the desk in the last two hours, or holds a break-glass grant
for the client (``saferoom.core.breakglass``). Anything else answers 404, as if the client did
not exist. Opening a record (a GET) counts towards the person's rate limit
(``saferoom.core.ratelimit``).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from saferoom.clients.models import Client
from saferoom.core import breakglass, ratelimit
from saferoom.core.models import User
from saferoom.core.roles import CLIENT_LEVEL_ROLES, Role
from saferoom.sites.access import roles_at, sites_for
from saferoom.sites.models import Membership, Network, Site

GRANT_SECONDS = 2 * 60 * 60
_SESSION_KEY = "client_grants"
# Merges form short chains at most; this only guards against a corrupt loop.
_MAX_MERGE_HOPS = 20


def resolve_merged(client: Client) -> Client:
    """The client a (possibly merged) client now lives on."""
    hops = 0
    while client.merged_into_id is not None and hops < _MAX_MERGE_HOPS:
        client = Client.objects.select_related("registered_site").get(pk=client.merged_into_id)
        hops += 1
    return client


def client_level_sites(user: User) -> QuerySet[Site]:
    """Sites where the user may see client-level records."""
    return sites_for(user, *CLIENT_LEVEL_ROLES)


def _grants(request: HttpRequest) -> dict[str, Any]:
    grants = request.session.get(_SESSION_KEY)
    return grants if isinstance(grants, dict) else {}


def grant_client(request: HttpRequest, client: Client) -> None:
    """After a successful find or registration at the desk, let this user open this client for
    two hours. Only client ids and expiry times go in the (server-side) session."""
    now = time.time()
    grants = {pk: until for pk, until in _grants(request).items() if float(until) > now}
    grants[str(client.pk)] = now + GRANT_SECONDS
    request.session[_SESSION_KEY] = grants


def has_grant(request: HttpRequest, *pks: int) -> bool:
    now = time.time()
    grants = _grants(request)
    return any(float(grants.get(str(pk), 0)) > now for pk in pks)


def works_with(user: User, client: Client) -> bool:
    """True when the client was registered at, or has visited, a site where the user works."""
    sites = client_level_sites(user)
    if sites.filter(pk=client.registered_site_id).exists():
        return True
    return client.visits.filter(site__in=sites).exists()


def access_client(request: HttpRequest, site: Site, pk: int) -> Client:
    """The client ``pk`` as seen from ``site`` by this user, or 404. A merged client resolves
    to the kept one. Evaluators never see client-level data (403)."""
    if getattr(request, "current_role", None) == Role.EVALUATOR:
        raise PermissionDenied
    if request.method == "GET":
        # Opening records is limited per person (bulk extraction); saving is not.
        ratelimit.check(request, ratelimit.RECORD, site=site)
    user: User = request.user  # type: ignore[assignment]
    found = (
        Client.objects.select_related("registered_site", "network")
        .filter(pk=pk, network_id=site.network_id)
        .first()
    )
    if found is None:
        raise Http404
    client = resolve_merged(found)
    if has_grant(request, found.pk, client.pk) or works_with(user, client):
        return client
    if breakglass.active_grant(user, client.pk) is not None:
        return client
    raise Http404


def manages_network(user: User, network: Network) -> bool:
    """True for a manager or administrator of every site of the network (a membership that is
    not tied to one site)."""
    return Membership.objects.filter(
        user=user, network=network, site__isnull=True, role__in=[Role.MANAGER, Role.ADMIN]
    ).exists()


def manages_site(user: User, site: Site) -> bool:
    """True for a manager or administrator of this site (directly or network-wide)."""
    return bool(roles_at(user, site) & {Role.MANAGER, Role.ADMIN})


def may_set_ban(user: User, *, network: Network, site: Site | None) -> bool:
    """Managers set and lift bans: at a site they manage, or network-wide only when they manage
    the whole network, since such a ban turns the person away at sites they do not run."""
    if site is None:
        return manages_network(user, network)
    return site.network_id == network.pk and manages_site(user, site)
