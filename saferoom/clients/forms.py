"""Forms of the client registry. Each turns what staff type into clean values with a message
per field that says what to fix; the actions check the same rules again."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.clients import codes
from saferoom.clients.actions import MAX_REASON_LENGTH, MAX_YEARS_OF_USE
from saferoom.clients.codes import CodeError, SchemeAttributes
from saferoom.clients.models import Ban, Gender, Intake, OtherwiseLocation, enabled_intake_questions
from saferoom.core.versioning import VersionInput
from saferoom.sites.models import ClientCodeScheme, IntakeQuestion, Network, Site

# Dates as people type them at a UK desk, and as a browser's date picker sends them.
DATE_INPUT_FORMATS = ["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y", "%d %m %Y"]
SCHEME_SEXES = [
    ("female", gettext_lazy("Female")),
    ("male", gettext_lazy("Male")),
    ("other", gettext_lazy("Other")),
]
MAX_BAN_YEARS = 10
_TEXT_ERRORS = {"max_length": gettext_lazy("That is too long: at most %(limit_value)d characters.")}


class IdempotencyKeyField(forms.UUIDField):
    """A hidden uuid made when the form is first shown and sent back with every submission."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages",
            {
                "required": gettext_lazy("This form is out of date. Reload the page."),
                "invalid": gettext_lazy("This form is out of date. Reload the page."),
            },
        )
        super().__init__(**kwargs)


class IdempotentForm(forms.Form):
    idempotency_key = IdempotencyKeyField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())


def _code_widget() -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "inputmode": "text",
            "class": "code-input",
        }
    )


