"""A deterministic generator of synthetic but realistic site activity (pure Python, no Django).

Given a site's layout and opening hours (:class:`SiteSpec`), a demand profile
(:class:`saferoom.simulation.profiles.Profile`), a first day, a number of days and a seed, it
yields one :class:`SimDay` per local calendar day: every arrival at the desk and what became of
it, in time order. The same inputs always give the same stream.

The model, in brief (figures from domain.md §1, §2.2 and §6):

- Arrivals per open day follow a Poisson count around the profile's mean, scaled by weekday
  (weekends busier) and spread over the opening period by hour-of-day weights (evenings
  busier). Opening periods may run past midnight; nobody arrives outside them.
- A population of people grows over time. Each person has an intended visit rate: regulars
  come most days, occasional clients rarely (a heavy-tailed Pareto rate). People drift away
  (churn) and new people register; while the population cannot supply the expected volume,
  more of the arrivals are new people, so a newly opened site fills up over its first weeks.
- Each visit has a route and substances from the profile's mix, restricted to the routes the
  site permits and has places for. Places are a simple capacity model of the site's spaces:
  booths (injection, snorting, oral), inhalation rooms (smoking, seats × clear-down) and
  flexible spaces (anything). Someone who would wait longer than their patience leaves the
  queue. Sessions last 15–25 minutes, after-care 10–30.
- Turn-aways: capacity near closing, not eligible (new people only: first-time user, under
  age, pregnant, not resident, as the site checks), visibly intoxicated, and banned.
- Emergencies happen in a profile-given share of consumption episodes (8–14 per 1,000 in the
  published data); occasionally a visit ends in a ban.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from saferoom.simulation.profiles import Profile

# The routes each kind of space can take. Aftercare spaces take no consumption.
SPACE_ROUTES: dict[str, frozenset[str]] = {
    "booth": frozenset({"inject", "snort", "oral"}),
    "inhalation": frozenset({"smoke"}),
    "flexible": frozenset({"inject", "smoke", "snort", "oral"}),
}

# Substance codes of the default catalogue (sites.defaults) and the group an emergency follows.
SUBSTANCE_GROUPS: dict[str, str] = {
    "heroin": "opioid",
    "fentanyl": "opioid",
    "other_opioid": "opioid",
    "speedball": "opioid",
    "crack": "stimulant",
    "cocaine": "stimulant",
    "methamphetamine": "stimulant",
    "benzodiazepine": "sedative",
    "ketamine": "other",
    "other": "other",
}

MAX_VISITS_PER_PERSON_PER_DAY = 3
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
# Time between leaving and coming back the same day.
MIN_MINUTES_BETWEEN_VISITS = 45


# --- The site, as the engine needs to know it -------------------------------------------


@dataclass(frozen=True)
class OpeningSpec:
    """One opening period: a weekday (0 = Monday) and local opening and closing times.
    A closing time not later than the opening time means the period runs past midnight."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class SpaceSpec:
    kind: str  # booth | inhalation | flexible | aftercare
    seats: int = 1
    clear_down_minutes: int = 2


@dataclass(frozen=True)
class SiteSpec:
    time_zone: str
    opening: tuple[OpeningSpec, ...]
    spaces: tuple[SpaceSpec, ...]
    permitted_routes: frozenset[str] = frozenset({"inject", "smoke", "snort", "oral"})
    anonymous_allowed: bool = False
    # A mobile unit opens a stop where it stands at the start of each period.
    mobile: bool = False
    check_min_age: bool = True
    min_age: int = 18
    check_first_time_use: bool = True
    check_intoxicated: bool = True
    check_pregnancy: bool = False
    check_residency: bool = False

    def routes_with_places(self) -> frozenset[str]:
        """Routes the site both permits and has a place for."""
        possible: set[str] = set()
        for space in self.spaces:
            possible |= SPACE_ROUTES.get(space.kind, frozenset())
        return frozenset(possible) & self.permitted_routes


