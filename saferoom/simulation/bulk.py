"""A fast generator of history for benchmarks and scale tests: the simulation engine's stream
(arrivals, registrations, turn-aways, people leaving the queue, sessions in booths and rooms,
emergencies, check-outs and closings, :mod:`saferoom.simulation.engine`) written straight into
the tables, many thousands of rows per statement (COPY on PostgreSQL), instead of through the
desk's and the floor's actions one visit at a time (``saferoom simulate`` does that, at about
75 visits a second, and exercises every rule on the way; this writes millions).

What is written, as the actions would have left it at the end of each day: clients (a code,
gender and year of birth; no intake), visits with their planned substances (checked in,
turned away with a reason, left the queue, checked out, or closed at closing), consumption
sessions in a seat of a space of the kind the engine chose, with their substances and
clear-down, and incidents for the engine's emergencies (with stimulation, naloxone, oxygen and
an ambulance as the incidents simulation does) plus a few non-medical ones. Not written: audit
events, idempotency keys, checks on the board, bans, drug checks, supplies and referrals.

A bulk import is not a live change: rows carry ``changed_at`` from before the import began,
and the sites' report rollups are forgotten afterwards so that they are built afresh
(ADR 10). Development and benchmarks only (``saferoom simulate --bulk`` refuses without
SAFEROOM_DEBUG=1).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from multiprocessing import get_context
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from saferoom.clients.codes import linkage_hashes
from saferoom.clients.models import Client
from saferoom.core.roles import Role
from saferoom.simulation import bulk_process, engine
from saferoom.simulation.profiles import Profile, get_profile
from saferoom.simulation.runner import (
    SIM_DESK_USERNAME,
    SIM_FLOOR_USERNAME,
    SIM_MANAGER_USERNAME,
    default_profile_name,
    load_sites,
    simulation_user,
    site_spec,
)
from saferoom.sites.models import CatalogueItem, Site, catalogue_for

# Rows are written when this many visits have piled up (and at the end).
VISITS_PER_WRITE = 40_000

CLIENT_COLUMNS = (
    "id", "network_id", "display_code", "linkage_hash", "linkage_layers", "scheme", "gender",
    "year_of_birth", "registered_at", "registered_site_id", "registered_by_id",
    "merged_into_id", "merged_at",
)  # fmt: skip
VISIT_COLUMNS = (
    "id", "site_id", "client_id", "anonymous", "arrived_at", "state", "planned_route",
    "otherwise_location", "would_use_alone", "eligibility", "turnaway_reason_id",
    "created_by_id", "ended_at", "ended_by_id", "end_reason", "changed_at",
    "aftercare_started_at", "stop_id",
)  # fmt: skip
SESSION_COLUMNS = (
    "id", "site_id", "visit_id", "space_id", "seat", "route", "started_at", "started_by_id",
    "check_interval_minutes", "next_check_due_at", "last_check_at", "escalated_at",
    "emergency_at", "emergency_by_id", "ended_at", "ended_by_id", "end_reason",
    "clear_down_until",
)  # fmt: skip
INCIDENT_COLUMNS = (
    "id", "site_id", "kind", "onset_at", "started_at", "started_by_id", "visit_id",
    "session_id", "client_id", "space_id", "location", "location_detail", "outcome",
    "outcome_at", "outcome_by_id", "hospital", "outcome_reason", "reviewed_at",
    "reviewed_by_id", "review_note",
)  # fmt: skip
INTERVENTION_COLUMNS = (
    "id", "incident_id", "kind", "at", "by_id", "recorded_at", "naloxone_mg", "naloxone_route",
    "oxygen_l_min", "breathing_rate", "spo2", "avpu", "note",
)  # fmt: skip

WRITTEN_TABLES = (
    "clients_client",
    "floor_visit",
    "floor_visit_planned_substances",
    "floor_consumptionsession",
    "floor_consumptionsession_substances",
    "incidents_incident",
    "incidents_intervention",
)
EMERGENCY_KINDS = {
    "opioid_overdose": "opioid",
    "stimulant_overamp": "stimulant",
    "other_medical": "other_medical",
}
# As saferoom.incidents.simulation: naloxone in a quarter of opioid overdoses, oxygen in
# 44%, two of three ambulances take the person to hospital, almost every incident reviewed.
NALOXONE_SHARE = 0.26
OXYGEN_SHARE = 0.44
HOSPITAL_GIVEN_AMBULANCE = 2 / 3
REVIEWED_SHARE = 0.95
# Non-medical incidents a day at a site (the incidents simulation's assumption).
STANDALONE_PER_DAY = (
    ("violence", "lounge", 0.05),
    ("dealing", "outside", 0.03),
    ("police", "door", 0.03),
    ("substance_found", "toilet", 0.08),
)

# Display codes: five characters of the code alphabet and a check character, made from a
# number so that bulk clients never share a code (clients.codes).
_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
_CODE_SPACE = len(_CODE_ALPHABET) ** 5
_CODE_STEP = 3_906_257  # coprime with 25**5: numbers n, n+1, … give scattered codes


def display_code_for(number: int) -> str:
    from saferoom.clients.codes import _check_char

    n = (number * _CODE_STEP) % _CODE_SPACE
    body = ""
    for _ in range(5):
        n, digit = divmod(n, len(_CODE_ALPHABET))
        body += _CODE_ALPHABET[digit]
    code = body + _check_char(body)
    return f"{code[:3]}-{code[3:]}"


def unique_display_code(number: int, taken: frozenset[str]) -> str:
    """``display_code_for(number)``, unless a client made another way (at the desk, or by an
    earlier run) already holds that code: then the same number's place in three other
    quarters of the code space, which no bulk client below a quarter of it can reach."""
    quarter = _CODE_SPACE // 4
    if not 0 < number < quarter:
        raise ValueError(f"bulk client numbers must stay below {quarter:,}")
    for candidate in (number, _CODE_SPACE - number, 2 * quarter - number, 2 * quarter + number):
        code = display_code_for(candidate)
        if code not in taken:
            return code
    raise RuntimeError("no free display code for a bulk client")  # four codes all taken


@dataclass
class BulkSummary:
    sites: int = 0
    days: int = 0
    arrivals: int = 0
    visits: int = 0
    turnaways: int = 0
    left_queue: int = 0
    sessions: int = 0
    clients: int = 0
    incidents: int = 0
    seconds: float = 0.0

    def add(self, other: BulkSummary) -> None:
        for name in (
            "arrivals", "visits", "turnaways", "left_queue", "sessions", "clients", "incidents",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def lines(self) -> list[str]:
        rate = self.arrivals / self.seconds if self.seconds else 0.0
        return [
            f"Wrote {self.days} day(s) at {self.sites} site(s) in {self.seconds:.1f} s "
            f"({rate:,.0f} arrivals/s).",
            f"Arrivals:        {self.arrivals:,}",
            f"Visits:          {self.visits:,} (left the queue {self.left_queue:,})",
            f"Turn-aways:      {self.turnaways:,}",
            f"New clients:     {self.clients:,}",
            f"Sessions:        {self.sessions:,}",
            f"Incidents:       {self.incidents:,}",
        ]


# --- ids ----------------------------------------------------------------------------------------


class Ids:
    """Primary keys handed out before the rows are written (sessions name their visit).
    PostgreSQL: taken from the table's own sequence (several writers at once are safe).
    SQLite: counted on from the largest id (one writer)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.free: list[int] = []
        self.next = 0
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608 - our table
                self.next = (cursor.fetchone()[0] or 0) + 1

    def take(self) -> int:
        if connection.vendor != "postgresql":
            self.next += 1
            return self.next - 1
        if not self.free:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                    "FROM generate_series(1, 20000)",
                    [self.table],
                )
                self.free = [row[0] for row in reversed(cursor.fetchall())]
        return self.free.pop()


