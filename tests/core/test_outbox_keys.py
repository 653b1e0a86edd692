"""The offline outbox's keys (saferoom/core/outbox.py; checklist items 19 and 23): a logged-in
page carries its person's key, the same at every login and different for each person; a
page for someone not (or not yet fully) logged in carries none. What the browser does with them
is tested in tests/browser/test_offline.py."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import reverse

from saferoom.core import outbox
from tests.conftest import force_login_password_only, login

pytestmark = pytest.mark.django_db

META = re.compile(r'<meta name="(outbox-[a-z]+)" content="([^"]*)"(?: data-name="([^"]*)")?>')


def metas(client: HttpClient, site_slug: str) -> dict[str, tuple[str, str]]:
    html = client.get(reverse("board:board", kwargs={"site": site_slug})).content.decode()
    return {name: (value, extra) for name, value, extra in META.findall(html)}


def test_a_logged_in_page_carries_the_persons_outbox_key_and_owner_tag(nurse, site_a):
    found = metas(login(nurse), site_a.slug)
    assert set(found) == {"outbox-key", "outbox-directory", "outbox-owner"}
    key = base64.b64decode(found["outbox-key"][0])
    assert len(key) == 32  # AES-256
    assert key == outbox.user_key(nurse)
    assert base64.b64decode(found["outbox-directory"][0]) == outbox.directory_key()
    owner, name = found["outbox-owner"]
    assert owner == outbox.owner_tag(nurse)
    assert name == "nina.nurse"
    # The owner tag names nobody without the server's secret.
    assert owner != str(nurse.pk)
    assert "nina" not in owner
    with override_settings(SECRET_KEY="another server's secret " * 3):
        assert outbox.owner_tag(nurse) != owner


def test_the_key_is_the_same_at_every_login_and_differs_between_people(nurse, desk, site_a):
    first, again = metas(login(nurse), site_a.slug), metas(login(nurse), site_a.slug)
    other = metas(login(desk), site_a.slug)
    assert first["outbox-key"] == again["outbox-key"]
    assert first["outbox-owner"][0] == again["outbox-owner"][0]
    assert other["outbox-key"] != first["outbox-key"]
    assert other["outbox-owner"][0] != first["outbox-owner"][0]
    # Everyone's usernames are sealed with the one directory key.
    assert other["outbox-directory"] == first["outbox-directory"]


def test_no_key_for_someone_logged_out_or_still_owing_their_second_factor(manager, site_a):
    anonymous = HttpClient().get(reverse("login")).content.decode()
    assert "outbox-" not in anonymous
    half = HttpClient()
    force_login_password_only(half, manager)
    response = half.get(reverse("home"), follow=True)  # to the second step
    assert response.status_code == 200
    assert "/two-factor/" in response.request["PATH_INFO"]
    page = response.content.decode()
    assert 'id="outbox-status"' in page  # a logged-in page, with the top bar ...
    assert not META.search(page)  # ... but no key before the second factor
    assert metas(login(manager), site_a.slug)["outbox-key"][0]
