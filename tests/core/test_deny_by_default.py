"""The guards every request passes through: deny by default, sessions that end when they
should, error pages without stack traces, no caching, password rules, production secrets and
SQLite durability.

The first tests use a test-only URLconf (this module's ``urlpatterns``) holding views that no
real page should ever look like: one that forgot its role declaration, one that crashes."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client as HttpClient
from django.urls import path, reverse

import saferoom.urls
from saferoom.accounts.models import LoginSession as Session
from saferoom.core.access import roles
from saferoom.core.roles import ALL_ROLES
from tests.conftest import PASSWORD, on_tablet

# --- a test-only URLconf -------------------------------------------------------------------


def undeclared_view(request: HttpRequest) -> HttpResponse:
    """A view whose author forgot to say who may use it."""
    return HttpResponse("client-level data that should never be shown")


@roles(*ALL_ROLES)
def crashing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: linkage hash 5f3a9 for K7F-29Q")


urlpatterns = [
    path("test-only/undeclared/", undeclared_view, name="test_undeclared"),
    path("test-only/crash/", crashing_view, name="test_crash"),
    *saferoom.urls.urlpatterns,
]
handler400 = saferoom.urls.handler400
handler403 = saferoom.urls.handler403
handler404 = saferoom.urls.handler404
handler500 = saferoom.urls.handler500


def logged_in(user) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


# --- deny by default ----------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_view_without_a_role_declaration_answers_403_even_to_an_admin(admin):
    response = logged_in(admin).get("/test-only/undeclared/")
    assert response.status_code == 403
    assert "should never be shown" not in response.content.decode()
    assert "You do not have access to this page" in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_view_without_a_role_declaration_sends_an_anonymous_visitor_to_log_in(db):
    response = HttpClient().get("/test-only/undeclared/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_static_files_need_no_login(db):
    response = HttpClient().get(f"{settings.STATIC_URL}saferoom/saferoom.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_the_health_check_needs_no_login(db):
    response = HttpClient().get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_login_page_needs_no_login(db):
    response = HttpClient().get(reverse("login"))
    assert response.status_code == 200
    assert "Log in to saferoom" in response.content.decode()


# --- logging out --------------------------------------------------------------------------


def test_logging_out_by_get_is_refused(nurse):
    client = logged_in(nurse)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("home")).status_code == 200  # still logged in


def test_logging_out_ends_the_session_on_the_server(nurse, site_a):
    client = HttpClient()
    on_tablet(client, site_a)  # the nurse station's tablet (ADR 14)
    response = client.post(reverse("login"), {"username": nurse.username, "password": PASSWORD})
    assert response.status_code == 302
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(reverse("home")).status_code == 200

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert not Session.objects.filter(session_key=old_key).exists()

    # Someone who copied the old cookie gets nothing from it.
    thief = HttpClient()
    thief.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = thief.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- session lifetimes --------------------------------------------------------------------

SHIFT_START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def nurse_at_start_of_shift(nurse, time_machine) -> HttpClient:
    time_machine.move_to(SHIFT_START, tick=False)
    client = logged_in(nurse)
    assert client.get(reverse("home")).status_code == 200
    return client


def assert_sent_to_login_as_expired(response) -> None:
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?expired=1"


def test_sixteen_idle_minutes_log_a_person_out(nurse_at_start_of_shift, time_machine):
    time_machine.shift(dt.timedelta(minutes=16))
    assert_sent_to_login_as_expired(nurse_at_start_of_shift.get(reverse("home")))
    # And the session is gone, not just bypassed once.
    assert nurse_at_start_of_shift.get(reverse("home")).status_code == 302


def test_fourteen_idle_minutes_do_not(nurse_at_start_of_shift, time_machine):
    time_machine.shift(dt.timedelta(minutes=14))
    assert nurse_at_start_of_shift.get(reverse("home")).status_code == 200


def test_the_login_page_says_why_after_an_expired_session(db):
    response = HttpClient().get(f"{reverse('login')}?expired=1")
    assert "You were logged out because the session ended" in response.content.decode()


def test_background_polls_do_not_keep_an_unattended_tablet_logged_in(
    nurse_at_start_of_shift, time_machine
):
    client = nurse_at_start_of_shift
    for _ in range(3):
        time_machine.shift(dt.timedelta(minutes=5))
        assert client.get(reverse("home"), headers={"X-Saferoom-Poll": "1"}).status_code == 200
    time_machine.shift(dt.timedelta(minutes=1))  # 16 minutes since the last real activity
    assert_sent_to_login_as_expired(client.get(reverse("home")))


def test_an_expired_htmx_request_redirects_the_whole_page_to_login(
    nurse_at_start_of_shift, time_machine
):
    time_machine.shift(dt.timedelta(minutes=16))
    response = nurse_at_start_of_shift.get(reverse("home"), headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("login")


def test_activity_keeps_the_session_alive(nurse_at_start_of_shift, time_machine):
    client = nurse_at_start_of_shift
    for _ in range(6):  # an hour and a half of clicking every quarter of an hour
        time_machine.shift(dt.timedelta(minutes=14))
        assert client.get(reverse("home")).status_code == 200


def test_no_session_outlives_twelve_hours_however_busy(nurse_at_start_of_shift, time_machine):
    client = nurse_at_start_of_shift
    elapsed = dt.timedelta()
    while True:
        time_machine.shift(dt.timedelta(minutes=14))
        elapsed += dt.timedelta(minutes=14)
        response = client.get(reverse("home"))
        if response.status_code != 200:
            break
        assert elapsed <= dt.timedelta(hours=12), "still logged in after 12 hours"
    assert_sent_to_login_as_expired(response)
    assert dt.timedelta(hours=12) < elapsed <= dt.timedelta(hours=12, minutes=14)


# --- error pages and caching --------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_a_crash_shows_a_reference_number_and_no_stack_trace(nurse):
    client = HttpClient(raise_request_exception=False)
    client.force_login(nurse)
    response = client.get("/test-only/crash/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert response["X-Request-Id"] in body  # the reference a manager can pass on
    assert "Traceback" not in body
    assert "secret internals" not in body
    assert "K7F-29Q" not in body
    assert "RuntimeError" not in body


def test_a_missing_page_shows_a_reference_number(nurse):
    response = logged_in(nurse).get("/no-such-page/")
    assert response.status_code == 404
    assert response["X-Request-Id"] in response.content.decode()


def test_pages_for_logged_in_people_are_not_cached_by_the_browser(nurse):
    response = logged_in(nurse).get(reverse("home"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("tqbfjotld7x", "too short"),  # 11 characters
        ("password1234", "common"),
        ("qazwsxedcrfv", "common"),
        ("483920175638", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(nurse, password, why):
    with pytest.raises(ValidationError):
        validate_password(password, user=nurse)


@pytest.mark.parametrize("password", ["amber kettle orbit", "tqbfjotld7xq"])
def test_passwords_of_twelve_or_more_uncommon_characters_are_accepted(nurse, password):
    validate_password(password, user=nurse)


def test_changing_to_an_eleven_character_password_is_refused_with_a_message(nurse):
    client = logged_in(nurse)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "tqbfjotld7x", "new_password2": "tqbfjotld7x"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD)


def test_argon2_hashes_passwords_in_production():
    production = [h for h in settings.PASSWORD_HASHERS if "MD5" not in h]
    assert production[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    # The fast MD5 hasher exists only because the test run added it.
    assert settings.PASSWORD_HASHERS[0].endswith("MD5PasswordHasher")


# --- production refuses to start without its secrets --------------------------------------

SECRET = "s" * 10 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"  # 56 characters
LINKAGE = "l" * 8 + "0123456789abcdefghijklmnopqrstuv"  # 40 characters
FIELD_KEYS = "Xn2r5u8x_A-DGKbPeShVmYq3t6w9z_C-FHMcQfTjWnZ="  # a valid Fernet key (32 bytes)
AUDIT_KEY = "a" * 8 + "0123456789abcdefghijklmnopqrstuv"  # 40 characters


def start_production(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings the way a production server would: DEBUG off, not under pytest."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFEROOM_")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.update(
        {
            "SAFEROOM_DEBUG": "0",
            "SAFEROOM_VAR_DIR": str(tmp_path / "var"),
            "SAFEROOM_FIELD_KEYS": FIELD_KEYS,
            "SAFEROOM_AUDIT_KEY": AUDIT_KEY,
            **env,
        }
    )
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import saferoom.settings as s; print(s.PASSWORD_HASHERS[0]); print(s.DEBUG)",
        ],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(settings.PROJECT_DIR),
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = start_production(tmp_path)
    assert result.returncode != 0
    assert "SAFEROOM_SECRET_KEY is not set" in result.stderr
    # It did not quietly make one up either.
    assert not (tmp_path / "var" / "secrets").exists()


def test_production_refuses_a_short_secret_key(tmp_path):
    result = start_production(tmp_path, SAFEROOM_SECRET_KEY="short")
    assert result.returncode != 0
    assert "SAFEROOM_SECRET_KEY must be at least 50 characters" in result.stderr


def test_production_refuses_to_start_without_a_linkage_key(tmp_path):
    result = start_production(tmp_path, SAFEROOM_SECRET_KEY=SECRET)
    assert result.returncode != 0
    assert "SAFEROOM_LINKAGE_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_field_encryption_keys(tmp_path):
    result = start_production(
        tmp_path,
        SAFEROOM_SECRET_KEY=SECRET,
        SAFEROOM_LINKAGE_KEY=LINKAGE,
        SAFEROOM_FIELD_KEYS="",
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
    )
    assert result.returncode != 0
    assert "SAFEROOM_FIELD_KEYS is not set" in result.stderr
    assert FIELD_KEYS not in result.stderr


def test_production_refuses_to_start_without_an_audit_chain_key(tmp_path):
    result = start_production(
        tmp_path,
        SAFEROOM_SECRET_KEY=SECRET,
        SAFEROOM_LINKAGE_KEY=LINKAGE,
        SAFEROOM_AUDIT_KEY="",
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
    )
    assert result.returncode != 0
    assert "SAFEROOM_AUDIT_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = start_production(tmp_path, SAFEROOM_SECRET_KEY=SECRET, SAFEROOM_LINKAGE_KEY=LINKAGE)
    assert result.returncode != 0
    assert "SAFEROOM_ALLOWED_HOSTS is not set" in result.stderr


def test_production_starts_with_its_secrets_and_hashes_with_argon2(tmp_path):
    result = start_production(
        tmp_path,
        SAFEROOM_SECRET_KEY=SECRET,
        SAFEROOM_LINKAGE_KEY=LINKAGE,
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.contrib.auth.hashers.Argon2PasswordHasher", "False"]


def test_production_reads_secrets_from_files(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    linkage_file = tmp_path / "linkage_key"
    linkage_file.write_text(LINKAGE, encoding="utf-8")
    result = start_production(
        tmp_path,
        SAFEROOM_SECRET_KEY_FILE=str(secret_file),
        SAFEROOM_LINKAGE_KEY_FILE=str(linkage_file),
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
    )
    assert result.returncode == 0, result.stderr


# --- SQLite durability --------------------------------------------------------------------


@pytest.fixture
def sqlite_file_connection(db, tmp_path):
    """A connection opened with the project's SQLite settings, on a file (the test database is
    in memory, where WAL does not apply)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite settings only apply when running on SQLite")
    settings_dict = {**connection.settings_dict, "NAME": str(tmp_path / "durable.sqlite3")}
    conn = connections["default"].__class__(settings_dict, alias="durability_check")
    conn.ensure_connection()
    connections["durability_check"] = conn
    yield conn
    del connections["durability_check"]
    conn.close()


