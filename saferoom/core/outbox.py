"""Keys of a tablet's offline outbox (``saferoom/static/saferoom/outbox.js``).

A page a person opens while logged in carries, in meta tags, three values derived here from
``settings.SECRET_KEY`` with HMAC-SHA256 (Django's ``salted_hmac``), never stored anywhere:

- the person's *outbox key* (AES-256-GCM): what they record while the network is down is kept
  on the tablet sealed with it. The same person gets the same key at every login, so a session
  that timed out while offline loses nothing: they log in again and it is sent;
- the *owner tag*: an opaque name for whose entries are whose, which says nothing without the
  secret;
- the *directory key*, the same for every member of staff: it seals only the username of each
  entry, so a colleague logging in on the same tablet is told whose records are waiting
  without being able to read or send them.

A tablet that is logged out (or stolen) holds ciphertext and the owner tags only. Rotating
``SECRET_KEY`` makes what is still queued unreadable: send or clear queues first.
"""

from __future__ import annotations

import base64

from django.utils.crypto import salted_hmac

from saferoom.core.models import User

_SALT = "saferoom.outbox.v1."


def _derive(purpose: str, value: str) -> bytes:
    return salted_hmac(_SALT + purpose, value, algorithm="sha256").digest()


def user_key(user: User) -> bytes:
    """The 32-byte AES key of this person's queue."""
    return _derive("user-key", str(user.pk))


def directory_key() -> bytes:
    """The 32-byte AES key that seals the username on each entry (any member of staff)."""
    return _derive("directory-key", "all-staff")


def owner_tag(user: User) -> str:
    """An opaque, stable name for this person's entries on a tablet."""
    return base64.urlsafe_b64encode(_derive("owner", str(user.pk))[:16]).decode().rstrip("=")


def page_values(user: User) -> dict[str, str]:
    """What a logged-in page puts in its meta tags for outbox.js."""
    return {
        "key": base64.b64encode(user_key(user)).decode(),
        "directory": base64.b64encode(directory_key()).decode(),
        "owner": owner_tag(user),
        "name": user.get_username(),
    }
