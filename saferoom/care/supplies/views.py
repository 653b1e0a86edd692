"""The supplies and services pages of a site: a visit's care page and the walk-in page (big
buttons: one tap on a quantity gives it out), and the stock pages (levels, low-stock warnings,
an item's history; deliveries, counts, adjustments and warning levels).

Who may do what: the desk, floor staff, managers and administrators give out supplies and
services and see stock levels and history. Deliveries may be received by floor staff as well as
managers: they arrive during opening hours when no manager may be in, every receipt is audited
and shown with its name in the item's history, and only adds stock (a manager's count puts any
mistake right). Counts, adjustments and warning levels are for managers and administrators.
Evaluators see aggregates only: every page here answers 403.

Every form works without JavaScript (POST, then back to the page with a message) and with htmx
(the care panel comes back in place, with the message in a live region)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from saferoom.care.supplies import actions, forms, queries
from saferoom.care.supplies.access import (
    GIVERS,
    MANAGERS,
    RECEIVERS,
    access_movement,
    access_service,
    access_service_item,
    access_supply,
    access_walk_in_client,
)
from saferoom.care.supplies.models import StockLevel
from saferoom.clients.actions import find_by_code
from saferoom.clients.codes import CodeError
from saferoom.clients.models import Client
from saferoom.core import audit, conflicts, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.floor.access import access_visit
from saferoom.floor.models import Visit
from saferoom.sites.access import site_view
from saferoom.sites.models import CatalogueItem, Site, catalogue_for

# The quantity buttons shown for an item: naloxone kits go one or two at a time.
QUANTITIES = {"naloxone": (1, 2)}
DEFAULT_QUANTITIES = (1, 2, 5, 10)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _role(request: HttpRequest) -> str:
    return str(getattr(request, "current_role", "") or "")


def _bad_input_status(request: HttpRequest) -> int:
    return 422 if request.htmx else 200  # type: ignore[attr-defined]


def who_of(visit: Visit | None, client: Client | None) -> str:
    if visit is not None:
        if visit.client is not None:
            return visit.client.display_code
        return _("the anonymous visitor") if visit.anonymous else _("the unregistered visitor")
    if client is not None:
        return client.display_code
    return _("a walk-in")


# --- The care panel: a visit's, or the walk-in page's ---------------------------------------


def _key() -> str:
    return str(uuid.uuid4())


def care_context(
    request: HttpRequest, site: Site, *, visit: Visit | None, client: Client | None
) -> dict[str, Any]:
    supplies = [
        {
            "stock": row,
            "buttons": [
                {"n": n, "key": _key(), "enough": row.quantity >= n}
                for n in QUANTITIES.get(row.item.category, DEFAULT_QUANTITIES)
            ],
        }
        for row in queries.stock_levels(site)
    ]
    services = [{"item": item, "key": _key()} for item in catalogue_for(site, "service")]
    if visit is not None:
        given = queries.supplies_given_to(visit)
        services_given = queries.services_given_to(visit)
    else:
        given = queries.recent_walk_in_supplies(site)
        services_given = queries.recent_walk_in_services(site)
    return {
        "site": site,
        "visit": visit,
        "client": client,
        "who": who_of(visit, client),
        "supplies": supplies,
        "services": services,
        "given": [{"movement": m, "key": _key()} for m in given],
        "services_given": services_given,
        "low": queries.low_stock(site),
        "other_form": forms.GiveForm(),
        "can_manage": _role(request) in MANAGERS,
        "me": _user(request).pk,
    }


def _care_response(
    request: HttpRequest,
    site: Site,
    *,
    visit: Visit | None,
    client: Client | None,
    flash: str = "",
    error: str = "",
    error_item: CatalogueItem | None = None,
    status: int = 200,
) -> HttpResponse:
    """The answer to a give-out or service. Without htmx, success goes back to the page (so a
    reload does not post again) and a refusal shows the page with the message. With htmx, the
    fresh panel with the message."""
    if not request.htmx and not error:  # type: ignore[attr-defined]
        if flash:
            messages.success(request, flash)
        return redirect(_back(site, visit, client))
    context = care_context(request, site, visit=visit, client=client)
    context.update(flash=flash, error=error, error_item=error_item)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "supplies/care_action.htmx.html", context, status=status)
    template = "supplies/visit.html" if visit is not None else "supplies/walk_in.html"
    return render(request, template, context, status=status)


def _back(site: Site, visit: Visit | None, client: Client | None) -> str:
    if visit is not None:
        return reverse("supplies:visit", kwargs={"site": site.slug, "pk": visit.pk})
    url = reverse("supplies:walk_in", kwargs={"site": site.slug})
    if client is not None:
        url += "?" + urlencode({"client": client.pk})
    return url


def _recipient(
    site: Site, request: HttpRequest, visit_id: int | None, client_id: int | None
) -> tuple[Visit | None, Client | None]:
    if visit_id is not None:
        return access_visit(request, site, visit_id), None
    if client_id is not None:
        return None, access_walk_in_client(site, client_id)
    return None, None


def _viewed(request: HttpRequest, site: Site, client: Client | None, page: str) -> None:
    """A page showing a client's code and what they were given is a read of client-level data."""
    if client is not None:
        audit.record(
            action="client.viewed",
            by=_user(request),
            obj=client,
            site=site,
            role=_role(request),
            detail={"page": page},
        )