class CodeSearchForm(forms.Form):
    """The desk's big box: type or scan the code on the client's card."""

    code = forms.CharField(
        label=gettext_lazy("Client code"),
        max_length=codes.MAX_TYPED_CODE_LENGTH,
        help_text=gettext_lazy(
            "Type it or scan the card. Capitals, spaces and the dash do not matter."
        ),
        error_messages={
            "required": gettext_lazy("Type or scan the client code."),
            "max_length": gettext_lazy("A client code has six letters and numbers, like K7F-29Q."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        widget = _code_widget()
        widget.attrs["autofocus"] = True
        self.fields["code"].widget = widget

    def clean_code(self) -> str:
        try:
            return codes.normalise_display_code(self.cleaned_data["code"])
        except CodeError as error:
            raise forms.ValidationError(str(error)) from None


# ---------------------------------------------------------------------------------------------
# The network's code-scheme attributes


def _year_field(*, required: bool, label: str | Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=gettext_lazy("Four digits, like 1987."),
        error_messages={
            "required": gettext_lazy("Enter the year of birth."),
            "invalid": gettext_lazy("Enter the year of birth as four digits, like 1987."),
        },
    )


def scheme_fields(scheme: str) -> dict[str, forms.Field]:
    """The fields a client gives for the code scheme, named as SchemeAttributes names them
    (except ``gender``, the Ontario scheme's word for sex)."""
    if scheme == ClientCodeScheme.INITIALS_DOB_SEX:
        return {
            "initials": forms.CharField(
                label=gettext_lazy("Initials"),
                max_length=10,
                help_text=gettext_lazy("First letter of first name and of surname, like JS."),
                widget=forms.TextInput(
                    attrs={"autocomplete": "off", "autocapitalize": "characters"}
                ),
                error_messages={"required": gettext_lazy("Enter the initials."), **_TEXT_ERRORS},
            ),
            "date_of_birth": forms.DateField(
                label=gettext_lazy("Date of birth"),
                input_formats=DATE_INPUT_FORMATS,
                help_text=gettext_lazy("Day, month and year, like 14/03/1987."),
                widget=forms.DateInput(format="%d/%m/%Y", attrs={"autocomplete": "off"}),
                error_messages={
                    "required": gettext_lazy("Enter the date of birth."),
                    "invalid": gettext_lazy(
                        "That is not a real date. Enter day, month and year, like 14/03/1987."
                    ),
                },
            ),
            "sex": forms.ChoiceField(
                label=gettext_lazy("Sex"),
                choices=SCHEME_SEXES,
                widget=forms.RadioSelect,
                error_messages={
                    "required": gettext_lazy("Choose female, male or other for sex."),
                    "invalid_choice": gettext_lazy("Choose female, male or other for sex."),
                },
            ),
        }
    if scheme == ClientCodeScheme.GENDER_LETTERS_YOB:
        return {
            "gender": forms.ChoiceField(
                label=gettext_lazy("Gender"),
                choices=SCHEME_SEXES,
                widget=forms.RadioSelect,
                error_messages={
                    "required": gettext_lazy("Choose female, male or other for gender."),
                    "invalid_choice": gettext_lazy("Choose female, male or other for gender."),
                },
            ),
            "letters": forms.CharField(
                label=gettext_lazy("Four letters"),
                max_length=20,
                help_text=gettext_lazy("The four letters the client uses for their code."),
                widget=forms.TextInput(
                    attrs={"autocomplete": "off", "autocapitalize": "characters"}
                ),
                error_messages={
                    "required": gettext_lazy("Enter the four letters."),
                    **_TEXT_ERRORS,
                },
            ),
            "year_of_birth": _year_field(required=True, label=gettext_lazy("Year of birth")),
        }
    return {
        "chosen_name": forms.CharField(
            label=gettext_lazy("Chosen name"),
            max_length=60,
            help_text=gettext_lazy("The name the client chooses to be known by here."),
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
            error_messages={"required": gettext_lazy("Enter the chosen name."), **_TEXT_ERRORS},
        )
    }


class AttributesForm(forms.Form):
    """The network's code-scheme attributes, to find (or register) a client without a card."""

    def __init__(self, *args: Any, network: Network, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.network = network
        self.scheme = network.client_code_scheme
        self.today = today
        self.fields.update(scheme_fields(self.scheme))

    def clean_initials(self) -> str:
        initials = codes.letters_only(self.cleaned_data["initials"])
        if len(initials) != 2:
            raise forms.ValidationError(
                _("Initials are two letters: first name and surname, like JS.")
            )
        return initials

    def clean_letters(self) -> str:
        letters = codes.letters_only(self.cleaned_data["letters"])
        if len(letters) != 4:
            raise forms.ValidationError(_("The code needs exactly four letters, like ABCD."))
        return letters

    def clean_date_of_birth(self) -> date:
        value: date = self.cleaned_data["date_of_birth"]
        if value > self.today:
            raise forms.ValidationError(_("The date of birth is in the future."))
        self._check_year(value.year)
        return value

    def clean_year_of_birth(self) -> int | None:
        value: int | None = self.cleaned_data["year_of_birth"]
        if value is not None:
            self._check_year(value)
        return value

    def _check_year(self, year: int) -> None:
        try:
            codes.check_birth_year(year, today=self.today)
        except CodeError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                codes.canonical(self.scheme, self.attributes(), today=self.today)
            except CodeError as error:
                self.add_error(None, str(error))
        return cleaned

    def attributes(self) -> SchemeAttributes:
        data = self.cleaned_data
        return SchemeAttributes(
            initials=data.get("initials", ""),
            date_of_birth=data.get("date_of_birth"),
            sex=data.get("sex") or data.get("gender", ""),
            letters=data.get("letters", ""),
            year_of_birth=data.get("year_of_birth"),
            chosen_name=data.get("chosen_name", ""),
        )

    def year_of_birth(self) -> int | None:
        return codes.year_of_birth(self.scheme, self.attributes())

    def prefill(self) -> dict[str, Any]:
        """The cleaned attributes, as initial values for the registration form."""
        return {name: self.cleaned_data.get(name) for name in scheme_fields(self.scheme)}


# ---------------------------------------------------------------------------------------------
# First-visit intake


def _choice(label: Any, choices: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=str,
        empty_value="not_said",
        required=False,
        initial="not_said",
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": gettext_lazy("Choose one of the answers offered.")},
    )


def intake_fields(network: Network) -> dict[str, forms.Field]:
    """The network's enabled intake questions, in the usual order."""
    all_fields: dict[str, forms.Field] = {
        IntakeQuestion.YEARS_OF_USE: forms.IntegerField(
            label=gettext_lazy("How many years have they used drugs?"),
            required=False,
            min_value=0,
            max_value=MAX_YEARS_OF_USE,
            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            help_text=gettext_lazy("A whole number. Leave empty if they would rather not say."),
            error_messages={
                "invalid": gettext_lazy("Enter a whole number of years, like 5."),
                "min_value": gettext_lazy("Years of drug use cannot be below 0."),
                "max_value": gettext_lazy("Years of drug use must be %(limit_value)s or fewer."),
            },
        ),
        IntakeQuestion.PAST_OVERDOSES: _choice(
            gettext_lazy("Overdoses in the past"), Intake.PastOverdoses.choices
        ),
        IntakeQuestion.CURRENT_TREATMENT: _choice(
            gettext_lazy("Current drug treatment"), Intake.Treatment.choices
        ),
        IntakeQuestion.HOUSING_STATUS: _choice(gettext_lazy("Housing"), Intake.Housing.choices),
        IntakeQuestion.RESIDENCE_AREA: forms.CharField(
            label=gettext_lazy("Postcode district where they live"),
            required=False,
            max_length=8,
            widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
            help_text=gettext_lazy(
                "Only the first part of the postcode, like G1 or NR2. Leave empty if no fixed "
                "address or they would rather not say."
            ),
            error_messages={
                "max_length": gettext_lazy(
                    "A postcode district is the first part of a postcode, like G1, NR2 or EC1A."
                )
            },
        ),
        IntakeQuestion.OTHERWISE_LOCATION: _choice(
            gettext_lazy("Where would they otherwise use?"), OtherwiseLocation.choices
        ),
    }
    return {q: all_fields[q] for q in enabled_intake_questions(network)}


class IntakeFieldsMixin(forms.Form):
    """Cleaning shared by the registration and intake forms."""

    intake_names: list[str]

    def clean_residence_area(self) -> str:
        value: str = self.cleaned_data.get("residence_area") or ""
        if not value.strip():
            return ""
        try:
            return codes.normalise_postcode_district(value)
        except CodeError as error:
            raise forms.ValidationError(str(error)) from None

    def check_years_against_age(self, year_of_birth: int | None, today: date) -> None:
        years = self.cleaned_data.get("years_of_use")
        if years is not None and year_of_birth is not None and years > today.year - year_of_birth:
            self.add_error(
                "years_of_use", _("That is more years of drug use than the person has been alive.")
            )

    def intake_answers(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.intake_names}


class RegistrationForm(IntakeFieldsMixin, AttributesForm, IdempotentForm):
    """A new client: the scheme's attributes, gender (and year of birth when the scheme does
    not give one), and the network's first-visit intake questions."""

    def __init__(self, *args: Any, network: Network, today: date, **kwargs: Any) -> None:
        super().__init__(*args, network=network, today=today, **kwargs)
        if self.scheme != ClientCodeScheme.GENDER_LETTERS_YOB:
            self.fields["gender"] = forms.ChoiceField(
                label=gettext_lazy("Gender"),
                choices=Gender.choices,
                widget=forms.RadioSelect,
                error_messages={
                    "required": gettext_lazy("Choose a gender, or ‘Not stated’."),
                    "invalid_choice": gettext_lazy("Choose one of the genders offered."),
                },
            )
        if self.scheme == ClientCodeScheme.CHOSEN_NAME:
            field = _year_field(required=False, label=gettext_lazy("Year of birth (optional)"))
            field.help_text = gettext_lazy("Four digits, like 1987. Leave empty if not given.")
            self.fields["year_of_birth"] = field
        intake = intake_fields(network)
        self.intake_names = list(intake)
        self.fields.update(intake)
        # The hidden key goes last so the visible fields keep their reading order.
        self.fields["idempotency_key"] = self.fields.pop("idempotency_key")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.check_years_against_age(self.year_of_birth(), self.today)
        return cleaned

    def client_gender(self) -> str:
        return str(self.cleaned_data["gender"])

    def attribute_names(self) -> list[str]:
        return list(scheme_fields(self.scheme))

    def field_groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The visible fields in the groups the page shows them in."""
        groups = [
            (_("Details for the code"), self.attribute_names()),
            (_("About them"), self.client_names()),
            (_("First-visit questions"), self.intake_names),
        ]
        return [(legend, [self[name] for name in names]) for legend, names in groups if names]

    def client_names(self) -> list[str]:
        """Fields about the client that are not part of the code scheme."""
        names = []
        if self.scheme != ClientCodeScheme.GENDER_LETTERS_YOB:
            names.append("gender")
        if self.scheme == ClientCodeScheme.CHOSEN_NAME:
            names.append("year_of_birth")
        return names


class IntakeForm(IntakeFieldsMixin, forms.Form):
    # The intake's version when the form was opened (0: none yet).
    version = VersionInput()

    def __init__(
        self, *args: Any, network: Network, year_of_birth: int | None, today: date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        intake = intake_fields(network)
        self.intake_names = list(intake)
        self.fields.update(intake)
        self.year_of_birth = year_of_birth
        self.today = today

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.check_years_against_age(self.year_of_birth, self.today)
        return cleaned


# ---------------------------------------------------------------------------------------------
# Bans


class BanForm(IdempotentForm):
    scope = forms.ChoiceField(
        label=gettext_lazy("Where does the ban apply?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose where the ban applies."),
            "invalid_choice": gettext_lazy("Choose one of the places offered."),
        },
    )
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"),
        choices=Ban.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose the reason for the ban."),
            "invalid_choice": gettext_lazy("Choose one of the reasons offered."),
        },
    )
    note = forms.CharField(
        label=gettext_lazy("Note (no names)"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=Ban._meta.get_field("note").help_text,
        error_messages=_TEXT_ERRORS,
    )
    starts_on = forms.DateField(
        label=gettext_lazy("First day"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=gettext_lazy("Leave as today for a ban that starts now."),
        error_messages={"invalid": gettext_lazy("That is not a real date.")},
    )
    last_day = forms.DateField(
        label=gettext_lazy("Last day of the ban"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text=gettext_lazy("Leave empty for a ban that lasts until a manager lifts it."),
        error_messages={"invalid": gettext_lazy("That is not a real date.")},
    )

    def __init__(
        self, *args: Any, site: Site, today: date, network_wide_allowed: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.today = today
        scopes = [("site", _("Only at %(site)s") % {"site": site.name})]
        if network_wide_allowed:
            scopes.append(
                ("network", _("At every site of %(network)s") % {"network": site.network.name})
            )
        scope_field: forms.ChoiceField = self.fields["scope"]  # type: ignore[assignment]
        scope_field.choices = scopes
        self.initial.setdefault("scope", "site")
        self.initial.setdefault("starts_on", today)
        self.fields["idempotency_key"] = self.fields.pop("idempotency_key")

    def clean_starts_on(self) -> date:
        value: date = self.cleaned_data.get("starts_on") or self.today
        if value < self.today:
            raise forms.ValidationError(_("A ban cannot start in the past."))
        if value > self.today + timedelta(days=365):
            raise forms.ValidationError(_("A ban must start within a year."))
        return value

    def clean_last_day(self) -> date | None:
        value: date | None = self.cleaned_data.get("last_day")
        if value is not None and value > self.today + timedelta(days=365 * MAX_BAN_YEARS):
            raise forms.ValidationError(
                _(
                    "A ban can last at most %(years)s years. For a ban with no end, leave the "
                    "last day empty."
                )
                % {"years": MAX_BAN_YEARS}
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, last = cleaned.get("starts_on"), cleaned.get("last_day")
        if starts is not None and last is not None and last < starts:
            self.add_error("last_day", _("The last day is before the first day."))
        return cleaned

    def ban_site(self) -> Site | None:
        return None if self.cleaned_data["scope"] == "network" else self.site

    def starts_at(self) -> datetime | None:
        """None (from now) for a ban starting today; else the start of that day at the site."""
        starts: date = self.cleaned_data["starts_on"]
        if starts <= self.today:
            return None
        return datetime.combine(starts, time.min, self.site.tz)

    def expires_at(self) -> datetime | None:
        """The end of the last day, at the site (the start of the next day)."""
        last: date | None = self.cleaned_data["last_day"]
        if last is None:
            return None
        return datetime.combine(last + timedelta(days=1), time.min, self.site.tz)


class LiftBanForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why is the ban being lifted?"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("A few words, no names."),
        error_messages={
            "required": gettext_lazy("Say why the ban is being lifted."),
            **_TEXT_ERRORS,
        },
    )


# ---------------------------------------------------------------------------------------------
# Merges


class MergeLookupForm(forms.Form):
    other_code = forms.CharField(
        label=gettext_lazy("Code of the other client"),
        max_length=codes.MAX_TYPED_CODE_LENGTH,
        help_text=gettext_lazy("The code that belongs to the same person, like K7F-29Q."),
        error_messages={
            "required": gettext_lazy("Type the other client's code."),
            "max_length": gettext_lazy("A client code has six letters and numbers, like K7F-29Q."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["other_code"].widget = _code_widget()

    def clean_other_code(self) -> str:
        try:
            return codes.normalise_display_code(self.cleaned_data["other_code"])
        except CodeError as error:
            raise forms.ValidationError(str(error)) from None


class MergeConfirmForm(MergeLookupForm):
    keep = forms.ChoiceField(
        label=gettext_lazy("Which code does the person keep?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choose which code the person keeps."),
            "invalid_choice": gettext_lazy("Choose one of the two codes."),
        },
    )
    reason = forms.CharField(
        label=gettext_lazy("Why are these the same person?"),
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("For example: lost card, registered again. No names."),
        error_messages={
            "required": gettext_lazy("Say why these codes are the same person."),
            **_TEXT_ERRORS,
        },
    )

    def __init__(
        self, *args: Any, this_code: str = "", other_code: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        keep_field: forms.ChoiceField = self.fields["keep"]  # type: ignore[assignment]
        keep_field.choices = [
            ("this", _("Keep %(code)s (this record)") % {"code": this_code}),
            ("other", _("Keep %(code)s") % {"code": other_code or _("the other code")}),
        ]
        self.fields["other_code"].widget = forms.HiddenInput()


# ---------------------------------------------------------------------------------------------
# Break-glass


class BreakGlassForm(IdempotentForm):
    """Why someone needs a client's history at every site of the network, now."""

    reason = forms.CharField(
        label=gettext_lazy("Why do you need this client's history at every site now?"),
        min_length=10,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example: collapsed in booth 2, need to know about earlier overdoses. "
            "A few words, no names. Your manager will read this."
        ),
        error_messages={
            "required": gettext_lazy("Say why you need it: your manager will be told."),
            "min_length": gettext_lazy("Say a little more: at least %(limit_value)d characters."),
            **_TEXT_ERRORS,
        },
    )
