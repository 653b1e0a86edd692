"""Correcting a referral: the old and new values and the reason are kept; nothing is silently
overwritten, and a correction without a reason or without a change is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.urls import reverse

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import ReferralAmendment
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from tests.care.referrals.conftest import form, target
from tests.versions import version_of


def amend(referral: Any, by: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("reason", "Chose the wrong service by mistake")
    kwargs.setdefault("expected_version", version_of(referral))
    return actions.amend_referral(referral=referral, by=by, idempotency_key=uuid.uuid4(), **kwargs)


def test_a_wrong_target_is_corrected_with_its_history(referral, manager, site_a):
    amendment = amend(referral, manager, target=target(site_a, "mental_health"))
    referral.refresh_from_db()
    assert referral.target.code == "mental_health"
    assert referral.category == "mental_health"
    assert amendment.changes == {"target": ["Housing options team", "Mental health team"]}
    assert amendment.reason == "Chose the wrong service by mistake"
    event = AuditEvent.objects.get(action="referral.amended")
    # The trail names the amendment that holds the reason, never the reason itself.
    assert event.detail["amendment"] == amendment.pk
    assert event.detail["reason_given"] is True
    assert "Chose the wrong service" not in str(event.detail)


def test_a_status_recorded_wrongly_is_reopened(referral, desk, manager):
    actions.record_follow_up(
        referral=referral,
        outcome="attended",
        method="phone",
        by=desk,
        idempotency_key=uuid.uuid4(),
        expected_version=version_of(referral),
    )
    amend(referral, manager, status="made", reason="Attended was recorded for the wrong person")
    referral.refresh_from_db()
    assert referral.is_open
    assert referral.closed_at is None
    assert referral.closed_by is None
    # The follow-up that said "attended" is still there: nothing is deleted.
    assert referral.follow_ups.count() == 1


def test_a_status_can_be_corrected_to_closed(referral, manager):
    amend(referral, manager, status="declined", reason="They said no on the day; forgot to record")
    referral.refresh_from_db()
    assert referral.status == "declined"
    assert referral.closed_by == manager


def test_the_due_date_and_urgency_can_be_corrected(referral, nurse):
    amend(
        referral, nurse, urgency="urgent", follow_up_due=dt.date(2026, 3, 12), reason="Was urgent"
    )
    referral.refresh_from_db()
    assert (referral.urgency, referral.follow_up_due) == ("urgent", dt.date(2026, 3, 12))
    assert ReferralAmendment.objects.get().changes == {
        "urgency": ["routine", "urgent"],
        "follow_up_due": ["2026-03-24", "2026-03-12"],
    }


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"urgency": "urgent", "reason": "  "}, "no_reason"),
        ({"urgency": "urgent", "reason": "x" * 201}, "bad_reason"),
        ({"urgency": "routine"}, "no_change"),
        ({"urgency": "whenever"}, "bad_urgency"),
        ({"status": "lost"}, "bad_status"),
        ({"follow_up_due": dt.date(2026, 1, 1)}, "bad_due"),
    ],
)
def test_bad_corrections_are_refused_and_change_nothing(referral, manager, kwargs, code):
    with pytest.raises(ActionRefused) as refused:
        amend(referral, manager, **kwargs)
    assert refused.value.code == code
    referral.refresh_from_db()
    assert (referral.urgency, referral.status) == ("routine", "made")
    assert ReferralAmendment.objects.count() == 0


def test_a_correction_to_a_retired_target_is_refused(referral, manager, site_a):
    retired = target(site_a, "legal_advice")
    retired.active = False
    retired.save()
    with pytest.raises(ActionRefused):
        amend(referral, manager, target=retired)
    assert ReferralAmendment.objects.count() == 0


def test_the_correction_form_keeps_the_old_values_and_shows_the_history(
    as_manager, referral, site_a
):
    url = reverse("referrals:amend", kwargs={"site": site_a.slug, "pk": referral.pk})
    assert as_manager.get(url).status_code == 200
    response = as_manager.post(
        url,
        form(
            target=referral.target_id,
            urgency="soon",
            follow_up_due="2026-03-24",
            status="made",
            reason="Worker asked for sooner",
            version=version_of(referral),
        ),
        follow=True,
    )
    page = response.content.decode()
    assert "The referral is corrected." in page
    assert "Worker asked for sooner" in page
    assert "Urgency: Routine → Soon" in page


def test_the_correction_form_without_a_reason_says_so(as_nurse, referral, site_a):
    url = reverse("referrals:amend", kwargs={"site": site_a.slug, "pk": referral.pk})
    response = as_nurse.post(
        url,
        form(
            target=referral.target_id,
            urgency="soon",
            follow_up_due="2026-03-24",
            status="made",
            version=version_of(referral),
        ),
    )
    assert "Say why the referral is corrected." in response.content.decode()
    assert ReferralAmendment.objects.count() == 0


def test_an_evaluator_cannot_correct(as_evaluator, referral, site_a):
    url = reverse("referrals:amend", kwargs={"site": site_a.slug, "pk": referral.pk})
    assert as_evaluator.post(url, form(reason="x", urgency="soon")).status_code == 403
    assert ReferralAmendment.objects.count() == 0
