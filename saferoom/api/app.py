"""The JSON API: one NinjaAPI, every operation behind token authentication, errors in one
shape (``saferoom.api.errors``). Its OpenAPI document is served at ``/api/v1/openapi.json``;
the interactive docs page is switched off, because it loads its scripts from a CDN and a site
may have no internet (docs/api.md says how to read the document instead)."""

from __future__ import annotations

from ninja import NinjaAPI

from saferoom.api import errors, views_reads, views_writes
from saferoom.api.auth import TokenAuth

api = NinjaAPI(
    title="saferoom API",
    version="1",
    description=(
        "Indicators for sites and networks, and the records a field client makes (check-in, "
        "sessions, incidents with interventions, supplies given). Send your token as "
        "`Authorization: Bearer <token>`; every create needs an `Idempotency-Key` header "
        "(a UUID). See docs/api.md."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_router("", views_reads.router)
api.add_router("", views_writes.router)
