"""Browser-side defences and safe failure: the content security policy and the headers Django
does not set by itself, and a log formatter that never writes an exception's message.

Django 5.2 has no content security policy of its own (6.0 does), so a small middleware sends
one policy, built once from ``settings.CONTENT_SECURITY_POLICY``. The policy allows nothing
inline: every script and style comes from our own static files (htmx is told not to add its
indicator styles, see base.html).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from types import TracebackType

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# Powerful browser features no page of saferoom uses.
PERMISSIONS_POLICY: dict[str, str] = {
    "accelerometer": "()",
    "camera": "()",
    "display-capture": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "payment": "()",
    "usb": "()",
}


def header_value(policy: dict[str, list[str]]) -> str:
    """``{"default-src": ["'self'"], ...}`` as ``default-src 'self'; ...``."""
    return "; ".join(
        " ".join([directive, *sources]) if sources else directive
        for directive, sources in policy.items()
    )


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy, Permissions-Policy and Cross-Origin-Resource-Policy to
    every response (Django's SecurityMiddleware sends HSTS, nosniff, Referrer-Policy and
    Cross-Origin-Opener-Policy; XFrameOptionsMiddleware sends X-Frame-Options)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = header_value(settings.CONTENT_SECURITY_POLICY)
        self.permissions = ", ".join(
            f"{name}={allow}" for name, allow in PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        response.headers.setdefault("Permissions-Policy", self.permissions)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class NoExceptionMessageFormatter(logging.Formatter):
    """Formats a log record as usual, but an exception only as its type and its stack (file,
    line, function, source line): never its message, which may hold what a person typed (a
    client code, a note), and never local variables. With the request id in the line, the
    reference on the error page leads to the stack without leading to the person."""

    def formatException(self, ei: _ExcInfo | tuple[None, None, None]) -> str:
        _type, value, _tb = ei
        if value is None:
            return ""
        lines: list[str] = []
        seen: set[int] = set()
        chain: list[BaseException] = []
        current: BaseException | None = value
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            chain.append(current)
            current = current.__cause__ or (
                None if current.__suppress_context__ else current.__context__
            )
        for position, exc in enumerate(reversed(chain)):
            if position:
                lines.append("During handling of the above exception, another was raised:")
            lines.append("Traceback (most recent call last):")
            for frame in traceback.extract_tb(exc.__traceback__):
                lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
                if frame.line:
                    lines.append(f"    {frame.line}")
            lines.append(f"{type(exc).__module__}.{type(exc).__qualname__} (message withheld)")
        return "\n".join(lines)
