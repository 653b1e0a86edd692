"""Referral pages of a site: the follow-ups due list, making a referral (from a visit, or for a
client found by code), a referral with its follow-ups and corrections, and the identity record
with who may open it. Views parse, load through ``access``, call an action and render.

Identity details are shown only in the response to a POST that gave a reason; they never go
in a URL, a message (the session) or a log."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.care.referrals import actions
from saferoom.care.referrals.access import access_grant, access_identity_record, access_referral
from saferoom.care.referrals.forms import (
    AmendForm,
    FollowUpForm,
    GrantForm,
    IdentityForm,
    OpenIdentityForm,
    ReferralForm,
)
from saferoom.care.referrals.models import (
    IdentityAccessGrant,
    IdentityRecord,
    Referral,
    Urgency,
)
from saferoom.clients import actions as client_actions
from saferoom.clients.access import access_client, grant_client
from saferoom.clients.forms import CodeSearchForm
from saferoom.clients.models import Client
from saferoom.core import audit, conflicts, ratelimit, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.floor.access import access_visit
from saferoom.floor.models import Visit
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

REFERRAL_ROLES = (Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
# Identity pages let every role in, so that a refusal is answered (and audited) here.
IDENTITY_ROLES = (Role.MANAGER, Role.ADMIN, Role.FLOOR, Role.DESK, Role.EVALUATOR)
MANAGER_ROLES = (Role.MANAGER, Role.ADMIN)
UPCOMING_DAYS = 7


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _role(request: HttpRequest) -> str:
    return str(getattr(request, "current_role", ""))


def _render(
    request: HttpRequest, site: Site, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, template, {"site": site, **context}, status=status)


def _audit_view(request: HttpRequest, site: Site, obj: Any, page: str) -> None:
    audit.record(
        action="referral.viewed",
        by=_user(request),
        obj=obj,
        site=site,
        role=_role(request),
        detail={"page": page},
    )


def _pk(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The follow-ups due list


@site_view(*REFERRAL_ROLES)
@require_GET
def due(request: HttpRequest, site: Site) -> HttpResponse:
    """Open referrals to follow up: overdue first, then today's, then the coming week's."""
    rows = actions.follow_ups_due(site, timezone.now(), within_days=UPCOMING_DAYS)
    audit.record(
        action="referral.list_viewed",
        by=_user(request),
        site=site,
        role=_role(request),
        detail={"page": "due", "rows": len(rows)},
    )
    return _render(
        request,
        site,
        "referrals/due.html",
        {
            "overdue": [r for r in rows if r.days_overdue > 0],
            "today": [r for r in rows if r.days_overdue == 0],
            "upcoming": [r for r in rows if r.days_overdue < 0],
            "upcoming_days": UPCOMING_DAYS,
        },
    )


# ---------------------------------------------------------------------------------------------
# Making a referral


@site_view(*REFERRAL_ROLES)
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest, site: Site) -> HttpResponse:
    """Make a referral for a visit (``?visit=<pk>``) or a client (``?client=<pk>``). Without
    either, find the client by the code on their card first."""
    visit_pk, client_pk = _pk(request.GET.get("visit")), _pk(request.GET.get("client"))
    visit: Visit | None = None
    client: Client | None = None
    if visit_pk is not None:
        visit = access_visit(request, site, visit_pk)
        client = visit.client
    elif client_pk is not None:
        client = access_client(request, site, client_pk)
    else:
        return _find_client(request, site)
    form = ReferralForm(request.POST or None, site=site)
    if request.method == "GET":
        _audit_view(request, site, visit if visit is not None else client, "new")
    if request.method == "POST" and form.is_valid():
        try:
            referral = actions.make_referral(
                site=site,
                visit=visit,
                client=client,
                target=form.cleaned_data["target"],
                urgency=form.cleaned_data["urgency"],
                follow_up_due=form.cleaned_data["follow_up_due"],
                by=_user(request),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(
                request,
                _("Referral made: %(who)s to %(target)s. Follow up by %(day)s.")
                % {
                    "who": referral.who(),
                    "target": referral.target.label,
                    "day": referral.follow_up_due.strftime("%d/%m/%Y"),
                },
            )
            return redirect("referrals:detail", site=site.slug, pk=referral.pk)
    who = (
        client.display_code
        if client is not None
        else (
            _("Anonymous visitor")
            if visit is not None and visit.anonymous
            else _("Unregistered visitor")
        )
    )
    return _render(
        request,
        site,
        "referrals/new.html",
        {"form": form, "visit": visit, "client": client, "who": who},
    )


def _find_client(request: HttpRequest, site: Site) -> HttpResponse:
    form = CodeSearchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ratelimit.check(request, ratelimit.SEARCH, site=site)
        found = client_actions.find_by_code(
            network=site.network, typed_code=form.cleaned_data["code"]
        )
        if found is None:
            audit.record(
                action="client.search_not_found",
                by=_user(request),
                site=site,
                role=_role(request),
                detail={"by": "code", "page": "referral"},
            )
            form.add_error("code", _("No client in this network has that code. Check the card."))
        else:
            grant_client(request, found)
            audit.record(
                action="client.found",
                by=_user(request),
                obj=found,
                site=site,
                role=_role(request),
                detail={"by": "code", "page": "referral"},
            )
            return redirect(f"{request.path}?client={found.pk}")
    return _render(request, site, "referrals/find_client.html", {"form": form})


@site_view(*REFERRAL_ROLES)
@require_GET
def visit_referrals(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A visit's referrals, with a button to make another."""
    visit = access_visit(request, site, pk)
    referrals = list(
        Referral.objects.filter(visit=visit).select_related("target", "client").order_by("made_at")
    )
    _audit_view(request, site, visit, "visit_referrals")
    return _render(request, site, "referrals/visit.html", {"visit": visit, "referrals": referrals})


