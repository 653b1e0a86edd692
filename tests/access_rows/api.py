"""Access-table rows for the JSON API (/api/v1/), and the sample objects their kwargs name.

The API authenticates every call itself, with a token (``Authorization: Bearer …``), never
with the session cookie these personas log in with: so its views are public to the
middleware, and here every operation answers 401 to everyone — a logged-in browser reaches
nothing through the API. Operations that only take POST answer 405 to a GET before anything
else. The OpenAPI document is served to anyone (it holds no data); the API's root is a 404.

Who may do what *with a token* is the API's own table, in ``tests/api/test_access.py``: every
operation × persona (no token 401, another site 404, a refused role 403).
"""

from __future__ import annotations

from typing import Any

from tests.access_table import Row, public

SITE_API = {"slug": "site_a"}
NETWORK_API = {"network_id": "api_network"}
SESSION_API = {"slug": "site_a", "session_id": "session"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                      kwargs       anon desk nurse mgr eval admin other
    "api:openapi-json":         public({},              200, 200, 200, 200, 200, 200, 200),
    "api:api-root":             public({},              404, 404, 404, 404, 404, 404, 404),
    "api:not_found":            public({"rest": "api_no_such_path"},
                                                        404, 404, 404, 404, 404, 404, 404),
    "api:sites":                public({},              401, 401, 401, 401, 401, 401, 401),
    "api:site":                 public(SITE_API,        401, 401, 401, 401, 401, 401, 401),
    "api:site_indicators":      public(SITE_API,        401, 401, 401, 401, 401, 401, 401),
    "api:network_indicators":   public(NETWORK_API,     401, 401, 401, 401, 401, 401, 401),
    "api:visit_create":         public(SITE_API,        405, 405, 405, 405, 405, 405, 405,
                                       post=True),
    "api:session_start":        public(SITE_API,        405, 405, 405, 405, 405, 405, 405,
                                       post=True),
    "api:session_end":          public(SESSION_API,     405, 405, 405, 405, 405, 405, 405,
                                       post=True),
    "api:incident_create":      public(SITE_API,        405, 405, 405, 405, 405, 405, 405,
                                       post=True),
    "api:supply_give":          public(SITE_API,        405, 405, 405, 405, 405, 405, 405,
                                       post=True),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {"api_network": network.pk, "api_no_such_path": "networks/one/indicators"}
