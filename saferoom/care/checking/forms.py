"""Forms of the checking area: a drug check, a new drug alert, withdrawing an alert. Fields only
check their own shape; the rules that tie answers together (a strip's result, a dose plan only
before use, an expiry in the future) live in the actions, which the views map back to fields."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.care.checking.models import Decision, Finding, Method, Severity, StripResult, Timing
from saferoom.floor.forms import IdempotentForm
from saferoom.sites.models import CatalogueItem, Site, catalogue_for

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


class DrugCheckForm(IdempotentForm):
    method = forms.ChoiceField(
        label=_("How was it checked?"),
        choices=Method.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how the sample was checked."),
            "invalid_choice": _("Choose one of the methods shown."),
        },
    )
    strip_result = forms.ChoiceField(
        label=_("Strip result (test strips only)"),
        choices=StripResult.choices,
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": _("Choose positive, negative or invalid.")},
    )
    expected = forms.ChoiceField(
        label=_("What did they think it was?"),
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": _("Choose a substance from the list shown.")},
    )
    found = forms.MultipleChoiceField(
        label=_("What was found? (FTIR or other method)"),
        choices=Finding.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Choose all that apply. A strip's finding is its result."),
        error_messages={"invalid_choice": _("Choose what was found from the list shown.")},
    )
    found_other = forms.CharField(
        label=_("Something else: what?"),
        max_length=80,
        required=False,
        help_text=_("No names. For example: an unknown white powder."),
        error_messages={"max_length": _("Keep it under 80 characters.")},
    )
    timing = forms.ChoiceField(
        label=_("Before or after use?"),
        choices=Timing.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Say whether the check was before or after use."),
            "invalid_choice": _("Choose before or after use."),
        },
    )
    decision = forms.ChoiceField(
        label=_("What will they do? (before use only)"),
        choices=Decision.choices,
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": _("Choose one of the plans shown.")},
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.substances = {str(item.pk): item for item in catalogue_for(site, "substance")}
        expected: forms.ChoiceField = self.fields["expected"]  # type: ignore[assignment]
        expected.choices = [
            ("", _("Not sure")),
            *((pk, _(i.label)) for pk, i in self.substances.items()),
        ]
        self.initial.setdefault("expected", "")

    def expected_item(self) -> CatalogueItem | None:
        return self.substances.get(self.cleaned_data.get("expected") or "")


LASTS = [
    ("1", _("1 day")),
    ("3", _("3 days")),
    ("7", _("7 days")),
    ("14", _("14 days")),
    ("28", _("28 days")),
    ("until", _("Until a date I choose")),
]


class AlertForm(IdempotentForm):
    severity = forms.ChoiceField(
        label=_("How serious is it?"),
        choices=Severity.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how serious the alert is."),
            "invalid_choice": _("Choose information, warning or danger."),
        },
    )
    message = forms.CharField(
        label=_("What was found, and in what?"),
        max_length=280,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "For example: nitazene found in what was sold as heroin. Use less, do not use alone."
        ),
        error_messages={
            "required": _("Write what was found and in what."),
            "max_length": _("Keep the alert under 280 characters."),
        },
    )
    lasts = forms.ChoiceField(
        label=_("How long should it show?"),
        choices=LASTS,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how long the alert should show."),
            "invalid_choice": _("Choose one of the lengths shown."),
        },
    )
    last_day = forms.DateField(
        label=_("Last day it shows"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=_("It shows until the end of that day (site time)."),
        error_messages={"invalid": _("That is not a real date.")},
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.initial.setdefault("severity", Severity.WARNING)
        self.initial.setdefault("lasts", "7")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("lasts") == "until" and not data.get("last_day"):
            self.add_error("last_day", _("Choose the last day the alert shows."))
        return data

    def expires_at(self, now: datetime) -> datetime:
        """When the alert stops showing: a number of days from now, or the end of the chosen
        day in the site's time zone."""
        lasts = self.cleaned_data["lasts"]
        if lasts == "until":
            last_day: date = self.cleaned_data["last_day"]
            return datetime.combine(last_day + timedelta(days=1), time(0), self.site.tz)
        return now + timedelta(days=int(lasts))


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why withdraw it? (optional)"),
        max_length=200,
        required=False,
        error_messages={"max_length": _("Keep the reason under 200 characters.")},
    )
