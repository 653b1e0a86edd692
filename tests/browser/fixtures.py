"""Real Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

The fixtures ``browser``, ``page`` and ``log_in`` live here, in an ordinary module, so a test
module outside tests/browser may import them; ``tests/browser/conftest.py`` offers them to
every test in this folder. Chromium is launched once per run and shared, however many places
register the fixtures (two sync Playwright instances cannot run in one thread)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in the test's thread; Django would otherwise refuse
# ORM calls from the test (fixtures, assertions on the database) as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A 10-inch tablet in landscape, the desk's usual screen.
TABLET = {"width": 1280, "height": 800}
# Long enough for a slow CI machine; Playwright's assertions retry until then, never sleep.
TIMEOUT_MS = 10_000
MISSING = f"{CHROMIUM} is missing, so the browser tests cannot run."

_shared: dict[str, Any] = {}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _shutdown() -> None:
    browser = _shared.pop("browser", None)
    playwright = _shared.pop("playwright", None)
    if browser is not None:
        browser.close()
    if playwright is not None:
        playwright.stop()


def _chromium(config: pytest.Config) -> Any:
    if "browser" not in _shared:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _shared["playwright"] = playwright
        config.add_cleanup(_shutdown)  # at the very end of the run, whoever launched it
        _shared["browser"] = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
    return _shared["browser"]


@pytest.fixture(scope="session")
def browser(request: pytest.FixtureRequest) -> Any:
    """The one Chromium of this run. Missing: fail in CI, skip (loudly) elsewhere."""
    if not CHROMIUM.exists():
        if in_ci():
            pytest.fail(f"{MISSING} CI=true: install chromium; these tests must not skip.")
        pytest.skip(MISSING)
    return _chromium(request.config)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab with no cookies, sized like a tablet."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport=TABLET, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def enrol_tab(tab: Any, server_url: str, site: Any, label: str = "Browser test tablet") -> None:
    """Enrol the tab's browser as a tablet of ``site`` through the real "Enrol this tablet" page,
    with a code made as a manager would (here by the system)."""
    from playwright.sync_api import expect

    from saferoom.accounts import actions, tablets

    _row, code = actions.create_tablet_code(site=site, label=label, by=None)
    tab.goto(f"{server_url}/tablet/enrol/")
    tab.get_by_label("Enrolment code").fill(tablets.show_code(code))
    tab.get_by_role("button", name="Enrol this tablet").click()
    expect(tab.get_by_text(f"This tablet is enrolled for {site.name}").first).to_be_visible()


def sign_in(tab: Any, server_url: str, user: Any, password: str | None = None) -> None:
    """Log in on one tab through the real form, as the person would: managers, evaluators and
    administrators then type the code their authenticator app shows; desk and floor staff log in
    on a tablet enrolled for their site (the tab is enrolled first, if it is not yet)."""
    from django.conf import settings
    from playwright.sync_api import expect

    from saferoom.accounts.two_factor import requires_two_factor
    from saferoom.sites.access import sites_for
    from tests.conftest import PASSWORD, authenticator, totp_code

    device = authenticator(user) if requires_two_factor(user) else None
    on_a_tablet = any(c["name"] == settings.TABLET_COOKIE_NAME for c in tab.context.cookies())
    site = sites_for(user).first()
    if device is None and not on_a_tablet and site is not None:
        enrol_tab(tab, server_url, site)
    tab.goto(f"{server_url}/login/")
    tab.get_by_label("Username").fill(user.username)
    tab.get_by_label("Password").fill(PASSWORD if password is None else password)
    tab.get_by_role("button", name="Log in", exact=True).click()
    if device is not None:
        expect(tab.get_by_role("heading", level=1)).to_have_text("Enter your code")
        tab.get_by_label("Code").fill(totp_code(device))
        tab.get_by_role("button", name="Check the code").click()
    expect(tab).not_to_have_url(re.compile(r"/login/|/two-factor/"))
    expect(tab.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture
def log_in(page: Any, live_server: Any) -> Callable[..., None]:
    """Log in on the test's page through the real form (see sign_in)."""

    def _log_in(user: Any, password: str | None = None) -> None:
        sign_in(page, live_server.url, user, password)

    return _log_in
