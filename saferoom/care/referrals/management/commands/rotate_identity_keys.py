"""Re-encrypt every encrypted field (identity records, follow-up notes) with the newest key of
SAFEROOM_FIELD_KEYS, so that older keys can then be dropped."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from saferoom.care.referrals import crypto
from saferoom.care.referrals.models import FollowUp, IdentityRecord

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt identity records and follow-up notes with the newest key of "
        "SAFEROOM_FIELD_KEYS. Run it after putting a new key first; then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = {}
        try:
            counts["identity records"] = self._reseal(IdentityRecord, "sealed_details")
            counts["follow-up notes"] = self._reseal(FollowUp, "sealed_note")
        except crypto.UnreadableField as error:
            raise CommandError(
                f"{error} Put back every key that was in use, then run this again."
            ) from None
        for what, n in counts.items():
            self.stdout.write(f"Re-encrypted {n} {what}.")

    def _reseal(self, model: Any, field: str) -> int:
        done = 0
        last = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.filter(pk__gt=last)
                    .exclude(**{field: ""})
                    .order_by("pk")
                    .values_list("pk", field)[:BATCH]
                )
                if not rows:
                    return done
                for pk, token in rows:
                    model.objects.filter(pk=pk).update(**{field: crypto.reseal(token)})
                done += len(rows)
                last = rows[-1][0]
