"""The pseudonymous client registry: display codes, keyed linkage hashes, first-visit intake,
bans and merges. Nothing identifying is stored by default: no name, initials or birth date."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from saferoom.core.fields import SealedTextField
from saferoom.core.versioning import version_field
from saferoom.sites.models import ClientCodeScheme, IntakeQuestion, Network, Site


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Non-binary or other")
    NOT_STATED = "not_stated", _("Not stated")


class OtherwiseLocation(models.TextChoices):
    """Where the person says they would otherwise have used (indicators.md U9)."""

    STREET = "street", _("Street or doorway")
    PARK = "park", _("Park")
    STAIRWELL = "stairwell", _("Stairwell or car park")
    CAR = "car", _("In a car or between cars")
    PUBLIC_TOILET = "public_toilet", _("Public toilet")
    SHELTER = "shelter", _("Shelter or hostel")
    OWN_HOME = "own_home", _("Own home")
    FRIENDS_HOME = "friends_home", _("Someone else's home")
    WOULD_NOT_USE = "would_not_use", _("Would not have used")
    NOT_SAID = "not_said", _("Did not say")


OTHERWISE_GROUPS = {
    "street": "public",
    "park": "public",
    "stairwell": "public",
    "car": "public",
    "public_toilet": "semi_public",
    "shelter": "semi_public",
    "own_home": "private",
    "friends_home": "private",
    "would_not_use": "would_not_use",
    "not_said": "unknown",
}


# Reporting age bands (indicators.md: "gender, age band"), as (lowest age, label).
AGE_BANDS: list[tuple[int, str]] = [
    (0, "0–17"),
    (18, "18–24"),
    (25, "25–34"),
    (35, "35–44"),
    (45, "45–54"),
    (55, "55–64"),
    (65, "65+"),
]


def age_band(year_of_birth: int | None, year: int) -> str:
    """The age band of someone born in ``year_of_birth``, in ``year`` ("" when not known).
    Only the year of birth is stored, so the age is the age they turn that year."""
    if year_of_birth is None:
        return ""
    age = year - year_of_birth
    label = AGE_BANDS[0][1]
    for lowest, band in AGE_BANDS:
        if age >= lowest:
            label = band
    return label


def enabled_intake_questions(network: Network) -> list[str]:
    """The network's intake questions in the usual order; unknown codes are ignored."""
    chosen = set(network.intake_questions or [])
    return [q.value for q in IntakeQuestion if q.value in chosen]


class Client(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="clients")
    display_code = models.CharField(_("client code"), max_length=7)
    # HMAC of the normalised code-scheme attributes (clients.codes.linkage_hash).
    linkage_hash = models.CharField(max_length=64, db_index=True)
    # How many keys the hash is layered under: 1 is SAFEROOM_LINKAGE_KEY alone, and
    # ``saferoom rotate-linkage-key`` adds the later ones. Look-ups match each row at its own
    # depth, so clients are found while a rotation is under way.
    linkage_layers = models.PositiveSmallIntegerField(default=1, db_default=1)
    scheme = models.CharField(max_length=30, choices=ClientCodeScheme.choices)
    gender = models.CharField(_("gender"), max_length=12, choices=Gender.choices)
    year_of_birth = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    registered_at = models.DateTimeField()
    registered_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )
    merged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "clients_client"
        constraints = [
            models.UniqueConstraint(
                fields=["network", "display_code"], name="client_code_unique_in_network"
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True, merged_at__isnull=True)
                | Q(merged_into__isnull=False, merged_at__isnull=False),
                name="client_merged_pair",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("pk")), name="client_not_merged_into_self"
            ),
            models.CheckConstraint(
                condition=Q(year_of_birth__isnull=True)
                | (Q(year_of_birth__gte=1900) & Q(year_of_birth__lte=2100)),
                name="client_year_of_birth_plausible",
            ),
            models.CheckConstraint(
                condition=Q(linkage_layers__gte=1), name="client_linkage_layers_at_least_one"
            ),
        ]

    def __str__(self) -> str:
        return self.display_code

    def audit_label(self) -> str:
        return self.display_code

    def age_in(self, year: int) -> int | None:
        return None if self.year_of_birth is None else year - self.year_of_birth

    def age_band_in(self, year: int) -> str:
        return age_band(self.year_of_birth, year)


