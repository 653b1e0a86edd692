"""Views of the client registry: find, register, the client record, intake, bans and merges.

Codes and attributes only ever travel in POST bodies, never in a URL. Every page that shows a
client writes an audit event. Clients are loaded only through ``clients.access``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from saferoom.clients import actions
from saferoom.clients.access import (
    access_client,
    client_level_sites,
    grant_client,
    manages_network,
    may_set_ban,
)
from saferoom.clients.forms import (
    AttributesForm,
    BanForm,
    CodeSearchForm,
    IntakeForm,
    LiftBanForm,
    MergeConfirmForm,
    MergeLookupForm,
    RegistrationForm,
)
from saferoom.clients.models import Ban, Client, Intake, enabled_intake_questions
from saferoom.core import audit, breakglass, conflicts, ratelimit, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.access import site_view
from saferoom.sites.models import Site

CLIENT_ROLES = (Role.DESK, Role.FLOOR, Role.MANAGER, Role.ADMIN)
MANAGER_ROLES = (Role.MANAGER, Role.ADMIN)
VISITS_PER_PAGE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _role(request: HttpRequest) -> str:
    return str(getattr(request, "current_role", ""))


def _today(site: Site) -> date:
    return site.local(timezone.now()).date()


def _render(
    request: HttpRequest,
    site: Site,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    # site_view has already switched to the site's time zone.
    return render(request, template, {"site": site, **context}, status=status)


def _audit_view(
    request: HttpRequest, site: Site, client: Client, page: str, *, grant: Any = None
) -> None:
    detail: dict[str, Any] = {"page": page}
    if grant is not None:
        detail["break_glass"] = grant.pk  # seen under emergency access: which grant
    audit.record(
        action="client.viewed",
        by=_user(request),
        obj=client,
        site=site,
        role=_role(request),
        detail=detail,
    )


def checkin_url(site: Site, client: Client) -> str | None:
    """The desk's check-in page for this client, when the floor app provides one."""
    try:
        return reverse("floor:checkin", kwargs={"site": site.slug, "client": client.pk})
    except NoReverseMatch:
        return None


def _card(site: Site, client: Client) -> dict[str, Any]:
    """What the desk needs at a glance about one client."""
    now = timezone.now()
    return {
        "client": client,
        "age_band": client.age_band_in(site.local(now).year),
        "bans": actions.active_bans(client=client, site=site, at=now),
        "checkin_url": checkin_url(site, client),
        "intake_missing": not Intake.objects.filter(client=client).exists(),
    }


def _found(
    request: HttpRequest, site: Site, clients: list[Client], how: str
) -> list[dict[str, Any]]:
    """Let the user open the clients they found, and log that they saw them."""
    for client in clients:
        grant_client(request, client)
        audit.record(
            action="client.found",
            by=_user(request),
            obj=client,
            site=site,
            role=_role(request),
            detail={"by": how},
        )
    return [_card(site, client) for client in clients]


# ---------------------------------------------------------------------------------------------
# Find and register


@site_view(*CLIENT_ROLES)
@require_http_methods(["GET", "POST"])
def find(request: HttpRequest, site: Site) -> HttpResponse:
    """The desk's search: by the code on the card, or by the code-scheme attributes. Not found
    by attributes: the registration form, filled in, in the same response."""
    network = site.network
    today = _today(site)
    code_form = CodeSearchForm()
    attributes_form = AttributesForm(network=network, today=today, prefix="find")
    context: dict[str, Any] = {"searched": None, "results": []}
    if request.method == "POST":
        search = request.POST.get("search")
        if search in ("code", "attributes"):
            # Searches are limited per person (bulk extraction): past the limit, a 429 page.
            ratelimit.check(request, ratelimit.SEARCH, site=site)
        if search == "code":
            code_form = CodeSearchForm(request.POST)
            context["searched"] = "code"
            if code_form.is_valid():
                client = actions.find_by_code(
                    network=network, typed_code=code_form.cleaned_data["code"]
                )
                context["searched_code"] = code_form.cleaned_data["code"]
                if client is not None:
                    context["results"] = _found(request, site, [client], "code")
                else:
                    _audit_search(request, site, "code")
        elif search == "attributes":
            attributes_form = AttributesForm(
                request.POST, network=network, today=today, prefix="find"
            )
            context["searched"] = "attributes"
            if attributes_form.is_valid():
                clients = actions.find_by_attributes(
                    network=network, attrs=attributes_form.attributes(), today=today
                )
                if clients:
                    context["results"] = _found(request, site, clients, "attributes")
                else:
                    _audit_search(request, site, "attributes")
                    initial = attributes_form.prefill()
                    if "sex" in initial:
                        initial["gender"] = initial["sex"]  # a likely answer; staff can change it
                    context["register_form"] = RegistrationForm(
                        network=network, today=today, initial=initial
                    )
    if context["results"] or "register_form" in context:
        # Leave the page where the answer is: focusing the code box would scroll past it.
        code_form.fields["code"].widget.attrs.pop("autofocus", None)
    context.update(code_form=code_form, attributes_form=attributes_form)
    return _render(request, site, "clients/find.html", context)


