"""Every URL against every persona, from the table in ``tests/access_table.py``.

Walks the whole URLconf (namespaced includes too), so a new page cannot escape: a URL without
a row fails here, as does a row whose URL has gone, a view that declares no roles, and any
persona that gets a different answer than the table says. (After 18F's Tock,
``tock/tests/test_url_auth.py``, extended to the role × page matrix.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.access_table import ACCESS_TABLE, LOGIN, PERSONAS, Row, Status, build_samples


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    callback: Callable[..., Any]


def walk(patterns: list[Any], namespace: str = "", prefix: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(name, prefix + str(entry.pattern), entry.callback)


def all_routes() -> list[Route]:
    return list(walk(get_resolver().url_patterns))


def is_public(view: Callable[..., Any]) -> bool:
    return getattr(view, "login_required", True) is False


# --- the table covers the URLconf, and the URLconf the table --------------------------------


def test_every_url_is_named():
    unnamed = [route.pattern for route in all_routes() if not route.name]
    assert not unnamed, f"Name these URLs so the access table can cover them: {unnamed}"


def test_every_url_has_a_row_in_the_access_table():
    missing = sorted({r.name for r in all_routes() if r.name} - set(ACCESS_TABLE))
    assert not missing, (
        "These URLs have no row in tests/access_table.py. Add one saying what each persona "
        f"gets: {missing}"
    )


def test_every_row_of_the_access_table_is_a_url_that_exists():
    stale = sorted(set(ACCESS_TABLE) - {r.name for r in all_routes()})
    assert not stale, f"tests/access_table.py has rows for URLs that no longer exist: {stale}"


def test_every_view_declares_who_may_use_it():
    """The DenyByDefaultMiddleware's rule, checked for every view before anyone is refused."""
    undeclared = [
        f"{r.name} ({r.pattern})"
        for r in all_routes()
        if getattr(r.callback, "saferoom_roles", None) is None and not is_public(r.callback)
    ]
    assert not undeclared, f"These views declare no roles and are not public: {undeclared}"


def test_the_table_marks_exactly_the_public_views_as_public():
    views = {r.name: r.callback for r in all_routes() if r.name in ACCESS_TABLE}
    wrong = sorted(
        name for name, view in views.items() if is_public(view) != ACCESS_TABLE[name].public
    )
    assert not wrong, f"Public in the code but not in the table, or the other way round: {wrong}"


def test_only_public_rows_let_an_anonymous_visitor_in():
    for name, row in ACCESS_TABLE.items():
        if not row.public:
            assert row.statuses["anonymous"] == LOGIN, f"{name}: anonymous must go to login"


# --- sample objects the URLs point at -------------------------------------------------------


@pytest.fixture
def samples(network, site_a, site_b, desk) -> dict[str, Any]:
    return build_samples(network=network, site_a=site_a, site_b=site_b, desk=desk)


@pytest.fixture
def browsers(desk, nurse, manager, evaluator, admin, other_site_worker) -> dict[str, HttpClient]:
    """One logged-in HTTP client per persona."""
    users = {
        "desk": desk,
        "nurse": nurse,
        "manager": manager,
        "evaluator": evaluator,
        "admin": admin,
        "other_site_worker": other_site_worker,
    }
    clients = {"anonymous": HttpClient()}
    for persona, user in users.items():
        clients[persona] = HttpClient()
        clients[persona].force_login(user)
    return clients


def url_for(name: str, row: Row, samples: dict[str, Any]) -> str:
    unknown = [v for v in row.kwargs.values() if v not in samples]
    assert not unknown, f"{name}: no sample object called {unknown} (see tests/access_table.py)"
    return reverse(name, kwargs={k: samples[v] for k, v in row.kwargs.items()})


def outcome(response: Any) -> Status:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return int(response.status_code)


# --- every persona against every URL --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACCESS_TABLE))
def test_each_persona_gets_what_the_table_says(name, samples, browsers):
    row = ACCESS_TABLE[name]
    url = url_for(name, row, samples)
    wrong = []
    for persona in PERSONAS:
        got = outcome(browsers[persona].get(url))
        if got != row.statuses[persona]:
            wrong.append(f"  {persona}: expected {row.statuses[persona]}, got {got}")
    assert not wrong, f"GET {url} ({name}):\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(n for n, r in ACCESS_TABLE.items() if not r.public))
def test_a_post_from_a_persona_without_access_is_refused_the_same_way(name, samples, browsers):
    """A refused persona cannot get round a page by posting to it instead."""
    row = ACCESS_TABLE[name]
    url = url_for(name, row, samples)
    wrong = []
    for persona in PERSONAS:
        expected = row.statuses[persona]
        if expected not in (LOGIN, 403, 404):
            continue
        got = outcome(browsers[persona].post(url, {}))
        if got != expected:
            wrong.append(f"  {persona}: expected {expected}, got {got}")
    assert not wrong, f"POST {url} ({name}):\n" + "\n".join(wrong)


def test_post_only_urls_refuse_a_get_from_everyone_allowed():
    for name, row in ACCESS_TABLE.items():
        if row.post_only:
            allowed = [p for p, s in row.statuses.items() if s not in (LOGIN, 403, 404)]
            assert allowed, f"{name}: a post-only URL nobody may use"
            assert all(row.statuses[p] == 405 for p in allowed), (
                f"{name} is post-only: a GET from an allowed persona must answer 405"
            )
