"""Each indicator's time in a network's annual report, on a network smaller than the
benchmark's 20 sites (ADR 10's measurements), in a PostgreSQL database of its own that is
written once and reused::

    nice -n 19 python -m bench.network_profile --postgres URL --sites 4 --years 5

The network is the benchmark's (``bench.reports.network_data``), only with fewer sites or
years; its rollups are brought up to date, then the annual report of its last full year is
computed ``--runs`` times (after one untimed run) and each indicator timed as the report
computes it (an indicator's time includes the facts it is the first to read).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.network_profile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--postgres", metavar="URL", required=True, help="PostgreSQL server")
    parser.add_argument("--sites", type=int, default=4, help="sites in the network (default 4)")
    parser.add_argument("--years", type=int, default=5, help="years of history (default 5)")
    parser.add_argument("--runs", type=int, default=5, help="timed reports (default 5)")
    parser.add_argument(
        "--database", metavar="NAME", help="database name (default saferoom_bench_net_SxY)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop and write the network again")
    args = parser.parse_args(argv)
    if args.sites < 2 or args.years < 1 or args.runs < 1:
        parser.error("--sites must be at least 2, --years and --runs at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import _environment

    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="saferoom-bench-") as folder:
        _environment(Path(folder), args.postgres)
        import django

        django.setup()
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from bench import reports
    from saferoom.reports import registry
    from saferoom.reports.periods import year
    from saferoom.reports.publish import publish
    from saferoom.reports.scopes import network_scope, scope_rule

    name = args.database or f"saferoom_bench_net_{args.sites}x{args.years}"
    with reports.OtherDatabase(name, fresh=args.fresh):
        data = reports.network_data(False, sites_n=args.sites, years=args.years)
        print(data.describe(), flush=True)
        scope = network_scope(data.network, year(data.last.year))
        codes = list(registry.load())
        times: dict[str, list[float]] = defaultdict(list)
        totals: list[float] = []
        for run in range(args.runs + 1):
            ctx = registry.Context(scope)
            started = time.perf_counter()
            for code in codes:
                t0 = time.perf_counter()
                ctx.result(code)
                if run:
                    times[code].append((time.perf_counter() - t0) * 1000)
            report = registry.Report(
                scope=scope, results={c: ctx.result(c) for c in codes}, support={}
            )
            publish(report, scope_rule(scope))
            if run:
                totals.append((time.perf_counter() - started) * 1000)
        print(f"annual report {data.last.year}, {len(data.sites)} sites, {args.runs} runs:")
        print(f"  whole report (compute + publish) p50 {statistics.median(totals):.0f} ms")
        for code in codes:
            print(f"  {code:5} p50 {statistics.median(times[code]):7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
