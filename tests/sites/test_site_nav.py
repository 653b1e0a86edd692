"""The site menu offers the returns and the operating-costs pages to exactly the people those
pages let in (the roles their views declare), and every link it offers opens."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

MENU_LINKS = {
    "Returns": "returns:index",
    "Operating costs": "costs:list",
}


def menu(client: HttpClient) -> dict[str, str]:
    """The links of the site menu on the reports dashboard (every persona may open it)."""
    response = client.get(reverse("reports:dashboard", kwargs={"site": "riverside"}))
    assert response.status_code == 200
    page = response.content.decode()
    nav = page.split('aria-label="Site pages"', 1)[-1].split("</nav>", 1)[0]
    return {
        re.sub(r"<[^>]+>", "", label).strip(): href
        for href, label in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav, re.S)
    }


@pytest.mark.parametrize(
    ("persona", "offered"),
    [
        ("as_desk", False),
        ("as_nurse", False),
        ("as_manager", True),
        ("as_evaluator", True),
        ("as_admin", True),
    ],
)
def test_the_returns_and_costs_links_show_for_those_the_pages_let_in(
    request: pytest.FixtureRequest, persona: str, offered: bool
) -> None:
    client: HttpClient = request.getfixturevalue(persona)
    links = menu(client)
    for label, name in MENU_LINKS.items():
        address = reverse(name, kwargs={"site": "riverside"})
        assert (links.get(label) == address) is offered, (persona, label)
        if offered:
            assert client.get(address).status_code == 200
        else:
            assert client.get(address).status_code == 403


def test_the_current_page_is_marked_in_the_menu(as_manager: HttpClient) -> None:
    page = as_manager.get(reverse("costs:list", kwargs={"site": "riverside"})).content.decode()
    assert re.search(
        r'<a href="/sites/riverside/costs/" aria-current="page">Operating costs</a>', page
    )
