"""The strict content security policy in real Chromium: the main pages (login, the desk's queue
and search, a client record, the floor board, the report dashboard, the managers' security
alerts) load and work with no inline script, style or eval, so the browser reports no
violation. htmx must be told not to inject its indicator styles for this to hold."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in every page before its own scripts: records each violation the browser reports.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def violations(page):
    """Every content-security-policy violation seen by the tab: from the page's own event and
    from the console (which also reports what happens before the listener could run)."""
    seen: list[str] = []
    page.add_init_script(LISTEN)
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )

    def collect() -> list[str]:
        try:
            in_page = page.evaluate("window.__cspViolations || []")
        except Exception:  # a page in the middle of navigating
            in_page = []
        return seen + list(in_page)

    return collect


@pytest.fixture
def client_a(network, site_a, desk):
    return Client.objects.create(
        network=network,
        display_code=new_display_code(),
        linkage_hash="c" * 64,
        scheme=network.client_code_scheme,
        gender="not_stated",
        year_of_birth=1990,
        registered_at=timezone.now(),
        registered_site=site_a,
        registered_by=desk,
    )


def test_the_desks_and_floors_pages_load_without_a_single_policy_violation(
    page, live_server, log_in, nurse, site_a, client_a, violations
):
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    assert violations() == []

    log_in(nurse)
    site = {"site": site_a.slug}
    for name, kwargs, heading in [
        ("floor:queue", site, "Desk and queue"),
        ("board:board", site, "Floor board"),
        ("clients:find", site, "Find a client"),
        ("clients:detail", {**site, "pk": client_a.pk}, f"Client {client_a.display_code}"),
        ("reports:dashboard", site, None),
    ]:
        page.goto(live_server.url + reverse(name, kwargs=kwargs))
        if heading:
            expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
        else:
            expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert violations() == [], f"{name}: {violations()}"


def test_the_managers_pages_load_without_a_single_policy_violation(
    page, live_server, log_in, manager, site_a, violations
):
    log_in(manager)
    base = live_server.url
    page.goto(base + reverse("sites:security_alerts", kwargs={"site": site_a.slug}))
    expect(page.get_by_role("heading", level=1, name="Security alerts")).to_be_visible()
    expect(page.get_by_role("link", name="Security alerts")).to_be_visible()
    page.goto(base + reverse("sites:settings", kwargs={"site": site_a.slug}))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert violations() == []
