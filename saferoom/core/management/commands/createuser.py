"""``saferoom createuser``: make a staff account from the command line, for the first manager or
administrator of a new deployment and for scripted set-ups.

    saferoom createuser USERNAME --role ROLE (--site SLUG | --network NAME)
                        [--display-name NAME] [--password-stdin]

The password is asked for twice at a terminal, or read from standard input with
``--password-stdin``; it must pass the same checks as in the app. The account and its role are
audited as done by "system".
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from saferoom.core.errors import ActionRefused
from saferoom.core.roles import Role
from saferoom.sites import actions
from saferoom.sites.models import Network, Site


class Command(BaseCommand):
    help = "Create a staff account with a role at one site or across a network."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="What the person types to log in.")
        parser.add_argument(
            "--role",
            required=True,
            help="One of: " + ", ".join(Role.values) + ".",
        )
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--site", help="The short name (slug) of the site they work at.")
        where.add_argument("--network", help="The name of the network, for every site of it.")
        parser.add_argument("--display-name", default="", help="The name colleagues see.")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input instead of asking for it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        role = self._role(options["role"])
        site, network = self._where(site_slug=options["site"], network_name=options["network"])
        password = self._password(from_stdin=options["password_stdin"])
        username: str = options["username"]
        try:
            user = actions.create_staff_user(
                username=username,
                display_name=options["display_name"] or username,
                password=password,
                memberships=[(role, site)],
                network=network,
                by=None,
            )
        except ActionRefused as error:
            raise CommandError(error.message) from None
        where = site.name if site is not None else f"every site of {network.name}"
        self.stdout.write(self.style.SUCCESS(f"Created {user.username}: {role.label} at {where}."))

    def _role(self, value: str) -> Role:
        if value not in Role.values:
            raise CommandError(
                f"There is no role called {value!r}. Choose one of: {', '.join(Role.values)}."
            )
        return Role(value)

    def _where(
        self, *, site_slug: str | None, network_name: str | None
    ) -> tuple[Site | None, Network]:
        if site_slug is not None:
            site = Site.objects.select_related("network").filter(slug=site_slug).first()
            if site is None:
                known = ", ".join(Site.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(
                    f"There is no site with the short name {site_slug!r}."
                    + (f" Sites: {known}." if known else " There are no sites yet.")
                )
            return site, site.network
        network = Network.objects.filter(name=network_name).first()
        if network is None:
            known = ", ".join(Network.objects.order_by("name").values_list("name", flat=True))
            raise CommandError(
                f"There is no network called {network_name!r}."
                + (f" Networks: {known}." if known else " There are no networks yet.")
            )
        return None, network

    def _password(self, *, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password was given on standard input.")
            return password
        if not sys.stdin.isatty():
            raise CommandError(
                "Not at a terminal: give the password on standard input with --password-stdin."
            )
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            raise CommandError("The two passwords are not the same. Nothing was created.")
        return password
