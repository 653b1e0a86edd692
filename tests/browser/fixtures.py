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


@pytest.fixture
def log_in(page: Any, live_server: Any) -> Callable[..., None]:
    """Log in through the real form, as the person would (with the second factor if their
    role needs it)."""
    from playwright.sync_api import expect

    from saferoom.accounts.two_factor import requires_two_factor
    from tests.conftest import PASSWORD, authenticator, totp_code

    def _log_in(user: Any, password: str = PASSWORD) -> None:
        # Managers, evaluators and administrators type the code their authenticator app shows.
        device = authenticator(user) if requires_two_factor(user) else None
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in", exact=True).click()
        if device is not None:
            expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
            page.get_by_label("Code").fill(totp_code(device))
            page.get_by_role("button", name="Check the code").click()
        expect(page).not_to_have_url(re.compile(r"/login/|/two-factor/"))
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    return _log_in
