"""The reports' rollups follow a client whose codes are merged (ADR 10): the merge moves
visits to the code kept without changing them, so it says so here."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from saferoom.clients.models import Client
from saferoom.clients.signals import clients_merged
from saferoom.reports import rollups


@receiver(clients_merged, dispatch_uid="reports.rollups_follow_merge")
def rollups_follow_merge(*, kept: Client, merged: Client, **kwargs: Any) -> dict[str, list[int]]:
    rollups.client_merged(kept_id=kept.pk, merged_id=merged.pk, network_id=kept.network_id)
    return {}
