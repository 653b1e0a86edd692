"""Applies the simulator's stream to the database through the same actions the desk and the
floor use.

Nothing here writes a visit, a client, an intake, a ban or a session with the ORM: registration
goes through ``clients.actions.register_client``, the queue through ``floor.actions.check_in``
and friends, the floor through ``floor.board`` (next free seat, assign, checks, emergencies, end
of session, cleaned), so the simulated history obeys (and exercises) every rule a person at the
desk or on the floor meets. The fake attributes a simulated person gives at registration
(initials, a date of birth, a chosen name) live only in this module's memory, as they would only
in the person's head.

The engine says when a session starts and ends and when an emergency happens; the floor team's
own rhythm (a check at each due time, mostly on time and a few late; a seat marked cleaned
before its clear-down is up) is played here, as tasks due at their moment between the engine's
events. Other areas add their own activity through hooks (after-care, drug checks, incidents,
deliveries, alerts) called at the marked places below when their modules exist.

Each simulated day of each site runs in one transaction: SQLite commits are durable
(``synchronous=FULL``), and one fsync per visit would make a year of history take an hour.
"""

from __future__ import annotations

import heapq
import importlib
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, TextIO, cast

from django.db import transaction
from django.db.models import Prefetch

from saferoom.clients import actions as client_actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Client, enabled_intake_questions
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.core.versioning import NOT_YET_RECORDED
from saferoom.floor import actions as floor_actions
from saferoom.floor import board as floor_board
from saferoom.floor import eligibility as rules
from saferoom.floor.models import ConsumptionSession, MobileStop, Visit
from saferoom.simulation import engine
from saferoom.simulation.profiles import Profile, get_profile
from saferoom.sites.models import (
    CatalogueItem,
    ClientCodeScheme,
    IntakeQuestion,
    Membership,
    OpeningHours,
    Site,
    catalogue_for,
)

SIM_DESK_USERNAME = "sim.desk"
SIM_FLOOR_USERNAME = "sim.floor"
SIM_MANAGER_USERNAME = "sim.manager"

# How the simulated floor team checks on people: most checks between a minute before they fall
# due and a minute after, some while the tile is amber, a few only once it has turned red (and
# some of those late enough to be passed to the shift lead).
CHECK_LATE_SHARE = 0.05
CHECK_AMBER_SHARE = 0.25
# Share of clear-downs that staff end early by marking the seat cleaned (the rest free
# themselves when their time is up).
CLEANED_EARLY_SHARE = 0.3
# Someone the engine seated but who finds no free seat on the board asks again this often.
SEAT_RETRY = timedelta(minutes=1)

# Share of returning clients who have lost their card and are found by their attributes.
LOST_CARD_SHARE = 0.03

CHOSEN_NAMES = (
    "Ash", "Bex", "Bird", "Blue", "Bobby", "Cal", "Charlie", "Dee", "Dex", "Dixie", "Eddie",
    "Fin", "Frankie", "Gem", "Gus", "Harley", "Izzy", "Jay", "Jojo", "Kit", "Lou", "Mac",
    "Mags", "Mo", "Nat", "Nico", "Ozzy", "Pip", "Rab", "Red", "Rio", "Robin", "Sam", "Scout",
    "Shay", "Sky", "Smithy", "Sonny", "Stevie", "Tam", "Tash", "Taz", "Tiny", "Toni", "Wee Man",
    "Wren", "Zed",
)  # fmt: skip
# Letters that begin names more often get picked more often.
INITIAL_LETTERS = "AAABBBCCCDDDEEFFGGHHJJJKKLLLMMMNNOPPRRRSSSSTTTWWY"

# Turn-away reasons and the eligibility answer that goes with each.
FAILED_ANSWER = {
    "under_age": (rules.OLD_ENOUGH, False),
    "first_time": (rules.FIRST_TIME, True),
    "intoxicated": (rules.INTOXICATED, True),
    "pregnant": (rules.PREGNANT, True),
    "not_resident": (rules.RESIDENT, False),
}


# --- What the engine needs to know about a site ----------------------------------------------


