"""API tokens: made on the command line and shown once, kept only as a salted hash, refused
once revoked or expired or when their account is switched off; a browser's session is never
enough."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from saferoom.api import actions
from saferoom.api.models import ApiToken
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from tests.api.conftest import Api
from tests.conftest import login


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def made_token(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_a_token_made_on_the_command_line_is_printed_once_and_works(manager):
    output = run("create", "--user", manager.username, "--name", "van tablet")
    raw = made_token(output)
    assert raw.startswith("srk_")
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.created_by, row.expires_at) == (
        manager,
        "van tablet",
        None,
        None,
    )
    # Only the prefix and a salted hash are kept.
    assert raw not in {row.prefix, row.salt, row.secret_hash}
    assert raw.split("_")[1] == row.prefix
    assert row.matches(raw)
    event = AuditEvent.objects.get(action="api_token.created")
    assert (event.actor_label, event.object_label) == ("system", f"API token {row.prefix}")
    assert raw not in str(event.detail)

    response = Api(raw).get("api:sites")
    assert response.status_code == 200
    assert [site["slug"] for site in response.json()] == ["riverside"]
    assert response["Cache-Control"] == "no-store"
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_the_list_shows_tokens_without_their_secret(manager):
    raw = made_token(run("create", "--user", manager.username, "--name", "integration"))
    listing = run("list")
    row = ApiToken.objects.get()
    assert row.prefix in listing
    assert "integration" in listing
    assert "active" in listing
    assert raw not in listing


def test_a_revoked_token_is_refused(manager):
    raw = made_token(run("create", "--user", manager.username, "--name", "lost tablet"))
    prefix = ApiToken.objects.get().prefix
    assert "revoked" in run("revoke", prefix)
    response = Api(raw).get("api:sites")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    row = ApiToken.objects.get()
    assert row.revoked_at is not None
    assert row.revoked_by is None
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1
    assert "revoked" in run("list", "--all")
    assert run("list") == "No tokens.\n"
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke", prefix)


def test_a_token_stops_working_when_it_expires(manager, afternoon):
    raw = made_token(
        run("create", "--user", manager.username, "--name", "pilot", "--expires-days", "7")
    )
    assert Api(raw).get("api:sites").status_code == 200
    afternoon.shift(dt.timedelta(days=7, seconds=1))
    assert Api(raw).get("api:sites").status_code == 401
    assert "expired" in run("list")


def test_a_token_stops_working_when_its_account_is_switched_off(manager):
    raw = made_token(run("create", "--user", manager.username, "--name", "x"))
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    assert Api(raw).get("api:sites").status_code == 401


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("", "Authorization header"),
        ("Bearer", "Authorization header"),
        ("Bearer ", "Authorization header"),
        ("Token srk_00000000_" + "a" * 43, "Authorization header"),
        ("Basic dXNlcjpwYXNz", "Authorization header"),
        ("Bearer srk_00000000_" + "a" * 43, "not valid"),
        ("Bearer not-a-token", "not valid"),
    ],
)
def test_a_missing_or_wrong_token_is_refused(manager, header, says):
    actions.create_token(user=manager, name="real", by=None)
    client = Api(None).http
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/sites", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="saferoom"'
    assert says in response.json()["detail"]


def test_the_right_prefix_with_the_wrong_secret_is_refused(manager):
    _row, raw = actions.create_token(user=manager, name="real", by=None)
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert Api(forged).get("api:sites").status_code == 401
    assert Api(raw).get("api:sites").status_code == 200


def test_a_browser_session_is_not_enough_for_any_call(manager, site_a):
    browser = login(manager)
    assert browser.get("/api/v1/sites").status_code == 401
    response = browser.post(
        f"/api/v1/sites/{site_a.slug}/incidents",
        '{"location": "door"}',
        content_type="application/json",
        headers={"Idempotency-Key": "8f0b4c1e-2b7a-4f53-9d56-1f3e0c9a7b21"},
    )
    assert response.status_code == 401


def test_a_token_needs_a_name_an_active_account_and_a_future_expiry(manager, desk):
    with pytest.raises(ActionRefused, match="what the token is for"):
        actions.create_token(user=manager, name="  ", by=None)
    with pytest.raises(ActionRefused, match="expire in the future"):
        actions.create_token(
            user=manager,
            name="x",
            by=None,
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        )
    desk.is_active = False
    desk.save(update_fields=["is_active"])
    with pytest.raises(ActionRefused, match="switched off"):
        actions.create_token(user=desk, name="x", by=None)
    with pytest.raises(CommandError, match="no account called"):
        run("create", "--user", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="between 1 and"):
        run("create", "--user", manager.username, "--name", "x", "--expires-days", "0")
    assert not ApiToken.objects.exists()


def test_the_database_refuses_a_revoker_without_a_revocation_time(manager):
    row, _raw = actions.create_token(user=manager, name="x", by=None)
    with pytest.raises(IntegrityError):
        ApiToken.objects.filter(pk=row.pk).update(revoked_by=manager)


def test_a_token_is_marked_used_at_most_once_a_minute(manager, afternoon):
    row, raw = actions.create_token(user=manager, name="x", by=None)
    Api(raw).get("api:sites")
    row.refresh_from_db()
    first = row.last_used_at
    afternoon.shift(dt.timedelta(seconds=20))
    Api(raw).get("api:sites")
    row.refresh_from_db()
    assert row.last_used_at == first
    afternoon.shift(dt.timedelta(seconds=61))
    Api(raw).get("api:sites")
    row.refresh_from_db()
    assert row.last_used_at is not None
    assert first is not None
    assert row.last_used_at > first
