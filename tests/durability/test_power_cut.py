"""A power cut in the middle of a busy evening loses nothing anyone was told was saved (SQLite).

The kill -9 test (test_crash.py) kills the server, but the operating system still writes what
it was handed. Here the disk goes too: the SQLite database sits on a lazy disk (lazyfs.py, a
FUSE filesystem in the spirit of LazyFS) that keeps every write in memory until it is synced.
The real server (gunicorn, two workers, the production settings: WAL, synchronous=FULL) takes
the burst of check-ins and incidents; then the server is killed and the disk loses every
unsynced write at once. On what the disk kept:

- the database is sound (``PRAGMA integrity_check``) and the audit chain verifies;
- every write the server acknowledged is there and whole; after the devices retry what got no
  answer, one record per key and nothing half-written (burst.py's checks).

The control runs the same burst with SQLite told never to sync: acknowledged writes are lost,
so the disk does bite and the first test cannot pass for want of a cut. Two quick tests check
the disk itself: it keeps only what was synced, and POSIX locks still hold across processes."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.durability.burst import Burst, check_every_acknowledged_write_whole, ids
from tests.durability.lazyfs import LazyDisk, MountFailed
from tests.durability.scratch import Scratch, on_postgresql
from tests.durability.server import Server, prepare

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        on_postgresql(),
        reason="the lazy disk holds SQLite's files; test_postgresql_crash.py crashes PostgreSQL",
    ),
]

CUT_AFTER = 40  # acknowledged writes before the power cut
NAME = "saferoom.sqlite3"


def sqlite_at(folder: Path) -> Scratch:
    path = folder / NAME
    return Scratch(url=f"sqlite:///{path}", kind="sqlite", path=path)


@contextmanager
def lazy_disk(tmp_path: Path) -> Iterator[LazyDisk]:
    """A lazy disk over ``tmp_path/disk`` mounted on ``tmp_path/mount``. Where FUSE cannot mount
    the test is skipped, with the reason; in CI (CI=true) that is a failure instead."""
    disk = LazyDisk(tmp_path / "disk", tmp_path / "mount", tmp_path / "lazyfs.log")
    try:
        disk.mount()
    except MountFailed as why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"The power-cut test must run in CI: {why}")
        pytest.skip(f"FUSE is not usable here (apt-get install fuse3): {why}")
    try:
        yield disk
    finally:
        disk.unmount()


def cut_power_mid_burst(tmp_path: Path, app: str = "saferoom.wsgi") -> tuple[Burst, Scratch]:
    """Seed a database on the disk, serve it through the lazy mount, and cut the power after
    CUT_AFTER acknowledged writes. Returns the burst and the database as the disk kept it."""
    kept = sqlite_at(tmp_path / "disk")
    (tmp_path / "disk").mkdir()
    tokens = prepare(kept)  # before the mount: the seed is on the disk already
    with lazy_disk(tmp_path) as disk:
        server = Server(sqlite_at(disk.mountpoint), tmp_path / "server.log", app=app)
        burst = Burst(server, tokens)
        try:
            server.start()
            burst.start()
            burst.run_until(acknowledged=CUT_AFTER)

            def power_cut() -> None:
                server.kill()
                disk.lose_unsynced_writes()

            burst.crash(power_cut)
        finally:
            if server.process is not None and server.process.poll() is None:
                server.kill()
    assert len(burst.first_answers()) >= CUT_AFTER
    assert any(s.status is None for s in burst.sent), "the cut should catch requests in flight"
    return burst, kept


def lost(db: Scratch, first_answers: dict[str, Any]) -> list[str]:
    """Acknowledged records (and acknowledged interventions) that are not in the database."""
    visits = ids(db, "SELECT id FROM floor_visit")
    incidents = ids(db, "SELECT id FROM incidents_incident")
    steps = ids(db, "SELECT id FROM incidents_intervention")
    missing = []
    for answer in first_answers.values():
        if "interventions" not in answer:
            if answer["id"] not in visits:
                missing.append(f"visit {answer['id']}")
            continue
        if answer["id"] not in incidents:
            missing.append(f"incident {answer['id']}")
        missing += [
            f"intervention {s['id']}" for s in answer["interventions"] if s["id"] not in steps
        ]
    return missing


def integrity(db: Scratch) -> str:
    assert db.path is not None
    with closing(sqlite3.connect(db.path)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def synced(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def test_the_lazy_disk_keeps_only_what_was_synced(tmp_path: Path) -> None:
    (tmp_path / "disk").mkdir()
    with lazy_disk(tmp_path) as disk:
        mount = disk.mountpoint
        (mount / "kept").write_bytes(b"a" * 10_000)
        synced(mount / "kept")
        synced(mount)
        (mount / "unnamed").write_bytes(b"b" * 100)
        synced(mount / "unnamed")  # its data, but not its name
        with (mount / "kept").open("r+b") as kept:
            kept.seek(5000)
            kept.write(b"c" * 10)
        assert (mount / "kept").read_bytes()[4999:5011] == b"a" + b"c" * 10 + b"a"
        os.truncate(mount / "kept", 10)
        assert (mount / "kept").read_bytes() == b"a" * 10
        assert (tmp_path / "disk" / "kept").read_bytes() == b"a" * 10_000

        disk.lose_unsynced_writes()
        with pytest.raises(OSError, match="Input/output error"):
            (mount / "kept").read_bytes()
    assert sorted(os.listdir(tmp_path / "disk")) == ["kept"]
    assert (tmp_path / "disk" / "kept").read_bytes() == b"a" * 10_000


def test_the_lazy_disk_keeps_posix_locks_between_processes(tmp_path: Path) -> None:
    """SQLite's locks (fcntl, as the two gunicorn workers take them) hold on the mount."""
    (tmp_path / "disk").mkdir()
    with lazy_disk(tmp_path) as disk:
        target = disk.mountpoint / "locked"
        target.write_bytes(b"x")
        other_process = [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'r+b'); "
            "fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)",
            str(target),
        ]
        with target.open("r+b") as held:
            fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
            refused = subprocess.run(other_process, capture_output=True, text=True, check=False)  # noqa: S603
            assert refused.returncode != 0
            assert "Resource temporarily unavailable" in refused.stderr
        taken = subprocess.run(other_process, capture_output=True, text=True, check=False)  # noqa: S603
        assert taken.returncode == 0, taken.stderr


def test_a_power_cut_mid_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    burst, kept = cut_power_mid_burst(tmp_path)
    first_answers = burst.first_answers()

    assert integrity(kept) == "ok"
    assert lost(kept, first_answers) == []
    verified = kept.saferoom("audit-verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # Power back: the devices retry what got no answer, on what the disk kept.
    burst.server = Server(kept, tmp_path / "server.log")
    burst.server.start()
    try:
        burst.retry()
    finally:
        burst.server.kill()
    check_every_acknowledged_write_whole(kept, first_answers, burst.sent)
    verified = kept.saferoom("audit-verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_lazy_disk_loses_what_a_server_that_never_syncs_acknowledged(
    tmp_path: Path,
) -> None:
    burst, kept = cut_power_mid_burst(tmp_path, app="tests.durability.unsynced_wsgi")

    assert lost(kept, burst.first_answers())
