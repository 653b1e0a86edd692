"""The OpenAPI document: served without a token at /api/v1/openapi.json, valid JSON, listing
every operation; the interactive docs page (which would load scripts from a CDN) is off."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client as HttpClient

from tests.api.test_access import OPERATIONS

PATHS = {
    "/api/v1/sites": {"get"},
    "/api/v1/sites/{slug}": {"get"},
    "/api/v1/sites/{slug}/indicators": {"get"},
    "/api/v1/networks/{network_id}/indicators": {"get"},
    "/api/v1/sites/{slug}/visits": {"post"},
    "/api/v1/sites/{slug}/sessions": {"post"},
    "/api/v1/sites/{slug}/sessions/{session_id}/end": {"post"},
    "/api/v1/sites/{slug}/incidents": {"post"},
    "/api/v1/sites/{slug}/supplies-given": {"post"},
}


def document() -> Any:
    response = HttpClient().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def test_the_openapi_document_lists_every_operation(db):
    doc = document()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["version"] == "1"
    assert {path: set(ops) for path, ops in doc["paths"].items()} == PATHS
    assert sum(len(ops) for ops in PATHS.values()) == len(OPERATIONS)
    assert doc["components"]["securitySchemes"] == {
        "TokenAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "srk_…"}
    }


def test_every_create_documents_its_idempotency_key_and_its_refusals(db):
    doc = document()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method != "post":
                continue
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key"], path
            assert {"200", "201", "400", "401", "403", "404", "409", "422"} <= set(
                operation["responses"]
            ), path


def test_choices_are_listed_so_a_client_can_offer_them(db):
    schemas = document()["components"]["schemas"]
    route = schemas["VisitIn"]["properties"]["planned_route"]
    assert route["enum"] == ["inject", "smoke", "snort", "oral"]
    kind = schemas["InterventionIn"]["properties"]["kind"]
    assert "naloxone" in kind["enum"]


def test_the_interactive_docs_page_is_off(db):
    assert HttpClient().get("/api/v1/docs").status_code == 404
