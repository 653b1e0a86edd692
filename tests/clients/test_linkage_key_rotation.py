"""Rotating the linkage key (``saferoom rotate-linkage-key``, ADR 3): the stored hashes are
re-keyed under a new layer, because the details they were made from are never kept. Returning
clients are still found by their details and likely duplicates still warn, during the rotation
and after it; whoever holds only an old key matches nothing; a rerun changes nothing; a
configuration that would lose clients is refused before anything changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import string
import uuid
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.utils import timezone

import saferoom.settings as saferoom_settings
from saferoom.clients import actions, codes
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Client
from saferoom.core import idempotency, retention
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, IdempotencyKey, User
from saferoom.sites.models import ClientCodeScheme, Site
from tests.clients.conftest import NDTMS, find_url, post_registration, register_via_http
from tests.core.test_deny_by_default import SECRET, start_production

FIRST = "first-linkage-key-" + "1" * 24
SECOND = "second-layer-key-" + "2" * 24
THIRD = "third-layer-key-" + "3" * 24
TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
QZ = SchemeAttributes(initials="QZ", date_of_birth=dt.date(1987, 3, 14), sex="female")


@pytest.fixture(autouse=True)
def first_key_only(settings: Any) -> None:
    """Clients registered before any rotation: under SAFEROOM_LINKAGE_KEY alone."""
    settings.LINKAGE_KEY = FIRST
    settings.LINKAGE_KEY_LAYERS = []


def register(site: Site, by: User, initials: str = "QZ") -> Client:
    """A client born on 14 March 1987 with these initials, registered at the desk."""
    return actions.register_client(
        site=site,
        attrs=SchemeAttributes(initials=initials, date_of_birth=QZ.date_of_birth, sex="female"),
        gender="female",
        by=by,
        idempotency_key=uuid.uuid4(),
        confirm_not_duplicate=True,
    )


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_linkage_key", *args, stdout=out)
    return out.getvalue()


def single_key_hash(key: str, site: Site, text: str = "QZ|1987-03-14|F") -> str:
    """What the hash was before any rotation, worked out here from its definition."""
    message = f"v1|{site.network_id}|{ClientCodeScheme.INITIALS_DOB_SEX}|{text}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def stored() -> list[tuple[int, str, int]]:
    return list(Client.objects.order_by("pk").values_list("pk", "linkage_hash", "linkage_layers"))


def find(site: Site, attrs: SchemeAttributes = QZ) -> list[Client]:
    return actions.find_by_attributes(network=site.network, attrs=attrs, today=TODAY)


def found_at_the_desk(http: HttpClient, site: Site, client: Client, **details: str) -> bool:
    data = {**NDTMS, **details}
    response = http.post(
        find_url(site), {"search": "attributes", **{f"find-{k}": v for k, v in data.items()}}
    )
    assert response.status_code == 200
    html = response.content.decode()
    return "Client found" in html and client.display_code in html


# --- after a rotation ---------------------------------------------------------------------------


def test_after_a_rotation_a_returning_client_is_still_found_by_their_details(
    as_desk, site_a, settings
):
    client = register_via_http(as_desk, site_a)
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate()
    assert found_at_the_desk(as_desk, site_a, client, initials="q.z.")


def test_after_a_rotation_likely_duplicates_still_warn_exact_matches_first(
    as_desk, site_a, desk, settings
):
    swapped = register(site_a, desk, initials="ZQ")
    exact = register(site_a, desk)
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate()
    response = post_registration(as_desk, site_a, {**NDTMS, "initials": "ZQ"})
    html = response.content.decode()
    assert "They may already be registered" in html
    assert swapped.display_code in html
    assert exact.display_code in html
    candidates = actions.duplicate_candidates(network=site_a.network, attrs=QZ, today=TODAY)
    assert candidates == [exact, swapped]
    assert Client.objects.count() == 2


def test_the_stored_hash_is_re_keyed_so_the_old_key_alone_finds_nobody(site_a, desk, settings):
    client = register(site_a, desk)
    before = single_key_hash(FIRST, site_a)
    assert (client.linkage_hash, client.linkage_layers) == (before, 1)
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate()
    client.refresh_from_db()
    layered = hmac.new(SECOND.encode(), f"v2|{before}".encode(), hashlib.sha256).hexdigest()
    assert (client.linkage_hash, client.linkage_layers) == (layered, 2)
    assert find(site_a) == [client]
    # Someone who kept the first key (a former administrator, a leak) tries every pair of
    # initials for a birth date they know: nothing in the database matches any guess.
    guesses = [
        f"{a}{b}|1987-03-14|F" for a in string.ascii_uppercase for b in string.ascii_uppercase
    ]
    hashes = set(Client.objects.values_list("linkage_hash", flat=True))
    assert not hashes & {single_key_hash(FIRST, site_a, guess) for guess in guesses}
    settings.LINKAGE_KEY_LAYERS = []
    assert find(site_a) == []


def test_a_recent_registrations_fingerprint_is_re_keyed_and_its_replay_refused_not_doubled(
    site_a, desk, settings
):
    """The idempotency fingerprint of a registration hashes its linkage hash: re-keyed too, or
    the first key alone could test guesses against it until it expires."""
    key = uuid.uuid4()
    actions.register_client(
        site=site_a, attrs=QZ, gender="female", by=desk, idempotency_key=key, at=NOW
    )
    before = IdempotencyKey.objects.get(key=key).fingerprint
    assert before == idempotency.fingerprint(
        {
            "site": site_a.pk,
            "linkage_hash": single_key_hash(FIRST, site_a),
            "gender": "female",
            "year_of_birth": 1987,
            "intake": None,
        }
    )
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate()
    after = IdempotencyKey.objects.get(key=key).fingerprint
    assert after == hmac.new(SECOND.encode(), f"v2|{before}".encode(), hashlib.sha256).hexdigest()
    with pytest.raises(ActionRefused) as refused:
        actions.register_client(
            site=site_a, attrs=QZ, gender="female", by=desk, idempotency_key=key, at=NOW
        )
    assert refused.value.code == "key_reused"
    assert Client.objects.count() == 1
    assert "Nothing to do" in rotate()
    assert IdempotencyKey.objects.get(key=key).fingerprint == after


def test_a_second_rotation_adds_a_third_layer_and_finds_everyone_still(site_a, desk, settings):
    client = register(site_a, desk)
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate()
    after_two = Client.objects.get().linkage_hash
    settings.LINKAGE_KEY_LAYERS = [SECOND, THIRD]
    assert "1 linkage hashes re-keyed under all 3 layers" in rotate()
    client.refresh_from_db()
    assert client.linkage_layers == 3
    assert client.linkage_hash == codes.wrap_linkage_hash(after_two, layer=3)
    assert find(site_a) == [client]
    # Holding the first two keys is not enough either.
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    assert find(site_a) == []


def test_a_client_registered_after_the_restart_is_stored_under_every_layer(
    as_desk, site_a, settings
):
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    client = register_via_http(as_desk, site_a)
    assert client.linkage_layers == 2
    assert client.linkage_hash == codes.wrap_linkage_hash(single_key_hash(FIRST, site_a), layer=2)
    assert "Nothing to do" in rotate()
    assert stored() == [(client.pk, client.linkage_hash, 2)]


def test_a_client_several_layers_behind_gets_every_missing_layer_in_one_run(site_a, desk, settings):
    register(site_a, desk)
    settings.LINKAGE_KEY_LAYERS = [SECOND, THIRD]
    rotate()
    assert Client.objects.get().linkage_layers == 3
    assert len(find(site_a)) == 1


# --- while a rotation is under way --------------------------------------------------------------


@pytest.fixture
def half_rotated(site_a, desk, settings, monkeypatch) -> dict[str, Client]:
    """Three clients; the rotation, one client per batch, stops at the second client."""
    clients = {
        "QZ": register(site_a, desk),
        "AB": register(site_a, desk, initials="AB"),
        "CD": register(site_a, desk, initials="CD"),
    }
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    wrap = codes.wrap_linkage_hash
    second_client = clients["AB"].linkage_hash

    def power_cut_at_the_second_client(digest: str, *, layer: int) -> str:
        if digest == second_client:
            raise RuntimeError("power cut")
        return wrap(digest, layer=layer)

    with monkeypatch.context() as patch:
        patch.setattr(codes, "wrap_linkage_hash", power_cut_at_the_second_client)
        with pytest.raises(RuntimeError, match="power cut"):
            rotate("--batch", "1")
    return clients


def test_a_half_finished_rotation_keeps_each_finished_batch_and_nothing_of_the_stopped_one(
    half_rotated,
):
    layers = {code: Client.objects.get(pk=c.pk).linkage_layers for code, c in half_rotated.items()}
    assert layers == {"QZ": 2, "AB": 1, "CD": 1}
    events = AuditEvent.objects.filter(action="linkage_key.rotated")
    assert [e.detail for e in events] == [
        {"layers": 2, "rewrapped": 1, "registration_fingerprints": 1}
    ]


def test_a_half_finished_rotation_still_finds_everyone_and_still_warns(
    half_rotated, as_desk, site_a, desk
):
    for initials, client in half_rotated.items():
        attrs = SchemeAttributes(initials=initials, date_of_birth=QZ.date_of_birth, sex="female")
        assert find(site_a, attrs) == [client]
    assert found_at_the_desk(as_desk, site_a, half_rotated["AB"], initials="AB")
    # "QZ" is re-keyed and "ZQ" would be its swap; "DC" is the swap of "CD", not re-keyed yet.
    for typed, expected in (("ZQ", "QZ"), ("DC", "CD")):
        html = post_registration(as_desk, site_a, {**NDTMS, "initials": typed}).content.decode()
        assert "They may already be registered" in html
        assert half_rotated[expected].display_code in html
    # A client registered meanwhile is stored under both keys, and found too.
    newcomer = register(site_a, desk, initials="EF")
    assert newcomer.linkage_layers == 2
    attrs = SchemeAttributes(initials="EF", date_of_birth=QZ.date_of_birth, sex="female")
    assert find(site_a, attrs) == [newcomer]


def test_running_it_again_finishes_a_stopped_rotation(half_rotated, site_a):
    done_before = Client.objects.get(pk=half_rotated["QZ"].pk).linkage_hash
    assert "2 linkage hashes re-keyed under all 2 layers" in rotate()
    assert set(Client.objects.values_list("linkage_layers", flat=True)) == {2}
    # The client re-keyed before the stop is not re-keyed twice.
    assert Client.objects.get(pk=half_rotated["QZ"].pk).linkage_hash == done_before
    assert find(site_a) == [half_rotated["QZ"]]


# --- reruns and --check ------------------------------------------------------------------------


def test_running_the_rotation_again_changes_nothing(site_a, desk, settings):
    register(site_a, desk)
    register(site_a, desk, initials="AB")
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    assert "2 linkage hashes re-keyed under all 2 layers in 1 batches" in rotate()
    rows, events = stored(), AuditEvent.objects.count()
    assert "Nothing to do" in rotate()
    assert stored() == rows
    assert AuditEvent.objects.count() == events


def test_check_counts_the_hashes_waiting_and_exits_1_until_none_are(site_a, desk, settings):
    register(site_a, desk)
    register(site_a, desk, initials="AB")
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rows = stored()
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("rotate_linkage_key", "--check", stdout=out)
    assert exit_.value.code == 1
    assert "2 linkage hashes to re-key under all 2 layers" in out.getvalue()
    assert stored() == rows
    rotate()
    assert "0 linkage hashes to re-key" in rotate("--check")


def test_the_audit_trail_holds_counts_and_never_a_hash(site_a, desk, settings):
    register(site_a, desk)
    register(site_a, desk, initials="AB")
    register(site_a, desk, initials="CD")
    before = [h for _pk, h, _layers in stored()]
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rotate("--batch", "2")
    events = list(AuditEvent.objects.filter(action="linkage_key.rotated").order_by("pk"))
    assert [e.detail for e in events] == [
        {"layers": 2, "rewrapped": 2, "registration_fingerprints": 2},
        {"layers": 2, "rewrapped": 1, "registration_fingerprints": 1},
    ]
    assert all(e.actor_label == "system" for e in events)
    text = "".join(json.dumps(e.detail) + e.object_label for e in events)
    for digest in before + [h for _pk, h, _layers in stored()]:
        assert digest not in text


# --- refusals: nothing changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([], "No new layer is set, so there is nothing to rotate to"),
        (["too-short"], "key 1 of SAFEROOM_LINKAGE_KEY_LAYERS (layer 2) is shorter than 32"),
        ([FIRST], "(layer 2) is the same key as SAFEROOM_LINKAGE_KEY"),
        (
            [SECOND, SECOND],
            "key 2 of SAFEROOM_LINKAGE_KEY_LAYERS (layer 3) is the same key as key 1 of "
            "SAFEROOM_LINKAGE_KEY_LAYERS (layer 2)",
        ),
    ],
    ids=["no new layer", "too short", "same as the first key", "same as an earlier layer"],
)
def test_a_rotation_the_keys_do_not_allow_is_refused_and_changes_nothing(
    site_a, desk, settings, layers, message
):
    register(site_a, desk)
    rows, events = stored(), AuditEvent.objects.count()
    settings.LINKAGE_KEY_LAYERS = layers
    with pytest.raises(CommandError) as refused:
        rotate()
    assert message in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert stored() == rows
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("args", [(), ("--check",)], ids=["rotate", "check"])
def test_a_removed_layer_is_refused_before_anything_changes(site_a, desk, settings, args):
    register(site_a, desk)
    settings.LINKAGE_KEY_LAYERS = [SECOND, THIRD]
    rotate()
    rows, events = stored(), AuditEvent.objects.count()
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    with pytest.raises(CommandError) as refused:
        rotate(*args)
    assert "holds linkage hashes with 3 layers, but only 2 keys are set" in str(refused.value)
    assert "Never remove a layer" in str(refused.value)
    assert stored() == rows
    assert AuditEvent.objects.count() == events


def test_a_batch_size_below_one_is_refused(site_a, desk, settings):
    register(site_a, desk)
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    rows = stored()
    with pytest.raises(CommandError, match="--batch is a number of clients"):
        rotate("--batch", "0")
    assert stored() == rows


# --- retention and the bulk simulator -------------------------------------------------------------


def test_a_hash_blanked_by_retention_stays_blank_through_a_rotation(site_a, desk, settings):
    with time_machine.travel(dt.datetime(2014, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        gone = register(site_a, desk, initials="AB")
    kept = register(site_a, desk)
    assert retention.pseudonymise_inactive_clients(timezone.now()) == 1
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    assert "1 linkage hashes re-keyed" in rotate()
    assert Client.objects.get(pk=gone.pk).linkage_hash == ""
    assert Client.objects.get(pk=kept.pk).linkage_layers == 2
    assert "0 linkage hashes to re-key" in rotate("--check")


def test_bulk_clients_are_stored_under_every_layer_and_re_keyed_like_the_desks(site_a, settings):
    settings.DEBUG = True  # the bulk simulator runs only in development
    settings.LINKAGE_KEY_LAYERS = [SECOND]
    with time_machine.travel(dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC), tick=False):
        call_command(
            "simulate", "--bulk", "--site", site_a.slug, "--days", "1",
            "--start", "2026-05-01", "--seed", "3",
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert Client.objects.exists()
    assert set(Client.objects.values_list("linkage_layers", flat=True)) == {2}
    assert "Nothing to do" in rotate()
    settings.LINKAGE_KEY_LAYERS = [SECOND, THIRD]
    rotate()
    assert set(Client.objects.values_list("linkage_layers", flat=True)) == {3}


# --- configuration --------------------------------------------------------------------------------


def test_the_layers_are_read_in_order_from_the_environment_or_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SAFEROOM_LINKAGE_KEY_LAYERS", f" {SECOND}, {THIRD} ")
    assert saferoom_settings._linkage_key_layers(FIRST, min_length=32) == [SECOND, THIRD]
    monkeypatch.delenv("SAFEROOM_LINKAGE_KEY_LAYERS")
    layers_file = tmp_path / "linkage_key_layers"
    layers_file.write_text(f"{SECOND}\n{THIRD}\n", encoding="utf-8")
    monkeypatch.setenv("SAFEROOM_LINKAGE_KEY_LAYERS_FILE", str(layers_file))
    assert saferoom_settings._linkage_key_layers(FIRST, min_length=32) == [SECOND, THIRD]
    monkeypatch.delenv("SAFEROOM_LINKAGE_KEY_LAYERS_FILE")
    assert saferoom_settings._linkage_key_layers(FIRST, min_length=32) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"{SECOND},short", "key 2 (layer 3) must be at least 32 characters long"),
        (FIRST, "key 1 (layer 2) repeats an earlier key"),
        (f"{SECOND},{SECOND}", "key 2 (layer 3) repeats an earlier key"),
    ],
    ids=["too short", "same as the first key", "same as an earlier layer"],
)
def test_saferoom_will_not_start_with_a_short_or_repeated_layer(monkeypatch, value, message):
    monkeypatch.setenv("SAFEROOM_LINKAGE_KEY_LAYERS", value)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
        saferoom_settings._linkage_key_layers(FIRST, min_length=32)


def test_production_still_refuses_to_start_without_the_first_linkage_key(tmp_path):
    result = start_production(
        tmp_path, SAFEROOM_SECRET_KEY=SECRET, SAFEROOM_LINKAGE_KEY_LAYERS=f"{SECOND},{THIRD}"
    )
    assert result.returncode != 0
    assert "SAFEROOM_LINKAGE_KEY is not set" in result.stderr
