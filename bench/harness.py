"""The measuring kit: a request to the real WSGI application (every middleware, no network),
nanosecond timings with warm-up, percentiles, query counts, the machine, and the one table.

Nothing here knows about the board: benchmark functions use it to time and count requests."""

from __future__ import annotations

import gc
import io
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import django
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection


@dataclass(frozen=True)
class Row:
    """One line of the table. Times are milliseconds; ``None`` prints as a dash."""

    measure: str
    samples: int | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    queries: str = ""
    target: str = ""
    result: str = ""  # PASS, FAIL, INFO or SKIP
    note: str = ""


@dataclass(frozen=True)
class Timings:
    """Server times of one kind of request, in nanoseconds, in the order taken; ``cpu_ns``
    the CPU time the serving thread itself used (the wall time minus any time the machine
    gave to other processes, or spent waiting on the disk)."""

    ns: Sequence[int]
    cpu_ns: Sequence[int] = ()

    @property
    def cpu(self) -> Timings:
        return Timings(self.cpu_ns)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        ordered = sorted(self.ns)
        rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
        return ordered[int(rank) - 1] / 1e6

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Request:
    """A GET as a browser on the board would send it: logged in, and for polls with the
    headers htmx and saferoom.js add."""

    path: str
    query: str = ""
    cookie: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, Any]:
        env: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": self.cookie,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            env["HTTP_" + name.upper().replace("-", "_")] = value
        return env


class Server:
    """saferoom's WSGI application, called in this process: what a worker does for one
    request from the moment its HTTP server hands the request over (routing, every
    middleware, the view, the database, closing the connection) and nothing of the network."""

    def __init__(self) -> None:
        self.app = WSGIHandler()

    def call(self, request: Request) -> tuple[Response, int, int]:
        """Serve one request: the response, the server time and the thread's CPU time (ns)."""
        environ = request.environ()
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            started.append((status, headers))
            return lambda data: None

        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            # request_finished: Django closes or recycles the database connection here.
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter_ns() - t0
        cpu = time.thread_time_ns() - c0
        status, headers = started[0]
        return Response(int(status.split()[0]), dict(headers), body), elapsed, cpu

    def get(self, request: Request) -> Response:
        return self.call(request)[0]

    def time(
        self,
        requests: Callable[[int], Request],
        *,
        samples: int,
        warmup: int,
        between: Callable[[int], None] | None = None,
        expect: int | None = None,
    ) -> Timings:
        """Serve ``warmup`` then ``samples`` requests (``requests(i)`` makes the i-th) and
        time each. ``between(i)`` runs before request i, untimed (a change to the board).
        ``expect`` is the status every request must get: a benchmark of the wrong answer is
        worse than none."""
        gc.collect()
        ns: list[int] = []
        cpu_ns: list[int] = []
        for i in range(warmup + samples):
            if between is not None:
                between(i)
            response, elapsed, cpu = self.call(requests(i))
            if expect is not None and response.status != expect:
                raise BenchError(
                    f"{requests(i).path}?{requests(i).query} answered {response.status}, "
                    f"expected {expect}: {response.body[:300]!r}"
                )
            if i >= warmup:
                ns.append(elapsed)
                cpu_ns.append(cpu)
        return Timings(ns, cpu_ns)


class BenchError(Exception):
    """The thing measured did not behave as the benchmark assumes."""


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """The SQL statements run on the default database meanwhile (with DEBUG off)."""
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield seen


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load average unknown"
    return (
        f"{os.cpu_count()} cores ({cpu_model()}, {load}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, Django {django.get_version()}"
    )


@contextmanager
def kept_connection(seconds: int = 600) -> Iterator[None]:
    """Meanwhile, keep the database connection between requests (CONN_MAX_AGE), as a
    deployment may choose: shows what opening a connection per request costs."""
    before = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = seconds
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = before


COLUMNS = ("Measure", "n", "p50 ms", "p95 ms", "p99 ms", "Queries", "Target", "Result")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(rows: Iterable[Row]) -> str:
    """One plain-text table; a row's note becomes a numbered footnote under it."""
    rows = list(rows)
    notes: list[str] = []
    cells = []
    for r in rows:
        measure = r.measure
        if r.note:
            notes.append(r.note)
            measure = f"{measure} [{len(notes)}]"
        cells.append(
            (
                measure,
                "—" if r.samples is None else str(r.samples),
                _ms(r.p50),
                _ms(r.p95),
                _ms(r.p99),
                r.queries or "—",
                r.target or "—",
                r.result or "—",
            )
        )
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(len(COLUMNS))]
    numeric = {1, 2, 3, 4}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if i in numeric else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [line(COLUMNS), rule, *(line(values) for values in cells)]
    out.extend(f"  [{i}] {note}" for i, note in enumerate(notes, start=1))
    return "\n".join(out)
