"""The client registry in real Chromium: the duplicate warning and the choice it offers, a
manager's ban and merge, each state scanned with axe. Elements are found by role and name."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from playwright.sync_api import expect

from saferoom.clients import actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Ban, Client, ClientMerge
from saferoom.core.models import User
from saferoom.sites.models import Site
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import browser, log_in, page  # noqa: F401  (the browser fixtures)
from tests.clients.conftest import NDTMS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _register(site: Site, desk: User, **attrs: str) -> Client:
    data = {**NDTMS, **attrs}
    return actions.register_client(
        site=site,
        attrs=SchemeAttributes(
            initials=data["initials"],
            date_of_birth=dt.date.fromisoformat(data["date_of_birth"]),
            sex=data["sex"],
        ),
        gender=data["gender"],
        by=desk,
        idempotency_key=uuid.uuid4(),
        confirm_not_duplicate=True,
    )


def test_the_desk_is_warned_of_a_likely_duplicate_and_confirms_a_different_person(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    desk,
    site_a,
):
    existing = _register(site_a, desk, initials="ZQ")  # the same person, initials swapped?
    log_in(desk)
    page.goto(f"{live_server.url}/sites/riverside/clients/register/")
    page.get_by_label("Initials").fill("qz")
    page.get_by_label("Date of birth").fill("14/03/1987")
    page.get_by_role("group", name="Sex").get_by_label("Female", exact=True).check()
    page.get_by_role("group", name="Gender").get_by_label("Female", exact=True).check()
    page.get_by_role("button", name="Register", exact=True).click()

    warning = page.get_by_role("region", name="They may already be registered")
    expect(warning).to_be_visible()
    expect(warning.get_by_role("link", name=f"Open record {existing.display_code}")).to_be_visible()
    expect(page.get_by_label("Initials")).to_have_value("qz")  # nothing to type again
    assert_accessible(page, "the registration page with a duplicate warning")

    page.get_by_role("button", name="They are a different person: register them").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Client registered")
    assert_accessible(page, "the new client's code")
    assert Client.objects.count() == 2


def test_a_manager_bans_and_merges_in_the_browser(
    page,  # noqa: F811
    log_in,  # noqa: F811
    live_server,
    manager,
    desk,
    site_a,
):
    kept = _register(site_a, desk, initials="AB")
    merged = _register(site_a, desk)
    log_in(manager)
    page.goto(f"{live_server.url}/sites/riverside/clients/{merged.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(merged.display_code)

    page.get_by_role("link", name="Set a ban").click()
    page.get_by_role("group", name="Reason").get_by_label("Damage to the premises").check()
    page.get_by_label("Note (no names)").fill("Broke the booth mirror")
    assert_accessible(page, "the ban form")
    page.get_by_role("button", name="Set the ban").click()
    expect(page.get_by_role("status")).to_contain_text("The ban is set.")
    expect(page.get_by_role("alert")).to_contain_text("Banned here now")
    assert_accessible(page, "the client record with a ban")
    assert Ban.objects.filter(client=merged).count() == 1

    page.get_by_role("link", name="Merge with another code").click()
    page.get_by_label("Code of the other client").fill(kept.display_code.lower())
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("heading", name=re.compile(kept.display_code))).to_be_visible()
    assert_accessible(page, "the merge comparison")
    page.get_by_role("group", name="Which code does the person keep?").get_by_label(
        re.compile(f"Keep {kept.display_code}")
    ).check()
    page.get_by_label("Why are these the same person?").fill("Lost card, registered again")
    page.get_by_role("button", name="Merge these codes").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"{merged.display_code} now finds {kept.display_code}"
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(kept.display_code)
    assert ClientMerge.objects.filter(kept=kept, merged=merged).exists()
    assert Ban.objects.filter(client=kept).count() == 1
