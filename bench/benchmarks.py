"""The benchmarks ``make bench`` runs, in table order. Each takes the :class:`Run` (the world,
the server and the sample sizes) and returns rows; add a function to :data:`BENCHMARKS` to add
rows. A benchmark whose code does not exist yet says so in a SKIP row instead of vanishing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.urls import reverse
from django.utils import timezone

from bench.harness import Request, Row, Server, Timings, counting_queries, kept_connection
from bench.scenario import DEVICES, World
from saferoom.floor import queue

# Every device asks every 1.5 s (issue 3), so the server answers this many polls a second.
POLL_INTERVAL_S = 1.5
POLLS_PER_SECOND = DEVICES / POLL_INTERVAL_S
UNCHANGED_P95_TARGET_MS = 5.0
POLL_HEADERS = {"HX-Request": "true", "X-Saferoom-Poll": "1"}


@dataclass
class Run:
    world: World
    server: Server
    samples: int  # unchanged polls per benchmark
    changed: int  # changed polls per benchmark
    warmup: int
    quick: bool = False  # --quick: small data, few runs (checks the harness)
    rebuild_network: bool = False  # --rebuild-network: write the network's history again


Benchmark = Callable[[Run], list[Row]]


def _timed(
    measure: str,
    t: Timings,
    *,
    queries: int | str,
    target_ms: float | None = None,
    note: str = "",
) -> Row:
    if target_ms is None:
        target, result = "", "INFO"
    else:
        target = f"p95 < {target_ms:g} ms"
        result = "PASS" if t.p95 < target_ms else "FAIL"
    return Row(
        measure,
        samples=len(t.ns),
        p50=t.p50,
        p95=t.p95,
        p99=t.p99,
        queries=str(queries),
        target=target,
        result=result,
        note=note,
    )


# The SQL of every request counted, by measure, for ``--show-queries``.
SQL: dict[str, list[str]] = {}


def _queries(server: Server, request: Request, label: str) -> tuple[int, int]:
    """(status, statements run) for one request, in the steady state. The same request is
    served once first: a page view (not a poll) records the session's activity at most once a
    minute, and that write is not what is being counted."""
    server.get(request)
    with counting_queries() as seen:
        response = server.get(request)
    SQL[label] = seen
    return response.status, len(seen)


# --- The board ---------------------------------------------------------------------------------


def _board_requests(run: Run, places: int, version: Callable[[], int]) -> Callable[[int], Request]:
    board_site = run.world.floor(places).site
    path = reverse("board:poll", kwargs={"site": board_site.slug})
    cookies = run.world.cookies["floor"]

    def make(i: int) -> Request:
        return Request(
            path, query=f"v={version()}", cookie=cookies[i % len(cookies)], headers=POLL_HEADERS
        )

    return make


def board_poll(run: Run) -> list[Row]:
    """The board's poll on the 30-place site, from 20 devices in turn: unchanged (the answer
    is an empty 204) and changed (the board was bumped since the device's version: the
    partial is rendered)."""
    board = run.world.board
    if board is None:
        return [
            Row(
                "Board poll (unchanged / changed)",
                target=f"p95 < {UNCHANGED_P95_TARGET_MS:g} ms",
                result="SKIP",
                note="saferoom.floor.board or the URL board:poll does not exist yet",
            )
        ]
    site = run.world.floor(30).site
    # What every device shows: read afresh (untimed) before each series of unchanged polls.
    shown = {"version": board.board_version(site)}
    unchanged = _board_requests(run, 30, lambda: shown["version"])
    t_same = run.server.time(unchanged, samples=run.samples, warmup=run.warmup, expect=204)
    _, unchanged_queries = _queries(run.server, unchanged(0), "Board poll, unchanged")

    # Each changed poll: the board moved on (untimed), the device still holds the old version.
    seen = {"version": board.board_version(site)}

    def bump(i: int) -> None:
        seen["version"] = board.bump_board(site) - 1

    changed = _board_requests(run, 30, lambda: seen["version"])
    t_changed = run.server.time(
        changed, samples=run.changed, warmup=min(run.warmup, 50), between=bump, expect=200
    )
    bump(0)
    _, changed_queries = _queries(run.server, changed(0), "Board poll, changed")
    load = POLLS_PER_SECOND * t_same.p50 / 1000
    rows = [
        _timed(
            "Board poll, unchanged (204), 30 places",
            t_same,
            queries=unchanged_queries,
            target_ms=UNCHANGED_P95_TARGET_MS,
            note=f"20 devices / 1.5 s = {POLLS_PER_SECOND:.1f} polls/s: "
            f"{load:.1%} of one worker at p50",
        ),
        _timed(
            "Board poll, changed (200 + partial)",
            t_changed,
            queries=changed_queries,
            note=f"every change is fetched by all {DEVICES} devices within 1.5 s: "
            f"about {DEVICES * t_changed.p50:.0f} ms of server time per change at p50",
        ),
    ]
    rows.insert(
        1,
        _timed(
            "Board poll, unchanged: CPU time only",
            t_same.cpu,
            queries=unchanged_queries,
            note="the same polls, counting only the CPU time of the serving thread: what is "
            "left of the time above when other processes on the machine are not in the way",
        ),
    )
    if not connection.settings_dict.get("CONN_MAX_AGE"):
        shown["version"] = board.board_version(site)
        with kept_connection():
            t_kept = run.server.time(unchanged, samples=run.samples, warmup=run.warmup, expect=204)
        rows.insert(
            2,
            _timed(
                "Board poll, unchanged, connection kept",
                t_kept,
                queries=unchanged_queries,
                note="the same polls with CONN_MAX_AGE=600, to show what opening SQLite, "
                "setting its PRAGMAs and closing it (the last connection to close checkpoints "
                "the WAL) costs on every request. Not a target: not how saferoom ships",
            ),
        )
    return rows


def board_page_queries(run: Run) -> list[Row]:
    """The full board page's query count at 5, 15 and 30 places: it must not grow."""
    if run.world.board is None:
        return [
            Row(
                "Board page queries at 5 / 15 / 30 places",
                target="constant",
                result="SKIP",
                note="the board page (board:board) does not exist yet",
            )
        ]
    counted: list[int] = []
    timings: list[Timings] = []
    cookies = run.world.cookies["floor"]

    def page_of(path: str) -> Callable[[int], Request]:
        return lambda i: Request(path, cookie=cookies[i % len(cookies)])

    for places in sorted(run.world.floors):
        path = reverse("board:board", kwargs={"site": run.world.floor(places).site.slug})
        timings.append(
            run.server.time(page_of(path), samples=max(20, run.changed // 2), warmup=20, expect=200)
        )
        request = Request(path, cookie=cookies[0])
        _, n = _queries(run.server, request, f"Board page, {places} places")
        counted.append(n)
    constant = len(set(counted)) == 1
    sizes = " / ".join(str(p) for p in sorted(run.world.floors))
    return [
        Row(
            f"Board page queries at {sizes} places",
            queries=" / ".join(str(n) for n in counted),
            target="constant",
            result="PASS" if constant else "FAIL",
        ),
        _timed("Board page, full GET, 30 places", timings[-1], queries=counted[-1]),
    ]


# --- The desk's queue --------------------------------------------------------------------------


def _queue_version(site_slug: str) -> str:
    from saferoom.sites.models import Site

    site = Site.objects.get(slug=site_slug)
    now: datetime = timezone.now()
    return queue.version(site, queue.counting_window(site, now)).strip('"')


def queue_poll(run: Run) -> list[Row]:
    """The desk's queue polling itself (floor:queue with its version) on the 30-place site."""
    site = run.world.floor(30).site
    path = reverse("floor:queue", kwargs={"site": site.slug})
    cookies = run.world.cookies["desk"]
    # The version is read afresh (untimed) before each request: the desk's counting window
    # rolls over at noon and midnight, and a run may straddle one.
    holder = {"version": _queue_version(site.slug)}

    def refresh(i: int) -> None:
        holder["version"] = _queue_version(site.slug)

    def make(i: int, stale: bool = False) -> Request:
        etag = "stale" if stale else holder["version"]
        headers = {**POLL_HEADERS, "If-None-Match": f'"{etag}"'}
        return Request(path, cookie=cookies[i % len(cookies)], headers=headers)

    t_same = run.server.time(
        make, samples=run.samples, warmup=run.warmup, between=refresh, expect=204
    )
    refresh(0)
    _, same_queries = _queries(run.server, make(0), "Desk queue poll, unchanged")
    t_changed = run.server.time(
        lambda i: make(i, stale=True), samples=run.changed, warmup=min(run.warmup, 50), expect=200
    )
    _, changed_queries = _queries(run.server, make(0, stale=True), "Desk queue poll, changed")
    return [
        _timed("Desk queue poll, unchanged (204)", t_same, queries=same_queries),
        _timed("Desk queue poll, changed (200 + partial)", t_changed, queries=changed_queries),
    ]


# --- Capacity planning (issue 6) ----------------------------------------------------------------

CAPACITY_YEAR_TARGET_MS = 10_000.0


def capacity_year_500_a_day(run: Run) -> list[Row]:
    """A year's capacity simulation of a 500-visits-a-day site (the ``busy-urban-500`` profile,
    about 182,500 arrivals), three runs; pure Python + NumPy, so no server or database."""
    import time

    from saferoom.evaluation.capacity import PlanInput, load_profile, simulate

    measure = "Capacity simulation, a year at 500 visits a day"
    plan = PlanInput(
        profile=load_profile("busy-urban-500"),
        booths=12,
        inhalation_rooms=4,
        seats_per_room=2,
        days=365,
    )
    ns: list[int] = []
    for seed in (1, 2, 3):
        started = time.perf_counter_ns()
        result = simulate(plan.replace(seed=seed))
        ns.append(time.perf_counter_ns() - started)
    t = Timings(ns)
    return [
        Row(
            measure,
            samples=len(ns),
            p50=t.p50,
            p95=t.p95,
            p99=t.p99,
            target=f"p95 < {CAPACITY_YEAR_TARGET_MS:g} ms",
            result="PASS" if t.p95 < CAPACITY_YEAR_TARGET_MS else "FAIL",
            note=f"{result.arrivals:,} arrivals simulated",
        )
    ]


# --- Evaluation: probabilistic sensitivity analysis (issue 6) ----------------------------------

PSA_TARGET_MS = 1_000.0
PSA_DRAWS = 100_000


def psa_full_model(run: Run) -> list[Row]:
    """A 100,000-draw PSA of the full model (the Irwin 2017 preset: every module, 39 inputs
    drawn, summaries, histogram and tornado), five runs with different seeds; pure Python +
    NumPy, so no server or database."""
    import time

    from saferoom.evaluation.parameters import load_preset, with_overrides
    from saferoom.evaluation.psa import run_psa

    preset = with_overrides(load_preset("irwin-2017-baltimore"), {"emergency.ed_cost": 1000.0})
    run_psa(preset, draws=1_000, seed=0)  # warm-up: imports and first allocations
    ns: list[int] = []
    for seed in (1, 2, 3, 4, 5):
        started = time.perf_counter_ns()
        result = run_psa(preset, draws=PSA_DRAWS, seed=seed)
        ns.append(time.perf_counter_ns() - started)
    t = Timings(ns)
    return [
        Row(
            f"PSA, full model, {PSA_DRAWS:,} draws",
            samples=len(ns),
            p50=t.p50,
            p95=t.p95,
            p99=t.p99,
            target=f"p95 < {PSA_TARGET_MS:g} ms",
            result="PASS" if t.p95 < PSA_TARGET_MS else "FAIL",
            note=f"{len(result.varied)} inputs drawn; P(net benefit > 0) = "
            f"{result.probability_net_benefit_positive:.1%}",
        )
    ]


# --- Reports at scale (issue 5) -----------------------------------------------------------------


def report_one_busy_site(run: Run) -> list[Row]:
    """A busy site's month and year reports (a year at 500 arrivals a day, rolled up) against
    300 ms, and the same headline figures by a plain SQL GROUP BY over the raw tables."""
    from bench import reports

    data = reports.busy_site(run.quick)
    return reports.busy_site_reports(data, runs=2 if run.quick else 7)


def report_network(run: Run) -> list[Row]:
    """A network's annual report (20 sites, 5 years, about 10 million arrivals, rolled up)
    against 1 s, on PostgreSQL only: the history is written once into a database of its own
    and reused (``--rebuild-network`` writes it again)."""
    from bench import reports

    if connection.vendor != "postgresql":
        return [
            Row(
                "Network: annual report, 20 sites × 5 years",
                target=f"p95 < {reports.NETWORK_REPORT_TARGET_MS:g} ms",
                result="NOT RUN",
                note="PostgreSQL only: python -m bench --postgres URL (the 10 million visits "
                f"are written once into {reports.NETWORK_DATABASE} on that server)",
            )
        ]
    name = reports.NETWORK_DATABASE + ("_quick" if run.quick else "")
    with reports.OtherDatabase(name, fresh=run.rebuild_network):
        data = reports.network_data(run.quick)
        return reports.network_reports(data, runs=2 if run.quick else 5)


BENCHMARKS: list[Benchmark] = [
    board_poll,
    board_page_queries,
    queue_poll,
    capacity_year_500_a_day,
    psa_full_model,
    report_one_busy_site,
    report_network,
]
