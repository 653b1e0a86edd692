"""No shared accounts (HIPAA unique user id; DSPT standard 2): a username must name a person,
never a role, a desk, a device or a site. A shared tablet is shared by switching user with a
personal PIN (ADR 13), so that every write is recorded under the person who made it."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words that name a role, a place or a device rather than a person.
GENERIC_WORDS = frozenset(
    {
        "admin", "administrator", "all", "night", "day", "demo", "desk", "everyone", "evaluator",
        "floor", "front", "frontdesk", "guest", "info", "ipad", "kiosk", "late", "manager",
        "mobile", "nurse", "nurses", "office", "reception", "room", "root", "saferoom", "service",
        "shared", "shift", "site", "staff", "station", "support", "sysadmin", "tablet", "team",
        "temp", "test", "user", "van", "volunteer", "worker", "early",
    }
)  # fmt: skip


def is_generic(username: str, place_names: Iterable[str] = ()) -> bool:
    """Whether every word of ``username`` (split at dots, dashes, underscores, @, + and digits)
    is a generic word or the name of a place: "desk", "riverside.desk", "tablet-2" are;
    "dana.desk" is not, and nor is a staff number such as "40117"."""
    places = {word for name in place_names for word in _words(name)}
    words = _words(username)
    return bool(words) and all(word in GENERIC_WORDS or word in places for word in words)


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[^a-z]+", text.lower()) if word]
