"""Every page in the access table, opened in Chromium by a persona who may see it, scanned
with axe. A new page joins this sweep the moment it gets its row in tests/access_table.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.access_table import ACCESS_TABLE, build_samples
from tests.browser.accessibility import BLOCKING, describe, scan

pytestmark = pytest.mark.django_db(transaction=True)


def pages_for(persona: str) -> list[str]:
    return sorted(
        name
        for name, row in ACCESS_TABLE.items()
        if row.statuses[persona] == 200 and not row.public
    )


@pytest.mark.parametrize("persona", ["desk", "manager", "admin", "evaluator"])
def test_every_page_a_persona_can_open_has_no_serious_accessibility_problems(
    persona, request, page, log_in, live_server, network, site_a, site_b, desk
):
    user = request.getfixturevalue(persona)
    samples = build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)
    log_in(user)
    problems = []
    for name in pages_for(persona):
        row = ACCESS_TABLE[name]
        url = reverse(name, kwargs={k: samples[v] for k, v in row.kwargs.items()})
        response = page.goto(f"{live_server.url}{url}")
        assert response is not None
        assert response.status == 200, f"{name}: {response.status}"
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        blocking = [v for v in scan(page) if v["impact"] in BLOCKING]
        if blocking:
            problems.append(f"{name} ({url}):\n{describe(blocking)}")
    if problems:
        pytest.fail(
            f"Serious or critical accessibility violations, as {persona}:\n\n"
            + "\n\n".join(problems),
            pytrace=False,
        )
