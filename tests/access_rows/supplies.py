"""Access-table rows for the supplies pages, and the sample objects their kwargs name.

The desk, floor staff, managers and administrators give out supplies and services and see
stock; floor staff, managers and administrators receive deliveries; only managers and
administrators count, adjust and set warning levels. Evaluators: 403 everywhere (aggregates
only). Another site's worker: 404."""

from __future__ import annotations

from typing import Any

from saferoom.sites.models import CatalogueItem
from tests.access_table import LOGIN, SITE, VISIT, Row, page, post_only

ITEM = {"site": "site_a", "pk": "supply_item"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "supplies:visit":           page(VISIT,             LOGIN, 200, 200,  200, 403,  200,  404),
    "supplies:walk_in":         page(SITE,              LOGIN, 200, 200,  200, 403,  200,  404),
    "supplies:give":            post_only(SITE,         LOGIN, 405, 405,  405, 403,  405,  404),
    "supplies:service":         post_only(SITE,         LOGIN, 405, 405,  405, 403,  405,  404),
    "supplies:reverse":         post_only(SITE,         LOGIN, 405, 405,  405, 403,  405,  404),
    "supplies:void_service":    post_only(SITE,         LOGIN, 405, 405,  405, 403,  405,  404),
    "supplies:stock":           page(SITE,              LOGIN, 200, 200,  200, 403,  200,  404),
    "supplies:stock_take":      page(SITE,              LOGIN, 403, 403,  200, 403,  200,  404),
    "supplies:item":            page(ITEM,              LOGIN, 200, 200,  200, 403,  200,  404),
    # Deliveries: floor staff may sign for one (saferoom/care/supplies/views.py says why).
    "supplies:receive":         post_only(ITEM,         LOGIN, 403, 405,  405, 403,  405,  404),
    "supplies:count":           post_only(ITEM,         LOGIN, 403, 403,  405, 403,  405,  404),
    "supplies:adjust":          post_only(ITEM,         LOGIN, 403, 403,  405, 403,  405,  404),
    "supplies:threshold":       post_only(ITEM,         LOGIN, 403, 403,  405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    item = CatalogueItem.objects.get(network=network, site=None, kind="supply", code="filter")
    return {"supply_item": item.pk}
