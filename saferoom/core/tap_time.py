"""The time of a tap that may reach the server late.

The offline outbox (``saferoom/static/saferoom/outbox.js``) keeps a one-tap form made without a
network and sends it when the network is back, with the moment of the tap in an ``at`` field
(an ISO 8601 instant, or the site's local time). A check done at 14:05 and sent at 14:25 is a
check at 14:05. That time comes from the device, so it is believed only within bounds: not in
the future (beyond a small clock skew), not more than ``MAX_AGE`` ago, and not before what it
belongs to began (the session, the visit). Otherwise the tap is refused and nothing written.

Actions take it as ``tapped_at`` (a device's word, checked here) beside ``at`` (internal
callers: the simulation, the worker, tests, trusted as given). ``at`` is never part of an
idempotency fingerprint, so a tap sent again with another ``at`` is still the same tap; and the
bounds are checked after the replay lookup, so a tap whose first sending arrived is answered
with its record however late it is sent again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saferoom.core.errors import ActionRefused

if TYPE_CHECKING:
    from saferoom.sites.models import Site

# How far ahead of the server's clock a device's may be (the outbox corrects for the skew it
# sees when the page loads, and rounds the tap up to the whole second).
CLOCK_SKEW = timedelta(minutes=1)
# The oldest tap still recorded at its own time: two days, so a van nurse who logs in again the
# next day still sends the evening's taps. A tablet that comes back after that has its taps
# refused, shown to the person as not accepted, never recorded at a wrong time. Shorter than
# the idempotency keys are kept (72 hours), so a tap whose first sending did arrive and whose
# key is forgotten is refused here, never recorded twice.
MAX_AGE = timedelta(hours=48)

# The site's local time as a datetime-local input sends it; an ISO 8601 instant with an offset
# (what outbox.js sends) is read before these, whatever the time zone.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def tap_time_field() -> forms.DateTimeField:
    """The optional ``at`` of a one-tap form; empty means now."""
    return forms.DateTimeField(
        required=False,
        widget=forms.HiddenInput,
        input_formats=LOCAL_FORMATS,
        error_messages={
            "invalid": gettext_lazy(
                "The time of this tap could not be read. Nothing was recorded: record it again."
            )
        },
    )


def _clock(site: Site, moment: datetime, now: datetime) -> str:
    local = site.local(moment)
    if local.date() == site.local(now).date():
        return dateformat.format(local, "H:i:s")
    return dateformat.format(local, "j M H:i")


def checked(
    tapped_at: datetime | None,
    *,
    site: Site,
    began: datetime | None = None,
    what: Any = None,
    now: datetime | None = None,
) -> datetime:
    """The time to record: ``tapped_at`` if it is plausible, now if there is none. ``began``
    is when what the tap belongs to began, ``what`` names it ("the session") for the refusal."""
    now = now or timezone.now()
    if tapped_at is None:
        return now
    if tapped_at > now + CLOCK_SKEW:
        raise ActionRefused(
            _(
                "The time of this tap, %(time)s, is in the future: this tablet's clock is "
                "wrong. Nothing was recorded: set the clock right, then record it again."
            )
            % {"time": _clock(site, tapped_at, now)},
            code="future",
        )
    if tapped_at < now - MAX_AGE:
        raise ActionRefused(
            _(
                "This was tapped at %(time)s, more than %(hours)s hours ago: too long ago to "
                "record it at that time. Nothing was recorded: if it still needs recording, "
                "tell a manager."
            )
            % {"time": _clock(site, tapped_at, now), "hours": int(MAX_AGE.total_seconds() // 3600)},
            code="too_old",
        )
    if began is not None and tapped_at < began:
        raise ActionRefused(
            _(
                "The time of this tap, %(time)s, is before %(what)s began (%(start)s). Nothing "
                "was recorded: check this tablet's clock."
            )
            % {
                "time": _clock(site, tapped_at, now),
                "what": what or _("it"),
                "start": _clock(site, began, now),
            },
            code="before_start",
        )
    return tapped_at


def received(tapped_at: datetime | None) -> dict[str, str]:
    """For an audit event timed at the tap: when the server got it, if a device gave the time."""
    return {} if tapped_at is None else {"received_at": timezone.now().isoformat()}
