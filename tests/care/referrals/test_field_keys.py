"""SAFEROOM_FIELD_KEYS: a value that is not a Fernet key stops saferoom at start-up with a
message that names the setting but not the value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings

from saferoom.core import crypto

PROJECT = Path(settings.PROJECT_DIR)


def start(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "SAFEROOM_DEBUG": "1", **env}
    environ.pop("SAFEROOM_FIELD_KEYS_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "saferoom.cli", "check"],
        cwd=PROJECT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_key_stops_saferoom_without_printing_it():
    result = start(SAFEROOM_FIELD_KEYS="hunter2-not-a-key")
    assert result.returncode == 2
    assert "SAFEROOM_FIELD_KEYS holds a value that is not a Fernet key" in result.stderr
    assert "hunter2" not in result.stderr


def test_several_keys_newest_first_are_accepted(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}\n")
    result = start(SAFEROOM_FIELD_KEYS_FILE=str(keys))
    assert result.returncode == 0, result.stderr


def test_an_empty_value_stays_empty_and_text_round_trips():
    assert crypto.seal("") == ""
    assert crypto.unseal(crypto.seal("Ünïcode ✓")) == "Ünïcode ✓"