# --- The stream ------------------------------------------------------------------------


@dataclass(frozen=True)
class Traits:
    """What a new person tells the desk at registration and intake (plain data)."""

    gender: str  # female | male | other
    birth_year: int
    years_of_use: int
    past_overdoses: str  # none | one | two_to_five | more | not_said
    current_treatment: str  # none | ost | other | not_said
    housing_status: str  # own_tenancy | with_others | temporary | rough_sleeping | ...
    residence_area: str


Outcome = Literal["checked_in", "turned_away"]


@dataclass(frozen=True)
class Arrival:
    """Someone at the desk. ``visit`` numbers the visit within the stream so that the later
    events of the same visit can refer to it. ``person`` is None for anonymous visits and for
    someone turned away before ever registering. ``register`` is True on the first check-in of
    a person, with their ``traits`` (registration and intake happen then)."""

    at: datetime
    visit: int
    person: int | None
    register: bool
    traits: Traits | None
    anonymous: bool
    outcome: Outcome
    turnaway_reason: str  # turn-away reason code (sites.defaults) or "" when checked in
    route: str
    substances: tuple[str, ...]
    otherwise_location: str
    would_use_alone: str


@dataclass(frozen=True)
class LeftQueue:
    at: datetime
    visit: int


@dataclass(frozen=True)
class SessionStarted:
    at: datetime
    visit: int
    space_kind: str
    route: str


@dataclass(frozen=True)
class SessionEnded:
    at: datetime
    visit: int


@dataclass(frozen=True)
class Emergency:
    """An overdose or other medical emergency during a consumption session. Plain data for now:
    the incident records come later."""

    at: datetime
    visit: int
    kind: str  # opioid_overdose | stimulant_overamp | other_medical
    ambulance: bool


@dataclass(frozen=True)
class Departure:
    """Checked out at the desk. Visits without one are still open at closing."""

    at: datetime
    visit: int


@dataclass(frozen=True)
class BanImposed:
    at: datetime
    person: int
    visit: int
    reason: str  # violence | dealing | rules | damage | other
    days: int


@dataclass(frozen=True)
class StopOpened:
    """A mobile unit opens at a place at the start of its period."""

    at: datetime
    place: str


@dataclass(frozen=True)
class StopClosed:
    """A mobile unit closes its stop at the end of its period and moves on."""

    at: datetime


@dataclass(frozen=True)
class Closing:
    """The end of an opening period: visits still open are closed as left without check-out."""

    at: datetime


E = TypeVar("E")

Event = Arrival | LeftQueue | SessionStarted | SessionEnded | Emergency | Departure | BanImposed
StreamEvent = Event | Closing | StopOpened | StopClosed

# Order of events that share a time: endings free people and places before new starts.
_RANK: dict[type, int] = {
    StopOpened: -1,
    Departure: 0,
    LeftQueue: 1,
    SessionEnded: 2,
    BanImposed: 3,
    Arrival: 4,
    SessionStarted: 5,
    Emergency: 6,
    Closing: 9,
    StopClosed: 10,
}


@dataclass
class SimDay:
    """Everything that happened in the opening periods that began on one local date."""

    date: date
    events: list[StreamEvent] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        """The day's events of one kind, in time order."""
        return [e for e in self.events if isinstance(e, kind)]


# --- Internal state --------------------------------------------------------------------


@dataclass
class _Person:
    id: int
    rate: float
    regular: bool
    leaves_on: int  # day index from which they no longer come
    traits: Traits
    registered: bool = False
    busy_until: datetime = _LONG_AGO
    banned_until: datetime = _LONG_AGO
    visits_today: int = 0
    usual_otherwise: str = "not_said"


