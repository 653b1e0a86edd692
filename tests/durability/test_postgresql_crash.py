"""PostgreSQL stopped dead in the middle of a busy evening loses nothing anyone was told was
saved: it recovers every acknowledged write from its WAL.

A scratch cluster of the test's own (``fsync``, ``synchronous_commit`` and
``full_page_writes`` on, and no checkpoint due for a day) runs saferoom's database; the real
server (gunicorn, two workers) writes the burst of check-ins and incidents of burst.py into it.
Mid-burst the cluster is stopped with ``pg_ctl stop -m immediate``: every server process ends at
once and no checkpoint is written, so none of the burst is in the data files, only in the WAL.
The cluster is started again (crash recovery), the same saferoom server reconnects, the devices
retry what got no acknowledgement, and every acknowledged write is there, whole, once; the
audit chain verifies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.burst import Burst, check_every_acknowledged_write_whole, new_write, send
from tests.durability.pgcluster import Cluster, scratch_cluster
from tests.durability.scratch import on_postgresql
from tests.durability.server import prepare, running

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not on_postgresql(), reason="runs in the PostgreSQL half of the suite (make test-postgres)"
    ),
]

STOP_AFTER = 40  # acknowledged writes before the immediate shutdown
DURABLE: dict[str, str | int | bool] = {
    "fsync": True,
    "synchronous_commit": "on",
    "full_page_writes": True,
}


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with scratch_cluster("crash") as made:
        # No timed checkpoint during the test: the burst reaches the data files only through
        # crash recovery from the WAL.
        made.initdb(**DURABLE, checkpoint_timeout="1d", max_wal_size="1GB")
        made.start()
        yield made


def test_postgresql_stopped_immediately_mid_burst_recovers_every_acknowledged_write(
    cluster: Cluster, tmp_path: Path
) -> None:
    for setting in DURABLE:
        assert cluster.sql(f"SHOW {setting}") == [("on",)], setting
    db = cluster.create_database("saferoom")
    tokens = prepare(db)
    cluster.sql("CHECKPOINT")
    checkpoint_before = cluster.control_data()["Latest checkpoint's REDO location"]

    with running(db, tmp_path / "server.log") as server:
        burst = Burst(server, tokens)
        burst.start()
        burst.run_until(acknowledged=STOP_AFTER)
        burst.crash(lambda: cluster.stop("immediate"))
        first_answers = burst.first_answers()
        assert len(first_answers) >= STOP_AFTER
        assert any(not s.acknowledged for s in burst.sent), "the devices were still writing"

        # Stopped as a crash stops it: no shutdown checkpoint, none since before the burst.
        control = cluster.control_data()
        assert control["Database cluster state"] == "in production"
        assert control["Latest checkpoint's REDO location"] == checkpoint_before

        cluster.start()
        log = cluster.log_text()
        assert "database system was not properly shut down; automatic recovery in progress" in log
        assert "redo done at" in log

        burst.retry()  # the same saferoom server, reconnected

    check_every_acknowledged_write_whole(db, first_answers, burst.sent)
    verified = db.saferoom("audit_verify")
    assert verified.returncode == 0, verified.stderr
    assert "Audit chain intact" in verified.stdout


def test_after_postgresql_restarts_the_next_write_is_answered_not_failed(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's kept-open connection died with the database; the worker must notice and
    reconnect rather than answer the next nurse's tap with an error. One worker, so the write
    after the restart is sure to meet the connection the crash broke."""
    monkeypatch.setattr("tests.durability.server.WORKERS", 1)
    db = cluster.create_database("saferoom")
    tokens = prepare(db)
    with running(db, tmp_path / "server.log") as server:
        before = new_write("visit", tokens)
        send(server, before)
        assert before.acknowledged, (before.status, before.answer)

        cluster.stop("immediate")
        cluster.start()

        after = new_write("incident", tokens)
        send(server, after)
        assert after.acknowledged, (after.status, after.answer)
    assert db.rows("SELECT COUNT(*) FROM floor_visit") == [(1,)]
    assert db.rows("SELECT COUNT(*) FROM incidents_incident") == [(1,)]
