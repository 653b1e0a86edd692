"""The API's own writes: making and revoking tokens, and recording an incident with its
interventions in one go (the field client's "what happened" sent after the fact).

Each runs in one transaction with its audit events. Token creation takes no idempotency key on
purpose: the token is shown only in the answer, so a replay could never return it; a command
run twice makes two tokens, both listed by ``saferoom api_token list`` and revocable."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.core import audit
from saferoom.core.errors import ActionRefused
from saferoom.core.idempotency import remember, replayed
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident, Intervention
from saferoom.sites.models import Site, Space

from .models import ApiToken, token_hash

TOKEN_PREFIX = "srk_"  # noqa: S105 - what every token starts with, not a secret
# srk_<8 hex characters: the prefix>_<43 characters: 256 random bits, URL-safe base64>
TOKEN_PATTERN = re.compile(r"^srk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
NAME_MAX = 80


# --- Tokens ---------------------------------------------------------------------------------


def create_token(
    *,
    user: User,
    name: str,
    by: User | None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token itself, which is never stored
    and cannot be shown again."""
    now = at or timezone.now()
    name = (name or "").strip()
    if not name:
        raise ActionRefused(
            _("Say what the token is for (for example “van tablet 2”)."), code="no_name"
        )
    if len(name) > NAME_MAX:
        raise ActionRefused(
            _("Keep the name under %(n)s characters.") % {"n": NAME_MAX}, code="too_long"
        )
    if not user.is_active:
        raise ActionRefused(
            _("%(user)s's account is switched off: a token for it would not work.")
            % {"user": user.get_username()},
            code="inactive_user",
        )
    if expires_at is not None and expires_at <= now:
        raise ActionRefused(_("A token must expire in the future."), code="bad_expiry")
    with transaction.atomic():
        for _attempt in range(5):
            prefix = secrets.token_hex(4)
            secret = secrets.token_urlsafe(32)
            token = f"{TOKEN_PREFIX}{prefix}_{secret}"
            salt = secrets.token_hex(16)
            try:
                with transaction.atomic():
                    row = ApiToken.objects.create(
                        user=user,
                        name=name,
                        prefix=prefix,
                        salt=salt,
                        secret_hash=token_hash(salt, token),
                        created_at=now,
                        created_by=by,
                        expires_at=expires_at,
                    )
            except IntegrityError:
                continue  # the prefix was taken (one in four billion): draw again
            break
        else:  # pragma: no cover - five collisions in a row do not happen
            raise ActionRefused(_("Could not make a token. Try again."), code="collision")
        audit.record(
            action="api_token.created",
            by=by,
            obj=row,
            at=now,
            detail={
                "user": user.get_username(),
                "name": name,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return row, token


def revoke_token(*, token: ApiToken, by: User | None, at: datetime | None = None) -> ApiToken:
    """Stop a token working, now and for ever. Revoking it twice is refused (it says when)."""
    now = at or timezone.now()
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=by
        )
        token.refresh_from_db()
        if not updated:
            raise ActionRefused(
                _("Token %(prefix)s was already revoked on %(when)s.")
                % {"prefix": token.prefix, "when": f"{token.revoked_at:%Y-%m-%d %H:%M} UTC"},
                code="already_revoked",
            )
        audit.record(
            action="api_token.revoked",
            by=by,
            obj=token,
            at=now,
            detail={"user": token.user.get_username(), "name": token.name},
        )
    return token


def token_for(raw: str, *, at: datetime | None = None) -> ApiToken | None:
    """The usable token ``raw`` is, or None (unknown, wrong secret, revoked, expired, or its
    user switched off). Marks it used, at most once a minute (a write per request would make
    every read a write)."""
    match = TOKEN_PATTERN.match(raw)
    if match is None:
        return None
    row = ApiToken.objects.select_related("user").filter(prefix=match.group(1)).first()
    now = at or timezone.now()
    if row is None or not row.matches(raw) or not row.usable_at(now):
        return None
    stale = now - timedelta(minutes=1)
    if row.last_used_at is None or row.last_used_at < stale:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


# --- An incident and its interventions, all or nothing ---------------------------------------


@dataclass(frozen=True)
class InterventionInput:
    """One intervention as a field client sends it: what, when, and the values its kind uses."""

    kind: str
    at: datetime
    naloxone_mg: Decimal | None = None
    naloxone_route: str = ""
    oxygen_l_min: int | None = None
    breathing_rate: int | None = None
    spo2: int | None = None
    avpu: str = ""
    note: str = ""

    def values(self) -> dict[str, Any]:
        """The keyword values ``record_intervention`` judges (as the emergency screen sends
        them: empty when not given)."""
        return {
            "naloxone_mg": "" if self.naloxone_mg is None else str(self.naloxone_mg),
            "naloxone_route": self.naloxone_route,
            "oxygen_l_min": "" if self.oxygen_l_min is None else self.oxygen_l_min,
            "breathing_rate": "" if self.breathing_rate is None else self.breathing_rate,
            "spo2": "" if self.spo2 is None else self.spo2,
            "avpu": self.avpu,
            "note": self.note,
        }

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at.isoformat(), **self.values()}


