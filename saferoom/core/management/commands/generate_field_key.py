"""Print a new random key for SAFEROOM_FIELD_KEYS (put it first in the list, then rotate)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from saferoom.core import crypto


class Command(BaseCommand):
    help = "Print a new key for SAFEROOM_FIELD_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(crypto.new_key())
