"""Field encryption at rest with the keys of ``settings.FIELD_KEYS`` (Fernet: AES-CBC with an
HMAC, so a tampered value fails to decrypt instead of reading as something else).

The newest key encrypts and every key decrypts (MultiFernet), so keys rotate: put a new key in
front, run ``saferoom rotate_field_keys``, then drop the old one. The keys are read on every
call (building a MultiFernet is cheap), so a changed setting takes effect at once. Models hold
such text in a :class:`saferoom.core.fields.SealedTextField`."""

from __future__ import annotations

import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UnreadableField(Exception):
    """A sealed value none of the configured keys opens (a key was dropped too early, or the
    value was changed in the database). The message names no content."""


UNREADABLE = "A sealed field could not be decrypted with the keys set."


def _keys() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_KEYS])


def seal(text: str) -> str:
    """The text encrypted with the newest key; an empty text stays empty."""
    if not text:
        return ""
    return _keys().encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise UnreadableField(UNREADABLE) from None


def reseal(token: str) -> str:
    """The same content encrypted with the newest key (for key rotation)."""
    if not token:
        return ""
    try:
        return _keys().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise UnreadableField(UNREADABLE) from None


def is_current(token: str) -> bool:
    """Whether the newest key opens ``token`` (so rotating it again would change nothing)."""
    try:
        Fernet(settings.FIELD_KEYS[0]).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def opens(token: str) -> bool:
    """Whether one of the keys set opens ``token``: a sealed value, not clear text."""
    try:
        unseal(token)
    except UnreadableField:
        return False
    return True


def key_id(key: str | None = None) -> str:
    """A short, one-way name for a key (the newest by default), safe to log and audit."""
    key = key if key is not None else settings.FIELD_KEYS[0]
    return hashlib.sha256(key.encode("ascii")).hexdigest()[:12]


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")