def pragma(conn, name: str):
    with conn.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_sqlite_runs_in_wal_mode_with_full_sync_and_a_busy_timeout(sqlite_file_connection):
    assert pragma(sqlite_file_connection, "journal_mode") == "wal"
    assert pragma(sqlite_file_connection, "synchronous") == 2  # FULL
    assert pragma(sqlite_file_connection, "busy_timeout") >= 5000
    assert pragma(sqlite_file_connection, "foreign_keys") == 1


def test_sqlite_transactions_take_the_write_lock_when_they_begin(sqlite_file_connection):
    """IMMEDIATE: a second writer waits at BEGIN instead of failing half-way through."""
    assert sqlite_file_connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    with sqlite_file_connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(sqlite_file_connection.settings_dict["NAME"], timeout=0)
    try:
        # Nothing written yet, but the lock is already held.
        with (
            transaction.atomic(using="durability_check"),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ends
        other.rollback()
    finally:
        other.close()


def test_idempotency_keys_must_outlive_the_offline_taps_still_accepted(tmp_path):
    result = start_production(
        tmp_path,
        SAFEROOM_SECRET_KEY=SECRET,
        SAFEROOM_LINKAGE_KEY=LINKAGE,
        SAFEROOM_ALLOWED_HOSTS="saferoom.example.org",
        SAFEROOM_IDEMPOTENCY_TTL_HOURS="24",
    )
    assert result.returncode != 0
    assert "SAFEROOM_IDEMPOTENCY_TTL_HOURS must be more than 48" in result.stderr
