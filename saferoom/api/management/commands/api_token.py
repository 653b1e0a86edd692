"""``saferoom api_token``: make, list and revoke the tokens integrations use for the JSON API.

    saferoom api_token create --user USERNAME --name NAME [--expires-days N]
    saferoom api_token list [--user USERNAME] [--all]
    saferoom api_token revoke PREFIX

A token acts as its user: it has exactly the roles the user has (make an account for each
integration, with only the role it needs). ``create`` prints the token once; only its prefix
and a salted hash are kept. Creating and revoking are audited as done by "system".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from saferoom.api import actions
from saferoom.api.models import ApiToken
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User

MAX_DAYS = 3650


class Command(BaseCommand):
    help = "Make, list and revoke JSON API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        create = commands.add_parser("create", help="Make a token and print it once.")
        create.add_argument("--user", required=True, help="The account the token acts as.")
        create.add_argument("--name", required=True, help="What it is for (e.g. “van tablet”).")
        create.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"Stop working after this many days (1 to {MAX_DAYS}); never, if left out.",
        )
        listing = commands.add_parser("list", help="List tokens (not revoked, unless --all).")
        listing.add_argument("--user", default=None, help="Only this account's tokens.")
        listing.add_argument("--all", action="store_true", help="Include revoked tokens.")
        revoke = commands.add_parser("revoke", help="Stop a token working, for good.")
        revoke.add_argument("prefix", help="The token's prefix, as `list` shows it.")

    def handle(self, *args: Any, **options: Any) -> None:
        command = options["command"]
        if command == "create":
            self._create(options["user"], options["name"], options["expires_days"])
        elif command == "list":
            self._list(options["user"], include_revoked=options["all"])
        else:
            self._revoke(options["prefix"])

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no account called {username!r}.")
        return user

    def _create(self, username: str, name: str, days: int | None) -> None:
        user = self._user(username)
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {MAX_DAYS}.")
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        try:
            row, token = actions.create_token(user=user, name=name, expires_at=expires_at, by=None)
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from None
        if not user.memberships.exists():
            self.stderr.write(
                self.style.WARNING(
                    f"{user.username} holds no role at any site: the token will be refused "
                    "everywhere until they do."
                )
            )
        until = f"until {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "no expiry"
        self.stdout.write(
            self.style.SUCCESS(f"Token {row.prefix} for {user.username} ({row.name}; {until}).")
        )
        self.stdout.write("Copy it now: it is not shown again.")
        self.stdout.write(token)

    def _list(self, username: str | None, *, include_revoked: bool) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
        if username is not None:
            tokens = tokens.filter(user=self._user(username))
        if not include_revoked:
            tokens = tokens.filter(revoked_at__isnull=True)
        rows = list(tokens)
        if not rows:
            self.stdout.write("No tokens.")
            return
        now = timezone.now()
        self.stdout.write(f"{'PREFIX':<10}{'USER':<20}{'STATE':<10}{'LAST USED':<18}NAME")
        for token in rows:
            if token.revoked_at is not None:
                state = "revoked"
            elif token.expires_at is not None and token.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.prefix:<10}{token.user.username:<20}{state:<10}{used:<18}{token.name}"
            )

    def _revoke(self, prefix: str) -> None:
        token = ApiToken.objects.select_related("user").filter(prefix=prefix.strip()).first()
        if token is None:
            raise CommandError(f"No token has the prefix {prefix!r} (see `api_token list`).")
        try:
            actions.revoke_token(token=token, by=None)
        except ActionRefused as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(self.style.SUCCESS(f"Token {token.prefix} is revoked."))
