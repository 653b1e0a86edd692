"""The home page that leads each person to their site, the health check and the error
pages (which show a reference number, never a stack trace)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from saferoom.core import audit
from saferoom.core.access import public, roles
from saferoom.core.middleware import current_request_id
from saferoom.core.roles import ALL_ROLES, Role


@public
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and monitoring: 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@roles(*ALL_ROLES)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each site the person works at, with the pages their role there opens."""
    from saferoom.sites.access import roles_at, sites_for

    user = request.user
    entries = [
        {"site": site, "roles": sorted(roles_at(user, site))}  # type: ignore[arg-type]
        for site in sites_for(user)  # type: ignore[arg-type]
    ]
    if len(entries) == 1 and entries[0]["roles"] == ["desk"]:
        # A desk worker at one site goes straight to the queue.
        return redirect("floor:queue", site=entries[0]["site"].slug)  # type: ignore[attr-defined]
    return render(request, "core/home.html", {"entries": entries, "Role": Role})


def _error(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    return render(
        request,
        "core/error.html",
        {"title": title, "text": text, "reference": current_request_id(), "status": status},
        status=status,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(
        request,
        400,
        _("That request could not be understood"),
        _("Go back, reload the page and try again."),
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    audit.record_refusal(request, 403)
    return _error(
        request,
        403,
        _("You do not have access to this page"),
        _("Your role does not include this page. Ask a manager if you need it."),
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Another site's pages answer 404 as if they did not exist: still an attempt to record.
    audit.record_refusal(request, 404)
    return _error(
        request,
        404,
        _("Page not found"),
        _("The page does not exist, or it belongs to a site you do not work at."),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request: no session, user or database is needed, so the page still
    # shows when the error was the database going away. The reference leads to the log line.
    html = loader.get_template("500.html").render({"reference": current_request_id()})
    return HttpResponse(html, status=500)
