"""Named demand profiles for the simulator, drawn from published figures (domain.md §1, §2.2,
§5, §6). A profile says how many people come and what they use; the site's own spaces and
opening hours (engine.SiteSpec) say when and where. Every parameter can be overridden."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Arrivals by local hour of day, relative: quiet mornings, busiest late afternoon and evening.
EVENING_PEAK: tuple[float, ...] = (
    # 00    01    02    03    04    05    06    07    08    09    10    11
    0.9, 0.8, 0.7, 0.5, 0.4, 0.4, 0.4, 0.5, 0.6, 0.6, 0.7, 0.8,
    # 12    13    14    15    16    17    18    19    20    21    22    23
    0.9, 1.0, 1.0, 1.1, 1.3, 1.4, 1.45, 1.4, 1.25, 1.1, 1.0, 0.95,
)  # fmt: skip

# Monday … Sunday, relative: Friday to Sunday are the busiest days.
BUSIER_WEEKENDS: tuple[float, ...] = (0.9, 0.9, 0.95, 1.0, 1.1, 1.2, 1.15)

OTHERWISE_LOCATION: dict[str, float] = {
    "street": 32,
    "park": 8,
    "stairwell": 8,
    "car": 4,
    "public_toilet": 10,
    "shelter": 8,
    "own_home": 12,
    "friends_home": 6,
    "would_not_use": 2,
    "not_said": 10,
}

WOULD_USE_ALONE: dict[str, float] = {"yes": 45, "no": 35, "not_said": 20}

GLASGOW_AREAS = ("G1", "G2", "G3", "G4", "G5", "G11", "G20", "G21", "G31", "G40", "G42", "G51")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # Mean arrivals at the desk per open day (everyone: admitted, turned away, left the queue).
    visits_per_day: float
    # Share of consumption episodes by route (inject, smoke, snort, oral); only routes the site
    # permits and has places for are used.
    route_mix: Mapping[str, float]
    # For each route, the substances planned (codes of the default catalogue) and their weights.
    substances: Mapping[str, Mapping[str, float]]
    second_substance_share: float = 0.12
    weekday_factors: tuple[float, ...] = BUSIER_WEEKENDS
    hour_weights: tuple[float, ...] = EVENING_PEAK
    # Quieter first weeks of a newly opened site (0: at full volume from the first day).
    ramp_up_days: int = 0
    # People: a share of newcomers become regulars (visits per open day in regular_rate);
    # the rest come occasionally, with a heavy-tailed rate scaled by occasional_rate.
    regular_share: float = 0.2
    regular_rate: tuple[float, float] = (0.6, 1.2)
    occasional_rate: float = 0.05
    # Each day a person may stop coming (mean engagement 1 / churn_per_day days).
    churn_per_day: float = 1 / 150
    # Share of arrivals by people new to the site, at least / at most.
    new_client_min_share: float = 0.03
    new_client_max_share: float = 0.9
    gender_mix: Mapping[str, float] = field(
        default_factory=lambda: {"male": 74, "female": 24, "other": 2}
    )
    residence_areas: tuple[str, ...] = GLASGOW_AREAS
    # Where a mobile unit stands, in turn, one place a day.
    stops: tuple[str, ...] = ("Market Street", "Central Station car park", "Riverside Park gate")
    # Where the site allows anonymous visits, this share of arrivals gives no code.
    anonymous_share: float = 0.06
    session_minutes: tuple[float, float] = (15, 25)
    aftercare_minutes: tuple[float, float] = (10, 30)
    # How long someone waits in the queue before giving up.
    patience_minutes: tuple[float, float] = (10, 45)
    # No admission in the last minutes before closing: turned away for capacity.
    last_admission_minutes: int = 30
    # Overdoses and other medical emergencies per 1,000 consumption episodes (8–14 published).
    emergency_per_1000: float = 11.0
    ambulance_share: float = 0.2
    # New people who fail the first-visit screen (first-time user, under age, …).
    ineligible_new_share: float = 0.05
    intoxicated_share: float = 0.012
    ban_per_1000: float = 1.2
    ban_days: tuple[int, int] = (3, 28)
    # A banned person who still turns up at the door (and is turned away).
    banned_still_come: float = 0.3
    # Visits that end without a check-out (closed at closing time).
    no_checkout_share: float = 0.03
    otherwise_location: Mapping[str, float] = field(default_factory=lambda: OTHERWISE_LOCATION)
    would_use_alone: Mapping[str, float] = field(default_factory=lambda: WOULD_USE_ALONE)

    def override(self, **changes: Any) -> Profile:
        """A copy with some parameters changed; unknown names are refused."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown profile parameter: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def override_from_text(self, assignments: list[str]) -> Profile:
        """Overrides given as ``name=value`` text (the command line): numbers, and pairs of
        numbers written ``15,25``."""
        converters: dict[str, type] = {"int": int, "float": float}
        changes: dict[str, Any] = {}
        fields = {f.name: str(f.type) for f in dataclasses.fields(self)}
        for assignment in assignments:
            name, sep, text = assignment.partition("=")
            name = name.strip()
            if not sep or name not in fields:
                raise ValueError(f"Unknown profile parameter: {name or assignment}")
            annotation = fields[name]
            try:
                if annotation in converters:
                    changes[name] = converters[annotation](text)
                elif annotation.startswith("tuple[") and annotation.count(",") == 1:
                    convert = converters[annotation[6:].split(",")[0].strip()]
                    parts = text.split(",")
                    if len(parts) != 2:
                        raise ValueError
                    changes[name] = tuple(convert(p) for p in parts)
                else:
                    raise ValueError
            except (KeyError, ValueError):
                raise ValueError(f"{name} cannot be set to {text!r}") from None
        return self.override(**changes)