def site_spec(site: Site) -> engine.SiteSpec:
    """The engine's view of a site: opening hours, places, routes and checks."""
    return engine.SiteSpec(
        time_zone=site.time_zone,
        opening=tuple(
            engine.OpeningSpec(weekday=h.weekday, opens=h.opens, closes=h.closes)
            for h in site.opening_hours.all()
        ),
        spaces=tuple(
            engine.SpaceSpec(kind=s.kind, seats=s.seats, clear_down_minutes=s.clear_down_minutes)
            for s in site.spaces.all()
            if not s.out_of_service
        ),
        permitted_routes=frozenset(site.permitted_routes or []),
        anonymous_allowed=site.anonymous_visits_allowed,
        mobile=site.kind == Site.Kind.MOBILE,
        check_min_age=site.check_min_age,
        min_age=site.min_age,
        check_first_time_use=site.check_first_time_use,
        check_intoxicated=site.check_intoxicated,
        check_pregnancy=site.check_pregnancy,
        check_residency=site.check_residency,
    )


def default_profile_name(site: Site) -> str:
    """The profile that fits a site best when none is named: a mobile unit, an injection-only
    room, or a mixed room."""
    if site.kind == Site.Kind.MOBILE:
        return "mobile"
    routes = set(site.permitted_routes or [])
    kinds = {s.kind for s in site.spaces.all()}
    if routes <= {"inject"} or not kinds & {"inhalation", "flexible"}:
        return "glasgow"
    return "nrw"


def load_sites(sites: Sequence[Site]) -> list[Site]:
    """The sites with everything the run reads on every visit fetched once (network, opening
    hours for the open-now check, spaces)."""
    return list(
        Site.objects.filter(pk__in=[s.pk for s in sites])
        .select_related("network")
        .prefetch_related(
            Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")),
            "spaces",
        )
        .order_by("name")
    )


# --- The simulation's own accounts -----------------------------------------------------------


def simulation_user(username: str, display_name: str, role: Role, site: Site) -> User:
    """A named account the simulated desk works under, holding ``role`` across the site's
    network. It has no usable password: nobody logs in as the simulator."""
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, display_name=display_name)
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(user=user, network=site.network, site=None, role=role)
    return user


# --- Hooks: other areas' simulated activity ---------------------------------------------------
#
# Each area that keeps records of a visit (incidents, supplies and services, referrals, drug
# checks and alerts) writes its own simulated activity, through its own actions, in its
# ``simulation`` module; the runner calls it at the right moment. All hooks of one run share
# one ``random.Random`` seeded from the run's seed (so the same seed gives the same history),
# separate from the floor's own randomness (so adding a hook does not change the floor's
# history). Each call runs in a
# savepoint: a refusal is counted in the summary and undoes only that hook's writes.

HOOKS: dict[str, tuple[str, str]] = {
    # Per visit ------------------------------------------------------------------------------
    # An emergency on the board: the incident record and its interventions.
    "incident": ("saferoom.incidents.simulation", "simulate_incident"),
    # At check-in: a drug check of what the person brought.
    "drug_checks": ("saferoom.care.checking.simulation", "simulate_drug_checks"),
    # When the visit goes to after-care: supplies and services given, referrals made.
    "visit_care": ("saferoom.care.supplies.simulation", "simulate_visit_care"),
    "referrals": ("saferoom.care.referrals.simulation", "simulate_referrals"),
    # Per simulated day ----------------------------------------------------------------------
    "deliveries": ("saferoom.care.supplies.simulation", "simulate_deliveries"),
    "alerts": ("saferoom.care.checking.simulation", "simulate_alerts"),
    "standalone_incidents": ("saferoom.incidents.simulation", "simulate_standalone_incidents"),
}


def find_hook(module: str, name: str) -> Callable[..., Any]:
    """The hook ``module.name``; a missing one is a programming error, raised at once."""
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{module}.{name} is not a function")
    return cast("Callable[..., Any]", function)


def find_hooks() -> dict[str, Callable[..., Any]]:
    return {key: find_hook(module, name) for key, (module, name) in HOOKS.items()}


