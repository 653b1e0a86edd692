"""The supplies pages' forms. Ids are parsed strictly (a forged or 400-digit "id" is a clear
message, never a database error); every rule is left to ``actions``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.care.supplies.actions import MAX_COUNT, MAX_GIVE, MAX_REASON, MAX_RECEIVE
from saferoom.core.tap_time import tap_time_field
from saferoom.core.versioning import VersionInput
from saferoom.floor.forms import IdempotentForm

MAX_ID = 2**63 - 1
GONE = _("That is no longer on this page. The page has been refreshed: look again and retry.")


def object_id(*, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        widget=forms.HiddenInput,
        required=required,
        min_value=1,
        max_value=MAX_ID,
        error_messages={"required": GONE, "invalid": GONE, "min_value": GONE, "max_value": GONE},
    )


def quantity_field(*, most: int, least: int = 1, label: Any = None) -> forms.IntegerField:
    return forms.IntegerField(
        label=label if label is not None else _("Quantity"),
        min_value=least,
        max_value=most,
        error_messages={
            "required": _("Give a whole number."),
            "invalid": _("Give a whole number."),
            "min_value": _("Give at least %(limit_value)s."),
            "max_value": _("Give at most %(limit_value)s."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": least, "max": most}),
    )


class PrefixedIds(forms.Form):
    """Several forms share a page: each names its fields' ids after itself so no two clash."""

    id_prefix = "f"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class FirstErrorMixin(forms.Form):
    def first_error(self) -> str:
        for errors in self.errors.values():
            for message in errors:
                return str(message)
        return str(GONE)


class GiveForm(IdempotentForm, FirstErrorMixin):
    """One tap on a quantity button: the item, how many, and to whom (a visit or a walk-in)."""

    item = object_id()
    quantity = quantity_field(most=MAX_GIVE)
    visit = object_id(required=False)
    client = object_id(required=False)
    # When the tap was made, if the offline outbox sends it late (empty: now).
    at = tap_time_field()


class ServiceForm(IdempotentForm, FirstErrorMixin):
    item = object_id()
    visit = object_id(required=False)
    client = object_id(required=False)
    at = tap_time_field()


class ReverseForm(IdempotentForm, FirstErrorMixin):
    """A give-out (or a service) recorded in error, and why."""

    movement = object_id()
    reason = forms.CharField(
        label=_("Why is this wrong?"),
        max_length=MAX_REASON,
        error_messages={"required": _("Say why, in a few words.")},
    )


class VoidServiceForm(FirstErrorMixin):
    service = object_id()
    reason = forms.CharField(
        label=_("Why is this wrong?"),
        max_length=MAX_REASON,
        error_messages={"required": _("Say why, in a few words.")},
    )


class WalkInFindForm(PrefixedIds):
    id_prefix = "walk-in"
    code = forms.CharField(
        label=_("Client code (optional)"),
        max_length=40,
        error_messages={
            "required": _("Type the code on the card, or carry on below without one."),
            "max_length": _("A client code has six letters and numbers, like K7F-29Q."),
        },
    )


class ReceiveForm(IdempotentForm, PrefixedIds):
    id_prefix = "receive"
    quantity = quantity_field(most=MAX_RECEIVE, label=_("How many arrived"))
    note = forms.CharField(label=_("Note (supplier, batch)"), max_length=MAX_REASON, required=False)


class CountForm(IdempotentForm, PrefixedIds):
    id_prefix = "count"
    counted = quantity_field(most=MAX_COUNT, least=0, label=_("How many are on the shelf"))
    note = forms.CharField(label=_("Note"), max_length=MAX_REASON, required=False)


class AdjustForm(IdempotentForm, PrefixedIds):
    id_prefix = "adjust"
    change = forms.IntegerField(
        label=_("Change (negative to take away)"),
        min_value=-MAX_RECEIVE,
        max_value=MAX_RECEIVE,
        error_messages={
            "required": _("Give the change as a whole number, like 10 or -3."),
            "invalid": _("Give the change as a whole number, like 10 or -3."),
            "min_value": _("That change is too large."),
            "max_value": _("That change is too large."),
        },
    )
    reason = forms.CharField(
        label=_("Reason (found, damaged, expired, sent to another site …)"),
        max_length=MAX_REASON,
        error_messages={"required": _("Say why, in a few words.")},
    )


class ThresholdForm(PrefixedIds):
    id_prefix = "threshold"
    # The warning's version when the page was opened.
    version = VersionInput()
    threshold = forms.IntegerField(
        label=_("Warn when at or below (leave empty for no warning)"),
        min_value=0,
        max_value=MAX_RECEIVE,
        required=False,
        error_messages={
            "invalid": _("Give a whole number, or leave it empty."),
            "min_value": _("Give a whole number, or leave it empty."),
            "max_value": _("That number is too large."),
        },
    )


class StockTakeForm(IdempotentForm, PrefixedIds):
    """A stock-take of every supply at once: a box per item, left empty if not counted."""

    id_prefix = "take"
    note = forms.CharField(label=_("Note"), max_length=MAX_REASON, required=False)

    def __init__(self, *args: Any, items: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items = items
        for item in items:
            self.fields[f"count_{item.pk}"] = forms.IntegerField(
                label=item.label,
                required=False,
                min_value=0,
                max_value=MAX_COUNT,
                error_messages={
                    "invalid": _("Give a whole number, or leave it empty."),
                    "min_value": _("Give a whole number, or leave it empty."),
                    "max_value": _("Give at most %(limit_value)s."),
                },
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0}),
            )

    def counted(self) -> list[tuple[Any, int]]:
        """(item, counted) for every box filled in."""
        return [
            (item, self.cleaned_data[f"count_{item.pk}"])
            for item in self.items
            if self.cleaned_data.get(f"count_{item.pk}") is not None
        ]
