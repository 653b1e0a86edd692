"""A password-only session of anyone who needs two-factor login reaches no protected page: every
URL in the access table sends it to the code page (or to set up an app), for each such persona.
The token-authenticated API is not touched by any of this."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from saferoom.api import actions as api_actions
from saferoom.core.roles import Role
from tests.access_table import ACCESS_TABLE, build_samples
from tests.conftest import PASSWORD, authenticator, make_user
from tests.test_access_table import url_for

pytestmark = pytest.mark.django_db

# The steps of logging in themselves (desk sessions held for want of an enrolled tablet are
# walked in tests/accounts/test_enrolled_tablets.py).
OPEN_TO_PASSWORD_ONLY = {"accounts:verify", "accounts:enrol", "accounts:tablet_needed"}
PROTECTED = sorted(
    name
    for name, row in ACCESS_TABLE.items()
    if not row.public and name not in OPEN_TO_PASSWORD_ONLY
)


@pytest.fixture
def samples(network, site_a, site_b, desk) -> dict[str, Any]:
    return build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)


@pytest.fixture
def superuser(site_a):
    user = make_user("sue.super", (Role.ADMIN, site_a.network))
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    return user


def password_only(user) -> HttpClient:
    client = HttpClient()
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def held_at_the_second_step(response) -> bool:
    location = response.get("Location", "") if response.status_code in (204, 302) else ""
    location = location or response.get("HX-Redirect", "")
    return location.startswith(("/account/two-factor/code/", "/account/two-factor/set-up/"))


@pytest.mark.parametrize("persona", ["manager", "evaluator", "admin", "superuser"])
@pytest.mark.parametrize("enrolled", [True, False], ids=["with-app", "without-app"])
def test_a_password_only_session_reaches_no_protected_page(request, persona, enrolled, samples):
    user = request.getfixturevalue(persona)
    if enrolled:
        authenticator(user)
    client = password_only(user)
    leaks = []
    for name in PROTECTED:
        url = url_for(name, ACCESS_TABLE[name], samples)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if not held_at_the_second_step(response):
                leaks.append(f"{method.upper()} {name}: {response.status_code}")
    assert not leaks, f"{persona} got past the password alone:\n" + "\n".join(leaks)


def test_an_htmx_request_is_sent_to_the_code_page_as_a_whole_page(manager, site_a):
    authenticator(manager)
    client = password_only(manager)
    response = client.get(
        reverse("board:board", kwargs={"site": "riverside"}), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("accounts:verify")


def test_the_api_takes_its_token_and_nothing_of_two_factor(manager, site_a):
    """An integration's token for a manager works without any second factor (the token is the
    credential), and a password-only browser session is no way into the API."""
    _row, raw = api_actions.create_token(user=manager, name="van tablet", by=None)
    api = HttpClient()
    response = api.get(reverse("api:sites"), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()
    response = password_only(manager).get(reverse("api:sites"))
    assert response.status_code == 401
