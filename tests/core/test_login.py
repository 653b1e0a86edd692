from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.accounts.models import LoginSession as Session
from saferoom.core.models import AuditEvent
from tests.conftest import PASSWORD, on_tablet


@pytest.mark.django_db
def test_a_desk_worker_logs_in_and_lands_on_their_queue(desk, site_a):
    client = HttpClient()
    on_tablet(client, site_a)  # the desk's tablet (ADR 14)
    response = client.post(reverse("login"), {"username": "dana.desk", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("floor:queue", kwargs={"site": "riverside"})
    assert AuditEvent.objects.filter(action="auth.login", actor_label="dana.desk").exists()


@pytest.mark.django_db
def test_a_wrong_password_is_refused_with_a_clear_message(desk):
    client = HttpClient()
    response = client.post(reverse("login"), {"username": "dana.desk", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_the_health_check_needs_no_login():
    response = HttpClient().get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_logging_in_gives_the_session_a_new_key(desk):
    """A session key planted before login (session fixation) is worthless after it."""
    client = HttpClient()
    session = client.session
    session["planted"] = True
    session.save()
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post(reverse("login"), {"username": "dana.desk", "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    planted = HttpClient()
    planted.cookies[settings.SESSION_COOKIE_NAME] = before
    assert planted.get(reverse("home"))["Location"].startswith(reverse("login"))


def test_sessions_end_after_fifteen_idle_minutes_and_twelve_hours_at_most():
    # The behaviour under a frozen clock is in tests/core/test_deny_by_default.py.
    assert settings.SESSION_IDLE_TIMEOUT == 15 * 60
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"


@pytest.mark.django_db
def test_a_failed_login_is_recorded_without_the_password(desk):
    HttpClient().post(reverse("login"), {"username": "dana.desk", "password": "hunter2-oops"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_label == "dana.desk"
    assert "hunter2" not in str(event.detail)
