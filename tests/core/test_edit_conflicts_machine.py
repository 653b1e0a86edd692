"""Two tablets editing one record (checklist item 23), as a state machine (Hypothesis): each
opens the edit form, saves, or sends an edit it made offline from an older version, in any
order. Whatever the interleaving:

- no silent overwrite: an edit made from version v is saved only if the record was still at
  v, and refused (``stale_edit``, nothing written) otherwise;
- no acknowledged edit lost: every saved edit is in the record's history (its amendments, or
  its audit trail), in order, each with the version it made, and the record shows the last.

Run for a correction kept as amendments (a referral's, an incident's outcome) and for a plain
edit kept in the audit trail (a space)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from saferoom.core.models import AuditEvent
from saferoom.core.versioning import StaleEdit
from tests.core.versioned_records import (
    INCIDENT_OUTCOME,
    REFERRAL_AMENDMENT,
    SPACE,
    Editable,
    World,
    afternoon,
    version_now,
    world,
)

__all__ = ["afternoon", "world"]

TABLETS = st.sampled_from(["A", "B"])
_serial = itertools.count(1)


def _space_names(space: Any) -> list[str]:
    events = AuditEvent.objects.filter(
        action="space.updated", object_id=str(space.pk), object_type="sites.space"
    ).order_by("id")
    return [e.detail["name"]["to"] for e in events]


# Each record's history, and the entry the n-th edit leaves in it.
HISTORY: dict[str, tuple[Callable[[Any], list[str]], Callable[[int], str]]] = {
    REFERRAL_AMENDMENT.name: (
        lambda r: list(r.amendments.order_by("pk").values_list("reason", flat=True)),
        lambda n: f"Correction {n}",
    ),
    INCIDENT_OUTCOME.name: (
        lambda i: list(i.outcome_amendments.order_by("pk").values_list("new_hospital", flat=True)),
        lambda n: f"Infirmary {n}",
    ),
    SPACE.name: (_space_names, lambda n: f"Quiet booth {n}"),
}


class TwoTablets(RuleBasedStateMachine):
    world: World
    editable: Editable

    def __init__(self) -> None:
        super().__init__()
        self.record = self.editable.make(self.world)
        self.first = self.version = version_now(self.record)
        # The version each tablet's form was opened on.
        self.held = {"A": self.version, "B": self.version}
        self.saved: list[tuple[int, int]] = []  # (n, the version that edit made)
        self.shows = self.editable.values(self.record)

    @rule(tablet=TABLETS)
    def open_the_form(self, tablet: str) -> None:
        self.held[tablet] = version_now(self.record)

    @rule(tablet=TABLETS, older=st.integers(min_value=0, max_value=2))
    def save(self, tablet: str, older: int) -> None:
        """Save the form the tablet holds, or (``older``) one it filled in offline before."""
        based_on = max(self.first, self.held[tablet] - older)
        n = next(_serial)
        refused: StaleEdit | None = None
        try:
            self.editable.edit(self.world, self.record, based_on, n)
        except StaleEdit as stale:
            refused = stale
        if refused is not None:
            assert based_on != self.version, "an edit from the saved version was refused"
            assert (refused.expected, refused.current) == (based_on, self.version)
            return
        assert based_on == self.version, f"an edit from version {based_on} overwrote {self.version}"
        self.version += 1
        self.saved.append((n, self.version))
        self.held[tablet] = self.version  # the page reloads on the saved record
        self.shows = self.editable.values(self.record)

    @invariant()
    def no_edit_is_lost_and_none_overwritten_silently(self) -> None:
        assert version_now(self.record) == self.version
        # What the record shows is what the last saved edit made: nothing refused changed it.
        assert self.editable.values(self.record) == self.shows
        history, entry = HISTORY[self.editable.name]
        assert history(self.record) == [entry(n) for n, _version in self.saved]
        events = AuditEvent.objects.filter(
            action=self.editable.audit, object_id=str(self.record.pk)
        ).order_by("id")
        assert [e.detail["version"] for e in events] == [v for _n, v in self.saved]


@pytest.mark.django_db
@pytest.mark.parametrize("editable", [REFERRAL_AMENDMENT, INCIDENT_OUTCOME, SPACE], ids=str)
def test_two_tablets_never_overwrite_each_other_whatever_the_order(
    world: World, editable: Editable
) -> None:
    TwoTablets.world = world
    TwoTablets.editable = editable
    run_state_machine_as_test(
        TwoTablets,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
