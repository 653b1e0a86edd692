"""Access-table rows for the returns pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py``.

Returns are aggregate figures for the people who send and read them: managers and
administrators (exact figures) and evaluators (suppressed). The desk and the floor get 403;
another site's people 404. The CSV and XLSX answer the same as the page.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, SITE, Row, page

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "returns:index":                page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:health_canada":        page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:health_canada_csv":    page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:health_canada_xlsx":   page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:thistle":              page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:thistle_csv":          page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:thistle_xlsx":         page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:nrw":                  page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:nrw_csv":              page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
    "returns:nrw_xlsx":             page(SITE,          LOGIN, 403,  403,   200, 200,  200,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {}
