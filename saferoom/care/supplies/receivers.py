"""Supplies and services given to a walk-in by code follow a client whose codes are merged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from saferoom.care.supplies.models import ServiceGiven, StockMovement
from saferoom.clients.models import Client
from saferoom.clients.signals import clients_merged


@receiver(clients_merged, dispatch_uid="supplies.move_to_kept_client")
def move_to_kept_client(*, kept: Client, merged: Client, **kwargs: Any) -> dict[str, list[int]]:
    movements = sorted(StockMovement.objects.filter(client=merged).values_list("pk", flat=True))
    services = sorted(ServiceGiven.objects.filter(client=merged).values_list("pk", flat=True))
    StockMovement.objects.filter(pk__in=movements).update(client=kept)
    ServiceGiven.objects.filter(pk__in=services).update(client=kept)
    return {"supplies_given": movements, "services_given": services}
