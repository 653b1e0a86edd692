"""Forms for site configuration and staff. They parse and give a clear message per field; the
actions in ``saferoom.sites.actions`` decide and write, and check the same rules again."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import time
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.core.versioning import VersionInput
from saferoom.sites import actions
from saferoom.sites.models import (
    CatalogueItem,
    ClientCodeScheme,
    IntakeQuestion,
    Network,
    OpeningHours,
    Route,
    Site,
    Space,
    time_zone_names,
)


def no_markup(value: str) -> None:
    """Names and labels are shown on every screen and in exports: plain text only."""
    if "<" in value or ">" in value:
        raise ValidationError(_("Use plain words: < and > are not allowed here."), code="markup")


def whole_number(label: Any, low: int, high: int, **kwargs: Any) -> forms.IntegerField:
    # format_lazy keeps the message translatable per request (the field is built at import).
    message = format_lazy(_("Give a whole number from {low} to {high}."), low=low, high=high)
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        error_messages={
            "invalid": message,
            "min_value": message,
            "max_value": message,
            "required": message,
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        **kwargs,
    )


def versioned(form: forms.Form, record: Any) -> None:
    """Give an edit form the hidden version of the record it opens on (``core.versioning``)."""
    form.fields["version"] = VersionInput(initial=record.version)


def apply_refusal(form: forms.Form, error: ActionRefused) -> None:
    """Show an action's refusal beside the field it is about, or at the top of the form."""
    field = error.code if error.code in form.fields else None
    form.add_error(field, error.message)


class IdempotentForm(forms.Form):
    """A form that creates a record: the hidden key makes a double tap or a retry harmless. The
    key is made when the form is first shown and kept when the form is shown again with errors."""

    idempotency_key = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={
            "required": _("This form is out of date. Reload the page and try again."),
            "invalid": _("This form is out of date. Reload the page and try again."),
        },
    )


# --- Site details and rules -------------------------------------------------------------------


class SiteRulesForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120, validators=[no_markup])
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Site.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose fixed site or mobile unit.")},
    )
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=60,
        help_text=_("A place name such as Europe/London: days and reports follow its clock."),
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )
    active = forms.BooleanField(label=_("Open for business (shown at the desk)"), required=False)
    anonymous_visits_allowed = forms.BooleanField(
        label=_("Anonymous visits allowed (counted, not linked to a client)"), required=False
    )
    drug_checking_allowed = forms.BooleanField(
        label=_("Drug checking allowed at this site"), required=False
    )
    permitted_routes = forms.MultipleChoiceField(
        label=_("Routes allowed on site"),
        choices=Route.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Allow at least one route on site."),
            "invalid_choice": _("Choose routes from the list."),
        },
    )
    check_min_age = forms.BooleanField(label=_("Check the minimum age"), required=False)
    min_age = whole_number(_("Minimum age"), *actions.MIN_AGE_RANGE)
    check_first_time_use = forms.BooleanField(
        label=_("Refuse first-time or occasional users"), required=False
    )
    check_intoxicated = forms.BooleanField(
        label=_("Refuse people who are visibly intoxicated"), required=False
    )
    check_pregnancy = forms.BooleanField(label=_("Refuse if pregnant"), required=False)
    check_residency = forms.BooleanField(label=_("Residents of the area only"), required=False)
    residency_area = forms.CharField(
        label=_("Area residents must live in"),
        max_length=120,
        required=False,
        validators=[no_markup],
        help_text=_("For example: the City of Zurich. Needed when the residency check is on."),
    )
    # Supervision on the floor: how often the board prompts a check, when a missed one turns
    # red, and when it goes to the shift lead.
    check_interval_booth = whole_number(
        _("Check someone in an injection booth every (minutes)"), *actions.CHECK_INTERVAL_RANGE
    )
    check_interval_inhalation = whole_number(
        _("Check someone in an inhalation room every (minutes)"), *actions.CHECK_INTERVAL_RANGE
    )
    check_interval_flexible = whole_number(
        _("Check someone in a flexible space every (minutes)"), *actions.CHECK_INTERVAL_RANGE
    )
    check_overdue_minutes = whole_number(
        _("A due check turns red after (minutes)"),
        *actions.CHECK_OVERDUE_RANGE,
        help_text=_("The tile turns amber when the check is due, then red this long after."),
    )
    check_escalate_minutes = whole_number(
        _("A missed check goes to the shift lead after (minutes)"),
        *actions.CHECK_ESCALATE_RANGE,
        help_text=_("Counted from when the check was due; at least the time it takes to turn red."),
    )

    SUPERVISION_FIELDS = (
        *actions.CHECK_INTERVAL_FIELDS,
        "check_overdue_minutes",
        "check_escalate_minutes",
    )

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        self.site = site
        kwargs.setdefault("initial", {f: getattr(site, f) for f in actions.SITE_RULE_FIELDS})
        super().__init__(*args, **kwargs)
        versioned(self, site)

    def clean_time_zone(self) -> str:
        value: str = self.cleaned_data["time_zone"].strip()
        if value not in time_zone_names():
            raise ValidationError(
                _("“%(value)s” is not a time zone. Use a name such as Europe/London."),
                params={"value": value},
                code="invalid_time_zone",
            )
        return value

    def clean_name(self) -> str:
        name: str = " ".join(self.cleaned_data["name"].split())
        clash = Site.objects.filter(network_id=self.site.network_id, name__iexact=name).exclude(
            pk=self.site.pk
        )
        if clash.exists():
            raise ValidationError(
                _("There is already a site called “%(name)s” in this network."),
                params={"name": name},
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("check_residency") and not (data.get("residency_area") or "").strip():
            self.add_error(
                "residency_area",
                _("Name the area residents must live in, or switch the residency check off."),
            )
        overdue, escalate = data.get("check_overdue_minutes"), data.get("check_escalate_minutes")
        if overdue is not None and escalate is not None and escalate < overdue:
            self.add_error(
                "check_escalate_minutes",
                _(
                    "A missed check cannot go to the shift lead before it turns red: give at "
                    "least %(minutes)d minutes."
                )
                % {"minutes": overdue},
            )
        return data

    def supervision_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.SUPERVISION_FIELDS]

    def changes(self) -> dict[str, Any]:
        return {f: self.cleaned_data[f] for f in actions.SITE_RULE_FIELDS}


# --- Opening hours ----------------------------------------------------------------------------


