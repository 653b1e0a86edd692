"""The board version: every change the board shows advances it by one, in the same transaction,
so a device polling with the version it has learns "nothing changed" from one query."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from saferoom.floor import actions, board
from saferoom.floor.models import BoardState, Escalation
from tests.floor.board.conftest import assign, at, space
from tests.floor.conftest import AFTERNOON, reason


def test_a_board_nobody_has_touched_is_version_zero_in_one_query(site_a, django_assert_num_queries):
    BoardState.objects.filter(site=site_a).delete()
    with django_assert_num_queries(1):
        assert board.board_version(site_a) == 0


def test_bumping_creates_the_row_then_counts_up(site_a):
    BoardState.objects.filter(site=site_a).delete()
    assert [board.bump_board(site_a) for _ in range(3)] == [1, 2, 3]
    assert board.board_version(site_a) == 3


def test_a_bump_rolled_back_with_its_write_never_happened(site_a):
    before = board.board_version(site_a)

    def write_then_fail() -> None:
        with transaction.atomic():
            board.bump_board(site_a)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert board.board_version(site_a) == before


def _check_in(site_a: Any, register: Any, desk: Any) -> Any:
    return actions.check_in(
        site=site_a,
        client=register(site_a),
        planned_route="inject",
        planned_substances=list(site_a.network.catalogue.filter(code="heroin")),
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"first_time": False, "intoxicated": False},
        by=desk,
        idempotency_key=uuid.uuid4(),
        at=AFTERNOON,
    )


STEPS: dict[str, Callable[[dict[str, Any]], object]] = {
    # The desk's actions: the board shows the queue too.
    "check_in": lambda f: _check_in(f["site_a"], f["register"], f["desk"]),
    "turn_away": lambda f: actions.turn_away(
        site=f["site_a"],
        client=None,
        reason=reason(f["site_a"], "full"),
        by=f["desk"],
        idempotency_key=uuid.uuid4(),
        at=AFTERNOON,
    ),
    "leave_queue": lambda f: actions.leave_queue(visit=f["visit"], by=f["desk"], at=at(2)),
    "check_out": lambda f: actions.check_out(visit=f["visit"], by=f["desk"], at=at(2)),
    "close_open_visits": lambda f: actions.close_open_visits(site=f["site_a"], at=at(2)),
    # The floor's.
    "assign_space": lambda f: assign(f["visit"], "Booth 2", by=f["nurse"]),
    "record_check": lambda f: board.record_check(session=f["session"], by=f["nurse"], at=at(3)),
    "end_session": lambda f: board.end_session(session=f["session"], by=f["nurse"], at=at(3)),
    "finish_clear_down": lambda f: board.finish_clear_down(
        space=space(f["site_a"], "Booth 4"), seat=1, by=f["nurse"], at=at(2)
    ),
    "start_emergency": lambda f: board.start_emergency(
        session=f["session"], by=f["nurse"], at=at(3)
    ),
    "escalate_overdue_checks": lambda f: board.escalate_overdue_checks(site=f["site_a"], at=at(10)),
    "acknowledge_escalation": lambda f: board.acknowledge_escalation(
        escalation=f["escalation"], by=f["nurse"], at=at(11)
    ),
    "set_shift_lead": lambda f: board.set_shift_lead(
        site=f["site_a"], user=f["nurse"], by=f["nurse"]
    ),
}


@pytest.mark.parametrize("step", STEPS)
def test_every_change_advances_the_board_by_one(step, site_a, visit, arrive, register, desk, nurse):
    # A session to check or end, a seat in clear-down, an escalation to acknowledge.
    session = assign(arrive(site_a), "Booth 1", by=nurse)
    cleaned = assign(arrive(site_a), "Booth 4", by=nurse)
    board.end_session(session=cleaned, by=nurse, at=at(1.5))
    escalated = assign(arrive(site_a), "Booth 3", by=nurse, minutes=0)
    board.escalate_overdue_checks(site=site_a, at=at(9))
    fixtures = {
        "site_a": site_a,
        "visit": visit,
        "register": register,
        "desk": desk,
        "nurse": nurse,
        "session": session,
        "escalation": Escalation.objects.get(session=escalated),
    }
    before = board.board_version(site_a)

    STEPS[step](fixtures)

    assert board.board_version(site_a) == before + 1


def test_stops_advance_the_vans_board(van, van_nurse):
    before = board.board_version(van)
    stop = board.open_stop(
        site=van, place="Market Square", by=van_nurse, idempotency_key=uuid.uuid4(), at=at(0)
    )
    assert board.board_version(van) == before + 1
    board.close_stop(stop=stop, by=van_nurse, at=at(60))
    assert board.board_version(van) == before + 2


def test_a_replayed_check_in_changes_nothing_and_does_not_advance(site_a, register, desk):
    client = register(site_a)
    key = uuid.uuid4()
    kwargs = {
        "site": site_a,
        "client": client,
        "planned_route": "inject",
        "planned_substances": list(site_a.network.catalogue.filter(code="heroin")),
        "otherwise_location": "street",
        "would_use_alone": "yes",
        "eligibility": {"first_time": False, "intoxicated": False},
        "by": desk,
        "idempotency_key": key,
        "at": AFTERNOON,
    }
    actions.check_in(**kwargs)
    before = board.board_version(site_a)
    actions.check_in(**kwargs)
    assert board.board_version(site_a) == before


def test_closing_with_nothing_open_does_not_advance(site_a):
    before = board.board_version(site_a)
    assert actions.close_open_visits(site=site_a, at=at(420)) == 0
    assert board.board_version(site_a) == before
