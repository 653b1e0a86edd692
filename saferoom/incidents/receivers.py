"""Incidents follow a client whose codes are merged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from saferoom.clients.models import Client
from saferoom.clients.signals import clients_merged
from saferoom.incidents.models import Incident


@receiver(clients_merged, dispatch_uid="incidents.move_to_kept_client")
def move_to_kept_client(*, kept: Client, merged: Client, **kwargs: Any) -> dict[str, list[int]]:
    incidents = sorted(Incident.objects.filter(client=merged).values_list("pk", flat=True))
    Incident.objects.filter(pk__in=incidents).update(client=kept)
    return {"incidents": incidents}