def _audit_search(request: HttpRequest, site: Site, how: str) -> None:
    # A search that found nobody is logged too (how, not what was typed), so that someone
    # trying many codes or birth dates shows up in the audit trail.
    audit.record(
        action="client.search_not_found",
        by=_user(request),
        site=site,
        role=_role(request),
        detail={"by": how},
    )


@site_view(*CLIENT_ROLES)
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest, site: Site) -> HttpResponse:
    """Register a new client, warning first when they seem to be registered already."""
    network = site.network
    today = _today(site)
    if request.method != "POST":
        form = RegistrationForm(network=network, today=today)
        return _render(request, site, "clients/register.html", {"form": form})
    form = RegistrationForm(request.POST, network=network, today=today)
    context: dict[str, Any] = {"form": form, "candidates": []}
    if not form.is_valid():
        return _render(request, site, "clients/register.html", context)
    attrs = form.attributes()
    try:
        client = actions.register_client(
            site=site,
            attrs=attrs,
            gender=form.client_gender(),
            by=_user(request),
            idempotency_key=form.cleaned_data["idempotency_key"],
            confirm_not_duplicate=_confirmed_different(request, attrs, network, today),
            intake_answers=form.intake_answers() if form.intake_names else None,
        )
    except actions.LikelyDuplicate as duplicate:
        # Staff may now open or check in the client they recognise (that is "picking" them),
        # or confirm that the person in front of them is someone else.
        context["duplicate"] = duplicate.message
        context["candidates"] = _found(request, site, duplicate.candidates, "duplicate_warning")
        context["candidate_ids"] = ",".join(str(c.pk) for c in duplicate.candidates)
        return _render(request, site, "clients/register.html", context)
    except ActionRefused as refused:
        form.add_error(None, refused.message)
        return _render(request, site, "clients/register.html", context)
    grant_client(request, client)
    return _render(
        request,
        site,
        "clients/registered.html",
        {"client": client, "checkin_url": checkin_url(site, client)},
    )


def _confirmed_different(request: HttpRequest, attrs: Any, network: Any, today: date) -> bool:
    """True when staff confirmed "a different person" for every client the warning would show
    now. Confirming covers only the clients that were on screen: if the details were changed
    and match someone else, the warning comes back."""
    confirmed = set(request.POST.get("confirm_different_from", "").split(","))
    if confirmed == {""}:
        return False
    candidates = actions.duplicate_candidates(network=network, attrs=attrs, today=today)
    return {str(c.pk) for c in candidates} <= confirmed


# ---------------------------------------------------------------------------------------------
# The client record


