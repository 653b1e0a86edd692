"""Capacity planning: a discrete-event simulation of a site's queue for spaces.

How big must a site be, and when should it open? People arrive by hour of week (a
non-homogeneous Poisson process from a 168-value :class:`ArrivalProfile`), each with a route
(inject, smoke, snort, oral). Injecting, snorting and oral use take an injection booth; smoking
takes a seat in an inhalation room. Each space serves one person at a time for their time in
space (lognormal by default, exponential for the Erlang-C check), then is out of use for its
clear-down (cleaning; ventilation for inhalation rooms) before the next person. People wait in
one first-come-first-served queue per kind of space; each waits at most their patience
(exponential, mean ``patience_minutes``) and then leaves unserved. Nobody arrives while the site
is closed, and those still waiting when it closes leave unserved (those in a space finish).

Outputs (:class:`PlanResult`): median and p95 wait, share who leave unserved, occupancy by hour
of day and waits by hour of day, overall and for each kind of space; :func:`smallest_booths` and
:func:`smallest_rooms` find the smallest number keeping the p95 wait at or under a target.

Definitions, so that the numbers can be quoted:

* *wait* = minutes from arrival to entering a space; for someone who leaves unserved, the
  minutes they waited before leaving. Medians and p95s are over **everyone who arrived**.
* *occupancy* = share of spaces (booths and inhalation seats) in use by a client or being
  cleared down, averaged over the open hours of that hour of day in the simulated period.
* Each inhalation seat clears down on its own (a simplification of whole-room ventilation).

The simulation is exact for this model, without a clock-driven event loop: with one FCFS queue
per kind of space, each person in arrival order takes the space that frees up first (a heap of
the times each space is next free), so a person's start is ``max(arrival, earliest free)``; a
person whose start would come after they give up or after closing leaves without holding a
space. All random numbers are drawn up front in a fixed order that does not depend on the number
of spaces, so the same seed gives the same people, times in space and patience in every plan
(common random numbers): comparisons between plans are fair.

Pure Python + NumPy: imports nothing from Django (``site_data.py`` is the Django adapter).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from saferoom.evaluation import erlang

ROUTES = ("inject", "smoke", "snort", "oral")
BOOTH_ROUTES = ("inject", "snort", "oral")
ROOM_ROUTES = ("smoke",)
SPACE_KINDS = ("booth", "inhalation")

HOURS_PER_WEEK = 168
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Mean minutes in a space by route (domain.md §1.5: about 20 minutes in an injection booth at
# Insite, 15–20 at MSIR; snorting and oral use are quicker; smoking sessions are taken as the
# same as injecting for want of published figures).
DEFAULT_SERVICE_MINUTES: dict[str, float] = {
    "inject": 20.0,
    "smoke": 20.0,
    "snort": 10.0,
    "oral": 10.0,
}
# Minutes a space is out of use between clients: cleaning a booth; ventilating an inhalation
# room (domain.md §1.9: staff wait until the room clears).
DEFAULT_CLEAR_DOWN_MINUTES: dict[str, float] = {"booth": 3.0, "inhalation": 10.0}
# Coefficient of variation (sd / mean) of the lognormal time in space.
DEFAULT_SERVICE_CV = 0.5
DISTRIBUTIONS = ("lognormal", "exponential")

# A guard on memory and time: ten years of a 1,000-a-day site.
MAX_ARRIVALS = 4_000_000

PROFILES_DIR = Path(__file__).with_name("profiles")

__all__ = [
    "BOOTH_ROUTES",
    "DEFAULT_CLEAR_DOWN_MINUTES",
    "DEFAULT_SERVICE_MINUTES",
    "ROOM_ROUTES",
    "ROUTES",
    "ArrivalProfile",
    "CheckRow",
    "ErlangCheck",
    "PlanInput",
    "PlanResult",
    "SpaceResult",
    "describe_open_hours",
    "erlang_check",
    "load_profile",
    "open_hours_from_periods",
    "parse_open_hours",
    "profile_names",
    "simulate",
    "smallest_booths",
    "smallest_rooms",
]


# --- Arrival profiles --------------------------------------------------------------------------


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, not {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, not {value!r}.")
    return number


def _rates(value: Any) -> tuple[float, ...]:
    """168 non-negative numbers, given flat or as 7 lists of 24 (Monday first)."""
    if not isinstance(value, list | tuple):
        raise ValueError(
            "rate_per_hour must be a list of 168 numbers (or 7 lists of 24), Monday 00:00 first."
        )
    if len(value) == 7 and all(isinstance(day, list | tuple) for day in value):
        flat: list[Any] = []
        for d, day in enumerate(value):
            if len(day) != 24:
                raise ValueError(
                    f"rate_per_hour for {DAY_NAMES[d]} has {len(day)} values; it needs 24."
                )
            flat.extend(day)
        value = flat
    if len(value) != HOURS_PER_WEEK:
        raise ValueError(
            f"rate_per_hour has {len(value)} values; it needs 168 (24 for each day, Monday first)."
        )
    rates = []
    for i, item in enumerate(value):
        where = f"rate_per_hour for {DAY_NAMES[i // 24]} {i % 24:02d}:00"
        number = _number(item, where)
        if number < 0:
            raise ValueError(f"{where} is {item}; arrivals cannot be negative.")
        rates.append(number)
    return tuple(rates)


def _route_mix(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            "route_mix must map routes (inject, smoke, snort, oral) to shares summing to 1."
        )
    mix = dict.fromkeys(ROUTES, 0.0)
    for route, share in value.items():
        if route not in ROUTES:
            raise ValueError(
                f"route_mix has an unknown route {route!r}; use inject, smoke, snort or oral."
            )
        number = _number(share, f"route_mix share for {route}")
        if not 0 <= number <= 1:
            raise ValueError(f"route_mix share for {route} is {share}; it must be between 0 and 1.")
        mix[route] = number
    total = sum(mix.values())
    if abs(total - 1) > 1e-3:
        raise ValueError(f"route_mix shares add up to {total:g}; they must add up to 1.")
    return {route: share / total for route, share in mix.items()}


@dataclass(frozen=True)
class ArrivalProfile:
    """Expected arrivals by hour of week (site local time) and the share of each route.

    File format (JSON; see ``profiles/README.md``)::

        {"name": "busy-urban-500", "title": "...", "description": "...", "source": "...",
         "route_mix": {"inject": 0.45, "smoke": 0.45, "snort": 0.05, "oral": 0.05},
         "rate_per_hour": [[24 numbers for Monday], ..., [24 for Sunday]]}

    ``rate_per_hour`` may also be one flat list of 168 numbers, Monday 00:00–01:00 first.
    """

    name: str
    rate_per_hour: tuple[float, ...]
    route_mix: dict[str, float]
    title: str = ""
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("The profile needs a name.")
        object.__setattr__(self, "rate_per_hour", _rates(self.rate_per_hour))
        object.__setattr__(self, "route_mix", _route_mix(self.route_mix))

    @property
    def arrivals_per_week(self) -> float:
        return float(sum(self.rate_per_hour))

    @property
    def arrivals_per_day(self) -> float:
        return self.arrivals_per_week / 7

    def active_hours(self) -> tuple[bool, ...]:
        """168 flags: True where anyone is expected to arrive (a default for opening hours)."""
        return tuple(rate > 0 for rate in self.rate_per_hour)

    def rate_by_hour_of_day(self) -> tuple[float, ...]:
        """Mean arrivals in each hour of the day, averaged over the week (24 values)."""
        week = np.asarray(self.rate_per_hour).reshape(7, 24)
        return tuple(float(x) for x in week.mean(axis=0))

    @classmethod
    def from_dict(cls, data: Any) -> ArrivalProfile:
        if not isinstance(data, Mapping):
            raise ValueError("An arrival profile must be a JSON object.")
        for key in ("name", "rate_per_hour", "route_mix"):
            if key not in data:
                raise ValueError(f"The profile has no {key!r}.")
        unknown = set(data) - {
            "name",
            "title",
            "description",
            "source",
            "rate_per_hour",
            "route_mix",
        }
        if unknown:
            raise ValueError(f"The profile has unknown fields: {', '.join(sorted(unknown))}.")
        texts = {}
        for key in ("name", "title", "description", "source"):
            value = data.get(key, "")
            if not isinstance(value, str):
                raise ValueError(f"The profile's {key} must be text.")
            texts[key] = value
        return cls(
            name=texts["name"],
            title=texts["title"],
            description=texts["description"],
            source=texts["source"],
            rate_per_hour=data["rate_per_hour"],
            route_mix=data["route_mix"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "source": self.source,
            "route_mix": dict(self.route_mix),
            "rate_per_hour": list(self.rate_per_hour),
        }

    @classmethod
    def from_file(cls, path: str | Path) -> ArrivalProfile:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"No profile file at {path}.") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"Cannot read the profile file {path}: {error}.") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"The profile file {path.name} is not valid JSON "
                f"(line {error.lineno}: {error.msg})."
            ) from None
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise ValueError(f"{path.name}: {error}") from None

    @classmethod
    def flat(
        cls, name: str, arrivals_per_hour: float, route_mix: Mapping[str, float]
    ) -> ArrivalProfile:
        """The same rate every hour of the week (the Erlang-C check uses it)."""
        return cls(
            name=name,
            rate_per_hour=(arrivals_per_hour,) * HOURS_PER_WEEK,
            route_mix=dict(route_mix),
        )


def profile_names() -> list[str]:
    """The profiles shipped with saferoom (``profiles/*.json``), by name."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def load_profile(name_or_path: str | Path) -> ArrivalProfile:
    """A shipped profile by name (``busy-urban-500``) or a JSON file by path."""
    text = str(name_or_path)
    if text in profile_names():
        return ArrivalProfile.from_file(PROFILES_DIR / f"{text}.json")
    path = Path(text)
    if path.suffix == ".json" or path.exists():
        return ArrivalProfile.from_file(path)
    raise ValueError(
        f"No profile named {text!r}. "
        f"Use one of {', '.join(profile_names())} or a path to a JSON file."
    )


# --- Opening hours -----------------------------------------------------------------------------

ALWAYS_OPEN: tuple[bool, ...] = (True,) * HOURS_PER_WEEK


def open_hours_from_periods(periods: Iterable[tuple[int, int, int]]) -> tuple[bool, ...]:
    """168 flags from opening periods ``(weekday, opens_minute, closes_minute)`` (Monday = 0,
    minutes after that day's midnight; ``closes <= opens`` means after midnight). An hour of
    the week counts as open when the site is open for at least half of it."""
    minutes = np.zeros(HOURS_PER_WEEK * 60, dtype=bool)
    for weekday, opens, closes in periods:
        if closes <= opens:
            closes += 24 * 60
        start = weekday * 24 * 60 + opens
        index = np.arange(start, start + (closes - opens)) % minutes.size
        minutes[index] = True
    per_hour = minutes.reshape(HOURS_PER_WEEK, 60).sum(axis=1)
    return tuple(bool(m >= 30) for m in per_hour)


_DAY_WORDS = {
    **{name.lower(): i for i, name in enumerate(DAY_NAMES)},
    **{
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_PERIOD = re.compile(
    r"^\s*([A-Za-z]+)(?:\s*-\s*([A-Za-z]+))?\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$"
)


def parse_open_hours(text: str) -> tuple[bool, ...]:
    """Opening hours written as ``"Mon-Sun 10:00-22:00"``; several periods separated by ``;``
    or ``,`` (``"Mon-Fri 09:00-21:00; Sat-Sun 12:00-03:00"``: a closing time earlier than the
    opening means after midnight); ``"24/7"`` for always open. ValueError with a clear message
    for anything else."""
    cleaned = text.strip().lower()
    if cleaned in ("24/7", "always", "all"):
        return ALWAYS_OPEN
    periods: list[tuple[int, int, int]] = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        match = _PERIOD.match(part)
        if not match:
            raise ValueError(
                f"Cannot read opening hours {part.strip()!r}; write them like "
                "'Mon-Sun 10:00-22:00' or 'Mon-Fri 09:00-21:00; Sat 12:00-18:00'."
            )
        first, last, oh, om, ch, cm = match.groups()
        days = []
        for word in (first, last or first):
            if word.lower() not in _DAY_WORDS:
                raise ValueError(f"{word!r} is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun.")
            days.append(_DAY_WORDS[word.lower()])
        opens, closes = int(oh) * 60 + int(om), int(ch) * 60 + int(cm)
        for hour, minute in ((int(oh), int(om)), (int(ch), int(cm))):
            if minute > 59 or hour > 24 or (hour == 24 and minute):
                raise ValueError(f"{hour:02d}:{minute:02d} is not a time of day.")
        if opens >= 24 * 60:
            raise ValueError("A site cannot open at 24:00; use 00:00.")
        if opens == closes:
            raise ValueError(
                f"{part.strip()!r} opens and closes at the same time; for all day use 00:00-24:00."
            )
        day = days[0]
        while True:
            periods.append((day, opens, closes))
            if day == days[1]:
                break
            day = (day + 1) % 7
    if not periods:
        raise ValueError("No opening hours given; write them like 'Mon-Sun 10:00-22:00'.")
    return open_hours_from_periods(periods)


def _day_ranges(flags: tuple[bool, ...]) -> str:
    ranges = []
    hour = 0
    while hour < 24:
        if flags[hour]:
            end = hour
            while end < 24 and flags[end]:
                end += 1
            ranges.append(f"{hour:02d}:00–{end:02d}:00")
            hour = end
        else:
            hour += 1
    return ", ".join(ranges) if ranges else "closed"


def describe_open_hours(flags: tuple[bool, ...]) -> str:
    """Short words for 168 flags: ``"every day 10:00–22:00"``, ``"always open"``, or day by
    day (``"Mon 09:00–21:00; …"``). Hours are calendar-day ranges."""
    if all(flags):
        return "always open"
    days = [_day_ranges(tuple(flags[d * 24 : d * 24 + 24])) for d in range(7)]
    if len(set(days)) == 1:
        return f"every day {days[0]}"
    return "; ".join(f"{DAY_NAMES[d]} {text}" for d, text in enumerate(days))


# --- Plans and results -------------------------------------------------------------------------


def _whole(value: Any, what: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{what} must be a whole number, not {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        limit = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{what} must be {limit}; it is {value}.")
    return int(value)


@dataclass(frozen=True)
class PlanInput:
    """One plan to simulate. Partial ``service_minutes`` / ``clear_down_minutes`` are filled in
    from the defaults; everything is validated on construction (ValueError, clear message)."""

    profile: ArrivalProfile
    booths: int
    inhalation_rooms: int
    seats_per_room: int = 1
    open_hours: tuple[bool, ...] = ALWAYS_OPEN
    service_minutes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SERVICE_MINUTES))
    service_distribution: str = "lognormal"
    clear_down_minutes: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CLEAR_DOWN_MINUTES)
    )
    patience_minutes: float = 30.0
    days: int = 28
    seed: int = 1
    service_cv: float = DEFAULT_SERVICE_CV

    def __post_init__(self) -> None:
        if not isinstance(self.profile, ArrivalProfile):
            raise ValueError("The plan needs an arrival profile.")
        _whole(self.booths, "The number of booths", minimum=0, maximum=1000)
        _whole(self.inhalation_rooms, "The number of inhalation rooms", minimum=0, maximum=1000)
        _whole(self.seats_per_room, "Seats per inhalation room", minimum=1, maximum=50)
        _whole(self.days, "The number of days", minimum=1, maximum=3660)
        _whole(self.seed, "The seed", minimum=0)
        flags = tuple(self.open_hours)
        if len(flags) != HOURS_PER_WEEK or not all(isinstance(f, bool | np.bool_) for f in flags):
            raise ValueError("Opening hours must be 168 true/false flags, Monday 00:00 first.")
        object.__setattr__(self, "open_hours", tuple(bool(f) for f in flags))
        service = dict(DEFAULT_SERVICE_MINUTES)
        for route, minutes in dict(self.service_minutes).items():
            if route not in ROUTES:
                raise ValueError(f"Time in space is given for an unknown route {route!r}.")
            number = _number(minutes, f"Time in space for {route}")
            if number <= 0:
                raise ValueError(f"Time in space for {route} must be more than 0 minutes.")
            service[route] = number
        object.__setattr__(self, "service_minutes", service)
        if self.service_distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"Time in space is drawn from 'lognormal' or 'exponential', "
                f"not {self.service_distribution!r}."
            )
        clear = dict(DEFAULT_CLEAR_DOWN_MINUTES)
        for kind, minutes in dict(self.clear_down_minutes).items():
            if kind not in SPACE_KINDS:
                raise ValueError(f"Clear-down is given for an unknown kind of space {kind!r}.")
            number = _number(minutes, f"Clear-down for {kind}")
            if number < 0:
                raise ValueError(f"Clear-down for {kind} cannot be negative.")
            clear[kind] = number
        object.__setattr__(self, "clear_down_minutes", clear)
        patience = (
            _number(self.patience_minutes, "Patience")
            if self.patience_minutes != math.inf
            else math.inf
        )
        if patience <= 0:
            raise ValueError("Patience must be more than 0 minutes (or infinite).")
        expected = self.profile.arrivals_per_week * self.days / 7
        if expected > MAX_ARRIVALS:
            raise ValueError(
                f"About {expected:,.0f} arrivals is too many to simulate at once "
                f"(at most {MAX_ARRIVALS:,}); simulate fewer days."
            )
        cv = _number(self.service_cv, "The spread of time in space")
        if not 0 < cv <= 5:
            raise ValueError(
                "The spread (coefficient of variation) of time in space must be in (0, 5]."
            )

    def replace(self, **changes: Any) -> PlanInput:
        """A copy with some fields changed (validated again)."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return PlanInput(**values)

    @property
    def spaces(self) -> int:
        return self.booths + self.inhalation_rooms * self.seats_per_room


@dataclass(frozen=True)
class SpaceResult:
    """The queue for one kind of space."""

    kind: str  # "booth" | "inhalation"
    spaces: int  # booths, or inhalation seats (rooms × seats)
    arrivals: int
    served: int
    median_wait_minutes: float
    p95_wait_minutes: float
    mean_wait_minutes: float
    share_waited: float  # share of arrivals who waited at all (> 0 minutes)
    share_unserved: float
    occupancy_by_hour: tuple[float, ...]  # 24
    median_wait_by_hour: tuple[float, ...]  # 24
    p95_wait_by_hour: tuple[float, ...]  # 24

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "spaces": self.spaces,
            "arrivals": self.arrivals,
            "served": self.served,
            "median_wait_minutes": self.median_wait_minutes,
            "p95_wait_minutes": self.p95_wait_minutes,
            "mean_wait_minutes": self.mean_wait_minutes,
            "share_waited": self.share_waited,
            "share_unserved": self.share_unserved,
            "occupancy_by_hour": list(self.occupancy_by_hour),
            "median_wait_by_hour": list(self.median_wait_by_hour),
            "p95_wait_by_hour": list(self.p95_wait_by_hour),
        }


@dataclass(frozen=True)
class PlanResult:
    """Everyone who arrived over the simulated days, both kinds of space together, plus each
    kind on its own (``booth``, ``inhalation``). Hours are hours of the day, site local time;
    an hour with nobody arriving has waits of 0 (see ``arrivals_by_hour``)."""

    arrivals: int
    served: int
    median_wait_minutes: float
    p95_wait_minutes: float
    share_unserved: float
    occupancy_by_hour: tuple[float, ...]
    p95_wait_by_hour: tuple[float, ...]
    median_wait_by_hour: tuple[float, ...]
    mean_wait_minutes: float = 0.0
    arrivals_by_hour: tuple[float, ...] = (0.0,) * 24  # mean arrivals a day in each hour
    booth: SpaceResult | None = None
    inhalation: SpaceResult | None = None
    days: int = 0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "seed": self.seed,
            "arrivals": self.arrivals,
            "served": self.served,
            "median_wait_minutes": self.median_wait_minutes,
            "p95_wait_minutes": self.p95_wait_minutes,
            "mean_wait_minutes": self.mean_wait_minutes,
            "share_unserved": self.share_unserved,
            "arrivals_by_hour": list(self.arrivals_by_hour),
            "occupancy_by_hour": list(self.occupancy_by_hour),
            "median_wait_by_hour": list(self.median_wait_by_hour),
            "p95_wait_by_hour": list(self.p95_wait_by_hour),
            "spaces": {
                kind: result.to_dict()
                for kind, result in (("booth", self.booth), ("inhalation", self.inhalation))
                if result is not None
            },
        }


# --- The simulation ----------------------------------------------------------------------------


@dataclass
class _Draws:
    """Everyone who arrives, with everything random about them (minutes from Monday 00:00)."""

    arrival: np.ndarray
    route: np.ndarray  # index into ROUTES
    service_z: np.ndarray  # standard normal (lognormal) or standard exponential
    patience: np.ndarray  # minutes
    close_at: np.ndarray  # minutes: when the site next closes after the arrival


def _draw(plan: PlanInput) -> _Draws:
    rng = np.random.default_rng(plan.seed)
    slots = plan.days * 24
    week_rates = np.asarray(plan.profile.rate_per_hour, dtype=float)
    rates = np.resize(week_rates, slots)
    # Counts are drawn for every hour, then closed hours emptied: the people arriving in an
    # open hour are the same whatever the opening hours.
    counts = rng.poisson(rates)
    offsets = rng.random(int(counts.sum()))
    route_u = rng.random(offsets.size)
    if plan.service_distribution == "exponential":
        service_z = rng.standard_exponential(offsets.size)
    else:
        service_z = rng.standard_normal(offsets.size)
    patience_e = rng.standard_exponential(offsets.size)

    open_slots = np.resize(np.asarray(plan.open_hours, dtype=bool), slots)
    slot_of = np.repeat(np.arange(slots), counts)
    keep = open_slots[slot_of]
    slot_of = slot_of[keep]
    arrival = (slot_of + offsets[keep]) * 60.0
    order = np.argsort(arrival, kind="stable")
    arrival = arrival[order]
    slot_of = slot_of[order]

    cumulative = np.cumsum([plan.profile.route_mix[r] for r in ROUTES])
    route = np.minimum(
        np.searchsorted(cumulative, route_u[keep][order], side="right"), len(ROUTES) - 1
    )

    # When the site next closes: the start of the first closed hour at or after each slot.
    extended = np.resize(np.asarray(plan.open_hours, dtype=bool), slots + HOURS_PER_WEEK)
    closed = np.flatnonzero(~extended)
    if closed.size:
        nxt = np.searchsorted(closed, np.arange(slots))
        next_closed = np.where(
            nxt < closed.size, closed[np.minimum(nxt, closed.size - 1)] * 60.0, np.inf
        )
    else:
        next_closed = np.full(slots, np.inf)
    close_at = next_closed[slot_of]

    if math.isinf(plan.patience_minutes):
        patience = np.full(arrival.size, np.inf)
    else:
        patience = patience_e[keep][order] * plan.patience_minutes
    return _Draws(
        arrival=arrival,
        route=route,
        service_z=service_z[keep][order],
        patience=patience,
        close_at=close_at,
    )


def _service_times(plan: PlanInput, routes: np.ndarray, z: np.ndarray) -> np.ndarray:
    means = np.asarray([plan.service_minutes[r] for r in ROUTES])[routes]
    if plan.service_distribution == "exponential":
        return np.asarray(z * means, dtype=float)
    sigma = math.sqrt(math.log(1 + plan.service_cv**2))
    return np.asarray(np.exp(np.log(means) - sigma * sigma / 2 + sigma * z), dtype=float)


def _queue(
    arrival: np.ndarray,
    service: np.ndarray,
    limit: np.ndarray,
    servers: int,
    clear_down: float,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One FCFS queue: (wait, served flag, busy-from, busy-until) for each person in arrival
    order; ``limit`` is when each gives up (patience or closing, whichever first)."""
    n = arrival.size
    if servers == 0:
        gave_up = np.maximum(np.minimum(limit, horizon) - arrival, 0.0)
        return gave_up, np.zeros(n, dtype=bool), np.empty(0), np.empty(0)
    free = [0.0] * servers  # a heap: when each space is next free
    wait: list[float] = []
    served: list[bool] = []
    busy_from: list[float] = []
    busy_until: list[float] = []
    wait_append, served_append = wait.append, served.append
    from_append, until_append = busy_from.append, busy_until.append
    heapreplace = heapq.heapreplace
    for a, s, lim in zip(arrival.tolist(), service.tolist(), limit.tolist(), strict=True):
        first_free = free[0]
        start = a if first_free <= a else first_free
        if start > lim:
            wait_append(lim - a)
            served_append(False)
            continue
        wait_append(start - a)
        served_append(True)
        end = start + s + clear_down
        from_append(start)
        until_append(end)
        heapreplace(free, end)
    return (
        np.asarray(wait, dtype=float),
        np.asarray(served, dtype=bool),
        np.asarray(busy_from, dtype=float),
        np.asarray(busy_until, dtype=float),
    )


def _busy_by_slot(starts: np.ndarray, ends: np.ndarray, slots: int) -> np.ndarray:
    """Minutes of space-use falling in each hour slot, from busy intervals [start, end)."""
    edges = np.arange(slots + 1) * 60.0
    if starts.size == 0:
        return np.zeros(slots)
    s = np.sort(starts)
    e = np.sort(ends)
    cs = np.concatenate(([0.0], np.cumsum(s)))
    ce = np.concatenate(([0.0], np.cumsum(e)))
    n_started = np.searchsorted(s, edges, side="left")  # intervals with start < t
    n_ended = np.searchsorted(e, edges, side="right")  # intervals with end <= t
    # Busy minutes before t: finished intervals in full, running ones up to t.
    total = ce[n_ended] + edges * (n_started - n_ended) - cs[n_started]
    return np.diff(total)


def _quantiles_by_hour(
    waits: np.ndarray, hours: np.ndarray
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    medians, p95s = [], []
    for h in range(24):
        group = waits[hours == h]
        if group.size:
            med, p95 = np.quantile(group, [0.5, 0.95])
            medians.append(float(med))
            p95s.append(float(p95))
        else:
            medians.append(0.0)
            p95s.append(0.0)
    return tuple(medians), tuple(p95s)


def _summary(waits: np.ndarray) -> tuple[float, float, float]:
    if waits.size == 0:
        return 0.0, 0.0, 0.0
    med, p95 = np.quantile(waits, [0.5, 0.95])
    return float(med), float(p95), float(waits.mean())


def _open_slot_counts(plan: PlanInput) -> np.ndarray:
    """For each hour of the day, how many of the simulated days are open then (or all days
    when none are, so that spill-over after closing still shows)."""
    open_slots = np.resize(np.asarray(plan.open_hours, dtype=bool), plan.days * 24)
    counts = open_slots.reshape(plan.days, 24).sum(axis=0).astype(float)
    return np.where(counts > 0, counts, float(plan.days))


def simulate(plan: PlanInput) -> PlanResult:
    """Run one plan; deterministic for a given seed."""
    draws = _draw(plan)
    horizon = plan.days * 24 * 60.0
    slots = plan.days * 24
    service = _service_times(plan, draws.route, draws.service_z)
    limit = np.minimum(draws.arrival + draws.patience, draws.close_at)
    hour_of_day = (draws.arrival // 60).astype(int) % 24
    open_counts = _open_slot_counts(plan)

    waits_all = np.zeros(draws.arrival.size)
    served_all = np.zeros(draws.arrival.size, dtype=bool)
    busy_all = np.zeros(24)
    results: dict[str, SpaceResult] = {}
    room_index = ROUTES.index("smoke")
    for kind, servers in (
        ("booth", plan.booths),
        ("inhalation", plan.inhalation_rooms * plan.seats_per_room),
    ):
        mask = draws.route == room_index if kind == "inhalation" else draws.route != room_index
        wait, served, busy_from, busy_until = _queue(
            draws.arrival[mask],
            service[mask],
            limit[mask],
            servers,
            plan.clear_down_minutes[kind],
            horizon,
        )
        waits_all[mask] = wait
        served_all[mask] = served
        busy = _busy_by_slot(busy_from, busy_until, slots).reshape(plan.days, 24).sum(axis=0)
        busy_all += busy
        occupancy = busy / (servers * 60.0 * open_counts) if servers else np.zeros(24)
        medians, p95s = _quantiles_by_hour(wait, hour_of_day[mask])
        med, p95, mean = _summary(wait)
        n = int(wait.size)
        results[kind] = SpaceResult(
            kind=kind,
            spaces=servers,
            arrivals=n,
            served=int(served.sum()),
            median_wait_minutes=med,
            p95_wait_minutes=p95,
            mean_wait_minutes=mean,
            share_waited=float((wait > 0).mean()) if n else 0.0,
            share_unserved=float(1 - served.mean()) if n else 0.0,
            occupancy_by_hour=tuple(float(x) for x in occupancy),
            median_wait_by_hour=medians,
            p95_wait_by_hour=p95s,
        )

    n = int(waits_all.size)
    med, p95, mean = _summary(waits_all)
    medians, p95s = _quantiles_by_hour(waits_all, hour_of_day)
    spaces = plan.spaces
    occupancy = busy_all / (spaces * 60.0 * open_counts) if spaces else np.zeros(24)
    arrivals_by_hour = np.bincount(hour_of_day, minlength=24) / plan.days
    return PlanResult(
        arrivals=n,
        served=int(served_all.sum()),
        median_wait_minutes=med,
        p95_wait_minutes=p95,
        mean_wait_minutes=mean,
        share_unserved=float(1 - served_all.mean()) if n else 0.0,
        occupancy_by_hour=tuple(float(x) for x in occupancy),
        p95_wait_by_hour=p95s,
        median_wait_by_hour=medians,
        arrivals_by_hour=tuple(float(x) for x in arrivals_by_hour),
        booth=results["booth"],
        inhalation=results["inhalation"],
        days=plan.days,
        seed=plan.seed,
    )


# --- Sizing ------------------------------------------------------------------------------------


def _smallest(
    plan: PlanInput, kind: str, target: float, maximum: int
) -> tuple[int, PlanResult] | None:
    target = _number(target, "The target p95 wait")
    if target < 0:
        raise ValueError("The target p95 wait cannot be negative.")
    _whole(maximum, "The largest number to try", minimum=0)
    field_name = "booths" if kind == "booth" else "inhalation_rooms"
    cache: dict[int, PlanResult] = {}

    def run(n: int) -> PlanResult:
        if n not in cache:
            cache[n] = simulate(plan.replace(**{field_name: n}))
        return cache[n]

    def meets(n: int) -> bool:
        space: SpaceResult = getattr(run(n), kind)
        return space.arrivals == 0 or space.p95_wait_minutes <= target

    if not meets(maximum):
        return None
    low, high = 0, maximum  # meets(high) holds; find the smallest n that meets
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return high, run(high)


def smallest_booths(
    plan: PlanInput, *, target_p95_minutes: float, maximum: int = 80
) -> tuple[int, PlanResult] | None:
    """The smallest number of booths (0..maximum) keeping the booth queue's p95 wait at or under
    the target, with everything else as in ``plan`` (same seed: same people). None when even
    ``maximum`` does not. Binary search: p95 falls as booths are added."""
    return _smallest(plan, "booth", target_p95_minutes, maximum)


def smallest_rooms(
    plan: PlanInput, *, target_p95_minutes: float, maximum: int = 40
) -> tuple[int, PlanResult] | None:
    """The same for inhalation rooms (of ``plan.seats_per_room`` seats each)."""
    return _smallest(plan, "inhalation", target_p95_minutes, maximum)


# --- The Erlang-C check ------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRow:
    space: str  # "booth" | "inhalation"
    measure: str  # "P(wait)" | "mean wait (min)" | "p95 wait (min)"
    simulated: float
    formula: float
    tolerance: float

    @property
    def difference(self) -> float:
        return self.simulated - self.formula

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "measure": self.measure,
            "simulated": self.simulated,
            "formula": self.formula,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ErlangCheck:
    """The simulation against Erlang-C for each kind of space with spaces and arrivals."""

    days: int
    seed: int
    arrivals_per_hour: dict[str, float]
    service_minutes: dict[str, float]
    spaces: dict[str, int]
    rows: tuple[CheckRow, ...]

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "seed": self.seed,
            "arrivals_per_hour": self.arrivals_per_hour,
            "service_minutes": self.service_minutes,
            "spaces": self.spaces,
            "rows": [row.to_dict() for row in self.rows],
            "ok": self.ok,
        }


# How far the simulation may stray from the formula: sampling noise over a year at 90% load
# is about 5% of the mean wait; a bug (a wrong clock, a lost server) is far larger.
RELATIVE_TOLERANCE = 0.10
ABSOLUTE_TOLERANCE_MINUTES = 0.25


def _tolerance(value: float) -> float:
    return max(RELATIVE_TOLERANCE * value, ABSOLUTE_TOLERANCE_MINUTES)


def erlang_check(plan: PlanInput, *, days: int = 365) -> ErlangCheck:
    """Simulate the plan's site as an M/M/c queue and compare with Erlang-C.

    The plan's weekly arrivals are spread evenly over every hour (Poisson, constant rate), the
    site is always open, nobody gives up, there is no clear-down, and each kind of space's time
    in space is exponential with the route-mix-weighted mean of its routes. Tolerances: P(wait)
    within 0.02 + 5%; mean and p95 wait within 10% or 0.25 minute, whichever is larger.
    ValueError when a queue would grow without end (the check needs fewer arrivals than the
    spaces can serve)."""
    profile = plan.profile
    hourly = profile.arrivals_per_week / HOURS_PER_WEEK
    service = dict(plan.service_minutes)
    kinds = {"booth": BOOTH_ROUTES, "inhalation": ROOM_ROUTES}
    spaces = {"booth": plan.booths, "inhalation": plan.inhalation_rooms * plan.seats_per_room}
    rates: dict[str, float] = {}
    means: dict[str, float] = {}
    for kind, routes in kinds.items():
        share = sum(profile.route_mix[r] for r in routes)
        rates[kind] = hourly * share
        if share > 0:
            means[kind] = (
                sum(profile.route_mix[r] * plan.service_minutes[r] for r in routes) / share
            )
            for r in routes:
                service[r] = means[kind]
        else:
            means[kind] = plan.service_minutes[routes[0]]
    for kind in kinds:
        if rates[kind] > 0 and spaces[kind] > 0:
            load = rates[kind] * means[kind] / 60
            if load >= spaces[kind]:
                raise ValueError(
                    f"The Erlang-C check needs fewer arrivals than the {kind} spaces can serve: "
                    f"{load:.1f} spaces' worth of demand for {spaces[kind]} spaces. Add spaces."
                )
    check_plan = plan.replace(
        profile=ArrivalProfile.flat(f"{profile.name} (flat)", hourly, profile.route_mix),
        open_hours=ALWAYS_OPEN,
        service_minutes=service,
        service_distribution="exponential",
        clear_down_minutes={"booth": 0.0, "inhalation": 0.0},
        patience_minutes=math.inf,
        days=days,
    )
    result = simulate(check_plan)
    rows: list[CheckRow] = []
    for kind in kinds:
        space = getattr(result, kind)
        if rates[kind] == 0 or spaces[kind] == 0 or space.arrivals == 0:
            continue
        lam, mu, c = rates[kind] / 60, 1 / means[kind], spaces[kind]
        p_wait = erlang.erlang_c(lam, mu, c)
        wq = erlang.mean_wait(lam, mu, c)
        q95 = erlang.wait_quantile(lam, mu, c, 0.95)
        rows.append(CheckRow(kind, "P(wait)", space.share_waited, p_wait, 0.02 + 0.05 * p_wait))
        rows.append(CheckRow(kind, "mean wait (min)", space.mean_wait_minutes, wq, _tolerance(wq)))
        rows.append(CheckRow(kind, "p95 wait (min)", space.p95_wait_minutes, q95, _tolerance(q95)))
    return ErlangCheck(
        days=days,
        seed=plan.seed,
        arrivals_per_hour=rates,
        service_minutes=means,
        spaces=spaces,
        rows=tuple(rows),
    )
