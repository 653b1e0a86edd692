"""Request-wide guards: a request id for logs and audit, session idle and absolute lifetimes,
deny-by-default role checks, and no caching of pages that may show client-level data."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

_request_id: ContextVar[str] = ContextVar("saferoom_request_id", default="-")

# Background requests (the board and queue refreshing themselves) carry this header; they do
# not count as activity, so an unattended tablet still logs out after the idle timeout.
POLL_HEADER = "HTTP_X_SAFEROOM_POLL"


def current_request_id() -> str:
    value = _request_id.get()
    return "" if value == "-" else value


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            return response
        finally:
            _request_id.reset(token)


class SessionLifetimeMiddleware:
    """Logs a user out after the idle timeout, and after the absolute session lifetime."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.get("started_at")
            last = session.get("last_active_at")
            if started is None or last is None:
                session["started_at"] = started = now
                session["last_active_at"] = last = now
            idle = now - int(last) > settings.SESSION_IDLE_TIMEOUT
            too_old = now - int(started) > settings.SESSION_COOKIE_AGE
            if idle or too_old:
                logout(request)
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = settings.LOGIN_URL_PATH
                    return response
                return redirect(f"{settings.LOGIN_URL_PATH}?expired=1")
            # Write the session at most once a minute, and never for background polls.
            if POLL_HEADER not in request.META and now - int(last) >= 60:
                session["last_active_at"] = now
        return self.get_response(request)


class DenyByDefaultMiddleware:
    """Every view must declare who may use it (``saferoom.core.access``) or be explicitly
    public; a view that declares neither answers 403, so a forgotten check fails closed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if getattr(view_func, "login_required", True) is False:
            return None  # public: login, health check, static files
        if getattr(view_func, "saferoom_roles", None) is None:
            logging.getLogger("saferoom.access").error(
                "View %s declares no roles; refusing.", getattr(view_func, "__name__", "?")
            )
            raise PermissionDenied
        return None


class NoStoreMiddleware:
    """Pages for logged-in users may hold client-level data: browsers must not keep them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response
