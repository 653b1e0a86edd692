"""The one-client record an approved disclosure releases, as plain text with the redisclosure
notice at its head and foot. It reads one client and nothing else: there is no export of
several clients' identifiable records anywhere in saferoom."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.care.referrals.models import IdentityDetails, IdentityRecord, Referral
from saferoom.floor.models import Visit
from saferoom.governance.models import Disclosure
from saferoom.incidents.models import Incident

REDISCLOSURE_NOTICE = _(
    "CONFIDENTIAL. This record has been disclosed to you from confidential health and "
    "harm-reduction records, under the legal basis stated below. It is protected by the UK "
    "GDPR and the Data Protection Act 2018, and may be excluded material under PACE 1984. You "
    "may not disclose it further, or use it for any other purpose, without the written consent "
    "of the person it is about or another lawful basis; a general authorisation for release is "
    "not sufficient."
)


@dataclass(frozen=True)
class ClientRecord:
    text: str
    contents: dict[str, int]


def _when(value: object) -> str:
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]


def client_record(disclosure: Disclosure) -> ClientRecord:
    """Everything the service holds on the disclosure's client (at every site of its network),
    and the identity record only when the request asked for it and consent still stands."""
    client = disclosure.client
    lines = [REDISCLOSURE_NOTICE, ""]
    lines += [
        _("Disclosure %(id)s from %(site)s") % {"id": disclosure.pk, "site": disclosure.site.name},
        _("Recipient: %(r)s") % {"r": disclosure.recipient},
        _("Legal basis: %(b)s (reference %(ref)s)")
        % {"b": disclosure.get_legal_basis_display(), "ref": disclosure.reference},
        _("Approved by %(who)s on %(when)s")
        % {"who": disclosure.decided_by, "when": _when(disclosure.decided_at)},
        "",
        _("Client %(code)s: gender %(g)s, year of birth %(y)s, registered %(when)s at %(site)s")
        % {
            "code": client.display_code,
            "g": client.get_gender_display(),
            "y": client.year_of_birth or "-",
            "when": _when(client.registered_at),
            "site": client.registered_site.name,
        },
        "",
    ]
    visits = list(
        Visit.objects.filter(client=client).select_related("site").order_by("arrived_at", "pk")
    )
    lines.append(_("Visits (%(n)s)") % {"n": len(visits)})
    lines += [
        f"  {_when(v.arrived_at)}  {v.site.name}  {v.get_state_display()}  "
        f"{v.get_planned_route_display() or '-'}  {_('left')} {_when(v.ended_at)}"
        for v in visits
    ]
    incidents = list(
        Incident.objects.filter(client=client)
        .select_related("site")
        .prefetch_related("interventions")
        .order_by("onset_at", "pk")
    )
    lines += ["", _("Incidents (%(n)s)") % {"n": len(incidents)}]
    for incident in incidents:
        lines.append(
            f"  {_when(incident.onset_at)}  {incident.site.name}  "
            f"{incident.get_kind_display() or '-'}  {incident.get_outcome_display() or '-'}"
        )
        lines += [
            f"    {_when(i.at)}  {i.get_kind_display()}" for i in incident.interventions.all()
        ]
    referrals = list(
        Referral.objects.filter(client=client)
        .select_related("site", "target")
        .order_by("made_at", "pk")
    )
    lines += ["", _("Referrals (%(n)s)") % {"n": len(referrals)}]
    lines += [
        f"  {_when(r.made_at)}  {r.site.name}  {r.target.label}  {r.get_status_display()}"
        for r in referrals
    ]
    identities = 0
    if disclosure.include_identity:
        lines += ["", _("Identity record (given with the client's consent)")]
        for record in IdentityRecord.objects.filter(client=client, consent_withdrawn_at=None):
            details = IdentityDetails.from_json(record.details_json)
            identities += 1
            lines.append(
                f"  {details.full_name}  {_('born')} {details.date_of_birth or '-'}  "
                f"{details.contact or '-'}  {details.health_number or '-'}"
            )
        if not identities:
            lines.append("  " + _("None held with consent."))
    lines += ["", REDISCLOSURE_NOTICE, ""]
    return ClientRecord(
        "\n".join(lines),
        {
            "visits": len(visits),
            "incidents": len(incidents),
            "referrals": len(referrals),
            "identity_records": identities,
        },
    )
