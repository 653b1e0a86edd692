"""Checking people in at the desk: one page, a handful of taps, one visit in the queue."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.db import IntegrityError
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.floor import actions
from saferoom.floor.models import Visit
from saferoom.sites.models import OpeningHours
from tests.conftest import login
from tests.floor.conftest import (
    AFTERNOON,
    LONDON,
    checkin_form,
    is_checked,
    reason,
    reason_code,
    substance,
)


def checkin_url(site, client) -> str:
    return reverse("floor:checkin", kwargs={"site": site.slug, "client": client.pk})


def anonymous_url(site) -> str:
    return reverse("floor:checkin_anonymous", kwargs={"site": site.slug})


def queue_url(site) -> str:
    return reverse("floor:queue", kwargs={"site": site.slug})


# --- the happy paths ------------------------------------------------------------------------


def test_the_checkin_page_asks_only_what_the_site_switched_on(as_desk, site_a, client_a):
    response = as_desk.get(checkin_url(site_a, client_a))
    assert response.status_code == 200
    page = response.content.decode()
    assert client_a.display_code in page
    assert "first time using" in page
    assert "visibly intoxicated" in page
    assert "pregnant" not in page  # the site does not check pregnancy
    assert "Do they live in" not in page  # nor residency
    assert "or older?" not in page  # born 1985: clearly old enough, so not asked
    assert is_checked(page, "intoxicated", "no")
    assert is_checked(page, "otherwise_location", "not_said")
    assert is_checked(page, "would_use_alone", "not_said")
    assert 'name="idempotency_key"' in page
    assert '<meta name="server-now"' in page
    assert AuditEvent.objects.filter(
        action="client.viewed", object_id=str(client_a.pk), detail__page="checkin"
    ).exists()


def test_a_new_client_is_checked_in_and_waits_in_the_queue(as_desk, desk, site_a, client_a):
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 302
    assert response["Location"] == queue_url(site_a)
    visit = Visit.objects.get()
    assert (visit.site, visit.client, visit.state) == (site_a, client_a, "waiting")
    assert visit.planned_route == "inject"
    assert list(visit.planned_substances.values_list("code", flat=True)) == ["heroin"]
    assert (visit.otherwise_location, visit.would_use_alone) == ("street", "yes")
    assert visit.eligibility == {"first_time": False, "intoxicated": False}
    assert visit.created_by == desk
    event = AuditEvent.objects.get(action="visit.checked_in")
    assert (event.object_id, event.actor_label, event.site_id) == (
        str(visit.pk),
        "dana.desk",
        site_a.pk,
    )
    assert event.detail == {"anonymous": False, "route": "inject", "substances": ["heroin"]}
    queue = as_desk.get(response["Location"]).content.decode()
    assert f"{client_a.display_code} is checked in and waiting." in queue


def test_several_substances_can_be_planned(as_desk, site_a, client_a):
    picked = [substance(site_a, "heroin").pk, substance(site_a, "crack").pk]
    as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a, substances=picked))
    visit = Visit.objects.get()
    assert sorted(visit.planned_substances.values_list("code", flat=True)) == ["crack", "heroin"]


def test_a_returning_client_is_checked_in_with_a_handful_of_taps(as_desk, site_a, client_a, desk):
    first = checkin_form(site_a, route="smoke", substances=[substance(site_a, "crack").pk])
    as_desk.post(checkin_url(site_a, client_a), first)
    actions.check_out(visit=Visit.objects.get(), by=desk)

    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    assert "first time using" not in page  # admitted before: not asked again
    assert is_checked(page, "substances", substance(site_a, "crack").pk)
    assert is_checked(page, "route", "smoke")
    assert is_checked(page, "intoxicated", "no")

    # Nothing to choose: the worker taps "Check in" and the preselected answers go.
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    response = as_desk.post(
        checkin_url(site_a, client_a),
        {
            "idempotency_key": key,
            "substances": [substance(site_a, "crack").pk],
            "route": "smoke",
            "intoxicated": "no",
            "otherwise_location": "not_said",
            "would_use_alone": "not_said",
        },
    )
    assert response.status_code == 302
    second = Visit.objects.get(state="waiting")
    assert second.planned_route == "smoke"
    assert second.eligibility == {"intoxicated": False}


def test_only_the_sites_routes_are_offered_and_a_single_one_is_preselected(
    as_desk, site_a, client_a
):
    site_a.permitted_routes = ["inject"]
    site_a.save()
    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    assert is_checked(page, "route", "inject")
    assert 'value="smoke"' not in page


def test_a_route_the_site_does_not_permit_is_refused(as_desk, site_a, client_a):
    site_a.permitted_routes = ["inject"]
    site_a.save()
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a, route="smoke"))
    assert response.status_code == 200
    assert "Choose one of the routes this site allows." in response.content.decode()
    assert not Visit.objects.exists()


def test_the_action_refuses_a_route_the_site_does_not_permit(site_a, client_a, desk):
    site_a.permitted_routes = ["inject"]
    site_a.save()
    with pytest.raises(ActionRefused, match="That route is not allowed at Riverside"):
        actions.check_in(
            site=site_a,
            client=client_a,
            planned_route="smoke",
            planned_substances=[substance(site_a)],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility={"first_time": False, "intoxicated": False},
            by=desk,
            idempotency_key=uuid.uuid4(),
        )
    assert not Visit.objects.exists()


# --- anonymous visits -------------------------------------------------------------------------


def test_an_anonymous_visit_is_checked_in_where_the_site_allows_it(as_desk, site_a):
    page = as_desk.get(anonymous_url(site_a)).content.decode()
    assert "Check in an anonymous visit" in page
    assert "or older?" in page  # no year of birth: the age is asked
    response = as_desk.post(anonymous_url(site_a), checkin_form(site_a, old_enough="yes"))
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.anonymous, visit.client, visit.state) == (True, None, "waiting")
    assert visit.eligibility == {"old_enough": True, "first_time": False, "intoxicated": False}
    assert AuditEvent.objects.filter(action="visit.checked_in", object_id=str(visit.pk)).exists()


def test_a_site_without_anonymous_visits_refuses_them_clearly(as_other_site_worker, site_b):
    response = as_other_site_worker.get(anonymous_url(site_b))
    assert response.status_code == 404
    assert "This site does not take anonymous visits" in response.content.decode()
    response = as_other_site_worker.post(anonymous_url(site_b), checkin_form(site_b))
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_the_action_refuses_an_anonymous_visit_where_the_site_does_not_allow_it(site_b, desk):
    with pytest.raises(ActionRefused, match="Eastgate does not take anonymous visits"):
        actions.check_in(
            site=site_b,
            client=None,
            anonymous=True,
            planned_route="inject",
            planned_substances=[substance(site_b)],
            otherwise_location="street",
            would_use_alone="yes",
            eligibility={"old_enough": True, "first_time": False, "intoxicated": False},
            by=desk,
            idempotency_key=uuid.uuid4(),
        )
    assert not Visit.objects.exists()


# --- opening hours ----------------------------------------------------------------------------


def test_nobody_is_checked_in_after_closing(desk, site_a, client_a, afternoon):
    afternoon.move_to(dt.datetime(2026, 3, 10, 21, 30, tzinfo=LONDON))  # Tuesday evening
    as_desk = login(desk)  # a fresh session after the jump in time
    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    assert "Riverside is closed now. It opens again on Wednesday 11 March at 09:00." in page
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 200
    assert "Riverside is closed now" in response.content.decode()
    assert not Visit.objects.exists()


@pytest.mark.parametrize(
    ("when", "admitted"),
    [
        (dt.datetime(2026, 3, 10, 8, 59, tzinfo=LONDON), False),
        (dt.datetime(2026, 3, 10, 9, 0, tzinfo=LONDON), True),
        (dt.datetime(2026, 3, 10, 23, 45, tzinfo=LONDON), True),
        (dt.datetime(2026, 3, 11, 2, 59, tzinfo=LONDON), True),  # still Tuesday's session
        (dt.datetime(2026, 3, 11, 3, 0, tzinfo=LONDON), False),
    ],
)
def test_a_site_open_from_nine_until_three_checks_in_across_midnight(
    site_a, client_a, desk, when, admitted
):
    OpeningHours.objects.filter(site=site_a).update(opens=dt.time(9), closes=dt.time(3))
    with time_machine.travel(when, tick=False):
        arguments = {
            "site": site_a,
            "client": client_a,
            "planned_route": "inject",
            "planned_substances": [substance(site_a)],
            "otherwise_location": "street",
            "would_use_alone": "yes",
            "eligibility": {"first_time": False, "intoxicated": False},
            "by": desk,
            "idempotency_key": uuid.uuid4(),
        }
        if admitted:
            assert actions.check_in(**arguments).state == "waiting"
        else:
            with pytest.raises(ActionRefused, match="Riverside is closed now"):
                actions.check_in(**arguments)
    assert Visit.objects.exists() == admitted


# --- one visit, however often the form is sent ------------------------------------------------


def test_the_same_checkin_sent_five_times_makes_one_visit(as_desk, site_a, client_a):
    form = checkin_form(site_a)
    for _ in range(5):
        response = as_desk.post(checkin_url(site_a, client_a), form)
        assert response.status_code == 302
    assert Visit.objects.count() == 1
    assert AuditEvent.objects.filter(action="visit.checked_in").count() == 1


def test_the_same_key_with_different_details_is_refused(as_desk, site_a, client_a):
    form = checkin_form(site_a)
    as_desk.post(checkin_url(site_a, client_a), form)
    response = as_desk.post(checkin_url(site_a, client_a), {**form, "route": "smoke"})
    assert response.status_code == 200
    assert "This form was already sent with different details" in response.content.decode()
    assert Visit.objects.get().planned_route == "inject"


def test_a_client_already_waiting_cannot_be_checked_in_again(as_desk, as_nurse, site_a, client_a):
    as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    # A colleague at the other desk, with their own form.
    response = as_nurse.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        f"{client_a.display_code} is already waiting in the queue at Riverside (arrived 14:00)."
        in page
    )
    assert Visit.objects.count() == 1
    # And the page says so before anyone fills anything in.
    page = as_nurse.get(checkin_url(site_a, client_a)).content.decode()
    assert "already waiting in the queue" in page
    assert ">Check in</button>" not in page


def test_a_client_in_a_space_is_named_as_being_there(site_a, client_a, desk, as_desk):
    as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    Visit.objects.update(state="in_space")
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert "is already in a space at Riverside" in response.content.decode()
    assert Visit.objects.count() == 1


def test_a_double_check_in_that_slips_past_every_check_is_stopped_by_the_database(
    site_a, client_a, desk, monkeypatch
):
    """Two desks at the same instant: the second passes the open-visit check before the first
    commits. The database's one-open-visit rule still lets only one through."""
    arguments = {
        "site": site_a,
        "client": client_a,
        "planned_route": "inject",
        "planned_substances": [substance(site_a)],
        "otherwise_location": "street",
        "would_use_alone": "yes",
        "eligibility": {"first_time": False, "intoxicated": False},
        "by": desk,
    }
    actions.check_in(**arguments, idempotency_key=uuid.uuid4())
    # Blind the open-visit check, as a concurrent transaction would be.
    monkeypatch.setattr(Visit, "OPEN_STATES", ())
    with pytest.raises(ActionRefused, match="was checked in by someone else a moment ago"):
        actions.check_in(**arguments, idempotency_key=uuid.uuid4())
    assert Visit.objects.count() == 1


