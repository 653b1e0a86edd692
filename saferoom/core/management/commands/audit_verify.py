"""``saferoom audit_verify`` (or ``saferoom audit-verify``): walk the audit log's hash chain and
report the first event that was edited, removed or inserted. Exits 0 when the chain holds, 1
when it is broken, so that a cron job or the restore drill can alert on it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from saferoom.core import audit_chain


class Command(BaseCommand):
    help = "Check that no audit event was edited, removed or inserted (the HMAC hash chain)."
    # It must run on a restored copy whatever else is wrong with it.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_chain.verify()
        where = (
            f" from the retention checkpoint after event {result.checkpoint_through_id}"
            if result.checkpoint_through_id
            else ""
        )
        if result.ok:
            self.stdout.write(f"Audit chain intact: {result.checked} events checked{where}.")
            return
        self.stderr.write(
            f"AUDIT CHAIN BROKEN at event {result.first_bad_id} "
            f"(after {result.checked} good events{where}): {result.problem}"
        )
        raise SystemExit(1)
