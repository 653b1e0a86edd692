"""``saferoom flush``: Django's flush (empty every table), with the audit log's append-only
triggers lifted while it runs, since emptying the whole database is what was asked for. The
test runner flushes between transactional tests this way."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from saferoom.core.audit_chain import triggers_suspended


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with triggers_suspended(connections[options["database"]]):
            super().handle(**options)
