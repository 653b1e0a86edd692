"""Who must log in with a second factor, and the state of a session's two-factor check.

Managers, evaluators and administrators (anyone holding such a membership anywhere) and
superusers must use an authenticator app: each can see client-level data across a site or a
network, or aggregates that are published. Everyone else has a second factor too: a person who
has set up an authenticator app is asked for a code whenever they log in with their password;
one who has not logs in only on a tablet a manager enrolled for a site where they work
(``saferoom.accounts.tablets``, ADR 14), which is also the only place a colleague can switch in
with their PIN. Elsewhere the session is held on a page that says so.

The decision is kept in the session for a few minutes, so that the board's background polling
costs no extra queries; the pages of the two-factor step always look again. Revoking a tablet
ends the logins on it at once (``actions.revoke_tablet``), so the cache never outlives it."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from saferoom.accounts import tablets
from saferoom.accounts.sessions import TABLET_KEY
from saferoom.core.roles import Role

TWO_FACTOR_ROLES = frozenset({Role.MANAGER, Role.EVALUATOR, Role.ADMIN})
# Session keys: the cached decision, and how this session's user proved who they are.
STATE_KEY = "saferoom_two_factor"
AUTH_METHOD_KEY = "saferoom_auth_method"
PIN = "pin"
# The page of each step a session can be held on.
STEP_URLS = {
    "verify": "accounts:verify",
    "enrol": "accounts:enrol",
    "tablet": "accounts:tablet_needed",
}
RECHECK_SECONDS = 300
BACKUP_CODES = 10


@dataclass(frozen=True)
class TwoFactorState:
    required: bool  # their roles require an authenticator app
    enrolled: bool  # they have set up an authenticator app
    on_tablet: bool = False  # this device is a tablet enrolled for a site where they work

    def step(self, auth_method: str | None) -> str | None:
        """What this session must do before any other page: "verify", "enrol", "tablet" (move to
        an enrolled tablet) or nothing."""
        if self.required:
            return "verify" if self.enrolled else "enrol"
        tablet_step = None if self.on_tablet or not tablets.required() else "tablet"
        if auth_method == PIN:
            # A PIN is the second factor on top of the tablet, never on its own.
            return tablet_step
        if self.enrolled:
            return "verify"
        return tablet_step


def requires_two_factor(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(user.memberships.filter(role__in=TWO_FACTOR_ROLES).exists())


def is_enrolled(user: Any) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def state(request: HttpRequest, *, fresh: bool = False) -> TwoFactorState:
    """The two-factor state of the session's user, from the session when recently checked."""
    now = int(time.time())
    cached = request.session.get(STATE_KEY)
    user = request.user
    cookie = tablets.fingerprint(request)
    if (
        not fresh
        and isinstance(cached, list)
        and len(cached) == 6
        and cached[0] == user.pk
        and cached[4] == cookie
        and now - int(cached[5]) < RECHECK_SECONDS
    ):
        return TwoFactorState(
            required=bool(cached[1]), enrolled=bool(cached[2]), on_tablet=bool(cached[3])
        )
    required = requires_two_factor(user)
    tablet = tablets.tablet_of(request)
    result = TwoFactorState(
        required=required,
        enrolled=is_enrolled(user),
        on_tablet=not required and tablets.counts_for(tablet, user),
    )
    request.session[STATE_KEY] = [
        user.pk,
        result.required,
        result.enrolled,
        result.on_tablet,
        cookie,
        now,
    ]
    if tablet is not None:
        request.session[TABLET_KEY] = tablet.pk
    else:
        request.session.pop(TABLET_KEY, None)
    return result


def pending_step(request: HttpRequest, *, fresh: bool = False) -> str | None:
    """ "verify", "enrol", "tablet", or None when the session may carry on."""
    user: Any = request.user
    if not user.is_authenticated:
        return None
    # Right after django.contrib.auth.login, request.user is the plain user (not yet wrapped by
    # OTPMiddleware): not verified.
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return None
    return state(request, fresh=fresh).step(request.session.get(AUTH_METHOD_KEY))


def pending_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator being set up (made on first asking, then reused)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def secret_for_typing(device: TOTPDevice) -> str:
    """The shared secret in base32, in groups of four, for typing into an app by hand."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_code_svg(device: TOTPDevice) -> str:
    """The otpauth:// address as an inline SVG QR code, drawn here: no outside service."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    # Drop the XML declaration (the SVG goes inside the page) and draw it big enough for a
    # phone's camera, with a white margin whatever the page's colours.
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'width="[^"]*" height="[^"]*"', 'width="240" height="240"', svg, count=1)
    # (A rect, not a style attribute: the content security policy allows no inline styles.)
    svg = svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)
    opening_end = svg.index(">") + 1
    return svg[:opening_end] + '<rect width="100%" height="100%" fill="#fff"/>' + svg[opening_end:]


def normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def is_app_code(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


def new_backup_codes(user: Any) -> list[str]:
    """Replace the user's backup codes with new ones; returns them (shown once, never again)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return [f"{code[:4]}-{code[4:]}" for code in codes]


def backup_codes_left(user: Any) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())
