"""Making a referral: from a visit (the usual way) or for a client found by code, with the
follow-up date set by urgency; every refusal leaves nothing behind; a replay makes no second
referral."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.urls import reverse

from saferoom.care.referrals import actions
from saferoom.care.referrals.models import Referral
from saferoom.clients.models import Client
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites.models import CatalogueItem
from tests.care.referrals.conftest import AFTERNOON, form, make_visit, target


def new_url(site: Any, **query: Any) -> str:
    url = reverse("referrals:new", kwargs={"site": site.slug})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


@pytest.mark.parametrize(
    ("urgency", "due"),
    [
        ("urgent", dt.date(2026, 3, 12)),
        ("soon", dt.date(2026, 3, 17)),
        ("routine", dt.date(2026, 3, 24)),
    ],
)
def test_the_follow_up_date_comes_from_the_urgency(refer, visit_a, urgency, due):
    referral = refer(visit_a, urgency=urgency)
    assert referral.follow_up_due == due
    assert referral.status == Referral.Status.MADE
    assert referral.client == visit_a.client
    assert referral.category == "housing"


def test_the_follow_up_date_is_counted_in_the_sites_calendar(refer, visit_a, site_a, afternoon):
    # 23:30 UTC on 10 March is already 11 March in Auckland.
    site_a.time_zone = "Pacific/Auckland"
    site_a.save()
    visit_a.site.refresh_from_db()
    afternoon.move_to(dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC))
    assert refer(visit_a, urgency="urgent").follow_up_due == dt.date(2026, 3, 13)


def test_a_chosen_follow_up_date_is_kept(refer, visit_a):
    referral = refer(visit_a, follow_up_due=dt.date(2026, 3, 11))
    assert referral.follow_up_due == dt.date(2026, 3, 11)


def test_making_a_referral_is_audited_without_personal_data(referral, nurse):
    event = AuditEvent.objects.get(action="referral.made")
    assert event.actor_id == nurse.pk
    assert event.object_id == str(referral.pk)
    assert referral.client.display_code in event.object_label
    assert event.detail["target"] == "housing_options"
    assert event.detail["urgency"] == "routine"


def test_a_replayed_form_makes_one_referral(visit_a, nurse, site_a):
    key = uuid.uuid4()
    kwargs = {
        "site": site_a,
        "visit": visit_a,
        "target": target(site_a),
        "urgency": "soon",
        "by": nurse,
    }
    first = actions.make_referral(idempotency_key=key, **kwargs)
    again = actions.make_referral(idempotency_key=key, **kwargs)
    assert first.pk == again.pk
    assert Referral.objects.count() == 1


def test_the_same_key_with_other_details_is_refused(visit_a, nurse, site_a):
    key = uuid.uuid4()
    actions.make_referral(
        site=site_a,
        visit=visit_a,
        target=target(site_a),
        urgency="soon",
        by=nurse,
        idempotency_key=key,
    )
    with pytest.raises(ActionRefused) as refused:
        actions.make_referral(
            site=site_a,
            visit=visit_a,
            target=target(site_a, "gp"),
            urgency="soon",
            by=nurse,
            idempotency_key=key,
        )
    assert refused.value.code == "key_reused"
    assert Referral.objects.count() == 1


def test_an_anonymous_visit_can_be_referred_without_a_client(site_a, desk, refer):
    visit = make_visit(site_a, None, desk)
    referral = refer(visit)
    assert referral.client is None
    assert referral.who() == "Anonymous visitor"


# --- refusals ------------------------------------------------------------------------------


def refused(**kwargs: Any) -> Any:
    with pytest.raises(ActionRefused) as caught:
        actions.make_referral(idempotency_key=uuid.uuid4(), **kwargs)
    assert Referral.objects.count() == 0
    return caught.value


def test_a_target_of_another_network_is_refused(site_a, visit_a, nurse, other_network_site):
    elsewhere = CatalogueItem.objects.get(
        network=other_network_site.network, kind="referral_target", code="gp", site=None
    )
    error = refused(site=site_a, visit=visit_a, target=elsewhere, urgency="routine", by=nurse)
    assert error.code == "bad_target"


def test_another_sites_own_target_is_refused(site_a, site_b, visit_a, nurse):
    theirs = CatalogueItem.objects.create(
        network=site_b.network,
        site=site_b,
        kind="referral_target",
        code="eastgate_hostel",
        label="Eastgate hostel",
        category="housing",
    )
    error = refused(site=site_a, visit=visit_a, target=theirs, urgency="routine", by=nurse)
    assert error.code == "bad_target"


def test_a_retired_target_is_refused(site_a, visit_a, nurse):
    retired = target(site_a, "legal_advice")
    retired.active = False
    retired.save()
    assert (
        refused(site=site_a, visit=visit_a, target=retired, urgency="routine", by=nurse).code
        == "bad_target"
    )


def test_a_substance_is_not_a_referral_target(site_a, visit_a, nurse):
    heroin = CatalogueItem.objects.get(network=site_a.network, kind="substance", code="heroin")
    assert (
        refused(site=site_a, visit=visit_a, target=heroin, urgency="routine", by=nurse).code
        == "bad_target"
    )


def test_an_unknown_urgency_is_refused(site_a, visit_a, nurse):
    error = refused(site=site_a, visit=visit_a, target=target(site_a), urgency="whenever", by=nurse)
    assert error.code == "bad_urgency"


def test_a_follow_up_before_the_referral_is_refused(site_a, visit_a, nurse):
    error = refused(
        site=site_a,
        visit=visit_a,
        target=target(site_a),
        urgency="routine",
        by=nurse,
        follow_up_due=dt.date(2026, 3, 9),
    )
    assert error.code == "bad_due"
    assert "Tuesday 10 March 2026" in error.message


def test_a_follow_up_more_than_a_year_away_is_refused(site_a, visit_a, nurse):
    error = refused(
        site=site_a,
        visit=visit_a,
        target=target(site_a),
        urgency="routine",
        by=nurse,
        follow_up_due=dt.date(2027, 3, 12),
    )
    assert error.code == "bad_due"


def test_a_visit_of_another_site_is_refused(site_a, site_b, register, nurse, desk):
    theirs = make_visit(site_b, register(site_b), desk)
    error = refused(site=site_a, visit=theirs, target=target(site_a), urgency="routine", by=nurse)
    assert error.code == "bad_visit"


def test_a_visit_and_a_different_client_are_refused(site_a, visit_a, register, nurse):
    error = refused(
        site=site_a,
        visit=visit_a,
        client=register(site_a),
        target=target(site_a),
        urgency="routine",
        by=nurse,
    )
    assert error.code == "bad_client"


def test_nobody_to_refer_is_refused(site_a, nurse):
    assert (
        refused(site=site_a, target=target(site_a), urgency="routine", by=nurse).code
        == "bad_client"
    )


def test_a_client_of_another_network_is_refused(site_a, nurse, register, other_network_site):
    stranger = register(other_network_site)
    error = refused(
        site=site_a, client=stranger, target=target(site_a), urgency="routine", by=nurse
    )
    assert error.code == "bad_client"


def test_a_merged_client_code_is_refused(site_a, nurse, register):
    old, kept = register(site_a), register(site_a)
    Client.objects.filter(pk=old.pk).update(merged_into=kept, merged_at=AFTERNOON)
    old.refresh_from_db()
    error = refused(site=site_a, client=old, target=target(site_a), urgency="routine", by=nurse)
    assert error.code == "merged_client"


def test_the_database_refuses_a_referral_for_nobody(site_a, nurse):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            site=site_a,
            target=target(site_a),
            category="housing",
            urgency="routine",
            made_at=AFTERNOON,
            made_by=nurse,
            follow_up_due=dt.date(2026, 3, 24),
        )


def test_the_database_refuses_a_closed_referral_without_who_closed_it(referral):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(status="attended")


# --- through HTTP ----------------------------------------------------------------------------


def test_a_nurse_makes_a_referral_from_a_visit(as_nurse, site_a, visit_a):
    response = as_nurse.get(new_url(site_a, visit=visit_a.pk))
    assert response.status_code == 200
    assert visit_a.client.display_code in response.content.decode()
    response = as_nurse.post(
        new_url(site_a, visit=visit_a.pk),
        form(target=target(site_a, "bbv_team").pk, urgency="urgent", follow_up_due=""),
        follow=True,
    )
    referral = Referral.objects.get()
    assert referral.visit == visit_a
    assert referral.urgency == "urgent"
    assert response.redirect_chain[-1][0] == reverse(
        "referrals:detail", kwargs={"site": site_a.slug, "pk": referral.pk}
    )
    assert "Referral made" in response.content.decode()


@pytest.mark.parametrize("persona", ["as_desk", "as_manager", "as_admin"])
def test_desk_managers_and_admins_make_referrals_too(request, persona, site_a, visit_a):
    browser = request.getfixturevalue(persona)
    response = browser.post(
        new_url(site_a, visit=visit_a.pk), form(target=target(site_a).pk, urgency="routine")
    )
    assert response.status_code == 302
    assert Referral.objects.count() == 1


def test_a_double_submitted_form_makes_one_referral(as_nurse, site_a, visit_a):
    data = form(target=target(site_a).pk, urgency="routine")
    assert as_nurse.post(new_url(site_a, visit=visit_a.pk), data).status_code == 302
    assert as_nurse.post(new_url(site_a, visit=visit_a.pk), data).status_code == 302
    assert Referral.objects.count() == 1


def test_an_evaluator_cannot_make_or_see_referrals(as_evaluator, site_a, visit_a):
    assert as_evaluator.get(new_url(site_a, visit=visit_a.pk)).status_code == 403
    response = as_evaluator.post(
        new_url(site_a, visit=visit_a.pk), form(target=target(site_a).pk, urgency="routine")
    )
    assert response.status_code == 403
    assert Referral.objects.count() == 0


def test_another_sites_worker_gets_not_found(as_other_site_worker, site_a, visit_a):
    response = as_other_site_worker.post(
        new_url(site_a, visit=visit_a.pk), form(target=target(site_a).pk, urgency="routine")
    )
    assert response.status_code == 404
    assert Referral.objects.count() == 0


def test_a_visit_of_another_site_in_the_address_is_not_found(
    as_nurse, site_a, site_b, register, desk
):
    theirs = make_visit(site_b, register(site_b), desk)
    assert as_nurse.get(new_url(site_a, visit=theirs.pk)).status_code == 404


def test_a_missing_choice_is_shown_next_to_the_field_and_nothing_is_made(as_nurse, site_a, visit_a):
    response = as_nurse.post(new_url(site_a, visit=visit_a.pk), form(urgency="routine"))
    assert response.status_code == 200
    assert "Choose where to refer them." in response.content.decode()
    assert Referral.objects.count() == 0


def test_a_bad_date_is_explained_and_nothing_is_made(as_nurse, site_a, visit_a):
    response = as_nurse.post(
        new_url(site_a, visit=visit_a.pk),
        form(target=target(site_a).pk, urgency="routine", follow_up_due="31/02/2026"),
    )
    assert "Type the date as day/month/year." in response.content.decode()
    assert Referral.objects.count() == 0


def test_a_refusal_from_the_action_is_shown_on_the_form(as_nurse, site_a, visit_a):
    response = as_nurse.post(
        new_url(site_a, visit=visit_a.pk),
        form(target=target(site_a).pk, urgency="routine", follow_up_due="2026-03-01"),
    )
    assert response.status_code == 200
    assert "cannot be before the referral" in response.content.decode()
    assert Referral.objects.count() == 0


def test_a_walk_in_is_found_by_code_and_then_referred(as_desk, site_a, client_a):
    response = as_desk.post(new_url(site_a), {"code": client_a.display_code.lower()})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?client={client_a.pk}")
    response = as_desk.post(
        response["Location"], form(target=target(site_a, "gp").pk, urgency="soon")
    )
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.client == client_a
    assert referral.visit is None


def test_an_unknown_code_says_so(as_desk, site_a):
    from saferoom.clients.codes import new_display_code

    response = as_desk.post(new_url(site_a), {"code": new_display_code()})
    assert "No client in this network has that code" in response.content.decode()


def test_a_client_the_worker_cannot_reach_is_not_found(
    as_other_site_worker, site_b, register, site_a
):
    stranger = register(site_a)  # registered and seen only at Riverside
    assert as_other_site_worker.get(new_url(site_b, client=stranger.pk)).status_code == 404


def test_the_visit_page_lists_its_referrals(as_nurse, site_a, visit_a, refer):
    refer(visit_a, code="gp")
    response = as_nurse.get(
        reverse("referrals:visit", kwargs={"site": site_a.slug, "pk": visit_a.pk})
    )
    page = response.content.decode()
    assert "GP or primary care" in page
    assert f"?visit={visit_a.pk}" in page


def test_the_visit_care_partial_offers_a_referral(site_a, visit_a, refer, rf):
    from django.template.loader import render_to_string

    refer(visit_a, code="gp")
    html = render_to_string("referrals/_visit_actions.html", {"site": site_a, "visit": visit_a})
    assert f"/sites/riverside/referrals/new/?visit={visit_a.pk}" in html
    assert "GP or primary care" in html


def test_a_mistyped_code_is_explained_not_a_server_error(as_desk, site_a):
    response = as_desk.post(new_url(site_a), {"code": "ZZZ-ZZZ"})
    assert response.status_code == 200
    assert "Client codes never use the characters" in response.content.decode()
