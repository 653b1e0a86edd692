"""Referrals and identity records follow a client whose codes are merged."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.utils.translation import gettext as _

from saferoom.care.referrals.models import IdentityRecord, Referral
from saferoom.clients.models import Client
from saferoom.clients.signals import clients_merged
from saferoom.core.errors import ActionRefused


@receiver(clients_merged, dispatch_uid="referrals.move_to_kept_client")
def move_to_kept_client(*, kept: Client, merged: Client, **kwargs: Any) -> dict[str, list[int]]:
    consented = IdentityRecord.objects.filter(consent_withdrawn_at__isnull=True)
    both = set(consented.filter(client=kept).values_list("site_id", flat=True)) & set(
        consented.filter(client=merged).values_list("site_id", flat=True)
    )
    if both:
        # Two consented identities for one person at one site: someone must decide which is
        # right (and withdraw the other) before the codes can become one.
        raise ActionRefused(
            _(
                "Both codes have a consented identity record at the same site. A manager must "
                "withdraw one of them before the codes can be merged."
            ),
            code="two_identity_records",
        )
    referrals = sorted(Referral.objects.filter(client=merged).values_list("pk", flat=True))
    records = sorted(IdentityRecord.objects.filter(client=merged).values_list("pk", flat=True))
    Referral.objects.filter(pk__in=referrals).update(client=kept)
    IdentityRecord.objects.filter(pk__in=records).update(client=kept)
    return {"referrals": referrals, "identity_records": records}