# ---------------------------------------------------------------------------------------------
# One referral: follow-ups and corrections


def _identity_context(request: HttpRequest, site: Site, referral: Referral) -> dict[str, Any]:
    # The details are decrypted only when someone opens a record (audited), never to list it.
    linked = list(
        referral.identity_records.select_related("recorded_by")
        .defer("details_json")
        .order_by("-pk")
    )
    current = None
    if referral.client_id is not None:
        current = (
            IdentityRecord.objects.filter(
                site=site, client_id=referral.client_id, consent_withdrawn_at__isnull=True
            )
            .defer("details_json")
            .order_by("-pk")
            .first()
        )
    return {
        "identity_records": linked,
        "identity_linkable": current
        if current is not None
        and current.consent_scope == IdentityRecord.Scope.REFERRALS
        and all(r.pk != current.pk for r in linked)
        else None,
        "identity_blocked": current is not None and all(r.pk != current.pk for r in linked),
        "may_open_identity": actions.may_open_identity(_user(request), site),
    }


def _shown(field: str, value: str) -> str:
    if field == "urgency" and value in Urgency.values:
        return str(Urgency(value).label)
    if field == "status" and value in Referral.Status.values:
        return str(Referral.Status(value).label)
    if field == "follow_up_due":
        try:
            return date_format(date.fromisoformat(value), "j M Y")
        except ValueError:
            return value
    return value


