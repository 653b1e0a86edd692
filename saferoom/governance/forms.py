"""Forms of the governance pages. Client codes travel only in POST bodies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.clients import codes
from saferoom.clients.codes import CodeError
from saferoom.governance.auditlog import NETWORK, SITE, Filters
from saferoom.governance.models import LegalBasis

DATE = forms.DateInput(attrs={"type": "date"})


def _code(value: str) -> str:
    try:
        return codes.normalise_display_code(value)
    except CodeError as error:
        raise forms.ValidationError(str(error)) from None


class AuditFilterForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("Events of"),
        choices=[(SITE, _("This site")), (NETWORK, _("The whole network"))],
        initial=SITE,
        required=False,
    )
    date_from = forms.DateField(label=_("From (date)"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("To (date)"), required=False, widget=DATE)
    person = forms.CharField(label=_("Staff username"), max_length=150, required=False)
    action = forms.CharField(
        label=_("Action"),
        max_length=60,
        required=False,
        help_text=_("The start of an action's name, for example client. or disclosure."),
    )
    object_code = forms.CharField(
        label=_("Client code"), max_length=codes.MAX_TYPED_CODE_LENGTH, required=False
    )
    page = forms.IntegerField(
        min_value=1, max_value=1_000_000, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, network_scope: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not network_scope:
            del self.fields["scope"]

    def clean_object_code(self) -> str:
        value = self.cleaned_data["object_code"].strip()
        return _code(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            scope=data.get("scope") or SITE,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            person=data.get("person", "").strip(),
            action=data.get("action", "").strip(),
            object_code=data.get("object_code", ""),
        )


class DisclosureRequestForm(forms.Form):
    code = forms.CharField(
        label=_("Client code"),
        max_length=codes.MAX_TYPED_CODE_LENGTH,
        help_text=_("One client per request."),
    )
    recipient = forms.CharField(label=_("Who receives it"), max_length=200)
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"), choices=[("", _("Choose…")), *LegalBasis.choices]
    )
    reference = forms.CharField(
        label=_("Reference"),
        max_length=120,
        help_text=_("The court order's number, or where the signed consent is kept."),
    )
    justification = forms.CharField(
        label=_("Why this disclosure is necessary and proportionate"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    include_identity = forms.BooleanField(
        label=_("Include the identity record the client consented to"), required=False
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_code(self) -> str:
        return _code(self.cleaned_data["code"])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("refuse", _("Refuse"))]
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
