"""Networks, sites (fixed or mobile), their spaces, opening hours, staff memberships and the
catalogues and rules a manager edits."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from saferoom.core.roles import Role
from saferoom.core.versioning import version_field


class ClientCodeScheme(models.TextChoices):
    # England's drug-treatment records (NDTMS): initials, date of birth and sex.
    INITIALS_DOB_SEX = "initials_dob_sex", _("Initials, date of birth and sex (as NDTMS)")
    # Ontario's harm-reduction database: gender, four letters and year of birth.
    GENDER_LETTERS_YOB = "gender_letters_yob", _("Gender, four letters and year of birth (Ontario)")
    CHOSEN_NAME = "chosen_name", _("A chosen name")


class IntakeQuestion(models.TextChoices):
    YEARS_OF_USE = "years_of_use", _("Years of drug use")
    PAST_OVERDOSES = "past_overdoses", _("Past overdoses")
    CURRENT_TREATMENT = "current_treatment", _("Current treatment")
    HOUSING_STATUS = "housing_status", _("Housing status")
    RESIDENCE_AREA = "residence_area", _("Area of residence (postcode district)")
    OTHERWISE_LOCATION = "otherwise_location", _("Where they would otherwise use")


def all_intake_questions() -> list[str]:
    return [q.value for q in IntakeQuestion]


class Route(models.TextChoices):
    INJECT = "inject", _("Inject")
    SMOKE = "smoke", _("Smoke or inhale")
    SNORT = "snort", _("Snort")
    ORAL = "oral", _("Oral")


def all_routes() -> list[str]:
    return [r.value for r in Route]


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zone names a site may choose (``Area/City`` and UTC). The system's own aliases
    (``localtime``, ``Factory``) are left out: they are not places."""
    return tuple(
        sorted(name for name in zoneinfo.available_timezones() if name == "UTC" or "/" in name)
    )


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            _("%(value)s is not a time zone. Use a name such as Europe/London."),
            params={"value": value},
            code="invalid_time_zone",
        )


