"""Small helpers for the site-settings tests: a complete valid form, and a snapshot of what the
database holds so that "nothing was written" can be asserted in one line."""

from __future__ import annotations

import uuid
from typing import Any

from saferoom.core.models import AuditEvent
from saferoom.sites.models import Site
from tests.versions import version_of


def new_key() -> str:
    return str(uuid.uuid4())


def rules_form(site: Site, **overrides: Any) -> dict[str, Any]:
    """The rules form as the page shows it for ``site`` (at its saved version), with
    ``overrides`` applied. A value of None leaves a field out (as an unticked box is left out
    by a browser)."""
    data: dict[str, Any] = {
        "name": site.name,
        "kind": site.kind,
        "time_zone": site.time_zone,
        "active": "on" if site.active else None,
        "anonymous_visits_allowed": "on" if site.anonymous_visits_allowed else None,
        "drug_checking_allowed": "on" if site.drug_checking_allowed else None,
        "permitted_routes": list(site.permitted_routes),
        "check_min_age": "on" if site.check_min_age else None,
        "min_age": str(site.min_age),
        "check_first_time_use": "on" if site.check_first_time_use else None,
        "check_intoxicated": "on" if site.check_intoxicated else None,
        "check_pregnancy": "on" if site.check_pregnancy else None,
        "check_residency": "on" if site.check_residency else None,
        "residency_area": site.residency_area,
        "check_interval_booth": str(site.check_interval_booth),
        "check_interval_inhalation": str(site.check_interval_inhalation),
        "check_interval_flexible": str(site.check_interval_flexible),
        "check_overdue_minutes": str(site.check_overdue_minutes),
        "check_escalate_minutes": str(site.check_escalate_minutes),
        "version": str(version_of(site)),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def audit_count() -> int:
    return AuditEvent.objects.count()
