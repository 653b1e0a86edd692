"""Access-table rows for the reports pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py``.

A site's reports (dashboard, printable report, downloads) are for everyone who works at the
site: its staff see exact figures, evaluators suppressed ones (tests/reports). Another site's
staff get 404. Without a ``format`` the download address shows the download page.

A network's reports are for people with a network-level role (manager, evaluator or
administrator across the network): here only the administrator. Everyone with a role at one
site only gets 404, as if the network's reports did not exist.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, SITE, Row, page

NETWORK = {"network": "network"}

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    "reports:dashboard":            page(SITE,          LOGIN, 200,  200,   200, 200,  200,  404),
    "reports:print":                page(SITE,          LOGIN, 200,  200,   200, 200,  200,  404),
    "reports:export":               page(SITE,          LOGIN, 200,  200,   200, 200,  200,  404),
    "network_reports:dashboard":    page(NETWORK,       LOGIN, 404,  404,   404, 404,  200,  404),
    "network_reports:print":        page(NETWORK,       LOGIN, 404,  404,   404, 404,  200,  404),
    "network_reports:export":       page(NETWORK,       LOGIN, 404,  404,   404, 404,  200,  404),
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {"network": network.pk}
