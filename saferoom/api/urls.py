"""The JSON API under /api/v1/ (django-ninja).

The API authenticates every call itself (a token, never the session cookie), so to Django's
LoginRequiredMiddleware and saferoom's DenyByDefaultMiddleware its views are public — they
would otherwise send an integration to the login page. Each operation still refuses a call
without a valid token (401), and applies the same site and role rules as the pages
(``saferoom.sites.access``). ``tests/api/test_access.py`` holds every operation to that."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from saferoom.api.app import api
from saferoom.core.access import public

app_name = "api"

_patterns, _app_name, _namespace = api.urls


def _public(entry: URLPattern | URLResolver) -> URLPattern | URLResolver:
    if isinstance(entry, URLPattern):
        public(entry.callback)
        entry.callback.saferoom_api = True  # type: ignore[attr-defined]
    return entry


urlpatterns: list[URLPattern | URLResolver] = [_public(entry) for entry in _patterns]
