"""Who may open which page: one row per URL name, one column per persona.

``tests/test_access_table.py`` walks every URL pattern the project defines and fails when a
URL has no row here (or a row names a URL that no longer exists), then requests each URL as
each persona and compares the status with this table. Adding a page means adding its row:
decide who may see it, write it down, and the test holds the page to it.

Columns (the personas of ``tests/conftest.py``; all work at site A "riverside" unless said):

    anon   not logged in
    desk   front desk at site A
    nurse  floor (nurse or harm-reduction worker) at site A
    mgr    manager at site A
    eval   evaluator at site A (aggregates only, never a client-level page)
    admin  administrator of the whole network
    other  front desk at site B: site A's pages answer 404, as if they did not exist

Values: an HTTP status, or ``LOGIN`` for "302 to the login page". POST-only URLs answer 405 to
a GET from anyone allowed to use them (``post_only(...)`` rows).

Sample objects (``kwargs`` name them; ``tests/test_access_table.py`` makes them):

    site_a          site A's slug
    client          a client registered at site A, with a waiting visit there
    banned_client   another client of site A, banned at site A
    visit           that waiting visit at site A
    space           site A's first booth
    catalogue_kind  the substances list ("substances")
    catalogue_item  a substance of site A's network (network-wide)
    site_item       a substance only site A offers
    ban             the ban at site A
    staff_user      the desk persona's account
    session         a consumption session at site A (another client, in Booth 4), in an emergency
    membership      the desk persona's membership at site A
    opening_hours   site A's first opening-hours row
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Ban, Client
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.sites.models import CatalogueItem

PERSONAS = ("anonymous", "desk", "nurse", "manager", "evaluator", "admin", "other_site_worker")

LOGIN = "login"  # 302 to the login page
Status = int | str


@dataclass(frozen=True)
class Row:
    kwargs: dict[str, str]
    statuses: dict[str, Status]
    public: bool = False
    post_only: bool = False
    note: str = field(default="", compare=False)


def _row(
    kwargs: dict[str, str],
    statuses: tuple[Status, ...],
    *,
    public: bool = False,
    post_only: bool = False,
) -> Row:
    if len(statuses) != len(PERSONAS):
        raise ValueError(f"{len(statuses)} statuses for {len(PERSONAS)} personas: {statuses}")
    return Row(dict(kwargs), dict(zip(PERSONAS, statuses, strict=True)), public, post_only)


def page(kwargs: dict[str, str], *statuses: Status) -> Row:
    """A page people open: statuses of a GET, in PERSONAS order."""
    return _row(kwargs, statuses)


def post_only(kwargs: dict[str, str], *statuses: Status) -> Row:
    """A URL that only takes POST: allowed personas get 405 from a GET."""
    return _row(kwargs, statuses, post_only=True)


def public(kwargs: dict[str, str], *statuses: Status, post: bool = False) -> Row:
    """No login needed (the view is decorated ``@public``)."""
    return _row(kwargs, statuses, public=True, post_only=post)


SITE = {"site": "site_a"}
CLIENT = {"site": "site_a", "pk": "client"}
BANNED_CLIENT = {"site": "site_a", "pk": "banned_client"}
VISIT = {"site": "site_a", "pk": "visit"}
SPACE = {"site": "site_a", "pk": "space"}
CATALOGUE = {"site": "site_a", "kind": "catalogue_kind"}
SITE_ITEM = {"site": "site_a", "kind": "catalogue_kind", "pk": "site_item"}
STAFF = {"site": "site_a", "pk": "staff_user"}
SESSION = {"site": "site_a", "pk": "session"}

# fmt: off
ACCESS_TABLE: dict[str, Row] = {
    #                                     kwargs          anon   desk  nurse  mgr  eval  admin other
    # --- core: logging in, the start page, health -------------------------------------------
    "login":                    public({},              200,   302,  302,   302, 302,  302,  302),
    "logout":                   public({},              405,   405,  405,   405, 405,  405,  405,
                                       post=True),
    "health":                   public({},              200,   200,  200,   200, 200,  200,  200),
    # A desk worker at one site goes straight to their queue.
    "home":                     page({},                LOGIN, 302,  200,   200, 200,  200,  302),
    "password_change":          page({},                LOGIN, 200,  200,   200, 200,  200,  200),

    # --- clients: find, register, the record, intake; bans and merges are for managers -------
    "clients:find":             page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "clients:register":         page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "clients:detail":           page(CLIENT,            LOGIN, 200,  200,   200, 403,  200,  404),
    "clients:intake":           page(CLIENT,            LOGIN, 200,  200,   200, 403,  200,  404),
    "clients:ban_new":          page(CLIENT,            LOGIN, 403,  403,   200, 403,  200,  404),
    "clients:ban_lift":         page({**BANNED_CLIENT, "ban": "ban"},
                                                        LOGIN, 403,  403,   200, 403,  200,  404),
    "clients:merge":            page(CLIENT,            LOGIN, 403,  403,   200, 403,  200,  404),

    # --- the desk: queue, check-in, turn-away, ending a visit --------------------------------
    "floor:queue":              page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "floor:checkin":            page({"site": "site_a", "client": "client"},
                                                        LOGIN, 200,  200,   200, 403,  200,  404),
    # Site A allows anonymous visits (tests/conftest.py).
    "floor:checkin_anonymous":  page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "floor:turnaway":           page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "floor:leave_queue":        post_only(VISIT,        LOGIN, 405,  405,   405, 403,  405,  404),
    "floor:check_out":          post_only(VISIT,        LOGIN, 405,  405,   405, 403,  405,  404),

    # --- the floor board: floor staff, managers and administrators act. The desk may look at
    # the board, its handover and an emergency page (read-only: no buttons, its POSTs get 403).
    # The stop log is for the people who run the floor. Ids of the actions go in the POST body.
    "board:board":              page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    # Opened in a browser (no poll header) the poll sends you to the board itself.
    "board:poll":               page(SITE,              LOGIN, 302,  302,   302, 403,  302,  404),
    "board:handover":           page(SITE,              LOGIN, 200,  200,   200, 403,  200,  404),
    "board:emergency_view":     page(SESSION,           LOGIN, 200,  200,   200, 403,  200,  404),
    # Site A is a fixed site: the page says stops are for mobile units.
    "board:stops":              page(SITE,              LOGIN, 403,  200,   200, 403,  200,  404),
    "board:assign":             post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:next_free":          post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:check":              post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:end":                post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:cleaned":            post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:checkout":           post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:emergency":          post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:shift_lead":         post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:ack":                post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),
    "board:stop_close":         post_only(SITE,         LOGIN, 403,  405,   405, 403,  405,  404),

    # --- site settings: managers and administrators; network settings: administrators -------
    "sites:settings":           page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:rules":              page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:hours":              page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:spaces":             page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:space_new":          page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:space_edit":         page(SPACE,             LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:space_out_of_service": post_only(SPACE,      LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:space_return":       post_only(SPACE,        LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:catalogue":          page(CATALOGUE,         LOGIN, 403,  403,   200, 403,  200,  404),
    # A site's own entry; network-wide entries are for administrators (tests/sites).
    "sites:catalogue_edit":     page(SITE_ITEM,         LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:catalogue_retire":   post_only(SITE_ITEM,    LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:catalogue_restore":  post_only(SITE_ITEM,    LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:network":            page(SITE,              LOGIN, 403,  403,   403, 403,  200,  404),
    "sites:staff":              page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:staff_new":          page(SITE,              LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:staff_add_existing": post_only(SITE,         LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:staff_edit":         page(STAFF,             LOGIN, 403,  403,   200, 403,  200,  404),
    "sites:staff_password":     post_only(STAFF,        LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:staff_deactivate":   post_only(STAFF,        LOGIN, 403,  403,   405, 403,  405,  404),
    "sites:staff_reactivate":   post_only(STAFF,        LOGIN, 403,  403,   405, 403,  405,  404),
}
# fmt: on


def build_samples(*, network: Any, site_a: Any, site_b: Any, desk: Any) -> dict[str, Any]:
    """Make the sample objects the table's kwargs name; returns name -> URL value."""
    now = timezone.now()

    def client(year: int) -> Client:
        return Client.objects.create(
            network=network,
            display_code=new_display_code(),
            linkage_hash=f"{year:064d}",
            scheme=network.client_code_scheme,
            gender="not_stated",
            year_of_birth=year,
            registered_at=now - dt.timedelta(days=30),
            registered_site=site_a,
            registered_by=desk,
        )

    regular = client(1985)
    banned = client(1990)
    visit = Visit.objects.create(site=site_a, client=regular, arrived_at=now, created_by=desk)
    ban = Ban.objects.create(
        client=banned,
        site=site_a,
        reason="violence",
        starts_at=now - dt.timedelta(days=1),
        expires_at=now + dt.timedelta(days=30),
        set_by=desk,
        set_at=now - dt.timedelta(days=1),
    )
    in_space = client(1979)
    occupying = Visit.objects.create(
        site=site_a,
        client=in_space,
        arrived_at=now - dt.timedelta(minutes=10),
        state=Visit.State.IN_SPACE,
        planned_route="inject",
        created_by=desk,
    )
    session = ConsumptionSession.objects.create(
        site=site_a,
        visit=occupying,
        space=site_a.spaces.get(name="Booth 4"),
        seat=1,
        route="inject",
        started_at=now - dt.timedelta(minutes=8),
        started_by=desk,
        check_interval_minutes=5,
        next_check_due_at=now - dt.timedelta(minutes=3),
        emergency_at=now - dt.timedelta(minutes=1),
        emergency_by=desk,
    )
    site_item = CatalogueItem.objects.create(
        network=network, site=site_a, kind="substance", code="nitazene", label="Nitazene"
    )
    built = {
        "site_a": site_a.slug,
        "site_b": site_b.slug,
        "client": regular.pk,
        "banned_client": banned.pk,
        "visit": visit.pk,
        "space": site_a.spaces.all()[0].pk,
        "catalogue_item": CatalogueItem.objects.filter(network=network, site=None)[0].pk,
        "catalogue_kind": "substances",
        "site_item": site_item.pk,
        "ban": ban.pk,
        "staff_user": desk.pk,
        "membership": desk.memberships.get(site=site_a).pk,
        "opening_hours": site_a.opening_hours.all()[0].pk,
        "session": session.pk,
    }
    for area in AREAS:
        built.update(
            area.samples(network=network, site_a=site_a, site_b=site_b, desk=desk, built=built)
        )
    return built


# Each area keeps its rows and samples in its own module (tests/access_rows/), imported last
# because those modules use the helpers above.
from tests.access_rows import (  # noqa: E402
    accounts,
    api,
    checking,
    costs,
    evaluation,
    governance,
    incidents,
    referrals,
    reports,
    returns,
    security,
    supplies,
)

AREAS = (
    incidents,
    supplies,
    referrals,
    checking,
    evaluation,
    reports,
    returns,
    costs,
    api,
    accounts,
    governance,
    security,
)
for _area in AREAS:
    ACCESS_TABLE.update(_area.ROWS)
