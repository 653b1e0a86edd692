"""Token authentication for every API operation: ``Authorization: Bearer <token>``.

A browser's session cookie is not accepted, for reads or writes: the API takes no cookies, so
it needs no CSRF defence, and a page cannot make a logged-in browser call it. Once the token is
known, ``request.user`` is its user, so the roles, the audit trail and the no-store header are
the same as for a page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security.http import HttpAuthBase

from saferoom.api.actions import token_for
from saferoom.api.models import ApiToken
from saferoom.core.models import User


class TokenAuth(HttpAuthBase):
    openapi_scheme = "bearer"
    openapi_bearerFormat = "srk_…"  # the OpenAPI field is spelled this way

    def __call__(self, request: HttpRequest) -> ApiToken:
        header = request.headers.get("Authorization", "")
        scheme, _space, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError(
                message=_(
                    "Send your API token in the Authorization header: “Bearer <token>”. "
                    "An administrator makes one with: saferoom api_token create."
                )
            )
        token = token_for(value.strip())
        if token is None:
            raise AuthenticationError(
                message=_(
                    "This API token is not valid: it is mistyped, revoked or expired, or its "
                    "account is switched off. Ask an administrator for a new one."
                )
            )
        request.user = token.user
        return token


def user_of(request: HttpRequest) -> User:
    """The user the request's token acts for (only called after TokenAuth let it in)."""
    auth: Any = getattr(request, "auth", None)
    if not isinstance(auth, ApiToken):  # pragma: no cover - every operation needs a token
        raise AuthenticationError()
    user: User = auth.user
    return user
