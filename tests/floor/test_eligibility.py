"""The site's eligibility rules and the client's bans: which questions the desk is asked, and
which answers stop a person being admitted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from saferoom.clients.actions import lift_ban
from saferoom.clients.models import Client
from saferoom.floor.eligibility import (
    check_eligibility,
    eligibility_questions,
    standing_problems,
)
from saferoom.floor.models import Visit
from saferoom.sites.models import Site
from tests.floor.conftest import AFTERNOON, reason

ALL_OFF = {
    "check_min_age": False,
    "check_first_time_use": False,
    "check_intoxicated": False,
    "check_pregnancy": False,
    "check_residency": False,
}


def configure(site: Site, **rules: Any) -> Site:
    for name, value in {**ALL_OFF, **rules}.items():
        setattr(site, name, value)
    site.save()
    return site


def keys(site: Site, client: Client | None = None) -> list[str]:
    return [q.key for q in eligibility_questions(site=site, client=client, at=AFTERNOON)]


def codes(site: Site, client: Client | None = None, **answers: bool) -> list[str]:
    problems = check_eligibility(site=site, client=client, answers=answers, at=AFTERNOON)
    return [p.code for p in problems]


def test_a_site_with_every_check_off_asks_nothing_and_admits_anyone(site_a):
    configure(site_a)
    assert keys(site_a) == []
    assert codes(site_a) == []


@pytest.mark.parametrize(
    ("rule", "key", "failing", "passing", "code"),
    [
        ("check_min_age", "old_enough", False, True, "under_age"),
        ("check_first_time_use", "first_time", True, False, "first_time"),
        ("check_intoxicated", "intoxicated", True, False, "intoxicated"),
        ("check_pregnancy", "pregnant", True, False, "pregnant"),
        ("check_residency", "resident", False, True, "not_resident"),
    ],
)
def test_each_check_asks_its_question_only_when_switched_on(
    site_a, rule, key, failing, passing, code
):
    configure(site_a, **{rule: True})
    assert keys(site_a) == [key]
    assert codes(site_a, **{key: failing}) == [code]
    assert codes(site_a, **{key: passing}) == []
    configure(site_a)
    assert keys(site_a) == []
    assert codes(site_a, **{key: failing}) == []


def test_an_unanswered_question_is_a_problem_but_not_a_reason_to_turn_away(site_a):
    configure(site_a, check_intoxicated=True)
    [problem] = check_eligibility(site=site_a, client=None, answers={}, at=AFTERNOON)
    assert problem.unanswered
    assert "Say whether they are visibly intoxicated" in problem.message


def test_age_is_worked_out_from_the_year_of_birth_and_asked_only_in_the_borderline_year(
    site_a, register
):
    configure(site_a, check_min_age=True)  # minimum age 18; it is 2026
    clearly_adult = register(site_a, year=2007)
    borderline = register(site_a, year=2008)  # turns 18 this year: birthday may be to come
    too_young = register(site_a, year=2009)

    assert keys(site_a, clearly_adult) == []
    assert codes(site_a, clearly_adult) == []

    assert keys(site_a, borderline) == ["old_enough"]
    assert codes(site_a, borderline, old_enough=True) == []
    assert codes(site_a, borderline, old_enough=False) == ["under_age"]

    assert keys(site_a, too_young) == []
    assert codes(site_a, too_young, old_enough=True) == ["under_age"]
    [problem] = standing_problems(site=site_a, client=too_young, at=AFTERNOON)
    assert problem.message == "Born in 2009: under 18."


def test_age_is_asked_when_the_year_of_birth_is_unknown(site_a):
    configure(site_a, check_min_age=True, min_age=16)
    [question] = eligibility_questions(site=site_a, client=None, at=AFTERNOON)
    assert question.text == "Are they 16 or older?"
    assert codes(site_a, old_enough=False) == ["under_age"]


def test_a_site_without_an_age_check_admits_the_young(site_a, register):
    configure(site_a)
    assert codes(site_a, register(site_a, year=2012)) == []


def test_residency_names_the_sites_area(site_a):
    configure(site_a, check_residency=True, residency_area="the City of Zurich")
    [question] = eligibility_questions(site=site_a, client=None, at=AFTERNOON)
    assert question.text == "Do they live in the City of Zurich?"
    problems = check_eligibility(
        site=site_a, client=None, answers={"resident": False}, at=AFTERNOON
    )
    assert [(p.code, p.unanswered) for p in problems] == [("not_resident", False)]


def test_first_time_use_is_asked_only_until_the_client_has_been_admitted(
    site_a, site_b, client_a, desk
):
    configure(site_a, check_first_time_use=True)
    assert keys(site_a, client_a) == ["first_time"]
    # A turn-away is not an admission.
    Visit.objects.create(
        site=site_a,
        client=client_a,
        arrived_at=AFTERNOON - dt.timedelta(days=2),
        state="turned_away",
        turnaway_reason=reason(site_a, "full"),
        ended_at=AFTERNOON - dt.timedelta(days=2),
        end_reason="turned_away",
        created_by=desk,
    )
    assert keys(site_a, client_a) == ["first_time"]
    # Admitted once, at any site of the network.
    Visit.objects.create(
        site=site_b,
        client=client_a,
        arrived_at=AFTERNOON - dt.timedelta(days=1),
        state="left",
        ended_at=AFTERNOON - dt.timedelta(days=1),
        end_reason="checked_out",
        created_by=desk,
        eligibility={"first_time": False, "resident": True, "pregnant": False},
    )
    assert keys(site_a, client_a) == []


def test_a_returning_clients_last_answers_are_offered_as_defaults(site_a, client_a, desk):
    configure(site_a, check_pregnancy=True, check_residency=True, check_intoxicated=True)
    Visit.objects.create(
        site=site_a,
        client=client_a,
        arrived_at=AFTERNOON - dt.timedelta(days=1),
        state="left",
        ended_at=AFTERNOON - dt.timedelta(days=1),
        end_reason="checked_out",
        created_by=desk,
        eligibility={"pregnant": False, "resident": True, "intoxicated": True},
    )
    defaults = {
        q.key: q.default for q in eligibility_questions(site=site_a, client=client_a, at=AFTERNOON)
    }
    # Intoxication is what the worker sees today: it always starts at "no".
    assert defaults == {"intoxicated": False, "pregnant": False, "resident": True}


def test_a_ban_at_this_site_is_a_problem_whatever_the_answers(site_a, client_a, ban):
    configure(site_a)
    ban(client_a, site_a)
    problems = check_eligibility(site=site_a, client=client_a, answers={}, at=AFTERNOON)
    assert [p.code for p in problems] == ["banned"]
    assert "Banned from Riverside until" in problems[0].message
    assert "Violence or threats" in problems[0].message


def test_a_network_wide_ban_applies_here_and_another_sites_ban_does_not(
    site_a, site_b, client_a, register, ban
):
    configure(site_a)
    ban(client_a, None, days=None)
    assert codes(site_a, client_a) == ["banned"]
    [problem] = check_eligibility(site=site_a, client=client_a, answers={}, at=AFTERNOON)
    assert problem.message == "Banned from every site until further notice: Violence or threats."

    banned_at_b = register(site_a)
    ban(banned_at_b, site_b)
    assert codes(site_a, banned_at_b) == []


def test_an_expired_ban_lapses_by_itself(site_a, client_a, ban):
    configure(site_a)
    ban(client_a, site_a, days=7)
    with time_machine.travel(AFTERNOON + dt.timedelta(days=7, minutes=1)):
        later = dt.datetime.now(dt.UTC)
        assert check_eligibility(site=site_a, client=client_a, answers={}, at=later) == []


def test_a_lifted_ban_no_longer_stops_anyone(site_a, client_a, ban, admin):
    configure(site_a)
    the_ban = ban(client_a, site_a)
    lift_ban(ban=the_ban, reason="Apologised and agreed the house rules", by=admin)
    now = dt.datetime.now(dt.UTC)
    assert check_eligibility(site=site_a, client=client_a, answers={}, at=now) == []
