"""Load: saferoom served by its production WSGI server (gunicorn, as docs/operations.md runs
it) on loopback, driven over real HTTP by an open-loop driver of our own (threads and
``http.client``), with a busy evening's mix of people and devices:

- 20 board devices (tablets, the nurse station, the manager's screen), each polling its
  site's board every 1.5 s with the headers saferoom's board.js sends, and the version it shows;
- two desk PCs polling the queue every 5 s (``If-None-Match``, as queue.htmx.html does);
- the desk checking people in through the pages a person uses: the search page, a search by
  the code on the card (POST, CSRF), the check-in form (CSRF, its idempotency key, the
  eligibility answers), and the queue it lands on; someone who has waited too long leaves the
  queue (POST);
- nurses starting and ending sessions in booths and logging incidents with their
  interventions, through the JSON API with a token (as the van client and integrations do),
  and looking at the whole board page now and then; the desk opening a client's record;
- a manager reading the site's report dashboard (a logged-in page) and the indicators API.

Everyone logs in through the real login form (the manager too; if two-factor login stands in
the way, the manager's session is made in-process and marked as verified with a TOTP device).

Open loop: every request has a scheduled time, at the target rate, whatever the server does;
a request's latency runs from its scheduled time (so a slow server also makes the requests
waiting behind it late, as a real queue would), and every request must get the answer a
browser expects (a login page or a refusal is an error). The ceiling steps the rate up until
p95 reaches the target or an error appears; the same server's ceiling for the health check (a
trivial view: one ``SELECT 1``) shows what the mix costs over Django's floor."""

from __future__ import annotations

import http.client
import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from bench.harness import BenchError, Row, Timings

TARGET_RATE = 20.0  # requests a second: ten times the busiest known site's peak hour
TARGET_P95_MS = 200.0
SUSTAINED_SHARE = 0.95  # a stage "sustains" its rate when this share of it was served
POLL_INTERVAL_S = 1.5  # board.js: data-poll-ms defaults to 1500
QUEUE_POLL_S = 5.0  # queue.htmx.html: hx-trigger="every 5s"
DEVICES_AT_TARGET = 20
DESK_PCS = 2
# Desk workers taking turns: each searches and opens records within the per-person rate limits
# (SAFEROOM_RATE_LIMIT_SEARCHES and _RECORD_VIEWS per 10 minutes), as a busy desk's staff would.
DESK_STAFF = 24
# gunicorn --workers as docs/operations.md runs it: 2 × cores + 1 (gunicorn's own advice), so
# that a worker waiting on PostgreSQL does not leave a core idle.
WORKERS = 2 * (os.cpu_count() or 1) + 1
MAX_WAITING = 8  # more waiting than this at a site and the longest-waiting person leaves
PASSWORD = "bench-load-" + uuid.uuid4().hex  # throwaway personas of a temporary database
ROOT = Path(__file__).resolve().parents[1]
ELIGIBLE = {"old_enough": "yes", "first_time": "no", "intoxicated": "no"}

# Events a second of each kind at 20 requests a second (the board polls and queue polls follow
# from the devices); the board page fills what is left, so the mix adds up to the rate.
EVENTS_AT_TARGET = {
    "check-in": 0.3,  # 5 requests each (6 when someone leaves the queue first)
    "session start": 0.3,
    "session end": 0.3,
    "incident": 0.1,
    "client record": 0.3,
    "report dashboard": 0.15,
    "indicators API": 0.15,
}
REQUESTS_PER_EVENT = {"check-in": 5}


# --- HTTP -------------------------------------------------------------------------------------


class Form(HTMLParser):
    """The inputs of one HTML form (the first with ``action`` ending as asked, or the first).
    A form without an ``action`` posts to the page it is on (``here``), as in a browser."""

    def __init__(self, action: str = "", here: str = "") -> None:
        super().__init__()
        self.action = action
        self.here = here
        self.inside = False
        self.done = False
        self.fields: dict[str, list[tuple[str, str, bool]]] = {}  # name -> (type, value, checked)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and not self.inside:
            self.inside = not self.action or (a.get("action") or self.here).endswith(self.action)
        elif tag == "input" and self.inside and a.get("name"):
            self.fields.setdefault(a["name"], []).append(
                (a.get("type", "text"), a.get("value", ""), "checked" in a)
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside, self.done = False, True

    @classmethod
    def read(
        cls, html: bytes, action: str = "", here: str = ""
    ) -> dict[str, list[tuple[str, str, bool]]]:
        form = cls(action, here)
        form.feed(html.decode("utf-8", "replace"))
        return form.fields

    @staticmethod
    def value(fields: dict[str, list[tuple[str, str, bool]]], name: str) -> str:
        if name not in fields:
            raise LoadError(f"the form has no {name!r}")
        return fields[name][0][1]


class LoadError(Exception):
    """A request did not get the answer a browser expects."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Browser:
    """One person's or device's cookies (a session of its own)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()
        self.version = ""  # the board version this device shows
        self.etag = ""  # the queue version this desk shows

    def header(self) -> str:
        with self.lock:
            return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def remember(self, set_cookies: list[str]) -> None:
        with self.lock:
            for line in set_cookies:
                name, _, rest = line.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]