def test_the_database_allows_one_open_visit_per_client_and_site(site_a, site_b, client_a, desk):
    Visit.objects.create(site=site_a, client=client_a, arrived_at=AFTERNOON, created_by=desk)
    # The same client may have an open visit at another site (a forgotten check-out there).
    Visit.objects.create(site=site_b, client=client_a, arrived_at=AFTERNOON, created_by=desk)
    with pytest.raises(IntegrityError):
        Visit.objects.create(site=site_a, client=client_a, arrived_at=AFTERNOON, created_by=desk)


# --- bans and eligibility ---------------------------------------------------------------------


def test_a_banned_client_is_shown_in_red_and_offered_only_a_turn_away(
    as_desk, site_a, client_a, ban
):
    ban(client_a, site_a)
    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    assert 'class="alert-box"' in page
    assert "Banned from Riverside until 17 March 2026 14:00: Violence or threats." in page
    assert "Turn away (banned)" in page
    assert ">Check in</button>" not in page
    assert f'name="reason" value="{reason(site_a, "banned").pk}"' in page


def test_a_banned_client_cannot_be_checked_in(as_desk, site_a, client_a, ban):
    ban(client_a, site_a)
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 200
    assert "Banned from Riverside" in response.content.decode()
    assert not Visit.objects.exists()
    assert not AuditEvent.objects.filter(action="visit.checked_in").exists()