class Hooks:
    """The hooks found for a run, their shared random generator, and their calls."""

    def __init__(
        self,
        seed: int,
        summary: Summary,
        functions: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.functions = find_hooks() if functions is None else functions
        self.rng = random.Random(f"saferoom-sim-hooks:{seed}")
        self.summary = summary

    def call(self, key: str, **kwargs: Any) -> None:
        function = self.functions.get(key)
        if function is None:
            return
        try:
            with transaction.atomic():
                function(rng=self.rng, **kwargs)
        except ActionRefused as refusal:
            self.summary.refused[f"{key}:{refusal.code}"] += 1
            return
        self.summary.hook_calls[key] += 1


# --- Summary ---------------------------------------------------------------------------------


@dataclass
class Summary:
    sites: int = 0
    days: int = 0
    arrivals: int = 0
    visits: int = 0
    anonymous_visits: int = 0
    registrations: int = 0
    duplicate_warnings: int = 0
    lost_cards: int = 0
    turned_away: Counter[str] = field(default_factory=Counter)
    left_queue: int = 0
    checked_out: int = 0
    closed_at_closing: int = 0
    episodes: int = 0
    emergencies: int = 0
    bans: int = 0
    stops: int = 0
    # The floor, through the board's actions.
    sessions: int = 0
    waited_for_seat: int = 0
    never_seated: int = 0
    checks: int = 0
    late_checks: int = 0
    escalations: int = 0
    clear_downs: int = 0
    cleaned_early: int = 0
    emergencies_started: int = 0
    hook_calls: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def turnaways(self) -> int:
        return sum(self.turned_away.values())

    @property
    def emergencies_per_1000_episodes(self) -> float:
        return 1000 * self.emergencies / self.episodes if self.episodes else 0.0

    @property
    def late_check_share(self) -> float:
        return self.late_checks / self.checks if self.checks else 0.0

    @property
    def arrivals_per_second(self) -> float:
        return self.arrivals / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        reasons = ", ".join(f"{code} {n}" for code, n in self.turned_away.most_common())
        lines = [
            f"Simulated {self.days} day(s) at {self.sites} site(s) in {self.seconds:.1f} s "
            f"({self.arrivals_per_second:.0f} arrivals/s).",
            f"Arrivals:          {self.arrivals}",
            f"Visits:            {self.visits} (anonymous {self.anonymous_visits})",
            f"New clients:       {self.registrations} "
            f"(duplicate warnings {self.duplicate_warnings}, lost cards {self.lost_cards})",
            f"Turn-aways:        {self.turnaways}" + (f" ({reasons})" if reasons else ""),
            f"Left the queue:    {self.left_queue}",
            f"Checked out:       {self.checked_out}; closed at closing {self.closed_at_closing}",
            f"Episodes:          {self.episodes}",
            f"Sessions:          {self.sessions} (waited for a seat {self.waited_for_seat}, "
            f"never seated {self.never_seated})",
            f"Checks:            {self.checks} (late {self.late_checks}, "
            f"{100 * self.late_check_share:.1f}%; passed to the shift lead {self.escalations})",
            f"Clear-downs:       {self.clear_downs} (marked cleaned early {self.cleaned_early})",
            f"Emergencies:       {self.emergencies} "
            f"({self.emergencies_per_1000_episodes:.1f} per 1,000 episodes; "
            f"started on the board {self.emergencies_started})",
            f"Bans:              {self.bans}",
        ]
        if self.hook_calls:
            calls = ", ".join(f"{key} {n}" for key, n in sorted(self.hook_calls.items()))
            lines.append(f"Other areas:       {calls}")
        if self.stops:
            lines.append(f"Mobile stops:      {self.stops}")
        if self.refused:
            refused = ", ".join(f"{code} {n}" for code, n in self.refused.most_common())
            lines.append(f"Refused by the actions: {sum(self.refused.values())} ({refused})")
        return lines


# --- Progress --------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a terminal (days done, arrivals per second, time left);
    a line every tenth of the way when the output is not a terminal."""

    WIDTH = 30

    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.last_drawn = 0.0
        self.last_tenth = -1
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, arrivals: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        rate = arrivals / elapsed
        eta = elapsed / done * (self.total - done) if done else 0.0
        filled = int(self.WIDTH * done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} days  "
            f"{rate:5.0f} visits/s  ETA {_clock(eta)}"
        )
        if self.tty:
            if final or now - self.last_drawn >= 0.2:
                self.stream.write("\r" + line + ("\n" if final else ""))
                self.stream.flush()
                self.last_drawn = now
            return
        tenth = 10 * done // self.total
        if tenth != self.last_tenth or final:
            self.last_tenth = tenth
            self.stream.write(line + "\n")
            self.stream.flush()


def raw_stream(output: object) -> TextIO:
    """The stream under a management command's ``self.stderr``: Django's wrapper ends every
    write with a newline, and the progress bar redraws one line in place."""
    stream: TextIO = getattr(output, "_out", sys.stderr)
    return stream


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


# --- Running one site ------------------------------------------------------------------------


@dataclass
class _Person:
    display_code: str
    client_pk: int
    attrs: SchemeAttributes


EVENTS_PER_TRANSACTION = 20


@dataclass(order=True)
class _Task:
    """Something the floor team does at ``at`` between the engine's events."""

    at: datetime
    order: int
    kind: str = field(compare=False)  # check | escalate | cleaned | seat
    visit: int = field(compare=False, default=0)  # the engine's visit number
    session: int = field(compare=False, default=0)
    space: Any = field(compare=False, default=None)
    seat: int = field(compare=False, default=0)


class SiteRun:
    """The stream of one site, applied day by day through the actions."""

    def __init__(
        self,
        site: Site,
        profile: Profile,
        *,
        seed: int,
        start: date,
        days: int,
        desk: User,
        manager: User,
        summary: Summary,
        floor: User | None = None,
        hooks: Hooks | None = None,
        pause: float = 0.0,
    ) -> None:
        self.pause = pause
        self.site = site
        self.network = site.network
        self.desk = desk
        self.floor = floor or desk
        self.manager = manager
        self.summary = summary
        self.hooks = hooks or Hooks(seed, summary, functions={})
        self.rng = random.Random(f"saferoom-sim-people:{seed}:{site.slug}")
        # The floor team's own habits: separate, so the people's stream stays as it was.
        self.floor_rng = random.Random(f"saferoom-sim-floor:{seed}:{site.slug}")
        self.stream = engine.generate(
            site_spec(site), profile, start=start, days=days, seed=f"{seed}:{site.slug}"
        )
        self.substances = {i.code: i for i in catalogue_for(site, CatalogueItem.Kind.SUBSTANCE)}
        self.reasons = {i.code: i for i in catalogue_for(site, CatalogueItem.Kind.TURNAWAY_REASON)}
        self.intake_questions = set(enabled_intake_questions(self.network))
        self.people: dict[int, _Person] = {}
        self.open_visits: dict[int, Visit] = {}
        self.stop: MobileStop | None = None
        # The floor: open sessions by the engine's visit number, those in an emergency, those
        # still looking for a seat, and what the team will do next.
        self.sessions: dict[int, ConsumptionSession] = {}
        self.in_emergency: set[int] = set()
        self.unseated: set[int] = set()
        self.tasks: list[_Task] = []
        self.task_order = 0

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The local calendar day as two aware instants: its midnight and the next."""
        tz = self.site.tz
        start = datetime.combine(day, clock_time(0), tz)
        return start, datetime.combine(day + timedelta(days=1), clock_time(0), tz)

    def next_day(self) -> int:
        """Apply the next day, a few events per transaction; returns the number of arrivals."""
        day = next(self.stream)
        day_start, day_end = self.day_bounds(day.date)
        # --- Per-day hooks, at the start of the day: deliveries before anything is given out.
        with transaction.atomic():
            self.hooks.call("deliveries", site=self.site, day_start=day_start, by=self.manager)
        # Commit every few events, not once a day: the demo makes its history while the server
        # is already serving, and a long write transaction would keep every login waiting.
        for first in range(0, len(day.events), EVENTS_PER_TRANSACTION):
            with transaction.atomic():
                for event in day.events[first : first + EVENTS_PER_TRANSACTION]:
                    self.apply(event)
            if self.pause:
                # SQLite hands the write lock straight back to a writer that asks at once;
                # a short pause lets a waiting request (a login, a check-in) have its turn.
                time.sleep(self.pause)
        with transaction.atomic():
            # What the floor still had to do after the last event (a seat marked cleaned).
            self.run_tasks(until=None)
            # --- Per-day hooks, at the end of the day.
            self.hooks.call(
                "standalone_incidents",
                site=self.site,
                day_start=day_start,
                day_end=day_end,
                by=self.floor,
            )
        return sum(1 for e in day.events if isinstance(e, engine.Arrival))

    def apply(self, event: engine.StreamEvent) -> None:
        # The floor's tasks due by this moment come first: a check due before a session ends is
        # done before it ends.
        self.run_tasks(until=event.at)
        try:
            if isinstance(event, engine.Arrival):
                self.summary.arrivals += 1
                if event.outcome == "checked_in":
                    self._check_in(event)
                else:
                    self._turn_away(event)
            elif isinstance(event, engine.LeftQueue):
                self._forget(event.visit)
                visit = self.open_visits.pop(event.visit, None)
                if visit is not None:
                    floor_actions.leave_queue(visit=visit, by=self.desk, at=event.at)
                    self.summary.left_queue += 1
            elif isinstance(event, engine.Departure):
                # Check-out from after-care (or, rarely, straight from a space: the action
                # ends the session there).
                self._forget(event.visit)
                visit = self.open_visits.pop(event.visit, None)
                if visit is not None:
                    floor_actions.check_out(visit=visit, by=self.desk, at=event.at)
                    self.summary.checked_out += 1
            elif isinstance(event, engine.SessionStarted):
                if event.visit in self.open_visits:
                    self.summary.episodes += 1
                    self._seat(event.visit, event.at)
            elif isinstance(event, engine.SessionEnded):
                self._end_session(event)
            elif isinstance(event, engine.Emergency):
                if event.visit in self.open_visits:
                    self.summary.emergencies += 1
                    self._emergency(event)
            elif isinstance(event, engine.BanImposed):
                self._ban(event)
            elif isinstance(event, engine.Closing):
                self.summary.closed_at_closing += floor_actions.close_open_visits(
                    site=self.site, at=event.at, by=None
                )
                self.open_visits.clear()
                self.sessions.clear()
                self.in_emergency.clear()
                self.unseated.clear()
            elif isinstance(event, engine.StopOpened):
                self.stop = floor_board.open_stop(
                    site=self.site,
                    place=event.place,
                    by=self.desk,
                    idempotency_key=uuid.uuid4(),
                    at=event.at,
                )
                self.summary.stops += 1
            elif isinstance(event, engine.StopClosed):
                stop, self.stop = self.stop, None
                if stop is not None:
                    floor_board.close_stop(stop=stop, by=self.desk, at=event.at)
        except ActionRefused as refusal:
            self.summary.refused[refusal.code] += 1

    # The floor --------------------------------------------------------------------------

    def _task(self, at: datetime, kind: str, **what: Any) -> None:
        self.task_order += 1
        heapq.heappush(self.tasks, _Task(at=at, order=self.task_order, kind=kind, **what))

    def run_tasks(self, *, until: datetime | None) -> None:
        """Do, in time order, what the floor team does by ``until`` (everything when None)."""
        while self.tasks and (until is None or self.tasks[0].at <= until):
            task = heapq.heappop(self.tasks)
            try:
                self._do(task)
            except ActionRefused as refusal:
                self.summary.refused[refusal.code] += 1

    def _do(self, task: _Task) -> None:
        if task.kind == "seat":
            if task.visit in self.unseated:
                self._seat(task.visit, task.at)
            return
        if task.kind == "escalate":
            self.summary.escalations += floor_board.escalate_overdue_checks(
                site=self.site, at=task.at
            )
            return
        if task.kind == "cleaned":
            floor_board.finish_clear_down(
                space=task.space, seat=task.seat, by=self.floor, at=task.at
            )
            self.summary.cleaned_early += 1
            return
        # A check, if the person is still there and not being helped in an emergency.
        session = self.sessions.get(task.visit)
        if session is None or session.pk != task.session or task.visit in self.in_emergency:
            return
        check = floor_board.record_check(session=session, by=self.floor, at=task.at)
        self.summary.checks += 1
        self.summary.late_checks += check.was_overdue
        self._plan_check(task.visit, session, due=check.at + self._interval(session))

    @staticmethod
    def _interval(session: ConsumptionSession) -> timedelta:
        return timedelta(minutes=session.check_interval_minutes)

    def _plan_check(self, number: int, session: ConsumptionSession, *, due: datetime) -> None:
        """When the check due at ``due`` is done: mostly around the due time, sometimes while
        the tile is amber, a few once it is red (and then perhaps passed to the shift lead)."""
        rng = self.floor_rng
        overdue = 60 * self.site.check_overdue_minutes
        escalate = 60 * self.site.check_escalate_minutes
        draw = rng.random()
        if draw < CHECK_LATE_SHARE:
            delay = rng.uniform(overdue + 5, escalate + 180)
        elif draw < CHECK_LATE_SHARE + CHECK_AMBER_SHARE:
            delay = rng.uniform(60, max(61, overdue - 5))
        else:
            delay = rng.uniform(-60, 60)
        at = max(due + timedelta(seconds=delay), session.started_at + timedelta(seconds=30))
        if at >= due + timedelta(seconds=escalate):
            self._task(due + timedelta(seconds=escalate), "escalate")
        self._task(at, "check", visit=number, session=session.pk)

    def _seat(self, number: int, at: datetime) -> None:
        """The engine says this person goes into a space now: the next free seat that fits how
        they use (the board's own "Next free space"). None free: they wait and ask again."""
        visit = self.open_visits.get(number)
        if visit is None:
            return
        found = floor_board.next_free_seat(visit=visit, at=at)
        if found is None:
            if number not in self.unseated:
                self.unseated.add(number)
                self.summary.waited_for_seat += 1
            self._task(at + SEAT_RETRY, "seat", visit=number)
            return
        self.unseated.discard(number)
        space, seat = found
        session = floor_board.assign_space(
            visit=visit, space=space, seat=seat, by=self.floor, at=at
        )
        self.sessions[number] = session
        self.summary.sessions += 1
        self._plan_check(number, session, due=session.next_check_due_at)

    def _emergency(self, event: engine.Emergency) -> None:
        session = self.sessions.get(event.visit)
        if session is None:
            return  # never got a seat on the board: nothing to start there
        session = floor_board.start_emergency(session=session, by=self.floor, at=event.at)
        self.sessions[event.visit] = session
        self.in_emergency.add(event.visit)
        self.summary.emergencies_started += 1
        # --- Hook: the incident record (saferoom.incidents.simulation.simulate_incident).
        self.hooks.call(
            "incident",
            site=self.site,
            visit=self.open_visits[event.visit],
            session=session,
            at=event.at,
            by=self.floor,
        )

    def _end_session(self, event: engine.SessionEnded) -> None:
        if event.visit in self.unseated:
            # The engine's session is over before a seat came free on the board.
            self.unseated.discard(event.visit)
            self.summary.never_seated += 1
            return
        session = self.sessions.pop(event.visit, None)
        self.in_emergency.discard(event.visit)
        if session is None:
            return
        ended = floor_board.end_session(session=session, by=self.floor, at=event.at)
        if ended.ended_at and ended.clear_down_until and ended.clear_down_until > ended.ended_at:
            self.summary.clear_downs += 1
            if self.floor_rng.random() < CLEANED_EARLY_SHARE:
                ready = ended.ended_at + (ended.clear_down_until - ended.ended_at) * (
                    self.floor_rng.uniform(0.5, 0.9)
                )
                self._task(ready, "cleaned", space=ended.space, seat=ended.seat)
        # --- Per-visit after-care hooks: the visit has just gone to after-care. The lead adds
        # further after-care activity here.
        visit = self.open_visits.get(event.visit)
        if visit is not None:
            self._after_care(visit, event.at)

    def _after_care(self, visit: Visit, at: datetime) -> None:
        for key in ("visit_care", "referrals"):
            self.hooks.call(key, site=self.site, visit=visit, at=at, by=self.floor)

    def _forget(self, number: int) -> None:
        """The visit ends (left the queue, checked out): nothing more to do for it here."""
        self.sessions.pop(number, None)
        self.in_emergency.discard(number)
        self.unseated.discard(number)

    # Clients ----------------------------------------------------------------------------

    def _attributes(self, traits: engine.Traits) -> SchemeAttributes:
        rng = self.rng
        scheme = self.network.client_code_scheme
        birthday = date(traits.birth_year, 1, 1) + timedelta(days=rng.randrange(365))
        if scheme == ClientCodeScheme.CHOSEN_NAME:
            return SchemeAttributes(
                chosen_name=f"{rng.choice(CHOSEN_NAMES)} {rng.choice(INITIAL_LETTERS)}"
            )
        if scheme == ClientCodeScheme.GENDER_LETTERS_YOB:
            letters = "".join(rng.choice(INITIAL_LETTERS) for _ in range(4))
            return SchemeAttributes(
                sex=traits.gender, letters=letters, year_of_birth=traits.birth_year
            )
        initials = rng.choice(INITIAL_LETTERS) + rng.choice(INITIAL_LETTERS)
        return SchemeAttributes(initials=initials, date_of_birth=birthday, sex=traits.gender)

    def _register(self, event: engine.Arrival) -> Client:
        assert event.person is not None
        assert event.traits is not None
        traits = event.traits
        attrs = self._attributes(traits)
        key = uuid.uuid4()
        try:
            client = client_actions.register_client(
                site=self.site,
                attrs=attrs,
                gender=traits.gender,
                by=self.desk,
                idempotency_key=key,
                at=event.at,
            )
        except client_actions.LikelyDuplicate:
            # The desk checks the codes offered with the person: not them, so a new client.
            self.summary.duplicate_warnings += 1
            client = client_actions.register_client(
                site=self.site,
                attrs=attrs,
                gender=traits.gender,
                by=self.desk,
                idempotency_key=key,
                at=event.at,
                confirm_not_duplicate=True,
            )
        answers: dict[str, object] = {
            IntakeQuestion.YEARS_OF_USE: traits.years_of_use,
            IntakeQuestion.PAST_OVERDOSES: traits.past_overdoses,
            IntakeQuestion.CURRENT_TREATMENT: traits.current_treatment,
            IntakeQuestion.HOUSING_STATUS: traits.housing_status,
            IntakeQuestion.RESIDENCE_AREA: traits.residence_area,
            IntakeQuestion.OTHERWISE_LOCATION: event.otherwise_location,
        }
        client_actions.record_intake(
            client=client,
            site=self.site,
            answers={q: a for q, a in answers.items() if q in self.intake_questions},
            expected_version=NOT_YET_RECORDED,  # registered a moment ago, without one
            by=self.desk,
            at=event.at,
        )
        self.people[event.person] = _Person(client.display_code, client.pk, attrs)
        self.summary.registrations += 1
        return client

    def _find(self, person_id: int, at: datetime) -> Client | None:
        """The desk finds a returning client by the code on their card, or, when the card is
        lost, by the attributes they give again."""
        person = self.people.get(person_id)
        if person is None:
            return None
        if self.rng.random() < LOST_CARD_SHARE:
            self.summary.lost_cards += 1
            found = client_actions.find_by_attributes(
                network=self.network, attrs=person.attrs, today=self.site.local(at).date()
            )
            return next((c for c in found if c.pk == person.client_pk), None)
        return client_actions.find_by_code(network=self.network, typed_code=person.display_code)

    # Visits -----------------------------------------------------------------------------

    def _answers(self, failed: str = "") -> dict[str, bool]:
        """The eligibility questions this site asks, answered as a person who passes (or, for a
        turn-away, failing the one named)."""
        site = self.site
        answers: dict[str, bool] = {}
        if site.check_min_age:
            answers[rules.OLD_ENOUGH] = True
        if site.check_first_time_use:
            answers[rules.FIRST_TIME] = False
        if site.check_intoxicated:
            answers[rules.INTOXICATED] = False
        if site.check_pregnancy:
            answers[rules.PREGNANT] = False
        if site.check_residency:
            answers[rules.RESIDENT] = True
        if failed in FAILED_ANSWER:
            key, value = FAILED_ANSWER[failed]
            answers[key] = value
        return answers

    def _check_in(self, event: engine.Arrival) -> None:
        client: Client | None = None
        if not event.anonymous:
            if event.register:
                client = self._register(event)
            else:
                assert event.person is not None
                client = self._find(event.person, event.at)
                if client is None:
                    self.summary.refused["not_found"] += 1
                    return
        items = [self.substances[c] for c in event.substances if c in self.substances]
        if not items and "other" in self.substances:
            items = [self.substances["other"]]
        visit = floor_actions.check_in(
            site=self.site,
            client=client,
            anonymous=event.anonymous,
            planned_route=event.route,
            planned_substances=items,
            otherwise_location=event.otherwise_location,
            would_use_alone=event.would_use_alone,
            eligibility=self._answers(),
            by=self.desk,
            idempotency_key=uuid.uuid4(),
            at=event.at,
        )
        self.open_visits[event.visit] = visit
        self.summary.visits += 1
        self.summary.anonymous_visits += event.anonymous
        # --- Per-visit hook at check-in: a drug check of what the person brought.
        self.hooks.call("drug_checks", site=self.site, visit=visit, at=event.at, by=self.desk)

    def _turn_away(self, event: engine.Arrival) -> None:
        reason = self.reasons.get(event.turnaway_reason) or self.reasons.get("other")
        if reason is None:
            self.summary.refused["no_reason"] += 1
            return
        client = None
        if event.person is not None and event.person in self.people:
            client = self._find(event.person, event.at)
        floor_actions.turn_away(
            site=self.site,
            client=client,
            anonymous=event.anonymous,
            reason=reason,
            by=self.desk,
            idempotency_key=uuid.uuid4(),
            at=event.at,
            eligibility=self._answers(event.turnaway_reason),
        )
        self.summary.turned_away[event.turnaway_reason] += 1

    def _ban(self, event: engine.BanImposed) -> None:
        person = self.people.get(event.person)
        if person is None:
            return
        client = Client.objects.get(pk=person.client_pk)
        client_actions.set_ban(
            client=client,
            site=self.site,
            reason=event.reason,
            note="",
            starts_at=event.at,
            expires_at=event.at + timedelta(days=event.days),
            by=self.manager,
            idempotency_key=uuid.uuid4(),
            at=event.at,
        )
        self.summary.bans += 1


def run(
    *,
    sites: Sequence[Site],
    days: int,
    start: date,
    seed: int,
    profile: Profile | None = None,
    profile_for: Callable[[Site], Profile] | None = None,
    progress: Progress | None = None,
    pause: float = 0.0,
    hooks: dict[str, Callable[..., Any]] | None = None,
) -> Summary:
    """Simulate ``days`` local days from ``start`` at each site, day by day across the sites.
    Each site uses ``profile``, else ``profile_for(site)``, else its default profile.
    ``hooks`` replaces the other areas' hooks found by module (``{}``: none; tests)."""
    loaded = load_sites(sites)
    summary = Summary(sites=len(loaded), days=days)
    if not loaded or days <= 0:
        return summary
    desk = simulation_user(SIM_DESK_USERNAME, "Simulation (desk)", Role.DESK, loaded[0])
    floor = simulation_user(SIM_FLOOR_USERNAME, "Simulation (floor)", Role.FLOOR, loaded[0])
    manager = simulation_user(SIM_MANAGER_USERNAME, "Simulation (manager)", Role.MANAGER, loaded[0])
    shared_hooks = Hooks(seed, summary, functions=hooks)
    runs = []
    for site in loaded:
        if site.network_id != loaded[0].network_id:
            simulation_user(SIM_DESK_USERNAME, "", Role.DESK, site)
            simulation_user(SIM_FLOOR_USERNAME, "", Role.FLOOR, site)
            simulation_user(SIM_MANAGER_USERNAME, "", Role.MANAGER, site)
        chosen = profile or (profile_for(site) if profile_for else None)
        runs.append(
            SiteRun(
                site,
                chosen or get_profile(default_profile_name(site)),
                seed=seed,
                start=start,
                days=days,
                desk=desk,
                floor=floor,
                manager=manager,
                summary=summary,
                hooks=shared_hooks,
                pause=pause,
            )
        )
    # One run per network's first site gives that network's local day for its alerts.
    first_of_network: dict[int, SiteRun] = {}
    for site_run in runs:
        first_of_network.setdefault(site_run.network.pk, site_run)
    started = time.monotonic()
    for done in range(1, days + 1):
        day = start + timedelta(days=done - 1)
        for site_run in first_of_network.values():
            # --- Per-day, per-network hook: drug alerts across the network's sites.
            with transaction.atomic():
                shared_hooks.call(
                    "alerts",
                    network=site_run.network,
                    day_start=site_run.day_bounds(day)[0],
                    by=manager,
                )
        for site_run in runs:
            site_run.next_day()
        summary.seconds = time.monotonic() - started
        if progress is not None:
            progress.update(done, summary.arrivals, final=done == days)
    summary.seconds = time.monotonic() - started
    return summary
