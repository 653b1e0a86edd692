"""The board snapshot every device renders: each seat's derived state and what the tile shows,
the queue, after-care, escalations and shift lead, in a number of queries that does not grow
with the number of spaces or people."""

from __future__ import annotations

import pytest

from saferoom.floor import board
from saferoom.sites.models import Space
from tests.conftest import make_site
from tests.floor.board.conftest import assign, at, space


def test_the_snapshot_shows_every_seat_in_board_order(site_a, visit, smoker, arrive, nurse):
    assign(visit, "Booth 2", by=nurse)
    board.end_session(session=assign(arrive(site_a), "Booth 3", by=nurse), by=nurse, at=at(5))
    Space.objects.filter(site=site_a, name="Booth 4").update(out_of_service=True)
    assign(smoker, "Smoking room", seat=2, by=nurse)
    waiting = arrive(site_a)

    snapshot = board.board_snapshot(site_a, at(6))

    assert snapshot.version == board.board_version(site_a)
    assert [(v.space.name, [s.state for s in v.seats]) for v in snapshot.spaces] == [
        ("Booth 1", ["free"]),
        ("Booth 2", ["occupied"]),
        ("Booth 3", ["clear_down"]),
        ("Booth 4", ["out_of_service"]),
        ("Smoking room", ["free", "occupied", "free"]),
        ("Recovery", []),
    ]
    assert [v.assignable for v in snapshot.spaces][-2:] == [True, False]
    tile = snapshot.spaces[1].seats[0]
    assert (tile.label, tile.client_code, tile.visit) == (
        "Booth 2",
        visit.client.display_code,
        visit,
    )
    assert (tile.substances, tile.route, tile.route_label) == (["Heroin"], "inject", "Inject")
    assert (tile.started_at, tile.next_check_due_at, tile.check_status) == (at(1), at(6), "due")
    assert not tile.emergency
    assert not tile.escalated
    assert snapshot.spaces[2].seats[0].clear_down_until == at(7)
    assert snapshot.spaces[4].seats[1].label == "Smoking room, seat 2"
    assert snapshot.spaces[4].seats[1].substances == ["Crack cocaine"]
    assert [v.pk for v in snapshot.queue] == [waiting.pk]
    assert len(snapshot.aftercare) == 1
    assert snapshot.aftercare[0].aftercare_started_at == at(5)
    assert (snapshot.count("free"), snapshot.count("occupied")) == (3, 2)
    assert snapshot.stop is None
    assert snapshot.shift_lead is None


def test_a_seat_occupied_when_its_space_went_out_of_service_stays_occupied(site_a, visit, nurse):
    assign(visit, "Booth 1", by=nurse)
    Space.objects.filter(site=site_a, name="Booth 1").update(out_of_service=True)
    assert board.board_snapshot(site_a, at(2)).spaces[0].seats[0].state == "occupied"


def test_seat_state_rules(site_a):
    booth = space(site_a, "Booth 1")
    now = at(10)
    assert board.seat_state(booth, 1, open_session=None, last_clear_down_until=None, now=now) == (
        "free"
    )
    assert board.seat_state(booth, 1, open_session=None, last_clear_down_until=at(11), now=now) == (
        "clear_down"
    )
    assert board.seat_state(booth, 1, open_session=None, last_clear_down_until=now, now=now) == (
        "free"
    )
    booth.out_of_service = True
    assert board.seat_state(booth, 1, open_session=None, last_clear_down_until=at(11), now=now) == (
        "out_of_service"
    )


def busy_site(network, nurse, arrive, *, spaces: int):
    """A site with ``spaces`` booths, every other one occupied (with a check done, one in an
    emergency), some in clear-down, a queue, people in after-care and an escalation."""
    site = make_site(network, f"Busy {spaces}", f"busy-{spaces}")
    for i in range(5, spaces + 1):
        Space.objects.create(site=site, name=f"Booth {i}", kind="booth", sort_order=i)
    booths = list(site.spaces.filter(kind="booth").order_by("sort_order"))
    assert len(booths) == spaces
    from saferoom.core.roles import Role
    from saferoom.sites.models import Membership

    Membership.objects.create(user=nurse, network=network, site=site, role=Role.FLOOR)
    sessions = []
    for index, booth in enumerate(booths):
        if index % 2 == 0:
            sessions.append(board.assign_space(visit=arrive(site), space=booth, by=nurse, at=at(1)))
        elif index % 4 == 1:
            done = board.assign_space(visit=arrive(site), space=booth, by=nurse, at=at(1))
            board.end_session(session=done, by=nurse, at=at(9))
    board.record_check(session=sessions[0], by=nurse, at=at(3))
    board.start_emergency(session=sessions[1], by=nurse, at=at(4))
    board.escalate_overdue_checks(site=site, at=at(10))
    board.set_shift_lead(site=site, user=nurse, by=nurse)
    for _ in range(spaces // 3):
        arrive(site)
    return site


@pytest.mark.parametrize("spaces", [5, 30])
def test_the_snapshot_takes_the_same_few_queries_for_5_or_30_spaces(
    network, nurse, arrive, spaces, django_assert_max_num_queries
):
    site = busy_site(network, nurse, arrive, spaces=spaces)

    with django_assert_max_num_queries(9) as captured:
        snapshot = board.board_snapshot(site, at(10))
        # Everything the page renders is already loaded.
        for view in snapshot.spaces:
            for seat in view.seats:
                _ = (seat.client_code, seat.substances, seat.space.name)
        for visit in snapshot.queue:
            _ = (visit.client, list(visit.planned_substances.all()))
        for visit in snapshot.aftercare:
            _ = visit.client
        for escalation in snapshot.escalations:
            _ = (escalation.session.space.name, escalation.session.visit.client, escalation.to_user)
        _ = snapshot.shift_lead

    assert len(captured.captured_queries) == 9
    assert snapshot.count("occupied") == (spaces + 1) // 2
    assert snapshot.escalations
    assert snapshot.emergencies
    assert snapshot.queue
    assert snapshot.aftercare
