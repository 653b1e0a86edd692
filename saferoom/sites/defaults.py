"""The catalogues a new network starts with (domain.md §1.8, indicators.md U6 and E2).
Managers edit them afterwards; these are only a sensible beginning."""

from __future__ import annotations

from django.utils.translation import gettext_noop as N_

from saferoom.sites.models import CatalogueItem, Network

# (kind, code, label, reporting group)
DEFAULT_CATALOGUE: list[tuple[str, str, str, str]] = [
    ("substance", "heroin", N_("Heroin"), "opioid"),
    ("substance", "crack", N_("Crack cocaine"), "stimulant"),
    ("substance", "cocaine", N_("Powder cocaine"), "stimulant"),
    ("substance", "speedball", N_("Speedball (heroin and cocaine)"), "opioid_stimulant"),
    ("substance", "methamphetamine", N_("Methamphetamine"), "stimulant"),
    ("substance", "fentanyl", N_("Fentanyl"), "opioid"),
    ("substance", "other_opioid", N_("Other opioids"), "opioid"),
    ("substance", "benzodiazepine", N_("Benzodiazepines"), "sedative"),
    ("substance", "ketamine", N_("Ketamine"), "other"),
    ("substance", "other", N_("Other"), "other"),
    ("supply", "injecting_kit", N_("Injecting kit"), "injecting"),
    ("supply", "syringe_1ml", N_("Syringe and needle, 1 ml"), "injecting"),
    ("supply", "syringe_2ml", N_("Syringe, 2 ml"), "injecting"),
    ("supply", "syringe_5ml", N_("Syringe, 5 ml"), "injecting"),
    # Needles by gauge, in the colours on the packet (UK needle and syringe programmes).
    ("supply", "needle_25g", N_("Needle, orange 25G"), "injecting"),
    ("supply", "needle_23g", N_("Needle, blue 23G"), "injecting"),
    ("supply", "needle_21g", N_("Needle, green 21G"), "injecting"),
    ("supply", "filter", N_("Filter"), "injecting"),
    ("supply", "cooker", N_("Cooker"), "injecting"),
    ("supply", "water", N_("Sterile water"), "injecting"),
    ("supply", "swab", N_("Alcohol swab"), "injecting"),
    ("supply", "tourniquet", N_("Tourniquet"), "injecting"),
    ("supply", "foil", N_("Foil"), "smoking"),
    ("supply", "pipe", N_("Pipe"), "smoking"),
    ("supply", "naloxone_nasal", N_("Naloxone kit, nasal"), "naloxone"),
    ("supply", "naloxone_im", N_("Naloxone kit, intramuscular"), "naloxone"),
    ("supply", "sharps_bin", N_("Sharps bin"), "other"),
    ("supply", "condoms", N_("Condoms"), "other"),
    ("service", "wound_care", N_("Wound care"), "health"),
    ("service", "bbv_test", N_("Blood-borne virus test"), "health"),
    ("service", "sexual_health", N_("Sexual health"), "health"),
    ("service", "shower", N_("Shower"), "welfare"),
    ("service", "laundry", N_("Laundry"), "welfare"),
    ("service", "clothing", N_("Clothing"), "welfare"),
    ("service", "food", N_("Food"), "welfare"),
    ("service", "counselling", N_("Counselling"), "health"),
    ("service", "naloxone_training", N_("Naloxone training"), "health"),
    ("referral_target", "housing_options", N_("Housing options team"), "housing"),
    ("referral_target", "drug_treatment", N_("Drug treatment service (OST)"), "drug_treatment"),
    ("referral_target", "detox", N_("Detox or rehab"), "detox_rehab"),
    ("referral_target", "bbv_team", N_("Blood-borne virus team"), "bbv"),
    ("referral_target", "sexual_health", N_("Sexual health clinic"), "sexual_health"),
    ("referral_target", "mental_health", N_("Mental health team"), "mental_health"),
    ("referral_target", "gp", N_("GP or primary care"), "primary_care"),
    ("referral_target", "welfare_rights", N_("Welfare rights / benefits"), "benefits"),
    ("referral_target", "legal_advice", N_("Legal advice"), "legal"),
    ("turnaway_reason", "full", N_("No space free / closing soon"), "capacity"),
    ("turnaway_reason", "under_age", N_("Under the minimum age"), "not_eligible"),
    ("turnaway_reason", "first_time", N_("First-time or occasional user"), "not_eligible"),
    ("turnaway_reason", "pregnant", N_("Pregnant"), "not_eligible"),
    ("turnaway_reason", "not_resident", N_("Not a resident of the area"), "not_eligible"),
    ("turnaway_reason", "banned", N_("Banned"), "banned"),
    ("turnaway_reason", "intoxicated", N_("Visibly intoxicated"), "intoxicated"),
    ("turnaway_reason", "refused_rules", N_("Would not agree to the house rules"), "other"),
    ("turnaway_reason", "other", N_("Other"), "other"),
]


def seed_catalogue(network: Network) -> int:
    """Add the default entries a network lacks; returns how many were added."""
    existing = set(
        CatalogueItem.objects.filter(network=network, site__isnull=True).values_list("kind", "code")
    )
    new = [
        CatalogueItem(
            network=network, kind=kind, code=code, label=label, category=group, sort_order=i
        )
        for i, (kind, code, label, group) in enumerate(DEFAULT_CATALOGUE)
        if (kind, code) not in existing
    ]
    CatalogueItem.objects.bulk_create(new)
    return len(new)
