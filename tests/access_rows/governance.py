"""Access-table rows for the governance pages (the audit log and disclosures), and the sample
objects their kwargs name:

    disclosure    a disclosure request at site A for the sample client, waiting for a decision

Only the site's managers and administrators read the audit log or handle disclosures; everyone
else who works at the site gets 403, another site's worker 404. Filters and client codes go in
POST bodies, so the export, the decision and the release are POST-only.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.governance.models import Disclosure, LegalBasis
from saferoom.sites.models import Membership
from tests.access_table import LOGIN, SITE, Row, page, post_only

DISCLOSURE = {"site": "site_a", "pk": "disclosure"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                       kwargs        anon   desk  nurse  mgr  eval  admin other
    "governance:audit_log":          page(SITE,         LOGIN, 403,  403,   200, 403,  200,  404),
    "governance:audit_export":       post_only(SITE,    LOGIN, 403,  403,   405, 403,  405,  404),
    "governance:disclosures":        page(SITE,         LOGIN, 403,  403,   200, 403,  200,  404),
    "governance:disclosure_new":     page(SITE,         LOGIN, 403,  403,   200, 403,  200,  404),
    "governance:disclosure":         page(DISCLOSURE,   LOGIN, 403,  403,   200, 403,  200,  404),
    "governance:disclosure_decide":  post_only(DISCLOSURE, LOGIN, 403, 403,  405, 403,  405,  404),
    "governance:disclosure_release": post_only(DISCLOSURE, LOGIN, 403, 403,  405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    requester = User.objects.create_user(username="rita.requester", display_name="Rita")
    Membership.objects.create(user=requester, network=network, site=site_a, role="manager")
    disclosure = Disclosure.objects.create(
        site=site_a,
        client=Client.objects.get(pk=built["client"]),
        recipient="Crown Court at Riverside",
        legal_basis=LegalBasis.COURT_ORDER,
        reference="T2026-0001",
        justification="Order under PACE Schedule 1, served on the site.",
        include_identity=False,
        requested_at=timezone.now(),
        requested_by=requester,
    )
    return {"disclosure": disclosure.pk}
