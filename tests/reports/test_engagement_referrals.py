"""E2 (referrals made), E3 (referral uptake) and E4 (clients engaged) on hand-built referrals,
follow-ups, amendments and services with known answers: every kind listed, the status as it
stood at the report date, and distinct registered clients as a share of U3."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from saferoom.care.referrals import actions as referrals
from saferoom.care.referrals.models import Referral
from saferoom.care.supplies import actions as supplies
from saferoom.clients.codes import new_display_code
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.suppression import RULES
from saferoom.floor.models import Visit
from saferoom.reports import registry
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import Figure, Result, compute_report
from saferoom.reports.scopes import network_scope, site_scope
from saferoom.sites.models import CatalogueItem, Site
from tests.versions import version_of

UTC = dt.UTC
MARCH = parse_period("2026-03")
REPORT_AT = dt.datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
LATER = dt.datetime(2026, 4, 10, 9, 0, tzinfo=UTC)


def march(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=UTC)


def april(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def later() -> Iterator[Any]:
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


@pytest.fixture
def unique_clients(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """U3 stands in with a total the test sets (U3 has its own tests)."""
    totals = {"U3": 0}
    registry.load()

    def u3(ctx: registry.Context) -> Result:
        return Result("U3", figures=(Figure("total", "Unique clients", totals["U3"]),))

    monkeypatch.setitem(
        registry.INDICATORS, "U3", dataclasses.replace(registry.INDICATORS["U3"], compute=u3)
    )
    return totals


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


def target(site: Site, code: str) -> CatalogueItem:
    return CatalogueItem.objects.get(
        network=site.network, site=None, kind="referral_target", code=code
    )


def refer(site: Site, by: User, at: dt.datetime, to: str = "gp", who: Client | None = None) -> Any:
    return referrals.make_referral(
        site=site,
        target=target(site, to),
        urgency="routine",
        client=who or client(site, by),
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
    )


def follow_up(referral: Referral, outcome: str, by: User, at: dt.datetime) -> None:
    referrals.record_follow_up(
        referral=referral,
        outcome=outcome,
        method="phone",
        by=by,
        idempotency_key=uuid.uuid4(),
        next_due=(at + dt.timedelta(days=7)).date() if outcome == "not_yet" else None,
        at=at,
        expected_version=version_of(referral),
    )


def amend_status(referral: Referral, status: str, by: User, at: dt.datetime) -> None:
    referrals.amend_referral(
        referral=referral,
        status=status,
        reason="The service corrected us",
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
        expected_version=version_of(referral),
    )


def result(scope: Any, code: str) -> Result:
    return compute_report(scope, [code]).results[code]


def table(res: Result, key: str) -> dict[str, int]:
    found = next(b for b in res.breakdowns if b.key == key)
    return {
        code: int(row[0] or 0) for (code, _label), row in zip(found.rows, found.values, strict=True)
    }


# --- E2 Referrals made -----------------------------------------------------------------------


def test_referrals_are_counted_by_kind_with_all_nine_kinds_listed(site_a, desk, manager):
    refer(site_a, desk, march(2), "housing_options")
    refer(site_a, desk, march(3), "housing_options")
    refer(site_a, desk, march(4), "drug_treatment")
    moved = refer(site_a, desk, march(5), "gp")
    # Corrected later to a mental health referral: it counts under the kind it has now.
    referrals.amend_referral(
        referral=moved,
        target=target(site_a, "mental_health"),
        reason="Wrong team chosen",
        by=manager,
        idempotency_key=uuid.uuid4(),
        at=march(6),
        expected_version=version_of(moved),
    )
    refer(site_a, desk, dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC), "legal_advice")  # Feb
    refer(site_a, desk, dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "legal_advice")  # April

    res = result(site_scope(site_a, MARCH, now=LATER), "E2")
    assert table(res, "kind") == {
        "housing": 2,
        "drug_treatment": 1,
        "detox_rehab": 0,
        "bbv": 0,
        "sexual_health": 0,
        "mental_health": 1,
        "primary_care": 0,
        "benefits": 0,
        "legal": 0,
    }
    assert res.figure("total").value == 4


def test_a_referral_to_a_target_of_no_listed_kind_gets_its_own_row(site_a, network, desk):
    odd = CatalogueItem.objects.create(
        network=network, kind="referral_target", code="foodbank", label="Food bank"
    )  # category left at "other"
    referrals.make_referral(
        site=site_a,
        target=odd,
        urgency="soon",
        client=client(site_a, desk),
        by=desk,
        idempotency_key=uuid.uuid4(),
        at=march(9),
    )
    res = result(site_scope(site_a, MARCH, now=LATER), "E2")
    assert table(res, "kind")["other"] == 1
    assert len(table(res, "kind")) == 10
    assert res.figure("total").value == 1


# --- E3 Referral uptake ----------------------------------------------------------------------


@pytest.fixture
def uptake(site_a: Site, desk: User, manager: User) -> None:
    """Seven referrals made in March at Riverside, two outside it, with follow-ups and
    corrections before and after the report ran (2 April)."""
    follow_up(refer(site_a, desk, march(3)), "attended", desk, march(10))
    follow_up(refer(site_a, desk, march(5)), "declined", desk, march(12))
    follow_up(refer(site_a, desk, march(6)), "unknown", desk, march(20))
    waiting = refer(site_a, desk, march(7))
    follow_up(waiting, "not_yet", desk, march(14))  # tried, no answer yet: still waiting
    follow_up(refer(site_a, desk, march(8)), "attended", desk, april(5))  # after the report
    corrected_later = refer(site_a, desk, march(9))
    follow_up(corrected_later, "unknown", desk, march(15))
    amend_status(corrected_later, "attended", manager, april(4))  # after the report
    reopened = refer(site_a, desk, march(10))
    follow_up(reopened, "attended", desk, march(11))
    amend_status(reopened, "made", manager, march(25))  # before the report: waiting again
    follow_up(refer(site_a, desk, dt.datetime(2026, 2, 20, tzinfo=UTC)), "attended", desk, march(2))
    refer(site_a, desk, april(1))


def test_uptake_counts_each_referral_under_its_status_on_the_report_date(site_a, uptake):
    res = result(site_scope(site_a, MARCH, now=REPORT_AT), "E3")
    assert table(res, "status") == {"attended": 1, "declined": 1, "unknown": 2, "waiting": 3}
    assert res.figure("total").value == 7
    assert res.figure("known").value == 4
    assert res.figure("attended_of_known").value == pytest.approx(1 / 4)
    assert res.figure("attended_of_all").value == pytest.approx(1 / 7)


def test_uptake_run_after_the_late_follow_ups_counts_them(site_a, uptake):
    res = result(site_scope(site_a, MARCH, now=LATER), "E3")
    assert table(res, "status") == {"attended": 3, "declined": 1, "unknown": 1, "waiting": 2}
    assert res.figure("attended_of_known").value == pytest.approx(3 / 5)
    assert res.figure("attended_of_all").value == pytest.approx(3 / 7)


def test_uptake_has_the_same_total_as_referrals_made(site_a, uptake):
    report = compute_report(site_scope(site_a, MARCH, now=REPORT_AT), ["E2", "E3"])
    assert report.results["E3"].figure("total").value == report.results["E2"].figure("total").value


def test_uptake_shares_are_not_defined_without_referrals(site_a):
    res = result(site_scope(site_a, MARCH, now=LATER), "E3")
    assert res.figure("total").value == 0
    assert res.figure("attended_of_known").value is None
    assert res.figure("attended_of_all").value is None


def test_outside_the_site_a_share_over_a_hidden_count_is_hidden(site_a, uptake):
    shown = publish(compute_report(site_scope(site_a, MARCH, now=REPORT_AT), ["E3"]), RULES["lt10"])
    e3 = shown.results["E3"]
    assert e3.figure("attended").shown.value is None
    assert e3.figure("attended_of_known").shown.value is None
    assert e3.figure("attended_of_all").shown.value is None


def test_uptake_is_counted_in_a_fixed_number_of_queries(site_a, uptake, django_assert_num_queries):
    with django_assert_num_queries(2):  # the count, and nothing changed since
        result(site_scope(site_a, MARCH, now=LATER), "E3")
    with django_assert_num_queries(4):  # and the referrals changed since, replayed
        result(site_scope(site_a, MARCH, now=REPORT_AT), "E3")


# --- E4 Clients engaged ----------------------------------------------------------------------


def serve(site: Site, code: str, by: User, at: dt.datetime, **whom: Any) -> Any:
    return supplies.give_service(
        site=site,
        item=CatalogueItem.objects.get(network=site.network, site=None, kind="service", code=code),
        by=by,
        idempotency_key=uuid.uuid4(),
        at=at,
        **whom,
    )


def test_clients_engaged_are_distinct_registered_clients_with_a_service_or_referral(
    site_a, desk, unique_clients
):
    both = client(site_a, desk)
    serve(site_a, "food", desk, march(3), client=both)
    serve(site_a, "shower", desk, march(4), client=both)
    refer(site_a, desk, march(5), who=both)
    refer(site_a, desk, march(6))  # someone referred only
    voided = serve(site_a, "food", desk, march(7), client=client(site_a, desk))
    supplies.void_service(service=voided, reason="Wrong person", by=desk, at=march(7, 13))
    serve(site_a, "food", desk, dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC), client=both)
    serve(site_a, "food", desk, april(1), client=client(site_a, desk))  # April
    serve(site_a, "food", desk, march(8))  # an anonymous walk-in is not a client
    visitor = client(site_a, desk)
    visit = Visit.objects.create(site=site_a, client=visitor, arrived_at=march(9), created_by=desk)
    serve(site_a, "wound_care", desk, march(9, 13), visit=visit)
    unique_clients["U3"] = 6

    res = result(site_scope(site_a, MARCH, now=LATER), "E4")
    assert res.figure("total").value == 3
    assert res.figure("share_of_u3").value == pytest.approx(0.5)
    assert res.breakdowns == ()


def test_a_network_counts_a_client_once_and_at_each_site_they_were_engaged(
    network, site_a, site_b, desk, unique_clients
):
    both_sites = client(site_a, desk)
    serve(site_a, "food", desk, march(3), client=both_sites)
    refer(site_b, desk, march(4), who=both_sites)
    refer(site_b, desk, march(5))
    unique_clients["U3"] = 0

    res = result(network_scope(network, MARCH, now=LATER), "E4")
    assert res.figure("total").value == 2
    assert res.figure("share_of_u3").value is None  # no unique clients: not defined
    by_site = next(b for b in res.breakdowns if b.key == "site")
    labels = [label for _key, label in by_site.rows]
    counts = [values[0] for values in by_site.values]
    assert dict(zip(labels, counts, strict=True)) == {"Eastgate": 2, "Riverside": 1}
    assert by_site.additive is False


def test_clients_engaged_are_counted_in_one_query(
    network, site_a, site_b, desk, unique_clients, django_assert_num_queries
):
    serve(site_a, "food", desk, march(3), client=client(site_a, desk))
    refer(site_b, desk, march(4))
    scope = network_scope(network, MARCH, now=LATER)
    with django_assert_num_queries(1):
        registry.load()["E4"].compute(registry.Context(scope))
