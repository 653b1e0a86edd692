"""Every action that takes text staff type (a note, a reason, where exactly, a message), described
once: how to drive it with a given text, and where the record keeps that text afterwards.

``test_audit_holds_no_free_text.py`` drives each one with a marker and checks that no audit
event holds it (the log is append-only, hash-chained and kept for years: text in it could never
be corrected, encrypted later or erased), and the log-scrubber test
(``test_access_audit.py``) that no log line does. A new action that takes free text is added
to ``FREE_TEXT_ACTIONS``; ``test_every_action_taking_free_text_is_described`` fails until it
is."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from saferoom.api import actions as api_actions
from saferoom.care.checking import actions as checking_actions
from saferoom.care.checking.models import DrugAlert
from saferoom.care.referrals import actions as referral_actions
from saferoom.care.referrals.models import (
    IdentityDetails,
    IdentityOpening,
    IdentityRecord,
    Referral,
)
from saferoom.care.supplies import actions as supply_actions
from saferoom.clients import actions as client_actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Client
from saferoom.core import breakglass, security_alerts
from saferoom.core.models import User
from saferoom.core.models_security import SecurityAlert
from saferoom.core.roles import Role
from saferoom.floor import board
from saferoom.governance import actions as governance_actions
from saferoom.governance.models import Disclosure, LegalBasis
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident
from saferoom.reports import costs_actions
from saferoom.sites import actions as site_actions
from saferoom.sites.models import CatalogueItem, Network, Site, Space
from tests.conftest import make_site, make_user
from tests.versions import version_of

# Keyword arguments that carry text a person typed, wherever an action takes them.
FREE_TEXT_ARGUMENTS = frozenset(
    {
        "note",
        "reason",
        "text",
        "location_detail",
        "justification",
        "recipient",
        "reference",
        "message",
        "place",
        "found_other",
        "details",
    }
)
# Actions with such an argument that is not typed text, and why.
NOT_FREE_TEXT = {
    "saferoom.floor.actions.turn_away": "the reason is an entry of the site's list",
    "saferoom.core.idempotency.remember": "the details are only kept as a hash",
    "saferoom.core.idempotency.replayed": "the details are only compared as a hash",
}


@dataclass
class Scene:
    """Riverside, its staff, and a client registered at its desk."""

    network: Network
    site: Site
    desk: User
    nurse: User
    manager: User
    admin: User

    def key(self) -> uuid.UUID:
        return uuid.uuid4()

    def client(self, initials: str = "AL") -> Client:
        return client_actions.register_client(
            site=self.site,
            attrs=SchemeAttributes(
                initials=initials, date_of_birth=dt.date(1985, 6, 15), sex="male"
            ),
            gender="male",
            by=self.manager,
            idempotency_key=self.key(),
            confirm_not_duplicate=True,
        )

    def incident(self, **extra: object) -> Incident:
        return incident_actions.start_incident(
            site=self.site,
            by=self.nurse,
            idempotency_key=self.key(),
            location="lounge",
            kind="opioid",
            at=timezone.now() - dt.timedelta(minutes=20),
            **extra,  # type: ignore[arg-type]
        )

    def closed_incident(self, note: str = "") -> Incident:
        incident = self.incident()
        incident_actions.record_outcome(
            incident=incident, outcome="recovered", by=self.nurse, at=timezone.now()
        )
        return incident_actions.review_and_close(incident=incident, by=self.manager, note=note)

    def referral(self) -> Referral:
        target = CatalogueItem.objects.filter(
            network=self.network, kind="referral_target", active=True
        ).first()
        assert target is not None
        return referral_actions.make_referral(
            site=self.site,
            target=target,
            urgency="routine",
            by=self.desk,
            idempotency_key=self.key(),
            client=self.client(),
        )

    def identity_record(self) -> IdentityRecord:
        return referral_actions.record_identity(
            referral=self.referral(),
            details=IdentityDetails(full_name="Alex Example"),
            consent_scope="referrals",
            consent_confirmed=True,
            by=self.manager,
            idempotency_key=self.key(),
        )

    def item(self, kind: str, code: str) -> CatalogueItem:
        return CatalogueItem.objects.get(network=self.network, site=None, kind=kind, code=code)

    def alert(self) -> SecurityAlert:
        breakglass.open_grant(
            client=self.client(),
            site=self.site,
            reason="Collapsed at the door and needs the history",
            by=self.nurse,
            idempotency_key=self.key(),
        )
        alert = security_alerts.open_alerts(self.site.pk).order_by("-pk").first()
        assert alert is not None
        return alert


# Each describes one action: drive it with ``text`` wherever it takes typed text, and return
# what its record holds afterwards (where the pages read it from).
Drive = Callable[[Scene, str], str]


def _start_incident(s: Scene, text: str) -> str:
    return str(s.incident(location_detail=text).location_detail)


def _api_record_incident(s: Scene, text: str) -> str:
    now = timezone.now()
    incident, steps = api_actions.record_incident(
        site=s.site,
        by=s.nurse,
        idempotency_key=s.key(),
        location="lounge",
        location_detail=text,
        onset_at=now - dt.timedelta(minutes=10),
        interventions=[
            api_actions.InterventionInput(
                kind="stimulation", at=now - dt.timedelta(minutes=9), note=text
            )
        ],
    )
    return str(incident.location_detail + steps[0].note)


def _record_intervention(s: Scene, text: str) -> str:
    return str(
        incident_actions.record_intervention(
            incident=s.incident(),
            kind="stimulation",
            by=s.nurse,
            idempotency_key=s.key(),
            at=timezone.now() - dt.timedelta(minutes=15),
            note=text,
        ).note
    )


def _record_outcome(s: Scene, text: str) -> str:
    incident = s.incident()
    now = timezone.now()
    incident_actions.record_intervention(
        incident=incident,
        kind="stimulation",
        by=s.nurse,
        idempotency_key=s.key(),
        at=now - dt.timedelta(minutes=10),
    )
    # Before the last intervention: the outcome needs a reason.
    return str(
        incident_actions.record_outcome(
            incident=incident,
            outcome="recovered",
            by=s.nurse,
            reason=text,
            at=now - dt.timedelta(minutes=12),
        ).outcome_reason
    )


def _add_note(s: Scene, text: str) -> str:
    return str(
        incident_actions.add_note(
            incident=s.incident(), text=text, by=s.nurse, idempotency_key=s.key()
        ).text
    )


def _review_and_close(s: Scene, text: str) -> str:
    return str(s.closed_incident(note=text).review_note)


def _amend_incident_time(s: Scene, text: str) -> str:
    incident = s.incident()
    return str(
        incident_actions.amend_incident_time(
            incident=incident,
            field="onset_at",
            new_at=incident.onset_at - dt.timedelta(minutes=1),
            reason=text,
            by=s.nurse,
            idempotency_key=s.key(),
            expected_version=version_of(incident),
        ).reason
    )


def _amend_outcome(s: Scene, text: str) -> str:
    incident = s.incident()
    incident_actions.record_outcome(
        incident=incident, outcome="recovered", by=s.nurse, at=timezone.now()
    )
    return str(
        incident_actions.amend_outcome(
            incident=incident,
            outcome="hospital",
            hospital="Royal Infirmary",
            reason=text,
            by=s.manager,
            idempotency_key=s.key(),
            expected_version=version_of(incident),
        ).reason
    )


def _amend_intervention(s: Scene, text: str) -> str:
    step = incident_actions.record_intervention(
        incident=s.incident(),
        kind="stimulation",
        by=s.nurse,
        idempotency_key=s.key(),
        at=timezone.now() - dt.timedelta(minutes=15),
    )
    return str(
        incident_actions.amend_intervention(
            intervention=step,
            by=s.nurse,
            reason=text,
            idempotency_key=s.key(),
            in_error=True,
            expected_version=version_of(step.incident),
        ).reason
    )


def _set_ban(s: Scene, text: str) -> str:
    return str(
        client_actions.set_ban(
            client=s.client(),
            site=s.site,
            reason="violence",
            note=text,
            starts_at=None,
            expires_at=None,
            by=s.manager,
            idempotency_key=s.key(),
        ).note
    )


def _lift_ban(s: Scene, text: str) -> str:
    ban = client_actions.set_ban(
        client=s.client(),
        site=s.site,
        reason="violence",
        note="",
        starts_at=None,
        expires_at=None,
        by=s.manager,
        idempotency_key=s.key(),
    )
    return str(client_actions.lift_ban(ban=ban, reason=text, by=s.manager).lift_reason)


def _merge_clients(s: Scene, text: str) -> str:
    return str(
        client_actions.merge_clients(
            keep=s.client("AL"), merge=s.client("AM"), reason=text, by=s.manager, site=s.site
        ).reason
    )


def _break_glass(s: Scene, text: str) -> str:
    return str(
        breakglass.open_grant(
            client=s.client(), site=s.site, reason=text, by=s.nurse, idempotency_key=s.key()
        ).reason
    )


def _review_alert(s: Scene, text: str) -> str:
    return str(
        security_alerts.review_alert(
            alert=s.alert(), note=text, by=s.manager, site=s.site
        ).review_note
    )


def _open_stop(s: Scene, text: str) -> str:
    van = make_site(s.network, "The van", "van", kind="mobile")
    stop = board.open_stop(
        site=van,
        place=text,
        by=make_user("val.van", (Role.FLOOR, van)),
        idempotency_key=s.key(),
        note=text,
    )
    return str(stop.place + stop.note)


def _disclosure(s: Scene, text: str) -> Disclosure:
    return governance_actions.request_disclosure(
        site=s.site,
        client=s.client(),
        recipient=text,
        legal_basis=LegalBasis.COURT_ORDER,
        reference=text[:120],
        justification=text,
        include_identity=False,
        by=s.manager,
        idempotency_key=s.key(),
    )


def _request_disclosure(s: Scene, text: str) -> str:
    found = _disclosure(s, text)
    return str(found.recipient + found.reference + found.justification)


def _decide_disclosure(s: Scene, text: str) -> str:
    return str(
        governance_actions.decide_disclosure(
            disclosure=_disclosure(s, "Crown Court at Riverside"),
            approve=True,
            note=text,
            by=s.admin,
        ).decision_note
    )


def _record_follow_up(s: Scene, text: str) -> str:
    referral = s.referral()
    return str(
        referral_actions.record_follow_up(
            referral=referral,
            outcome="attended",
            method="phone",
            note=text,
            by=s.desk,
            idempotency_key=s.key(),
            expected_version=version_of(referral),
        ).note
    )


def _amend_referral(s: Scene, text: str) -> str:
    referral = s.referral()
    return str(
        referral_actions.amend_referral(
            referral=referral,
            urgency="urgent",
            reason=text,
            by=s.manager,
            idempotency_key=s.key(),
            expected_version=version_of(referral),
        ).reason
    )


def _record_identity(s: Scene, text: str) -> str:
    record = referral_actions.record_identity(
        referral=s.referral(),
        details=IdentityDetails(full_name=text, contact=text),
        consent_scope="referrals",
        consent_confirmed=True,
        by=s.manager,
        idempotency_key=s.key(),
    )
    return str(record.details_json)


def _open_identity_record(s: Scene, text: str) -> str:
    record = s.identity_record()
    referral_actions.open_identity_record(record=record, reason="other", note=text, by=s.manager)
    return str(IdentityOpening.objects.get(record=record).note)


def _grant_identity_access(s: Scene, text: str) -> str:
    return str(
        referral_actions.grant_identity_access(
            site=s.site, user=s.desk, reason=text, by=s.manager, idempotency_key=s.key()
        ).reason
    )


def _record_check(s: Scene, text: str) -> str:
    return checking_actions.record_check(
        site=s.site,
        visit=None,
        method="ftir",
        expected=None,
        found=["other"],
        found_other=text[:80],
        timing="after",
        by=s.nurse,
        idempotency_key=s.key(),
    ).found_other


def _alert(s: Scene, message: str) -> DrugAlert:
    return checking_actions.issue_alert(
        site=s.site,
        severity="danger",
        message=message,
        expires_at=timezone.now() + dt.timedelta(days=2),
        by=s.manager,
        idempotency_key=s.key(),
    )


def _issue_alert(s: Scene, text: str) -> str:
    return _alert(s, text).message


def _withdraw_alert(s: Scene, text: str) -> str:
    alert = _alert(s, "Nitazene found in heroin")
    return checking_actions.withdraw_alert(
        alert=alert, site=s.site, reason=text, by=s.manager
    ).withdraw_reason


def _receive_stock(s: Scene, text: str) -> str:
    return supply_actions.receive_stock(
        site=s.site,
        item=s.item("supply", "filter"),
        quantity=10,
        note=text,
        by=s.manager,
        idempotency_key=s.key(),
    ).reason


def _count_stock(s: Scene, text: str) -> str:
    return supply_actions.count_stock(
        site=s.site,
        item=s.item("supply", "filter"),
        counted=4,
        note=text,
        by=s.manager,
        idempotency_key=s.key(),
    ).reason


def _take_stock(s: Scene, text: str) -> str:
    counted = supply_actions.take_stock(
        site=s.site,
        counts=[(s.item("supply", "filter"), 4)],
        note=text,
        by=s.manager,
        idempotency_key=s.key(),
    )
    return counted[0].reason


def _adjust_stock(s: Scene, text: str) -> str:
    return supply_actions.adjust_stock(
        site=s.site,
        item=s.item("supply", "filter"),
        change=3,
        reason=text,
        by=s.manager,
        idempotency_key=s.key(),
    ).reason


def _reverse_give_out(s: Scene, text: str) -> str:
    filters = s.item("supply", "filter")
    _receive_stock(s, "Delivery")
    given = supply_actions.give_supply(
        site=s.site, item=filters, quantity=2, by=s.nurse, idempotency_key=s.key()
    )
    return supply_actions.reverse_give_out(
        movement=given, reason=text, by=s.nurse, idempotency_key=s.key()
    ).reason


def _void_service(s: Scene, text: str) -> str:
    service = supply_actions.give_service(
        site=s.site, item=s.item("service", "shower"), by=s.nurse, idempotency_key=s.key()
    )
    return supply_actions.void_service(service=service, reason=text, by=s.nurse).void_reason


def _set_out_of_service(s: Scene, text: str) -> str:
    space = Space.objects.filter(site=s.site).first()
    assert space is not None
    return site_actions.set_out_of_service(
        space=space, reason=text, by=s.manager
    ).out_of_service_reason


def _record_operating_cost(s: Scene, text: str) -> str:
    month = f"{timezone.now():%Y-%m}"
    costs_actions.record_operating_cost(
        site=s.site, month=month, amount=Decimal(42000), note=text, key=s.key(), by=s.manager
    )
    corrected = costs_actions.record_operating_cost(
        site=s.site,
        month=month,
        amount=Decimal(45000),
        note=text,
        reason=text,
        key=s.key(),
        by=s.manager,
    )
    return corrected.note + corrected.reason


FREE_TEXT_ACTIONS: dict[str, Drive] = {
    "saferoom.incidents.actions.start_incident": _start_incident,
    "saferoom.api.actions.record_incident": _api_record_incident,
    "saferoom.incidents.actions.record_intervention": _record_intervention,
    "saferoom.incidents.actions.record_outcome": _record_outcome,
    "saferoom.incidents.actions.add_note": _add_note,
    "saferoom.incidents.actions.review_and_close": _review_and_close,
    "saferoom.incidents.actions.amend_incident_time": _amend_incident_time,
    "saferoom.incidents.actions.amend_outcome": _amend_outcome,
    "saferoom.incidents.actions.amend_intervention": _amend_intervention,
    "saferoom.clients.actions.set_ban": _set_ban,
    "saferoom.clients.actions.lift_ban": _lift_ban,
    "saferoom.clients.actions.merge_clients": _merge_clients,
    "saferoom.core.breakglass.open_grant": _break_glass,
    "saferoom.core.security_alerts.review_alert": _review_alert,
    "saferoom.floor.board.open_stop": _open_stop,
    "saferoom.governance.actions.request_disclosure": _request_disclosure,
    "saferoom.governance.actions.decide_disclosure": _decide_disclosure,
    "saferoom.care.referrals.actions.record_follow_up": _record_follow_up,
    "saferoom.care.referrals.actions.amend_referral": _amend_referral,
    "saferoom.care.referrals.actions.record_identity": _record_identity,
    "saferoom.care.referrals.actions.open_identity_record": _open_identity_record,
    "saferoom.care.referrals.actions.grant_identity_access": _grant_identity_access,
    "saferoom.care.checking.actions.record_check": _record_check,
    "saferoom.care.checking.actions.issue_alert": _issue_alert,
    "saferoom.care.checking.actions.withdraw_alert": _withdraw_alert,
    "saferoom.care.supplies.actions.receive_stock": _receive_stock,
    "saferoom.care.supplies.actions.count_stock": _count_stock,
    "saferoom.care.supplies.actions.take_stock": _take_stock,
    "saferoom.care.supplies.actions.adjust_stock": _adjust_stock,
    "saferoom.care.supplies.actions.reverse_give_out": _reverse_give_out,
    "saferoom.care.supplies.actions.void_service": _void_service,
    "saferoom.sites.actions.set_out_of_service": _set_out_of_service,
    "saferoom.reports.costs_actions.record_operating_cost": _record_operating_cost,
}
