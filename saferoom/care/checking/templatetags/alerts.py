"""``{% active_alerts site as alerts %}``: the drug alerts showing now across the site's network,
for the banner on boards and desks (``checking/_alerts_banner.html``), in one query."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django import template
from django.utils import timezone

from saferoom.care.checking.actions import active_alerts as find_active
from saferoom.care.checking.models import DrugAlert
from saferoom.sites.models import Site

register = template.Library()


@dataclass(frozen=True)
class ActiveAlerts:
    shown: list[DrugAlert] = field(default_factory=list)

    def __iter__(self) -> Iterator[DrugAlert]:
        return iter(self.shown)

    def __len__(self) -> int:
        return len(self.shown)

    def __bool__(self) -> bool:
        return bool(self.shown)

    @property
    def version(self) -> str:
        """Changes whenever the set shown changes (alerts are never edited, only ended)."""
        ids = ",".join(str(a.pk) for a in sorted(self.shown, key=lambda a: a.pk))
        return "a-" + hashlib.sha256(ids.encode()).hexdigest()[:16]


def alerts_for(site: Site) -> ActiveAlerts:
    return ActiveAlerts(find_active(site.network_id, timezone.now()))


@register.simple_tag
def active_alerts(site: Site | None) -> ActiveAlerts:
    if site is None:
        return ActiveAlerts()
    return alerts_for(site)