class Intake(models.Model):
    """The short first-visit questionnaire. Every answer may be left as 'did not say'."""

    class PastOverdoses(models.TextChoices):
        NONE = "none", _("None")
        ONE = "one", _("One")
        TWO_TO_FIVE = "two_to_five", _("Two to five")
        MORE = "more", _("More than five")
        NOT_SAID = "not_said", _("Did not say")

    class Treatment(models.TextChoices):
        NONE = "none", _("None")
        OST = "ost", _("Opioid substitution (methadone, buprenorphine)")
        OTHER = "other", _("Other drug treatment")
        NOT_SAID = "not_said", _("Did not say")

    class Housing(models.TextChoices):
        OWN_TENANCY = "own_tenancy", _("Own tenancy or home")
        WITH_OTHERS = "with_others", _("Staying with family or friends")
        TEMPORARY = "temporary", _("Hostel or temporary accommodation")
        ROUGH_SLEEPING = "rough_sleeping", _("Rough sleeping")
        OTHER = "other", _("Other")
        NOT_SAID = "not_said", _("Did not say")

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="intake")
    years_of_use = models.PositiveSmallIntegerField(_("years of drug use"), null=True, blank=True)
    past_overdoses = models.CharField(
        _("past overdoses"), max_length=12, choices=PastOverdoses.choices, default="not_said"
    )
    current_treatment = models.CharField(
        _("current treatment"), max_length=10, choices=Treatment.choices, default="not_said"
    )
    housing_status = models.CharField(
        _("housing"), max_length=16, choices=Housing.choices, default="not_said"
    )
    residence_area = models.CharField(_("postcode district"), max_length=4, blank=True)
    otherwise_location = models.CharField(
        _("where they would otherwise use"),
        max_length=16,
        choices=OtherwiseLocation.choices,
        default="not_said",
    )
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Corrections are version-checked (saferoom.core.versioning).
    version = version_field()

    class Meta:
        db_table = "clients_intake"
        constraints = [
            models.CheckConstraint(
                condition=Q(years_of_use__isnull=True) | Q(years_of_use__lte=80),
                name="intake_years_of_use_plausible",
            )
        ]

    def __str__(self) -> str:
        return f"intake {self.client_id}"

    def audit_label(self) -> str:
        return f"intake of {self.client.display_code}"


class Ban(models.Model):
    """An exclusion from one site (or every site of the network when ``site`` is empty)."""

    class Reason(models.TextChoices):
        VIOLENCE = "violence", _("Violence or threats")
        DEALING = "dealing", _("Dealing or sharing on the premises")
        RULES = "rules", _("Repeatedly breaking house rules")
        DAMAGE = "damage", _("Damage to the premises")
        OTHER = "other", _("Other")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="bans")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    # The free text about a ban or a merge is encrypted at rest (SealedTextField).
    note = SealedTextField(
        _("note (no names)"),
        max_length=200,
        blank=True,
        help_text=_("What happened, in a few words. Never write names, including staff names."),
    )
    starts_at = models.DateTimeField(_("starts"))
    expires_at = models.DateTimeField(_("ends"), null=True, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lift_reason = SealedTextField(max_length=200, blank=True)

    class Meta:
        db_table = "clients_ban"
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("starts_at")),
                name="ban_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True, lifted_by__isnull=True)
                | Q(lifted_at__isnull=False, lifted_by__isnull=False),
                name="ban_lifted_pair",
            ),
            # Lifting a ban always says why.
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | ~Q(lift_reason=""),
                name="ban_lift_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"ban {self.pk}"

    def audit_label(self) -> str:
        return f"ban of {self.client.display_code}"

    @property
    def network_wide(self) -> bool:
        return self.site_id is None

    def is_lifted(self, at: datetime) -> bool:
        return self.lifted_at is not None and self.lifted_at <= at

    def is_active(self, at: datetime) -> bool:
        if self.lifted_at is not None and self.lifted_at <= at:
            return False
        return self.starts_at <= at and (self.expires_at is None or at < self.expires_at)


def active_bans_q(at: datetime) -> Q:
    """Bans in force at ``at``: started, not expired, not lifted. Expired bans simply lapse."""
    return (
        Q(starts_at__lte=at)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        & (Q(lifted_at__isnull=True) | Q(lifted_at__gt=at))
    )


class ClientMerge(models.Model):
    """A manager's decision that two codes are one person. The merged code keeps finding the
    client; which visits and bans moved is kept so the merge can be understood later."""

    kept = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="merges_kept")
    merged = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="merges_merged")
    reason = SealedTextField(_("why these are the same person"), max_length=200)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    merged_at = models.DateTimeField()
    moved_visit_ids = models.JSONField(default=list)
    moved_ban_ids = models.JSONField(default=list)

    class Meta:
        db_table = "clients_clientmerge"
        ordering = ["-merged_at"]
        constraints = [
            models.UniqueConstraint(fields=["merged"], name="client_merged_once"),
            models.CheckConstraint(condition=~Q(kept=F("merged")), name="merge_not_into_self"),
        ]

    def __str__(self) -> str:
        return f"merge {self.merged_id} → {self.kept_id}"

    def audit_label(self) -> str:
        return f"{self.merged.display_code} → {self.kept.display_code}"
