"""A crash in the middle of a busy evening loses nothing anyone was told was saved.

A real server (gunicorn, two workers) runs on a database of its own (an SQLite file, or a
PostgreSQL database made for the test). Four devices send check-ins (the desk) and incidents
with their interventions (a nurse) through the API, each with its own idempotency key. The
server is killed with SIGKILL mid-burst, started again, and the devices retry what never got
an answer, with the same keys, as the van's outbox does. Then:

- every record the server acknowledged (2xx with an id) is there, as it was acknowledged;
- nothing is half-written: every visit has its audit event and its idempotency key, every
  incident has all of its interventions and their audit events;
- every retry lands on the first record or makes the only one: one record per key.

The burst and the checks are in burst.py; test_postgresql_crash.py crashes the database
instead of the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.durability.burst import Burst, check_every_acknowledged_write_whole
from tests.durability.scratch import scratch_database
from tests.durability.server import Server, prepare

pytestmark = pytest.mark.slow

KILL_AFTER = 40  # acknowledged writes before the kill


def test_a_server_killed_mid_burst_keeps_every_acknowledged_write_whole(tmp_path: Path) -> None:
    with scratch_database("crash") as db:
        tokens = prepare(db)
        server = Server(db, tmp_path / "server.log")
        server.start()
        burst = Burst(server, tokens)
        burst.start()
        burst.run_until(acknowledged=KILL_AFTER)
        burst.crash(server.kill)
        assert "database is locked" not in server.log.read_text(errors="replace")
        first_answers = burst.first_answers()
        assert len(first_answers) >= KILL_AFTER
        assert any(s.status is None for s in burst.sent), "the kill should catch requests in flight"

        server.start()
        burst.retry()
        server.kill()

        check_every_acknowledged_write_whole(db, first_answers, burst.sent)
