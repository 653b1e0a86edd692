"""The only way a supplies view gets hold of its objects: through the site, so another site's
give-out, service or item answers 404 as if it did not exist; and who may give out, receive
and manage supplies, shared by the pages and the API."""

from __future__ import annotations

from django.http import Http404

from saferoom.care.supplies.models import ServiceGiven, StockMovement
from saferoom.clients.models import Client
from saferoom.core.roles import Role
from saferoom.sites.access import access_catalogue_item
from saferoom.sites.models import CatalogueItem, Site

# The order is the order of preference.
GIVERS = (Role.FLOOR, Role.MANAGER, Role.ADMIN, Role.DESK)
RECEIVERS = (Role.MANAGER, Role.ADMIN, Role.FLOOR)
MANAGERS = (Role.MANAGER, Role.ADMIN)


def access_supply(site: Site, pk: int) -> CatalogueItem:
    return access_catalogue_item(site, "supply", pk)


def access_service_item(site: Site, pk: int) -> CatalogueItem:
    return access_catalogue_item(site, "service", pk)


def access_movement(site: Site, pk: int) -> StockMovement:
    movement = (
        StockMovement.objects.select_related("item", "site", "visit")
        .filter(site=site, pk=pk)
        .first()
    )
    if movement is None:
        raise Http404
    return movement


def access_service(site: Site, pk: int) -> ServiceGiven:
    service = ServiceGiven.objects.select_related("item", "site").filter(site=site, pk=pk).first()
    if service is None:
        raise Http404
    return service


def access_walk_in_client(site: Site, pk: int) -> Client:
    """A client of the site's network (clients are shared across a network's sites)."""
    client = Client.objects.filter(network_id=site.network_id, pk=pk).first()
    if client is None:
        raise Http404
    return client
