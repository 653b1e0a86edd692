"""Access-table rows for the account pages: two-step login, backup codes, your PIN, switching
user on a shared tablet, where you are logged in, and a manager's reset of a colleague's
two-step login or ending of their logins.

The personas here have passed two-step login where their role needs it (tests/conftest.py), so
the code page sends everyone on (302), and setting up an app opens for everyone (for those who
have one, it replaces it). PINs are for the desk and the floor only. Password-only sessions are
held to the code page by tests/accounts/test_two_factor_gate.py, URL by URL."""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, STAFF, Row, page, post_only

# fmt: off
ROWS: dict[str, Row] = {
    #                                       kwargs     anon   desk  nurse  mgr  eval  admin other
    "accounts:security":            page({},           LOGIN,   200, 200,   200, 200,  200,  200),
    "accounts:verify":              page({},           LOGIN,   302, 302,   302, 302,  302,  302),
    "accounts:enrol":               page({},           LOGIN,   200, 200,   200, 200,  200,  200),
    "accounts:backup_codes":        post_only({},      LOGIN,   405, 405,   405, 405,  405,  405),
    "accounts:pin":                 page({},           LOGIN,   200, 200,   403, 403,  403,  200),
    "accounts:switch":              page({},           LOGIN,   200, 200,   200, 200,  200,  200),
    "accounts:staff_two_factor_reset": post_only(STAFF, LOGIN,   403, 403,  405, 403,  405,  404),
    # Where you are logged in: everyone's own; ending a colleague's logins is for managers.
    "accounts:logins":              page({},           LOGIN,   200, 200,   200, 200,  200,  200),
    "accounts:staff_logins_end":    post_only(STAFF,   LOGIN,   403, 403,   405, 403,  405,  404),
}
# fmt: on


def samples(**_: Any) -> dict[str, Any]:
    return {}