def _changes(changes: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(what, old, new) of an amendment, in words."""
    labels = {
        "target": _("Referred to"),
        "urgency": _("Urgency"),
        "status": _("Status"),
        "follow_up_due": _("Follow up by"),
    }
    return [
        (labels.get(field, field), _shown(field, old), _shown(field, new))
        for field, (old, new) in changes.items()
    ]


@site_view(*REFERRAL_ROLES)
@require_GET
def detail(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    referral = access_referral(site, pk)
    _audit_view(request, site, referral, "detail")
    follow_ups = list(referral.follow_ups.select_related("by").order_by("at", "pk"))
    amendments = [
        (a, _changes(a.changes))
        for a in referral.amendments.select_related("by").order_by("at", "pk")
    ]
    return _render(
        request,
        site,
        "referrals/detail.html",
        {
            "referral": referral,
            "follow_ups": follow_ups,
            "amendments": amendments,
            "overdue": referral.is_open
            and referral.follow_up_due < actions.local_date(site, timezone.now()),
            **_identity_context(request, site, referral),
        },
    )


@site_view(*REFERRAL_ROLES)
@require_http_methods(["GET", "POST"])
def follow_up(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    referral = access_referral(site, pk)
    form = FollowUpForm(request.POST or None, initial={"version": referral.version})
    if conflicts.reopening(request):
        conflicts.reopened(request)
    elif request.method == "POST" and form.is_valid():
        try:
            done = actions.record_follow_up(
                referral=referral,
                outcome=form.cleaned_data["outcome"],
                method=form.cleaned_data["method"],
                note=form.cleaned_data["note"],
                next_due=form.cleaned_data["next_due"],
                expected_version=form.cleaned_data["version"],
                by=_user(request),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except versioning.StaleEdit as stale:
            return _conflict(request, site, referral, form, stale)
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            if done.next_due is not None:
                text = _("Follow-up recorded. Try again by %(day)s.") % {
                    "day": done.next_due.strftime("%d/%m/%Y")
                }
            else:
                text = _("Follow-up recorded: %(outcome)s.") % {
                    "outcome": done.get_outcome_display()
                }
            messages.success(request, text)
            return redirect("referrals:detail", site=site.slug, pk=referral.pk)
    elif request.method == "GET":
        _audit_view(request, site, referral, "follow_up")
    return _render(request, site, "referrals/follow_up.html", {"referral": referral, "form": form})


@site_view(*REFERRAL_ROLES)
@require_http_methods(["GET", "POST"])
def amend(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    referral = access_referral(site, pk)
    form = AmendForm(request.POST or None, referral=referral)
    if conflicts.reopening(request):
        conflicts.reopened(request)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.amend_referral(
                referral=referral,
                target=data["target"],
                urgency=data["urgency"],
                follow_up_due=data["follow_up_due"],
                status=data["status"],
                reason=data["reason"],
                expected_version=data["version"],
                by=_user(request),
                idempotency_key=data["idempotency_key"],
            )
        except versioning.StaleEdit as stale:
            return _conflict(request, site, referral, form, stale)
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("The referral is corrected."))
            return redirect("referrals:detail", site=site.slug, pk=referral.pk)
    elif request.method == "GET":
        _audit_view(request, site, referral, "amend")
    return _render(request, site, "referrals/amend.html", {"referral": referral, "form": form})


def _conflict(
    request: HttpRequest,
    site: Site,
    referral: Referral,
    form: AmendForm | FollowUpForm,
    stale: versioning.StaleEdit,
) -> HttpResponse:
    """A colleague saved a follow-up or a correction while this person was filling the form
    in: the referral as saved now beside what they typed (409), nothing written."""
    saved = access_referral(site, referral.pk)
    _audit_view(request, site, saved, "conflict")
    rows = [
        conflicts.Row(
            label=_("Status"),
            saved=saved.get_status_display(),
            yours=conflicts.shown(form.fields["status"], form.cleaned_data["status"])
            if isinstance(form, AmendForm)
            else _status_after(form.cleaned_data["outcome"]),
        )
    ]
    if isinstance(form, AmendForm):
        rows += conflicts.compare(AmendForm(referral=saved), form, names=_AMENDED)
    else:
        latest = saved.follow_ups.order_by("-at", "-pk").first()
        last = FollowUpForm(
            initial={
                "outcome": latest.outcome if latest else None,
                "method": latest.method if latest else None,
                "note": latest.note if latest else None,
                "next_due": saved.follow_up_due if saved.is_open else None,
            }
        )
        rows += conflicts.compare(last, form)
    return conflicts.conflict(
        request,
        stale=stale,
        record=saved,
        what=_("The referral of %(who)s to %(target)s")
        % {"who": saved.who(), "target": saved.target.label},
        rows=rows,
        back_url=reverse("referrals:detail", kwargs={"site": site.slug, "pk": saved.pk}),
        site=site,
    )


# What a correction compares besides the status (which has its own first row): its reason is
# shown against nothing saved.
_AMENDED = ("target", "urgency", "follow_up_due", "reason")


def _status_after(outcome: str) -> str:
    if outcome in Referral.Status.values:
        return str(Referral.Status(outcome).label)
    return str(Referral.Status.MADE.label)


# ---------------------------------------------------------------------------------------------
# Identity records


def _refused(
    request: HttpRequest, site: Site, record: IdentityRecord | None, what: str
) -> HttpResponse:
    refusal = actions.refuse_identity_access(
        user=_user(request), site=site, record=record, what=what, role=_role(request)
    )
    return _render(
        request, site, "referrals/identity_refused.html", {"message": refusal.message}, status=403
    )


def _named(request: HttpRequest, site: Site) -> bool:
    return actions.may_open_identity(_user(request), site)


@site_view(*IDENTITY_ROLES)
@require_http_methods(["GET", "POST"])
def identity_new(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Record the identity a referral needs, with the person's consent."""
    if not _named(request, site):
        return _refused(request, site, None, "record")
    referral = access_referral(site, pk)
    today = actions.local_date(site, timezone.now())
    form = IdentityForm(request.POST or None, today=today)
    if request.method == "POST" and form.is_valid():
        try:
            actions.record_identity(
                referral=referral,
                details=form.details(),
                consent_scope=form.cleaned_data["consent_scope"],
                consent_confirmed=form.cleaned_data["consent_confirmed"],
                by=_user(request),
                role=_role(request),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except actions.IdentityAccessRefused:
            return _refused(request, site, None, "record")
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("Identity record kept, encrypted."))
            return redirect("referrals:detail", site=site.slug, pk=referral.pk)
    _audit_view(request, site, referral, "identity_new")  # the page names the client
    return _render(
        request, site, "referrals/identity_new.html", {"referral": referral, "form": form}
    )


@site_view(*IDENTITY_ROLES)
@require_POST
def identity_link(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Use the client's identity record (kept for later referrals) for this referral too."""
    if not _named(request, site):
        return _refused(request, site, None, "link")
    referral = access_referral(site, pk)
    record_pk = _pk(request.POST.get("record"))
    record = access_identity_record(site, record_pk or 0)
    try:
        actions.link_identity(
            record=record, referral=referral, by=_user(request), role=_role(request)
        )
    except actions.IdentityAccessRefused:
        return _refused(request, site, record, "link")
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("The identity record is used for this referral too."))
    return redirect("referrals:detail", site=site.slug, pk=referral.pk)


@site_view(*IDENTITY_ROLES)
@require_http_methods(["GET", "POST"])
def identity_open(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Say why, then see the details (in this response only; they are never stored in the
    browser: the page is not cached and a reload asks again)."""
    if not _named(request, site):
        record = IdentityRecord.objects.filter(site=site, pk=pk).first()
        return _refused(request, site, record, "open")
    record = access_identity_record(site, pk)
    form = OpenIdentityForm(request.POST or None)
    details = None
    opened = False
    if request.method == "POST" and form.is_valid():
        try:
            details = actions.open_identity_record(
                record=record,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                by=_user(request),
                role=_role(request),
            )
        except actions.IdentityAccessRefused:
            return _refused(request, site, record, "open")
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            opened = True
    referrals = list(record.referrals.select_related("target").order_by("made_at"))
    return _render(
        request,
        site,
        "referrals/identity_open.html",
        {
            "record": record,
            "form": form,
            "details": details,
            "opened": opened,
            "referrals": referrals,
        },
    )


@site_view(*REFERRAL_ROLES)
@require_http_methods(["GET", "POST"])
def identity_withdraw(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """The person withdraws consent: anyone who works with referrals may record it, since
    nothing is shown and the details are erased at once."""
    record = access_identity_record(site, pk)
    back = record.referrals.order_by("-made_at").first()
    if request.method == "POST":
        try:
            actions.withdraw_consent(record=record, by=_user(request), role=_role(request))
        except ActionRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("Consent withdrawn. Their identity details are erased."))
        if back is not None:
            return redirect("referrals:detail", site=site.slug, pk=back.pk)
        return redirect("referrals:due", site=site.slug)
    return _render(
        request, site, "referrals/identity_withdraw.html", {"record": record, "back": back}
    )


# ---------------------------------------------------------------------------------------------
# Who may open identity records


def _day_start(site: Site, day: Any) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(0, 0), site.tz)


@site_view(*MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def access(request: HttpRequest, site: Site) -> HttpResponse:
    form = GrantForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        try:
            grant = actions.grant_identity_access(
                site=site,
                user=form.cleaned_data["user"],
                reason=form.cleaned_data["reason"],
                expires_at=_day_start(site, form.cleaned_data["until"]),
                by=_user(request),
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(
                request, _("%(name)s may now open identity records here.") % {"name": grant.user}
            )
            return redirect("referrals:access", site=site.slug)
    now = timezone.now()
    grants = list(
        IdentityAccessGrant.objects.filter(site=site)
        .select_related("user", "granted_by", "revoked_by")
        .order_by("-granted_at", "-pk")[:100]
    )
    return _render(
        request,
        site,
        "referrals/access.html",
        {
            "form": form,
            "current": [
                g
                for g in grants
                if g.revoked_at is None and (g.expires_at is None or g.expires_at > now)
            ],
            "past": [
                g
                for g in grants
                if g.revoked_at is not None or (g.expires_at is not None and g.expires_at <= now)
            ],
        },
    )


@site_view(*MANAGER_ROLES)
@require_POST
def access_revoke(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    grant = access_grant(site, pk)
    try:
        actions.revoke_identity_access(grant=grant, by=_user(request))
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request, _("%(name)s can no longer open identity records here.") % {"name": grant.user}
        )
    return redirect("referrals:access", site=site.slug)