@dataclass
class Sample:
    kind: str
    ms: float
    error: str = ""


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


class Http:
    """Requests over one keep-alive connection per driver thread (``http.client`` reopens it
    when gunicorn's sync worker closes it, as a browser does)."""

    def __init__(self, port: int, recorder: Recorder) -> None:
        self.port = port
        self.recorder = recorder
        self.local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.local.conn = conn
        return conn

    def request(
        self,
        kind: str,
        browser: Browser | None,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        form: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        since: float | None = None,
        record: bool = True,
    ) -> Answer:
        """Send one request and check its status; ``since`` is its scheduled time
        (``perf_counter``), from which its latency runs."""
        sent_headers = {"Host": "127.0.0.1", **(headers or {})}
        data: bytes | None = None
        if form is not None:
            data = urlencode(form, doseq=True).encode()
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        if browser is not None and browser.cookies:
            sent_headers["Cookie"] = browser.header()
        started = time.perf_counter() if since is None else since
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=sent_headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            self.local.conn = None
            message = f"{method} {_shape(path)}: {type(error).__name__} {error}"
            if record:
                self.recorder.add(Sample(kind, _ms_since(started), message))
            raise LoadError(message) from None
        elapsed = _ms_since(started)
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
        if browser is not None:
            browser.remember(response.headers.get_all("Set-Cookie") or [])
        problem = ""
        if response.status not in expect:
            problem = f"{method} {_shape(path)} answered {response.status}, expected {expect}"
            location = answer.headers.get("location", "")
            if "/login/" in location:
                problem += " (sent to the login page)"
        elif "hx-redirect" in answer.headers:
            problem = f"{method} {_shape(path)} was logged out (HX-Redirect)"
        if record:
            self.recorder.add(Sample(kind, elapsed, problem))
        if problem:
            raise LoadError(problem)
        return answer


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _shape(path: str) -> str:
    """The path with its ids as ``N``: error messages name the address, not the record."""
    return re.sub(r"/\d+", "/N", path.split("?", 1)[0])


# --- The world the load works on ---------------------------------------------------------------


@dataclass
class SiteState:
    slug: str
    places: int
    booths: deque[tuple[int, float]]  # (space id, free from: perf_counter)
    waiting: deque[int]  # visit ids, longest waiting first
    sessions: deque[tuple[int, int, int]]  # (session id, visit id, client id), oldest first
    heroin: int  # the catalogue id the check-in form offers for it