# --- one site ---------------------------------------------------------------------------------


@dataclass
class _Seat:
    space_id: int
    seat: int
    clear_down: timedelta
    free_at: datetime


@dataclass
class _Rows:
    clients: list[tuple[Any, ...]] = field(default_factory=list)
    visits: list[list[Any]] = field(default_factory=list)
    planned: list[tuple[int, int]] = field(default_factory=list)
    sessions: list[list[Any]] = field(default_factory=list)
    session_substances: list[tuple[int, int]] = field(default_factory=list)
    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    interventions: list[tuple[Any, ...]] = field(default_factory=list)


class SiteWriter:
    """The engine's stream for one site, turned into rows and written in large batches."""

    def __init__(
        self,
        site: Site,
        profile: Profile,
        *,
        start: date,
        days: int,
        seed: int,
        users: dict[str, int],
        stamp: datetime,
        taken_codes: frozenset[str] = frozenset(),
    ) -> None:
        self.site = site
        self.taken_codes = taken_codes
        self.start = start
        self.days = days
        self.users = users
        self.stamp = stamp
        self.summary = BulkSummary(sites=1, days=days)
        self.rng = random.Random(f"saferoom-bulk:{seed}:{site.slug}")
        self.stream = engine.generate(
            site_spec(site), profile, start=start, days=days, seed=f"{seed}:{site.slug}"
        )
        substances = catalogue_for(site, CatalogueItem.Kind.SUBSTANCE)
        self.substances = {i.code: i.pk for i in substances}
        reasons = catalogue_for(site, CatalogueItem.Kind.TURNAWAY_REASON)
        self.reasons = {i.code: i.pk for i in reasons}
        self.seats: dict[str, list[_Seat]] = {}
        for space in site.spaces.all():
            if space.out_of_service or space.kind == "aftercare":
                continue
            for seat in range(1, space.seats + 1):
                self.seats.setdefault(space.kind, []).append(
                    _Seat(
                        space.pk,
                        seat,
                        timedelta(minutes=space.clear_down_minutes),
                        datetime.min.replace(tzinfo=UTC),
                    )
                )
        self.intervals = {
            kind: site.check_interval_for(kind) for kind in ("booth", "inhalation", "flexible")
        }
        self.scheme = site.network.client_code_scheme
        self.passed = json.dumps(_answers(site, ""))
        self.failed = {
            reason: json.dumps(_answers(site, reason))
            for reason in ("under_age", "first_time", "intoxicated", "pregnant", "not_resident")
        }
        self.people: dict[int, int] = {}
        self.ids = {
            name: Ids(table)
            for name, table in (
                ("client", "clients_client"),
                ("visit", "floor_visit"),
                ("session", "floor_consumptionsession"),
                ("incident", "incidents_incident"),
                ("intervention", "incidents_intervention"),
            )
        }
        self.rows = _Rows()

    # Writing --------------------------------------------------------------------------------

    def run(self, progress: Callable[[str], None] | None = None) -> BulkSummary:
        started = time.monotonic()
        for done, day in enumerate(self.stream, start=1):
            self.day(day)
            if len(self.rows.visits) >= VISITS_PER_WRITE:
                self.write()
                if progress is not None:
                    progress(f"{self.site.slug}: {done}/{self.days} days")
        self.write()
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def write(self) -> None:
        from saferoom.reports.rollups import insert_rows

        rows, self.rows = self.rows, _Rows()
        with transaction.atomic():
            insert_rows("clients_client", CLIENT_COLUMNS, rows.clients)
            insert_rows("floor_visit", VISIT_COLUMNS, rows.visits)
            insert_rows(
                "floor_visit_planned_substances", ("visit_id", "catalogueitem_id"), rows.planned
            )
            insert_rows("floor_consumptionsession", SESSION_COLUMNS, rows.sessions)
            insert_rows(
                "floor_consumptionsession_substances",
                ("consumptionsession_id", "catalogueitem_id"),
                rows.session_substances,
            )
            insert_rows("incidents_incident", INCIDENT_COLUMNS, rows.incidents)
            insert_rows("incidents_intervention", INTERVENTION_COLUMNS, rows.interventions)

    # One day --------------------------------------------------------------------------------

    def day(self, day: engine.SimDay) -> None:
        visits: dict[int, list[Any]] = {}  # the engine's visit number → the visit's row
        sessions: dict[int, tuple[list[Any], _Seat]] = {}
        items: dict[int, list[int]] = {}
        desk, floor = self.users["desk"], self.users["floor"]
        for event in day.events:
            if isinstance(event, engine.Arrival):
                self.arrival(event, visits, items)
            elif isinstance(event, engine.LeftQueue):
                row = visits.pop(event.visit, None)
                if row is not None:
                    self._end(row, event.at, "left_queue", desk)
                    self.summary.left_queue += 1
            elif isinstance(event, engine.SessionStarted):
                if event.visit in visits:
                    sessions[event.visit] = self.session(
                        event, visits[event.visit], items.get(event.visit, [])
                    )
            elif isinstance(event, engine.SessionEnded):
                session = sessions.pop(event.visit, None)
                if session is not None:
                    self._end_session(session, event.at, floor)
                    if event.visit in visits:
                        visits[event.visit][5] = "aftercare"
                        visits[event.visit][16] = event.at
            elif isinstance(event, engine.Emergency):
                open_session = sessions.get(event.visit)
                if open_session is not None and event.visit in visits:
                    self.emergency(event, visits[event.visit], open_session[0])
            elif isinstance(event, engine.Departure):
                row = visits.pop(event.visit, None)
                if row is not None:
                    if event.visit in sessions:
                        self._end_session(sessions.pop(event.visit), event.at, desk, "left")
                    self._end(row, event.at, "checked_out", desk)
            elif isinstance(event, engine.Closing):
                for number in list(visits):
                    row = visits[number]
                    if row[4] > event.at:
                        continue
                    session = sessions.pop(number, None)
                    if session is not None:
                        self._end_session(session, event.at, None, "closing")
                    self._end(visits.pop(number), event.at, "left_without_checkout", None)
        self.standalone_incidents(day.date)

    def arrival(
        self, event: engine.Arrival, visits: dict[int, list[Any]], items: dict[int, list[int]]
    ) -> None:
        self.summary.arrivals += 1
        desk = self.users["desk"]
        client_id: int | None = None
        if not event.anonymous and event.person is not None:
            if event.register and event.traits is not None:
                client_id = self.client(event.person, event.traits, event.at)
            else:
                client_id = self.people.get(event.person)
        turned_away = event.outcome == "turned_away"
        if not turned_away and client_id is None and not event.anonymous:
            return  # a returning person the stream never registered: nothing to write
        pk = self.ids["visit"].take()
        planned = [self.substances[c] for c in event.substances if c in self.substances]
        if not planned and "other" in self.substances:
            planned = [self.substances["other"]]
        self.rows.planned.extend((pk, item) for item in planned)
        row: list[Any] = [
            pk,
            self.site.pk,
            client_id,
            event.anonymous,
            event.at,
            "turned_away" if turned_away else "waiting",
            event.route,
            event.otherwise_location,
            event.would_use_alone,
            self.failed.get(event.turnaway_reason, self.passed),
            None,
            desk,
            None,
            None,
            "",
            self.stamp,
            None,
            None,
        ]
        self.rows.visits.append(row)
        if turned_away:
            row[10] = self.reasons.get(event.turnaway_reason) or self.reasons.get("other")
            self._end(row, event.at, "turned_away", desk, state="turned_away")
            self.summary.turnaways += 1
            return
        self.summary.visits += 1
        visits[event.visit] = row
        items[event.visit] = planned

    def client(self, person: int, traits: engine.Traits, at: datetime) -> int:
        pk = self.ids["client"].take()
        self.people[person] = pk
        self.rows.clients.append(
            (
                pk,
                self.site.network_id,
                unique_display_code(pk, self.taken_codes),
                *self.linkage(pk),
                self.scheme,
                traits.gender,
                traits.birth_year,
                at,
                self.site.pk,
                self.users["desk"],
                None,
                None,
            )
        )
        self.summary.clients += 1
        return pk

    def linkage(self, pk: int) -> tuple[str, int]:
        """A linkage hash and its layers as the desk stores them (under every configured key),
        of a text no code scheme's attributes normalise to: bulk clients have no attributes."""
        chain = linkage_hashes(self.site.network_id, self.scheme, f"bulk|{pk}")
        return chain[-1], len(chain)

    def session(
        self, event: engine.SessionStarted, visit: list[Any], items: list[int]
    ) -> tuple[list[Any], _Seat]:
        seats = self.seats.get(event.space_kind) or next(iter(self.seats.values()))
        seat = min(seats, key=lambda s: (s.free_at > event.at, s.free_at))
        pk = self.ids["session"].take()
        interval = self.intervals.get(event.space_kind, self.intervals["booth"])
        row: list[Any] = [
            pk,
            self.site.pk,
            visit[0],
            seat.space_id,
            seat.seat,
            event.route,
            event.at,
            self.users["floor"],
            interval,
            event.at + timedelta(minutes=interval),
            None,
            None,
            None,
            None,
            None,
            None,
            "",
            None,
        ]
        self.rows.sessions.append(row)
        self.rows.session_substances.extend((pk, item) for item in items)
        visit[5] = "in_space"
        self.summary.sessions += 1
        return row, seat

    @staticmethod
    def _end_session(
        session: tuple[list[Any], _Seat], at: datetime, by: int | None, reason: str | None = None
    ) -> None:
        row, seat = session
        ended = max(at, row[6])
        row[14] = ended
        row[15] = by
        row[16] = reason or ("emergency" if row[12] is not None else "finished")
        row[17] = ended + seat.clear_down
        seat.free_at = row[17]

    @staticmethod
    def _end(
        row: list[Any], at: datetime, reason: str, by: int | None, state: str = "left"
    ) -> None:
        row[5] = state
        row[12] = max(at, row[4])
        row[13] = by
        row[14] = reason

    def emergency(self, event: engine.Emergency, visit: list[Any], session: list[Any]) -> None:
        rng = self.rng
        floor, manager = self.users["floor"], self.users["manager"]
        session[12] = event.at
        session[13] = floor
        kind = EMERGENCY_KINDS.get(event.kind, "other_medical")
        pk = self.ids["incident"].take()
        taps: list[tuple[str, datetime, dict[str, Any]]] = [
            ("stimulation", event.at + timedelta(seconds=30), {})
        ]
        if kind == "opioid" and rng.random() < OXYGEN_SHARE:
            taps.append(("oxygen", event.at + timedelta(minutes=1), {"oxygen_l_min": 10}))
        if kind == "opioid" and rng.random() < NALOXONE_SHARE:
            taps.append(
                (
                    "naloxone",
                    event.at + timedelta(minutes=2),
                    {"naloxone_mg": Decimal("0.4"), "naloxone_route": "IM"},
                )
            )
        outcome, hospital = "recovered", ""
        if event.ambulance:
            taps.append(("ambulance_called", event.at + timedelta(minutes=3), {}))
            if rng.random() < HOSPITAL_GIVEN_AMBULANCE:
                outcome, hospital = "hospital", "Royal Infirmary"
        outcome_at = event.at + timedelta(minutes=rng.uniform(20, 50))
        reviewed = outcome_at + timedelta(days=1) if rng.random() < REVIEWED_SHARE else None
        self.rows.incidents.append(
            (
                pk, self.site.pk, kind, event.at, event.at + timedelta(seconds=20), floor,
                visit[0], session[0], visit[2], session[3], "space", "", outcome, outcome_at,
                floor, hospital, "", reviewed, manager if reviewed else None, "",
            )
        )  # fmt: skip
        for tap, at, values in taps:
            self.rows.interventions.append(
                (
                    self.ids["intervention"].take(), pk, tap, at, floor, at,
                    values.get("naloxone_mg"), values.get("naloxone_route", ""),
                    values.get("oxygen_l_min"), None, None, "", "",
                )
            )  # fmt: skip
        self.summary.incidents += 1

    def standalone_incidents(self, day: date) -> None:
        """Now and then a non-medical incident, some time in the afternoon."""
        rng = self.rng
        floor, manager = self.users["floor"], self.users["manager"]
        for kind, location, per_day in STANDALONE_PER_DAY:
            if rng.random() >= per_day:
                continue
            onset = datetime.combine(day, datetime.min.time(), tzinfo=self.site.tz) + timedelta(
                hours=rng.uniform(13, 19)
            )
            resolved = onset + timedelta(minutes=rng.uniform(5, 30))
            self.rows.incidents.append(
                (
                    self.ids["incident"].take(), self.site.pk, kind, onset, onset, floor, None,
                    None, None, None, location, "", "resolved", resolved, floor, "", "",
                    resolved + timedelta(days=1), manager, "",
                )
            )  # fmt: skip
            self.summary.incidents += 1


