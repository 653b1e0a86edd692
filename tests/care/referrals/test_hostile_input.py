"""Bad, odd or hostile input to the referral pages gets a clear answer, never a server error,
and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from saferoom.care.referrals.models import FollowUp, IdentityAccessGrant, Referral
from tests.care.referrals.conftest import form, make_visit, target
from tests.versions import version_of


def new_url(site_a, query: str = "") -> str:
    return reverse("referrals:new", kwargs={"site": site_a.slug}) + query


@pytest.mark.parametrize("query", ["?visit=abc", "?client=", "?visit=1e9&client=x", "?visit=-1"])
def test_odd_addresses_ask_for_the_client_or_are_not_found(as_nurse, site_a, query):
    response = as_nurse.get(new_url(site_a, query))
    assert response.status_code in (200, 404)


def test_an_unknown_visit_is_not_found(as_nurse, site_a):
    assert as_nurse.get(new_url(site_a, "?visit=999999")).status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"target": "'; DROP TABLE referrals_referral; --", "urgency": "routine"},
        {"target": "999999", "urgency": "routine"},
        {"target": "1", "urgency": "<script>alert(1)</script>"},
        {"target": "1", "urgency": "routine", "follow_up_due": "99999-01-01"},
        {"target": "1", "urgency": "routine", "follow_up_due": "x" * 5000},
    ],
)
def test_garbage_in_the_referral_form_changes_nothing(as_nurse, site_a, visit_a, fields):
    response = as_nurse.post(new_url(site_a, f"?visit={visit_a.pk}"), form(**fields))
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert Referral.objects.count() == 0


def test_a_form_without_its_key_asks_for_a_reload(as_nurse, site_a, visit_a):
    response = as_nurse.post(
        new_url(site_a, f"?visit={visit_a.pk}"), {"target": target(site_a).pk, "urgency": "routine"}
    )
    assert "This form is out of date. Reload the page." in response.content.decode()
    assert Referral.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"outcome": "attended", "method": "telepathy"},
        {"outcome": "x" * 300, "method": "phone"},
        {"outcome": "not_yet", "method": "phone", "next_due": "yesterday"},
        {"outcome": "attended", "method": "phone", "note": "n" * 5000},
    ],
)
def test_garbage_in_the_follow_up_form_changes_nothing(as_nurse, referral, fields):
    url = reverse("referrals:follow_up", kwargs={"site": referral.site.slug, "pk": referral.pk})
    assert as_nurse.post(url, form(**fields, version=version_of(referral))).status_code == 200
    assert FollowUp.objects.count() == 0


def test_a_double_submitted_follow_up_is_recorded_once(as_nurse, referral):
    url = reverse("referrals:follow_up", kwargs={"site": referral.site.slug, "pk": referral.pk})
    data = form(outcome="declined", method="phone", version=version_of(referral))
    assert as_nurse.post(url, data).status_code == 302
    assert as_nurse.post(url, data).status_code == 302
    assert FollowUp.objects.count() == 1


def test_linking_with_a_bad_record_id_is_not_found(as_manager, referral):
    url = reverse("referrals:identity_link", kwargs={"site": referral.site.slug, "pk": referral.pk})
    assert as_manager.post(url, {"record": "abc"}).status_code == 404


def test_granting_to_someone_not_on_the_list_is_explained(as_manager, site_a, evaluator):
    url = reverse("referrals:access", kwargs={"site": site_a.slug})
    response = as_manager.post(url, form(user=evaluator.pk, reason="x"))
    assert response.status_code == 200
    assert IdentityAccessGrant.objects.count() == 0


def test_the_due_page_does_not_grow_queries_with_the_list(
    as_desk, site_a, register, refer, desk, django_assert_max_num_queries
):
    for _ in range(12):
        refer(make_visit(site_a, register(site_a), desk), urgency="urgent")
    url = reverse("referrals:due", kwargs={"site": site_a.slug})
    as_desk.get(url)
    with django_assert_max_num_queries(12):
        response = as_desk.get(url)
    assert response.content.decode().count("Follow up ") >= 12
