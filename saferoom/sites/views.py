"""Views of site configuration, for the site's managers and administrators: the site's details
and rules, opening hours, spaces, catalogues, staff, and (administrators) network settings.

Each view parses with a form, reaches objects through ``saferoom.sites.access``, calls an action
and renders. A refused or invalid submission shows the form again with its message and writes
nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.core import conflicts, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites import actions, forms
from saferoom.sites.access import (
    access_catalogue_item,
    access_space,
    access_staff_member,
    site_view,
)
from saferoom.sites.models import (
    CatalogueItem,
    ClientCodeScheme,
    IntakeQuestion,
    Membership,
    Network,
    OpeningHours,
    Route,
    Site,
    time_zone_names,
)

MANAGERS = (Role.MANAGER, Role.ADMIN)


def _by(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@site_view(*MANAGERS)
@require_GET
def settings_home(request: HttpRequest, site: Site) -> HttpResponse:
    """One page that leads to everything a manager configures."""
    by = _by(request)
    spaces = list(site.spaces.all())
    catalogue_counts = Counter(
        CatalogueItem.objects.filter(
            Q(site=site) | Q(site__isnull=True, network_id=site.network_id), active=True
        ).values_list("kind", flat=True)
    )
    catalogues = [
        {"slug": slug, "title": forms.CATALOGUE_TITLES[kind], "count": catalogue_counts[kind]}
        for slug, kind in forms.CATALOGUE_SLUGS.items()
    ]
    route_labels = dict(Route.choices)
    context = {
        "site": site,
        "routes": [route_labels.get(r, r) for r in site.permitted_routes],
        "hours": list(site.opening_hours.order_by("weekday", "opens")),
        "space_count": len(spaces),
        "out_of_service": [s for s in spaces if s.out_of_service],
        "catalogues": catalogues,
        "staff_count": Membership.objects.filter(site=site, user__is_active=True)
        .values("user_id")
        .distinct()
        .count(),
        "network_admin": actions.is_network_admin(by, site.network),
        "scheme_label": ClientCodeScheme(site.network.client_code_scheme).label,
    }
    return render(request, "sites/settings.html", context)


# --- A colleague saved first -----------------------------------------------------------------


@dataclass(frozen=True)
class _OnStale:
    """How an edit page shows a save made from an out-of-date form: the record as saved now,
    the words that name it, the rows comparing it with what this person typed, and where
    "Back" goes."""

    reload: Callable[[], Any]
    what: Callable[[Any], str]
    rows: Callable[[Any], list[conflicts.Row]]
    back_url: str


def _save_edit(
    request: HttpRequest,
    site: Site,
    form: django_forms.Form,
    save: Callable[[dict[str, Any]], object],
    *,
    on_stale: _OnStale,
    saved: Callable[[], str],
    then: Callable[[], HttpResponse],
) -> HttpResponse | None:
    """The POST half of every version-checked edit page here. ``save`` calls the action with
    the form's cleaned data; if a colleague saved first, the conflict screen (409) shows both
    versions and nothing is written; if the action refuses, the refusal goes on the form. The
    answer is the response to send, or None to show the form again: reopened from a conflict
    with this person's values, invalid, or refused."""
    if conflicts.reopening(request):
        conflicts.reopened(request)
        return None
    if not form.is_valid():
        return None
    try:
        save(form.cleaned_data)
    except versioning.StaleEdit as stale:
        record = on_stale.reload()
        return conflicts.conflict(
            request,
            stale=stale,
            record=record,
            what=on_stale.what(record),
            rows=on_stale.rows(record),
            back_url=on_stale.back_url,
            site=site,
        )
    except ActionRefused as error:
        forms.apply_refusal(form, error)
        return None
    messages.success(request, saved())
    return then()


def _hours_rows(saved: Site, yours: list[actions.Period]) -> list[conflicts.Row]:
    """One row per day: the periods saved now and the ones this person typed."""
    now = [
        actions.Period(h.weekday, h.opens, h.closes)
        for h in saved.opening_hours.order_by("weekday", "opens")
    ]

    def day(periods: list[actions.Period], weekday: int) -> str:
        times = [f"{p.opens:%H:%M}–{p.closes:%H:%M}" for p in periods if p.weekday == weekday]
        return ", ".join(times) or _("Closed")

    return [
        conflicts.Row(str(label), day(now, weekday), day(sorted(yours, key=_by_start), weekday))
        for weekday, label in OpeningHours.Weekday.choices
    ]


