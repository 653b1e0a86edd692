"""Recording drug checks: what a strip or FTIR can say, before or after use, the dose plan, the
link to a visit or none (walk-in), and only where the site offers drug checking."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from saferoom.care.checking import actions
from saferoom.care.checking.models import DrugCheck
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent, User
from saferoom.floor.models import Visit
from saferoom.sites.models import Site
from tests.care.checking.conftest import check_form, substance


def new_url(site: Site) -> str:
    return reverse("checking:check_new", kwargs={"site": site.slug})


def visit_url(site: Site, visit: Visit) -> str:
    return reverse("checking:check_new_for_visit", kwargs={"site": site.slug, "pk": visit.pk})


def list_url(site: Site) -> str:
    return reverse("checking:checks", kwargs={"site": site.slug})


def record(site: Site, by: User, **kw: Any) -> DrugCheck:
    args: dict[str, Any] = {
        "site": site,
        "visit": None,
        "method": "fentanyl_strip",
        "strip_result": "positive",
        "expected": None,
        "found": [],
        "found_other": "",
        "timing": "before",
        "decision": "reduce_dose",
        "by": by,
        "idempotency_key": uuid.uuid4(),
    }
    args.update(kw)
    return actions.record_check(**args)


# --- What is recorded ---------------------------------------------------------------------------


def test_a_positive_fentanyl_strip_records_fentanyl_found_and_an_audit_event(site_a, nurse):
    check = record(site_a, nurse, expected=substance(site_a, "heroin"))
    assert check.found == ["fentanyl"]
    assert check.visit is None
    assert AuditEvent.objects.filter(action="drug_check.recorded", object_id=str(check.pk)).exists()


def test_a_negative_strip_records_nothing_found(site_a, nurse):
    check = record(site_a, nurse, strip_result="negative", decision="as_planned")
    assert check.found == []
    assert check.strip_result == "negative"


def test_an_ftir_check_records_several_findings_and_the_other_text(site_a, nurse):
    check = record(
        site_a,
        nurse,
        method="ftir",
        strip_result="",
        found=["xylazine", "other", "fentanyl"],
        found_other="an unknown cut",
        timing="after",
        decision="",
    )
    assert check.found == ["fentanyl", "xylazine", "other"]
    assert check.found_labels() == ["Fentanyl", "Xylazine", "an unknown cut"]
    assert check.decision == ""


def test_a_check_can_be_linked_to_a_visit(site_a, nurse, visit_a):
    check = record(site_a, nurse, visit=visit_a)
    assert check.visit == visit_a


def test_an_action_can_write_history_at_a_given_time(site_a, nurse):
    earlier = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert record(site_a, nurse, at=earlier).checked_at == earlier


# --- Refusals (through the action) ------------------------------------------------------------


REFUSED = [
    ("strip_without_result", {"strip_result": ""}, "strip_result"),
    ("strip_with_unknown_result", {"strip_result": "maybe"}, "strip_result"),
    ("strip_claiming_another_substance", {"found": ["nitazene"]}, "found"),
    ("strip_with_other_text", {"found_other": "powder"}, "found"),
    (
        "negative_strip_with_its_substance_found",
        {"strip_result": "negative", "found": ["fentanyl"]},
        "found",
    ),
    ("ftir_with_a_strip_result", {"method": "ftir", "strip_result": "positive"}, "strip_result"),
    ("ftir_with_nothing_found", {"method": "ftir", "strip_result": ""}, "found"),
    (
        "as_expected_with_a_finding",
        {"method": "ftir", "strip_result": "", "found": ["as_expected", "fentanyl"]},
        "found",
    ),
    (
        "other_without_saying_what",
        {"method": "other", "strip_result": "", "found": ["other"]},
        "found_other",
    ),
    (
        "what_without_ticking_other",
        {"method": "ftir", "strip_result": "", "found": ["fentanyl"], "found_other": "x"},
        "found_other",
    ),
    ("unknown_finding", {"method": "ftir", "strip_result": "", "found": ["sugar"]}, "found"),
    ("unknown_method", {"method": "taste"}, "method"),
    ("after_use_with_a_dose_plan", {"timing": "after", "decision": "reduce_dose"}, "decision"),
    ("before_use_without_a_plan", {"decision": ""}, "decision"),
    ("no_timing", {"timing": "during"}, "timing"),
]


@pytest.mark.parametrize(("case", "change", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_bad_combination_is_refused_and_changes_nothing(site_a, nurse, case, change, code):
    with pytest.raises(ActionRefused) as refused:
        record(site_a, nurse, **change)
    assert refused.value.code == code
    assert not DrugCheck.objects.exists()


def test_a_check_at_a_site_without_drug_checking_is_refused(site_a, nurse):
    site_a.drug_checking_allowed = False
    site_a.save(update_fields=["drug_checking_allowed"])
    with pytest.raises(ActionRefused) as refused:
        record(site_a, nurse)
    assert refused.value.code == "not_offered"
    assert "does not offer drug checking" in refused.value.message
    assert not DrugCheck.objects.exists()


def test_another_networks_substance_is_refused(site_a, nurse, other_network_site):
    with pytest.raises(ActionRefused) as refused:
        record(site_a, nurse, expected=substance(other_network_site, "heroin"))
    assert refused.value.code == "expected"


def test_another_sites_visit_is_refused(site_b, nurse, visit_a):
    with pytest.raises(ActionRefused) as refused:
        record(site_b, nurse, visit=visit_a)
    assert refused.value.code == "visit"


def test_the_database_refuses_a_strip_without_a_result(site_a, nurse):
    check = record(site_a, nurse)
    with pytest.raises(IntegrityError), transaction.atomic():
        DrugCheck.objects.filter(pk=check.pk).update(strip_result="")


def test_the_database_refuses_a_dose_plan_after_use(site_a, nurse):
    check = record(site_a, nurse)
    with pytest.raises(IntegrityError), transaction.atomic():
        DrugCheck.objects.filter(pk=check.pk).update(timing="after")


# --- Idempotency ------------------------------------------------------------------------------


def test_the_same_submission_twice_records_one_check(site_a, nurse):
    key = uuid.uuid4()
    first = record(site_a, nurse, idempotency_key=key)
    again = record(site_a, nurse, idempotency_key=key)
    assert first.pk == again.pk
    assert DrugCheck.objects.count() == 1


def test_the_same_key_with_other_details_is_refused(site_a, nurse):
    key = uuid.uuid4()
    record(site_a, nurse, idempotency_key=key)
    with pytest.raises(ActionRefused) as refused:
        record(site_a, nurse, idempotency_key=key, strip_result="negative", decision="as_planned")
    assert refused.value.code == "key_reused"
    assert DrugCheck.objects.count() == 1


def test_a_double_tap_on_the_form_records_one_check(as_nurse, site_a):
    data = check_form()
    assert as_nurse.post(new_url(site_a), data).status_code == 302
    assert as_nurse.post(new_url(site_a), data).status_code == 302
    assert DrugCheck.objects.count() == 1


# --- Through HTTP -----------------------------------------------------------------------------


def test_a_nurse_records_a_walk_in_check_and_sees_it_in_the_list(as_nurse, site_a):
    heroin = substance(site_a, "heroin")
    response = as_nurse.post(new_url(site_a), check_form(expected=str(heroin.pk)), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Drug check recorded. Found: Fentanyl." in page
    assert "Walk-in" in page
    check = DrugCheck.objects.get()
    assert check.expected == heroin
    assert check.visit is None


def test_a_check_started_from_a_visit_is_linked_to_it(as_desk, site_a, visit_a):
    assert as_desk.get(visit_url(site_a, visit_a)).status_code == 200
    response = as_desk.post(
        visit_url(site_a, visit_a),
        check_form(method="ftir", strip_result="", found=["nitazene"]),
    )
    assert response.status_code == 302
    check = DrugCheck.objects.get()
    assert check.visit == visit_a
    assert check.found == ["nitazene"]
    listing = as_desk.get(list_url(site_a)).content.decode()
    assert visit_a.client.display_code in listing


def test_a_bad_combination_over_http_is_shown_next_to_the_field(as_nurse, site_a):
    response = as_nurse.post(new_url(site_a), check_form(strip_result=""))
    assert response.status_code == 200
    page = response.content.decode()
    assert "A test strip shows positive, negative or invalid: choose its result." in page
    assert 'id="id_strip_result_error"' in page
    assert not DrugCheck.objects.exists()


def test_an_after_use_check_with_a_plan_is_refused_over_http(as_nurse, site_a):
    response = as_nurse.post(new_url(site_a), check_form(timing="after"))
    assert "A check after use has no dose plan" in response.content.decode()
    assert not DrugCheck.objects.exists()


def test_a_forged_substance_id_is_a_field_error_not_a_crash(as_nurse, site_a):
    response = as_nurse.post(new_url(site_a), check_form(expected="9" * 400))
    assert response.status_code == 200
    assert "Choose a substance from the list shown." in response.content.decode()
    assert not DrugCheck.objects.exists()


def test_pages_refuse_where_the_site_does_not_offer_drug_checking(as_nurse, site_a, visit_a):
    site_a.drug_checking_allowed = False
    site_a.save(update_fields=["drug_checking_allowed"])
    for url in (list_url(site_a), new_url(site_a), visit_url(site_a, visit_a)):
        response = as_nurse.get(url)
        assert response.status_code == 403
        assert "Riverside does not offer drug checking" in response.content.decode()
    assert as_nurse.post(new_url(site_a), check_form()).status_code == 403
    assert not DrugCheck.objects.exists()


def test_the_visit_care_link_shows_only_where_drug_checking_is_offered(site_a, visit_a):
    html = render_to_string("checking/_visit_actions.html", {"site": site_a, "visit": visit_a})
    assert visit_url(site_a, visit_a) in html
    assert "Drug check" in html
    site_a.drug_checking_allowed = False
    assert "Drug check" not in render_to_string(
        "checking/_visit_actions.html", {"site": site_a, "visit": visit_a}
    )


def test_the_nav_links_to_drug_checking_or_to_the_alerts(as_nurse, site_a):
    page = as_nurse.get(list_url(site_a)).content.decode()
    assert 'aria-current="page">Drug checking</a>' in page
    site_a.drug_checking_allowed = False
    site_a.save(update_fields=["drug_checking_allowed"])
    alerts = reverse("checking:alerts", kwargs={"site": site_a.slug})
    assert (
        f'href="{alerts}" aria-current="page">Drug alerts' in as_nurse.get(alerts).content.decode()
    )


def test_evaluators_never_see_drug_checks(as_evaluator, site_a, visit_a):
    assert as_evaluator.get(list_url(site_a)).status_code == 403
    assert as_evaluator.post(new_url(site_a), check_form()).status_code == 403
    assert not DrugCheck.objects.exists()


def test_another_sites_visit_is_a_404(as_other_site_worker, site_b, visit_a):
    url = reverse("checking:check_new_for_visit", kwargs={"site": site_b.slug, "pk": visit_a.pk})
    assert as_other_site_worker.get(url).status_code == 404


def test_looking_at_the_list_is_audited(as_nurse, site_a, nurse):
    as_nurse.get(list_url(site_a))
    assert AuditEvent.objects.filter(action="drug_check.list_viewed", actor_id=nurse.pk).exists()
