"""``saferoom rotate-linkage-key``: re-key every stored linkage hash under the layers of the
linkage key added since it was stored (SAFEROOM_LINKAGE_KEY_LAYERS), so that an old key alone
no longer matches any of them. ``--check`` only counts what is left to do; it exits 1 while
anything is."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from saferoom.clients import codes, linkage


class Command(BaseCommand):
    help = (
        "Re-key every stored linkage hash under the newest layer of the linkage key. Add a new "
        "random key at the end of SAFEROOM_LINKAGE_KEY_LAYERS and restart saferoom, then run "
        "this. Never remove a layer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing: count the hashes not yet under every layer, and exit 1 if "
            "there are any.",
        )
        parser.add_argument(
            "--batch", type=int, default=linkage.BATCH, help="Clients per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check = bool(options["check"])
        if options["batch"] < 1:
            raise CommandError("--batch is a number of clients, 1 or more.")
        problem = linkage.rotation_problem(new_layer_needed=not check)
        if problem is not None:
            raise CommandError(problem)
        layers = codes.linkage_depth()
        if check:
            waiting = linkage.waiting()
            self.stdout.write(f"{waiting} linkage hashes to re-key under all {layers} layers.")
            if waiting:
                raise SystemExit(1)
            return
        done = linkage.rekey(size=options["batch"])
        if not done.rewrapped:
            self.stdout.write(
                f"Nothing to do: every linkage hash is under all {layers} layers already. To "
                "rotate, add a new key at the end of SAFEROOM_LINKAGE_KEY_LAYERS and restart "
                "saferoom first."
            )
            return
        self.stdout.write(
            f"{done.rewrapped} linkage hashes re-keyed under all {layers} layers in "
            f"{done.batches} batches ({done.current} were already); the older keys alone now "
            "match none of them."
        )
