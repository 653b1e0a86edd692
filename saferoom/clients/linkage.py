"""Rotating the linkage key (``saferoom rotate-linkage-key``, ADR 3). The attributes are never
stored, so no hash can be made again under a new key; instead each stored hash is re-keyed in
place under the new layer, HMAC(new key, "vN|" + hash), and ``Client.linkage_layers`` counts
the layers. Whoever holds only an old key can then test no guess against the database.

Rows are taken in batches by primary key, each batch re-keyed and audited in one transaction,
so a rotation can be stopped and run again; look-ups match each row at its own depth meanwhile.
The idempotency fingerprints of recent registrations, which hash the linkage hash, are re-keyed
with their clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, QuerySet

from saferoom.clients import codes
from saferoom.clients.models import Client
from saferoom.core import audit
from saferoom.core.models import IdempotencyKey

BATCH = 500
# As the settings require of SAFEROOM_LINKAGE_KEY and of each layer.
MIN_KEY_LENGTH = 32
LAYERS_SETTING = "SAFEROOM_LINKAGE_KEY_LAYERS"


@dataclass
class Rekeyed:
    """What one run of the rotation did."""

    layers: int  # the configured depth every hash now has
    rewrapped: int = 0
    current: int = 0  # hashes that had every layer already
    batches: int = 0


def _name(layer: int) -> str:
    if layer == 1:
        return "SAFEROOM_LINKAGE_KEY"
    return f"key {layer - 1} of {LAYERS_SETTING} (layer {layer})"


def _hashed() -> QuerySet[Client]:
    # Clients whose hash retention has blanked have nothing left to re-key.
    return Client.objects.exclude(linkage_hash="")


def rotation_problem(*, new_layer_needed: bool = True) -> str | None:
    """Why re-keying must not run with the keys configured now, saying what to do; None when
    it may. ``new_layer_needed``: refuse, too, when only SAFEROOM_LINKAGE_KEY is set."""
    keys = codes.linkage_keys()
    for layer, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH:
            return (
                f"{_name(layer)} is shorter than {MIN_KEY_LENGTH} characters. Nothing was "
                f"changed: give that layer a random key of at least {MIN_KEY_LENGTH} characters."
            )
        if key in keys[: layer - 1]:
            earlier = keys.index(key) + 1
            return (
                f"{_name(layer)} is the same key as {_name(earlier)}. Nothing was changed: "
                "a new layer needs a new random key."
            )
    deepest = _hashed().aggregate(deepest=Max("linkage_layers"))["deepest"] or 0
    if deepest > len(keys):
        return (
            f"The database holds linkage hashes with {deepest} layers, but only {len(keys)} "
            f"keys are set: a key was removed from {LAYERS_SETTING}. Nothing was changed. Put "
            "every removed key back, in its place, and restart saferoom: until then the clients "
            "stored under it cannot be found by their details. Never remove a layer."
        )
    if new_layer_needed and len(keys) == 1:
        return (
            f"No new layer is set, so there is nothing to rotate to. Nothing was changed: add a "
            f"new random key of at least {MIN_KEY_LENGTH} characters at the end of "
            f"{LAYERS_SETTING}, restart saferoom (web processes and worker), then run this again."
        )
    return None


def waiting() -> int:
    """How many stored hashes have fewer layers than are configured."""
    return _hashed().filter(linkage_layers__lt=codes.linkage_depth()).count()


def rekey(*, size: int = BATCH) -> Rekeyed:
    """Re-key every stored hash with fewer layers than configured under each missing layer,
    ``size`` clients per transaction. Check ``rotation_problem()`` first."""
    depth = codes.linkage_depth()
    done = Rekeyed(layers=depth, current=_hashed().filter(linkage_layers=depth).count())
    last = 0
    while True:
        with transaction.atomic():
            batch = list(
                _hashed()
                .select_for_update()
                .filter(pk__gt=last, linkage_layers__lt=depth)
                .order_by("pk")
                .only("pk", "linkage_hash", "linkage_layers")[:size]
            )
            if not batch:
                return done
            for client in batch:
                for layer in range(client.linkage_layers + 1, depth + 1):
                    client.linkage_hash = codes.wrap_linkage_hash(client.linkage_hash, layer=layer)
                client.linkage_layers = depth
            Client.objects.bulk_update(batch, ["linkage_hash", "linkage_layers"])
            fingerprints = _rekey_registration_fingerprints(batch, layer=depth)
            # Counts only: neither the hashes nor which clients were re-keyed.
            audit.record(
                action="linkage_key.rotated",
                by=None,
                detail={
                    "layers": depth,
                    "rewrapped": len(batch),
                    "registration_fingerprints": fingerprints,
                },
            )
        done.rewrapped += len(batch)
        done.batches += 1
        last = batch[-1].pk


def _rekey_registration_fingerprints(clients: list[Client], *, layer: int) -> int:
    """The idempotency fingerprint of a recent registration hashes the client's linkage hash,
    gender and year of birth (keyed with the secret key): with the secret key and an older
    linkage key it could be matched against guesses until it expires. Re-key it too. A replay
    of the registration from before the rotation is then refused as sent with different
    details, as it would be anyway (its hash has fewer layers), rather than registering the
    client twice."""
    keys = list(
        IdempotencyKey.objects.select_for_update()
        .filter(
            action="client.registered",
            object_type=Client._meta.label_lower,
            object_id__in=[client.pk for client in clients],
        )
        .only("pk", "fingerprint")
    )
    for key in keys:
        key.fingerprint = codes.wrap_linkage_hash(key.fingerprint, layer=layer)
    IdempotencyKey.objects.bulk_update(keys, ["fingerprint"])
    return len(keys)
