"""Free-text notes and the consented identity record are encrypted at rest with the rotatable
field keys (SealedTextField): written through the real actions, no word of them is in the
database file, a raw SQL read, or a backup; they read back in clear through the models and the
pages; after a new key is put in front, ``saferoom rotate_field_keys`` is run and the old key is
dropped, everything still reads; a value changed in the database is refused with a message
that holds none of it."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from saferoom.care.referrals import actions as referral_actions
from saferoom.care.referrals.models import FollowUp, IdentityDetails, IdentityRecord
from saferoom.clients import actions as client_actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Ban, Client
from saferoom.core import backup, breakglass, crypto, security_alerts
from saferoom.core.fields import SealedTextField, sealed_fields
from saferoom.core.models import AuditEvent, User
from saferoom.core.roles import Role
from saferoom.floor import board
from saferoom.floor.models import MobileStop
from saferoom.governance import actions as governance_actions
from saferoom.governance.models import Disclosure, LegalBasis
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident, IncidentNote, Intervention
from saferoom.sites.models import CatalogueItem, Site
from tests.conftest import login, make_site, make_user
from tests.versions import version_of

MARK = "Quokkaroo"  # in every note written here; never anywhere else


def text(what: str) -> str:
    return f"{MARK} {what}"


# Every sealed field of every app. A new one must be added here, and written by `free_text`.
SEALED = {
    "clients.Ban.lift_reason",
    "clients.Ban.note",
    "clients.ClientMerge.reason",
    "core.BreakGlassGrant.reason",
    "core.SecurityAlert.review_note",
    "floor.MobileStop.note",
    "governance.Disclosure.decision_note",
    "governance.Disclosure.justification",
    "incidents.Incident.location_detail",
    "incidents.Incident.outcome_reason",
    "incidents.Incident.review_note",
    "incidents.IncidentAmendment.reason",
    "incidents.IncidentNote.text",
    "incidents.Intervention.note",
    "incidents.InterventionAmendment.reason",
    "incidents.OutcomeAmendment.reason",
    "referrals.FollowUp.note",
    "referrals.IdentityAccessGrant.reason",
    "referrals.IdentityOpening.note",
    "referrals.IdentityRecord.details_json",
    "referrals.ReferralAmendment.reason",
}


def label(model: Any, field: SealedTextField) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}.{field.name}"


def key() -> uuid.UUID:
    return uuid.uuid4()


def new_client(site: Site, by: User, initials: str) -> Client:
    return client_actions.register_client(
        site=site,
        attrs=SchemeAttributes(initials=initials, date_of_birth=dt.date(1985, 6, 15), sex="male"),
        gender="male",
        by=by,
        idempotency_key=key(),
        confirm_not_duplicate=True,
    )


@pytest.fixture
def free_text(site_a: Site, network: Any, desk: User, nurse: User, manager: User, admin: User):
    """A note in every sealed field, each written by the action staff would use."""
    now = timezone.now()
    client = new_client(site_a, manager, "AL")
    twin = new_client(site_a, manager, "AM")

    incident = incident_actions.start_incident(
        site=site_a,
        by=nurse,
        idempotency_key=key(),
        location="lounge",
        location_detail=text("behind the lockers"),
        kind="opioid",
        at=now - dt.timedelta(minutes=20),
    )
    step = incident_actions.record_intervention(
        incident=incident,
        kind="naloxone",
        by=nurse,
        idempotency_key=key(),
        at=now - dt.timedelta(minutes=15),
        naloxone_mg="0.4",
        naloxone_route="IM",
        note=text("second dose from the kit"),
    )
    incident_actions.record_intervention(
        incident=incident,
        kind="stimulation",
        by=nurse,
        idempotency_key=key(),
        at=now - dt.timedelta(minutes=10),
    )
    incident_actions.add_note(
        incident=incident, text=text("said they had used alone"), by=nurse, idempotency_key=key()
    )
    incident_actions.record_outcome(
        incident=incident,
        outcome="recovered",
        by=nurse,
        reason=text("came round before the rub was logged"),
        at=now - dt.timedelta(minutes=12),
    )
    incident_actions.amend_incident_time(
        incident=incident,
        field="onset_at",
        new_at=now - dt.timedelta(minutes=21),
        reason=text("the clock on the wall was slow"),
        by=nurse,
        idempotency_key=key(),
        expected_version=version_of(incident),
    )
    incident_actions.amend_outcome(
        incident=incident,
        outcome="hospital",
        hospital="Royal Infirmary",
        reason=text("the crew took them in after all"),
        by=manager,
        idempotency_key=key(),
        expected_version=version_of(incident),
    )
    incident_actions.amend_intervention(
        intervention=step,
        by=nurse,
        reason=text("tapped the wrong booth"),
        idempotency_key=key(),
        in_error=True,
        expected_version=version_of(step.incident),
    )
    incident_actions.review_and_close(
        incident=incident, by=manager, note=text("good response, restock naloxone")
    )

    ban = client_actions.set_ban(
        client=client,
        site=site_a,
        reason="violence",
        note=text("threw a chair at the desk"),
        starts_at=None,
        expires_at=None,
        by=manager,
        idempotency_key=key(),
    )
    client_actions.lift_ban(ban=ban, reason=text("apologised to the team"), by=manager)
    client_actions.merge_clients(
        keep=client, merge=twin, reason=text("same scar on the left hand"), by=manager, site=site_a
    )

    van = make_site(network, "The van", "van", kind="mobile")
    board.open_stop(
        site=van,
        place="Market Square",
        by=make_user("val.van", (Role.FLOOR, van)),
        idempotency_key=key(),
        note=text("dealers by the church steps"),
    )

    disclosure = governance_actions.request_disclosure(
        site=site_a,
        client=client,
        recipient="Crown Court at Riverside",
        legal_basis=LegalBasis.COURT_ORDER,
        reference="T2026-0042",
        justification=text("production order for the night of the fight"),
        include_identity=False,
        by=manager,
        idempotency_key=key(),
    )
    governance_actions.decide_disclosure(
        disclosure=disclosure, approve=True, note=text("order seen and checked"), by=admin
    )

    breakglass.open_grant(
        client=client,
        site=site_a,
        reason=text("collapsed in the toilet, needs history"),
        by=nurse,
        idempotency_key=key(),
    )
    alert = security_alerts.open_alerts(site_a.pk).get()
    security_alerts.review_alert(
        alert=alert, note=text("spoke to the nurse, genuine"), by=manager, site=site_a
    )

    target = CatalogueItem.objects.filter(network=network, kind="referral_target").first()
    assert target is not None
    referral = referral_actions.make_referral(
        site=site_a,
        target=target,
        urgency="routine",
        by=desk,
        idempotency_key=key(),
        client=client,
    )
    identity = referral_actions.record_identity(
        referral=referral,
        details=IdentityDetails(full_name=text("Full Name")),
        consent_scope="referrals",
        consent_confirmed=True,
        by=manager,
        idempotency_key=key(),
    )
    referral_actions.record_follow_up(
        referral=referral,
        outcome="attended",
        method="phone",
        note=text("went on Thursday with their partner"),
        by=desk,
        idempotency_key=key(),
        expected_version=version_of(referral),
    )
    referral_actions.amend_referral(
        referral=referral,
        urgency="urgent",
        reason=text("they said they are sleeping out"),
        by=manager,
        idempotency_key=key(),
        expected_version=version_of(referral),
    )
    referral_actions.grant_identity_access(
        site=site_a,
        user=desk,
        reason=text("covers the Friday housing referrals"),
        by=manager,
        idempotency_key=key(),
    )
    referral_actions.open_identity_record(
        record=identity, reason="other", note=text("housing lost the form"), by=manager
    )
    return {"incident": incident, "client": client, "van": van, "disclosure": disclosure}


def database_bytes() -> bytes:
    """The database as it is stored: on SQLite, the file's bytes (every page, free pages too);
    on PostgreSQL, every row of every table as the server returns it."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return bytes(connection.connection.serialize())
    lines: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            lines.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(lines).encode()


