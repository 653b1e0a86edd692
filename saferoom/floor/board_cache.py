"""The board's live part rendered once and shared by the devices that ask for it.

After every change all the devices at a site ask for the same new board within a poll interval.
Rendering it (the snapshot's queries and some two thousand template nodes for a 30-place site)
is most of the cost of a busy evening (``make bench``, the load run), so each server process
keeps the render of each site's board for the rest of the clock's current second, under the
board version, whether the viewer may act on the board, and the language.

What differs between two people's copies is put in for each request: their CSRF token, a fresh
idempotency key for every form, and the server's clock (``data-server-now``). What the board
works out from the time (waits, check countdowns, a check turning due or overdue, a seat's
clear-down ending) is of the same second: never older than the board a device keeps showing
after a poll answered "nothing changed", whose timers board.js counts on from the timestamps in
the page. A write the board shows bumps the version (``saferoom.floor.board.bump_board``), so it
is never hidden by a stored render: the next request asks for the new version and renders it.

Kept in the process's memory (no shared cache, no second datastore): each server process
renders each version of a site's board at most once a second."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from saferoom.sites.models import Site

# Stand-ins rendered into the stored copy, replaced for each request. A NUL cannot come from
# anything a person typed (Django's form fields refuse it), so it cannot be forged.
_KEY = "\x00saferoom-key\x00"
_CSRF = "\x00saferoom-csrf\x00"
_NOW = "\x00saferoom-now\x00"
_MARKERS = re.compile("(\x00saferoom-(?:key|csrf|now)\x00)")

_lock = threading.Lock()
_rendered: dict[tuple[Any, ...], tuple[int, list[str]]] = {}


class _Now:
    """``server_now`` in the stored copy: the template asks for its ``isoformat``."""

    def isoformat(self) -> str:
        return _NOW


def clear() -> None:
    """Forget every stored render (tests: each starts from an empty store)."""
    with _lock:
        _rendered.clear()


def live_board(
    request: HttpRequest,
    site: Site,
    version: int,
    *,
    can_act: bool,
    context: Callable[[], dict[str, Any]],
    template: str = "floor/board.htmx.html",
) -> SafeString:
    """The board's live part for ``request``: the render of ``version`` stored this second
    when there is one, else a new one made from ``context()`` (which takes the snapshot) and
    stored under the version that snapshot shows."""
    second = int(timezone.now().timestamp())
    language = translation.get_language()
    with _lock:
        found = _rendered.get((site.pk, version, can_act, language, template))
    if found is not None and found[0] == second:
        parts = found[1]
    else:
        values = context()
        values.update(fresh_key=lambda: _KEY, csrf_token=_CSRF, server_now=_Now())
        parts = _MARKERS.split(render_to_string(template, values, request))
        key = (site.pk, values.get("version", version), can_act, language, template)
        with _lock:
            for old in [k for k, (at, _p) in _rendered.items() if at != second]:
                del _rendered[old]
            _rendered[key] = (second, parts)
    return _fill(parts, request)


def _fill(parts: list[str], request: HttpRequest) -> SafeString:
    token = get_token(request)  # also makes sure the CSRF cookie goes out with the answer
    clock = timezone.now().isoformat()
    filled = [
        str(uuid.uuid4())
        if part == _KEY
        else token
        if part == _CSRF
        else clock
        if part == _NOW
        else part
        for part in parts
    ]
    return mark_safe("".join(filled))  # noqa: S308 - our own template's output
