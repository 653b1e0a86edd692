"""Access-table rows for the checking pages, and the sample objects their kwargs name.

Same columns and helpers as ``tests/access_table.py`` (import ``page``, ``post_only``, ``SITE``
from there). ``samples()`` gets the objects built so far and returns the new names it adds.
"""

from __future__ import annotations

from typing import Any

from tests.access_table import Row

# fmt: off
ROWS: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
}
# fmt: on


def samples(
    *, network: Any, site_a: Any, site_b: Any, desk: Any, built: dict[str, Any]
) -> dict[str, Any]:
    return {}
