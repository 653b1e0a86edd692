"""The site's security alerts, for its managers: searches or record views past the rate limit
(``saferoom.core.ratelimit``) and break-glass use (``saferoom.core.breakglass``), newest first;
a manager marks each as reviewed with a note."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from saferoom.core import audit, security_alerts
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.models_security import SecurityAlert
from saferoom.core.roles import Role
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

MANAGERS = (Role.MANAGER, Role.ADMIN)
ALERTS_PER_PAGE = 50


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("What you found (optional)"),
        required=False,
        max_length=security_alerts.REVIEW_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "max_length": gettext_lazy("That is too long: at most %(limit_value)d characters.")
        },
    )


def access_alert(site: Site, pk: int) -> SecurityAlert:
    """One of this site's alerts; another site's alert answers 404."""
    alert = SecurityAlert.objects.filter(site_id=site.pk, pk=pk).first()
    if alert is None:
        raise Http404
    return alert


def _page(
    request: HttpRequest, site: Site, form: ReviewForm | None = None, failed: int = 0
) -> HttpResponse:
    alerts = security_alerts.site_alerts(site.pk)
    page = Paginator(alerts, ALERTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "sites/security_alerts.html",
        {
            "site": site,
            "alerts": page,
            "open_count": security_alerts.open_alerts(site.pk).count(),
            "review_form": form or ReviewForm(),
            "failed": failed,
            "now": timezone.now(),
        },
        status=422 if failed else 200,
    )


@site_view(*MANAGERS)
@require_GET
def alerts(request: HttpRequest, site: Site) -> HttpResponse:
    audit.record(
        action="security.alerts_viewed",
        by=request.user,  # type: ignore[arg-type]
        site=site,
        role=str(getattr(request, "current_role", "")),
    )
    return _page(request, site)


@site_view(*MANAGERS)
@require_POST
def alert_review(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    alert = access_alert(site, pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        by: User = request.user  # type: ignore[assignment]
        try:
            security_alerts.review_alert(
                alert=alert, note=form.cleaned_data["note"], by=by, site=site
            )
        except ActionRefused as refused:
            messages.info(request, refused.message)
        else:
            messages.success(request, _("The alert is marked as reviewed."))
        return redirect("sites:security_alerts", site=site.slug)
    return _page(request, site, form=form, failed=alert.pk)
