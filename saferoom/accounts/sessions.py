"""Where a person is logged in (ASVS 3.3.4): the session engine, the device description and the
lists behind "Where you are logged in".

``SESSION_ENGINE`` is this module: Django's database engine with our own model
(``LoginSession``), which also names the user, the device, when the login began and when it was
last used. Those columns are copied from the session's data whenever Django saves it anyway
(``SessionLifetimeMiddleware`` does so at most once a minute), so listing logins costs no query
per request. Ending a login deletes its row: the next request with that cookie is anonymous and
goes to the login page, wherever the device is."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import db
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from saferoom.accounts.models import LoginSession

# Session data keys. started_at and last_active_at are SessionLifetimeMiddleware's; the tablet
# (the EnrolledTablet the login is on) is noted by saferoom.accounts.two_factor.
DEVICE_KEY = "device"
STARTED_KEY = "started_at"
LAST_ACTIVE_KEY = "last_active_at"
TABLET_KEY = "saferoom_tablet"


class SessionStore(db.SessionStore):
    @classmethod
    def get_model_class(cls) -> type[LoginSession]:
        return LoginSession

    def create_model_instance(self, data: dict[str, Any]) -> LoginSession:
        obj = cast(LoginSession, super().create_model_instance(data))
        try:
            obj.user_id = int(data[SESSION_KEY]) if SESSION_KEY in data else None
        except (TypeError, ValueError):
            obj.user_id = None
        obj.device = str(data.get(DEVICE_KEY, ""))[:80]
        obj.started_at = _from_epoch(data.get(STARTED_KEY))
        obj.last_seen_at = _from_epoch(data.get(LAST_ACTIVE_KEY))
        tablet = data.get(TABLET_KEY)
        obj.tablet_id = tablet if isinstance(tablet, int) else None
        return obj


def _from_epoch(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# --- the device, from its user agent ---------------------------------------------------------

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|Chromium|CriOS)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("iPad", re.compile(r"\biPad\b")),
    ("iPhone", re.compile(r"\biPhone\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)


def describe_device(user_agent: str) -> str:
    """A browser and a system, "Chrome|Android", from a user agent: enough for a person to
    recognise their tablet in a list, and nothing that tells one device from another of the same
    kind (no version, no address). Either half is empty when unknown."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    return f"{browser}|{system}"


def device_label(device: str) -> str:
    """A stored device as the audit log shows it: "Chrome / Android"."""
    browser, _sep, system = device.partition("|")
    return " / ".join(part for part in (browser, system) if part) or "unknown"


def note_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On every login (password, PIN switch): the device. Its start and last use are noted by
    SessionLifetimeMiddleware from the first request after it, as its timeouts count from it."""
    session = getattr(request, "session", None)
    if session is not None:
        session[DEVICE_KEY] = describe_device(request.headers.get("User-Agent", "")[:512])


# --- the logins a person has --------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    ref: str  # a handle for forms; never the session key, which is the login itself
    browser: str
    system: str
    started_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    current: bool


def ref_of(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:20]


def live_sessions(user: Any, now: dt.datetime | None = None) -> QuerySet[LoginSession]:
    """The user's logins that would still let someone in: not past their expiry, their
    absolute lifetime or their idle timeout."""
    now = now or timezone.now()
    idle = dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    lifetime = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return LoginSession.objects.filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__gte=now - idle),
        Q(started_at__isnull=True) | Q(started_at__gte=now - lifetime),
        user=user,
        expire_date__gt=now,
    )


def logins_of(user: Any, current_key: str | None = None) -> list[Login]:
    """The user's live logins, the current one first, then the most recently used."""
    logins = []
    for row in live_sessions(user):
        browser, _sep, system = row.device.partition("|")
        logins.append(
            Login(
                ref=ref_of(row.session_key),
                browser=browser,
                system=system,
                started_at=row.started_at,
                last_seen_at=row.last_seen_at,
                current=row.session_key == current_key,
            )
        )
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    logins.sort(key=lambda login: login.last_seen_at or login.started_at or oldest, reverse=True)
    logins.sort(key=lambda login: not login.current)
    return logins