def raw_values() -> dict[str, list[str]]:
    """Every non-empty value of every sealed column, read with SQL (not through the models)."""
    q = connection.ops.quote_name
    found = {}
    with connection.cursor() as cursor:
        for model, field in sealed_fields():
            cursor.execute(
                f"SELECT {q(field.column)} FROM {q(model._meta.db_table)} "  # noqa: S608
                f"WHERE {q(field.column)} <> ''"
            )
            found[label(model, field)] = [str(row[0]) for row in cursor.fetchall()]
    return found


# --- what is sealed ---------------------------------------------------------------------------


def test_every_free_text_note_is_a_sealed_field(db):
    assert {label(m, f) for m, f in sealed_fields()} == SEALED


def test_every_sealed_field_holds_only_ciphertext(free_text):
    for where, values in raw_values().items():
        assert values, f"{where}: nothing was written there by the fixture"
        for value in values:
            assert MARK not in value, where
            assert value.startswith("gAAAA"), where  # a Fernet token


def test_no_note_is_anywhere_in_the_database(free_text):
    # Not in the sealed columns, and not copied into the audit trail, idempotency keys or
    # anywhere else either.
    stored = database_bytes()
    assert b"Market Square" in stored  # text kept in clear is found: the search works
    assert MARK.encode() not in stored
    for event in AuditEvent.objects.all():
        assert MARK not in str(event.detail) + event.object_label


