"""Enrolled tablets (ADR 14): a manager's list of the site's tablets, where they make a one-time
code and revoke a tablet; the public "Enrol this tablet" page where the code is typed; and the
page a desk or floor worker without an authenticator app is held on when the device they logged
in on is not an enrolled tablet of their site."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.accounts import actions, tablets, two_factor
from saferoom.accounts.forms import TabletCodeForm, TabletEnrolForm
from saferoom.accounts.middleware import two_factor_exempt
from saferoom.accounts.models import EnrolledTablet, TabletEnrolmentCode
from saferoom.accounts.views import _next_url, _step_url, any_signed_in
from saferoom.core.access import public
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.access import site_view, sites_for
from saferoom.sites.models import Site


def _or_list(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return _("%(first)s or %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


# --- on the tablet -------------------------------------------------------------------------


@public
@require_http_methods(["GET", "POST"])
def tablet_enrol(request: HttpRequest) -> HttpResponse:
    """Type a manager's one-time code: this device becomes an enrolled tablet of their site."""
    current = tablets.tablet_of(request, note_seen=False)
    form = TabletEnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tablet, secret = actions.enrol_tablet(
                code=form.cleaned_data["code"],
                attempt=str(form.cleaned_data["idempotency_key"]),
                replacing=current,
            )
        except ActionRefused as refusal:
            form.add_error("code", refusal.message)
        else:
            messages.success(
                request,
                _(
                    "This tablet is enrolled for %(site)s as “%(label)s”. Desk and floor staff "
                    "of %(site)s can log in on it."
                )
                % {"site": tablet.site.name, "label": tablet.label},
            )
            next_url = _next_url(request) if request.user.is_authenticated else reverse("login")
            response = redirect(next_url)
            tablets.set_cookie(response, secret)
            return response
    return render(
        request,
        "accounts/tablet_enrol.html",
        {"form": form, "current": current, "next": request.GET.get("next", "")},
    )


@two_factor_exempt
@any_signed_in
@require_GET
def tablet_needed(request: HttpRequest) -> HttpResponse:
    """Where a desk or floor worker without an authenticator app is held on a device that is not
    an enrolled tablet of a site where they work. Nothing else opens until it is."""
    user = cast(User, request.user)
    next_url = _next_url(request)
    step = two_factor.pending_step(request, fresh=True)
    if step is None:
        return redirect(next_url)
    if step != "tablet":
        return redirect(_step_url(step, next_url))
    here = tablets.tablet_of(request, note_seen=False)
    return render(
        request,
        "accounts/tablet_needed.html",
        {
            "sites": _or_list([site.name for site in sites_for(user)]),
            "here": here,
            "next": next_url,
            "enrol_url": f"{reverse('accounts:tablet_enrol')}?{urlencode({'next': next_url})}",
        },
    )


# --- a manager's list of the site's tablets ----------------------------------------------


MANAGERS = (Role.MANAGER, Role.ADMIN)


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def tablets_page(request: HttpRequest, site: Site) -> HttpResponse:
    """The site's tablets (last seen, revoke) and making a code to enrol another one."""
    by = cast(User, request.user)
    form = TabletCodeForm(request.POST or None)
    made: tuple[TabletEnrolmentCode, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            made = actions.create_tablet_code(
                site=site,
                label=form.cleaned_data["label"],
                by=by,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ActionRefused as refusal:
            form.add_error("label", refusal.message)
        else:
            form = TabletCodeForm()  # a new key: the next code is for another tablet
    now = timezone.now()
    enrolled = list(
        EnrolledTablet.objects.filter(site=site).select_related("enrolled_by", "revoked_by")
    )
    waiting = TabletEnrolmentCode.objects.filter(
        site=site, used_at__isnull=True, expires_at__gt=now
    ).order_by("expires_at")
    return render(
        request,
        "accounts/tablets.html",
        {
            "site": site,
            "form": form,
            "made": made,
            "made_code": tablets.show_code(made[1]) if made else "",
            "active": [t for t in enrolled if t.revoked_at is None],
            "revoked": sorted(
                (t for t in enrolled if t.revoked_at is not None),
                key=lambda t: t.revoked_at or now,
                reverse=True,
            ),
            "waiting": list(waiting),
            "code_minutes": settings.TABLET_CODE_MINUTES,
        },
    )


@site_view(*MANAGERS)
@require_POST
def tablet_revoke(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    by = cast(User, request.user)
    tablet = tablets.access_tablet(site, pk)
    try:
        ended = actions.revoke_tablet(tablet=tablet, by=by)
    except ActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            ngettext(
                "“%(label)s” is revoked: it no longer counts for logging in, and %(count)d login "
                "open on it has ended.",
                "“%(label)s” is revoked: it no longer counts for logging in, and %(count)d "
                "logins open on it have ended.",
                ended,
            )
            % {"label": tablet.label, "count": ended},
        )
    return redirect("accounts:tablets", site=site.slug)