def _answers(site: Site, failed: str) -> dict[str, bool]:
    """The eligibility answers the desk records (as the simulation's runner gives them)."""
    from saferoom.simulation.runner import FAILED_ANSWER

    answers: dict[str, bool] = {}
    if site.check_min_age:
        answers["old_enough"] = True
    if site.check_first_time_use:
        answers["first_time"] = False
    if site.check_intoxicated:
        answers["intoxicated"] = False
    if site.check_pregnancy:
        answers["pregnant"] = False
    if site.check_residency:
        answers["resident"] = True
    if failed in FAILED_ANSWER:
        key, value = FAILED_ANSWER[failed]
        answers[key] = value
    return answers


# --- several sites ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    site_id: int
    profile: Profile
    start: date
    days: int
    seed: int
    users: dict[str, int]
    stamp: datetime
    taken_codes: frozenset[str] = frozenset()


def _run_job(job: _Job) -> BulkSummary:
    site = load_sites([Site.objects.get(pk=job.site_id)])[0]
    writer = SiteWriter(
        site,
        job.profile,
        start=job.start,
        days=job.days,
        seed=job.seed,
        users=job.users,
        stamp=job.stamp,
        taken_codes=job.taken_codes,
    )
    if connection.vendor != "postgresql":
        return writer.run()
    with connection.cursor() as cursor:
        # Made-up history that can be made again: no need to wait for each flush.
        cursor.execute("SET synchronous_commit = off")
    _skip_foreign_key_checks()
    try:
        return writer.run()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
            cursor.execute("RESET session_replication_role")


