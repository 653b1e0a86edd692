"""Site details and rules: a manager edits name, kind, time zone, what is allowed and the
eligibility checks; bad or hostile input is refused with a clear message and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites import actions
from saferoom.sites.models import Site
from tests.sites.helpers import audit_count, rules_form
from tests.versions import version_of


def url(site: Site) -> str:
    return reverse("sites:rules", kwargs={"site": site.slug})


def test_a_manager_changes_the_rules_and_it_is_audited(as_manager, site_a, manager):
    data = rules_form(
        site_a,
        name="Riverside Centre",
        kind="mobile",
        time_zone="Europe/Berlin",
        permitted_routes=["inject", "smoke"],
        min_age="16",
        check_pregnancy="on",
        drug_checking_allowed=None,
    )
    response = as_manager.post(url(site_a), data)
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert site_a.name == "Riverside Centre"
    assert site_a.kind == "mobile"
    assert site_a.time_zone == "Europe/Berlin"
    assert site_a.permitted_routes == ["inject", "smoke"]
    assert site_a.min_age == 16
    assert site_a.check_pregnancy is True
    assert site_a.drug_checking_allowed is False
    event = AuditEvent.objects.get(action="site.updated")
    assert event.actor_label == manager.username
    assert event.detail["time_zone"] == {"from": "Europe/London", "to": "Europe/Berlin"}
    page = as_manager.get(response["Location"]).content.decode()
    assert "saved" in page


def test_an_administrator_changes_the_rules_too(as_admin, site_a):
    response = as_admin.post(url(site_a), rules_form(site_a, check_intoxicated=None))
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert site_a.check_intoxicated is False


def test_residency_needs_the_name_of_the_area(as_manager, site_a):
    before = audit_count()
    response = as_manager.post(url(site_a), rules_form(site_a, check_residency="on"))
    assert response.status_code == 200
    assert "Name the area residents must live in" in response.content.decode()
    site_a.refresh_from_db()
    assert site_a.check_residency is False
    assert audit_count() == before

    response = as_manager.post(
        url(site_a), rules_form(site_a, check_residency="on", residency_area="City of Zurich")
    )
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert (site_a.check_residency, site_a.residency_area) == (True, "City of Zurich")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "is not a time zone"),
        ({"time_zone": "../../etc/passwd"}, "is not a time zone"),
        ({"time_zone": "localtime"}, "is not a time zone"),
        ({"time_zone": ""}, "This field is required"),
        ({"permitted_routes": None}, "Allow at least one route on site"),
        ({"permitted_routes": ["inject", "teleport"]}, "Choose routes from the list"),
        ({"kind": "spaceship"}, "Choose fixed site or mobile unit"),
        ({"min_age": "9"}, "from 10 to 30"),
        ({"min_age": "31"}, "from 10 to 30"),
        ({"min_age": "eighteen"}, "from 10 to 30"),
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 121}, "at most 120 characters"),
        ({"name": "<script>alert(1)</script>"}, "&lt; and &gt; are not allowed"),
        ({"name": "Eastgate"}, "There is already a site called"),
        (
            {"check_residency": "on", "residency_area": "<b>Zurich</b>"},
            "&lt; and &gt; are not allowed",
        ),
    ],
)
def test_bad_and_hostile_rules_are_refused_with_a_clear_message(
    as_manager, site_a, site_b, overrides, message
):
    before = audit_count()
    snapshot = Site.objects.filter(pk=site_a.pk).values().get()
    response = as_manager.post(url(site_a), rules_form(site_a, **overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    assert Site.objects.filter(pk=site_a.pk).values().get() == snapshot
    assert audit_count() == before


def test_the_action_refuses_what_the_form_would_have_caught(site_a, manager):
    cases: list[dict[str, Any]] = [
        {"time_zone": "Mars/Olympus"},
        {"permitted_routes": []},
        {"min_age": 99},
        {"check_residency": True, "residency_area": ""},
        {"slug": "hijack"},
    ]
    for changes in cases:
        with pytest.raises(ActionRefused):
            actions.update_site_rules(
                site=site_a, changes=changes, by=manager, expected_version=version_of(site_a)
            )
    site_a.refresh_from_db()
    assert (site_a.time_zone, site_a.min_age, site_a.slug) == ("Europe/London", 18, "riverside")


def test_a_desk_worker_cannot_change_rules_even_by_calling_the_action(site_a, desk):
    with pytest.raises(ActionRefused):
        actions.update_site_rules(
            site=site_a, changes={"min_age": 16}, by=desk, expected_version=version_of(site_a)
        )


def test_a_manager_cannot_change_another_sites_rules(as_manager, site_b):
    response = as_manager.post(url(site_b), rules_form(site_b, min_age="25"))
    assert response.status_code == 404
    site_b.refresh_from_db()
    assert site_b.min_age == 18


def test_saving_without_changes_writes_no_audit_event(as_manager, site_a):
    before = audit_count()
    assert as_manager.post(url(site_a), rules_form(site_a)).status_code == 302
    assert audit_count() == before


def test_an_administrator_can_add_a_mobile_unit(admin, network):
    unit = actions.create_site(
        network=network,
        name="Night van",
        slug="night-van",
        kind="mobile",
        time_zone="Europe/London",
        by=admin,
        idempotency_key="5b3c0b0e-6f0a-4c89-9a40-8c6f0e7e51f1",
    )
    again = actions.create_site(
        network=network,
        name="Night van",
        slug="night-van",
        kind="mobile",
        time_zone="Europe/London",
        by=admin,
        idempotency_key="5b3c0b0e-6f0a-4c89-9a40-8c6f0e7e51f1",
    )
    assert unit.pk == again.pk
    assert Site.objects.filter(slug="night-van").count() == 1
    assert AuditEvent.objects.filter(action="site.created").count() == 1


def test_a_manager_cannot_add_a_site(manager, network):
    with pytest.raises(ActionRefused):
        actions.create_site(network=network, name="Rogue", slug="rogue", by=manager)
    assert not Site.objects.filter(slug="rogue").exists()
