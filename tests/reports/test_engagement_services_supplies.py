"""E1 (services on site) and E5 (supplies given out) on hand-built records with known answers:
the site's local month, voided services and reversed give-outs left out as at the report's
moment, every item in use listed (zeros too), and a network across two time zones."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from saferoom.care.supplies import actions as supplies
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.suppression import RULES
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import Result, compute_report
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import CatalogueItem, Network, Site

UTC = dt.UTC
MARCH = parse_period("2026-03")
# The report is run on 2 April; the clock of the test (when late corrections are made) is later.
REPORT_AT = dt.datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
LATER = dt.datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
# Local midnights in London: 1 March is GMT, 1 April is BST (clocks went forward on 29 March).
LAST_FEB_EVENING = dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC)  # 28 Feb in London
FIRST_MARCH_MINUTE = dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 1 March in London
FIRST_APRIL_HOUR = dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 00:30 BST, 1 April in London
MID_MARCH = dt.datetime(2026, 3, 15, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def later() -> Iterator[Any]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


def item(network: Network, kind: str, code: str) -> CatalogueItem:
    return CatalogueItem.objects.get(network=network, site=None, kind=kind, code=code)


def client(site: Site, by: User) -> Client:
    return Client.objects.create(
        network=site.network,
        display_code=new_display_code(),
        linkage_hash=uuid.uuid4().hex * 2,
        scheme=site.network.client_code_scheme,
        gender="not_stated",
        year_of_birth=1985,
        registered_at=dt.datetime(2026, 1, 5, 12, tzinfo=UTC),
        registered_site=site,
        registered_by=by,
    )


def result(scope: Any, code: str) -> Result:
    return compute_report(scope, [code]).results[code]


def table(res: Result, key: str) -> dict[str, int]:
    found = next(b for b in res.breakdowns if b.key == key)
    return {
        code: int(row[0] or 0) for (code, _label), row in zip(found.rows, found.values, strict=True)
    }


# --- E1 Services on site ---------------------------------------------------------------------


def give(site: Site, code: str, by: User, at: dt.datetime, who: Client | None = None) -> Any:
    return supplies.give_service(
        site=site,
        item=item(site.network, "service", code),
        client=who,
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
    )


def test_services_count_in_the_sites_local_month_and_voided_ones_are_left_out(
    site_a, desk, manager
):
    someone = client(site_a, desk)
    give(site_a, "wound_care", desk, FIRST_MARCH_MINUTE, someone)
    give(site_a, "wound_care", desk, MID_MARCH)  # an anonymous walk-in counts too
    give(site_a, "food", desk, LAST_FEB_EVENING)  # February in London
    give(site_a, "food", desk, FIRST_APRIL_HOUR)  # April in London (BST)
    shower = give(site_a, "shower", desk, MID_MARCH)
    supplies.void_service(
        service=shower, reason="Wrong person", by=desk, at=MID_MARCH + dt.timedelta(hours=1)
    )
    laundry = give(site_a, "laundry", desk, MID_MARCH)
    # Marked void after the report ran: it counted then, and does not now.
    supplies.void_service(
        service=laundry, reason="Recorded twice", by=manager, at=dt.datetime(2026, 4, 5, tzinfo=UTC)
    )

    then = result(site_scope(site_a, MARCH, now=REPORT_AT), "E1")
    assert then.figure("total").value == 3
    assert table(then, "service") == {
        "wound_care": 2,
        "bbv_test": 0,
        "sexual_health": 0,
        "shower": 0,
        "laundry": 1,
        "clothing": 0,
        "food": 0,
        "counselling": 0,
        "naloxone_training": 0,
    }

    now = result(site_scope(site_a, MARCH, now=LATER), "E1")
    assert now.figure("total").value == 2
    assert table(now, "service")["laundry"] == 0


def test_a_retired_service_used_in_the_period_keeps_its_row_and_an_unused_one_goes(
    site_a, network, desk
):
    give(site_a, "clothing", desk, MID_MARCH)
    CatalogueItem.objects.filter(network=network, code__in=["clothing", "counselling"]).update(
        active=False
    )
    own = CatalogueItem.objects.create(
        network=network, site=site_a, kind="service", code="haircut", label="Haircut", sort_order=99
    )
    supplies.give_service(
        site=site_a, item=own, by=desk, idempotency_key=uuid.uuid4(), at=MID_MARCH
    )

    res = result(site_scope(site_a, MARCH, now=LATER), "E1")
    counts = table(res, "service")
    assert counts["clothing"] == 1
    assert counts["haircut"] == 1
    assert "counselling" not in counts
    assert res.figure("total").value == sum(counts.values()) == 2


def test_a_network_counts_each_site_in_its_own_time_zone(network, site_a, site_b, desk):
    site_b.time_zone = "Europe/Berlin"
    site_b.save(update_fields=["time_zone"])
    desk_b = User.objects.create_user(username="bo.desk", password="x" * 20)
    # 23:30 UTC on 28 February is still February in London and already March in Berlin.
    give(site_a, "food", desk, LAST_FEB_EVENING)
    give(site_b, "food", desk_b, LAST_FEB_EVENING)
    # 23:30 UTC on 31 March is April in both (BST and CEST).
    give(site_b, "food", desk_b, FIRST_APRIL_HOUR)
    give(site_a, "shower", desk, MID_MARCH)

    res = result(network_scope(network, MARCH, now=LATER), "E1")
    assert table(res, "service")["food"] == 1
    assert table(res, "service")["shower"] == 1
    assert res.figure("total").value == 2


def test_a_sites_own_entry_with_a_network_code_is_one_row_in_a_network_report(
    network, site_a, site_b, desk
):
    own = CatalogueItem.objects.create(
        network=network, site=site_b, kind="service", code="shower", label="Shower (Eastgate)"
    )
    supplies.give_service(
        site=site_b, item=own, by=desk, idempotency_key=uuid.uuid4(), at=MID_MARCH
    )
    give(site_a, "shower", desk, MID_MARCH)

    res = result(network_scope(network, MARCH, now=LATER), "E1")
    table_ = next(b for b in res.breakdowns if b.key == "service")
    assert [label for code, label in table_.rows if code == "shower"] == ["Shower"]
    assert table(res, "service")["shower"] == 2


def test_services_are_counted_in_a_fixed_number_of_queries(
    site_a, site_b, network, desk, django_assert_num_queries
):
    for code in ("food", "shower", "wound_care", "laundry"):
        give(site_a, code, desk, MID_MARCH)
    scope = network_scope(network, MARCH, now=LATER)
    with django_assert_num_queries(2):  # the counts, and the list of services
        result(scope, "E1")


def test_outside_the_site_small_service_counts_are_hidden_and_the_headline_is_the_tables(
    site_a, desk
):
    for _ in range(12):
        give(site_a, "food", desk, MID_MARCH)
    for _ in range(3):
        give(site_a, "shower", desk, MID_MARCH)
    report = compute_report(site_scope(site_a, MARCH, now=LATER), ["E1"])

    shown = publish(report, RULES["lt10"]).results["E1"]
    services = shown.breakdown("service")
    cells = {code: services.cells[i][0] for i, (code, _label) in enumerate(services.rows)}
    assert cells["shower"].text == "<10"
    assert cells["food"].hidden == "secondary"  # else 15 − 12 would give the showers away
    assert shown.figure("total").shown == services.total

    exact = publish(report, None).results["E1"]
    assert exact.figure("total").shown.value == 15


# --- E5 Supplies given out -------------------------------------------------------------------


def stock(site: Site, by: User, *codes: str) -> None:
    for code in codes:
        supplies.receive_stock(
            site=site,
            item=item(site.network, "supply", code),
            quantity=100,
            by=by,
            idempotency_key=uuid.uuid4(),
            at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        )


def give_out(site: Site, code: str, n: int, by: User, at: dt.datetime) -> Any:
    return supplies.give_supply(
        site=site,
        item=item(site.network, "supply", code),
        quantity=n,
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
    )


def reverse(movement: Any, by: User, at: dt.datetime) -> None:
    supplies.reverse_give_out(
        movement=movement, reason="Recorded in error", by=by, idempotency_key=uuid.uuid4(), at=at
    )


def test_supplies_are_units_given_in_the_month_net_of_reversed_give_outs(site_a, desk):
    stock(site_a, desk, "injecting_kit", "foil", "naloxone_nasal", "pipe")
    give_out(site_a, "injecting_kit", 3, desk, FIRST_MARCH_MINUTE)
    give_out(site_a, "injecting_kit", 4, desk, LAST_FEB_EVENING)  # February in London
    give_out(site_a, "naloxone_nasal", 1, desk, FIRST_APRIL_HOUR)  # April in London
    wrong = give_out(site_a, "foil", 5, desk, MID_MARCH)
    reverse(wrong, desk, dt.datetime(2026, 4, 1, 12, tzinfo=UTC))  # before the report ran
    late = give_out(site_a, "pipe", 2, desk, MID_MARCH)
    reverse(late, desk, dt.datetime(2026, 4, 6, 12, tzinfo=UTC))  # after it ran

    then = result(site_scope(site_a, MARCH, now=REPORT_AT), "E5")
    units = table(then, "item")
    assert units["injecting_kit"] == 3
    assert units["foil"] == 0
    assert units["pipe"] == 2
    assert units["naloxone_nasal"] == 0
    assert units["sharps_bin"] == 0  # every supply in use is listed
    assert len(units) == CatalogueItem.objects.filter(kind="supply", active=True).count()
    assert then.figure("total").value == 5

    now = result(site_scope(site_a, MARCH, now=LATER), "E5")
    assert table(now, "item")["pipe"] == 0
    assert now.figure("total").value == 3


def test_supplies_of_another_site_count_only_in_the_network(network, site_a, site_b, desk):
    stock(site_a, desk, "foil")
    stock(site_b, desk, "foil")
    give_out(site_a, "foil", 2, desk, MID_MARCH)
    give_out(site_b, "foil", 7, desk, MID_MARCH)

    assert result(site_scope(site_a, MARCH, now=LATER), "E5").figure("total").value == 2
    assert result(network_scope(network, MARCH, now=LATER), "E5").figure("total").value == 9
