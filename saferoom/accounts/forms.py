"""Forms of the login pages: password, a code, a new PIN, switching user, and enrolling a
tablet (the manager's code, and typing it on the tablet)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.core.models import User
from saferoom.sites.forms import IdempotentForm


class LoginForm(AuthenticationForm):
    """Django's login form (it passes the request to authenticate, so the lockout sees it)."""


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        help_text=gettext_lazy(
            "The 6-digit code your authenticator app shows now, or one of your backup codes."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from the app"),
        max_length=20,
        help_text=gettext_lazy("The 6-digit code the app shows for saferoom."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    device = forms.IntegerField(widget=forms.HiddenInput)


def _clean_pin(value: str) -> str:
    pin = value.strip()
    minimum = settings.PIN_MIN_LENGTH
    if not pin.isdigit() or not pin.isascii():
        raise forms.ValidationError(_("Use digits only."))
    if not minimum <= len(pin) <= 12:
        raise forms.ValidationError(_("Use %(minimum)d to 12 digits.") % {"minimum": minimum})
    digits = [int(d) for d in pin]
    steps = {b - a for a, b in pairwise(digits)}
    if len(set(digits)) == 1 or steps in ({1}, {-1}):
        raise forms.ValidationError(
            _("That PIN is too easy to guess (one digit repeated, or a run such as 123456).")
        )
    return pin


class PinForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        help_text=gettext_lazy("To show it is you before the PIN changes."),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    pin = forms.CharField(
        label=gettext_lazy("New PIN"),
        max_length=32,
        help_text=gettext_lazy(
            "At least 6 digits, only for switching user on a tablet someone is logged in on."
        ),
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin_again = forms.CharField(
        label=gettext_lazy("New PIN again"),
        max_length=32,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_pin(self) -> str:
        return _clean_pin(self.cleaned_data["pin"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        again = data.get("pin_again")
        if data.get("pin") and again is not None and data["pin"] != again.strip():
            self.add_error("pin_again", _("The two PINs are not the same."))
        return data


class SwitchForm(forms.Form):
    person = forms.TypedChoiceField(
        label=gettext_lazy("Who is taking over?"), coerce=int, widget=forms.RadioSelect
    )
    pin = forms.CharField(
        label=gettext_lazy("Their PIN"),
        max_length=12,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, colleagues: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [(u.pk, str(u)) for u in colleagues]  # type: ignore[attr-defined]


class TabletCodeForm(IdempotentForm):
    label = forms.CharField(
        label=gettext_lazy("Name of the tablet"),
        max_length=80,
        help_text=gettext_lazy(
            "How you will know it in the list, for example “Front desk tablet 1”. Not a person."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class TabletEnrolForm(IdempotentForm):
    code = forms.CharField(
        label=gettext_lazy("Enrolment code"),
        # Room for a code typed with spaces; anything longer is refused as not a code.
        max_length=40,
        help_text=gettext_lazy("The 8 letters and numbers a manager made for this tablet."),
        widget=forms.TextInput(
            attrs={
                "class": "code-input",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
