"""The JSON API under /api/v1/ (django-ninja).

The API authenticates every call itself (a token, never the session cookie), so to Django's
LoginRequiredMiddleware and saferoom's DenyByDefaultMiddleware its views are public — they
would otherwise send an integration to the login page. Each operation still refuses a call
without a valid token (401), and applies the same site and role rules as the pages
(``saferoom.sites.access``). ``tests/api/test_access.py`` holds every operation to that."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from saferoom.api.app import api
from saferoom.core.access import public

app_name = "api"

_patterns, _app_name, _namespace = api.urls


def _public(entry: URLPattern | URLResolver) -> URLPattern | URLResolver:
    if isinstance(entry, URLPattern):
        public(entry.callback)
        entry.callback.saferoom_api = True  # type: ignore[attr-defined]
    return entry


@public
@csrf_exempt  # the API takes no cookies, so no CSRF token either (as its operations)
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under /api/v1/ (an unknown operation, or an id that is not a number):
    the API's own 404 in its JSON shape, not the HTML page meant for people."""
    return JsonResponse(
        {
            "detail": _(
                "There is no such operation. The operations are listed in /api/v1/openapi.json."
            ),
            "code": "not_found",
        },
        status=404,
    )


urlpatterns: list[URLPattern | URLResolver] = [
    *(_public(entry) for entry in _patterns),
    path("<path:rest>", not_found, name="not_found"),
]
