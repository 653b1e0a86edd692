"""A real saferoom server in other processes, on a scratch database, that a test can kill.

It is gunicorn serving ``saferoom.wsgi`` with two sync workers, as docs/operations.md runs it in
production: two processes writing to the same database at once, and SIGKILL to the whole
process group leaves nothing behind to finish the work."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.durability.scratch import PROJECT, SAFEROOM, Scratch

STARTUP_SECONDS = 60
WORKERS = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(db: Scratch) -> dict[str, str]:
    """Migrate the scratch database and seed it; returns the API tokens by username."""
    migrated = db.saferoom("migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    seeded = subprocess.run(  # noqa: S603 - our own module
        [SAFEROOM[0], "-m", "tests.durability.seed"],
        cwd=PROJECT,
        env=db.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    tokens: dict[str, str] = json.loads(seeded.stdout.strip().splitlines()[-1])
    return tokens


class Server:
    def __init__(self, db: Scratch, log: Path, app: str = "saferoom.wsgi") -> None:
        self.db = db
        self.app = app  # the WSGI module gunicorn serves
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own command
                [
                    SAFEROOM[0],
                    "-m",
                    "gunicorn",
                    self.app,
                    f"--bind=127.0.0.1:{self.port}",
                    f"--workers={WORKERS}",
                    "--timeout=30",
                ],
                cwd=PROJECT,
                env=self.db.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _answer = self.request("GET", "/health/")
                if status == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no rollback runs; as a power cut is to the
        process (the operating system still writes what was handed to it)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            payload = None if body is None else json.dumps(body)
            sent = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            try:
                answer = json.loads(raw) if raw else None
            except ValueError:
                answer = raw.decode(errors="replace")
            return response.status, answer
        finally:
            connection.close()


@contextlib.contextmanager
def running(db: Scratch, log: Path) -> Iterator[Server]:
    server = Server(db, log)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()
