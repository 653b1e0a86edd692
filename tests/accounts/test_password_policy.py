"""Password policy (checklist item 6; ASVS 2.1.1, 2.1.7, 2.1.9, 2.4): at least 12 characters,
checked against a list of common passwords, no rules about character classes and no forced
changes, stored with Argon2id. The validators' refusals through the password change page are
in tests/core/test_deny_by_default.py; these check what is stored and that every way of
setting a password applies the same rules."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings

from saferoom.accounts import actions as account_actions
from saferoom.accounts.models import StaffPin
from saferoom.core.errors import ActionRefused
from saferoom.core.roles import Role
from saferoom.sites import actions as site_actions

pytestmark = pytest.mark.django_db

PRODUCTION_HASHERS = [h for h in settings.PASSWORD_HASHERS if "MD5" not in h]


def test_passwords_and_pins_are_stored_as_argon2id_in_production(site_a, manager, desk):
    with override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS):
        user = site_actions.create_staff_user(
            username="pat.new",
            display_name="Pat",
            password="amber kettle orbit lamp",
            memberships=[(Role.DESK, site_a)],
            network=site_a.network,
            by=manager,
        )
        account_actions.set_pin(user=desk, pin="274913")
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert StaffPin.objects.get(user=desk).pin_hash.startswith("argon2$argon2id$")
    assert "amber" not in user.password
    with override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS):
        assert user.check_password("amber kettle orbit lamp")


def test_the_validators_are_length_twelve_common_list_similarity_and_not_all_digits():
    validators = cast(list[dict[str, Any]], settings.AUTH_PASSWORD_VALIDATORS)
    names = [v["NAME"].rsplit(".", 1)[1] for v in validators]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    length = next(v for v in validators if "MinimumLength" in v["NAME"])
    assert length["OPTIONS"]["min_length"] == 12
    # Nothing forces passwords to change on a schedule.
    assert not hasattr(settings, "PASSWORD_EXPIRY_DAYS")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "lowercase only long phrase", "ȝeog glæd æppel"],
)
def test_no_rule_about_character_classes(nurse, password):
    """A long passphrase of lower-case words (or any script) is fine: ASVS 2.1.9."""
    validate_password(password, user=nurse)


@pytest.mark.parametrize(
    "password", ["1q2w3e4r5t6y", "password1234", "123qweasdzxc", "qwertyuiop123", "123456789012"]
)
def test_common_passwords_are_refused_even_when_long(nurse, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=nurse)


def test_a_password_like_the_username_is_refused(nurse):
    with pytest.raises(ValidationError, match="too similar"):
        validate_password("nina.nurse.2025", user=nurse)


def test_every_way_of_setting_a_password_applies_the_policy(site_a, manager, desk, monkeypatch):
    with pytest.raises(ActionRefused, match="at least 12 characters"):
        site_actions.create_staff_user(
            username="pat.short",
            display_name="Pat",
            password="tqbfjotld7x",
            memberships=[(Role.DESK, site_a)],
            network=site_a.network,
            by=manager,
        )
    with pytest.raises(ActionRefused, match="too common"):
        site_actions.set_staff_password(user=desk, password="password1234", by=manager)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command(
            "createuser", "pat.cli", "--role", "desk", "--site", site_a.slug,
            "--password-stdin", stdout=io.StringIO(),
        )  # fmt: skip