@site_view(*CLIENT_ROLES)
@require_GET
def detail(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    client = access_client(request, site, pk)
    if client.pk != pk:
        return redirect("clients:detail", site=site.slug, pk=client.pk)
    now = timezone.now()
    user = _user(request)
    # Break-glass (saferoom.core.breakglass) shows the history at every site of the network.
    grant = breakglass.active_grant(user, client.pk, now)
    _audit_view(request, site, client, "record", grant=grant)
    bans = list(
        Ban.objects.filter(client=client)
        .select_related("site", "set_by", "lifted_by")
        .order_by("-starts_at", "-pk")
    )
    visits = (
        (
            client.visits.filter(site__network_id=client.network_id)
            if grant is not None
            else client.visits.filter(site__in=client_level_sites(user))
        )
        .select_related("site")
        .order_by("-arrived_at", "-pk")
    )
    page = Paginator(visits, VISITS_PER_PAGE).get_page(request.GET.get("page"))
    intake = Intake.objects.filter(client=client).select_related("recorded_by").first()
    context = {
        **_card(site, client),
        "intake": intake,
        "intake_rows": _intake_rows(intake, enabled_intake_questions(client.network)),
        "active_bans": [b for b in bans if b.is_active(now)],
        "upcoming_bans": [b for b in bans if b.starts_at > now and not b.is_lifted(now)],
        "past_bans": [
            b
            for b in bans
            if not b.is_active(now) and not (b.starts_at > now and not b.is_lifted(now))
        ],
        "visits": page,
        "merges": client.merges_kept.select_related("merged", "merged_by").order_by("-merged_at"),
        "may_manage": _role(request) in MANAGER_ROLES,
        "grant": grant,
        "network_incidents": (
            client.incidents.filter(site__network_id=client.network_id)
            .select_related("site")
            .order_by("-onset_at", "-pk")[:50]
            if grant is not None
            else None
        ),
        # Only bans this user could lift get a Lift button (a site manager cannot lift a
        # network-wide ban or another site's ban).
        "liftable_ban_ids": {
            b.pk
            for b in bans
            if b.lifted_at is None
            and (b.expires_at is None or b.expires_at > now)
            and may_set_ban(user, network=client.network, site=b.site)
        },
    }
    return _render(request, site, "clients/detail.html", context)


def _intake_rows(intake: Intake | None, enabled: list[str]) -> list[tuple[str, str]]:
    """(question, answer) pairs for the network's questions, answered or not."""
    if intake is None:
        return []
    rows = []
    for name in enabled:
        field = Intake._meta.get_field(name)
        value = getattr(intake, name)
        if name == "years_of_use":
            answer = _("Did not say") if value is None else str(value)
        elif name == "residence_area":
            answer = value or _("Did not say")
        else:
            answer = str(getattr(intake, f"get_{name}_display")())
        rows.append((str(getattr(field, "verbose_name", name)), answer))
    return rows


@site_view(*CLIENT_ROLES)
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    client = access_client(request, site, pk)
    network = client.network
    today = _today(site)
    existing = Intake.objects.filter(client=client).first()
    names = enabled_intake_questions(network)

    def make_form(data: Any = None, *, on: Intake | None = existing) -> IntakeForm:
        initial: dict[str, Any] = {name: getattr(on, name) for name in names} if on else {}
        initial["version"] = on.version if on else versioning.NOT_YET_RECORDED
        return IntakeForm(
            data, network=network, year_of_birth=client.year_of_birth, today=today, initial=initial
        )

    if request.method == "POST":
        form = make_form(request.POST)
        if conflicts.reopening(request):
            conflicts.reopened(request)
        elif form.is_valid():
            try:
                actions.record_intake(
                    client=client,
                    site=site,
                    answers=form.intake_answers(),
                    expected_version=form.cleaned_data["version"],
                    by=_user(request),
                )
            except versioning.StaleEdit as stale:
                saved = Intake.objects.filter(client=client).first()
                _audit_view(request, site, client, "intake_conflict")
                return conflicts.conflict(
                    request,
                    stale=stale,
                    record=saved or client,
                    what=_("The intake answers of %(code)s") % {"code": client.display_code},
                    rows=conflicts.compare(make_form(on=saved), form),
                    history=None if saved is not None else [],
                    back_url=reverse("clients:detail", kwargs={"site": site.slug, "pk": client.pk}),
                    site=site,
                )
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, _("Intake saved."))
                return redirect("clients:detail", site=site.slug, pk=client.pk)
    else:
        form = make_form()
        _audit_view(request, site, client, "intake")
    return _render(
        request, site, "clients/intake.html", {"client": client, "form": form, "existing": existing}
    )


# ---------------------------------------------------------------------------------------------
# Bans