@dataclass
class _Seat:
    kind: str
    routes: frozenset[str]
    clear_down: timedelta
    free_at: datetime


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count: the number of unit-rate exponential gaps that fit in ``mean``."""
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


class Engine:
    """Generates the stream for one site. Use :func:`generate` unless you need the state."""

    def __init__(self, site: SiteSpec, profile: Profile, *, seed: int | str) -> None:
        self.site = site
        self.profile = profile
        self.tz = ZoneInfo(site.time_zone)
        self.rng = random.Random(f"saferoom-sim:{seed}")
        self.people: list[_Person] = []
        self.next_visit = 1
        self.routes = self._route_mix()

    # Routes -----------------------------------------------------------------------------

    def _route_mix(self) -> dict[str, float]:
        """The profile's route mix restricted to routes the site permits and has places for."""
        possible = self.site.routes_with_places()
        mix = {r: w for r, w in self.profile.route_mix.items() if r in possible and w > 0}
        if not mix:
            # The site cannot take any route the profile wants: fall back to whatever it can.
            mix = dict.fromkeys(sorted(possible), 1.0)
        return mix

    # Days -------------------------------------------------------------------------------

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """Opening periods beginning on a local date, as UTC instants, in order."""
        periods = []
        for spec in self.site.opening:
            if spec.weekday != day.weekday():
                continue
            start = datetime.combine(day, spec.opens, self.tz)
            end_day = day if spec.closes > spec.opens else day + timedelta(days=1)
            end = datetime.combine(end_day, spec.closes, self.tz)
            periods.append((start.astimezone(UTC), end.astimezone(UTC)))
        return sorted(periods)

    def days(self, start: date, count: int) -> Iterator[SimDay]:
        for index in range(count):
            day = start + timedelta(days=index)
            sim_day = SimDay(date=day)
            for person in self.people:
                person.visits_today = 0
            periods = self.periods_on(day)
            if periods:
                total_minutes = sum((e - s).total_seconds() / 60 for s, e in periods)
                for period_start, period_end in periods:
                    share = (period_end - period_start).total_seconds() / 60 / total_minutes
                    sim_day.events.extend(self._period(index, day, period_start, period_end, share))
            yield sim_day

    def _expected_arrivals(self, index: int, day: date) -> float:
        profile = self.profile
        mean = profile.visits_per_day * profile.weekday_factors[day.weekday()]
        if profile.ramp_up_days > 0 and index < profile.ramp_up_days:
            # A new site is quieter in its first weeks, then reaches its usual volume.
            mean *= 0.4 + 0.6 * index / profile.ramp_up_days
        return mean

    def _arrival_times(self, start: datetime, end: datetime, count: int) -> list[datetime]:
        """``count`` times in [start, end), denser in the hours the profile weights higher."""
        weights = self.profile.hour_weights
        top = max(weights)
        seconds = (end - start).total_seconds()
        times: list[datetime] = []
        while len(times) < count:
            moment = start + timedelta(seconds=int(self.rng.uniform(0, seconds)))
            if moment >= end:
                continue
            hour = moment.astimezone(self.tz).hour
            if self.rng.random() * top < weights[hour]:
                times.append(moment)
        times.sort()
        return times

    def _period(
        self, index: int, day: date, start: datetime, end: datetime, share: float
    ) -> list[StreamEvent]:
        profile = self.profile
        rng = self.rng
        events: list[StreamEvent] = []
        seats = self._seats(start)
        last_admission = end - timedelta(minutes=profile.last_admission_minutes)
        active = [p for p in self.people if p.leaves_on > index]
        cumulative: list[float] = []
        running = 0.0
        for known in active:
            running += known.rate
            cumulative.append(running)
        expected = self._expected_arrivals(index, day)
        # When the people who come now cannot make up the usual volume, more arrivals are new.
        new_share = min(
            profile.new_client_max_share,
            max(profile.new_client_min_share, 1 - running / max(expected, 1e-9)),
        )
        for at in self._arrival_times(start, end, _poisson(rng, expected * share)):
            anonymous = self.site.anonymous_allowed and rng.random() < profile.anonymous_share
            person: _Person | None = None
            if not anonymous:
                person = self._pick(active, cumulative, at)
                if person is None or rng.random() < new_share:
                    person = self._new_person(index, day)
                    if person is None:  # not eligible: turned away before registering
                        events.append(self._turn_away(at, None, self._screen_reason(), False))
                        continue
                    active.append(person)
                    running += person.rate
                    cumulative.append(running)
                if at < person.banned_until:
                    if rng.random() < profile.banned_still_come:
                        events.append(self._turn_away(at, person, "banned", False))
                    continue
            if self.site.check_intoxicated and rng.random() < profile.intoxicated_share:
                events.append(self._turn_away(at, person, "intoxicated", anonymous))
                continue
            if at >= last_admission:
                events.append(self._turn_away(at, person, "full", anonymous))
                continue
            events.extend(self._visit(at, person, anonymous, seats, end, last_admission))
        events.append(Closing(at=end))
        if self.site.mobile:
            stops = profile.stops
            events.append(StopOpened(at=start, place=stops[day.toordinal() % len(stops)]))
            events.append(StopClosed(at=end))
        events.sort(key=lambda e: (e.at, _RANK[type(e)], getattr(e, "visit", 0)))
        return events

    # People -----------------------------------------------------------------------------

    def _pick(
        self, active: Sequence[_Person], cumulative: Sequence[float], at: datetime
    ) -> _Person | None:
        """A known person, in proportion to their visit rate, who is free to come now."""
        if not active:
            return None
        total = cumulative[-1]
        for _attempt in range(12):
            index = bisect.bisect_right(cumulative, self.rng.random() * total)
            person = active[min(index, len(active) - 1)]  # rounding can land on the end
            if person.busy_until <= at and person.visits_today < MAX_VISITS_PER_PERSON_PER_DAY:
                return person
        return None

    def _new_person(self, index: int, day: date) -> _Person | None:
        """Someone who has never been admitted, or None when they fail the first-visit screen."""
        profile = self.profile
        rng = self.rng
        if rng.random() < profile.ineligible_new_share:
            return None
        regular = rng.random() < profile.regular_share
        if regular:
            rate = rng.uniform(*profile.regular_rate)
        else:
            # Heavy-tailed: most come a few times a month, a few nearly as often as regulars.
            rate = min(profile.regular_rate[0], profile.occasional_rate * rng.paretovariate(1.5))
        stays = 1 + int(rng.expovariate(profile.churn_per_day))
        person = _Person(
            id=len(self.people) + 1,
            rate=rate,
            regular=regular,
            leaves_on=index + stays,
            traits=self._traits(day),
            usual_otherwise=_weighted(rng, profile.otherwise_location),
        )
        self.people.append(person)
        return person

    def _traits(self, day: date) -> Traits:
        profile = self.profile
        rng = self.rng
        gender = _weighted(rng, profile.gender_mix)
        # Most people who use consumption rooms are in their thirties and forties.
        birth_year = round(rng.triangular(1960, 2003, 1982))
        oldest_start = max(0, day.year - birth_year - 14)
        years_of_use = rng.randint(min(2, oldest_start), oldest_start) if oldest_start else 0
        return Traits(
            gender=gender,
            birth_year=birth_year,
            years_of_use=min(years_of_use, 60),
            past_overdoses=_weighted(
                rng, {"none": 35, "one": 20, "two_to_five": 25, "more": 10, "not_said": 10}
            ),
            current_treatment=_weighted(rng, {"none": 45, "ost": 35, "other": 5, "not_said": 15}),
            housing_status=_weighted(
                rng,
                {
                    "own_tenancy": 25,
                    "with_others": 15,
                    "temporary": 25,
                    "rough_sleeping": 20,
                    "other": 5,
                    "not_said": 10,
                },
            ),
            residence_area=rng.choice(profile.residence_areas),
        )

    def _screen_reason(self) -> str:
        """Why a new person failed the first-visit screen, among the checks the site makes."""
        site = self.site
        reasons: dict[str, float] = {}
        if site.check_first_time_use:
            reasons["first_time"] = 6
        if site.check_min_age:
            reasons["under_age"] = 1
        if site.check_pregnancy:
            reasons["pregnant"] = 1
        if site.check_residency:
            reasons["not_resident"] = 4
        if not reasons:
            return "refused_rules"
        return _weighted(self.rng, reasons)

    # Visits -----------------------------------------------------------------------------

    def _seats(self, opening: datetime) -> list[_Seat]:
        seats = []
        for space in self.site.spaces:
            routes = SPACE_ROUTES.get(space.kind)
            if routes is None:
                continue
            for _seat in range(space.seats):
                seats.append(
                    _Seat(
                        kind=space.kind,
                        routes=routes,
                        clear_down=timedelta(minutes=space.clear_down_minutes),
                        free_at=opening,
                    )
                )
        return seats

    def _visit_number(self) -> int:
        number = self.next_visit
        self.next_visit += 1
        return number

    def _plan(self, person: _Person | None) -> tuple[str, tuple[str, ...], str, str]:
        profile = self.profile
        rng = self.rng
        route = _weighted(rng, self.routes) if self.routes else ""
        mix = profile.substances.get(route) or {"other": 1.0}
        substances = [_weighted(rng, mix)]
        if rng.random() < profile.second_substance_share:
            second = _weighted(rng, mix)
            if second not in substances:
                substances.append(second)
        if person is not None and rng.random() < 0.8:
            otherwise = person.usual_otherwise
        else:
            otherwise = _weighted(rng, profile.otherwise_location)
        alone = _weighted(rng, profile.would_use_alone)
        return route, tuple(substances), otherwise, alone

    def _turn_away(
        self, at: datetime, person: _Person | None, reason: str, anonymous: bool
    ) -> Arrival:
        route, substances, otherwise, alone = self._plan(person)
        return Arrival(
            at=at,
            visit=self._visit_number(),
            person=person.id if person is not None and person.registered else None,
            register=False,
            traits=None,
            anonymous=anonymous,
            outcome="turned_away",
            turnaway_reason=reason,
            route=route,
            substances=substances,
            otherwise_location=otherwise,
            would_use_alone=alone,
        )

    def _visit(
        self,
        at: datetime,
        person: _Person | None,
        anonymous: bool,
        seats: list[_Seat],
        closing: datetime,
        last_admission: datetime,
    ) -> list[Event]:
        profile = self.profile
        rng = self.rng
        route, substances, otherwise, alone = self._plan(person)
        usable = [s for s in seats if route in s.routes]
        if not usable:
            # No place for any route this site takes (all spaces out of service, say).
            return [self._turn_away(at, person, "full", anonymous)]
        seat = min(usable, key=lambda s: s.free_at)
        starts = max(at, seat.free_at)
        session = timedelta(minutes=rng.uniform(*profile.session_minutes))
        if starts >= last_admission or starts + session > closing:
            # They would not be seen, or not be done, before closing: the desk says so at once.
            return [self._turn_away(at, person, "full", anonymous)]
        number = self._visit_number()
        arrival = Arrival(
            at=at,
            visit=number,
            person=person.id if person is not None else None,
            register=person is not None and not person.registered,
            traits=person.traits if person is not None and not person.registered else None,
            anonymous=anonymous,
            outcome="checked_in",
            turnaway_reason="",
            route=route,
            substances=substances,
            otherwise_location=otherwise,
            would_use_alone=alone,
        )
        events: list[Event] = [arrival]
        if person is not None:
            person.registered = True
            person.visits_today += 1
        patience = timedelta(minutes=rng.uniform(*profile.patience_minutes))
        if starts - at > patience:
            gave_up = at + patience
            events.append(LeftQueue(at=gave_up, visit=number))
            if person is not None:
                person.busy_until = gave_up + timedelta(minutes=MIN_MINUTES_BETWEEN_VISITS)
            return events
        ends = starts + session
        seat.free_at = ends + seat.clear_down
        events.append(SessionStarted(at=starts, visit=number, space_kind=seat.kind, route=route))
        events.append(SessionEnded(at=ends, visit=number))
        leaves = ends + timedelta(minutes=rng.uniform(*profile.aftercare_minutes))
        if rng.random() * 1000 < profile.emergency_per_1000:
            onset = starts + session * rng.uniform(0.2, 1.0)
            ambulance = rng.random() < profile.ambulance_share
            events.append(
                Emergency(
                    at=onset,
                    visit=number,
                    kind=self._emergency_kind(substances),
                    ambulance=ambulance,
                )
            )
            # Someone who needed help stays longer in after-care, or leaves with the ambulance.
            leaves = onset + timedelta(minutes=rng.uniform(25, 60))
        checked_out = rng.random() >= profile.no_checkout_share and leaves < closing
        if checked_out:
            events.append(Departure(at=leaves, visit=number))
        if person is not None:
            person.busy_until = (
                leaves + timedelta(minutes=MIN_MINUTES_BETWEEN_VISITS) if checked_out else closing
            )
            if rng.random() * 1000 < profile.ban_per_1000:
                days = rng.randint(*profile.ban_days)
                banned_at = min(leaves, closing - timedelta(minutes=1))
                events.append(
                    BanImposed(
                        at=banned_at,
                        person=person.id,
                        visit=number,
                        reason=_weighted(
                            rng, {"violence": 3, "dealing": 3, "rules": 3, "damage": 1}
                        ),
                        days=days,
                    )
                )
                person.banned_until = banned_at + timedelta(days=days)
        return events

    def _emergency_kind(self, substances: Sequence[str]) -> str:
        groups = {SUBSTANCE_GROUPS.get(code, "other") for code in substances}
        if "opioid" in groups and self.rng.random() < 0.85:
            return "opioid_overdose"
        if "stimulant" in groups and self.rng.random() < 0.7:
            return "stimulant_overamp"
        return "other_medical"


