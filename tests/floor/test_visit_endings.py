"""How visits end: leaving the queue, check-out, and the visits still open at closing time.
A visit ends once; the second attempt is refused in words and changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.floor import actions
from saferoom.floor.models import Visit
from tests.floor.conftest import AFTERNOON, reason, substance

HTMX = {"HTTP_HX_REQUEST": "true"}


def waiting_visit(site, client, by) -> Visit:
    return actions.check_in(
        site=site,
        client=client,
        planned_route="inject",
        planned_substances=[substance(site)],
        otherwise_location="not_said",
        would_use_alone="not_said",
        eligibility={"first_time": False, "intoxicated": False},
        by=by,
        idempotency_key=uuid.uuid4(),
    )


def left_url(visit) -> str:
    return reverse("floor:leave_queue", kwargs={"site": visit.site.slug, "pk": visit.pk})


def checkout_url(visit) -> str:
    return reverse("floor:check_out", kwargs={"site": visit.site.slug, "pk": visit.pk})


@pytest.fixture
def visit(site_a, client_a, desk) -> Visit:
    return waiting_visit(site_a, client_a, desk)


def test_a_client_who_left_the_queue_is_recorded_as_left(as_desk, desk, visit, afternoon):
    afternoon.shift(dt.timedelta(minutes=12))
    response = as_desk.post(left_url(visit))
    assert response.status_code == 302
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason, visit.ended_by) == ("left", "left_queue", desk)
    assert visit.ended_at - visit.arrived_at >= dt.timedelta(minutes=12)
    assert AuditEvent.objects.filter(action="visit.left_queue", object_id=str(visit.pk)).exists()
    page = as_desk.get(response["Location"]).content.decode()
    assert f"{visit.client.display_code} has left the queue." in page
    assert "Nobody is waiting." in page


def test_leaving_the_queue_twice_is_refused_clearly(as_desk, visit):
    as_desk.post(left_url(visit))
    ended_at = Visit.objects.get().ended_at
    response = as_desk.post(left_url(visit), follow=True)
    assert f"{visit.client.display_code} already left the queue at 14:00." in (
        response.content.decode()
    )
    assert Visit.objects.get().ended_at == ended_at
    assert AuditEvent.objects.filter(action="visit.left_queue").count() == 1


def test_from_the_queue_page_the_answer_is_the_refreshed_queue(as_desk, visit):
    response = as_desk.post(left_url(visit), **HTMX)
    assert response.status_code == 200
    partial = response.content.decode()
    assert partial.startswith('<section id="queue-live"')
    assert f"{visit.client.display_code} has left the queue." in partial
    response = as_desk.post(left_url(visit), **HTMX)
    assert "already left the queue" in response.content.decode()


def test_someone_in_a_space_cannot_leave_the_queue_but_can_be_checked_out(as_desk, visit, desk):
    Visit.objects.filter(pk=visit.pk).update(state="in_space")
    with pytest.raises(ActionRefused, match="no longer waiting: they are in a space"):
        actions.leave_queue(visit=visit, by=desk)
    assert Visit.objects.get().state == "in_space"
    response = as_desk.post(checkout_url(visit))
    assert response.status_code == 302
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason) == ("left", "checked_out")


@pytest.mark.parametrize("state", ["waiting", "in_space", "aftercare"])
def test_check_out_ends_a_visit_from_any_open_stage(as_desk, visit, state):
    Visit.objects.filter(pk=visit.pk).update(state=state)
    assert as_desk.post(checkout_url(visit)).status_code == 302
    visit.refresh_from_db()
    assert (visit.state, visit.end_reason) == ("left", "checked_out")
    assert AuditEvent.objects.filter(action="visit.checked_out", object_id=str(visit.pk)).exists()


def test_checking_out_twice_is_refused_clearly(as_desk, visit):
    as_desk.post(checkout_url(visit))
    response = as_desk.post(checkout_url(visit), follow=True)
    assert f"{visit.client.display_code} was already checked out at 14:00." in (
        response.content.decode()
    )
    assert AuditEvent.objects.filter(action="visit.checked_out").count() == 1


def test_a_turned_away_visit_cannot_be_ended(site_a, desk):
    turned = actions.turn_away(
        site=site_a,
        client=None,
        reason=reason(site_a, "full"),
        by=desk,
        idempotency_key=uuid.uuid4(),
    )
    with pytest.raises(ActionRefused, match="was turned away at 14:00: there is nothing to end"):
        actions.check_out(visit=turned, by=desk)
    with pytest.raises(ActionRefused, match="was turned away"):
        actions.leave_queue(visit=turned, by=desk)


def test_a_visit_cannot_end_before_it_began(visit, desk):
    with pytest.raises(ActionRefused, match="cannot end before it began"):
        actions.check_out(visit=visit, by=desk, at=visit.arrived_at - dt.timedelta(minutes=1))
    assert Visit.objects.get().state == "waiting"


def test_another_sites_visit_is_not_found(as_desk, site_b, register, desk):
    elsewhere = waiting_visit(site_b, register(site_b), desk)
    # Site B's visit, addressed under site A's desk.
    for name in ("floor:leave_queue", "floor:check_out"):
        url = reverse(name, kwargs={"site": "riverside", "pk": elsewhere.pk})
        assert as_desk.post(url).status_code == 404
    assert Visit.objects.get(pk=elsewhere.pk).state == "waiting"


def test_another_sites_worker_and_evaluators_cannot_end_a_visit(
    as_other_site_worker, as_evaluator, visit
):
    assert as_other_site_worker.post(left_url(visit)).status_code == 404
    assert as_other_site_worker.post(checkout_url(visit)).status_code == 404
    assert as_evaluator.post(left_url(visit)).status_code == 403
    assert as_evaluator.post(checkout_url(visit)).status_code == 403
    assert Visit.objects.get().state == "waiting"


def test_ending_a_visit_takes_a_post(as_desk, visit):
    assert as_desk.get(left_url(visit)).status_code == 405
    assert as_desk.get(checkout_url(visit)).status_code == 405
    assert Visit.objects.get().state == "waiting"


def test_a_visit_number_that_does_not_exist_is_404(as_desk, site_a):
    url = reverse("floor:check_out", kwargs={"site": site_a.slug, "pk": 999999})
    assert as_desk.post(url).status_code == 404


# --- closing time -----------------------------------------------------------------------------


def test_closing_time_ends_every_open_visit_as_left_without_check_out(
    site_a, site_b, register, desk
):
    waiting = waiting_visit(site_a, register(site_a), desk)
    in_space = waiting_visit(site_a, register(site_a), desk)
    aftercare = waiting_visit(site_a, register(site_a), desk)
    Visit.objects.filter(pk=in_space.pk).update(state="in_space")
    Visit.objects.filter(pk=aftercare.pk).update(state="aftercare")
    done = waiting_visit(site_a, register(site_a), desk)
    actions.check_out(visit=done, by=desk)
    elsewhere = waiting_visit(site_b, register(site_b), desk)

    closing = AFTERNOON.replace(hour=21)
    assert actions.close_open_visits(site=site_a, at=closing) == 3

    for visit in (waiting, in_space, aftercare):
        visit.refresh_from_db()
        assert (visit.state, visit.end_reason, visit.ended_at, visit.ended_by) == (
            "left",
            "left_without_checkout",
            closing,
            None,
        )
    events = AuditEvent.objects.filter(action="visit.closed_at_closing")
    assert sorted(int(e.object_id) for e in events) == sorted(
        [waiting.pk, in_space.pk, aftercare.pk]
    )
    assert {e.actor_label for e in events} == {"system"}
    assert {e.detail["was"] for e in events} == {"waiting", "in_space", "aftercare"}
    done.refresh_from_db()
    assert done.end_reason == "checked_out"
    elsewhere.refresh_from_db()
    assert elsewhere.state == "waiting"
    # Run again (a retry of the worker): nothing left to close.
    assert actions.close_open_visits(site=site_a, at=closing) == 0


def test_closing_time_leaves_visits_that_arrived_after_it(site_a, client_a, desk):
    visit = waiting_visit(site_a, client_a, desk)
    assert actions.close_open_visits(site=site_a, at=visit.arrived_at - dt.timedelta(hours=1)) == 0
    assert Visit.objects.get().state == "waiting"


def test_a_client_closed_at_closing_can_come_back_tomorrow(site_a, client_a, desk, afternoon):
    waiting_visit(site_a, client_a, desk)
    actions.close_open_visits(site=site_a, at=AFTERNOON.replace(hour=21), by=desk)
    afternoon.shift(dt.timedelta(days=1))
    assert waiting_visit(site_a, client_a, desk).state == "waiting"
