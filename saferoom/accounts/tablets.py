"""Enrolled tablets (ADR 14): the "something you have" of desk and floor staff who have no
authenticator app. A manager makes a one-time code; typed on the tablet's "Enrol this tablet"
page it gives the tablet a cookie holding a long random secret. The database keeps only hashes:
of the secret (SHA-256: 256 random bits, nothing to guess) and of the code (HMAC with the secret
key: 8 characters could be found by trying them all against a plain hash).

The cookie names no person and holds nothing but the secret; it is HttpOnly, SameSite=Strict and
(in production) Secure, and is renewed as the tablet is used."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.crypto import salted_hmac

from saferoom.accounts.models import EnrolledTablet

# No 0/O, 1/I/L, 5/S or 2/Z pairs to confuse on a tablet's keyboard or a manager's screen.
CODE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 8
SEEN_EVERY = timedelta(hours=1)
# Set on the request when the tablet was noted as seen, so the response renews its cookie.
RENEW_ATTR = "saferoom_renew_tablet_cookie"


def required() -> bool:
    return bool(settings.ENROLLED_TABLETS_REQUIRED)


# --- the device secret and its cookie ---------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def presented_secret(request: HttpRequest) -> str:
    value = request.COOKIES.get(settings.TABLET_COOKIE_NAME, "")
    # A real secret is 43 characters; anything far longer is not worth hashing.
    return value if 0 < len(value) <= 128 else ""


def fingerprint(request: HttpRequest) -> str:
    """A short one-way mark of the cookie this request carries ("" without one), kept with the
    session's cached two-factor state so that a different cookie is looked at afresh."""
    secret = presented_secret(request)
    return secret_hash(secret)[:16] if secret else ""


def set_cookie(response: HttpResponseBase, secret: str) -> None:
    response.set_cookie(
        settings.TABLET_COOKIE_NAME,
        secret,
        max_age=settings.TABLET_COOKIE_AGE,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Strict",
    )


def renew_cookie(request: HttpRequest, response: HttpResponseBase) -> None:
    """Give the cookie another full life when the tablet was noted as seen on this request."""
    if getattr(request, RENEW_ATTR, False):
        secret = presented_secret(request)
        if secret:
            set_cookie(response, secret)


# --- which tablet this is ----------------------------------------------------------------


def tablet_of(
    request: HttpRequest, *, note_seen: bool = True, at: datetime | None = None
) -> EnrolledTablet | None:
    """The unrevoked enrolled tablet this request comes from, or None. Notes it as seen (at most
    once an hour, one UPDATE) unless ``note_seen`` is off."""
    secret = presented_secret(request)
    if not secret:
        return None
    tablet = (
        EnrolledTablet.objects.select_related("site")
        .filter(secret_hash=secret_hash(secret), revoked_at__isnull=True)
        .first()
    )
    if tablet is not None and note_seen:
        now = at or timezone.now()
        if tablet.last_seen_at is None or tablet.last_seen_at <= now - SEEN_EVERY:
            EnrolledTablet.objects.filter(pk=tablet.pk).update(last_seen_at=now)
            tablet.last_seen_at = now
            setattr(request, RENEW_ATTR, True)
    return tablet


def counts_for(tablet: EnrolledTablet | None, user: Any) -> bool:
    """Whether ``tablet`` is a second factor for ``user``: enrolled for a site where they work."""
    from saferoom.sites.access import sites_for

    if tablet is None or not user.is_authenticated:
        return False
    return bool(sites_for(user).filter(pk=tablet.site_id).exists())


# --- enrolment codes -----------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(typed: str) -> str:
    """What was typed, without spaces or hyphens, in capitals (codes are shown as ABCD-EFGH)."""
    return "".join(typed.split()).replace("-", "").upper()


def looks_like_a_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


def code_hash(code: str) -> str:
    return salted_hmac("saferoom.accounts.tablet-code", code, algorithm="sha256").hexdigest()


def show_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def attempt_hash(key: str) -> str:
    return hashlib.sha256(f"tablet-enrolment:{key}".encode()).hexdigest()


def access_tablet(site: Any, pk: int) -> EnrolledTablet:
    """One of the site's tablets, for a manager's page; another site's tablet answers 404."""
    from django.http import Http404

    tablet = EnrolledTablet.objects.select_related("site").filter(site=site, pk=pk).first()
    if tablet is None:
        raise Http404
    return tablet
