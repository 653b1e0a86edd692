"""The desk's forms: check-in (eligibility, substances, route, where and whether alone) and
turn-away. Choices come from the site's own lists, so a forged value is a clear field error,
never a write."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from saferoom.clients.models import OtherwiseLocation
from saferoom.floor.eligibility import ANSWER_KEYS, Question
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Route, Site, catalogue_for

_PLAUSIBLE_ID = re.compile(r"[0-9]{1,18}")
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _to_bool(value: str) -> bool:
    return value == "yes"


class IdempotentForm(forms.Form):
    """A form that creates a record: it carries a key made when first shown and kept across
    re-renders, so a double tap or a retry creates the record once."""

    idempotency_key = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={"required": _("This form is out of date. Reload the page and try again.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", str(uuid.uuid4()))

    def clean_idempotency_key(self) -> str:
        value = self.cleaned_data["idempotency_key"]
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise forms.ValidationError(
                _("This form is out of date. Reload the page and try again."), code="bad_key"
            ) from None


if TYPE_CHECKING:
    _ModelChoices = forms.ModelMultipleChoiceField[CatalogueItem]
else:
    _ModelChoices = forms.ModelMultipleChoiceField


class ListChoices(_ModelChoices):
    """Several entries of a list, by id. Anything that is not a plausible id is refused before
    the database sees it: a 400-digit "id" would overflow SQLite's integers."""

    def clean(self, value: Any) -> Any:
        if isinstance(value, list | tuple) and not all(
            _PLAUSIBLE_ID.fullmatch(str(pk)) for pk in value
        ):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().clean(value)


class CheckInForm(IdempotentForm):
    substances = ListChoices(
        queryset=CatalogueItem.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label=_("What do they plan to use?"),
        help_text=_("Choose all that apply."),
        error_messages={
            "required": _("Choose at least one substance."),
            "invalid_choice": _("Choose the substances from the list shown."),
            "invalid_pk_value": _("Choose the substances from the list shown."),
            "invalid_list": _("Choose the substances from the list shown."),
        },
    )
    route = forms.ChoiceField(
        widget=forms.RadioSelect,
        label=_("How will they use it?"),
        error_messages={
            "required": _("Choose how they will use it."),
            "invalid_choice": _("Choose one of the routes this site allows."),
        },
    )
    otherwise_location = forms.ChoiceField(
        widget=forms.RadioSelect,
        choices=OtherwiseLocation.choices,
        initial=OtherwiseLocation.NOT_SAID,
        label=_("Where would they otherwise have used?"),
        error_messages={
            "required": _("Choose where they would otherwise have used, or “Did not say”."),
            "invalid_choice": _("Choose one of the places shown."),
        },
    )
    would_use_alone = forms.ChoiceField(
        widget=forms.RadioSelect,
        choices=Visit.Alone.choices,
        initial=Visit.Alone.NOT_SAID,
        label=_("Would they have used alone?"),
        error_messages={
            "required": _("Choose whether they would have used alone, or “Did not say”."),
            "invalid_choice": _("Choose one of the answers shown."),
        },
    )

    def __init__(self, *args: Any, site: Site, questions: list[Question], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        substances: Any = self.fields["substances"]
        substances.queryset = catalogue_for(site, CatalogueItem.Kind.SUBSTANCE)
        route: Any = self.fields["route"]
        route.choices = [(r.value, r.label) for r in Route if r.value in site.permitted_routes]
        if len(route.choices) == 1:
            route.initial = route.choices[0][0]
        for question in questions:
            self.fields[question.key] = forms.TypedChoiceField(
                widget=forms.RadioSelect,
                choices=YES_NO,
                coerce=_to_bool,
                label=question.text,
                initial=None if question.default is None else ("yes" if question.default else "no"),
                error_messages={
                    "required": _("Answer this question."),
                    "invalid_choice": _("Answer yes or no."),
                },
            )

    def question_fields(self) -> list[forms.BoundField]:
        return [self[q.key] for q in self.questions]

    def answers(self) -> dict[str, bool]:
        return {q.key: self.cleaned_data[q.key] for q in self.questions}


class TurnAwayForm(IdempotentForm):
    NOT_REGISTERED = "not_registered"
    ANONYMOUS = "anonymous"

    reason = forms.ModelChoiceField(
        queryset=CatalogueItem.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        label=_("Why are they being turned away?"),
        error_messages={
            "required": _("Choose a reason."),
            "invalid_choice": _("Choose one of the reasons shown."),
        },
    )
    client = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        min_value=1,
        error_messages={
            "invalid": _("That client could not be found. Find them again."),
            "min_value": _("That client could not be found. Find them again."),
        },
    )
    who = forms.ChoiceField(
        widget=forms.RadioSelect,
        required=False,
        label=_("Who is it?"),
        error_messages={"invalid_choice": _("Choose one of the answers shown.")},
    )
    # The check-in page's answers, when the turn-away follows a failed eligibility check.
    eligibility = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason: Any = self.fields["reason"]
        reason.queryset = catalogue_for(site, CatalogueItem.Kind.TURNAWAY_REASON)
        who: Any = self.fields["who"]
        choices = [(self.NOT_REGISTERED, _("Not registered, or did not give a code"))]
        if site.anonymous_visits_allowed:
            choices.append((self.ANONYMOUS, _("Anonymous visit")))
        who.choices = choices
        who.initial = self.NOT_REGISTERED

    def clean_eligibility(self) -> dict[str, bool]:
        raw = self.cleaned_data["eligibility"]
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict) or any(
            k not in ANSWER_KEYS or not isinstance(v, bool) for k, v in value.items()
        ):
            raise forms.ValidationError(
                _("The eligibility answers could not be read. Reload the page and start again."),
                code="bad_answers",
            )
        return value
