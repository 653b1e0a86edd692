"""Who may call what: every API operation against every persona, with a token.

The project's access table (tests/access_rows/api.py) walks the API's URLs too, but with a
browser's session cookie, which the API does not accept: there, every operation answers 401.
This is the API's own table, with tokens. It covers every operation the API defines (a new
operation fails here until it has a row): no token 401, another site's staff 404, a role the
page would refuse 403, and the roles the page allows get through. Evaluators never get past
an operation that writes or that could show client-level data."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern

from saferoom.api.urls import urlpatterns
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.floor.models import ConsumptionSession
from saferoom.sites.models import Network, Site
from tests.api.conftest import ELIGIBLE, Api, Floor, booth, supply, token
from tests.conftest import make_user

PERSONAS = ("anonymous", "desk", "nurse", "manager", "evaluator", "admin", "other_site_worker")

Body = Callable[["World"], tuple[dict[str, Any], Any]]


@dataclass
class World:
    site_a: Site
    network: Network
    floor: Floor

    def free_booth(self) -> Any:
        """A booth nobody has used yet (a refused caller leaves it free for the next)."""
        return next(
            booth(self.site_a, n)
            for n in range(1, 5)
            if not ConsumptionSession.objects.filter(space=booth(self.site_a, n)).exists()
        )

    def open_session(self) -> ConsumptionSession:
        session = ConsumptionSession.objects.filter(ended_at__isnull=True).first()
        return session or self.floor.session(self.free_booth())


def _none(world: World) -> tuple[dict[str, Any], Any]:
    return {}, None


def _site(world: World) -> tuple[dict[str, Any], Any]:
    return {"slug": world.site_a.slug}, None


def _network(world: World) -> tuple[dict[str, Any], Any]:
    return {"network_id": world.network.pk}, None


def _visit(world: World) -> tuple[dict[str, Any], Any]:
    body = {
        "anonymous": True,
        "planned_route": "inject",
        "planned_substances": ["heroin"],
        "eligibility": ELIGIBLE,
    }
    return {"slug": world.site_a.slug}, body


def _session_start(world: World) -> tuple[dict[str, Any], Any]:
    visit = world.floor.visit()
    body = {"visit_id": visit.pk, "space_id": world.free_booth().pk}
    return {"slug": world.site_a.slug}, body


def _session_end(world: World) -> tuple[dict[str, Any], Any]:
    session = world.open_session()
    return {"slug": world.site_a.slug, "session_id": session.pk}, {}


def _incident(world: World) -> tuple[dict[str, Any], Any]:
    return {"slug": world.site_a.slug}, {"location": "door", "kind": "violence"}


def _supply(world: World) -> tuple[dict[str, Any], Any]:
    return {"slug": world.site_a.slug}, {"item": "foil", "quantity": 1}


@dataclass(frozen=True)
class Op:
    method: str
    body: Body
    statuses: tuple[int, ...]  # in PERSONAS order
    query: tuple[tuple[str, str], ...] = ()


# fmt: off
OPERATIONS: dict[str, Op] = {
    #                                                    anon desk nurse mgr eval admin other
    "api:sites":              Op("GET",  _none,         (401, 200, 200, 200, 200, 200, 200)),
    "api:site":               Op("GET",  _site,         (401, 200, 200, 200, 200, 200, 404)),
    "api:site_indicators":    Op("GET",  _site,         (401, 200, 200, 200, 200, 200, 404),
                                 query=(("period", "2026-03"),)),
    # Network reports are for network-wide roles only (as the network report pages).
    "api:network_indicators": Op("GET",  _network,      (401, 404, 404, 404, 404, 200, 404),
                                 query=(("period", "2026-03"),)),
    "api:visit_create":       Op("POST", _visit,        (401, 201, 201, 201, 403, 201, 404)),
    "api:session_start":      Op("POST", _session_start, (401, 403, 201, 201, 403, 201, 404)),
    "api:session_end":        Op("POST", _session_end,  (401, 403, 201, 201, 403, 201, 404)),
    "api:incident_create":    Op("POST", _incident,     (401, 201, 201, 201, 403, 201, 404)),
    "api:supply_give":        Op("POST", _supply,       (401, 201, 201, 201, 403, 201, 404)),
}
# fmt: on
# Served without a token: the OpenAPI document describes the API and holds no data; the root
# only anchors the paths (404), and any other path is the API's JSON 404.
UNAUTHENTICATED = {"api:openapi-json", "api:api-root", "api:not_found"}

# What an evaluator may call: aggregates only.
EVALUATOR_MAY = {"api:sites", "api:site", "api:site_indicators", "api:network_indicators"}


def api_names() -> set[str]:
    return {f"api:{entry.name}" for entry in urlpatterns if isinstance(entry, URLPattern)}


def test_the_table_covers_every_operation_of_the_api():
    assert set(OPERATIONS) | UNAUTHENTICATED == api_names()


def test_every_operation_in_the_openapi_document_refuses_a_call_without_a_token(site_a):
    """Deny by default, checked from what the API says it serves rather than from the table."""
    document = Api(None).http.get("/api/v1/openapi.json").json()
    checked = 0
    for path, operations in document["paths"].items():
        url = path.replace("{slug}", site_a.slug)
        url = url.replace("{network_id}", "1").replace("{session_id}", "1")
        for method, operation in operations.items():
            assert operation["security"] == [{"TokenAuth": []}], f"{method} {path}"
            response = Api(None).http.generic(method.upper(), url, "{}", "application/json")
            assert response.status_code == 401, f"{method.upper()} {path}"
            checked += 1
    assert checked == len(OPERATIONS)


def test_evaluators_may_use_only_the_aggregate_reads():
    allowed = {
        name for name, op in OPERATIONS.items() if op.statuses[PERSONAS.index("evaluator")] < 400
    }
    assert allowed <= EVALUATOR_MAY


@pytest.fixture
def callers(desk, nurse, manager, evaluator, admin, other_site_worker) -> dict[str, Api]:
    users = {
        "desk": desk,
        "nurse": nurse,
        "manager": manager,
        "evaluator": evaluator,
        "admin": admin,
        "other_site_worker": other_site_worker,
    }
    apis = {persona: Api(token(user)) for persona, user in users.items()}
    apis["anonymous"] = Api(None)
    return apis


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_persona_gets_what_the_table_says(name, callers, site_a, network, manager):
    op = OPERATIONS[name]
    world = World(site_a=site_a, network=network, floor=Floor(site_a, manager))
    world.floor.stock(supply(site_a), 100)
    wrong = []
    for persona, expected in zip(PERSONAS, op.statuses, strict=True):
        kwargs, body = op.body(world)
        caller = callers[persona]
        if op.method == "GET":
            response = caller.get(name, kwargs, **dict(op.query))
        else:
            response = caller.post(name, kwargs, body, key=str(uuid.uuid4()))
        if response.status_code != expected:
            wrong.append(f"  {persona}: expected {expected}, got {response.status_code}")
        if response.status_code >= 400:
            assert set(response.json()) >= {"detail", "code"}, response.content
    assert not wrong, f"{op.method} {name}:\n" + "\n".join(wrong)


def test_a_network_wide_evaluator_reads_network_indicators(site_a, network):
    evaluator = make_user("nel.network.evaluator", (Role.EVALUATOR, network))
    response = Api(token(evaluator)).get(
        "api:network_indicators", {"network_id": network.pk}, period="2026-03"
    )
    assert response.status_code == 200
    assert response.json()["exact"] is False


def test_another_networks_people_do_not_see_the_network(other_network_site, network):
    outsider = make_user("olga.outsider", (Role.ADMIN, other_network_site.network))
    response = Api(token(outsider)).get(
        "api:network_indicators", {"network_id": network.pk}, period="2026-03"
    )
    assert response.status_code == 404


def test_no_token_is_refused_before_the_body_is_read(site_a):
    response = Api(None).post("api:visit_create", {"slug": site_a.slug}, "not even an object")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="saferoom"'


CLIENT_LEVEL_KEYS = {"client", "client_id", "client_code", "visit_id", "session_id", "incident_id"}


def keys_of(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in keys_of(v)}
    if isinstance(data, list):
        return {k for v in data for k in keys_of(v)}
    return set()


def test_an_evaluator_reaches_no_client_level_data_through_any_operation(
    api_evaluator, site_a, network, manager, register
):
    """With clients, visits, a session, an incident and a give-out on record, every operation
    an evaluator may call answers without a client's code or any record's id, and every other
    operation refuses them before looking anything up (no client search is even logged)."""
    floor = Floor(site_a, manager)
    client = register(site_a)
    floor.stock(supply(site_a), 10)
    session = floor.session(booth(site_a, 1), client)
    world = World(site_a=site_a, network=network, floor=floor)
    for name, op in OPERATIONS.items():
        kwargs, body = op.body(world)
        if op.method == "GET":
            response = api_evaluator.get(name, kwargs, **dict(op.query))
            text = response.content.decode()
            assert client.display_code not in text, name
            assert not keys_of(response.json()) & CLIENT_LEVEL_KEYS, name
            assert name in EVALUATOR_MAY
        else:
            if isinstance(body, dict) and "planned_route" in body:
                body = {**body, "anonymous": False, "client_code": client.display_code}
            if isinstance(body, dict) and "item" in body:
                body = {**body, "client_code": client.display_code, "visit_id": session.visit_id}
            response = api_evaluator.post(name, kwargs, body)
            assert response.status_code == 403, name
            assert client.display_code not in response.content.decode()
    assert not AuditEvent.objects.filter(
        action__in=["client.found", "client.search_not_found", "client.viewed"], role="evaluator"
    ).exists()
    # Only the refusals themselves are recorded.
    assert (
        not AuditEvent.objects.filter(actor_label="eve.evaluator")
        .exclude(action="access.refused")
        .exists()
    )
    assert AuditEvent.objects.filter(actor_label="eve.evaluator", action="access.refused").exists()