def test_the_turn_away_offered_to_a_banned_client_records_the_ban(as_desk, site_a, client_a, ban):
    ban(client_a, site_a)
    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    response = as_desk.post(
        reverse("floor:turnaway", kwargs={"site": site_a.slug}),
        {"idempotency_key": key, "client": client_a.pk, "reason": reason(site_a, "banned").pk},
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.state, visit.client, reason_code(visit)) == (
        "turned_away",
        client_a,
        "banned",
    )


def test_when_the_ban_expires_the_client_is_let_in(site_a, client_a, ban, desk, afternoon):
    ban(client_a, site_a, days=2)
    afternoon.move_to(AFTERNOON + dt.timedelta(days=2, minutes=1))
    as_desk = login(desk)
    page = as_desk.get(checkin_url(site_a, client_a)).content.decode()
    assert "Banned from" not in page
    assert ">Check in</button>" in page
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 302
    assert Visit.objects.get().state == "waiting"


def test_a_network_wide_ban_set_elsewhere_stops_check_in_here(as_desk, site_a, client_a, ban):
    ban(client_a, None)
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert "Banned from every site" in response.content.decode()
    assert not Visit.objects.exists()


def test_failing_eligibility_offers_a_turn_away_with_the_matching_reason(as_desk, site_a, client_a):
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a, intoxicated="yes"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not eligible today" in page
    assert "They are visibly intoxicated." in page
    assert is_checked(page, "reason", reason(site_a, "intoxicated").pk)
    assert not Visit.objects.exists()

    # The worker records it with one more tap; the answers go with it.
    key = page.split('action="/sites/riverside/desk/turnaway/"')[1]
    key = key.split('name="idempotency_key" value="')[1].split('"')[0]
    eligibility = '{"first_time": false, "intoxicated": true}'
    response = as_desk.post(
        reverse("floor:turnaway", kwargs={"site": site_a.slug}),
        {
            "idempotency_key": key,
            "client": client_a.pk,
            "reason": reason(site_a, "intoxicated").pk,
            "eligibility": eligibility,
        },
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.state == "turned_away"
    assert reason_code(visit) == "intoxicated"
    assert visit.eligibility == {"first_time": False, "intoxicated": True}


def test_a_client_known_to_be_under_age_is_offered_only_a_turn_away(as_desk, site_a, register):
    young = register(site_a, year=2010)
    page = as_desk.get(checkin_url(site_a, young)).content.decode()
    assert "Born in 2010: under 18." in page
    assert is_checked(page, "reason", reason(site_a, "under_age").pk)
    assert ">Check in</button>" not in page
    response = as_desk.post(checkin_url(site_a, young), checkin_form(site_a))
    assert "Born in 2010: under 18." in response.content.decode()
    assert not Visit.objects.exists()


def test_in_the_borderline_year_the_desk_confirms_the_age(as_desk, site_a, register):
    borderline = register(site_a, year=2008)
    page = as_desk.get(checkin_url(site_a, borderline)).content.decode()
    assert "Are they 18 or older?" in page
    response = as_desk.post(checkin_url(site_a, borderline), checkin_form(site_a, old_enough="no"))
    assert "They are under the minimum age." in response.content.decode()
    assert not Visit.objects.exists()
    response = as_desk.post(checkin_url(site_a, borderline), checkin_form(site_a, old_enough="yes"))
    assert response.status_code == 302
    assert Visit.objects.get().eligibility["old_enough"] is True


def test_an_unanswered_question_asks_for_an_answer_and_writes_nothing(as_desk, site_a, client_a):
    response = as_desk.post(checkin_url(site_a, client_a), checkin_form(site_a, first_time=None))
    assert response.status_code == 200
    assert "Answer this question." in response.content.decode()
    assert not Visit.objects.exists()


# --- who may check people in ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["as_desk", "as_nurse", "as_manager", "as_admin"])
def test_desk_floor_managers_and_admins_check_people_in(persona, request, site_a, client_a):
    browser = request.getfixturevalue(persona)
    response = browser.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 302
    assert Visit.objects.count() == 1


def test_an_evaluator_never_reaches_the_checkin_page(as_evaluator, site_a, client_a):
    assert as_evaluator.get(checkin_url(site_a, client_a)).status_code == 403
    assert as_evaluator.post(checkin_url(site_a, client_a), checkin_form(site_a)).status_code == 403
    assert not Visit.objects.exists()


def test_another_sites_worker_gets_404(as_other_site_worker, site_a, client_a):
    response = as_other_site_worker.post(checkin_url(site_a, client_a), checkin_form(site_a))
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_a_client_of_another_network_is_not_found(as_desk, site_a, other_network_site, register):
    stranger = register(other_network_site)
    assert as_desk.get(checkin_url(site_a, stranger)).status_code == 404
    assert as_desk.post(checkin_url(site_a, stranger), checkin_form(site_a)).status_code == 404
    assert not Visit.objects.exists()
