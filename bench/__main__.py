"""``python -m bench`` (``make bench``): build a fresh database, fill it through the real
actions, run every benchmark in :mod:`bench.benchmarks` and print one table.

    python -m bench                     # SQLite, a fresh temporary file
    python -m bench --quick             # a few samples of each: checks the harness, not speed
    python -m bench --postgres URL      # the same on PostgreSQL (a fresh database, dropped after)
    python -m bench --strict            # exit 1 if any row fails its target
    python -m bench --only report       # only the benchmarks whose name holds "report"
    python -m bench --only load --load-duration 120   # the load run alone, for two minutes

Reports (issue 5): every run times a busy site's month and year reports on SQLite or
PostgreSQL; with --postgres it also times a network's annual report on 20 sites × 5 years
(about 10 million visits), written once into the database saferoom_bench_network on that
server and reused by later runs (--rebuild-network writes it again; it takes a while).

Times are server times measured in this process by calling saferoom's WSGI application (every
middleware, the view, the database); they exclude the network and HTTP parsing.

Load (issue 7, bench/load.py) is the exception: saferoom served by gunicorn on loopback and
driven over HTTP by a realistic mix at 20 requests a second for --load-duration seconds
(default 600), then the highest rate the mix sustains and the same server's rate for its health
check; its times are what the client sees."""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.harness import Row
    from bench.scenario import World


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL server")
    parser.add_argument("--samples", type=int, default=3000, help="unchanged polls per row")
    parser.add_argument("--changed", type=int, default=500, help="changed polls per row")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests first")
    parser.add_argument("--quick", action="store_true", help="tiny samples: test the harness")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a row fails")
    parser.add_argument(
        "--only", metavar="TEXT", help="only the benchmarks whose function name holds TEXT"
    )
    parser.add_argument(
        "--rebuild-network",
        action="store_true",
        help="PostgreSQL: write the network report's 10 million visits again",
    )
    parser.add_argument(
        "--show-queries", action="store_true", help="print the SQL of each counted request"
    )
    parser.add_argument(
        "--load-duration",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long the load run sustains its 20 requests a second (default 600)",
    )
    parser.add_argument(
        "--load-step",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long each step of the load ceiling searches lasts (default 30)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.changed, args.warmup = 40, 10, 25
        args.load_duration, args.load_step = 4.0, 2.0
    if args.load_duration <= 0 or args.load_step <= 0:
        parser.error("--load-duration and --load-step must be positive")
    if args.samples < 1 or args.changed < 1 or args.warmup < 0:
        parser.error("--samples and --changed must be at least 1, --warmup at least 0")
    return args


def _environment(folder: Path, postgres: str | None) -> None:
    """Production-like settings for this process: DEBUG off, throwaway secrets, and a database
    of our own (SQLite: a file in ``folder``, configured exactly as saferoom ships it)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["SAFEROOM_DEBUG"] = "0"
    os.environ["SAFEROOM_VAR_DIR"] = str(folder)
    (folder / "static").mkdir()  # STATIC_ROOT: nothing is collected, but it must exist
    os.environ["SAFEROOM_SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["SAFEROOM_LINKAGE_KEY"] = secrets.token_urlsafe(32)
    os.environ["SAFEROOM_AUDIT_KEY"] = secrets.token_urlsafe(32)  # the audit chain's HMAC key
    # A throwaway Fernet key for fields encrypted at rest (32 random bytes, url-safe base64).
    os.environ["SAFEROOM_FIELD_KEYS"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    os.environ["SAFEROOM_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["SAFEROOM_SSL_REDIRECT"] = "0"
    os.environ.pop("SAFEROOM_TESTING", None)
    if postgres:
        os.environ["SAFEROOM_DATABASE_URL"] = postgres
    else:
        os.environ.pop("SAFEROOM_DATABASE_URL", None)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="saferoom-bench-") as folder:
        _environment(Path(folder), args.postgres)
        import django

        django.setup()
        return _run(args)


def _database_description() -> str:
    from django.db import connection

    conn_max_age = connection.settings_dict.get("CONN_MAX_AGE") or 0
    reuse = (
        "a new connection per request (CONN_MAX_AGE=0, as shipped)"
        if not conn_max_age
        else f"connections kept {conn_max_age} s (CONN_MAX_AGE)"
    )
    if connection.vendor == "sqlite":
        return f"SQLite, a fresh temporary file, WAL, synchronous=FULL; {reuse}"
    version = int(getattr(connection, "pg_version", 0))
    server = ".".join(str(part) for part in divmod(version, 10000))
    return f"PostgreSQL {server}, a fresh database, dropped after; {reuse}"


def _run(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from django.db import connection

    from bench import benchmarks, scenario
    from bench.harness import BenchError, Row, Server, machine, table

    started = time.monotonic()
    old_name = None
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = f"saferoom_bench_{uuid.uuid4().hex[:12]}"
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    else:
        call_command("migrate", verbosity=0, interactive=False)
    try:
        world = scenario.build()
        run = benchmarks.Run(
            world=world,
            server=Server(),
            samples=args.samples,
            changed=args.changed,
            warmup=args.warmup,
            quick=args.quick,
            rebuild_network=args.rebuild_network,
        )
        rows: list[Row] = []
        chosen = [b for b in benchmarks.BENCHMARKS if not args.only or args.only in b.__name__]
        for benchmark in chosen:
            try:
                rows.extend(benchmark(run))
            except BenchError as error:
                name = (benchmark.__doc__ or benchmark.__name__).split("\n")[0]
                rows.append(Row(benchmark.__name__, result="ERROR", note=f"{name} — {error}"))
        if not args.only or args.only in "load_real_server":
            rows.extend(_load(world, args))
        print(_report(world, args, table(rows), machine(), _database_description()))
        if args.show_queries:
            for label, statements in benchmarks.SQL.items():
                print(f"\n{label}: {len(statements)} queries")
                for sql in statements:
                    print(f"  - {sql}")
        print(f"\n(took {time.monotonic() - started:.0f} s)")
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    failed = [row for row in rows if row.result in ("FAIL", "ERROR")]
    return 1 if failed and args.strict else 0


def _load(world: World, args: argparse.Namespace) -> list[Row]:
    """The load run against the real server (bench/load.py), in a folder of its own."""
    from bench import harness, load

    with tempfile.TemporaryDirectory(prefix="saferoom-load-") as folder:
        options = load.LoadOptions(
            seconds=args.load_duration,
            step_seconds=args.load_step,
            folder=Path(folder),
            quick=args.quick,
            max_steps=2 if args.quick else 9,
        )
        try:
            return load.load_rows(world, options)
        except harness.BenchError as error:
            return [harness.Row("load_real_server", result="ERROR", note=f"Load — {error}")]


def _report(
    world: World, args: argparse.Namespace, rows_table: str, machine_line: str, database_line: str
) -> str:
    floor = world.floor(30)
    lines = [
        "saferoom bench — the board as 20 devices polling every 1.5 s would exercise it",
        f"Machine:  {machine_line}",
        f"Database: {database_line}",
        f"Board:    {floor.describe()} (built through the real actions)"
        if world.board is not None
        else f"Board:    not built yet; the 30-place site has {floor.waiting} waiting",
        "Method:   server time of saferoom's WSGI application called in-process (routing, every "
        "middleware, view, database,",
        "          closing the connection): excludes network and HTTP parsing. DEBUG off. "
        f"{len(world.cookies['floor'])} logged-in devices in turn.",
        f"          time.perf_counter_ns; {args.warmup} untimed requests first; percentiles "
        "are nearest-rank; Queries = SQL statements per request.",
        "Reports:  compute_report + publish called in-process (no HTTP) on history written by "
        "the bulk generator, rollups built;",
        "          one untimed run first; Queries = SQL statements per report.",
        "",
        rows_table,
    ]
    if args.quick:
        lines.append("\n--quick: tiny samples; these numbers check the harness, not the speed.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
