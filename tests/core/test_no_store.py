"""Nothing sensitive is kept by the browser (checklist item 19; ASVS 8.2): every page a logged-in
person opens, and every live partial, is sent ``Cache-Control: no-store``; our scripts keep
nothing in browser storage but the board's sound preference. What is left in a real browser
after logging out is checked in tests/accounts/test_storage_after_logout.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

import saferoom
from tests.access_table import ACCESS_TABLE, build_samples
from tests.conftest import login

pytestmark = pytest.mark.django_db

STATIC = Path(saferoom.__file__).parent / "static"
# What our scripts may keep in the browser, and why it is not personal.
ALLOWED_STORAGE_KEYS = {"saferoom.board.sound": "the board's sound on or off, per tablet"}
STORAGE = re.compile(r"\b(localStorage|sessionStorage|indexedDB|caches|cookie)\b")


def test_every_page_a_logged_in_person_opens_is_not_stored_by_the_browser(
    network, site_a, site_b, desk, nurse, manager, evaluator, admin
):
    samples = build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)
    people = {"desk": desk, "nurse": nurse, "manager": manager, "evaluator": evaluator}
    people["admin"] = admin
    browsers = {persona: login(user) for persona, user in people.items()}
    checked, stored = 0, []
    for name, row in sorted(ACCESS_TABLE.items()):
        persona = next((p for p in people if row.statuses[p] == 200), None)
        if persona is None or row.public:
            continue
        url = reverse(name, kwargs={k: samples[v] for k, v in row.kwargs.items()})
        response = browsers[persona].get(url)
        assert response.status_code == 200, f"{name}: {response.status_code}"
        checked += 1
        if "no-store" not in response.get("Cache-Control", ""):
            stored.append(f"{name}: {response.get('Cache-Control')!r}")
    assert checked > 50
    assert not stored, "Pages a browser may keep:\n" + "\n".join(stored)


def test_live_partials_and_refusals_are_not_stored_either(as_nurse, as_other_site_worker, site_a):
    poll = as_nurse.get(
        reverse("board:poll", kwargs={"site": site_a.slug}),
        headers={"HX-Request": "true", "X-Saferoom-Poll": "1"},
    )
    assert poll.status_code in (200, 204, 286)
    assert "no-store" in poll["Cache-Control"]
    refused = as_other_site_worker.get(reverse("clients:find", kwargs={"site": site_a.slug}))
    assert refused.status_code == 404
    assert "no-store" in refused["Cache-Control"]


def test_our_scripts_keep_nothing_in_browser_storage_but_the_sound_preference():
    uses = []
    for script in sorted(STATIC.rglob("*.js")):
        text = script.read_text(encoding="utf-8")
        for match in re.finditer(
            r"\b(localStorage|sessionStorage|indexedDB|caches|cookie)\b", text
        ):
            line = text[: match.start()].count("\n") + 1
            uses.append((script.name, line, match.group(1)))
    kinds = {kind for _name, _line, kind in uses}
    assert kinds <= {"localStorage"}, uses
    board = (STATIC / "saferoom" / "board.js").read_text(encoding="utf-8")
    keys = set(re.findall(r"var SOUND_KEY = \"([^\"]+)\"", board))
    assert keys == set(ALLOWED_STORAGE_KEYS)
    # Every storage call goes through that one key.
    calls = re.findall(r"localStorage\.(?:getItem|setItem)\((\w+)", board)
    assert calls
    assert set(calls) == {"SOUND_KEY"}
