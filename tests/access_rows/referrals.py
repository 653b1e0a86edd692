"""Access-table rows for the referrals pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py`` (import ``page``, ``post_only``, ``SITE``
from there). ``samples()`` gets the objects built so far and returns the new names it adds:

    referral          a referral made for the waiting visit at site A
    identity_record   a consented identity record for that referral
    identity_grant    a grant letting a floor worker of site A (not a persona) open identity records

Referrals are for everyone who works with clients; evaluators see aggregates only (403).
Identity records are opened only by the site's managers and administrators (and staff a
manager names: see tests/care/referrals/test_identity.py); everyone else gets 403, audited.
Anyone who works with referrals may record that consent is withdrawn (nothing is shown).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from saferoom.care.referrals.models import IdentityAccessGrant, IdentityRecord, Referral
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.sites.models import CatalogueItem, Membership
from tests.access_table import LOGIN, SITE, VISIT, Row, page, post_only

REFERRAL = {"site": "site_a", "pk": "referral"}
IDENTITY = {"site": "site_a", "pk": "identity_record"}
GRANT = {"site": "site_a", "pk": "identity_grant"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "referrals:due":            page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    # Without ?visit= or ?client=, the page asks for the client's code first.
    "referrals:new":            page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:visit":          page(VISIT,             LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:detail":         page(REFERRAL,          LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:follow_up":      page(REFERRAL,          LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:amend":          page(REFERRAL,          LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:identity_new":   page(REFERRAL,          LOGIN, 403,  403,   200, 403,  200,  404),
    # Every role reaches the view so that a refusal is answered (403) and audited there.
    "referrals:identity_link":  post_only(REFERRAL,     LOGIN, 405,  405,   405, 405,  405,  404),
    "referrals:identity_open":  page(IDENTITY,          LOGIN, 403,  403,   200, 403,  200,  404),
    "referrals:identity_withdraw": page(IDENTITY,       LOGIN, 200,  200,   200, 403,  200,  404),
    "referrals:access":         page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "referrals:access_revoke":  post_only(GRANT,        LOGIN, 403,  403,   405, 403,  405,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    now = timezone.now()
    visit = Visit.objects.select_related("client").get(pk=built["visit"])
    target = CatalogueItem.objects.get(
        network=network, site=None, kind="referral_target", code="housing_options"
    )
    referral = Referral.objects.create(
        site=site_a,
        client=visit.client,
        visit=visit,
        target=target,
        category=target.category,
        urgency="routine",
        made_at=now,
        made_by=desk,
        follow_up_due=now.date() + dt.timedelta(days=14),
    )
    assert visit.client is not None
    record = IdentityRecord.objects.create(
        site=site_a,
        client=visit.client,
        details_json='{"full_name": "Sample Person"}',
        consent_scope=IdentityRecord.Scope.THIS_REFERRAL,
        consent_given_at=now,
        recorded_by=desk,
    )
    record.referrals.add(referral)
    # Granted to a floor worker of its own, so that no persona's access changes.
    floor_worker = User.objects.create_user(username="sam.sample", display_name="Sam")
    Membership.objects.create(user=floor_worker, network=network, site=site_a, role="floor")
    grant = IdentityAccessGrant.objects.create(
        site=site_a,
        user=floor_worker,
        reason="Sample grant",
        granted_at=now,
        granted_by=desk,
    )
    return {"referral": referral.pk, "identity_record": record.pk, "identity_grant": grant.pk}