class Network(models.Model):
    """One deployment's organisation: fixed sites and mobile units sharing clients and rules."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    client_code_scheme = models.CharField(
        _("client-code scheme"),
        max_length=30,
        choices=ClientCodeScheme.choices,
        default=ClientCodeScheme.INITIALS_DOB_SEX,
    )
    intake_questions = models.JSONField(
        _("first-visit intake questions"), default=all_intake_questions, blank=True
    )
    # Edits are version-checked (saferoom.core.versioning).
    version = version_field()

    class Meta:
        db_table = "sites_network"

    def __str__(self) -> str:
        return self.name

    def audit_label(self) -> str:
        return self.name


class Site(models.Model):
    class Kind(models.TextChoices):
        FIXED = "fixed", _("Fixed site")
        MOBILE = "mobile", _("Mobile unit")

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("short name for addresses"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.FIXED)
    time_zone = models.CharField(
        _("time zone"), max_length=60, default="Europe/London", validators=[validate_time_zone]
    )
    active = models.BooleanField(_("open for business"), default=True)

    anonymous_visits_allowed = models.BooleanField(_("anonymous visits allowed"), default=False)
    drug_checking_allowed = models.BooleanField(_("drug checking allowed"), default=True)
    # How counts are published outside the site's own staff (indicators.md, "Rules for every
    # report"); the codes are saferoom.core.suppression.RULES.
    suppression_rule = models.CharField(
        _("small-number rule for published figures"),
        max_length=8,
        choices=[
            ("lt10", _("1–9 shown as <10")),
            ("nhs", _("NHS Digital: 1–7 shown as *, others rounded to the nearest 5")),
            ("ndtms", _("Drug treatment (NDTMS): 1–4 shown as <5")),
        ],
        default="lt10",
    )
    permitted_routes = models.JSONField(_("routes allowed on site"), default=all_routes)

    # Eligibility checks, each on or off (domain.md §1.3: the rules differ by jurisdiction).
    check_min_age = models.BooleanField(_("check minimum age"), default=True)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), default=18)
    check_first_time_use = models.BooleanField(_("refuse first-time users"), default=True)
    check_intoxicated = models.BooleanField(_("refuse visibly intoxicated people"), default=True)
    check_pregnancy = models.BooleanField(_("refuse if pregnant"), default=False)
    check_residency = models.BooleanField(_("residents only"), default=False)
    residency_area = models.CharField(_("area residents must live in"), max_length=120, blank=True)

    # Supervision on the floor: how often someone in a space is checked on, when a missed
    # check turns red, and when it is escalated to the shift lead (minutes).
    check_interval_booth = models.PositiveSmallIntegerField(
        _("check injection booths every (minutes)"), default=5
    )
    check_interval_inhalation = models.PositiveSmallIntegerField(
        _("check inhalation rooms every (minutes)"), default=5
    )
    check_interval_flexible = models.PositiveSmallIntegerField(
        _("check flexible spaces every (minutes)"), default=5
    )
    check_overdue_minutes = models.PositiveSmallIntegerField(
        _("a due check turns red after (minutes)"), default=2
    )
    check_escalate_minutes = models.PositiveSmallIntegerField(
        _("a missed check goes to the shift lead after (minutes)"), default=4
    )
    # Edits of the details and rules and of the opening hours are version-checked
    # (saferoom.core.versioning).
    version = version_field()

    class Meta:
        db_table = "sites_site"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="site_name_unique_in_network"),
            models.CheckConstraint(
                condition=Q(min_age__gte=10) & Q(min_age__lte=30), name="site_min_age_plausible"
            ),
            models.CheckConstraint(
                condition=Q(check_interval_booth__gte=1, check_interval_booth__lte=60)
                & Q(check_interval_inhalation__gte=1, check_interval_inhalation__lte=60)
                & Q(check_interval_flexible__gte=1, check_interval_flexible__lte=60),
                name="site_check_intervals_range",
            ),
            models.CheckConstraint(
                condition=Q(check_overdue_minutes__gte=1, check_overdue_minutes__lte=30)
                & Q(check_escalate_minutes__gte=1, check_escalate_minutes__lte=60)
                & Q(check_escalate_minutes__gte=models.F("check_overdue_minutes")),
                name="site_check_escalation_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_label(self) -> str:
        return self.name

    def check_interval_for(self, space_kind: str) -> int:
        """Minutes between checks for someone in a space of this kind."""
        return {
            "inhalation": self.check_interval_inhalation,
            "flexible": self.check_interval_flexible,
        }.get(space_kind, self.check_interval_booth)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local(self, moment: datetime) -> datetime:
        return timezone.localtime(moment, self.tz)

    def opening_on(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The opening period (local start, local end) that contains ``moment``, if any.
        Periods may run past midnight (9:00–03:00)."""
        local = self.local(moment)
        instant = moment.astimezone(UTC)
        hours = list(self.opening_hours.all())
        for day_offset in (0, -1):
            day = (local + timedelta(days=day_offset)).date()
            for h in hours:
                if h.weekday != day.weekday():
                    continue
                start = datetime.combine(day, h.opens, self.tz)
                end_day = day if h.closes > h.opens else day + timedelta(days=1)
                end = datetime.combine(end_day, h.closes, self.tz)
                # Compare instants, not wall-clock times: aware datetimes sharing a tzinfo are
                # compared on their wall clocks, which is wrong in the hour the clocks go back.
                if start.astimezone(UTC) <= instant < end.astimezone(UTC):
                    return self.local(start), self.local(end)
        return None

    def is_open(self, moment: datetime) -> bool:
        return self.opening_on(moment) is not None


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(
        _("closes"), help_text=_("Earlier than opening means after midnight.")
    )

    class Meta:
        db_table = "sites_openinghours"
        ordering = ["weekday", "opens"]
        constraints = [
            models.UniqueConstraint(fields=["site", "weekday", "opens"], name="opening_unique"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_weekday_valid"),
            models.CheckConstraint(
                condition=~Q(opens=models.F("closes")), name="opening_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Space(models.Model):
    """A place where people use or recover: an injection booth, an inhalation room with seats,
    a flexible space, or the after-care / recovery area."""

    class Kind(models.TextChoices):
        BOOTH = "booth", _("Injection booth")
        INHALATION = "inhalation", _("Inhalation room")
        FLEXIBLE = "flexible", _("Flexible space")
        AFTERCARE = "aftercare", _("After-care / recovery area")

    DEFAULT_CLEAR_DOWN = {"booth": 2, "inhalation": 10, "flexible": 5, "aftercare": 0}

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="spaces")
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    seats = models.PositiveSmallIntegerField(_("seats"), default=1)
    clear_down_minutes = models.PositiveSmallIntegerField(
        _("clear-down minutes"), default=2, help_text=_("Cleaning or ventilation between clients.")
    )
    accessible = models.BooleanField(_("wheelchair accessible"), default=False)
    out_of_service = models.BooleanField(_("out of service"), default=False)
    out_of_service_reason = models.CharField(_("why out of service"), max_length=200, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order on the board"), default=0)
    # Edits are version-checked (saferoom.core.versioning); out of service and back is not an
    # edit of the form's values, and does not move it.
    version = version_field()

    class Meta:
        db_table = "sites_space"
        ordering = ["site", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="space_name_unique_in_site"),
            models.CheckConstraint(
                condition=Q(seats__gte=1) & Q(seats__lte=50), name="space_seats_range"
            ),
            models.CheckConstraint(
                condition=Q(clear_down_minutes__lte=120), name="space_clear_down_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.name}: {self.name}"

    def audit_label(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role at one site, or at every site of a network when ``site`` is empty."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="memberships")
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="memberships", null=True, blank=True
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        db_table = "sites_membership"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "site", "role"],
                condition=Q(site__isnull=False),
                name="membership_unique_site_role",
            ),
            models.UniqueConstraint(
                fields=["user", "network", "role"],
                condition=Q(site__isnull=True),
                name="membership_unique_network_role",
            ),
        ]

    def __str__(self) -> str:
        where = self.site.name if self.site else f"all of {self.network.name}"
        return f"{self.user} — {self.get_role_display()} at {where}"

    def audit_label(self) -> str:
        return f"{self.role}@{self.site_id or 'network'}"


class CatalogueItem(models.Model):
    """An entry in one of the lists a manager edits: substances, supplies, services, referral
    targets and turn-away reasons. Network-wide when ``site`` is empty, else for one site."""

    class Kind(models.TextChoices):
        SUBSTANCE = "substance", _("Substance")
        SUPPLY = "supply", _("Supply")
        SERVICE = "service", _("Service")
        REFERRAL_TARGET = "referral_target", _("Referral target")
        TURNAWAY_REASON = "turnaway_reason", _("Turn-away reason")

    # The reporting group each kind's entries fall into (indicators.md U6, E2, substances).
    CATEGORIES: dict[str, list[tuple[str, Any]]] = {
        "substance": [
            ("opioid", _("Opioid")),
            ("stimulant", _("Stimulant")),
            ("opioid_stimulant", _("Opioid and stimulant")),
            ("sedative", _("Sedative")),
            ("other", _("Other")),
        ],
        "turnaway_reason": [
            ("capacity", _("Capacity or closing")),
            ("not_eligible", _("Not eligible")),
            ("banned", _("Banned")),
            ("intoxicated", _("Intoxicated")),
            ("other", _("Other")),
        ],
        "referral_target": [
            ("housing", _("Housing")),
            ("drug_treatment", _("Drug treatment / OST")),
            ("detox_rehab", _("Detox / rehab")),
            ("bbv", _("Blood-borne viruses")),
            ("sexual_health", _("Sexual health")),
            ("mental_health", _("Mental health")),
            ("primary_care", _("Primary care")),
            ("benefits", _("Social / benefits")),
            ("legal", _("Legal")),
        ],
        "supply": [
            ("injecting", _("Injecting")),
            ("smoking", _("Smoking")),
            ("naloxone", _("Naloxone")),
            ("other", _("Other")),
        ],
        "service": [("health", _("Health")), ("welfare", _("Welfare")), ("other", _("Other"))],
    }

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="catalogue")
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="catalogue", null=True, blank=True
    )
    kind = models.CharField(_("list"), max_length=20, choices=Kind.choices)
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label"), max_length=80)
    category = models.CharField(_("reporting group"), max_length=30, default="other")
    active = models.BooleanField(_("in use"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    # Edits are version-checked (saferoom.core.versioning); retiring and restoring do not move
    # it.
    version = version_field()

    class Meta:
        db_table = "sites_catalogueitem"
        ordering = ["kind", "sort_order", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "kind", "code"],
                condition=Q(site__isnull=True),
                name="catalogue_code_unique_network",
            ),
            models.UniqueConstraint(
                fields=["site", "kind", "code"],
                condition=Q(site__isnull=False),
                name="catalogue_code_unique_site",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def audit_label(self) -> str:
        return f"{self.kind}:{self.code}"


def catalogue_for(site: Site, kind: str) -> models.QuerySet[CatalogueItem]:
    """The active entries of one list that apply at a site: network-wide plus the site's own."""
    return CatalogueItem.objects.filter(
        Q(site__isnull=True, network_id=site.network_id) | Q(site=site), kind=kind, active=True
    ).order_by("sort_order", "label")
