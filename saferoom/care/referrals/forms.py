"""Forms of the referrals area. Each turns what staff type into clean values with a message per
field; the actions check the same rules again. Identity fields are never echoed in an error."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from saferoom.care.referrals.actions import MAX_NOTE_LENGTH, MAX_REASON_LENGTH, OPENING_REASONS
from saferoom.care.referrals.models import (
    FOLLOW_UP_DAYS,
    FollowUp,
    IdentityDetails,
    IdentityRecord,
    Referral,
    Urgency,
)
from saferoom.clients.forms import DATE_INPUT_FORMATS, IdempotentForm
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.core.versioning import VersionInput
from saferoom.sites.models import CatalogueItem, Membership, Site, catalogue_for

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_DATE_FORMATS = ["%Y-%m-%d", *DATE_INPUT_FORMATS]
_NO_NAMES = _("No names or contact details here: the identity record is the place for those.")


class TargetChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: CatalogueItem) -> str:
        return obj.label


def _due_help() -> str:
    return str(
        _(
            "Leave empty for the usual: urgent in %(urgent)d days, soon in %(soon)d days, "
            "routine in %(routine)d days."
        )
        % {
            "urgent": FOLLOW_UP_DAYS[Urgency.URGENT],
            "soon": FOLLOW_UP_DAYS[Urgency.SOON],
            "routine": FOLLOW_UP_DAYS[Urgency.ROUTINE],
        }
    )


class ReferralForm(IdempotentForm):
    target = TargetChoiceField(
        label=_("Refer them to"),
        queryset=CatalogueItem.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose where to refer them.")},
    )
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"),
        choices=Urgency.choices,
        initial=Urgency.ROUTINE,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how urgent it is.")},
    )
    follow_up_due = forms.DateField(
        label=_("Follow up by (optional)"),
        required=False,
        widget=_DATE,
        input_formats=_DATE_FORMATS,
        error_messages={"invalid": _("Type the date as day/month/year.")},
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = catalogue_for(site, "referral_target")  # type: ignore[attr-defined]
        self.fields["follow_up_due"].help_text = _due_help()


class FollowUpForm(IdempotentForm):
    # The referral's version when the form was opened.
    version = VersionInput()
    outcome = forms.ChoiceField(
        label=_("What happened?"),
        choices=FollowUp.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what happened.")},
    )
    method = forms.ChoiceField(
        label=_("How did you find out?"),
        choices=FollowUp.Method.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose how you found out.")},
    )
    next_due = forms.DateField(
        label=_("Try again by (if not known yet)"),
        required=False,
        widget=_DATE,
        input_formats=_DATE_FORMATS,
        help_text=_("Leave empty for the usual for its urgency."),
        error_messages={"invalid": _("Type the date as day/month/year.")},
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_NO_NAMES,
        error_messages={
            "max_length": _("The note is too long: at most %(limit_value)d characters.")
        },
    )


class AmendForm(IdempotentForm):
    # The referral's version when the form was opened.
    version = VersionInput()
    target = TargetChoiceField(
        label=_("Referred to"), queryset=CatalogueItem.objects.none(), empty_label=None
    )
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    follow_up_due = forms.DateField(
        label=_("Follow up by"),
        widget=_DATE,
        input_formats=_DATE_FORMATS,
        error_messages={
            "required": _("Give the follow-up date."),
            "invalid": _("Type the date as day/month/year."),
        },
    )
    status = forms.ChoiceField(label=_("Status"), choices=Referral.Status.choices)
    reason = forms.CharField(
        label=_("Why is it being corrected?"),
        max_length=MAX_REASON_LENGTH,
        help_text=_("For example: wrong service chosen by mistake. No names."),
        error_messages={
            "required": _("Say why the referral is corrected."),
            "max_length": _("The reason is too long: at most %(limit_value)d characters."),
        },
    )

    def __init__(self, *args: Any, referral: Referral, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "target": referral.target_id,
                "urgency": referral.urgency,
                "follow_up_due": referral.follow_up_due,
                "status": referral.status,
                "version": referral.version,
            },
        )
        super().__init__(*args, **kwargs)
        targets = catalogue_for(referral.site, "referral_target")
        # The current target stays choosable even if a manager has since retired it.
        self.fields["target"].queryset = (  # type: ignore[attr-defined]
            CatalogueItem.objects.filter(pk=referral.target_id) | targets
        ).distinct()


class IdentityForm(IdempotentForm):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={
            "required": _("Write the name the service needs."),
            "max_length": _("That is too long: at most %(limit_value)d characters."),
        },
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth (optional)"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_("Day/month/year, e.g. 03/11/1991."),
        error_messages={"invalid": _("Type the date of birth as day/month/year.")},
    )
    contact = forms.CharField(
        label=_("How the service can reach them (optional)"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        help_text=_("Phone, address or a place they can be found."),
        error_messages={"max_length": _("That is too long: at most %(limit_value)d characters.")},
    )
    health_number = forms.CharField(
        label=_("NHS or health number (optional)"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"max_length": _("That is too long: at most %(limit_value)d characters.")},
    )
    consent_scope = forms.ChoiceField(
        label=_("What did they agree to?"),
        choices=IdentityRecord.Scope.choices,
        initial=IdentityRecord.Scope.THIS_REFERRAL,
        widget=forms.RadioSelect,
    )
    consent_confirmed = forms.BooleanField(
        label=_(
            "They agreed that we keep these details, for this purpose, and know they can ask "
            "us to erase them at any time."
        ),
        error_messages={"required": _("Ask them first, and tick that they agreed.")},
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_date_of_birth(self) -> date | None:
        value: date | None = self.cleaned_data.get("date_of_birth")
        if value is not None and not (date(1900, 1, 1) <= value <= self.today):
            raise forms.ValidationError(_("That date of birth is not possible. Check it."))
        return value

    def details(self) -> IdentityDetails:
        dob = self.cleaned_data.get("date_of_birth")
        return IdentityDetails(
            full_name=self.cleaned_data["full_name"],
            date_of_birth=dob.isoformat() if dob else "",
            contact=self.cleaned_data.get("contact", ""),
            health_number=self.cleaned_data.get("health_number", ""),
        )


class OpenIdentityForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why are you opening it?"),
        choices=list(OPENING_REASONS.items()),
        widget=forms.RadioSelect,
        error_messages={"required": _("Say why you are opening it.")},
    )
    note = forms.CharField(
        label=_("In a few words (needed for “Other”)"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        help_text=_("No names."),
        error_messages={"max_length": _("That is too long: at most %(limit_value)d characters.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == "other" and not (data.get("note") or "").strip():
            self.add_error("note", _("Say why you are opening it, in a few words."))
        return data


def grantable_staff(site: Site) -> QuerySet[User]:
    """Desk and floor staff of the site (managers and administrators already have access)."""
    named = Membership.objects.filter(site=site, role__in=[Role.MANAGER, Role.ADMIN]).values(
        "user_id"
    )
    staff = Membership.objects.filter(site=site, role__in=[Role.DESK, Role.FLOOR]).values("user_id")
    return (
        User.objects.filter(pk__in=staff, is_active=True)
        .exclude(pk__in=named)
        .order_by("display_name", "username")
    )


class StaffChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class GrantForm(IdempotentForm):
    user = StaffChoiceField(
        label=_("Member of staff"),
        queryset=User.objects.none(),
        empty_label=_("Choose…"),
        error_messages={"required": _("Choose who may open identity records.")},
    )
    reason = forms.CharField(
        label=_("Why do they need it?"),
        max_length=MAX_REASON_LENGTH,
        help_text=_("For example: leads on housing referrals this month."),
        error_messages={
            "required": _("Say why they need it."),
            "max_length": _("That is too long: at most %(limit_value)d characters."),
        },
    )
    until = forms.DateField(
        label=_("Until (optional)"),
        required=False,
        widget=_DATE,
        input_formats=_DATE_FORMATS,
        help_text=_("Leave empty until you end it. It ends at the start of that day."),
        error_messages={"invalid": _("Type the date as day/month/year.")},
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = grantable_staff(site)  # type: ignore[attr-defined]