def _by_start(period: actions.Period) -> tuple[int, Any]:
    return (period.weekday, period.opens)


# --- Site details and rules -------------------------------------------------------------------


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, site: Site) -> HttpResponse:
    if request.method == "POST":
        form = forms.SiteRulesForm(request.POST, site=site)
        response = _save_edit(
            request,
            site,
            form,
            lambda data: actions.update_site_rules(
                site=site,
                changes=form.changes(),
                expected_version=data["version"],
                by=_by(request),
            ),
            on_stale=_OnStale(
                reload=lambda: Site.objects.get(pk=site.pk),
                what=lambda saved: _("The details and rules of %(site)s") % {"site": saved.name},
                rows=lambda saved: conflicts.compare(forms.SiteRulesForm(site=saved), form),
                back_url=reverse("sites:settings", kwargs={"site": site.slug}),
            ),
            saved=lambda: _("The site's details and rules are saved."),
            then=lambda: redirect("sites:settings", site=site.slug),
        )
        if response is not None:
            return response
    else:
        form = forms.SiteRulesForm(site=site)
    return render(
        request,
        "sites/rules.html",
        {"site": site, "form": form, "time_zones": time_zone_names()},
    )


# --- Opening hours ----------------------------------------------------------------------------


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def hours(request: HttpRequest, site: Site) -> HttpResponse:
    if request.method == "POST":
        form = forms.OpeningHoursForm(request.POST, site=site)
        response = _save_edit(
            request,
            site,
            form,
            lambda data: actions.set_opening_hours(
                site=site,
                periods=form.periods,
                expected_version=data["version"],
                by=_by(request),
            ),
            on_stale=_OnStale(
                reload=lambda: Site.objects.get(pk=site.pk),
                what=lambda saved: _("The opening hours of %(site)s") % {"site": saved.name},
                rows=lambda saved: _hours_rows(saved, form.periods),
                back_url=reverse("sites:settings", kwargs={"site": site.slug}),
            ),
            saved=lambda: _("The opening hours are saved."),
            then=lambda: redirect("sites:hours", site=site.slug),
        )
        if response is not None:
            return response
    else:
        form = forms.OpeningHoursForm(site=site)
    return render(request, "sites/hours.html", {"site": site, "form": form})


# --- Spaces -----------------------------------------------------------------------------------


