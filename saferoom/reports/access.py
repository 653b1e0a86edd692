"""Access helpers for network reports: the only way a view gets hold of a Network.

A network's reports are for people who hold a network-level role (a membership with no site)
of manager, evaluator or administrator in that network. Everyone else — site staff, another
network's people — gets 404, as if the network did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from saferoom.core.roles import Role
from saferoom.sites.models import Membership, Network

V = TypeVar("V", bound=Callable[..., HttpResponseBase])

NETWORK_REPORT_ROLES = (Role.MANAGER, Role.EVALUATOR, Role.ADMIN)


def network_roles(user: Any, network: Network) -> set[str]:
    """The roles ``user`` holds across the whole of ``network`` (not at one of its sites)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return set()
    return set(
        Membership.objects.filter(user=user, network=network, site__isnull=True).values_list(
            "role", flat=True
        )
    )


def access_network(user: Any, pk: int, *allowed: Role) -> tuple[Network, str]:
    """The network and the user's best network-level role among ``allowed`` (in the order
    given); 404 when the network does not exist or the user holds none of them there."""
    network = Network.objects.filter(pk=pk).first()
    if network is None:
        raise Http404
    held = network_roles(user, network)
    for role in allowed or NETWORK_REPORT_ROLES:
        if role in held:
            return network, role
    raise Http404


def network_view(*allowed: Role) -> Callable[[V], V]:
    """A view about one network, addressed as ``/networks/<network>/…``. The view receives the
    Network as ``network`` and finds the user's network-level role in ``request.current_role``."""
    allowed_set = frozenset(allowed)

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(
            request: HttpRequest, network: int, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            network_obj, role = access_network(request.user, network, *allowed)
            request.current_network = network_obj  # type: ignore[attr-defined]
            request.current_role = role  # type: ignore[attr-defined]
            return view(request, network_obj, *args, **kwargs)

        wrapped.saferoom_roles = allowed_set  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
