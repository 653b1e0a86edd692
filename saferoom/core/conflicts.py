"""The conflict screen of a stale edit (``saferoom.core.versioning``): someone else saved the
record while this person was editing it. Nothing was overwritten; the page (HTTP 409) shows
what is saved now, with who changed it and when, beside what this person tried to save, and a
button that opens the edit form again on the saved version with their values filled in, so
that a person merges the two.

The button posts their values back to the edit page with ``reopen``: the page shows its form
filled in with them and saves nothing (no values travel in a URL)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.core.models import AuditEvent, User
from saferoom.core.versioning import StaleEdit

REOPEN = "reopen"
# What the conflict screen does not post back: Django's token, and the version (the button
# carries the saved one instead).
_NOT_POSTED_BACK = frozenset({"csrfmiddlewaretoken", "version", REOPEN})
# How far back in a record's audit trail to look for the changes the person had not seen.
_HISTORY_LOOKBACK = 50

# The edits whose audit events carry the version they made, in words for the screen.
CHANGE_WORDS: Mapping[str, Any] = {
    "client.intake_recorded": gettext_lazy("Recorded the intake answers"),
    "client.intake_updated": gettext_lazy("Changed the intake answers"),
    "referral.followed_up": gettext_lazy("Recorded a follow-up"),
    "referral.amended": gettext_lazy("Corrected the referral"),
    "incident.kind_set": gettext_lazy("Said what happened"),
    "incident.outcome": gettext_lazy("Recorded the outcome"),
    "incident.amended": gettext_lazy("Corrected a time"),
    "incident.outcome_amended": gettext_lazy("Corrected the outcome"),
    "incident.intervention_amended": gettext_lazy("Corrected an intervention"),
    "site.updated": gettext_lazy("Changed the site's details and rules"),
    "site.opening_hours_changed": gettext_lazy("Changed the opening hours"),
    "space.updated": gettext_lazy("Changed the space"),
    "catalogue.updated": gettext_lazy("Changed the entry"),
    "network.updated": gettext_lazy("Changed the network settings"),
    "staff.updated": gettext_lazy("Changed the name"),
    "staff.role_granted": gettext_lazy("Gave a role"),
    "staff.role_removed": gettext_lazy("Removed a role"),
    "stock.threshold_set": gettext_lazy("Changed the low-stock warning"),
}


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a field, its saved value and the one this person typed."""

    label: str
    saved: str
    yours: str

    @property
    def differs(self) -> bool:
        return self.saved != self.yours


@dataclass(frozen=True)
class Change:
    """One change saved after the form was opened."""

    who: str
    at: datetime
    what: str


def reopening(request: HttpRequest) -> bool:
    """Whether this POST is the conflict screen's button: show the form, save nothing."""
    return request.method == "POST" and request.POST.get(REOPEN) == "1"


def reopened(request: HttpRequest) -> None:
    """Tell the person what the form they see now holds."""
    messages.info(
        request,
        _(
            "The form shows the version saved now, with your values filled in. Check them "
            "against what your colleague saved, then save."
        ),
    )


def _choices(field: forms.ChoiceField) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, label in cast(Iterable[tuple[Any, Any]], field.choices):
        if isinstance(label, list | tuple):  # a group of choices
            flat.update({str(k): str(v) for k, v in label})
        else:
            flat[str(key)] = str(label)
    return flat


def shown(field: forms.Field, value: Any) -> str:
    """A form field's value in words, as the form offers it."""
    if isinstance(field, forms.BooleanField):
        return _("Yes") if value else _("No")
    if value is None or value == "" or (isinstance(value, list | tuple) and not value):
        return _("Not given")
    if isinstance(field, forms.ModelChoiceField):
        many = isinstance(value, list | tuple | models.QuerySet)
        labels = []
        for item in value if many else [value]:
            obj = item
            if not isinstance(item, models.Model) and field.queryset is not None:
                obj = field.queryset.filter(pk=item).first()
            found = isinstance(obj, models.Model)
            labels.append(field.label_from_instance(obj) if found else str(item))
        return ", ".join(labels)
    if isinstance(field, forms.ChoiceField):
        words = _choices(field)
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(words.get(str(v), str(v)) for v in values)
    return plain(value)


def plain(value: Any) -> str:
    """A value in words: dates and times as the pages show them."""
    if value is None or value == "":
        return _("Not given")
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "j M Y H:i:s")
    if isinstance(value, date):
        return date_format(value, "j M Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def compare(
    saved: forms.Form,
    yours: forms.Form,
    names: Iterable[str] | None = None,
    *,
    values: Mapping[str, Any] | None = None,
) -> list[Row]:
    """Rows for each visible field: ``saved`` is the form as it opens on the record now,
    ``yours`` the valid form this person sent (``values``: what it means to save, where that
    differs from what was typed, as a field left empty to keep its value)."""
    wanted = set(names) if names is not None else None
    meant = values if values is not None else getattr(yours, "cleaned_data", {})
    rows = []
    for name, field in yours.fields.items():
        if field.widget.is_hidden or (wanted is not None and name not in wanted):
            continue
        typed = meant.get(name)
        rows.append(
            Row(
                label=str(field.label or name),
                saved=shown(field, saved[name].initial),
                yours=shown(field, typed),
            )
        )
    return rows


def changes_since(record: models.Model, version: int) -> list[Change]:
    """The edits saved to ``record`` after ``version``, oldest first, from its audit trail
    (each edit's event says which version it made)."""
    events = list(
        AuditEvent.objects.filter(
            object_type=record._meta.label_lower, object_id=str(record.pk)
        ).order_by("-at", "-id")[:_HISTORY_LOOKBACK]
    )
    newer = [
        e
        for e in events
        if isinstance(e.detail, dict)
        and isinstance(e.detail.get("version"), int)
        and e.detail["version"] > version
    ]
    names = {
        u.pk: str(u) for u in User.objects.filter(pk__in={e.actor_id for e in newer if e.actor_id})
    }
    return [
        Change(
            who=names.get(e.actor_id, e.actor_label) if e.actor_id else e.actor_label,
            at=e.at,
            what=str(CHANGE_WORDS.get(e.action, e.action)),
        )
        for e in reversed(newer)
    ]


def _posted_back(request: HttpRequest) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name in request.POST
        if name not in _NOT_POSTED_BACK
        for value in request.POST.getlist(name)
    ]


def conflict(
    request: HttpRequest,
    *,
    stale: StaleEdit,
    record: models.Model,
    what: str,
    rows: Sequence[Row],
    back_url: str,
    reopen_url: str | None = None,
    history: Sequence[Change] | None = None,
    site: Any = None,
) -> HttpResponse:
    """The 409 answer to a stale edit of ``record`` (``what`` names it for the person)."""
    context = {
        "site": site,
        "what": what,
        "rows": list(rows),
        "history": list(history) if history is not None else changes_since(record, stale.expected),
        "current_version": stale.current,
        "posted": _posted_back(request),
        "reopen_url": reopen_url or request.path,
        "back_url": back_url,
        "REOPEN": REOPEN,
    }
    response = render(request, "core/conflict.html", context, status=409)
    if getattr(request, "htmx", False):
        # Whatever part of a page asked, the conflict takes the whole page.
        response["HX-Retarget"] = "body"
        response["HX-Reswap"] = "innerHTML"
    return response