class OpeningHoursForm(forms.Form):
    """The week as a table: each day has a few rows of opens/closes; empty rows are ignored."""

    MIN_ROWS_PER_DAY = 2
    MAX_ROWS_PER_DAY = 6

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        self.site = site
        by_day: dict[int, list[OpeningHours]] = defaultdict(list)
        for h in site.opening_hours.order_by("weekday", "opens"):
            by_day[h.weekday].append(h)
        self.rows_per_day = min(
            max(self.MIN_ROWS_PER_DAY, *(len(v) + 1 for v in by_day.values()), 0),
            self.MAX_ROWS_PER_DAY,
        )
        initial: dict[str, Any] = {}
        for weekday, hours in by_day.items():
            for i, h in enumerate(hours[: self.rows_per_day]):
                initial[f"d{weekday}_{i}_opens"] = h.opens
                initial[f"d{weekday}_{i}_closes"] = h.closes
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        versioned(self, site)
        for weekday, day_label in OpeningHours.Weekday.choices:
            for i in range(self.rows_per_day):
                for edge, edge_label in (("opens", _("opens")), ("closes", _("closes"))):
                    name = f"d{weekday}_{i}_{edge}"
                    self.fields[name] = forms.TimeField(
                        label=f"{day_label}, {_('period')} {i + 1}, {edge_label}",
                        required=False,
                        input_formats=["%H:%M", "%H:%M:%S", "%H.%M"],
                        error_messages={"invalid": _("Give a time such as 09:30.")},
                        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
                    )

    def days(self) -> list[dict[str, Any]]:
        """Rows for the template: each day with its bound (opens, closes) pairs."""
        return [
            {
                "label": day_label,
                "rows": [
                    (self[f"d{weekday}_{i}_opens"], self[f"d{weekday}_{i}_closes"])
                    for i in range(self.rows_per_day)
                ],
            }
            for weekday, day_label in OpeningHours.Weekday.choices
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        periods: list[actions.Period] = []
        for weekday in range(7):
            for i in range(self.rows_per_day):
                opens_name, closes_name = f"d{weekday}_{i}_opens", f"d{weekday}_{i}_closes"
                if opens_name in self.errors or closes_name in self.errors:
                    continue
                opens: time | None = data.get(opens_name)
                closes: time | None = data.get(closes_name)
                if opens is None and closes is None:
                    continue
                if opens is None or closes is None:
                    self.add_error(
                        opens_name if opens is None else closes_name,
                        _("Give both the opening and the closing time, or leave both empty."),
                    )
                    continue
                period = actions.Period(weekday, opens, closes)
                if opens == closes:
                    self.add_error(
                        opens_name,
                        _(
                            "%(period)s opens and closes at the same time. To stay open all "
                            "day, use two periods: 00:00–12:00 and 12:00–00:00."
                        )
                        % {"period": period.describe()},
                    )
                    continue
                periods.append(period)
        if not self.errors:
            for first, second in actions.find_overlaps(periods):
                self.add_error(
                    None,
                    _("%(first)s overlaps %(second)s. Change one of them.")
                    % {"first": first.describe(), "second": second.describe()},
                )
        self.periods = periods
        return data


# --- Spaces -----------------------------------------------------------------------------------


class SpaceForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=60,
        validators=[no_markup],
        help_text=_("As staff call it, for example Booth 3 or Smoking room."),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Space.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose what kind of space this is.")},
    )
    seats = forms.IntegerField(
        label=_("Seats"),
        min_value=actions.SEATS_RANGE[0],
        max_value=actions.SEATS_RANGE[1],
        initial=1,
        help_text=_("How many people can use it at once; for the after-care area, its capacity."),
        error_messages={
            key: _("A space has between 1 and 50 seats.")
            for key in ("invalid", "min_value", "max_value", "required")
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    clear_down_minutes = forms.IntegerField(
        label=_("Clear-down minutes"),
        min_value=0,
        max_value=actions.MAX_CLEAR_DOWN_MINUTES,
        required=False,
        help_text=_(
            "Cleaning or ventilation time before the next person. Leave empty for the usual "
            "time: 2 for a booth, 10 for an inhalation room, 5 for a flexible space."
        ),
        error_messages={
            key: _("Clear-down is between 0 and 120 minutes.")
            for key in ("invalid", "min_value", "max_value")
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    accessible = forms.BooleanField(label=_("Wheelchair accessible"), required=False)
    sort_order = forms.IntegerField(
        label=_("Order on the board"),
        min_value=0,
        max_value=32767,
        required=False,
        help_text=_("Lower numbers come first. Leave empty to put it last."),
        error_messages={
            key: _("Give the order as a whole number from 0.")
            for key in ("invalid", "min_value", "max_value")
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, site: Site, space: Space | None = None, **kwargs: Any) -> None:
        self.site = site
        self.space = space
        if space is not None:
            kwargs.setdefault("initial", {f: getattr(space, f) for f in actions.SPACE_FIELDS})
        super().__init__(*args, **kwargs)
        if space is not None:
            versioned(self, space)
            keep = _("Leave empty to keep it as it is.")
            self.fields["clear_down_minutes"].help_text = _(
                "Cleaning or ventilation time before the next person."
            )
            self.fields["sort_order"].help_text = keep

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("idempotency_key", None)
        data.pop("version", None)
        assert self.space is not None
        if data["clear_down_minutes"] is None:
            data["clear_down_minutes"] = self.space.clear_down_minutes
        if data["sort_order"] is None:
            data["sort_order"] = self.space.sort_order
        return data


class NewSpaceForm(IdempotentForm, SpaceForm):
    pass


class OutOfServiceForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it out of service?"),
        max_length=200,
        validators=[no_markup],
        error_messages={"required": _("Say why, so the next shift knows.")},
    )


# --- Catalogues -------------------------------------------------------------------------------

# How each list appears in addresses (/catalogue/substances/) and on the page.
CATALOGUE_SLUGS: dict[str, str] = {
    "substances": CatalogueItem.Kind.SUBSTANCE,
    "supplies": CatalogueItem.Kind.SUPPLY,
    "services": CatalogueItem.Kind.SERVICE,
    "referral-targets": CatalogueItem.Kind.REFERRAL_TARGET,
    "turn-away-reasons": CatalogueItem.Kind.TURNAWAY_REASON,
}
CATALOGUE_TITLES: dict[str, Any] = {
    CatalogueItem.Kind.SUBSTANCE: _("Substances"),
    CatalogueItem.Kind.SUPPLY: _("Supplies"),
    CatalogueItem.Kind.SERVICE: _("Services"),
    CatalogueItem.Kind.REFERRAL_TARGET: _("Referral targets"),
    CatalogueItem.Kind.TURNAWAY_REASON: _("Turn-away reasons"),
}


class CatalogueItemForm(forms.Form):
    SCOPE_SITE = "site"
    SCOPE_NETWORK = "network"

    label = forms.CharField(label=_("Label"), max_length=80, validators=[no_markup])
    category = forms.ChoiceField(
        label=_("Reporting group"),
        error_messages={"invalid_choice": _("Choose a reporting group from the list.")},
    )
    sort_order = forms.IntegerField(
        label=_("Order in the list"),
        min_value=0,
        max_value=32767,
        required=False,
        help_text=_("Lower numbers come first. Leave empty to put it last."),
        error_messages={
            key: _("Give the order as a whole number from 0.")
            for key in ("invalid", "min_value", "max_value")
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(
        self,
        *args: Any,
        kind: str,
        item: CatalogueItem | None = None,
        network_scope: bool = False,
        **kwargs: Any,
    ) -> None:
        self.kind = kind
        self.item = item
        if item is not None:
            kwargs.setdefault(
                "initial",
                {"label": item.label, "category": item.category, "sort_order": item.sort_order},
            )
        super().__init__(*args, **kwargs)
        if item is not None:
            versioned(self, item)
        category = self.fields["category"]
        assert isinstance(category, forms.ChoiceField)
        category.choices = CatalogueItem.CATEGORIES.get(kind, [])
        if network_scope:
            self.fields["scope"] = forms.ChoiceField(
                label=_("Where it is offered"),
                choices=[
                    (self.SCOPE_SITE, _("At this site only")),
                    (self.SCOPE_NETWORK, _("At every site of the network")),
                ],
                initial=self.SCOPE_SITE,
                widget=forms.RadioSelect,
                error_messages={"invalid_choice": _("Choose where it is offered.")},
            )


class NewCatalogueItemForm(IdempotentForm, CatalogueItemForm):
    pass


# --- Network settings -------------------------------------------------------------------------


class NetworkSettingsForm(forms.Form):
    client_code_scheme = forms.ChoiceField(
        label=_("Client-code scheme"),
        choices=ClientCodeScheme.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose a client-code scheme from the list.")},
    )
    confirm_scheme_change = forms.BooleanField(
        label=_(
            "I understand that after a change, returning clients must be found by their code "
            "or registered again"
        ),
        required=False,
    )
    intake_questions = forms.MultipleChoiceField(
        label=_("Questions asked at a client's first visit"),
        choices=IntakeQuestion.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        error_messages={"invalid_choice": _("Choose intake questions from the list.")},
    )

    def __init__(self, *args: Any, network: Network, **kwargs: Any) -> None:
        self.network = network
        kwargs.setdefault(
            "initial",
            {
                "client_code_scheme": network.client_code_scheme,
                "intake_questions": list(network.intake_questions),
            },
        )
        super().__init__(*args, **kwargs)
        versioned(self, network)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scheme = data.get("client_code_scheme")
        changing = scheme is not None and scheme != self.network.client_code_scheme
        if changing and not data.get("confirm_scheme_change"):
            self.add_error(
                "confirm_scheme_change",
                _("Tick this box to confirm that you want to change the client-code scheme."),
            )
        return data


# --- Staff ------------------------------------------------------------------------------------


def role_field(label: Any, roles: list[Role], *, required: bool) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=[(r.value, r.label) for r in roles],
        widget=forms.CheckboxSelectMultiple,
        required=required,
        error_messages={
            "required": _("Give at least one role."),
            "invalid_choice": _(
                "You cannot give the role “%(value)s” here: only an administrator can."
            ),
        },
    )


class StaffRolesMixin(forms.Form):
    """Role checkboxes: those ``by`` may give at this site, and (administrators) across the
    network."""

    def add_role_fields(
        self, *, site_roles: list[Role], network_roles: list[Role], site: Site
    ) -> None:
        self.fields["site_roles"] = role_field(
            _("Roles at %(site)s") % {"site": site.name}, site_roles, required=False
        )
        if network_roles:
            self.fields["network_roles"] = role_field(
                _("Roles at every site of the network"), network_roles, required=False
            )


username_field = forms.CharField(
    label=_("Username"),
    max_length=150,
    help_text=_("What they type to log in. Letters, numbers and . @ + - _ only."),
    validators=[UnicodeUsernameValidator()],
    widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    error_messages={"invalid": _("Use only letters, numbers and . @ + - _ in a username.")},
)


class NewStaffForm(IdempotentForm, StaffRolesMixin):
    username = username_field
    display_name = forms.CharField(
        label=_("Name shown to colleagues"), max_length=80, validators=[no_markup]
    )
    password = forms.CharField(
        label=_("First password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 12 characters and not a common password. Give it to them in person; "
            "they can change it after logging in."
        ),
    )
    password_again = forms.CharField(
        label=_("First password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(
        self,
        *args: Any,
        site: Site,
        site_roles: list[Role],
        network_roles: list[Role],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_role_fields(site_roles=site_roles, network_roles=network_roles, site=site)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", _("The two passwords are not the same."))
        elif password and "username" in data and "display_name" in data:
            try:
                validate_password(
                    password, User(username=data["username"], display_name=data["display_name"])
                )
            except ValidationError as error:
                self.add_error("password", error)
        no_roles = not data.get("site_roles") and not data.get("network_roles")
        if no_roles and "site_roles" not in self.errors:
            self.add_error("site_roles", _("Give at least one role."))
        return data


class AddExistingStaffForm(StaffRolesMixin):
    username = forms.CharField(label=_("Their username"), max_length=150)

    def __init__(self, *args: Any, site: Site, site_roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_role_fields(site_roles=site_roles, network_roles=[], site=site)
        self.fields["site_roles"].required = True


class StaffEditForm(StaffRolesMixin):
    display_name = forms.CharField(
        label=_("Name shown to colleagues"), max_length=80, validators=[no_markup]
    )

    def __init__(
        self,
        *args: Any,
        site: Site,
        member: User,
        site_roles: list[Role],
        network_roles: list[Role],
        **kwargs: Any,
    ) -> None:
        held_here = list(member.memberships.filter(site=site).values_list("role", flat=True))
        held_network = list(
            member.memberships.filter(site=None, network_id=site.network_id).values_list(
                "role", flat=True
            )
        )
        kwargs.setdefault(
            "initial",
            {
                "display_name": member.display_name,
                "site_roles": [r for r in held_here if r in site_roles],
                "network_roles": held_network,
            },
        )
        super().__init__(*args, **kwargs)
        self.add_role_fields(site_roles=site_roles, network_roles=network_roles, site=site)
        versioned(self, member)


class SetPasswordForm(forms.Form):
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters and not a common password."),
    )
    new_password_again = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, member: User, **kwargs: Any) -> None:
        self.member = member
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, again = data.get("new_password"), data.get("new_password_again")
        if password and again and password != again:
            self.add_error("new_password_again", _("The two passwords are not the same."))
        elif password:
            try:
                validate_password(password, self.member)
            except ValidationError as error:
                self.add_error("new_password", error)
        return data
