"""Forged, oversized and odd values sent to the incident forms: a clear refusal (422) and
nothing written, never a 500."""

from __future__ import annotations

import pytest

from saferoom.incidents.models import Incident, Intervention
from tests.incidents.conftest import key, url

SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "naloxone", "naloxone_mg": "1e400", "naloxone_route": "IM"},
        {"kind": "naloxone", "naloxone_mg": "-0.4", "naloxone_route": "IM"},
        {"kind": "naloxone", "naloxone_mg": "0.400001", "naloxone_route": "IM"},
        {"kind": "naloxone", "naloxone_mg": "9" * 40, "naloxone_route": "IM"},
        {"kind": "oxygen", "oxygen_l_min": "99999999999999999999"},
        {"kind": "observation", "breathing_rate": "-1"},
        {"kind": "observation", "spo2": "½"},
        {"kind": "stimulation", "at": "9999-12-31T23:59"},
        {"kind": "stimulation", "at": "0001-01-01T00:00"},
        {"kind": "stimulation", "note": "x" * 201},
        {"kind": SCRIPT},
        {"kind": ["oxygen", "naloxone"], "oxygen_l_min": "4"},
    ],
)
def test_odd_tap_values_are_refused_and_write_nothing(as_nurse, overdose, site_a, values):
    response = as_nurse.post(
        url(site_a, "tap", pk=overdose.pk), {"idempotency_key": key(), **values}
    )
    assert response.status_code == 422
    assert SCRIPT not in response.content.decode()
    assert not Intervention.objects.exists()


def test_a_script_in_a_note_is_shown_as_text(as_nurse, overdose, site_a):
    as_nurse.post(
        url(site_a, "note", pk=overdose.pk),
        {"idempotency_key": key(), "kind": "note", "text": SCRIPT},
    )
    page = as_nurse.get(url(site_a, "detail", pk=overdose.pk)).content.decode()
    assert SCRIPT not in page
    assert "&lt;script&gt;" in page


def test_a_huge_incident_id_is_a_404(as_nurse, site_a):
    assert as_nurse.get(f"/sites/{site_a.slug}/incidents/{'9' * 30}/").status_code == 404
    assert as_nurse.post(f"/sites/{site_a.slug}/incidents/{'9' * 30}/tap/").status_code == 404


def test_a_forged_space_of_another_site_is_refused(as_nurse, site_a, site_b):
    response = as_nurse.post(
        url(site_a, "new"),
        {"idempotency_key": key(), "location": "space", "space": site_b.spaces.first().pk},
    )
    assert response.status_code == 422
    assert "Choose a space from the list." in response.content.decode()
    assert not Incident.objects.exists()
