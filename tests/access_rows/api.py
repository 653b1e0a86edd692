"""Access-table rows for the api pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py``.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import Row

ROWS: dict[str, Row] = {}


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {}
