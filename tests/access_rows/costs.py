"""Access-table rows for the costs pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py``. Managers and administrators enter and
correct operating costs; evaluators read the list (costs are aggregate, and an evaluation needs
them) but cannot enter; the desk and the floor get 403.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, SITE, Row, page

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "costs:list":               page(SITE,              LOGIN, 403,  403,   200, 200,  200,  404),
    "costs:enter":              page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {}
