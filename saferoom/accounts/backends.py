"""The lockout check before any password is tried (django-axes), for web logins."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """Refuses a username that is locked out (raising, so no later backend tries the password).

    axes insists on the request; a call without one (a management command, or a test checking
    a stored password) is not a web login and cannot be a guess from outside, so it is left to
    the next backend instead of failing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username=username, password=password, **kwargs)
        return None
