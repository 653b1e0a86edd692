"""A database dump must not hold the initials, date of birth or chosen name a client gave at
the desk: not in the client rows, the audit trail, idempotency keys, sessions or messages; nor,
after a rotation of the linkage key, a hash that an old key alone could reproduce."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient

from saferoom.accounts.models import LoginSession as Session
from saferoom.clients.models import Client
from saferoom.core.models import AuditEvent, IdempotencyKey, User
from saferoom.sites.models import ClientCodeScheme, Site
from tests.clients.conftest import (
    CHOSEN,
    NDTMS,
    ONTARIO,
    find_url,
    post_registration,
    register_via_http,
    use_scheme,
)

FORBIDDEN_EVERYWHERE = [
    "1987-03-14",
    "14/03/1987",
    "14.03.1987",
    "14-03-1987",
    "19870314",
    "14031987",
    "03/14/1987",
    "1987/03/14",
    "Sparrowhawk",
    "sparrowhawk",
    "SPARROWHAWK",
    "QZXW",
    "qzxw",
]


def _dump() -> str:
    """The whole database as text (SQLite's own dump; on PostgreSQL every row of every table),
    with random tokens that could contain the two letters QZ by chance (password salts, signed
    session blobs) replaced by what they hold."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        text = "\n".join(connection.connection.iterdump())
    else:
        lines: list[str] = []
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                lines.extend("\t".join(map(str, row)) for row in cursor.fetchall())
        text = "\n".join(lines)
    for user in User.objects.all():
        text = text.replace(user.password, "<password hash>")
    for session in Session.objects.all():
        text = text.replace(session.session_data, json.dumps(session.get_decoded()))
    return text


def _desk_session(as_desk: HttpClient, scheme: str, data: dict[str, str], site: Site) -> None:
    """What a busy desk does: search by details (not found), register, get the duplicate
    warning on a second attempt, confirm a different person, and search again."""
    use_scheme(site.network, scheme)
    search = {"search": "attributes", **{f"find-{k}": v for k, v in data.items()}}
    response = as_desk.post(find_url(site), search)
    assert response.status_code == 200
    assert "Register as a new client" in response.content.decode()
    register_via_http(as_desk, site, data)
    warned = post_registration(as_desk, site, data)
    assert "may already be registered" in warned.content.decode()
    ids = ",".join(str(pk) for pk in Client.objects.values_list("pk", flat=True))
    post_registration(as_desk, site, data, confirm_different_from=ids)
    response = as_desk.post(find_url(site), search)
    assert "2 clients found" in response.content.decode()
    assert Client.objects.count() == 2


@pytest.mark.parametrize(
    ("scheme", "data"),
    [
        (ClientCodeScheme.INITIALS_DOB_SEX, NDTMS),
        (ClientCodeScheme.GENDER_LETTERS_YOB, ONTARIO),
        (ClientCodeScheme.CHOSEN_NAME, CHOSEN),
    ],
)
def test_a_database_dump_holds_none_of_the_details_a_client_gave(as_desk, site_a, scheme, data):
    _desk_session(as_desk, scheme, data, site_a)
    dump = _dump()
    for forbidden in FORBIDDEN_EVERYWHERE:
        assert forbidden not in dump, forbidden
    if scheme == ClientCodeScheme.INITIALS_DOB_SEX:
        # Initials are checked case-sensitively: "qz" turns up inside random hex/base64.
        assert "QZ" not in dump
    # The dump really does hold the registrations: the test would see a leak.
    for client in Client.objects.all():
        assert client.display_code in dump
        assert client.linkage_hash in dump


def test_a_dump_after_a_linkage_key_rotation_holds_neither_the_details_nor_the_old_hashes(
    as_desk, site_a, settings
):
    settings.LINKAGE_KEY_LAYERS = []
    _desk_session(as_desk, ClientCodeScheme.INITIALS_DOB_SEX, NDTMS, site_a)
    under_the_first_key_alone = {
        *Client.objects.values_list("linkage_hash", flat=True),
        *IdempotencyKey.objects.values_list("fingerprint", flat=True),
    }
    settings.LINKAGE_KEY_LAYERS = ["second-layer-key-" + "2" * 24]
    call_command("rotate_linkage_key", stdout=io.StringIO())
    dump = _dump()
    for forbidden in [*FORBIDDEN_EVERYWHERE, "QZ", *under_the_first_key_alone]:
        assert forbidden not in dump, forbidden
    for client in Client.objects.all():
        assert client.linkage_hash in dump


def test_audit_events_idempotency_keys_and_sessions_hold_only_codes_and_hashes(as_desk, site_a):
    _desk_session(as_desk, ClientCodeScheme.INITIALS_DOB_SEX, NDTMS, site_a)
    texts = [json.dumps(e.detail) + e.object_label for e in AuditEvent.objects.all()]
    texts += [k.fingerprint for k in IdempotencyKey.objects.all()]
    texts += [json.dumps(s.get_decoded()) for s in Session.objects.all()]
    for text in texts:
        for forbidden in ["QZ", "1987-03-14", "14/03/1987"]:
            assert forbidden not in text
    registered = AuditEvent.objects.filter(action="client.registered")
    assert registered.count() == 2
    assert {e.object_label for e in registered} == set(
        Client.objects.values_list("display_code", flat=True)
    )
