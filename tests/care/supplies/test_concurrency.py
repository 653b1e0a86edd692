"""Two devices giving the last item at the same moment: exactly one succeeds, the other is told
there is none left, and stock never goes below zero.

On PostgreSQL the race is real (threads, each with its own connection, released together by a
barrier). On SQLite, whose immediate transactions already serialise writers, the conditional
UPDATE the race depends on is tested directly."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from saferoom.care.supplies import actions
from saferoom.care.supplies.models import StockLevel, StockMovement
from saferoom.core.errors import ActionRefused
from tests.care.supplies.conftest import key, make_visit


@pytest.mark.django_db
def test_the_conditional_update_takes_only_what_is_there(site_a, filters, stock):
    stock(site_a, filters, 1)
    level = StockLevel.objects.get(site=site_a, item=filters)
    # Two devices that both saw "1 in stock": the first UPDATE matches the row, the second
    # (quantity >= 1 no longer true) matches nothing.
    assert actions._take(level, 1) is True
    assert actions._take(level, 1) is False
    assert actions.in_stock(site_a, filters) == 0


@pytest.mark.django_db
def test_a_give_out_that_loses_the_race_changes_nothing(site_a, filters, stock, nurse, desk):
    stock(site_a, filters, 1)
    first, second = make_visit(site_a, desk), make_visit(site_a, desk)
    actions.give_supply(
        site=site_a, item=filters, quantity=1, visit=first, by=nurse, idempotency_key=key()
    )
    with pytest.raises(ActionRefused):
        actions.give_supply(
            site=site_a, item=filters, quantity=1, visit=second, by=desk, idempotency_key=key()
        )
    assert list(StockMovement.objects.filter(kind="given").values_list("visit", flat=True)) == [
        first.pk
    ]


@pytest.mark.django_db(transaction=True)
def test_two_devices_giving_the_last_item_at_once_leave_one_winner(
    site_a, filters, stock, nurse, desk
):
    if connection.vendor != "postgresql":
        pytest.skip("a real race needs PostgreSQL's concurrent writers")
    for _round in range(5):
        stock(site_a, filters, 1)
        visits = [make_visit(site_a, desk), make_visit(site_a, desk)]
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def give(visit, by, barrier: threading.Barrier, outcomes: list[str]) -> None:
            try:
                barrier.wait(timeout=10)
                actions.give_supply(
                    site=site_a,
                    item=filters,
                    quantity=1,
                    visit=visit,
                    by=by,
                    idempotency_key=key(),
                )
                outcomes.append("given")
            except ActionRefused as refusal:
                outcomes.append(refusal.code)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=give, args=(visits[0], nurse, barrier, outcomes)),
            threading.Thread(target=give, args=(visits[1], desk, barrier, outcomes)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["given", "not_enough_stock"]
        assert actions.in_stock(site_a, filters) == 0
    assert StockMovement.objects.filter(kind="given").count() == 5