def _skip_foreign_key_checks() -> None:
    """PostgreSQL checks each row's foreign keys at commit, one lookup at a time: most of a
    bulk write's time. The rows written here point only at rows written before them or that
    exist, so where the account may (a superuser: a benchmark's own server) the checks are
    left out for this session; elsewhere they run."""
    from django.db import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
    except DatabaseError:
        pass


def generate(
    *,
    sites: Sequence[Site],
    days: int,
    start: date,
    seed: int = 1,
    profile: Profile | None = None,
    profile_for: Callable[[Site], Profile] | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> BulkSummary:
    """Write ``days`` local days of history from ``start`` at each site (the days must be
    over). On PostgreSQL, ``workers`` sites are written at once by separate processes."""
    from saferoom.reports import rollups

    if days < 1:
        raise ValueError("days must be at least 1")
    loaded = load_sites(sites)
    if not loaded:
        return BulkSummary()
    users = {
        "desk": simulation_user(SIM_DESK_USERNAME, "Simulation (desk)", Role.DESK, loaded[0]).pk,
        "floor": simulation_user(
            SIM_FLOOR_USERNAME, "Simulation (floor)", Role.FLOOR, loaded[0]
        ).pk,
        "manager": simulation_user(
            SIM_MANAGER_USERNAME, "Simulation (manager)", Role.MANAGER, loaded[0]
        ).pk,
    }
    stamp = timezone.now() - rollups.LAG - timedelta(minutes=1)
    # Codes held already (clients registered at the desk, an earlier run): bulk codes avoid them.
    taken_codes = frozenset(
        Client.objects.filter(network_id__in={site.network_id for site in loaded}).values_list(
            "display_code", flat=True
        )
    )
    jobs = [
        _Job(
            site_id=site.pk,
            profile=profile
            or (profile_for(site) if profile_for else None)
            or get_profile(default_profile_name(site)),
            start=start,
            days=days,
            seed=seed,
            users=users,
            stamp=stamp,
            taken_codes=taken_codes,
        )
        for site in loaded
    ]
    started = time.monotonic()
    summary = BulkSummary(sites=len(loaded), days=days)
    for done in _run_all(jobs, workers):
        summary.add(done)
        if progress is not None:
            rate = summary.arrivals / max(time.monotonic() - started, 1e-9)
            progress(f"{summary.arrivals:,} arrivals written ({rate:,.0f}/s)")
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would gather them later: without them the planner
        # takes millions of new rows for a few hundred.
        with connection.cursor() as cursor:
            for table in WRITTEN_TABLES:
                cursor.execute(f"ANALYZE {table}")
    rollups.forget(loaded)
    summary.seconds = time.monotonic() - started
    return summary


def _run_all(jobs: list[_Job], workers: int) -> Iterator[BulkSummary]:
    if workers <= 1 or len(jobs) <= 1 or connection.vendor != "postgresql":
        for job in jobs:
            yield _run_job(job)
        return
    database = {"NAME": connection.settings_dict["NAME"]}
    connection.close()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=bulk_process.set_up,
        initargs=(database,),
    ) as pool:
        yield from pool.map(_run_job, jobs)