def test_the_notes_read_back_in_clear_through_the_models(free_text):
    incident = Incident.objects.get(pk=free_text["incident"].pk)
    assert incident.location_detail == text("behind the lockers")
    assert incident.review_note == text("good response, restock naloxone")
    assert incident.outcome_reason == text("came round before the rub was logged")
    assert IncidentNote.objects.get().text == text("said they had used alone")
    assert Intervention.objects.get(kind="naloxone").note == text("second dose from the kit")
    assert Ban.objects.get().note == text("threw a chair at the desk")
    assert MobileStop.objects.get().note == text("dealers by the church steps")
    assert Disclosure.objects.get().justification == text(
        "production order for the night of the fight"
    )
    assert FollowUp.objects.get().note == text("went on Thursday with their partner")
    details = IdentityDetails.from_json(IdentityRecord.objects.get().details_json)
    assert details.full_name == text("Full Name")
    # values() and values_list() decrypt too.
    assert list(IncidentNote.objects.values_list("text", flat=True)) == [
        text("said they had used alone")
    ]


def test_the_notes_read_back_in_clear_on_the_pages(free_text, manager, site_a):
    as_manager = login(manager)
    page = as_manager.get(
        reverse("incidents:detail", kwargs={"site": site_a.slug, "pk": free_text["incident"].pk})
    ).content.decode()
    for note in (
        "behind the lockers",
        "said they had used alone",
        "good response, restock naloxone",
        "the clock on the wall was slow",
        "the crew took them in after all",
    ):
        assert text(note) in page, note
    page = as_manager.get(
        reverse("clients:detail", kwargs={"site": site_a.slug, "pk": free_text["client"].pk})
    ).content.decode()
    assert text("threw a chair at the desk") in page
    page = as_manager.get(
        reverse(
            "governance:disclosure",
            kwargs={"site": site_a.slug, "pk": free_text["disclosure"].pk},
        )
    ).content.decode()
    assert text("production order for the night of the fight") in page
    assert text("order seen and checked") in page
    page = as_manager.get(
        reverse("sites:security_alerts", kwargs={"site": site_a.slug})
    ).content.decode()
    assert text("spoke to the nurse, genuine") in page


def test_a_search_on_a_sealed_field_fails_loudly_instead_of_finding_nothing(db):
    with pytest.raises(FieldError):
        list(IncidentNote.objects.filter(text__icontains="chair"))
    with pytest.raises(FieldError, match="only be compared with an empty text"):
        list(IncidentNote.objects.filter(text="chair"))
    # Whether there is any text at all is allowed (retention uses it).
    assert list(Ban.objects.exclude(note="")) == []


def test_the_length_limit_is_on_the_clear_text(free_text):
    ban = Ban.objects.get()
    ban.note = "x" * 201
    with pytest.raises(ValidationError) as error:
        ban.full_clean()
    assert "note" in error.value.message_dict
    ban.note = "x" * 200  # sealed, far longer than 200 characters: still fine
    ban.full_clean()


