"""A mobile unit's stop log: where the van stood, opened and closed when. One stop is open at a
time; check-in at a van is counted at its open stop and waits until there is one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from saferoom.clients.models import Client
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.floor import actions, board
from saferoom.floor.models import MobileStop, Visit
from saferoom.sites.models import Site
from tests.conftest import login
from tests.floor.board.conftest import at, audits
from tests.floor.conftest import AFTERNOON, checkin_form, reason, substance


def open_stop(site: Site, by: User, place: str = "Market Square", **kwargs: Any) -> MobileStop:
    kwargs.setdefault("idempotency_key", uuid.uuid4())
    kwargs.setdefault("at", at(-30))
    return board.open_stop(site=site, place=place, by=by, **kwargs)


def test_the_van_opens_a_stop(van, van_nurse):
    version = board.board_version(van)

    stop = open_stop(van, van_nurse, place="  Market Square  ", note="by the church")

    assert (stop.site, stop.place, stop.note) == (van, "Market Square", "by the church")
    assert (stop.opened_at, stop.opened_by, stop.closed_at) == (at(-30), van_nurse, None)
    assert audits("stop.opened") == 1
    assert board.board_version(van) == version + 1
    assert board.board_snapshot(van, at(0)).stop == stop


def test_opening_the_same_stop_twice_opens_it_once(van, van_nurse):
    key = uuid.uuid4()
    first = open_stop(van, van_nurse, idempotency_key=key)
    again = open_stop(van, van_nurse, idempotency_key=key)
    assert first == again
    assert MobileStop.objects.count() == 1
    assert audits("stop.opened") == 1


def test_the_same_form_sent_with_another_place_is_refused(van, van_nurse):
    key = uuid.uuid4()
    open_stop(van, van_nurse, idempotency_key=key)
    with pytest.raises(ActionRefused) as refusal:
        open_stop(van, van_nurse, place="Station car park", idempotency_key=key)
    assert refusal.value.code == "key_reused"


def test_only_one_stop_is_open_at_a_time(van, van_nurse):
    open_stop(van, van_nurse)
    with pytest.raises(ActionRefused) as refusal:
        open_stop(van, van_nurse, place="Station car park", at=at(-10))
    assert refusal.value.code == "stop_open"
    assert refusal.value.message == (
        "The unit is already open at Market Square (since 13:30). Close that stop first."
    )
    assert MobileStop.objects.count() == 1


def test_a_fixed_site_keeps_no_stops(site_a, nurse):
    with pytest.raises(ActionRefused) as refusal:
        open_stop(site_a, nurse)
    assert refusal.value.code == "not_mobile"
    assert (
        refusal.value.message == "Riverside is a fixed site: stops are only kept for mobile units."
    )
    assert not MobileStop.objects.exists()


@pytest.mark.parametrize(
    ("place", "note", "code"),
    [
        ("", "", "bad_place"),
        ("   ", "", "bad_place"),
        ("x" * 121, "", "bad_place"),
        ("Market Square", "n" * 201, "bad_note"),
    ],
)
def test_a_stop_needs_a_place_of_sensible_length(van, van_nurse, place, note, code):
    with pytest.raises(ActionRefused) as refusal:
        open_stop(van, van_nurse, place=place, note=note)
    assert refusal.value.code == code
    assert not MobileStop.objects.exists()


def test_closing_a_stop_records_when_and_who_and_allows_the_next(van, van_nurse):
    stop = open_stop(van, van_nurse)
    version = board.board_version(van)

    closed = board.close_stop(stop=stop, by=van_nurse, at=at(120))

    assert (closed.closed_at, closed.closed_by) == (at(120), van_nurse)
    assert audits("stop.closed") == 1
    assert board.board_version(van) == version + 1
    assert board.board_snapshot(van, at(121)).stop is None
    assert open_stop(van, van_nurse, place="Station car park", at=at(150)).place == (
        "Station car park"
    )


def test_closing_a_stop_twice_is_refused(van, van_nurse):
    stop = open_stop(van, van_nurse)
    board.close_stop(stop=stop, by=van_nurse, at=at(120))
    with pytest.raises(ActionRefused) as refusal:
        board.close_stop(stop=stop, by=van_nurse, at=at(130))
    assert refusal.value.code == "already_closed"
    assert refusal.value.message == "The stop at Market Square was already closed at 16:00."
    stop.refresh_from_db()
    assert stop.closed_at == at(120)


def test_a_stop_cannot_close_before_it_opened(van, van_nurse):
    stop = open_stop(van, van_nurse)
    with pytest.raises(ActionRefused) as refusal:
        board.close_stop(stop=stop, by=van_nurse, at=at(-40))
    assert refusal.value.code == "bad_time"


def check_in_at(site: Site, client: Client, by: User) -> Visit:
    return actions.check_in(
        site=site,
        client=client,
        planned_route="inject",
        planned_substances=[substance(site)],
        otherwise_location="street",
        would_use_alone="yes",
        eligibility={"first_time": False, "intoxicated": False},
        by=by,
        idempotency_key=uuid.uuid4(),
        at=AFTERNOON,
    )


def test_check_in_at_the_van_is_counted_at_its_open_stop(van, van_nurse, register):
    stop = open_stop(van, van_nurse)
    visit = check_in_at(van, register(van), van_nurse)
    assert visit.stop == stop


def test_check_in_at_the_van_waits_for_a_stop(van, van_nurse, register):
    client = register(van)
    with pytest.raises(ActionRefused) as refusal:
        check_in_at(van, client, van_nurse)
    assert refusal.value.code == "no_stop"
    assert refusal.value.message.startswith("Open a stop first")
    assert not Visit.objects.exists()
    closed = open_stop(van, van_nurse)
    board.close_stop(stop=closed, by=van_nurse, at=at(-1))
    with pytest.raises(ActionRefused):
        check_in_at(van, client, van_nurse)


def test_a_turn_away_at_the_van_is_counted_at_its_stop(van, van_nurse):
    stop = open_stop(van, van_nurse)
    visit = actions.turn_away(
        site=van,
        client=None,
        reason=reason(van, "full"),
        by=van_nurse,
        idempotency_key=uuid.uuid4(),
        at=AFTERNOON,
    )
    assert visit.stop == stop


def test_check_in_at_a_fixed_site_needs_no_stop(site_a, desk, register):
    assert check_in_at(site_a, register(site_a), desk).stop is None


def test_the_desk_at_the_van_is_told_to_open_a_stop_first(van, van_nurse, register):
    client = register(van)
    url = reverse("floor:checkin", kwargs={"site": van.slug, "client": client.pk})
    as_van = login(van_nurse)

    response = as_van.post(url, checkin_form(van))

    assert response.status_code == 200
    assert "Open a stop first" in response.content.decode()
    assert not Visit.objects.exists()

    stop = open_stop(van, van_nurse)
    response = as_van.post(url, checkin_form(van))
    assert response.status_code == 302
    assert Visit.objects.get().stop == stop
