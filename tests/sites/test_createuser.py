"""``saferoom createuser``: the first manager or administrator of a deployment, from the
command line. Unknown roles and places are refused with a clear message; weak passwords too."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from saferoom.core.models import AuditEvent, User

PASSWORD = "kettle lamp orchard 42"


def run(*args: str, stdin: str = PASSWORD + "\n", monkeypatch) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue()


def test_a_manager_for_one_site(site_a, monkeypatch):
    output = run(
        "mo.new",
        "--role",
        "manager",
        "--site",
        "riverside",
        "--display-name",
        "Mo",
        "--password-stdin",
        monkeypatch=monkeypatch,
    )
    assert "Created mo.new: Manager at Riverside." in output
    user = User.objects.get(username="mo.new")
    assert user.display_name == "Mo"
    assert set(user.memberships.values_list("role", "site_id")) == {("manager", site_a.pk)}
    assert authenticate(username="mo.new", password=PASSWORD) == user
    # Audited as done by the system, not by a person.
    assert AuditEvent.objects.get(action="staff.created").actor_label == "system"
    assert AuditEvent.objects.get(action="staff.role_granted").actor_id is None


def test_an_administrator_for_a_whole_network(network, site_a, monkeypatch):
    run(
        "ruth.admin",
        "--role",
        "admin",
        "--network",
        "Test network",
        "--password-stdin",
        monkeypatch=monkeypatch,
    )
    user = User.objects.get(username="ruth.admin")
    membership = user.memberships.get()
    assert (membership.role, membership.site_id, membership.network_id) == (
        "admin",
        None,
        network.pk,
    )
    assert user.display_name == "ruth.admin"


def test_at_a_terminal_the_password_is_asked_for_twice(site_a, monkeypatch):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    call_command(
        "createuser", "tty.user", "--role", "desk", "--site", "riverside", stdout=io.StringIO()
    )
    assert User.objects.filter(username="tty.user").exists()


def test_two_different_passwords_at_a_terminal_create_nothing(site_a, monkeypatch):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    with pytest.raises(CommandError, match="not the same"):
        call_command("createuser", "tty.user", "--role", "desk", "--site", "riverside")
    assert not User.objects.filter(username="tty.user").exists()


def test_not_at_a_terminal_without_password_stdin_is_refused(site_a, monkeypatch):
    with pytest.raises(CommandError, match="--password-stdin"):
        run("x.user", "--role", "desk", "--site", "riverside", monkeypatch=monkeypatch)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--site", "riverside"], "There is no role called 'boss'"),
        (
            ["--role", "desk", "--site", "atlantis"],
            "There is no site with the short name 'atlantis'",
        ),
        (["--role", "desk", "--network", "Nowhere"], "There is no network called 'Nowhere'"),
    ],
)
def test_unknown_roles_and_places_are_refused(site_a, monkeypatch, args, message):
    with pytest.raises(CommandError, match=message):
        run("new.user", *args, "--password-stdin", monkeypatch=monkeypatch)
    assert not User.objects.filter(username="new.user").exists()


def test_the_unknown_site_message_lists_the_sites(site_a, site_b, monkeypatch):
    with pytest.raises(CommandError, match="Sites: eastgate, riverside"):
        run(
            "new.user",
            "--role",
            "desk",
            "--site",
            "nope",
            "--password-stdin",
            monkeypatch=monkeypatch,
        )


def test_a_weak_password_is_refused(site_a, monkeypatch):
    with pytest.raises(CommandError, match="at least 12 characters"):
        run(
            "new.user",
            "--role",
            "desk",
            "--site",
            "riverside",
            "--password-stdin",
            stdin="short\n",
            monkeypatch=monkeypatch,
        )
    assert not User.objects.filter(username="new.user").exists()


def test_a_taken_username_is_refused(desk, monkeypatch):
    with pytest.raises(CommandError, match="is taken"):
        run(
            "dana.desk",
            "--role",
            "floor",
            "--site",
            "riverside",
            "--password-stdin",
            monkeypatch=monkeypatch,
        )


def test_site_and_network_together_are_refused(site_a, monkeypatch):
    with pytest.raises(CommandError):
        run(
            "new.user",
            "--role",
            "desk",
            "--site",
            "riverside",
            "--network",
            "Test network",
            "--password-stdin",
            monkeypatch=monkeypatch,
        )
