"""Access-table rows for the checking pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py`` (import ``page``, ``post_only``, ``SITE``
from there). ``samples()`` gets the objects built so far and returns the new names it adds.

    drug_alert   a drug alert issued from site A, showing now (network-wide)

Drug checks are client-level (evaluators 403); site A offers drug checking (the default). The
alert log is for all staff; managers and administrators issue and withdraw alerts. The banner
endpoint is polled by the banner's script; opened in a browser it leads to the alert log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from saferoom.care.checking.models import DrugAlert
from tests.access_table import LOGIN, SITE, VISIT, Row, page, post_only

ALERT = {"site": "site_a", "pk": "drug_alert"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "checking:checks":          page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "checking:check_new":       page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "checking:check_new_for_visit": page(VISIT,         LOGIN, 200,  200,   200, 403,  200,  404),
    "checking:alerts":          page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "checking:alert_new":       page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "checking:banner":          page(SITE,              LOGIN, 302,  302,   302, 403,  302,  404),
    "checking:alert_withdraw":  post_only(ALERT,        LOGIN, 403,  403,   405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    now = timezone.now()
    alert = DrugAlert.objects.create(
        network=network,
        site=site_a,
        severity="warning",
        message="Xylazine found in heroin samples",
        issued_at=now,
        issued_by=desk,
        expires_at=now + dt.timedelta(days=7),
    )
    return {"drug_alert": alert.pk}
