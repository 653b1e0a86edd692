"""The "Supervision" section of a site's rules: how often the board asks for a check in each
kind of space, when a due check turns red, and when a missed one goes to the shift lead."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.urls import reverse

from saferoom.core.errors import ActionRefused
from saferoom.core.models import AuditEvent
from saferoom.sites import actions
from saferoom.sites.models import Site
from tests.floor.board_ui.conftest import SCRIPT
from tests.sites.helpers import rules_form
from tests.versions import version_of


def rules_url(site: Site) -> str:
    return reverse("sites:rules", kwargs={"site": site.slug})


def test_the_rules_page_has_a_supervision_section_with_the_current_times(as_manager, site_a):
    page = html.unescape(as_manager.get(rules_url(site_a)).content.decode())
    assert '<fieldset class="group" id="supervision">' in page
    assert "<legend><h2>Supervision</h2></legend>" in page
    for label in (
        "Check someone in an injection booth every (minutes)",
        "Check someone in an inhalation room every (minutes)",
        "Check someone in a flexible space every (minutes)",
        "A due check turns red after (minutes)",
        "A missed check goes to the shift lead after (minutes)",
    ):
        assert label in page
    assert 'name="check_interval_booth" value="5"' in page


def test_a_manager_changes_the_supervision_times_and_it_is_audited(as_manager, site_a):
    data = rules_form(
        site_a,
        check_interval_booth="10",
        check_interval_inhalation="3",
        check_interval_flexible="15",
        check_overdue_minutes="5",
        check_escalate_minutes="8",
    )
    response = as_manager.post(rules_url(site_a), data)
    assert response.status_code == 302
    site_a.refresh_from_db()
    assert (
        site_a.check_interval_booth,
        site_a.check_interval_inhalation,
        site_a.check_interval_flexible,
        site_a.check_overdue_minutes,
        site_a.check_escalate_minutes,
    ) == (10, 3, 15, 5, 8)
    event = AuditEvent.objects.get(action="site.updated")
    assert event.detail["check_interval_booth"] == {"from": 5, "to": 10}
    settings = html.unescape(
        as_manager.get(reverse("sites:settings", kwargs={"site": site_a.slug})).content.decode()
    )
    assert "Booth checks every" in settings
    assert "10 minutes" in settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"check_interval_booth": "0"}, "Give a whole number from 1 to 60."),
        ({"check_interval_inhalation": "61"}, "Give a whole number from 1 to 60."),
        ({"check_interval_flexible": ""}, "Give a whole number from 1 to 60."),
        ({"check_interval_booth": "five"}, "Give a whole number from 1 to 60."),
        ({"check_interval_booth": SCRIPT}, "Give a whole number from 1 to 60."),
        ({"check_interval_booth": "9" * 400}, "Give a whole number from 1 to 60."),
        ({"check_overdue_minutes": "0"}, "Give a whole number from 1 to 30."),
        ({"check_overdue_minutes": "31"}, "Give a whole number from 1 to 30."),
        ({"check_escalate_minutes": "61"}, "Give a whole number from 1 to 60."),
        (
            {"check_overdue_minutes": "6", "check_escalate_minutes": "4"},
            "A missed check cannot go to the shift lead before it turns red: give at least 6",
        ),
    ],
)
def test_bad_supervision_times_are_refused_with_a_clear_message(
    as_manager, site_a, overrides, message
):
    snapshot = Site.objects.filter(pk=site_a.pk).values().get()
    before = AuditEvent.objects.count()
    response = as_manager.post(rules_url(site_a), rules_form(site_a, **overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in html.unescape(page)
    assert SCRIPT not in page
    assert Site.objects.filter(pk=site_a.pk).values().get() == snapshot
    assert AuditEvent.objects.count() == before


def test_the_action_refuses_supervision_times_the_form_would_have_caught(site_a, manager):
    cases: list[dict[str, Any]] = [
        {"check_interval_booth": 0},
        {"check_interval_flexible": 61},
        {"check_overdue_minutes": 31},
        {"check_escalate_minutes": 1, "check_overdue_minutes": 2},
        {"check_interval_booth": True},
        {"check_interval_booth": "5"},
    ]
    for changes in cases:
        with pytest.raises(ActionRefused):
            actions.update_site_rules(
                site=site_a, changes=changes, by=manager, expected_version=version_of(site_a)
            )
    site_a.refresh_from_db()
    assert (site_a.check_interval_booth, site_a.check_escalate_minutes) == (5, 4)


def test_only_managers_change_supervision_times(as_nurse, site_a):
    response = as_nurse.post(rules_url(site_a), rules_form(site_a, check_interval_booth="30"))
    assert response.status_code == 403
    site_a.refresh_from_db()
    assert site_a.check_interval_booth == 5
