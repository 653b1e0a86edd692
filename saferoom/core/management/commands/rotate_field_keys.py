"""``saferoom rotate_field_keys``: re-encrypt every sealed field of every app (free-text notes,
identity records) with the newest key of SAFEROOM_FIELD_KEYS, so that older keys can then be
dropped. ``--check`` only counts what is left to do; it exits 1 while anything is."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from saferoom.core import audit, crypto, sealing


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field (notes, identity records) with the newest key of "
        "SAFEROOM_FIELD_KEYS. Put the new key first and restart saferoom, run this, then drop "
        "the old key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing: count the values not yet encrypted with the newest key, and "
            "exit 1 if there are any (run it before dropping an old key).",
        )
        parser.add_argument(
            "--batch", type=int, default=sealing.BATCH, help="Rows per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check = bool(options["check"])
        if options["batch"] < 1:
            raise CommandError("--batch is a number of rows, 1 or more.")
        results = sealing.rotate(dry_run=check, size=options["batch"])
        verb = "to re-encrypt" if check else "re-encrypted"
        for done in results:
            self.stdout.write(
                f"{done.label}: {done.resealed} {verb}, {done.current} already with the newest "
                f"key" + (f", {len(done.unreadable)} UNREADABLE" if done.unreadable else "")
            )
        resealed = sum(d.resealed for d in results)
        unreadable = {d.label: d.unreadable for d in results if d.unreadable}
        self.stdout.write(
            f"{len(results)} encrypted fields, {resealed} values {verb}; newest key "
            f"{crypto.key_id()}."
        )
        if not check:
            with transaction.atomic():
                audit.record(
                    action="field_keys.rotated",
                    by=None,
                    detail={
                        "key": crypto.key_id(),
                        "keys_set": len(settings.FIELD_KEYS),
                        "resealed": resealed,
                        "unreadable": sum(len(v) for v in unreadable.values()),
                        "fields": {d.label: d.detail() for d in results},
                    },
                )
        if unreadable:
            where = "; ".join(
                f"{label} ids {', '.join(str(pk) for pk in pks[:10])}"
                + (" …" if len(pks) > 10 else "")
                for label, pks in unreadable.items()
            )
            raise CommandError(
                f"Some values could not be decrypted with any key set ({where}). Put back every "
                "key that was in use and run this again; do not drop a key until it reports none."
            )
        if check and resealed:
            raise SystemExit(1)
