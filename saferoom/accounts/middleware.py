"""Two-factor login before anything else: a session that has passed only the password step
reaches the code page (or, for desk and floor staff without an app on a device that is not an
enrolled tablet of their site, the page that says so) and nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from saferoom.accounts import tablets, two_factor


def two_factor_exempt(view: Any) -> Any:
    """A page of the two-factor step itself (entering a code, setting up an app)."""
    view.two_factor_exempt = True
    return view


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        tablets.renew_cookie(request, response)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        # Public views (login, logout, health, the token-authenticated API) and the pages of the
        # two-factor step itself are open; LoginRequiredMiddleware has dealt with anonymous.
        if getattr(view_func, "login_required", True) is False:
            return None
        if getattr(view_func, "two_factor_exempt", False):
            return None
        step = two_factor.pending_step(request)
        if step is None:
            return None
        url = reverse(two_factor.STEP_URLS[step])
        if request.method == "GET" and not request.headers.get("HX-Request"):
            url = f"{url}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
