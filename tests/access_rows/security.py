"""Access-table rows for the security pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py``. ``samples()`` gets the objects built so
far and returns the new names it adds.

    security_alert   a security alert (too many searches) raised at site A

Break-glass is for everyone who sees client records (evaluators 403); the security alerts are
for the site's managers and administrators.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from saferoom.core.models_security import SecurityAlert
from tests.access_table import CLIENT, LOGIN, SITE, Row, page, post_only

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "clients:break_glass":      page(CLIENT,            LOGIN, 200,  200,   200, 403,  200,  404),
    "sites:security_alerts":    page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:security_alert_review": post_only({"site": "site_a", "pk": "security_alert"},
                                                        LOGIN, 403,  403,   405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    now = timezone.now()
    alert = SecurityAlert.objects.create(
        kind=SecurityAlert.Kind.SEARCH_LIMIT,
        site_id=site_a.pk,
        user=desk,
        raised_at=now,
        last_at=now,
        detail={"kind": "search", "count": 60, "limit": 60, "window_minutes": 10},
    )
    return {"security_alert": alert.pk}
