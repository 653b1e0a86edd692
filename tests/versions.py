"""The version an edit form would carry now (``saferoom.core.versioning``): tests that edit a
record pass it as ``expected_version``, read fresh from the database."""

from __future__ import annotations

from typing import Any

from saferoom.care.supplies.models import StockLevel
from saferoom.clients.models import Client, Intake
from saferoom.core.versioning import FIRST_VERSION, NOT_YET_RECORDED
from saferoom.sites.models import CatalogueItem, Site


def version_of(record: Any) -> int:
    """The saved version of ``record``."""
    value: int = (
        type(record)._default_manager.filter(pk=record.pk).values_list("version", flat=True).get()
    )
    return value


def intake_version(client: Client) -> int:
    """The version of the client's intake, or 0 when none was recorded yet."""
    found = Intake.objects.filter(client=client).values_list("version", flat=True).first()
    return NOT_YET_RECORDED if found is None else found


def threshold_version(site: Site, item: CatalogueItem) -> int:
    """The version of the site's low-stock warning for ``item`` (1 before it was stocked)."""
    found = (
        StockLevel.objects.filter(site=site, item=item).values_list("version", flat=True).first()
    )
    return FIRST_VERSION if found is None else found
