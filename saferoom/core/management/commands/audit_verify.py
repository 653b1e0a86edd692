"""``saferoom audit_verify`` (or ``saferoom audit-verify``): walk the audit log's hash chain and
report the first event that was edited, removed or inserted, or a chain head that was altered.
With ``--anchor FILE`` (the anchors the worker wrote outside the database) or ``--expect-event N
--expect-hash H``, also check that the log was not rolled back behind any of them. Exits 0 when
all holds, 1 when it does not, 2 when the anchors given cannot be read, so that a cron job or
the restore drill can alert on it."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from saferoom.core import audit_anchor, audit_chain


class Command(BaseCommand):
    help = (
        "Check that no audit event was edited, removed or inserted (the HMAC hash chain), and "
        "with --anchor, that the log was not rolled back behind an anchor written outside it."
    )
    # It must run on a restored copy whatever else is wrong with it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="FILE",
            help="a file of anchors the worker wrote (SAFEROOM_AUDIT_ANCHOR_FILE, or a log "
            "holding its saferoom.audit.anchor lines); may be given more than once",
        )
        parser.add_argument(
            "--expect-event", metavar="N", help="an anchored event id (with --expect-hash)"
        )
        parser.add_argument(
            "--expect-hash", metavar="H", help="that event's row hash (with --expect-event)"
        )

    def anchors(self, options: dict[str, Any]) -> list[audit_anchor.Anchor]:
        """The anchors given, read before anything is checked, or a clear error."""
        event, hash_ = options["expect_event"], options["expect_hash"]
        if (event is None) != (hash_ is None):
            raise CommandError("Give --expect-event and --expect-hash together.", returncode=2)
        try:
            anchors = [a for name in options["anchor"] for a in audit_anchor.read(Path(name))]
            if event is not None:
                anchors.append(audit_anchor.parse(event, hash_, source="--expect-event"))
        except audit_anchor.AnchorError as error:
            raise CommandError(str(error), returncode=2) from None
        return anchors

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = self.anchors(options)
        result = audit_chain.verify()
        where = (
            f" from the retention checkpoint after event {result.checkpoint_through_id}"
            if result.checkpoint_through_id
            else ""
        )
        if not result.ok:
            self.stderr.write(
                f"AUDIT CHAIN BROKEN at event {result.first_bad_id} "
                f"(after {result.checked} good events{where}): {result.problem}"
            )
            raise SystemExit(1)
        self.stdout.write(f"Audit chain intact: {result.checked} events checked{where}.")
        if not anchors:
            return
        held = audit_anchor.check(anchors)
        if not held.ok:
            self.stderr.write(f"AUDIT LOG ROLLED BACK: {held.problem}")
            raise SystemExit(1)
        total = held.compared + held.covered
        behind = f"; {held.covered} behind the retention checkpoint" if held.covered else ""
        self.stdout.write(
            f"Anchors held: {total} anchored event{'s' if total != 1 else ''} checked "
            f"({held.compared} still in the chain with the same hash{behind})."
        )