@dataclass
class Cast:
    """Who and what the load uses (made in-process, before the server starts)."""

    desk: list[str]
    nurse: str
    manager: str
    nurse_token: str
    manager_token: str
    sites: dict[str, SiteState]
    busy: str  # the slug of the busiest site (the manager's, with months of history)
    clients: deque[tuple[int, str]]  # (client id, display code) not on site now
    client_ids: dict[int, int]  # visit id -> client id, for visits made by the load
    codes: dict[int, str]  # client id -> display code, for the load's people
    history: str
    # site slug -> the cookie of a tablet enrolled for it (ADR 14: desk and floor staff log in
    # with a password only on an enrolled tablet), as a manager's enrolment code would set it
    tablets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def prepare(world: Any, *, quick: bool) -> Cast:
    """Personas with passwords, API tokens, people not on site yet, and a busy site's recent
    history (rolled up, as the worker keeps it) for the manager's reports."""
    from django.db import DatabaseError
    from django.db.models import Q

    from saferoom.accounts import tablets
    from saferoom.accounts.models import EnrolledTablet
    from saferoom.api.actions import create_token
    from saferoom.clients.actions import register_client
    from saferoom.clients.codes import SchemeAttributes
    from saferoom.core.models import User
    from saferoom.core.roles import Role
    from saferoom.floor.models import ConsumptionSession, Visit
    from saferoom.incidents.models import Incident
    from saferoom.reports import rollups
    from saferoom.simulation import bulk
    from saferoom.simulation.profiles import get_profile
    from saferoom.sites.models import CatalogueItem, Membership

    network = world.network
    names = {"nurse": "load.nurse", "manager": "load.manager"}
    names.update({f"desk{i}": f"load.desk{i}" for i in range(1, DESK_STAFF + 1)})
    users = {}
    for part, username in names.items():
        user = User.objects.create_user(username=username, password=PASSWORD, display_name=part)
        users[part] = user
        role = {"nurse": Role.FLOOR, "manager": Role.MANAGER}.get(part, Role.DESK)
        for floor in world.floors.values():
            Membership.objects.create(user=user, network=network, site=floor.site, role=role)
    _, nurse_token = create_token(user=users["nurse"], name="load: nurse tablet", by=world.admin)
    tablet_cookies = {}
    for floor in world.floors.values():
        secret = tablets.new_secret()
        EnrolledTablet.objects.create(
            site=floor.site,
            label="Load tablet",
            secret_hash=tablets.secret_hash(secret),
            enrolled_by=world.admin,
            enrolled_at=datetime.now(UTC),
        )
        tablet_cookies[floor.site.slug] = secret
    _, manager_token = create_token(user=users["manager"], name="load: reports", by=world.admin)

    now = datetime.now(UTC)
    heroin = CatalogueItem.objects.get(network=network, site=None, kind="substance", code="heroin")
    sites: dict[str, SiteState] = {}
    engaged = set(
        Incident.objects.exclude(visit=None).values_list("visit_id", flat=True)
    )  # an emergency's session is left to the emergency
    for places, floor in world.floors.items():
        site = floor.site
        active = ConsumptionSession.objects.filter(
            site=site, ended_at=None, space__kind="booth"
        ).order_by("started_at")
        busy_spaces = set(
            ConsumptionSession.objects.filter(site=site, space__kind="booth")
            .filter(Q(ended_at=None) | Q(clear_down_until__gt=now))
            .values_list("space_id", flat=True)
        )
        free = [
            (pk, 0.0)
            for pk in site.spaces.filter(kind="booth", out_of_service=False)
            .exclude(pk__in=busy_spaces)
            .order_by("sort_order")
            .values_list("pk", flat=True)
        ]
        sites[site.slug] = SiteState(
            slug=site.slug,
            places=places,
            booths=deque(free),
            waiting=deque(
                Visit.objects.filter(site=site, state="waiting", planned_route="inject")
                .order_by("arrived_at")
                .values_list("pk", flat=True)
            ),
            sessions=deque(
                (s.pk, s.visit_id, s.visit.client_id or 0)
                for s in active.select_related("visit")
                if s.visit_id not in engaged
            ),
            heroin=heroin.pk,
        )
    people = 60 if quick else 400
    clients: deque[tuple[int, str]] = deque()
    first_site = world.floors[min(world.floors)].site
    for n in range(people):
        client = register_client(
            site=first_site,
            attrs=SchemeAttributes(
                initials="ZYXWVUTSRQPNMLKJHG"[n % 18] + "ZYXWVUTSRQPNMLKJHG"[(n // 18) % 18],
                date_of_birth=date(1950 + n % 45, 1 + n % 12, 1 + (n * 7) % 28),
                sex="female" if n % 3 else "male",
            ),
            gender="female" if n % 3 else "male",
            by=world.desk,
            idempotency_key=uuid.uuid4(),
            confirm_not_duplicate=True,
        )
        clients.append((client.pk, client.display_code))

    busy = world.floors[max(world.floors)].site
    days, per_day = (7, 60) if quick else (60, 300)
    today = datetime.now(UTC).date()
    started = time.monotonic()
    bulk.generate(
        sites=[busy],
        days=days,
        start=today - timedelta(days=days + 1),
        seed=7,
        profile=get_profile("nrw").override(visits_per_day=per_day),
    )
    try:
        rollups.build()
        rolled = "rolled up"
    except DatabaseError as error:  # the reports then count from the raw rows
        rolled = f"rollups not built: {type(error).__name__}"
    history = (
        f"{busy.name}: {days} days of history at {per_day} visits a day "
        f"(bulk generator, {rolled}, {time.monotonic() - started:.0f} s)"
    )
    return Cast(
        desk=[names[f"desk{i}"] for i in range(1, DESK_STAFF + 1)],
        nurse=names["nurse"],
        manager=names["manager"],
        nurse_token=nurse_token,
        manager_token=manager_token,
        sites=sites,
        busy=busy.slug,
        clients=clients,
        client_ids={},
        codes=dict(clients),
        tablets=tablet_cookies,
        history=history,
    )


# --- The server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def database_url() -> str | None:
    """For PostgreSQL, the URL of the benchmark's own database (the bench switched this
    process to a fresh one); for SQLite, None: the server finds the same file through the
    same SAFEROOM_VAR_DIR."""
    from django.db import connection

    url = os.environ.get("SAFEROOM_DATABASE_URL")
    if connection.vendor != "postgresql" or not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + str(connection.settings_dict["NAME"])))


SERVER_PIDS: dict[int, int] = {}  # port -> gunicorn's master process


def server_cpu(port: int) -> float:
    """CPU seconds used so far by the server on ``port``: gunicorn's master and its workers
    (Linux /proc; 0.0 elsewhere)."""
    pid = SERVER_PIDS.get(port)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for p in [str(pid), *kids]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0
    return total


