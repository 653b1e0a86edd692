"""``saferoom worker``: the background process. Every ``--interval`` seconds it runs the jobs in
``saferoom.core.jobs`` and writes one line per job with its count. Several workers may run at
once; SIGTERM or Ctrl-C lets the current pass finish, then it stops."""

from __future__ import annotations

import signal
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils import timezone

from saferoom.core import jobs


def pause(seconds: float) -> None:
    """Wait between passes (a function of its own so tests can replace the wait)."""
    time.sleep(seconds)


class Command(BaseCommand):
    help = (
        "Run background jobs (purge old idempotency keys and sessions, close visits left open "
        "at closing time) every --interval seconds."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval", type=int, default=30, help="seconds between passes (default 30)"
        )
        parser.add_argument("--once", action="store_true", help="run one pass, then exit")

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stdout.write(f"{signal.strsignal(signum)}: finishing the current pass, then stopping.")
        self.stopping = True

    def run_pass(self) -> None:
        # A long-running process must not keep a connection the database has dropped (but
        # inside a caller's transaction, e.g. a test, the connection is not ours to close).
        self._close_old_connections()
        now = timezone.now()
        for result in jobs.run_pass(now):
            self.stdout.write(f"{now:%Y-%m-%dT%H:%M:%SZ} {result.line()}")
        self._close_old_connections()

    @staticmethod
    def _close_old_connections() -> None:
        if not connection.in_atomic_block:
            close_old_connections()

    def handle(self, *args: Any, **options: Any) -> None:
        interval: int = options["interval"]
        if interval < 1:
            raise CommandError("--interval must be at least 1 second.")
        if options["once"]:
            self.run_pass()
            return
        previous = {
            sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.stdout.write(f"saferoom worker is running: a pass every {interval} s.")
            while not self.stopping:
                self.run_pass()
                deadline = time.monotonic() + interval
                # Short sleeps, so a stop request is honoured within a second.
                while not self.stopping and time.monotonic() < deadline:
                    pause(min(1.0, max(deadline - time.monotonic(), 0.0)))
            self.stdout.write("saferoom worker stopped.")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
