"""Access helpers for sites: the only way a view gets hold of a Site, and through it the
user's role there. Another site's pages answer 404, as if they did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.models import CatalogueItem, Membership, Site, Space

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def memberships_at(user: User, site: Site) -> QuerySet[Membership]:
    return Membership.objects.filter(
        Q(site=site) | Q(site__isnull=True, network_id=site.network_id), user=user
    )


def roles_at(user: User, site: Site) -> set[str]:
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(memberships_at(user, site).values_list("role", flat=True))


def sites_for(user: User, *allowed: Role) -> QuerySet[Site]:
    """Sites where the user holds one of ``allowed`` (any role when none given)."""
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    ms = Membership.objects.filter(user=user)
    if allowed:
        ms = ms.filter(role__in=allowed)
    direct = ms.filter(site__isnull=False).values("site_id")
    networks = ms.filter(site__isnull=True).values("network_id")
    return Site.objects.filter(Q(pk__in=direct) | Q(network_id__in=networks)).order_by("name")


def access_site(user: User, slug: str, *allowed: Role) -> tuple[Site, str]:
    """The site and the user's best role there among ``allowed``.

    404 when the user holds no role at the site at all (another site's pages must not even be
    confirmed to exist); 403 when they work there but not in an allowed role."""
    site = Site.objects.select_related("network").filter(slug=slug).first()
    if site is None:
        raise Http404
    held = roles_at(user, site)
    if not held:
        raise Http404
    for role in allowed:  # the order given is the order of preference
        if role in held:
            return site, role
    raise PermissionDenied


def site_view(*allowed: Role) -> Callable[[V], V]:
    """A view about one site, addressed as ``/sites/<site>/…``. The view receives the Site as
    ``site`` and finds the user's role in ``request.role``."""
    allowed_set = frozenset(allowed)

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, site: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            site_obj, role = access_site(request.user, site, *allowed)  # type: ignore[arg-type]
            request.current_site = site_obj  # type: ignore[attr-defined]
            request.current_role = role  # type: ignore[attr-defined]
            # Every time a site page shows is the site's wall clock, whatever the server's zone.
            with timezone.override(site_obj.tz):
                return view(request, site_obj, *args, **kwargs)

        wrapped.saferoom_roles = allowed_set  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def access_space(site: Site, pk: int) -> Space:
    """One of the site's spaces; another site's space answers 404."""
    space = Space.objects.select_related("site").filter(site=site, pk=pk).first()
    if space is None:
        raise Http404
    return space


def access_catalogue_item(site: Site, kind: str, pk: int) -> CatalogueItem:
    """An entry of one list that applies at the site: network-wide or the site's own. Another
    site's own entries, and other networks' entries, answer 404."""
    item = (
        CatalogueItem.objects.select_related("site", "network")
        .filter(Q(site=site) | Q(site__isnull=True, network_id=site.network_id), kind=kind, pk=pk)
        .first()
    )
    if item is None:
        raise Http404
    return item


def access_staff_member(user: User, site: Site, pk: int) -> User:
    """A person a manager of ``site`` may look at: someone with a role at this site or across its
    network. A network administrator also reaches anyone with a role anywhere in the network,
    and accounts left with no role at all. Anyone else answers 404."""
    members = Membership.objects.filter(
        Q(site=site) | Q(site__isnull=True, network_id=site.network_id)
    )
    is_network_admin = Membership.objects.filter(
        user=user, network_id=site.network_id, site__isnull=True, role=Role.ADMIN
    ).exists()
    reach = Q(pk__in=members.values("user_id"))
    if is_network_admin:
        reach |= Q(pk__in=Membership.objects.filter(network_id=site.network_id).values("user_id"))
        reach |= Q(memberships__isnull=True)
    member = User.objects.filter(reach, pk=pk).distinct().first()
    if member is None:
        raise Http404
    return member