# --- keys rotate ------------------------------------------------------------------------------


def test_after_rotation_and_dropping_the_old_key_everything_still_reads(free_text):
    old = list(settings.FIELD_KEYS)
    new = Fernet.generate_key().decode()
    before = raw_values()
    with override_settings(FIELD_KEYS=[new, *old]):
        out = io.StringIO()
        call_command("rotate_field_keys", stdout=out)
    report = out.getvalue()
    assert "incidents.IncidentNote.text: 1 re-encrypted, 0 already with the newest key" in report
    assert f"{len(SEALED)} encrypted fields" in report
    after = raw_values()
    for where, tokens in before.items():
        assert len(after[where]) == len(tokens)
        assert not set(after[where]) & set(tokens), where  # every value re-encrypted

    with override_settings(FIELD_KEYS=[new]):
        # Only the new key: every note, on every model, still reads.
        for model, field in sealed_fields():
            for value in model._default_manager.exclude(**{field.name: ""}).values_list(
                field.name, flat=True
            ):
                assert MARK in value
        # Nothing is left to do, and --check says so.
        checked = io.StringIO()
        call_command("rotate_field_keys", "--check", stdout=checked)
        assert f"{len(SEALED)} encrypted fields, 0 values to re-encrypt" in checked.getvalue()
    with override_settings(FIELD_KEYS=old), pytest.raises(crypto.UnreadableField):
        IncidentNote.objects.get()

    event = AuditEvent.objects.filter(action="field_keys.rotated").get()
    assert event.actor_label == "system"
    assert event.detail["key"] == crypto.key_id(new)
    assert event.detail["resealed"] == sum(len(v) for v in before.values())
    assert new not in str(event.detail)


def test_the_old_command_name_still_rotates(free_text):
    new = Fernet.generate_key().decode()
    with override_settings(FIELD_KEYS=[new, *settings.FIELD_KEYS]):
        out = io.StringIO()
        call_command("rotate_identity_keys", stdout=out)
    assert "referrals.IdentityRecord.details_json: 1 re-encrypted" in out.getvalue()
    assert "incidents.Incident.location_detail: 1 re-encrypted" in out.getvalue()


def test_check_exits_1_while_values_wait_for_the_newest_key(free_text):
    with override_settings(FIELD_KEYS=[Fernet.generate_key().decode(), *settings.FIELD_KEYS]):
        with pytest.raises(SystemExit) as exited:
            call_command("rotate_field_keys", "--check", stdout=io.StringIO())
        assert exited.value.code == 1
    assert not AuditEvent.objects.filter(action="field_keys.rotated").exists()


def test_rotation_in_small_batches_covers_every_row(free_text, site_a, nurse):
    incident = free_text["incident"]
    for n in range(5):
        incident_actions.add_note(
            incident=incident, text=text(f"note {n}"), by=nurse, idempotency_key=key()
        )
    new = Fernet.generate_key().decode()
    with override_settings(FIELD_KEYS=[new, *settings.FIELD_KEYS]):
        out = io.StringIO()
        call_command("rotate_field_keys", "--batch", "2", stdout=out)
    assert "incidents.IncidentNote.text: 6 re-encrypted" in out.getvalue()
    with override_settings(FIELD_KEYS=[new]):
        assert len([n.text for n in IncidentNote.objects.all()]) == 6


