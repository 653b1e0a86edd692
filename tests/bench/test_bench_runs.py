"""`make bench` must keep working: the harness runs end to end in its reduced mode (a few
samples of each measure, on a fresh SQLite file) and prints its one table with every row.

It runs as `make bench` does, in a separate process: the benchmark configures Django itself,
with production-like settings and its own database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def output() -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SAFEROOM_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"python -m bench --quick failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_bench_prints_the_machine_and_how_it_measured(output):
    assert "Machine:" in output
    assert "SQLite" in output
    assert "cores" in output
    assert "excludes network" in output


def test_the_bench_prints_one_table_with_every_measure(output):
    table = [line for line in output.splitlines() if line.startswith("|")]
    assert table[0].split("|")[1].strip() == "Measure"
    measures = "\n".join(table)
    for measure in (
        "Board poll, unchanged (204), 30 places",
        "Board poll, changed (200 + partial)",
        "Board page queries at 5 / 15 / 30 places",
        "Desk queue poll, unchanged (204)",
        "Desk queue poll, changed (200 + partial)",
        "Capacity simulation",
        "PSA, full model",
        "One site: month report",
        "One site: year report",
        "One site: year, plain SQL GROUP BY",
        "Network: annual report",
    ):
        assert measure in measures, f"{measure!r} is missing from the table:\n{measures}"
    # The poll is measured against its target.
    assert "p95 < 5 ms" in measures


def test_the_board_page_makes_the_same_number_of_queries_however_many_places(output):
    row = next(line for line in output.splitlines() if "Board page queries at" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    counts = [int(n) for n in cells[5].split(" / ")]
    assert len(counts) == 3
    assert len(set(counts)) == 1, f"the board page's queries grow with its places: {row}"
    assert cells[-1] == "PASS"


def test_every_benchmark_ran(output):
    # Timings may miss their target on a slow machine; a benchmark that could not run at all
    # (a wrong status, a missing page: ERROR) or had nothing to measure (SKIP) is a broken
    # harness.
    rows = [line for line in output.splitlines() if line.startswith("|")]
    broken = [row for row in rows if row.rstrip(" |").endswith(("ERROR", "SKIP"))]
    assert not broken, output
