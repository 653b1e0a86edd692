from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.core.models import AuditEvent
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_a_desk_worker_logs_in_and_lands_on_their_queue(desk, site_a):
    client = HttpClient()
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
