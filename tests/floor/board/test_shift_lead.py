"""Naming the shift lead that missed checks escalate to: someone who works the floor, or a
manager, of this site."""

from __future__ import annotations

import pytest
from django.utils import timezone

from saferoom.core.errors import ActionRefused
from saferoom.core.roles import Role
from saferoom.floor import board
from saferoom.floor.models import BoardState
from tests.conftest import make_user
from tests.floor.board.conftest import audits


@pytest.mark.parametrize("who", ["nurse", "manager"])
def test_a_nurse_or_a_manager_can_be_shift_lead(site_a, nurse, request, who):
    lead = request.getfixturevalue(who)
    version = board.board_version(site_a)

    board.set_shift_lead(site=site_a, user=lead, by=nurse)

    assert BoardState.objects.get(site=site_a).shift_lead == lead
    assert board.board_snapshot(site_a, timezone.now()).shift_lead == lead
    assert audits("shift_lead.set") == 1
    assert board.board_version(site_a) == version + 1


def test_a_network_wide_floor_worker_can_lead_any_site(site_a, network, nurse):
    roaming = make_user("rory.roaming", (Role.FLOOR, network))
    board.set_shift_lead(site=site_a, user=roaming, by=nurse)
    assert BoardState.objects.get(site=site_a).shift_lead == roaming


def test_the_lead_can_be_cleared(site_a, nurse):
    board.set_shift_lead(site=site_a, user=nurse, by=nurse)
    board.set_shift_lead(site=site_a, user=None, by=nurse)
    assert BoardState.objects.get(site=site_a).shift_lead is None


@pytest.mark.parametrize("who", ["desk", "evaluator", "other_site_worker", "admin"])
def test_someone_not_on_this_floor_cannot_be_shift_lead(site_a, nurse, request, who):
    person = request.getfixturevalue(who)
    version = board.board_version(site_a)

    with pytest.raises(ActionRefused) as refusal:
        board.set_shift_lead(site=site_a, user=person, by=nurse)

    assert refusal.value.code == "not_floor_staff"
    assert refusal.value.message == (
        f"{person} does not work on the floor at Riverside. "
        "Choose a nurse, a harm-reduction worker or a manager."
    )
    assert not BoardState.objects.filter(site=site_a, shift_lead__isnull=False).exists()
    assert board.board_version(site_a) == version
    assert audits("shift_lead.set") == 0


def test_a_deactivated_account_cannot_be_shift_lead(site_a, nurse, nurse2):
    nurse2.is_active = False
    nurse2.save()
    with pytest.raises(ActionRefused):
        board.set_shift_lead(site=site_a, user=nurse2, by=nurse)