def generate(
    site: SiteSpec, profile: Profile, *, start: date, days: int, seed: int | str
) -> Iterator[SimDay]:
    """The stream of ``days`` local days from ``start``; the same arguments, the same stream."""
    if days < 0:
        raise ValueError("days must not be negative")
    return Engine(site, profile, seed=seed).days(start, days)


@dataclass
class Tally:
    """Counts over a stream, for summaries and tests."""

    arrivals: int = 0
    checked_in: int = 0
    anonymous: int = 0
    registrations: int = 0
    turned_away: dict[str, int] = field(default_factory=dict)
    left_queue: int = 0
    episodes: int = 0
    episodes_by_route: dict[str, int] = field(default_factory=dict)
    emergencies: int = 0
    ambulances: int = 0
    departures: int = 0
    bans: int = 0

    def add(self, event: StreamEvent) -> None:
        if isinstance(event, Arrival):
            self.arrivals += 1
            if event.outcome == "checked_in":
                self.checked_in += 1
                self.anonymous += event.anonymous
                self.registrations += event.register
            else:
                reason = event.turnaway_reason
                self.turned_away[reason] = self.turned_away.get(reason, 0) + 1
        elif isinstance(event, LeftQueue):
            self.left_queue += 1
        elif isinstance(event, SessionStarted):
            self.episodes += 1
            self.episodes_by_route[event.route] = self.episodes_by_route.get(event.route, 0) + 1
        elif isinstance(event, Emergency):
            self.emergencies += 1
            self.ambulances += event.ambulance
        elif isinstance(event, Departure):
            self.departures += 1
        elif isinstance(event, BanImposed):
            self.bans += 1

    def per_1000_episodes(self, count: int) -> float:
        return 1000 * count / self.episodes if self.episodes else math.nan


def tally(days: Iterator[SimDay] | Sequence[SimDay]) -> Tally:
    result = Tally()
    for day in days:
        for event in day.events:
            result.add(event)
    return result
