"""The floor board's forms. Most are a hidden id or two and the board version the person saw:
they parse ids strictly (a forged or 400-digit "id" is a clear message, never a database error)
and leave every rule to the actions in ``saferoom.floor.board``."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from saferoom.core.tap_time import tap_time_field
from saferoom.floor.forms import IdempotentForm
from saferoom.floor.models import SessionCheck

# Database ids are positive 64-bit integers: anything longer is refused before a query.
MAX_ID = 2**63 - 1
MAX_SEAT = 50
_TARGET = re.compile(r"([0-9]{1,18})-([0-9]{1,2})")

STALE = _("This board is out of date. The board has been refreshed: look again and retry.")
GONE = _("That is no longer on the board. The board has been refreshed.")


def no_markup(value: str) -> None:
    """Place names are shown on every device and printed on the handover: plain text only."""
    if "<" in value or ">" in value:
        raise ValidationError(_("Use plain words: < and > are not allowed here."), code="markup")


def object_id(label: Any = "") -> forms.IntegerField:
    """A hidden id the board put in a form. Anything else means the page was tampered with or
    is very old; either way the person is told to look at the fresh board."""
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        max_value=MAX_ID,
        label=label,
        error_messages={
            "required": GONE,
            "invalid": GONE,
            "min_value": GONE,
            "max_value": GONE,
        },
    )


class BoardForm(forms.Form):
    """Every form on the board says which version of the board the person was looking at, so
    a refusal can tell them the board had moved on under their finger."""

    board_version = forms.IntegerField(
        widget=forms.HiddenInput,
        required=False,
        min_value=0,
        max_value=MAX_ID,
        error_messages={"invalid": STALE, "min_value": STALE, "max_value": STALE},
    )

    def first_error(self) -> str:
        """One message for the board's alert region: the fields are hidden, so per-field
        messages would have nowhere to show."""
        for errors in self.errors.values():
            for message in errors:
                return str(message)
        return str(GONE)

    def saw_version(self) -> int | None:
        if not self.is_bound or "board_version" not in self.cleaned_data:
            return None
        value: int | None = self.cleaned_data["board_version"]
        return value


OUT_OF_DATE = _("This form is out of date. Reload the page and try again.")


def idempotency_key(*, required: bool = True) -> forms.UUIDField:
    """The key the board made for this form when it rendered it (fresh each render): the same
    form sent twice does the thing once, and both answers say the same."""
    return forms.UUIDField(
        widget=forms.HiddenInput,
        required=required,
        error_messages={"required": OUT_OF_DATE, "invalid": OUT_OF_DATE},
    )


class KeyedBoardForm(BoardForm):
    """A board form that writes something: it carries an idempotency key."""

    idempotency_key = idempotency_key()


class SeatTargetMixin(forms.Form):
    """A seat of a space, as ``<space id>-<seat>`` (the no-JavaScript select and the tiles'
    buttons send this), or as separate ``space`` and ``seat`` fields (the API-like form)."""

    # Checked in clean() (a pattern, not a length), so any bad value gets the same message.
    target = forms.CharField(required=False)
    space = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    seat = forms.IntegerField(required=False, min_value=1, max_value=MAX_SEAT)

    choose_message = _("Choose a free space from the list.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        target = str(self.data.get("target") or "").strip()
        if target:
            match = _TARGET.fullmatch(target) if len(target) <= 24 else None
            if match is None or not 1 <= int(match.group(2)) <= MAX_SEAT:
                raise ValidationError(self.choose_message, code="bad_target")
            data["space_id"], data["seat_number"] = int(match.group(1)), int(match.group(2))
            if data["space_id"] > MAX_ID:
                raise ValidationError(self.choose_message, code="bad_target")
            return data
        if "space" in self.errors or "seat" in self.errors:
            # Replace the generic number messages with one the board can show.
            self.errors.pop("space", None)
            self.errors.pop("seat", None)
            raise ValidationError(self.choose_message, code="bad_target")
        if not data.get("space"):
            raise ValidationError(self.choose_message, code="no_target")
        data["space_id"], data["seat_number"] = data["space"], data.get("seat") or 1
        return data


class AssignForm(SeatTargetMixin, KeyedBoardForm):
    visit = object_id()


class NextFreeForm(KeyedBoardForm):
    visit = object_id()


class SessionForm(BoardForm):
    session = object_id()


class TappedForm(forms.Form):
    """A tap the offline outbox may send late: ``at`` is when it was made (empty: now)."""

    at = tap_time_field()


class EndForm(TappedForm, SessionForm):
    # Optional: the emergency page (another area's template) also ends sessions, and may not
    # send a key yet. The board's tiles always send one.
    idempotency_key = idempotency_key(required=False)


class CheckForm(TappedForm, KeyedBoardForm, SessionForm):
    outcome = forms.ChoiceField(
        choices=SessionCheck.Outcome.choices,
        required=False,
        error_messages={"invalid_choice": _("Choose how the check went from the buttons shown.")},
    )

    def clean_outcome(self) -> str:
        return self.cleaned_data.get("outcome") or SessionCheck.Outcome.OK


class EmergencyForm(SessionForm):
    # The second tap: without it, the server asks for confirmation (the page works without
    # JavaScript, where the two-step button cannot run).
    confirm = forms.BooleanField(required=False)
    # Optional: the no-JavaScript confirmation page and the emergency page post here too.
    idempotency_key = idempotency_key(required=False)


class CleanedForm(TappedForm, SeatTargetMixin, KeyedBoardForm):
    choose_message = _("That space is no longer on the board. The board has been refreshed.")


class VisitForm(BoardForm):
    visit = object_id()


class EscalationForm(KeyedBoardForm):
    escalation = object_id()


class ShiftLeadForm(KeyedBoardForm):
    NOBODY = "none"

    shift_lead = forms.ChoiceField(
        label=_("Shift lead"),
        error_messages={
            "required": _("Choose who is shift lead, or “No shift lead”."),
            "invalid_choice": _("Choose the shift lead from the list shown."),
        },
    )

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["shift_lead"]
        field.choices = [
            (self.NOBODY, _("No shift lead (alerts go to all floor staff)")),
            *((str(pk), name) for pk, name in people),
        ]

    def chosen_id(self) -> int | None:
        value = self.cleaned_data["shift_lead"]
        return None if value == self.NOBODY else int(value)


class StopOpenForm(IdempotentForm):
    place = forms.CharField(
        label=_("Where is the unit standing?"),
        max_length=120,
        validators=[no_markup],
        help_text=_("A street or landmark, for example: Market Street car park."),
        error_messages={
            "required": _("Say where the unit is standing."),
            "max_length": _("Keep the place to %(limit_value)d characters or fewer."),
        },
    )
    note = forms.CharField(
        label=_("Note (optional, no names)"),
        max_length=200,
        required=False,
        validators=[no_markup],
        error_messages={"max_length": _("Keep the note to %(limit_value)d characters or fewer.")},
    )

    def clean_place(self) -> str:
        place = " ".join(self.cleaned_data["place"].split())
        if not place:
            raise ValidationError(_("Say where the unit is standing."), code="required")
        return place


class StopCloseForm(forms.Form):
    stop = object_id()

    def first_error(self) -> str:
        for errors in self.errors.values():
            for message in errors:
                return str(message)
        return str(GONE)
