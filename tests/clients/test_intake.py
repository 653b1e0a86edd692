"""The first-visit intake: short, only the network's questions, every answer optional, and
implausible answers refused with a message that says what to fix."""

from __future__ import annotations

import pytest
from django.urls import reverse

from saferoom.clients import actions
from saferoom.clients.models import Client, Intake
from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites.models import IntakeQuestion, Network, Site
from tests.clients.conftest import detail_url, register_via_http
from tests.versions import intake_version


def intake_url(site: Site, client: Client) -> str:
    return reverse("clients:intake", kwargs={"site": site.slug, "pk": client.pk})


def ask_only(network: Network, *questions: str) -> None:
    network.intake_questions = list(questions)
    network.save(update_fields=["intake_questions"])


@pytest.fixture
def client_a(as_desk, site_a) -> Client:
    ask_only(site_a.network)  # registered without intake, as at a busy desk
    client = register_via_http(as_desk, site_a)
    ask_only(site_a.network, *[q.value for q in IntakeQuestion])
    return client


def answers(**overrides: str) -> dict[str, str]:
    return {
        "years_of_use": "12",
        "past_overdoses": "two_to_five",
        "current_treatment": "ost",
        "housing_status": "temporary",
        "residence_area": "ec1a",
        "otherwise_location": "stairwell",
        "version": "0",  # the form as opened before any intake was recorded
        **overrides,
    }


def test_the_desk_records_the_intake_and_sees_it_on_the_record(as_desk, site_a, client_a):
    html = as_desk.get(intake_url(site_a, client_a)).content.decode()
    assert "Did not say" in html
    response = as_desk.post(intake_url(site_a, client_a), answers())
    assert response.status_code == 302
    assert response["Location"] == detail_url(site_a, client_a)
    intake = Intake.objects.get(client=client_a)
    assert (intake.years_of_use, intake.past_overdoses, intake.residence_area) == (
        12,
        "two_to_five",
        "EC1A",
    )
    assert (intake.housing_status, intake.otherwise_location) == ("temporary", "stairwell")
    event = AuditEvent.objects.get(action="client.intake_recorded")
    # The audit says which questions were answered, never the answers.
    assert "EC1A" not in str(event.detail)
    assert "residence_area" in event.detail["questions"]
    record = as_desk.get(detail_url(site_a, client_a)).content.decode()
    assert "EC1A" in record
    assert "Hostel or temporary accommodation" in record
    assert "Intake saved." in record


def test_only_the_networks_questions_are_shown_and_the_others_are_left_alone(
    as_desk, desk, site_a, client_a
):
    actions.record_intake(
        client=client_a,
        site=site_a,
        answers={"housing_status": "rough_sleeping"},
        by=desk,
        expected_version=intake_version(client_a),
    )
    ask_only(site_a.network, IntakeQuestion.YEARS_OF_USE, IntakeQuestion.RESIDENCE_AREA)
    html = as_desk.get(intake_url(site_a, client_a)).content.decode()
    assert 'name="years_of_use"' in html
    assert 'name="residence_area"' in html
    assert 'name="housing_status"' not in html
    assert 'name="past_overdoses"' not in html
    response = as_desk.post(
        intake_url(site_a, client_a),
        {
            "years_of_use": "3",
            "residence_area": "G1",
            "housing_status": "other",
            "version": intake_version(client_a),
        },
    )
    assert response.status_code == 302
    intake = Intake.objects.get(client=client_a)
    assert (intake.years_of_use, intake.residence_area) == (3, "G1")
    assert intake.housing_status == "rough_sleeping"
    assert AuditEvent.objects.filter(action="client.intake_updated").exists()


def test_the_intake_form_shows_the_answers_already_given(as_desk, desk, site_a, client_a):
    actions.record_intake(
        client=client_a,
        site=site_a,
        answers={"residence_area": "NR2", "years_of_use": 4},
        by=desk,
        expected_version=intake_version(client_a),
    )
    html = as_desk.get(intake_url(site_a, client_a)).content.decode()
    assert 'name="residence_area" value="NR2"' in html
    assert 'name="years_of_use" value="4"' in html


def test_every_answer_may_be_left_as_did_not_say(as_desk, site_a, client_a):
    response = as_desk.post(intake_url(site_a, client_a), {"version": "0"})
    assert response.status_code == 302
    intake = Intake.objects.get(client=client_a)
    assert intake.years_of_use is None
    assert intake.residence_area == ""
    assert intake.past_overdoses == intake.current_treatment == "not_said"


def test_a_network_without_questions_says_so(as_desk, site_a, client_a):
    ask_only(site_a.network)
    html = as_desk.get(intake_url(site_a, client_a)).content.decode()
    assert "This network asks no intake questions." in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"years_of_use": "-5"}, "cannot be below 0"),
        ({"years_of_use": "81"}, "80 or fewer"),
        ({"years_of_use": "abc"}, "whole number"),
        ({"years_of_use": "1e3"}, "whole number"),
        ({"years_of_use": "45"}, "more years of drug use than the person has been alive"),
        ({"past_overdoses": "hundreds"}, "Choose one of the answers offered"),
        ({"current_treatment": "<script>alert(1)</script>"}, "Choose one of the answers offered"),
        ({"housing_status": "castle"}, "Choose one of the answers offered"),
        ({"otherwise_location": "moon"}, "Choose one of the answers offered"),
        ({"residence_area": "NR2 4AB"}, "not the full postcode"),
        ({"residence_area": "12345"}, "first part of a postcode"),
        ({"residence_area": "<script>"}, "first part of a postcode"),
        ({"residence_area": "x" * 100}, "first part of a postcode"),
    ],
)
def test_implausible_answers_get_a_clear_message_and_write_nothing(
    as_desk, site_a, client_a, overrides, message
):
    response = as_desk.post(intake_url(site_a, client_a), answers(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert" not in html
    assert not Intake.objects.filter(client=client_a).exists()


def test_the_intake_action_refuses_questions_the_network_does_not_ask(desk, site_a, client_a):
    ask_only(site_a.network, IntakeQuestion.YEARS_OF_USE)
    with pytest.raises(ActionRefused, match="does not ask"):
        actions.record_intake(
            client=client_a,
            site=site_a,
            answers={"housing_status": "other"},
            by=desk,
            expected_version=intake_version(client_a),
        )
    with pytest.raises(ActionRefused, match="whole number"):
        actions.record_intake(
            client=client_a,
            site=site_a,
            answers={"years_of_use": True},
            by=desk,
            expected_version=intake_version(client_a),
        )
    with pytest.raises(ActionRefused, match="between 0 and 80"):
        actions.record_intake(
            client=client_a,
            site=site_a,
            answers={"years_of_use": 99},
            by=desk,
            expected_version=intake_version(client_a),
        )
    assert not Intake.objects.exists()


def test_the_intake_cannot_be_recorded_for_another_networks_site(
    desk, client_a, other_network_site
):
    with pytest.raises(ActionRefused, match="another network"):
        actions.record_intake(
            client=client_a,
            site=other_network_site,
            answers={},
            by=desk,
            expected_version=intake_version(client_a),
        )
