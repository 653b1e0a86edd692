"""The JSON API fuzzed from its own OpenAPI document (schemathesis, run in-process through
WSGI): whatever a client sends, no answer is a server error, every answer matches the document
(status, content type, body), and a refused request writes nothing.

A fixed budget of examples per operation, derandomised, so it runs the same way every time in
CI. The token is a manager's at Riverside, so that valid requests reach the actions."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from saferoom.care.supplies.models import StockMovement
from saferoom.clients.models import Client
from saferoom.core.models import IdempotencyKey
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents.models import Incident, Intervention
from tests.api.conftest import Api, afternoon, api_manager, floor_a  # noqa: F401 - fixtures
from tests.floor.conftest import client_a, register  # noqa: F401 - fixtures

RECORDS = (Visit, ConsumptionSession, Incident, Intervention, StockMovement, Client, IdempotencyKey)


_django = get_wsgi_application()


def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """saferoom's WSGI application, without closing the database connection at the end of each
    request (as Django's test client does): the test's transaction holds the personas."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        answer = _django(environ, start_response)
        body = b"".join(answer)
        answer.close()
        return [body]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# The document is served without a token and reads nothing from the database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def records() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in RECORDS}


@pytest.fixture
def working_site(floor_a: Any, site_a: Any, client_a: Any) -> Any:  # noqa: F811
    """Riverside with a waiting visit, a session in a booth, and stock to give out."""
    from tests.api.conftest import booth, supply

    floor_a.visit(client_a)
    floor_a.session(booth(site_a, 1))
    floor_a.stock(supply(site_a), 50)
    return site_a


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_a_refusal_writes_nothing(
    case: Any,
    api_manager: Api,  # noqa: F811 - the fixture
    working_site: Any,
) -> None:
    if "slug" in case.path_parameters:
        case.path_parameters["slug"] = working_site.slug
    before = records()
    response = case.call(headers={"Authorization": f"Bearer {api_manager.token}"})
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    if response.status_code >= 400:
        assert records() == before, (response.status_code, response.text)


@pytest.mark.parametrize(
    "path", ["/api/v1/networks/null,null/indicators", "/api/v1/sites/x/visits/%00", "/api/v1/no"]
)
def test_an_unknown_api_path_is_the_apis_own_json_404(client: Any, path: str) -> None:
    for response in (client.get(path), client.post(path, "{}", content_type="application/json")):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "not_found"
