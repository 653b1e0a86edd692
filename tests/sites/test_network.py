"""Network settings (administrators only): the client-code scheme, whose change needs an
explicit confirmation, and the first-visit intake questions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.core.roles import Role
from saferoom.sites import actions
from saferoom.sites.models import Network, Site
from tests.conftest import make_user
from tests.sites.helpers import audit_count
from tests.versions import version_of


def url(site: Site) -> str:
    return reverse("sites:network", kwargs={"site": site.slug})


def test_the_page_warns_about_changing_the_scheme(as_admin, site_a):
    html = as_admin.get(url(site_a)).content.decode()
    assert "Think before changing the client-code scheme" in html
    assert "found by their code" in html


def test_changing_the_scheme_needs_confirmation(as_admin, site_a, network):
    data = {
        "client_code_scheme": "chosen_name",
        "intake_questions": ["past_overdoses"],
        "version": "1",
    }
    response = as_admin.post(url(site_a), data)
    assert response.status_code == 200
    assert "Tick this box to confirm" in response.content.decode()
    network.refresh_from_db()
    assert network.client_code_scheme == "initials_dob_sex"
    assert not AuditEvent.objects.filter(action="network.updated").exists()

    response = as_admin.post(url(site_a), {**data, "confirm_scheme_change": "on"})
    assert response.status_code == 302
    network.refresh_from_db()
    assert network.client_code_scheme == "chosen_name"
    assert network.intake_questions == ["past_overdoses"]
    event = AuditEvent.objects.get(action="network.updated")
    assert event.detail["client_code_scheme"] == {"from": "initials_dob_sex", "to": "chosen_name"}


def test_intake_questions_alone_need_no_confirmation(as_admin, site_a, network):
    data = {
        "client_code_scheme": "initials_dob_sex",
        "intake_questions": ["housing_status", "years_of_use"],
        "version": "1",
    }
    assert as_admin.post(url(site_a), data).status_code == 302
    network.refresh_from_db()
    # Kept in the order the questions are asked, whatever order the browser sent them in.
    assert network.intake_questions == ["years_of_use", "housing_status"]


def test_no_intake_questions_at_all_is_allowed(as_admin, site_a, network):
    data = {"client_code_scheme": "initials_dob_sex", "version": "1"}
    assert as_admin.post(url(site_a), data).status_code == 302
    network.refresh_from_db()
    assert network.intake_questions == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"client_code_scheme": "full_name"}, "Choose a client-code scheme from the list"),
        ({"client_code_scheme": ""}, "This field is required"),
        (
            {"client_code_scheme": "initials_dob_sex", "intake_questions": ["criminal_record"]},
            "Choose intake questions from the list",
        ),
    ],
)
def test_forged_choices_are_refused(as_admin, site_a, network, data, message):
    before = audit_count()
    response = as_admin.post(url(site_a), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Network.objects.get(pk=network.pk).intake_questions == network.intake_questions
    assert audit_count() == before


def test_a_manager_cannot_post_network_settings(as_manager, site_a, network):
    data = {"client_code_scheme": "chosen_name", "confirm_scheme_change": "on"}
    assert as_manager.post(url(site_a), data).status_code == 403
    network.refresh_from_db()
    assert network.client_code_scheme == "initials_dob_sex"


def test_a_site_administrator_is_not_a_network_administrator(client, site_a, network):
    site_admin = make_user("sam.siteadmin", (Role.ADMIN, site_a))
    client.force_login(site_admin)
    assert client.get(url(site_a)).status_code == 403
    with pytest.raises(ActionRefused):
        actions.update_network_settings(
            network=network,
            client_code_scheme="chosen_name",
            intake_questions=[],
            by=site_admin,
            expected_version=version_of(network),
        )