def test_a_rotation_without_the_key_in_use_stops_and_names_rows_not_content(free_text):
    with (
        override_settings(FIELD_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(CommandError) as error,
    ):
        call_command("rotate_field_keys", stdout=io.StringIO())
    message = str(error.value)
    assert "Put back every key that was in use" in message
    assert f"incidents.IncidentNote.text ids {IncidentNote.objects.get().pk}" in message
    assert MARK not in message


# --- tampering --------------------------------------------------------------------------------


def test_a_changed_ciphertext_is_refused_with_a_message_that_holds_none_of_it(free_text):
    note = IncidentNote.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM incidents_incidentnote WHERE id = %s", [note.pk])
        token = cursor.fetchone()[0]
        flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        cursor.execute(
            "UPDATE incidents_incidentnote SET text = %s WHERE id = %s", [flipped, note.pk]
        )
    with pytest.raises(crypto.UnreadableField) as error:
        IncidentNote.objects.get(pk=note.pk)
    assert str(error.value) == "A sealed field could not be decrypted with the keys set."
    assert MARK not in repr(error.value)


# --- migrations -------------------------------------------------------------------------------


def test_the_data_migration_seals_clear_text_once_and_unseals_it_backwards(free_text):
    from saferoom.core.sealing import _convert, _seal_clear, _unseal_sealed

    with connection.cursor() as cursor:
        cursor.execute("UPDATE floor_mobilestop SET note = %s", ["left in clear before 0004"])
    assert _convert(connection, "floor_mobilestop", ["note"], _seal_clear) == 1
    assert _convert(connection, "floor_mobilestop", ["note"], _seal_clear) == 0  # idempotent
    assert MobileStop.objects.get().note == "left in clear before 0004"
    assert _convert(connection, "floor_mobilestop", ["note"], _unseal_sealed) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM floor_mobilestop")
        assert cursor.fetchone()[0] == "left in clear before 0004"


# --- backups ----------------------------------------------------------------------------------


def backup_payload_text(path: Path) -> bytes:
    """The database inside a backup, decrypted: the SQLite file, or pg_dump's data as SQL."""
    with tempfile.TemporaryDirectory() as folder:
        payload = Path(folder) / "database"
        backup._unseal(path, payload)
        if connection.vendor == "sqlite":
            return payload.read_bytes()
        done = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
            [backup._pg_tool("pg_restore"), "--data-only", "-f", "-", str(payload)],
            capture_output=True,
            check=True,
        )
        return done.stdout


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_backup_holds_no_note_even_once_decrypted(free_text, tmp_path):
    path, _manifest = backup.backup(tmp_path / "nightly.backup")
    assert MARK.encode() not in path.read_bytes()
    inside = backup_payload_text(path)
    assert b"incidents_incidentnote" in inside  # it is the database
    assert MARK.encode() not in inside


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_restore_check_opens_every_sealed_value(free_text):
    report = backup.check(_manifest_now())
    assert report.sealed_checked == sum(len(v) for v in raw_values().values())
    assert not report.sealed_unreadable
    assert any(line.startswith("encrypted fields: ok (") for line in report.lines())
    with override_settings(FIELD_KEYS=[Fernet.generate_key().decode()]):
        wrong = backup.check(_manifest_now())
    assert not wrong.ok
    assert wrong.sealed_unreadable["incidents.IncidentNote.text"] == 1
    assert any("DO NOT OPEN with SAFEROOM_FIELD_KEYS" in line for line in wrong.lines())


def _manifest_now() -> backup.Manifest:
    with tempfile.TemporaryDirectory() as folder:
        _path, manifest = backup.backup(Path(folder) / "now.backup")
    return manifest


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_migrations_decrypt_going_back_and_encrypt_the_existing_text_going_forward(
    free_text,
):
    from django.db.migrations.executor import MigrationExecutor

    before = {
        ("incidents", "0003_seal_free_text"): ("incidents", "0002_incident_outcome_amendments"),
        ("floor", "0004_seal_free_text"): ("floor", "0003_board_sessions_checks_escalations_stops"),
        ("clients", "0004_seal_free_text"): ("clients", "0003_refine_bans_merges_and_birth_years"),
        ("governance", "0002_seal_free_text"): ("governance", "0001_disclosures"),
        ("core", "0007_seal_free_text"): ("core", "0006_security_alerts_and_break_glass"),
    }
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(list(before.values()))

    # Back before the encryption: the text is in clear again (referrals were encrypted before).
    values = raw_values()
    for where, found in values.items():
        if where.startswith("referrals."):
            assert all(v.startswith("gAAAA") for v in found), where
        else:
            assert found, where
            assert all(v.startswith(MARK) for v in found), where

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(leaves)
    for where, found in raw_values().items():
        assert found, where
        assert all(v.startswith("gAAAA") for v in found), where
    assert Incident.objects.get().location_detail == text("behind the lockers")
    assert Ban.objects.get().lift_reason == text("apologised to the team")
