"""Access-table rows for the evaluation pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py`` (import ``page``, ``post_only``, ``SITE``
from there). ``samples()`` gets the objects built so far and returns the new names it adds.

Cost–benefit and capacity planning are for evaluators, managers and administrators: the desk
and the floor get 403, another site's staff 404. Every page is a GET page: its inputs are in
the query. Without inputs (as here) the annex and the XLSX addresses show the cost–benefit or
planning page, where a run is set up.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, SITE, Row, page

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "evaluation:cost_benefit":      page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "evaluation:annex":             page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "evaluation:cost_benefit_xlsx": page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "evaluation:plan":              page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "evaluation:plan_xlsx":         page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {}
