"""The form a manager fills to enter or correct a month's operating cost. Its fields read what
was typed with the action's own rules (so every mistake shows at once, next to its field);
the rules that need the database (a correction needs a reason) stay in the action."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.core.errors import ActionRefused
from saferoom.floor.forms import IdempotentForm
from saferoom.reports.costs_actions import (
    DEFAULT_CURRENCY,
    MAX_TEXT_LENGTH,
    parse_amount,
    parse_month,
)


class OperatingCostForm(IdempotentForm):
    month = forms.CharField(
        label=_("Month"),
        max_length=7,
        help_text=_("Year and month, for example 2026-03."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("Write the month the cost is for, for example 2026-03.")},
    )
    amount = forms.CharField(
        label=_("Operating cost for the month"),
        max_length=20,
        help_text=_("Everything it cost to run the site that month: staff, rent, supplies."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"required": _("Write the month's operating cost, for example 42000.")},
    )
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        initial=DEFAULT_CURRENCY,
        help_text=_("Three-letter code, for example GBP or EUR."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
        error_messages={
            "required": _("Write the currency, for example GBP."),
            "max_length": _("Write the currency as its three-letter code, for example GBP."),
        },
    )
    note = forms.CharField(
        label=_("What it includes (optional)"),
        max_length=MAX_TEXT_LENGTH,
        required=False,
        help_text=_("For example: staff, rent, utilities; not the drug checking pilot. No names."),
        error_messages={"max_length": _("Keep it under 200 characters.")},
    )
    # The id of the entry shown when the form was opened (empty: none was), so that a
    # correction saved meanwhile by someone else is not silently replaced.
    corrects = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Why are you correcting it?"),
        max_length=MAX_TEXT_LENGTH,
        required=False,
        help_text=_("Needed when the month already has a cost entered."),
        error_messages={"max_length": _("Keep it under 200 characters.")},
    )

    def clean_month(self) -> date:
        try:
            return parse_month(self.cleaned_data["month"])
        except ActionRefused as refused:
            raise forms.ValidationError(refused.message, code=refused.code) from None

    def clean_amount(self) -> Decimal:
        try:
            return parse_amount(self.cleaned_data["amount"])
        except ActionRefused as refused:
            raise forms.ValidationError(refused.message, code=refused.code) from None
