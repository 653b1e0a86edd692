"""Who may use a view. Every view is decorated with :func:`roles` (or a site-scoped variant in
``saferoom.sites.access``) or :func:`public`; DenyByDefaultMiddleware refuses any other."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from saferoom.core.roles import Role

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def public(view: V) -> V:
    """No login needed (login page, health check). Use sparingly: each is in the access table."""
    return login_not_required(view)


def user_roles(user: Any) -> set[str]:
    """Every role the user holds at any site."""
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(user.memberships.values_list("role", flat=True))


def roles(*allowed: Role) -> Callable[[V], V]:
    """A view that is not about one site: the user must hold one of ``allowed`` somewhere."""
    allowed_set = frozenset(allowed)

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not (user_roles(request.user) & allowed_set):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.saferoom_roles = allowed_set  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator
