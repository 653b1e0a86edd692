"""The only way a view gets hold of a referral, an identity record or an access grant: by its
site, so another site's record answers 404 as if it did not exist."""

from __future__ import annotations

from django.http import Http404

from saferoom.care.referrals.models import IdentityAccessGrant, IdentityRecord, Referral
from saferoom.sites.models import Site


def access_referral(site: Site, pk: int) -> Referral:
    referral = (
        Referral.objects.select_related("site", "client", "target", "visit", "made_by", "closed_by")
        .filter(site=site, pk=pk)
        .first()
    )
    if referral is None:
        raise Http404
    return referral


def access_identity_record(site: Site, pk: int) -> IdentityRecord:
    record = (
        IdentityRecord.objects.select_related("site", "client", "recorded_by")
        .filter(site=site, pk=pk)
        .first()
    )
    if record is None:
        raise Http404
    return record


def access_grant(site: Site, pk: int) -> IdentityAccessGrant:
    grant = (
        IdentityAccessGrant.objects.select_related("site", "user").filter(site=site, pk=pk).first()
    )
    if grant is None:
        raise Http404
    return grant
