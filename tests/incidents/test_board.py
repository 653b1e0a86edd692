"""The board's emergency control opens the incident in the same request (and transaction),
its old emergency page leads to the incident, and the shift handover lists open incidents."""

from __future__ import annotations

import html
from typing import Any
from unittest import mock

from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.floor import board
from saferoom.incidents.models import Incident
from saferoom.sites.models import Site
from tests.conftest import login
from tests.incidents.conftest import url


def board_url(site: Site, name: str, **kwargs: Any) -> str:
    return reverse(f"board:{name}", kwargs={"site": site.slug, **kwargs})


def test_the_boards_emergency_opens_the_incident_and_its_screen(as_nurse, site_a, session):
    response = as_nurse.post(
        board_url(site_a, "emergency"), {"session": session.pk, "confirm": "1"}
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(site_a, "screen", pk=incident.pk)
    session.refresh_from_db()
    assert incident.onset_at == session.emergency_at
    assert incident.client == session.visit.client
    page = html.unescape(as_nurse.get(response["Location"]).content.decode())
    assert "EMERGENCY in Booth 1</h1>" in page


def test_if_the_incident_cannot_open_the_emergency_is_not_started_either(as_nurse, site_a, session):
    with mock.patch(
        "saferoom.incidents.actions.start_from_session",
        side_effect=ActionRefused("Nope.", code="boom"),
    ):
        response = as_nurse.post(
            board_url(site_a, "emergency"), {"session": session.pk, "confirm": "1"}
        )
    assert response.status_code == 200
    assert "Nope." in response.content.decode()
    session.refresh_from_db()
    assert session.emergency_at is None  # one transaction: both or neither
    assert not Incident.objects.exists()


def test_a_second_nurse_lands_on_the_same_incident(as_nurse, site_a, session, nurse2):
    as_nurse.post(board_url(site_a, "emergency"), {"session": session.pk, "confirm": "1"})
    other = login(nurse2).post(
        board_url(site_a, "emergency"), {"session": session.pk, "confirm": "1"}
    )
    incident = Incident.objects.get()
    assert other["Location"] == url(site_a, "screen", pk=incident.pk)


def test_an_emergency_started_before_incidents_existed_gets_its_incident(
    as_nurse, site_a, session, nurse
):
    board.start_emergency(session=session, by=nurse)
    page = as_nurse.get(board_url(site_a, "emergency_view", pk=session.pk))
    assert page.status_code == 200
    assert ">Open the emergency screen</button>" in page.content.decode()
    response = as_nurse.post(
        board_url(site_a, "emergency"), {"session": session.pk, "confirm": "1"}
    )
    incident = Incident.objects.get()
    assert response["Location"] == url(site_a, "screen", pk=incident.pk)
    # From now on the session's emergency page leads to the incident.
    again = as_nurse.get(board_url(site_a, "emergency_view", pk=session.pk))
    assert again.status_code == 302
    assert again["Location"] == url(site_a, "screen", pk=incident.pk)


def test_the_handover_lists_open_incidents(as_nurse, site_a, overdose, at_the_door):
    page = html.unescape(as_nurse.get(board_url(site_a, "handover")).content.decode())
    section = page.split('id="h-incidents"')[1].split("</section>")[0]
    assert "Open incidents" in page
    assert url(site_a, "detail", pk=overdose.pk) in section
    assert url(site_a, "detail", pk=at_the_door.pk) in section
    assert "At the door or entrance" in section


def test_the_board_has_a_new_incident_link(as_desk, site_a):
    page = as_desk.get(board_url(site_a, "board")).content.decode()
    assert f'href="{url(site_a, "new")}"' in page