INJECTION_MOSTLY_COCAINE = {"cocaine": 62, "heroin": 22, "speedball": 12, "other": 4}

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in [
        Profile(
            name="glasgow",
            description=(
                "Injection only, about 30 visits a day, 09:00–21:00 every day (as the Thistle, "
                "Glasgow: mostly cocaine, then heroin and speedball)."
            ),
            visits_per_day=30,
            route_mix={"inject": 1.0},
            substances={"inject": INJECTION_MOSTLY_COCAINE},
        ),
        Profile(
            name="nrw",
            description=(
                "A mixed room as in North Rhine-Westphalia: about 120 visits a day, more than "
                "half of them inhalation (crack and heroin on foil)."
            ),
            visits_per_day=120,
            route_mix={"smoke": 0.56, "inject": 0.40, "snort": 0.03, "oral": 0.01},
            substances={
                "smoke": {"crack": 55, "heroin": 38, "methamphetamine": 4, "other": 3},
                "inject": {"heroin": 55, "speedball": 20, "cocaine": 18, "other_opioid": 7},
                "snort": {"cocaine": 70, "heroin": 20, "ketamine": 10},
                "oral": {"benzodiazepine": 60, "other_opioid": 30, "other": 10},
            },
            residence_areas=("D1", "D2", "D4", "K1", "K5", "E1", "E2", "DO1"),
        ),
        Profile(
            name="frankfurt",
            description=(
                "A large Frankfurt room (Niddastraße): about 250 visits a day, 78% injection "
                "and 22% inhalation."
            ),
            visits_per_day=250,
            route_mix={"inject": 0.78, "smoke": 0.22},
            substances={
                "inject": {"heroin": 50, "cocaine": 18, "crack": 12, "speedball": 15, "other": 5},
                "smoke": {"crack": 75, "heroin": 25},
            },
            residence_areas=("F1", "F2", "F3", "OF1"),
        ),
        Profile(
            name="mobile",
            description=(
                "A mobile unit with 2–3 places at afternoon stops, about 12 visits on each of "
                "its 4 days a week."
            ),
            visits_per_day=12,
            route_mix={"inject": 0.75, "smoke": 0.25},
            substances={
                "inject": INJECTION_MOSTLY_COCAINE,
                "smoke": {"crack": 60, "heroin": 40},
            },
            regular_share=0.25,
            regular_rate=(0.4, 0.9),
            patience_minutes=(10, 30),
            last_admission_minutes=20,
        ),
    ]
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"Unknown profile {name!r}. Profiles: {', '.join(sorted(PROFILES))}."
        ) from None