@contextmanager
def served(folder: Path, workers: int = WORKERS) -> Iterator[int]:
    """gunicorn serving saferoom's WSGI application on a free loopback port, with this
    process's production-like settings and database; yields the port."""
    port = _free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.server_settings")
    url = database_url()
    if url:
        env["SAFEROOM_DATABASE_URL"] = url
    log = folder / f"gunicorn-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "saferoom.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "30",
        "--graceful-timeout",
        "5",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn did not start: {_tail(log)}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health/", headers={"Host": "127.0.0.1"})
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer /health/ within 60 s: {_tail(log)}")
            time.sleep(0.2)
        SERVER_PIDS[port] = process.pid
        yield port
    finally:
        SERVER_PIDS.pop(port, None)
        if os.environ.get("SAFEROOM_LOAD_LOG"):
            Path(os.environ["SAFEROOM_LOAD_LOG"]).write_bytes(log.read_bytes())
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-1500:]
    except OSError:
        return "(no log)"


# --- The people and devices -------------------------------------------------------------------


class Driver:
    """What each kind of event does, over HTTP, against the cast's world."""

    def __init__(self, cast: Cast, http: Http) -> None:
        self.cast = cast
        self.http = http
        self.devices: list[tuple[Browser, str]] = []
        self.desks: list[tuple[Browser, str]] = []
        self.desk_staff: list[Browser] = []
        self.turns = 0
        self.nurse = Browser("nurse")
        self.manager = Browser("manager")
        self.manager_how = ""
        self.done: dict[str, int] = {}
        self.done_lock = threading.Lock()
        weights = sorted(cast.sites.values(), key=lambda s: -s.places)
        # Devices by size: the 30-place site has most tablets.
        self.device_sites = [s.slug for s in weights for _ in range(max(1, round(s.places / 2.5)))]

    def count(self, what: str) -> None:
        with self.done_lock:
            self.done[what] = self.done.get(what, 0) + 1

    # Logging in ---------------------------------------------------------------------------

    def on_tablet(self, browser: Browser, site: str) -> Browser:
        """``browser`` becomes a tablet enrolled for ``site`` (its cookie)."""
        from django.conf import settings

        browser.cookies[settings.TABLET_COOKIE_NAME] = self.cast.tablets[site]
        return browser

    def log_in(self, browser: Browser, username: str) -> Answer:
        page = self.http.request("login", browser, "GET", "/login/", record=False)
        token = Form.value(Form.read(page.body), "csrfmiddlewaretoken")
        return self.http.request(
            "login",
            browser,
            "POST",
            "/login/",
            expect=(302,),
            form={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
            record=False,
        )

    def log_everyone_in(self, devices: int) -> None:
        """Fresh sessions for every device and person (a stage may start more than 15
        minutes after the last: polls alone do not keep a session alive, on purpose)."""
        self.devices = []
        for i in range(devices):
            site = self.device_sites[i % len(self.device_sites)]
            browser = self.on_tablet(Browser(f"device {i + 1}"), site)
            self.log_in(browser, self.cast.nurse)
            self.devices.append((browser, site))
        self.desks = []
        slugs = sorted(self.cast.sites, key=lambda s: -self.cast.sites[s].places)
        for i in range(DESK_PCS):
            site = slugs[i % len(slugs)]
            browser = self.on_tablet(Browser(f"desk {i + 1}"), site)
            self.log_in(browser, self.cast.desk[i])
            self.desks.append((browser, site))
        self.desk_staff = []
        for username in self.cast.desk:
            browser = self.on_tablet(Browser(username), slugs[0])
            self.log_in(browser, username)
            self.desk_staff.append(browser)
        self.nurse = self.on_tablet(Browser("nurse"), self.cast.busy)
        self.log_in(self.nurse, self.cast.nurse)
        self.manager = self.manager_session()

    def manager_session(self) -> Browser:
        """The manager through the login form; if a second factor is asked for, a session
        made in-process and marked as verified by a TOTP device (when django-otp is there)."""
        dashboard = f"/sites/{self.cast.busy}/reports/"
        browser = Browser("manager")
        self.log_in(browser, self.cast.manager)
        try:
            self.http.request("report dashboard", browser, "GET", dashboard, record=False)
            self.manager_how = "logged in through the login form"
            return browser
        except LoadError:
            pass
        browser = Browser("manager")
        browser.cookies.update(_verified_session(self.cast.manager))
        try:
            self.http.request("report dashboard", browser, "GET", dashboard, record=False)
        except LoadError as error:
            raise BenchError(f"the manager cannot open the report dashboard: {error}") from None
        self.manager_how = "session made in-process and verified with a TOTP device"
        return browser

    # Devices ------------------------------------------------------------------------------

    def board_poll(self, device: int, since: float) -> None:
        browser, slug = self.devices[device % len(self.devices)]
        answer = self.http.request(
            "board poll",
            browser,
            "GET",
            f"/sites/{slug}/floor/poll/?v={browser.version}",
            expect=(200, 204),
            headers={"HX-Request": "true", "X-Saferoom-Poll": "1"},
            since=since,
        )
        if answer.status == 200:
            match = re.search(rb'data-version="(\d+)"', answer.body)
            browser.version = match.group(1).decode() if match else ""

    def queue_poll(self, desk: int, since: float) -> None:
        browser, slug = self.desks[desk % len(self.desks)]
        headers = {"HX-Request": "true", "X-Saferoom-Poll": "1"}
        if browser.etag:
            headers["If-None-Match"] = browser.etag
        answer = self.http.request(
            "queue poll",
            browser,
            "GET",
            f"/sites/{slug}/desk/",
            expect=(200, 204),  # 204: unchanged (htmx leaves the page alone)
            headers=headers,
            since=since,
        )
        browser.etag = answer.headers.get("etag", browser.etag)

    def health(self, since: float) -> None:
        self.http.request("health", None, "GET", "/health/", since=since)

    # The desk -----------------------------------------------------------------------------

    def _site_for_desk(self) -> SiteState:
        # Arrivals in proportion to the sites' sizes.
        sites = sorted(self.cast.sites.values(), key=lambda s: s.places)
        total = sum(s.places for s in sites)
        pick = (uuid.uuid4().int % total) + 1
        for s in sites:
            pick -= s.places
            if pick <= 0:
                return s
        return sites[-1]

    @property
    def desk(self) -> Browser:
        """The next desk worker in turn."""
        with self.done_lock:
            self.turns += 1
            return self.desk_staff[self.turns % len(self.desk_staff)]

    def check_in(self, since: float) -> None:
        cast, desk = self.cast, self.desk
        site = self._site_for_desk()
        leaving = None
        with cast.lock:
            if not cast.clients:
                self.count("check-in skipped: nobody left to arrive")
                return self.board_page(since)
            client_id, code = cast.clients.popleft()
            if len(site.waiting) > MAX_WAITING:
                leaving = site.waiting.popleft()
        try:
            base = f"/sites/{site.slug}"
            if leaving is not None:
                # Someone who has waited too long leaves the queue (the desk's button).
                queue = self.http.request("check-in", desk, "GET", f"{base}/desk/", since=since)
                since = time.perf_counter()
                token = Form.value(Form.read(queue.body), "csrfmiddlewaretoken")
                self.http.request(
                    "check-in",
                    desk,
                    "POST",
                    f"{base}/desk/visits/{leaving}/left/",
                    expect=(302,),
                    form={"csrfmiddlewaretoken": token},
                )
                self._returns(leaving)
                self.count("left the queue")
            find = self.http.request("check-in", desk, "GET", f"{base}/clients/", since=since)
            token = Form.value(Form.read(find.body), "csrfmiddlewaretoken")
            found = self.http.request(
                "check-in",
                desk,
                "POST",
                f"{base}/clients/",
                form={"csrfmiddlewaretoken": token, "search": "code", "code": code},
            )
            if f"/desk/checkin/{client_id}/".encode() not in found.body:
                raise LoadError("the search by code did not find the client")
            checkin = f"{base}/desk/checkin/{client_id}/"
            page = self.http.request("check-in", desk, "GET", checkin)
            fields = Form.read(page.body, checkin, here=checkin)
            answers: dict[str, Any] = {
                "csrfmiddlewaretoken": Form.value(fields, "csrfmiddlewaretoken"),
                "idempotency_key": Form.value(fields, "idempotency_key"),
                "route": "inject",
                "substances": [str(site.heroin)],
                "otherwise_location": "street",
                "would_use_alone": "yes",
            }
            for name, choices in fields.items():
                if name not in answers and choices and choices[0][0] == "radio":
                    answers[name] = ELIGIBLE.get(name, "no")
            self.http.request(
                "check-in",
                desk,
                "POST",
                f"{base}/desk/checkin/{client_id}/",
                expect=(302,),
                form=answers,
            )
            queue = self.http.request("check-in", desk, "GET", f"{base}/desk/")
            visit = _visit_in_queue(queue.body, code)
        except LoadError:
            with cast.lock:
                cast.clients.append((client_id, code))
            raise
        with cast.lock:
            site.waiting.append(visit)
            cast.client_ids[visit] = client_id
        self.count("checked in")

    def client_record(self, since: float) -> None:
        with self.cast.lock:
            site = self._site_for_desk()
            visit = site.waiting[-1] if site.waiting else None
            client = self.cast.client_ids.get(visit or 0)
        if client is None:
            return self.board_page(since)
        self.http.request(
            "client record", self.desk, "GET", f"/sites/{site.slug}/clients/{client}/", since=since
        )

    def _returns(self, visit: int) -> None:
        """The person has left the site: they may come back later."""
        with self.cast.lock:
            client = self.cast.client_ids.pop(visit, None)
            if client is not None:
                self.cast.clients.append((client, self.cast.codes[client]))

    # The floor ----------------------------------------------------------------------------

    def board_page(self, since: float) -> None:
        _device, slug = self.devices[int(since * 1000) % len(self.devices)]
        self.http.request("board page", self.nurse, "GET", f"/sites/{slug}/floor/", since=since)

    def session_start(self, since: float) -> None:
        now = time.perf_counter()
        with self.cast.lock:
            chosen = None
            for site in self.cast.sites.values():
                free = [b for b in site.booths if b[1] <= now]
                if site.waiting and free:
                    chosen = site
                    site.booths.remove(free[0])
                    space = free[0][0]
                    visit = site.waiting.popleft()
                    break
        if chosen is None:
            self.count("session start: no one waiting for a free booth (board page instead)")
            return self.board_page(since)
        try:
            answer = self.http.request(
                "session start",
                None,
                "POST",
                f"/api/v1/sites/{chosen.slug}/sessions",
                expect=(201,),
                body={"visit_id": visit, "space_id": space, "seat": 1},
                headers=self._api(self.cast.nurse_token),
                since=since,
            )
        except LoadError:
            with self.cast.lock:
                chosen.booths.append((space, 0.0))
            raise
        session = json.loads(answer.body)["id"]
        with self.cast.lock:
            chosen.sessions.append((session, visit, self.cast.client_ids.get(visit, 0)))
        self.count("sessions started")

    def session_end(self, since: float) -> None:
        with self.cast.lock:
            candidates = [s for s in self.cast.sites.values() if s.sessions]
            site = max(candidates, key=lambda s: len(s.sessions), default=None)
            ending = site.sessions.popleft() if site is not None else None
        if site is None or ending is None:
            self.count("session end: nobody in a booth (board page instead)")
            return self.board_page(since)
        session, visit, _client = ending
        answer = self.http.request(
            "session end",
            None,
            "POST",
            f"/api/v1/sites/{site.slug}/sessions/{session}/end",
            expect=(201,),
            body={"to_aftercare": False},
            headers=self._api(self.cast.nurse_token),
            since=since,
        )
        ended = json.loads(answer.body)
        until = datetime.fromisoformat(ended["clear_down_until"] or ended["ended_at"])
        free_in = max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1.0
        with self.cast.lock:
            site.booths.append((ended["space_id"], time.perf_counter() + free_in))
        self._returns(visit)
        self.count("sessions ended")

    def incident(self, since: float) -> None:
        site = self.cast.sites[self.cast.busy]
        now = datetime.now(UTC)
        body = {
            "location": "lounge",
            "kind": "opioid",
            "onset_at": (now - timedelta(minutes=3)).isoformat(),
            "interventions": [
                {"kind": "stimulation", "at": (now - timedelta(seconds=150)).isoformat()},
                {"kind": "airway", "at": (now - timedelta(seconds=130)).isoformat()},
                {
                    "kind": "naloxone",
                    "at": (now - timedelta(seconds=100)).isoformat(),
                    "naloxone_mg": "0.4",
                    "naloxone_route": "IM",
                },
            ],
        }
        self.http.request(
            "incident",
            None,
            "POST",
            f"/api/v1/sites/{site.slug}/incidents",
            expect=(201,),
            body=body,
            headers=self._api(self.cast.nurse_token),
            since=since,
        )
        self.count("incidents logged")

    # The manager --------------------------------------------------------------------------

    def report_dashboard(self, since: float) -> None:
        self.http.request(
            "report dashboard",
            self.manager,
            "GET",
            f"/sites/{self.cast.busy}/reports/",
            since=since,
        )

    def indicators(self, since: float) -> None:
        month = datetime.now(UTC).strftime("%Y-%m")
        self.http.request(
            "indicators API",
            None,
            "GET",
            f"/api/v1/sites/{self.cast.busy}/indicators?period={month}",
            headers=self._api(self.cast.manager_token),
            since=since,
        )

    @staticmethod
    def _api(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


def _visit_in_queue(html: bytes, code: str) -> int:
    """The visit id of the queue row that shows ``code`` (its "left the queue" form)."""
    at = html.find(f'<span class="code">{code}</span>'.encode())
    match = re.compile(rb"/desk/visits/(\d+)/left/").search(html, at) if at >= 0 else None
    if match is None:
        raise LoadError("the person checked in is not on the queue")
    return int(match.group(1))


def _verified_session(username: str) -> dict[str, str]:
    """A session for ``username`` made in-process, marked as having passed a TOTP device when
    django-otp is installed (the bench's own stand-in for the second factor)."""
    from django.conf import settings
    from django.test import Client as TestClient

    from saferoom.core.models import User

    user = User.objects.get(username=username)
    client = TestClient()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    try:
        otp = importlib.import_module("django_otp")
        totp = importlib.import_module("django_otp.plugins.otp_totp.models")
    except ImportError:
        return {settings.SESSION_COOKIE_NAME: key}
    device = totp.TOTPDevice.objects.create(user=user, name="load bench", confirmed=True)
    # The configured engine (saferoom's own keeps the sessions in its own table).
    engine = importlib.import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key=key)
    session[otp.DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return {settings.SESSION_COOKIE_NAME: key}


# --- Running a stage --------------------------------------------------------------------------


@dataclass
class Stage:
    rate: float  # requests a second scheduled
    seconds: float
    samples: list[Sample]
    wall: float
    driver_late_ms: float  # p95 of how late the driver started events (its own overload)
    server_cpu: float = 0.0  # CPU seconds the server used during the stage (when measured)
    driver_cpu: float = 0.0  # and this process (the driver)

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    @property
    def served_rate(self) -> float:
        return len(self.samples) / max(self.seconds, self.wall)

    def timings(self, kind: str | None = None) -> Timings:
        return Timings([int(s.ms * 1e6) for s in self.samples if kind in (None, s.kind)])

    @property
    def sustained(self) -> bool:
        return (
            not self.errors
            and bool(self.samples)
            and self.timings().p95 < TARGET_P95_MS
            and self.served_rate >= SUSTAINED_SHARE * self.rate
        )

    def verdict(self) -> str:
        if not self.samples:
            return "no requests"
        t = self.timings()
        parts = [
            f"{self.rate:g}/s: p95 {t.p95:.0f} ms",
            f"{self.served_rate:.1f}/s served",
        ]
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        return ", ".join(parts) + (" ✓" if self.sustained else " ✗")


def events(rate: float, seconds: float) -> list[tuple[float, str, int]]:
    """(time from start, kind, index) of every event of the mix at ``rate`` requests a second:
    evenly spaced per kind, each kind with its own phase."""
    scale = rate / TARGET_RATE
    devices = max(1, round(DEVICES_AT_TARGET * scale))
    out: list[tuple[float, str, int]] = []
    for d in range(devices):
        t = POLL_INTERVAL_S * d / devices
        while t < seconds:
            out.append((t, "board poll", d))
            t += POLL_INTERVAL_S
    desks = max(1, round(DESK_PCS * scale))
    for d in range(desks):
        t = QUEUE_POLL_S * (d + 0.5) / desks
        while t < seconds:
            out.append((t, "queue poll", d))
            t += QUEUE_POLL_S
    per_second = dict(EVENTS_AT_TARGET)
    polls = devices / POLL_INTERVAL_S + desks / QUEUE_POLL_S
    others = sum(r * REQUESTS_PER_EVENT.get(k, 1) * scale for k, r in per_second.items())
    per_second = {k: r * scale for k, r in per_second.items()}
    per_second["board page"] = max(0.0, rate - polls - others)
    for n, (kind, every) in enumerate(sorted(per_second.items())):
        if every <= 0:
            continue
        gap = 1 / every
        t = gap * (n + 1) / (len(per_second) + 1)
        i = 0
        while t < seconds:
            out.append((t, kind, i))
            t += gap
            i += 1
    return sorted(out)


def health_events(rate: float, seconds: float) -> list[tuple[float, str, int]]:
    gap = 1 / rate
    return [(i * gap, "health", i) for i in range(int(seconds * rate))]


def run_stage(
    driver: Driver, plan: list[tuple[float, str, int]], rate: float, seconds: float
) -> Stage:
    """Send ``plan`` open-loop: each event at its time, on a pool of threads, whatever the
    answers to earlier ones."""
    recorder = Recorder()
    driver.http.recorder = recorder
    actions: dict[str, Callable[[int, float], None]] = {
        "board poll": driver.board_poll,
        "queue poll": driver.queue_poll,
        "health": lambda i, since: driver.health(since),
        "check-in": lambda i, since: driver.check_in(since),
        "session start": lambda i, since: driver.session_start(since),
        "session end": lambda i, since: driver.session_end(since),
        "incident": lambda i, since: driver.incident(since),
        "client record": lambda i, since: driver.client_record(since),
        "board page": lambda i, since: driver.board_page(since),
        "report dashboard": lambda i, since: driver.report_dashboard(since),
        "indicators API": lambda i, since: driver.indicators(since),
    }
    late: list[float] = []

    def perform(kind: str, index: int, scheduled: float) -> None:
        late.append((time.perf_counter() - scheduled) * 1000)
        with suppress(LoadError):  # recorded as the request's error
            actions[kind](index, scheduled)

    threads = max(16, min(256, int(rate * 2)))
    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load") as pool:
        futures = []
        for offset, kind, index in plan:
            scheduled = start + offset
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            futures.append(pool.submit(perform, kind, index, scheduled))
        wait(futures, timeout=120)
    wall = time.perf_counter() - start
    late_t = Timings([int(v * 1e6) for v in late]) if late else Timings([0])
    return Stage(rate, seconds, recorder.samples, wall, late_t.p95)


# --- The benchmark ------------------------------------------------------------------------------


@dataclass
class LoadOptions:
    seconds: float  # the sustained run
    step_seconds: float  # each step of the ceiling searches
    folder: Path
    quick: bool = False
    max_steps: int = 9


def _load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def _ceiling(
    driver: Driver,
    first: float,
    planner: Callable[[float, float], list[tuple[float, str, int]]],
    opts: LoadOptions,
    *,
    relog: bool,
) -> tuple[Stage | None, list[Stage]]:
    """Step the rate up by half each time until a step is not sustained: the last good step."""
    best: Stage | None = None
    tried: list[Stage] = []
    rate = first
    for _ in range(opts.max_steps):
        if relog:
            driver.log_everyone_in(max(1, round(DEVICES_AT_TARGET * rate / TARGET_RATE)))
        stage = run_stage(driver, planner(rate, opts.step_seconds), rate, opts.step_seconds)
        tried.append(stage)
        if not stage.sustained:
            break
        best = stage
        rate = round(rate * 1.5)
    return best, tried


def load_rows(world: Any, opts: LoadOptions) -> list[Row]:
    """Every load row: the sustained mix at 20/s, its kinds, and the two ceilings."""
    cast = prepare(world, quick=opts.quick)
    load_before = _load_average()
    with served(opts.folder) as port:
        driver = Driver(cast, Http(port, Recorder()))
        driver.log_everyone_in(DEVICES_AT_TARGET)
        # Untimed first: each worker's first requests load templates, URLs and connections.
        warm = min(30.0, max(3.0, opts.seconds / 10))
        run_stage(driver, events(TARGET_RATE, warm), TARGET_RATE, warm)
        server_before, driver_before = server_cpu(port), time.process_time()
        main = run_stage(driver, events(TARGET_RATE, opts.seconds), TARGET_RATE, opts.seconds)
        main.server_cpu = server_cpu(port) - server_before
        main.driver_cpu = time.process_time() - driver_before
        load_after = _load_average()
        mix_best, mix_tried = _ceiling(driver, TARGET_RATE, events, opts, relog=True)
        health_best, health_tried = _ceiling(driver, 50.0, health_events, opts, relog=False)
    return _rows(
        main,
        driver,
        cast,
        opts,
        load_before,
        load_after,
        mix_best,
        mix_tried,
        health_best,
        health_tried,
    )


def _rows(
    main: Stage,
    driver: Driver,
    cast: Cast,
    opts: LoadOptions,
    load_before: str,
    load_after: str,
    mix_best: Stage | None,
    mix_tried: list[Stage],
    health_best: Stage | None,
    health_tried: list[Stage],
) -> list[Row]:
    t = main.timings()
    target = f"p95 < {TARGET_P95_MS:g} ms, 0 errors, ≥{SUSTAINED_SHARE * TARGET_RATE:g}/s"
    errors = main.errors
    shown = "; ".join(sorted({e.error for e in errors})[:3])
    done = ", ".join(f"{v} {k}" for k, v in sorted(driver.done.items()))
    rows = [
        Row(
            f"Load: the mix at {TARGET_RATE:g} req/s for {opts.seconds:g} s, real server",
            samples=len(main.samples),
            p50=t.p50 if main.samples else None,
            p95=t.p95 if main.samples else None,
            p99=t.p99 if main.samples else None,
            target=target,
            result="PASS" if main.sustained else "FAIL",
            note=(
                f"gunicorn, {WORKERS} sync workers, on loopback; {main.served_rate:.1f} req/s "
                f"served, {len(errors)} errors{': ' + shown if shown else ''}; load average "
                f"{load_before} before, {load_after} after; driver late p95 "
                f"{main.driver_late_ms:.0f} ms; CPU a second of the run: server "
                f"{main.server_cpu / main.wall:.2f} s "
                f"({1000 * main.server_cpu / max(1, len(main.samples)):.0f} ms a request), driver "
                f"{main.driver_cpu / main.wall:.2f} s; {done}; manager {driver.manager_how}; "
                f"{cast.history}"
            ),
        )
    ]
    kinds = sorted({s.kind for s in main.samples})
    for kind in kinds:
        kt = main.timings(kind)
        n_errors = sum(1 for s in main.samples if s.kind == kind and s.error)
        rows.append(
            Row(
                f"  load: {kind}",
                samples=len(kt.ns),
                p50=kt.p50,
                p95=kt.p95,
                p99=kt.p99,
                result="INFO",
                queries=f"{n_errors} err" if n_errors else "",
            )
        )

    def ceiling_row(name: str, best: Stage | None, tried: list[Stage]) -> Row:
        steps = "; ".join(s.verdict() for s in tried)
        if best is None:
            return Row(f"{name}: below the first step", result="INFO", note=steps)
        bt = best.timings()
        capped = " (the last step tried: the ceiling is higher)" if best is tried[-1] else ""
        return Row(
            f"{name}: {best.rate:g} req/s{capped}",
            samples=len(best.samples),
            p50=bt.p50,
            p95=bt.p95,
            p99=bt.p99,
            target=f"p95 < {TARGET_P95_MS:g} ms, 0 errors",
            result="INFO",
            note=f"{opts.step_seconds:g} s a step, +50% each: {steps}",
        )

    rows.append(ceiling_row("Load ceiling, the mix", mix_best, mix_tried))
    rows.append(ceiling_row("Load ceiling, health check (trivial view)", health_best, health_tried))
    if mix_best is not None and health_best is not None:
        rows.append(
            Row(
                f"Mix ceiling / health-check ceiling: {mix_best.rate / health_best.rate:.2f}",
                result="INFO",
                note="the share of the bare server's rate the realistic mix keeps",
            )
        )
    return rows
