"""Seeds a scratch database for a server run in another process: one site open around the
clock that takes anonymous visits, a desk worker and a nurse, and an API token for each.

Run as ``python -m tests.durability.seed`` with SAFEROOM_DATABASE_URL set; prints the tokens as
JSON on the last line."""

from __future__ import annotations

import datetime as dt
import json


def seed() -> dict[str, str]:
    from saferoom.api import actions as api_actions
    from saferoom.core.models import User
    from saferoom.core.roles import Role
    from saferoom.sites.defaults import seed_catalogue
    from saferoom.sites.models import Membership, Network, OpeningHours, Site

    network = Network.objects.create(name="Crash-test network")
    seed_catalogue(network)
    site = Site.objects.create(
        network=network, name="Riverside", slug="riverside", anonymous_visits_allowed=True
    )
    # Two openings a day, noon to noon, so the site is open whenever the test runs.
    for weekday in range(7):
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(0), closes=dt.time(12)
        )
        OpeningHours.objects.create(
            site=site, weekday=weekday, opens=dt.time(12), closes=dt.time(0)
        )
    tokens = {}
    for username, role in (("dana.desk", Role.DESK), ("nina.nurse", Role.FLOOR)):
        user = User.objects.create_user(username=username, display_name=username)
        Membership.objects.create(user=user, network=network, site=site, role=role)
        _row, tokens[username] = api_actions.create_token(user=user, name="crash test", by=None)
    return tokens


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(seed()))  # the parent process reads it