@site_view(*MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def ban_new(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    client = access_client(request, site, pk)
    user = _user(request)
    today = _today(site)
    network_wide_allowed = manages_network(user, client.network)

    def make_form(data: Any = None) -> BanForm:
        return BanForm(data, site=site, today=today, network_wide_allowed=network_wide_allowed)

    if request.method == "POST":
        form = make_form(request.POST)
        if form.is_valid():
            now = timezone.now()
            try:
                actions.set_ban(
                    client=client,
                    site=form.ban_site(),
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    starts_at=form.starts_at(),
                    expires_at=form.expires_at(),
                    by=user,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    at=now,
                    from_site=site,
                )
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, _("The ban is set."))
                return redirect("clients:detail", site=site.slug, pk=client.pk)
    else:
        form = make_form()
        _audit_view(request, site, client, "ban_new")
    return _render(request, site, "clients/ban_new.html", {"client": client, "form": form})


@site_view(*MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def ban_lift(request: HttpRequest, site: Site, pk: int, ban: int) -> HttpResponse:
    client = access_client(request, site, pk)
    ban_obj = (
        Ban.objects.select_related("site", "set_by", "client").filter(pk=ban, client=client).first()
    )
    if ban_obj is None:
        raise Http404
    if request.method == "POST":
        form = LiftBanForm(request.POST)
        if form.is_valid():
            try:
                actions.lift_ban(
                    ban=ban_obj,
                    reason=form.cleaned_data["reason"],
                    by=_user(request),
                    from_site=site,
                )
            except ActionRefused as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, _("The ban is lifted."))
                return redirect("clients:detail", site=site.slug, pk=client.pk)
    else:
        form = LiftBanForm()
        _audit_view(request, site, client, "ban_lift")
    return _render(
        request, site, "clients/ban_lift.html", {"client": client, "ban": ban_obj, "form": form}
    )


# ---------------------------------------------------------------------------------------------
# Merges


@site_view(*MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def merge(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A manager merges two codes of one person: type the other code, compare them side by
    side, choose which code stays, and confirm with a reason."""
    client = access_client(request, site, pk)
    context: dict[str, Any] = {"client": client, "this_card": _card(site, client)}
    if request.method != "POST":
        _audit_view(request, site, client, "merge")
        return _render(
            request, site, "clients/merge.html", {**context, "lookup": MergeLookupForm()}
        )
    lookup = MergeLookupForm(request.POST)
    other = None
    if lookup.is_valid():
        # Typing the exact code is as good as finding the client at the desk.
        other = actions.find_by_code(
            network=client.network, typed_code=lookup.cleaned_data["other_code"]
        )
        if other is None:
            lookup.add_error("other_code", _("No other client in this network has that code."))
        elif other.pk == client.pk:
            lookup.add_error(
                "other_code", _("That is this client's own code. Type the other code.")
            )
            other = None
    if other is None:
        return _render(request, site, "clients/merge.html", {**context, "lookup": lookup})
    grant_client(request, other)
    codes_shown = {"this_code": client.display_code, "other_code": other.display_code}
    if request.POST.get("step") != "confirm":
        confirm = MergeConfirmForm(
            initial={"other_code": other.display_code, "keep": _older(client, other)}, **codes_shown
        )
        return _compare(request, site, context, other, confirm)
    confirm = MergeConfirmForm(request.POST, **codes_shown)
    if not confirm.is_valid():
        return _compare(request, site, context, other, confirm)
    keep, merged = (client, other) if confirm.cleaned_data["keep"] == "this" else (other, client)
    try:
        actions.merge_clients(
            keep=keep,
            merge=merged,
            reason=confirm.cleaned_data["reason"],
            by=_user(request),
            site=site,
        )
    except ActionRefused as refused:
        confirm.add_error(None, refused.message)
        return _compare(request, site, context, other, confirm)
    grant_client(request, keep)
    messages.success(
        request,
        _("Merged: %(merged)s now finds %(kept)s.")
        % {"merged": merged.display_code, "kept": keep.display_code},
    )
    return redirect("clients:detail", site=site.slug, pk=keep.pk)


def _older(a: Client, b: Client) -> str:
    """Keep the code registered first by default: it is the one most likely on a card."""
    return "this" if (a.registered_at, a.pk) <= (b.registered_at, b.pk) else "other"


def _compare(
    request: HttpRequest,
    site: Site,
    context: dict[str, Any],
    other: Client,
    confirm: MergeConfirmForm,
) -> HttpResponse:
    _audit_view(request, site, other, "merge_compare")
    return _render(
        request,
        site,
        "clients/merge.html",
        {**context, "other_card": _card(site, other), "confirm": confirm},
    )
