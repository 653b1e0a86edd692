"""The incident forms. The emergency screen's taps send short, fixed values; the actions decide
what is plausible (a naloxone dose, an oxygen flow) so the refusal explains itself. Free text is
short and never needed while the emergency runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.core.versioning import VersionInput
from saferoom.floor.forms import IdempotentForm
from saferoom.incidents.models import (
    IncidentAmendment,
    IncidentNote,
    Intervention,
    Kind,
    Location,
    Outcome,
)
from saferoom.sites.models import Site, Space

LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _local_time(label: Any, *, required: bool) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=LOCAL_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
        error_messages={
            "required": _("Give the time."),
            "invalid": _("Give the date and time, like 2026-03-10 14:05."),
        },
    )


class FirstError:
    def first_error(self) -> str:
        errors: Any = getattr(self, "errors", {})
        for messages in errors.values():
            for message in messages:
                return str(message)
        return str(_("Check the form and try again."))


class StartForm(FirstError, IdempotentForm):
    location = forms.ChoiceField(
        label=_("Where is it happening?"),
        choices=Location.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose where it is happening."),
            "invalid_choice": _("Choose where it is happening from the places shown."),
        },
    )
    space = forms.ModelChoiceField(
        label=_("Which booth or room (if in one)"),
        queryset=Space.objects.none(),
        required=False,
        error_messages={"invalid_choice": _("Choose a space from the list.")},
    )
    location_detail = forms.CharField(
        label=_("Where exactly (optional, no names)"), max_length=120, required=False
    )
    kind = forms.ChoiceField(
        label=_("What is happening? (you can say later)"),
        choices=[("", _("Not sure yet")), *Kind.choices],
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose what is happening from the list.")},
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        space: Any = self.fields["space"]
        space.queryset = Space.objects.filter(site=site).order_by("sort_order", "name")
        if not self.is_bound:
            self.initial.setdefault("location", Location.LOUNGE)
            self.initial.setdefault("kind", "")


class TapForm(FirstError, IdempotentForm):
    """One button of the emergency screen. Values arrive as text; the action judges them."""

    kind = forms.ChoiceField(
        choices=Intervention.Kind.choices,
        error_messages={"invalid_choice": _("Choose what was done from the buttons shown.")},
    )
    naloxone_mg = forms.CharField(label=_("Dose (mg)"), max_length=10, required=False)
    naloxone_route = forms.CharField(label=_("Route"), max_length=4, required=False)
    oxygen_l_min = forms.CharField(label=_("Flow (L/min)"), max_length=5, required=False)
    breathing_rate = forms.CharField(label=_("Breaths a minute"), max_length=5, required=False)
    spo2 = forms.CharField(label=_("SpO₂ (%)"), max_length=5, required=False)
    avpu = forms.CharField(label=_("AVPU"), max_length=2, required=False)
    note = forms.CharField(label=_("Note (no names)"), max_length=200, required=False)
    at = _local_time(_("When, if not now"), required=False)

    VALUES = ("naloxone_mg", "naloxone_route", "oxygen_l_min", "breathing_rate", "spo2", "avpu")

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {name: data.get(name, "").strip() for name in (*self.VALUES, "note")}


class KindForm(FirstError, forms.Form):
    kind = forms.ChoiceField(
        choices=Kind.choices,
        error_messages={
            "required": _("Choose what is happening."),
            "invalid_choice": _("Choose what is happening from the list."),
        },
    )


class OutcomeForm(FirstError, forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the outcome."),
            "invalid_choice": _("Choose the outcome from the buttons shown."),
        },
    )
    hospital = forms.CharField(label=_("Which hospital"), max_length=120, required=False)
    reason = forms.CharField(
        label=_("Reason, if the outcome comes before the last intervention"),
        max_length=300,
        required=False,
    )
    at = _local_time(_("When, if not now"), required=False)


class NoteForm(FirstError, IdempotentForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=IncidentNote.Kind.choices,
        initial=IncidentNote.Kind.NOTE,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose a note or a debrief.")},
    )
    text = forms.CharField(
        label=_("Text (no names)"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Write the note first (no names).")},
    )


class CloseForm(FirstError, forms.Form):
    note = forms.CharField(
        label=_("Review (what went well, what to change)"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AmendIncidentForm(FirstError, IdempotentForm):
    # The incident's version when the form was opened.
    version = VersionInput()
    field = forms.ChoiceField(
        label=_("Which time"),
        choices=IncidentAmendment.Field.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose which time to correct.")},
    )
    new_at = _local_time(_("Corrected time"), required=True)
    reason = forms.CharField(
        label=_("Why"),
        max_length=300,
        error_messages={"required": _("Say why the time is corrected.")},
    )


class AmendInterventionForm(FirstError, IdempotentForm):
    # The incident's version when the form was opened.
    version = VersionInput()
    CHANGE_TIME = "time"
    IN_ERROR = "error"

    change = forms.ChoiceField(
        label=_("Correction"),
        choices=[(CHANGE_TIME, _("Another time")), (IN_ERROR, _("Recorded in error"))],
        widget=forms.RadioSelect,
        initial=CHANGE_TIME,
        error_messages={"invalid_choice": _("Choose the correction.")},
    )
    new_at = _local_time(_("Corrected time"), required=False)
    reason = forms.CharField(
        label=_("Why"),
        max_length=300,
        error_messages={"required": _("Say why it is corrected.")},
    )


class AmendOutcomeForm(FirstError, IdempotentForm):
    # The incident's version when the form was opened.
    version = VersionInput()
    outcome = forms.ChoiceField(
        label=_("Corrected outcome"),
        choices=Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the outcome."),
            "invalid_choice": _("Choose the outcome from the buttons shown."),
        },
    )
    hospital = forms.CharField(
        label=_("Which hospital (if transferred)"), max_length=120, required=False
    )
    reason = forms.CharField(
        label=_("Why"),
        max_length=300,
        error_messages={"required": _("Say why the outcome is corrected.")},
    )