class InterventionRefused(ActionRefused):
    """One of the interventions sent was refused; ``index`` is its place in the request."""

    def __init__(self, refusal: ActionRefused, index: int) -> None:
        super().__init__(refusal.message, code=refusal.code)
        self.index = index


def _sub_key(key: uuid.UUID, part: str) -> uuid.UUID:
    """A key for one of the writes a request makes, derived from the request's key: the same
    request sent again derives the same keys."""
    return uuid.uuid5(key, part)


def record_incident(
    *,
    site: Site,
    by: User,
    idempotency_key: uuid.UUID,
    location: str,
    location_detail: str = "",
    kind: str = "",
    visit: Visit | None = None,
    space: Space | None = None,
    onset_at: datetime | None = None,
    interventions: Sequence[InterventionInput] = (),
) -> tuple[Incident, list[Intervention]]:
    """Start an incident and record its interventions, each at its own time, in one
    transaction: if the incident or any intervention is refused, nothing is written. Each part
    goes through the incidents actions (their rules, their audit events); the request as a whole
    is idempotent: sent again it returns what the first made, and sent again with different
    details it is refused."""
    details = {
        "site": site.pk,
        "location": location,
        "detail": (location_detail or "").strip(),
        "kind": kind,
        "visit": visit.pk if visit else None,
        "space": space.pk if space else None,
        "onset_at": onset_at.isoformat() if onset_at else None,
        "interventions": [step.fingerprint() for step in interventions],
    }
    with transaction.atomic():
        existing = replayed(key=idempotency_key, by=by, action="api.incident", details=details)
        if existing is not None:
            incident = Incident.objects.get(pk=existing)
            return incident, list(incident.interventions.order_by("at", "id"))
        incident = incident_actions.start_incident(
            site=site,
            by=by,
            idempotency_key=_sub_key(idempotency_key, "incident"),
            location=location,
            location_detail=location_detail,
            kind=kind,
            visit=visit,
            space=space,
            at=onset_at,
        )
        # In time order, so the timeline's own rules (an ambulance arrives after it is called)
        # see each step after the ones before it.
        ordered = sorted(enumerate(interventions), key=lambda pair: (pair[1].at, pair[0]))
        steps = []
        for index, step in ordered:
            try:
                recorded = incident_actions.record_intervention(
                    incident=incident,
                    kind=step.kind,
                    by=by,
                    idempotency_key=_sub_key(idempotency_key, f"intervention-{index}"),
                    at=step.at,
                    **step.values(),
                )
            except ActionRefused as refusal:
                raise InterventionRefused(refusal, index) from None
            steps.append(recorded)
        remember(key=idempotency_key, by=by, action="api.incident", details=details, obj=incident)
    return incident, steps
