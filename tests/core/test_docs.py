"""The README is kept true by tests: every SAFEROOM_* variable the settings read is in its
configuration table, and the demo logins it prints are the ones the demo makes."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from saferoom.simulation.management.commands.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

PROJECT = Path(settings.PROJECT_DIR)
README = (PROJECT / "README.md").read_text(encoding="utf-8")


def configuration_table() -> str:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `SAFEROOM_"))


def test_every_setting_read_from_the_environment_is_documented_in_the_readme():
    source = (PROJECT / "saferoom" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"(SAFEROOM_[A-Z_]+)"', source))
    assert read, "the settings read no SAFEROOM_ variables?"
    table = configuration_table()
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"Add these to the README's configuration table: {missing}"


def test_the_readme_documents_no_setting_that_does_not_exist():
    source = (PROJECT / "saferoom" / "settings.py").read_text(encoding="utf-8")
    documented = set(re.findall(r"\| `(SAFEROOM_[A-Z_]+)`", configuration_table()))
    stale = sorted(name for name in documented if f'"{name}"' not in source)
    assert not stale, f"The README documents settings that saferoom no longer reads: {stale}"


def test_the_readme_gives_the_demo_logins_the_demo_makes():
    for account in DEMO_ACCOUNTS:
        row = f"| `{account.username}` | `{DEMO_PASSWORD}` |"
        assert row in README, f"README is missing the demo login {row}"
