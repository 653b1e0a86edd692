"""Nothing sensitive is kept by the browser (checklist item 19; ASVS 8.2): every page a logged-in
person opens, and every live partial, is sent ``Cache-Control: no-store``; our scripts keep
nothing in browser storage but the board's sound preference and the offline outbox, whose
entries are sealed (AES-GCM) before they are written. What is left in a real browser after
logging out is checked in tests/accounts/test_storage_after_logout.py, and what the outbox
holds in tests/browser/test_offline.py."""

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
ALLOWED_DATABASES = {
    "saferoom-outbox": "taps kept while offline, sealed with the person's key (outbox.js)"
}
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


def test_our_scripts_keep_nothing_in_browser_storage_but_the_sound_preference_and_the_outbox():
    uses = []
    for script in sorted(STATIC.rglob("*.js")):
        text = script.read_text(encoding="utf-8")
        for match in STORAGE.finditer(text):
            line = text[: match.start()].count("\n") + 1
            uses.append((script.name, line, match.group(1)))
    kinds = {kind for _name, _line, kind in uses}
    assert kinds <= {"localStorage", "indexedDB"}, uses
    assert {name for name, _line, kind in uses if kind == "localStorage"} == {"board.js"}
    assert {name for name, _line, kind in uses if kind == "indexedDB"} == {"outbox.js"}
    board = (STATIC / "saferoom" / "board.js").read_text(encoding="utf-8")
    keys = set(re.findall(r"var SOUND_KEY = \"([^\"]+)\"", board))
    assert keys == set(ALLOWED_STORAGE_KEYS)
    # Every storage call goes through that one key.
    calls = re.findall(r"localStorage\.(?:getItem|setItem)\((\w+)", board)
    assert calls
    assert set(calls) == {"SOUND_KEY"}

    # The outbox: one database, written in one place, with sealed parts and an opaque tag only;
    # its key is imported as non-extractable and never written anywhere or exported.
    outbox = (STATIC / "saferoom" / "outbox.js").read_text(encoding="utf-8")
    assert set(re.findall(r"var DB_NAME = \"([^\"]+)\"", outbox)) == set(ALLOWED_DATABASES)
    assert re.findall(r"\.(put|add)\(", outbox) == ["put"]
    writer = outbox[outbox.index("function writeSealed(") :]
    writer = writer[: writer.index("\n  }\n")]
    assert "store.put(record)" in writer
    assert re.search(
        r"var record = \{ owner: entry\.owner, state: entry\.state, body: entry\.body, "
        r"who: entry\.who \};",
        writer,
    )
    writes = re.findall(r"writeSealed\(\{([^}]*)\}\)", outbox)
    assert writes
    for call in writes:
        body = re.search(r"body: (\w+(?:\[0\])?)", call)
        assert body is not None, call
        assert body.group(1) in {"sealed[0]", "body"}, call
    assert 'false, ["encrypt", "decrypt"]' in outbox
    assert "exportKey" not in outbox
    assert "wrapKey" not in outbox
