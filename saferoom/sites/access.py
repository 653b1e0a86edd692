"""Access helpers for sites: the only way a view gets hold of a Site, and through it the
user's role there. Another site's pages answer 404, as if they did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.models import Membership, Site

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
            return view(request, site_obj, *args, **kwargs)

        wrapped.saferoom_roles = allowed_set  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
