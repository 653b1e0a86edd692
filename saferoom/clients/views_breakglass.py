"""Break-glass on a client's record: ask, with a reason, for the client's history at every site
of the network for the next half hour (``saferoom.core.breakglass`` says what it unlocks and
why). The site's managers are told at once."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from saferoom.clients.access import access_client
from saferoom.clients.forms import BreakGlassForm
from saferoom.clients.views import CLIENT_ROLES, _audit_view, _role, _user
from saferoom.core import breakglass
from saferoom.core.errors import ActionRefused
from saferoom.sites.access import site_view
from saferoom.sites.models import Site


@site_view(*CLIENT_ROLES)
@require_http_methods(["GET", "POST"])
def break_glass(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    client = access_client(request, site, pk)
    if request.method == "POST":
        form = BreakGlassForm(request.POST)
        if form.is_valid():
            try:
                grant = breakglass.open_grant(
                    client=client,
                    site=site,
                    reason=form.cleaned_data["reason"],
                    by=_user(request),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    role=_role(request),
                )
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.warning(
                    request,
                    _(
                        "Emergency access is open until %(until)s. Every page you open is "
                        "logged, and your manager has been told."
                    )
                    % {"until": formats.time_format(timezone.localtime(grant.expires_at), "H:i")},
                )
                return redirect("clients:detail", site=site.slug, pk=client.pk)
    else:
        form = BreakGlassForm()
        _audit_view(request, site, client, "break_glass")
    return render(
        request,
        "clients/break_glass.html",
        {
            "site": site,
            "client": client,
            "form": form,
            "minutes": breakglass.duration().seconds // 60,
            "grant": breakglass.active_grant(request.user, client.pk),
        },
    )
