"""Access-table rows for the account pages: two-step login, backup codes, your PIN, switching
user on a shared tablet, where you are logged in, a manager's reset of a colleague's two-step
login or ending of their logins, and enrolled tablets (the site's list, revoking one, the public
"Enrol this tablet" page and the page a session on a device that is not one is held on).

The personas here have passed two-step login where their role needs it (tests/conftest.py), so
the code page sends everyone on (302), and setting up an app opens for everyone (for those who
have one, it replaces it). PINs are for the desk and the floor only. Password-only sessions are
held to the code page by tests/accounts/test_two_factor_gate.py, URL by URL, and desk sessions on
a device that is not an enrolled tablet by tests/accounts/test_enrolled_tablets.py."""

from __future__ import annotations

from typing import Any

from tests.access_table import LOGIN, SITE, STAFF, Row, page, post_only, public
from tests.conftest import enrolled_tablet

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
    # Enrolled tablets. Everyone here has their second factor, so the page a session is held
    # on sends them on; the enrolment page is open to the tablet before anyone logs in on it.
    "accounts:tablet_needed":       page({},           LOGIN,   302, 302,   302, 302,  302,  302),
    "accounts:tablet_enrol":        public({},         200,     200, 200,   200, 200,  200,  200),
    "accounts:tablets":             page(SITE,         LOGIN,   403, 403,   200, 403,  200,  404),
    "accounts:tablet_revoke":       post_only({"site": "site_a", "pk": "tablet"},
                                                       LOGIN,   403, 403,   405, 403,  405,  404),
}
# fmt: on


def samples(*, site_a: Any, **_: Any) -> dict[str, Any]:
    tablet, _secret = enrolled_tablet(site_a, "Front desk tablet 1")
    return {"tablet": tablet.pk}