@site_view(*MANAGERS)
@require_GET
def spaces(request: HttpRequest, site: Site) -> HttpResponse:
    return render(
        request,
        "sites/spaces.html",
        {
            "site": site,
            "spaces": list(site.spaces.order_by("sort_order", "name")),
            "out_of_service_form": forms.OutOfServiceForm(),
        },
    )


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def space_new(request: HttpRequest, site: Site) -> HttpResponse:
    if request.method == "POST":
        form = forms.NewSpaceForm(request.POST, site=site)
        if form.is_valid():
            data = form.cleaned_data
            try:
                space = actions.create_space(
                    site=site,
                    name=data["name"],
                    kind=data["kind"],
                    seats=data["seats"],
                    clear_down_minutes=data["clear_down_minutes"],
                    accessible=data["accessible"],
                    sort_order=data["sort_order"],
                    by=_by(request),
                    idempotency_key=data["idempotency_key"],
                )
            except ActionRefused as error:
                forms.apply_refusal(form, error)
            else:
                messages.success(request, _("%(name)s is added.") % {"name": space.name})
                return redirect("sites:spaces", site=site.slug)
    else:
        form = forms.NewSpaceForm(site=site)
    return render(request, "sites/space_form.html", {"site": site, "form": form, "space": None})


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def space_edit(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    space = access_space(site, pk)
    if request.method == "POST":
        form = forms.SpaceForm(request.POST, site=site, space=space)
        response = _save_edit(
            request,
            site,
            form,
            lambda data: actions.update_space(
                space=space,
                changes=form.changes(),
                expected_version=data["version"],
                by=_by(request),
            ),
            on_stale=_OnStale(
                reload=lambda: access_space(site, pk),
                what=lambda saved: _("The space %(name)s") % {"name": saved.name},
                rows=lambda saved: conflicts.compare(
                    forms.SpaceForm(site=site, space=saved), form, values=form.changes()
                ),
                back_url=reverse("sites:spaces", kwargs={"site": site.slug}),
            ),
            saved=lambda: _("%(name)s is saved.") % {"name": form.changes()["name"]},
            then=lambda: redirect("sites:spaces", site=site.slug),
        )
        if response is not None:
            return response
    else:
        form = forms.SpaceForm(site=site, space=space)
    return render(request, "sites/space_form.html", {"site": site, "form": form, "space": space})


@site_view(*MANAGERS)
@require_POST
def space_out_of_service(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    space = access_space(site, pk)
    form = forms.OutOfServiceForm(request.POST)
    if form.is_valid():
        try:
            actions.set_out_of_service(
                space=space, reason=form.cleaned_data["reason"], by=_by(request)
            )
        except ActionRefused as error:
            forms.apply_refusal(form, error)
        else:
            messages.success(request, _("%(name)s is out of service.") % {"name": space.name})
            return redirect("sites:spaces", site=site.slug)
    return render(
        request,
        "sites/spaces.html",
        {
            "site": site,
            "spaces": list(site.spaces.order_by("sort_order", "name")),
            "out_of_service_form": forms.OutOfServiceForm(),
            "failed_space": space,
            "failed_form": form,
        },
    )


@site_view(*MANAGERS)
@require_POST
def space_return(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    space = access_space(site, pk)
    try:
        actions.return_to_service(space=space, by=_by(request))
    except ActionRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(name)s is back in service.") % {"name": space.name})
    return redirect("sites:spaces", site=site.slug)


# --- Catalogues -------------------------------------------------------------------------------


def _catalogue_kind(slug: str) -> str:
    kind = forms.CATALOGUE_SLUGS.get(slug)
    if kind is None:
        raise Http404
    return kind


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def catalogue(request: HttpRequest, site: Site, kind: str) -> HttpResponse:
    """One list (substances, supplies …): network-wide entries, this site's own, and a form to
    add an entry for this site (or, for administrators, for the whole network)."""
    by = _by(request)
    kind_value = _catalogue_kind(kind)
    network_admin = actions.is_network_admin(by, site.network)
    if request.method == "POST":
        form = forms.NewCatalogueItemForm(
            request.POST, kind=kind_value, network_scope=network_admin
        )
        if form.is_valid():
            data = form.cleaned_data
            for_network = data.get("scope") == forms.CatalogueItemForm.SCOPE_NETWORK
            try:
                item = actions.create_catalogue_item(
                    network=site.network,
                    site=None if for_network else site,
                    kind=kind_value,
                    label=data["label"],
                    category=data["category"],
                    sort_order=data["sort_order"],
                    by=by,
                    idempotency_key=data["idempotency_key"],
                )
            except ActionRefused as error:
                forms.apply_refusal(form, error)
            else:
                messages.success(request, _("%(label)s is added.") % {"label": item.label})
                return redirect("sites:catalogue", site=site.slug, kind=kind)
    else:
        form = forms.NewCatalogueItemForm(kind=kind_value, network_scope=network_admin)
    entries = CatalogueItem.objects.filter(kind=kind_value).order_by("sort_order", "label")
    category_labels = dict(CatalogueItem.CATEGORIES.get(kind_value, []))
    return render(
        request,
        "sites/catalogue.html",
        {
            "site": site,
            "kind": kind,
            "title": forms.CATALOGUE_TITLES[kind_value],
            "catalogues": [
                {"slug": slug, "title": forms.CATALOGUE_TITLES[k]}
                for slug, k in forms.CATALOGUE_SLUGS.items()
            ],
            "network_entries": [
                (e, category_labels.get(e.category, e.category))
                for e in entries.filter(site__isnull=True, network_id=site.network_id)
            ],
            "site_entries": [
                (e, category_labels.get(e.category, e.category)) for e in entries.filter(site=site)
            ],
            "network_admin": network_admin,
            "form": form,
        },
    )


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def catalogue_edit(request: HttpRequest, site: Site, kind: str, pk: int) -> HttpResponse:
    by = _by(request)
    kind_value = _catalogue_kind(kind)
    item = access_catalogue_item(site, kind_value, pk)
    if item.site is None and not actions.is_network_admin(by, site.network):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.CatalogueItemForm(request.POST, kind=kind_value, item=item)

        def sort_order() -> int:
            chosen = form.cleaned_data["sort_order"]
            return item.sort_order if chosen is None else int(chosen)

        response = _save_edit(
            request,
            site,
            form,
            lambda data: actions.update_catalogue_item(
                item=item,
                label=data["label"],
                category=data["category"],
                sort_order=sort_order(),
                expected_version=data["version"],
                by=by,
            ),
            on_stale=_OnStale(
                reload=lambda: access_catalogue_item(site, kind_value, pk),
                what=lambda saved: _("The entry %(label)s") % {"label": saved.label},
                rows=lambda saved: conflicts.compare(
                    forms.CatalogueItemForm(kind=kind_value, item=saved),
                    form,
                    values={**form.cleaned_data, "sort_order": sort_order()},
                ),
                back_url=reverse("sites:catalogue", kwargs={"site": site.slug, "kind": kind}),
            ),
            saved=lambda: _("%(label)s is saved.") % {"label": form.cleaned_data["label"]},
            then=lambda: redirect("sites:catalogue", site=site.slug, kind=kind),
        )
        if response is not None:
            return response
    else:
        form = forms.CatalogueItemForm(kind=kind_value, item=item)
    return render(
        request,
        "sites/catalogue_edit.html",
        {
            "site": site,
            "kind": kind,
            "title": forms.CATALOGUE_TITLES[kind_value],
            "item": item,
            "form": form,
        },
    )


def _set_catalogue_active(
    request: HttpRequest, site: Site, kind: str, pk: int, *, active: bool
) -> HttpResponse:
    item = access_catalogue_item(site, _catalogue_kind(kind), pk)
    try:
        if active:
            actions.restore_catalogue_item(item=item, by=_by(request))
        else:
            actions.retire_catalogue_item(item=item, by=_by(request))
    except ActionRefused as error:
        messages.error(request, error.message)
    else:
        text = _("%(label)s is offered again.") if active else _("%(label)s is retired.")
        messages.success(request, text % {"label": item.label})
    return redirect("sites:catalogue", site=site.slug, kind=kind)


@site_view(*MANAGERS)
@require_POST
def catalogue_retire(request: HttpRequest, site: Site, kind: str, pk: int) -> HttpResponse:
    return _set_catalogue_active(request, site, kind, pk, active=False)


@site_view(*MANAGERS)
@require_POST
def catalogue_restore(request: HttpRequest, site: Site, kind: str, pk: int) -> HttpResponse:
    return _set_catalogue_active(request, site, kind, pk, active=True)


# --- Network settings -------------------------------------------------------------------------


@site_view(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def network(request: HttpRequest, site: Site) -> HttpResponse:
    by = _by(request)
    if not actions.is_network_admin(by, site.network):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.NetworkSettingsForm(request.POST, network=site.network)
        response = _save_edit(
            request,
            site,
            form,
            lambda data: actions.update_network_settings(
                network=site.network,
                client_code_scheme=data["client_code_scheme"],
                intake_questions=data["intake_questions"],
                expected_version=data["version"],
                by=by,
            ),
            on_stale=_OnStale(
                reload=lambda: Network.objects.get(pk=site.network_id),
                what=lambda saved: _("The settings of %(network)s") % {"network": saved.name},
                rows=lambda saved: conflicts.compare(
                    forms.NetworkSettingsForm(network=saved),
                    form,
                    names=("client_code_scheme", "intake_questions"),
                ),
                back_url=reverse("sites:settings", kwargs={"site": site.slug}),
            ),
            saved=lambda: _("The network settings are saved."),
            then=lambda: redirect("sites:settings", site=site.slug),
        )
        if response is not None:
            return response
    else:
        form = forms.NetworkSettingsForm(network=site.network)
    return render(
        request,
        "sites/network.html",
        {"site": site, "network": site.network, "form": form, "questions": IntakeQuestion},
    )


# --- Staff ------------------------------------------------------------------------------------


def _role_labels(roles: list[str]) -> list[str]:
    labels = dict(Role.choices)
    return [str(labels.get(r, r)) for r in sorted(roles, key=lambda r: Role.values.index(r))]


@site_view(*MANAGERS)
@require_GET
def staff(request: HttpRequest, site: Site) -> HttpResponse:
    """The people who work at this site, and those who work at every site of the network."""
    by = _by(request)
    network_memberships = Membership.objects.filter(network_id=site.network_id).select_related(
        "site"
    )
    members = (
        User.objects.filter(
            Q(memberships__site=site)
            | Q(memberships__site__isnull=True, memberships__network_id=site.network_id)
        )
        .distinct()
        .prefetch_related(Prefetch("memberships", queryset=network_memberships, to_attr="here"))
        .order_by("display_name", "username")
    )
    site_rows: list[dict[str, Any]] = []
    network_rows: list[dict[str, Any]] = []
    for member in members:
        mine = [m for m in member.here if m.site_id == site.pk]
        wide = [m for m in member.here if m.site_id is None]
        elsewhere = sorted(
            {m.site.name for m in member.here if m.site_id not in (None, site.pk) and m.site}
        )
        row = {
            "member": member,
            "roles": _role_labels([m.role for m in mine]),
            "network_roles": _role_labels([m.role for m in wide]),
            "elsewhere": elsewhere,
        }
        (site_rows if mine else network_rows).append(row)
    return render(
        request,
        "sites/staff.html",
        {
            "site": site,
            "site_rows": site_rows,
            "network_rows": network_rows,
            "network_admin": actions.is_network_admin(by, site.network),
        },
    )


def _staff_forms(
    request: HttpRequest, site: Site, *, new: Any = None, existing: Any = None
) -> dict[str, Any]:
    by = _by(request)
    site_roles = actions.grantable_site_roles(by, site)
    network_roles = actions.grantable_network_roles(by, site.network)
    return {
        "site": site,
        "new_form": new
        or forms.NewStaffForm(site=site, site_roles=site_roles, network_roles=network_roles),
        "existing_form": existing or forms.AddExistingStaffForm(site=site, site_roles=site_roles),
    }


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def staff_new(request: HttpRequest, site: Site) -> HttpResponse:
    by = _by(request)
    if request.method == "POST":
        form = forms.NewStaffForm(
            request.POST,
            site=site,
            site_roles=actions.grantable_site_roles(by, site),
            network_roles=actions.grantable_network_roles(by, site.network),
        )
        if form.is_valid():
            data = form.cleaned_data
            memberships: list[tuple[Role, Site | None]] = [
                (Role(r), site) for r in data.get("site_roles", [])
            ] + [(Role(r), None) for r in data.get("network_roles", [])]
            try:
                member = actions.create_staff_user(
                    username=data["username"],
                    display_name=data["display_name"],
                    password=data["password"],
                    memberships=memberships,
                    network=site.network,
                    by=by,
                    idempotency_key=data["idempotency_key"],
                )
            except ActionRefused as error:
                forms.apply_refusal(form, error)
            else:
                messages.success(
                    request, _("The account for %(name)s is ready.") % {"name": member}
                )
                return redirect("sites:staff", site=site.slug)
        return render(request, "sites/staff_new.html", _staff_forms(request, site, new=form))
    return render(request, "sites/staff_new.html", _staff_forms(request, site))


@site_view(*MANAGERS)
@require_POST
def staff_add_existing(request: HttpRequest, site: Site) -> HttpResponse:
    """Give roles here to someone who already has an account at another site of the network."""
    by = _by(request)
    form = forms.AddExistingStaffForm(
        request.POST, site=site, site_roles=actions.grantable_site_roles(by, site)
    )
    if form.is_valid():
        username = form.cleaned_data["username"].strip()
        member = User.objects.filter(username__iexact=username).first()
        reachable = member is not None and (
            Membership.objects.filter(user=member, network_id=site.network_id).exists()
            or (
                actions.is_network_admin(by, site.network)
                and not Membership.objects.filter(user=member).exists()
            )
        )
        if member is None or not reachable:
            form.add_error(
                "username",
                _("No one in this network has the username “%(username)s”.")
                % {"username": username},
            )
        elif Membership.objects.filter(user=member, site=site).exists():
            form.add_error(
                "username",
                _("%(name)s already works here: change their roles from the staff list.")
                % {"name": member},
            )
        else:
            try:
                actions.set_site_roles(
                    user=member, site=site, roles=form.cleaned_data["site_roles"], by=by
                )
            except ActionRefused as error:
                forms.apply_refusal(form, error)
            else:
                messages.success(
                    request, _("%(name)s now works at %(site)s.") % {"name": member, "site": site}
                )
                return redirect("sites:staff", site=site.slug)
    return render(request, "sites/staff_new.html", _staff_forms(request, site, existing=form))


def _staff_edit_context(
    request: HttpRequest, site: Site, member: User, **extra: Any
) -> dict[str, Any]:
    by = _by(request)
    site_roles = actions.grantable_site_roles(by, site)
    network_roles = actions.grantable_network_roles(by, site.network)
    held_here = list(member.memberships.filter(site=site).values_list("role", flat=True))
    context = {
        "site": site,
        "member": member,
        "form": forms.StaffEditForm(
            site=site,
            member=member,
            site_roles=site_roles,
            network_roles=network_roles,
        ),
        "password_form": forms.SetPasswordForm(member=member),
        "other_roles_here": _role_labels([r for r in held_here if r not in site_roles]),
        "elsewhere": sorted(
            {
                m.site.name
                for m in member.memberships.select_related("site").exclude(site=site)
                if m.site is not None
            }
        ),
        "network_roles_held": _role_labels(
            list(
                member.memberships.filter(
                    site__isnull=True, network_id=site.network_id
                ).values_list("role", flat=True)
            )
        ),
        "may_manage_account": actions.may_manage_account(by, member),
        "is_self": member.pk == by.pk,
    }
    context.update(extra)
    return context


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    by = _by(request)
    member = access_staff_member(by, site, pk)
    if request.method != "POST":
        return render(request, "sites/staff_edit.html", _staff_edit_context(request, site, member))
    network_roles = actions.grantable_network_roles(by, site.network)
    form = forms.StaffEditForm(
        request.POST,
        site=site,
        member=member,
        site_roles=actions.grantable_site_roles(by, site),
        network_roles=network_roles,
    )
    response = _save_edit(
        request,
        site,
        form,
        # One action for the whole page: a refusal of the roles undoes the name too.
        lambda data: actions.edit_staff_member(
            user=member,
            site=site,
            display_name=data["display_name"],
            site_roles=data["site_roles"],
            network_roles=data.get("network_roles", []) if network_roles else None,
            expected_version=data["version"],
            by=by,
        ),
        on_stale=_OnStale(
            reload=lambda: access_staff_member(by, site, pk),
            what=lambda saved: _("The name and roles of %(name)s") % {"name": saved},
            rows=lambda saved: conflicts.compare(
                forms.StaffEditForm(
                    site=site,
                    member=saved,
                    site_roles=actions.grantable_site_roles(by, site),
                    network_roles=network_roles,
                ),
                form,
            ),
            back_url=reverse("sites:staff", kwargs={"site": site.slug}),
        ),
        saved=lambda: _("Changes for %(name)s are saved.") % {"name": member},
        then=lambda: redirect("sites:staff", site=site.slug),
    )
    if response is not None:
        return response
    # Shown again: the page names the member as saved, not as a refused action left them.
    member.refresh_from_db()
    return render(
        request, "sites/staff_edit.html", _staff_edit_context(request, site, member, form=form)
    )


@site_view(*MANAGERS)
@require_POST
def staff_password(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    by = _by(request)
    member = access_staff_member(by, site, pk)
    form = forms.SetPasswordForm(request.POST, member=member)
    if form.is_valid():
        try:
            actions.set_staff_password(
                user=member, password=form.cleaned_data["new_password"], by=by
            )
        except ActionRefused as error:
            form.add_error("new_password", error.message)
        else:
            messages.success(
                request,
                _("%(name)s has a new password. Give it to them in person.") % {"name": member},
            )
            return redirect("sites:staff_edit", site=site.slug, pk=member.pk)
    return render(
        request,
        "sites/staff_edit.html",
        _staff_edit_context(request, site, member, password_form=form),
    )


def _set_staff_active(request: HttpRequest, site: Site, pk: int, *, active: bool) -> HttpResponse:
    by = _by(request)
    member = access_staff_member(by, site, pk)
    try:
        if active:
            actions.reactivate_staff_user(user=member, by=by)
        else:
            actions.deactivate_staff_user(user=member, by=by)
    except ActionRefused as error:
        messages.error(request, error.message)
        return redirect("sites:staff_edit", site=site.slug, pk=member.pk)
    text = _("%(name)s can log in again.") if active else _("%(name)s can no longer log in.")
    messages.success(request, text % {"name": member})
    return redirect("sites:staff", site=site.slug)


@site_view(*MANAGERS)
@require_POST
def staff_deactivate(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    return _set_staff_active(request, site, pk, active=False)


@site_view(*MANAGERS)
@require_POST
def staff_reactivate(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    return _set_staff_active(request, site, pk, active=True)
