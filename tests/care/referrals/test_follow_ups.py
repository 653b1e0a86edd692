"""Following a referral up: each attempt dated and kept, a final outcome closes the referral,
'not known yet' sets the next date; the follow-ups due list puts the overdue first."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import FollowUp, Referral
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from tests.care.referrals.conftest import LONDON, form, make_visit
from tests.conftest import login
from tests.versions import version_of


def follow(referral: Any, by: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("outcome", "attended")
    kwargs.setdefault("method", "in_person")
    kwargs.setdefault("expected_version", version_of(referral))
    return actions.record_follow_up(
        referral=referral, by=by, idempotency_key=uuid.uuid4(), **kwargs
    )


def test_attended_closes_the_referral(referral, desk):
    done = follow(referral, desk, note="Went on Thursday; has a key worker now.")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ATTENDED
    assert referral.closed_by == desk
    assert referral.closed_at == done.at
    assert done.note == "Went on Thursday; has a key worker now."


@pytest.mark.parametrize("outcome", ["declined", "unknown"])
def test_declined_and_not_known_close_it_too(referral, desk, outcome):
    follow(referral, desk, outcome=outcome, method="phone")
    referral.refresh_from_db()
    assert referral.status == outcome
    assert not referral.is_open


def test_not_known_yet_keeps_it_open_and_moves_the_date(referral, desk):
    done = follow(referral, desk, outcome="not_yet", next_due=dt.date(2026, 3, 20))
    referral.refresh_from_db()
    assert referral.is_open
    assert referral.follow_up_due == dt.date(2026, 3, 20) == done.next_due


def test_not_known_yet_without_a_date_tries_again_after_the_usual_interval(refer, visit_a, desk):
    referral = refer(visit_a, urgency="soon")
    follow(referral, desk, outcome="not_yet")
    referral.refresh_from_db()
    assert referral.follow_up_due == dt.date(2026, 3, 17)


def test_every_attempt_is_kept_in_order(referral, desk, nurse, afternoon):
    follow(referral, desk, outcome="not_yet", next_due=dt.date(2026, 3, 12))
    afternoon.shift(dt.timedelta(days=2))
    follow(referral, nurse, outcome="declined", method="phone")
    assert [f.outcome for f in referral.follow_ups.order_by("at")] == ["not_yet", "declined"]
    events = AuditEvent.objects.filter(action="referral.followed_up").order_by("at")
    assert [e.detail["outcome"] for e in events] == ["not_yet", "declined"]


def test_a_closed_referral_cannot_be_followed_up_again(referral, desk):
    follow(referral, desk)
    with pytest.raises(ActionRefused) as refused:
        follow(referral, desk, outcome="declined")
    assert refused.value.code == "closed"
    assert "Attended" in refused.value.message
    assert "amend" in refused.value.message
    assert FollowUp.objects.count() == 1


def test_a_follow_up_before_the_referral_is_refused(referral, desk):
    with pytest.raises(ActionRefused) as refused:
        follow(referral, desk, at=referral.made_at - dt.timedelta(hours=1))
    assert refused.value.code == "bad_time"
    assert FollowUp.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"outcome": "maybe"}, "bad_outcome"),
        ({"method": "pigeon"}, "bad_method"),
        ({"note": "x" * 1001}, "bad_note"),
        ({"outcome": "not_yet", "next_due": dt.date(2026, 3, 10)}, "bad_due"),
        ({"outcome": "not_yet", "next_due": dt.date(2027, 6, 1)}, "bad_due"),
    ],
)
def test_bad_follow_ups_are_refused_and_change_nothing(referral, desk, kwargs, code):
    with pytest.raises(ActionRefused) as refused:
        follow(referral, desk, **kwargs)
    assert refused.value.code == code
    referral.refresh_from_db()
    assert referral.is_open
    assert referral.follow_up_due == dt.date(2026, 3, 24)
    assert FollowUp.objects.count() == 0


def test_a_replayed_follow_up_is_recorded_once(referral, desk):
    key = uuid.uuid4()
    first = actions.record_follow_up(
        referral=referral,
        outcome="attended",
        method="phone",
        by=desk,
        idempotency_key=key,
        expected_version=version_of(referral),
    )
    again = actions.record_follow_up(
        referral=referral,
        outcome="attended",
        method="phone",
        by=desk,
        idempotency_key=key,
        expected_version=version_of(referral),
    )
    assert first.pk == again.pk
    assert FollowUp.objects.count() == 1


def test_the_note_is_encrypted_in_the_database(referral, desk):
    follow(referral, desk, note="Prefers the Tuesday drop-in")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed_note FROM referrals_followup")
        (raw,) = cursor.fetchone()
    assert "Tuesday" not in raw
    assert raw.startswith("gAAAA")


# --- the follow-ups due list -------------------------------------------------------------------


@pytest.fixture
def spread(refer: Any, site_a: Any, register: Any, desk: Any, afternoon: Any) -> Any:
    """Referrals made on different days, so that on 24 March some are overdue."""
    made = {}
    for label, when, urgency in [
        ("old_routine", dt.datetime(2026, 3, 1, 12, tzinfo=LONDON), "routine"),  # due 15 Mar
        ("urgent_today", dt.datetime(2026, 3, 22, 12, tzinfo=LONDON), "urgent"),  # due 24 Mar
        ("routine_today", dt.datetime(2026, 3, 10, 12, tzinfo=LONDON), "routine"),  # due 24 Mar
        ("soon_overdue", dt.datetime(2026, 3, 15, 12, tzinfo=LONDON), "soon"),  # due 22 Mar
        ("later", dt.datetime(2026, 3, 20, 12, tzinfo=LONDON), "soon"),  # due 27 Mar
        ("far", dt.datetime(2026, 3, 20, 12, tzinfo=LONDON), "routine"),  # due 3 Apr
    ]:
        afternoon.move_to(when)
        made[label] = refer(make_visit(site_a, register(site_a), desk), urgency=urgency)
    closed = refer(make_visit(site_a, register(site_a), desk))
    follow(closed, desk)
    afternoon.move_to(dt.datetime(2026, 3, 24, 10, tzinfo=LONDON))
    return made


def labels(rows: Any, made: Any) -> list[str]:
    names = {r.pk: name for name, r in made.items()}
    return [names[row.referral.pk] for row in rows]


def test_due_today_and_overdue_come_oldest_first_then_most_urgent(spread, site_a):
    rows = actions.follow_ups_due(site_a, dt.datetime(2026, 3, 24, 10, tzinfo=LONDON))
    assert labels(rows, spread) == ["old_routine", "soon_overdue", "urgent_today", "routine_today"]
    assert [r.days_overdue for r in rows] == [9, 2, 0, 0]
    assert [r.overdue for r in rows] == [True, True, False, False]


def test_the_list_can_look_ahead(spread, site_a):
    rows = actions.follow_ups_due(
        site_a, dt.datetime(2026, 3, 24, 10, tzinfo=LONDON), within_days=7
    )
    assert labels(rows, spread)[-1] == "later"
    assert "far" not in labels(rows, spread)


def test_the_list_counts_days_by_the_sites_calendar(spread, site_a):
    # 00:30 on 25 March in London is still 24 March in UTC: the referral due on the 24th is
    # now a day overdue.
    rows = actions.follow_ups_due(site_a, dt.datetime(2026, 3, 25, 0, 30, tzinfo=LONDON))
    assert rows[2].days_overdue == 1


def test_the_list_leaves_out_other_sites_and_closed_referrals(
    spread, site_b, site_a, register, refer, desk
):
    refer(make_visit(site_b, register(site_b), desk))
    rows = actions.follow_ups_due(site_a, dt.datetime(2026, 4, 30, 10, tzinfo=LONDON))
    assert len(rows) == 6
    assert all(r.referral.site_id == site_a.pk and r.referral.is_open for r in rows)


def test_the_list_takes_a_fixed_number_of_queries(spread, site_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        rows = actions.follow_ups_due(site_a, dt.datetime(2026, 4, 30, 10, tzinfo=LONDON))
        _ = [(r.referral.who(), r.referral.target.label) for r in rows]


def test_the_due_page_shows_overdue_first(spread, desk, site_a):
    as_desk = login(desk)  # after the clock moved, so the session is fresh
    response = as_desk.get(reverse("referrals:due", kwargs={"site": site_a.slug}))
    page = response.content.decode()
    assert response.status_code == 200
    codes = [
        spread[name].who() for name in ["old_routine", "soon_overdue", "urgent_today", "later"]
    ]
    positions = [page.index(code) for code in codes]
    assert positions == sorted(positions)
    assert "9 days overdue" in page
    assert spread["far"].client.display_code not in page
    assert AuditEvent.objects.filter(action="referral.list_viewed").count() == 1


def test_the_due_page_is_not_for_evaluators(as_evaluator, site_a):
    assert (
        as_evaluator.get(reverse("referrals:due", kwargs={"site": site_a.slug})).status_code == 403
    )


# --- through HTTP ----------------------------------------------------------------------------


def url(name: str, referral: Any) -> str:
    return reverse(f"referrals:{name}", kwargs={"site": referral.site.slug, "pk": referral.pk})


def test_a_desk_worker_records_a_follow_up(as_desk, referral):
    assert as_desk.get(url("follow_up", referral)).status_code == 200
    response = as_desk.post(
        url("follow_up", referral),
        form(outcome="attended", method="service", note="", version=version_of(referral)),
        follow=True,
    )
    assert "Follow-up recorded: Attended." in response.content.decode()
    referral.refresh_from_db()
    assert referral.status == "attended"


def test_not_known_yet_through_the_form(as_nurse, referral):
    response = as_nurse.post(
        url("follow_up", referral),
        form(
            outcome="not_yet", method="phone", next_due="2026-03-19", version=version_of(referral)
        ),
        follow=True,
    )
    assert "Try again by 19/03/2026" in response.content.decode()
    referral.refresh_from_db()
    assert referral.follow_up_due == dt.date(2026, 3, 19)


def test_following_up_a_closed_referral_shows_why_not(as_nurse, referral, desk):
    follow(referral, desk)
    data = form(outcome="declined", method="phone", version=version_of(referral))
    response = as_nurse.post(url("follow_up", referral), data)
    assert response.status_code == 200
    assert "already recorded as" in response.content.decode()
    assert FollowUp.objects.count() == 1


def test_the_detail_page_shows_the_follow_ups_and_is_audited(as_nurse, referral, desk):
    follow(referral, desk, outcome="not_yet", note="Left a message with the hostel")
    response = as_nurse.get(url("detail", referral))
    page = response.content.decode()
    assert "Left a message with the hostel" in page
    assert "Housing options team" in page
    assert AuditEvent.objects.filter(action="referral.viewed", object_id=str(referral.pk)).exists()


def test_an_evaluator_cannot_follow_up(as_evaluator, referral):
    response = as_evaluator.post(
        url("follow_up", referral), form(outcome="attended", method="phone")
    )
    assert response.status_code == 403
    assert FollowUp.objects.count() == 0


def test_another_sites_referral_is_not_found(as_desk, site_b, register, refer, desk):
    theirs = refer(make_visit(site_b, register(site_b), desk))
    assert as_desk.get(url("detail", theirs).replace("eastgate", "riverside")).status_code == 404
    response = as_desk.post(
        url("follow_up", theirs).replace("eastgate", "riverside"),
        form(outcome="attended", method="phone"),
    )
    assert response.status_code == 404
    assert FollowUp.objects.count() == 0


def test_the_handover_partial_lists_what_is_due(spread, site_a):
    from django.template.loader import render_to_string

    rows = actions.follow_ups_due(site_a, dt.datetime(2026, 3, 24, 10, tzinfo=LONDON))
    html = render_to_string(
        "referrals/_handover.html", {"site": site_a, "referral_follow_ups": rows}
    )
    assert "9 days overdue" in html
    assert spread["old_routine"].who() in html
    assert spread["later"].who() not in html