@site_view(*GIVERS)
@require_GET
def visit_care(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A visit's care page: supplies and services given to this visit, in one or two taps."""
    visit = access_visit(request, site, pk)
    _viewed(request, site, visit.client, "care")
    return render(
        request, "supplies/visit.html", care_context(request, site, visit=visit, client=None)
    )


@site_view(*GIVERS)
@require_http_methods(["GET", "POST"])
def walk_in(request: HttpRequest, site: Site) -> HttpResponse:
    """Supplies and services for someone who is not visiting the consumption room: with no
    card, or with their client code."""
    client = None
    find_form = forms.WalkInFindForm()
    status = 200
    if request.method == "POST":
        find_form = forms.WalkInFindForm(request.POST)
        if find_form.is_valid():
            try:
                found = find_by_code(
                    network=site.network, typed_code=find_form.cleaned_data["code"]
                )
            except CodeError as problem:
                find_form.add_error("code", str(problem))
            else:
                if found is None:
                    find_form.add_error(
                        "code",
                        _(
                            "No client has that code in this network. Check the card, or carry "
                            "on without a code."
                        ),
                    )
                else:
                    return redirect(_back(site, None, found))
        status = _bad_input_status(request)
    else:
        raw = request.GET.get("client", "")
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise Http404
            client = access_walk_in_client(site, int(raw))
            _viewed(request, site, client, "walk_in")
    context = care_context(request, site, visit=None, client=client)
    context["find_form"] = find_form
    return render(request, "supplies/walk_in.html", context, status=status)


@site_view(*GIVERS)
@require_POST
def give(request: HttpRequest, site: Site) -> HttpResponse:
    """One tap: give a quantity of a supply to a visit or a walk-in."""
    form = forms.GiveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        visit, client = _recipient(site, request, data["visit"], data["client"])
        item = access_supply(site, data["item"])
        try:
            movement = actions.give_supply(
                site=site,
                item=item,
                quantity=data["quantity"],
                visit=visit,
                client=client,
                by=_user(request),
                idempotency_key=data["idempotency_key"],
                tapped_at=data["at"],
            )
        except ActionRefused as refusal:
            return _care_response(
                request,
                site,
                visit=visit,
                client=client,
                error=refusal.message,
                error_item=item if refusal.code == "not_enough_stock" else None,
                status=_bad_input_status(request),
            )
        flash = _("Given: %(n)s × %(item)s to %(who)s. %(left)s left in stock.") % {
            "n": -movement.quantity,
            "item": item.label,
            "who": who_of(visit, client),
            "left": movement.balance_after,
        }
        return _care_response(request, site, visit=visit, client=client, flash=flash)
    visit, client = _recipient_or_none(site, request, form)
    return _care_response(
        request,
        site,
        visit=visit,
        client=client,
        error=form.first_error(),
        status=_bad_input_status(request),
    )


def _recipient_or_none(
    site: Site, request: HttpRequest, form: forms.FirstErrorMixin
) -> tuple[Visit | None, Client | None]:
    """Where to show a bad form's message: the visit or walk-in it came from, if readable."""
    cleaned = getattr(form, "cleaned_data", {})
    return _recipient(site, request, cleaned.get("visit"), cleaned.get("client"))


@site_view(*GIVERS)
@require_POST
def give_service(request: HttpRequest, site: Site) -> HttpResponse:
    """One tap: a service given on site to a visit or a walk-in."""
    form = forms.ServiceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        visit, client = _recipient(site, request, data["visit"], data["client"])
        item = access_service_item(site, data["item"])
        try:
            actions.give_service(
                site=site,
                item=item,
                visit=visit,
                client=client,
                by=_user(request),
                idempotency_key=data["idempotency_key"],
                tapped_at=data["at"],
            )
        except ActionRefused as refusal:
            return _care_response(
                request,
                site,
                visit=visit,
                client=client,
                error=refusal.message,
                status=_bad_input_status(request),
            )
        flash = _("Recorded: %(service)s for %(who)s.") % {
            "service": item.label,
            "who": who_of(visit, client),
        }
        return _care_response(request, site, visit=visit, client=client, flash=flash)
    visit, client = _recipient_or_none(site, request, form)
    return _care_response(
        request,
        site,
        visit=visit,
        client=client,
        error=form.first_error(),
        status=_bad_input_status(request),
    )


@site_view(*GIVERS)
@require_POST
def reverse_give_out(request: HttpRequest, site: Site) -> HttpResponse:
    """A give-out recorded in error goes back into stock, with a reason."""
    form = forms.ReverseForm(request.POST)
    if not form.is_valid():
        movement_id = getattr(form, "cleaned_data", {}).get("movement")
        movement = access_movement(site, movement_id) if movement_id else None
        visit = movement.visit if movement is not None else None
        client = movement.client if movement is not None and visit is None else None
        return _care_response(
            request,
            site,
            visit=visit,
            client=client,
            error=form.first_error(),
            status=_bad_input_status(request),
        )
    movement = access_movement(site, form.cleaned_data["movement"])
    visit = movement.visit
    client = movement.client if visit is None else None
    try:
        actions.reverse_give_out(
            movement=movement,
            reason=form.cleaned_data["reason"],
            by=_user(request),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ActionRefused as refusal:
        return _care_response(
            request,
            site,
            visit=visit,
            client=client,
            error=refusal.message,
            status=_bad_input_status(request),
        )
    flash = _("Reversed: %(n)s × %(item)s went back into stock.") % {
        "n": -movement.quantity,
        "item": movement.item.label,
    }
    return _care_response(request, site, visit=visit, client=client, flash=flash)


@site_view(*GIVERS)
@require_POST
def void_service(request: HttpRequest, site: Site) -> HttpResponse:
    """A service recorded in error stays on record, marked void."""
    form = forms.VoidServiceForm(request.POST)
    service_id = form.cleaned_data.get("service") if form.is_valid() else None
    if service_id is None:
        raw = request.POST.get("service", "")
        service_id = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    service = access_service(site, service_id) if service_id else None
    visit = service.visit if service is not None else None
    client = service.client if service is not None and visit is None else None
    if service is None or not form.is_valid():
        return _care_response(
            request,
            site,
            visit=visit,
            client=client,
            error=form.first_error(),
            status=_bad_input_status(request),
        )
    try:
        actions.void_service(service=service, reason=form.cleaned_data["reason"], by=_user(request))
    except ActionRefused as refusal:
        return _care_response(
            request,
            site,
            visit=visit,
            client=client,
            error=refusal.message,
            status=_bad_input_status(request),
        )
    flash = _("%(service)s is marked as recorded in error.") % {"service": service.item.label}
    return _care_response(request, site, visit=visit, client=client, flash=flash)


# --- Stock --------------------------------------------------------------------------------


@site_view(*GIVERS)
@require_GET
def stock(request: HttpRequest, site: Site) -> HttpResponse:
    """Stock levels of every supply, with low-stock warnings first."""
    rows = queries.stock_levels(site)
    return render(
        request,
        "supplies/stock.html",
        {
            "site": site,
            "rows": rows,
            "low": [row for row in rows if row.is_low],
            "out": [row for row in rows if row.is_out],
            "can_receive": _role(request) in RECEIVERS,
            "can_manage": _role(request) in MANAGERS,
        },
    )


def _item_page(
    request: HttpRequest,
    site: Site,
    item: CatalogueItem,
    *,
    bound: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    role = _role(request)
    level = queries.level_of(site, item)
    context: dict[str, Any] = {
        "site": site,
        "item": item,
        "level": level,
        "history": queries.history(site, item),
        "history_limit": queries.HISTORY_LIMIT,
        "can_receive": role in RECEIVERS,
        "can_manage": role in MANAGERS,
        "receive_form": forms.ReceiveForm(),
        "count_form": forms.CountForm(),
        "adjust_form": forms.AdjustForm(),
        "threshold_form": forms.ThresholdForm(
            initial={"threshold": level.low_threshold, "version": level.version}
        ),
        "error": error,
    }
    context.update(bound or {})
    return render(request, "supplies/item.html", context, status=status)


@site_view(*GIVERS)
@require_GET
def stock_item(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """One item: its stock, warning level and history; the forms the person may use."""
    return _item_page(request, site, access_supply(site, pk))


def _stock_write(
    request: HttpRequest,
    site: Site,
    pk: int,
    form: Any,
    form_name: str,
    write: Any,
) -> HttpResponse:
    item = access_supply(site, pk)
    if form.is_valid():
        try:
            flash = write(item, form.cleaned_data)
        except versioning.StaleEdit:
            raise  # the caller shows both versions
        except ActionRefused as refusal:
            return _item_page(
                request,
                site,
                item,
                bound={form_name: form},
                error=refusal.message,
                status=_bad_input_status(request),
            )
        messages.success(request, flash)
        return redirect("supplies:item", site=site.slug, pk=item.pk)
    return _item_page(
        request, site, item, bound={form_name: form}, status=_bad_input_status(request)
    )


@site_view(*RECEIVERS)
@require_POST
def receive(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A delivery arrived."""

    def write(item: CatalogueItem, data: dict[str, Any]) -> str:
        movement = actions.receive_stock(
            site=site,
            item=item,
            quantity=data["quantity"],
            note=data["note"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
        )
        return _("Received %(n)s × %(item)s. %(total)s in stock.") % {
            "n": movement.quantity,
            "item": item.label,
            "total": movement.balance_after,
        }

    return _stock_write(request, site, pk, forms.ReceiveForm(request.POST), "receive_form", write)


@site_view(*MANAGERS)
@require_POST
def count(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """A stock-take of one item: the level becomes what was counted."""

    def write(item: CatalogueItem, data: dict[str, Any]) -> str:
        movement = actions.count_stock(
            site=site,
            item=item,
            counted=data["counted"],
            note=data["note"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
        )
        return _("Counted %(n)s × %(item)s (a difference of %(diff)+d).") % {
            "n": movement.balance_after,
            "item": item.label,
            "diff": movement.quantity,
        }

    return _stock_write(request, site, pk, forms.CountForm(request.POST), "count_form", write)


@site_view(*MANAGERS)
@require_POST
def adjust(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """Add or take away stock with a reason."""

    def write(item: CatalogueItem, data: dict[str, Any]) -> str:
        movement = actions.adjust_stock(
            site=site,
            item=item,
            change=data["change"],
            reason=data["reason"],
            by=_user(request),
            idempotency_key=data["idempotency_key"],
        )
        return _("Adjusted %(item)s by %(change)+d. %(total)s in stock.") % {
            "item": item.label,
            "change": movement.quantity,
            "total": movement.balance_after,
        }

    return _stock_write(request, site, pk, forms.AdjustForm(request.POST), "adjust_form", write)


@site_view(*MANAGERS)
@require_POST
def threshold(request: HttpRequest, site: Site, pk: int) -> HttpResponse:
    """When to warn that an item is running low."""

    def write(item: CatalogueItem, data: dict[str, Any]) -> str:
        value = data["threshold"]
        actions.set_low_threshold(
            site=site,
            item=item,
            threshold=value,
            expected_version=data["version"],
            by=_user(request),
        )
        if value is None:
            return _("No low-stock warning for %(item)s.") % {"item": item.label}
        return _("%(item)s will show as low at %(n)s or fewer.") % {"item": item.label, "n": value}

    form = forms.ThresholdForm(request.POST)
    if conflicts.reopening(request):
        conflicts.reopened(request)
        return _item_page(request, site, access_supply(site, pk), bound={"threshold_form": form})
    try:
        return _stock_write(request, site, pk, form, "threshold_form", write)
    except versioning.StaleEdit as stale:
        item = access_supply(site, pk)
        saved = StockLevel.objects.get(site=site, item=item)
        return conflicts.conflict(
            request,
            stale=stale,
            record=saved,
            what=_("The low-stock warning for %(item)s") % {"item": item.label},
            rows=conflicts.compare(
                forms.ThresholdForm(initial={"threshold": saved.low_threshold}), form
            ),
            back_url=reverse("supplies:item", kwargs={"site": site.slug, "pk": item.pk}),
            site=site,
        )


@site_view(*MANAGERS)
@require_http_methods(["GET", "POST"])
def stock_take(request: HttpRequest, site: Site) -> HttpResponse:
    """Count every supply on the shelf in one go; items left empty are not touched."""
    rows = queries.stock_levels(site)
    items = [row.item for row in rows]
    form = forms.StockTakeForm(request.POST or None, items=items)
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                movements = actions.take_stock(
                    site=site,
                    counts=form.counted(),
                    note=form.cleaned_data["note"],
                    by=_user(request),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ActionRefused as refusal:
                error = refusal.message
            else:
                changed = [m for m in movements if m.quantity]
                message = _("Counted %(n)s items.") % {"n": len(movements)}
                if changed:
                    message += " " + _("Differences: %(list)s.") % {
                        "list": ", ".join(f"{m.item.label} {m.quantity:+d}" for m in changed)
                    }
                else:
                    message += " " + _("Every count matched the stock.")
                messages.success(request, message)
                return redirect("supplies:stock", site=site.slug)
        status = _bad_input_status(request)
    context = {
        "site": site,
        "form": form,
        "rows": [(row, form[f"count_{row.item.pk}"]) for row in rows],
        "error": error,
    }
    return render(request, "supplies/stock_take.html", context, status=status)
