"""Two devices assigning at the same instant: exactly one wins, the other is told in words.

Real threads, each with its own database connection, committing for real. On PostgreSQL both
threads may get as far as the insert, and the partial unique index on open sessions per seat
refuses the second (the action turns that IntegrityError into the same refusal). On SQLite the
IMMEDIATE transactions queue the second writer behind the first (busy timeout), so it finds the
seat taken.

Why SQLite runs on a file here: pytest-django's SQLite test database is in memory with a shared
cache, and in shared-cache mode a second writer gets "database table is locked" at once (the
busy timeout does not apply to shared-cache locks), which no production deployment ever sees.
So, on SQLite, the committed test data is copied into a real database file and each racing
thread connects to that file with the production settings (WAL, IMMEDIATE, busy timeout)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections

from saferoom.core.errors import ActionRefused
from saferoom.floor import board
from saferoom.floor.models import ConsumptionSession, Visit
from tests.floor.board.conftest import space

pytestmark = pytest.mark.django_db(transaction=True)


class Arena:
    """Where the racing threads (and the assertions after them) meet the database."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings: dict[str, Any] | None = None
        if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
            connection.ensure_connection()
            path = tmp_path / "race.sqlite3"
            target = sqlite3.connect(path)
            connection.connection.backup(target)
            target.close()
            self.settings = {**connection.settings_dict, "NAME": str(path)}

    def _connect(self) -> None:
        if self.settings is not None:
            from django.db.backends.sqlite3.base import DatabaseWrapper

            connections["default"] = DatabaseWrapper(self.settings, "default")

    def race(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run the calls at once, each in its own thread and connection; return what each
        returned or raised."""
        barrier = threading.Barrier(len(calls))
        results: list[Any] = [None] * len(calls)

        def run(index: int, call: Callable[[], Any]) -> None:
            try:
                self._connect()
                barrier.wait(timeout=10)
                results[index] = call()
            except Exception as error:
                results[index] = error
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a thread never finished"
        return results

    def look(self, query: Callable[[], Any]) -> Any:
        """Read the database the threads wrote to."""
        if self.settings is None:
            return query()
        [result] = self.race(query)
        if isinstance(result, Exception):
            raise result
        return result


def code(visit: Visit) -> str:
    assert visit.client is not None
    return visit.client.display_code


def winner_and_loser(results: list[Any]) -> tuple[ConsumptionSession, ActionRefused]:
    sessions = [r for r in results if isinstance(r, ConsumptionSession)]
    refusals = [r for r in results if isinstance(r, ActionRefused)]
    assert len(sessions) == 1, results
    assert len(refusals) == 1, results
    return sessions[0], refusals[0]


def test_two_nurses_assigning_the_same_booth_at_once_leave_one_winner(
    site_a, arrive, nurse, nurse2, tmp_path
):
    first, second = arrive(site_a), arrive(site_a)
    booth = space(site_a, "Booth 1")
    arena = Arena(tmp_path)

    winner, refusal = winner_and_loser(
        arena.race(
            lambda: board.assign_space(visit=first, space=booth, by=nurse),
            lambda: board.assign_space(visit=second, space=booth, by=nurse2),
        )
    )

    assert refusal.code == "seat_taken"
    assert refusal.message == (
        f"Booth 1 was just taken by {code(winner.visit)}. The board has been refreshed."
    )
    loser = second if winner.visit_id == first.pk else first
    assert (
        arena.look(
            lambda: ConsumptionSession.objects.filter(space=booth, ended_at__isnull=True).count()
        )
        == 1
    )
    assert arena.look(lambda: Visit.objects.get(pk=loser.pk).state) == "waiting"
    assert arena.look(lambda: Visit.objects.get(pk=winner.visit_id).state) == "in_space"


def test_two_nurses_racing_for_the_last_seat_of_the_smoking_room(
    site_a, arrive, nurse, nurse2, tmp_path
):
    first, second = arrive(site_a, route="smoke"), arrive(site_a, route="smoke")
    room = space(site_a, "Smoking room")
    arena = Arena(tmp_path)

    _winner, refusal = winner_and_loser(
        arena.race(
            lambda: board.assign_space(visit=first, space=room, seat=3, by=nurse),
            lambda: board.assign_space(visit=second, space=room, seat=3, by=nurse2),
        )
    )

    assert refusal.code == "seat_taken"
    assert refusal.message.startswith("Smoking room, seat 3 was just taken by ")
    assert arena.look(lambda: ConsumptionSession.objects.count()) == 1


def test_one_person_sent_to_two_booths_at_once_goes_to_one(site_a, visit, nurse, nurse2, tmp_path):
    arena = Arena(tmp_path)

    winner, refusal = winner_and_loser(
        arena.race(
            lambda: board.assign_space(visit=visit, space=space(site_a, "Booth 1"), by=nurse),
            lambda: board.assign_space(visit=visit, space=space(site_a, "Booth 2"), by=nurse2),
        )
    )

    assert refusal.code == "not_waiting"
    assert f"is already in {winner.space.name}" in refusal.message
    assert arena.look(lambda: ConsumptionSession.objects.filter(visit=visit).count()) == 1


def test_the_database_itself_refuses_a_second_open_session_on_a_seat(site_a, arrive, nurse):
    """The last line of defence, without the action's checks in front of it."""
    first, second = arrive(site_a), arrive(site_a)
    booth = space(site_a, "Booth 1")
    session = board.assign_space(visit=first, space=booth, by=nurse)

    with pytest.raises(IntegrityError):
        ConsumptionSession.objects.create(
            site=site_a,
            visit=second,
            space=booth,
            seat=1,
            route="inject",
            started_at=session.started_at,
            started_by=nurse,
            check_interval_minutes=5,
            next_check_due_at=session.next_check_due_at,
        )


def test_a_rival_the_checks_missed_is_refused_by_the_index_in_the_same_words(
    site_a, arrive, nurse, nurse2, monkeypatch
):
    """If the rival's session lands between the check and the insert, the index refuses the
    insert, and the nurse reads the same sentence; nothing of the attempt remains."""
    first, second = arrive(site_a), arrive(site_a)
    booth = space(site_a, "Booth 1")
    board.assign_space(visit=first, space=booth, by=nurse)
    real = board._occupant
    looks: list[int] = []

    def blind_at_first(place: Any, seat: int) -> Any:
        looks.append(seat)
        return None if len(looks) == 1 else real(place, seat)

    monkeypatch.setattr(board, "_occupant", blind_at_first)

    with pytest.raises(ActionRefused) as refusal:
        board.assign_space(visit=second, space=booth, by=nurse2)

    assert refusal.value.code == "seat_taken"
    assert refusal.value.message == (
        f"Booth 1 was just taken by {code(first)}. The board has been refreshed."
    )
    assert len(looks) == 2
    assert Visit.objects.get(pk=second.pk).state == "waiting"
    assert ConsumptionSession.objects.count() == 1
