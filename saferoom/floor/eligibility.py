"""Who may use the room today: the site's eligibility rules (each switched on or off by the
site, domain.md §1.3) and the client's bans, as questions for the desk and problems found.

The desk asks only what it cannot know: the age question appears only when the year of birth
is unknown or the client turns the minimum age this year; first-time use only for someone
never admitted before; and a returning client's last answers are offered as the defaults, so
a regular is checked in with a handful of taps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from saferoom.clients.actions import active_bans
from saferoom.clients.models import Client
from saferoom.sites.models import Site

# The answers' keys, as stored in Visit.eligibility.
OLD_ENOUGH = "old_enough"
FIRST_TIME = "first_time"
INTOXICATED = "intoxicated"
PREGNANT = "pregnant"
RESIDENT = "resident"
ANSWER_KEYS = (OLD_ENOUGH, FIRST_TIME, INTOXICATED, PREGNANT, RESIDENT)


@dataclass(frozen=True)
class Problem:
    """Why someone cannot be admitted; ``code`` is the matching turn-away reason's code."""

    code: str
    message: str
    # True when the question was simply not answered: not a reason to turn someone away.
    unanswered: bool = False


@dataclass(frozen=True)
class Question:
    """A yes/no question the desk must answer before check-in."""

    key: str
    text: str
    # The answer that means the person cannot be admitted.
    fails_on: bool
    problem_code: str
    # The answer to preselect (the client's last answer, or the usual one); None: must ask.
    default: bool | None = None

    def problem(self) -> Problem:
        return Problem(self.problem_code, _failure_messages()[self.key])


def _failure_messages() -> dict[str, str]:
    return {
        OLD_ENOUGH: _("They are under the minimum age."),
        FIRST_TIME: _("This is their first time using, or they use only occasionally."),
        INTOXICATED: _("They are visibly intoxicated."),
        PREGNANT: _("They are pregnant."),
        RESIDENT: _("They do not live in the area this site serves."),
    }


def _unanswered_messages(site: Site) -> dict[str, str]:
    return {
        OLD_ENOUGH: _("Confirm that they are %(age)s or older.") % {"age": site.min_age},
        FIRST_TIME: _("Ask whether this is their first time using."),
        INTOXICATED: _("Say whether they are visibly intoxicated."),
        PREGNANT: _("Ask whether they are pregnant."),
        RESIDENT: _("Ask whether they live in %(area)s.") % {"area": _area(site)},
    }


def _area(site: Site) -> str:
    return site.residency_area or _("the area this site serves")


def previous_answers(*, site: Site, client: Client | None) -> tuple[bool, dict[str, Any]]:
    """Whether the client was ever admitted at a site of the network, and the eligibility
    answers of their latest admitted visit (one query). Only visits that have ended count: the
    questions must not change under a check-in that is being sent again."""
    if client is None:
        return False, {}
    from saferoom.floor.models import Visit

    last = (
        Visit.objects.filter(
            client=client, site__network_id=site.network_id, state=Visit.State.LEFT
        )
        .order_by("-arrived_at", "-id")
        .values_list("eligibility", flat=True)
        .first()
    )
    if last is None:
        return False, {}
    return True, last if isinstance(last, dict) else {}


def _age_this_year(site: Site, client: Client | None, at: datetime) -> int | None:
    if client is None or client.year_of_birth is None:
        return None
    return site.local(at).year - client.year_of_birth


def eligibility_questions(*, site: Site, client: Client | None, at: datetime) -> list[Question]:
    """The questions the desk must answer for this person today, in the order asked."""
    admitted_before, last = previous_answers(site=site, client=client)

    def remembered(key: str) -> bool | None:
        value = last.get(key)
        return value if isinstance(value, bool) else None

    questions: list[Question] = []
    if site.check_min_age:
        age = _age_this_year(site, client, at)
        # Someone who turns the minimum age this year may not have had their birthday yet.
        if age is None or age == site.min_age:
            questions.append(
                Question(
                    OLD_ENOUGH,
                    _("Are they %(age)s or older?") % {"age": site.min_age},
                    fails_on=False,
                    problem_code="under_age",
                    default=True if remembered(OLD_ENOUGH) is True else None,
                )
            )
    if site.check_first_time_use and not admitted_before:
        questions.append(
            Question(
                FIRST_TIME,
                _("Is this their first time using, or do they use only occasionally?"),
                fails_on=True,
                problem_code="first_time",
            )
        )
    if site.check_intoxicated:
        questions.append(
            Question(
                INTOXICATED,
                _("Are they visibly intoxicated (drunk or very high)?"),
                fails_on=True,
                problem_code="intoxicated",
                default=False,
            )
        )
    if site.check_pregnancy:
        questions.append(
            Question(
                PREGNANT,
                _("Are they pregnant?"),
                fails_on=True,
                problem_code="pregnant",
                default=remembered(PREGNANT),
            )
        )
    if site.check_residency:
        questions.append(
            Question(
                RESIDENT,
                _("Do they live in %(area)s?") % {"area": _area(site)},
                fails_on=False,
                problem_code="not_resident",
                default=remembered(RESIDENT),
            )
        )
    return questions


def ban_problems(*, site: Site, client: Client | None, at: datetime) -> list[Problem]:
    if client is None:
        return []
    problems = []
    for ban in active_bans(client=client, site=site, at=at):
        where = ban.site.name if ban.site is not None else _("every site")
        if ban.expires_at is None:
            message = _("Banned from %(where)s until further notice: %(reason)s.") % {
                "where": where,
                "reason": ban.get_reason_display(),
            }
        else:
            message = _("Banned from %(where)s until %(until)s: %(reason)s.") % {
                "where": where,
                "until": date_format(site.local(ban.expires_at), "j F Y H:i"),
                "reason": ban.get_reason_display(),
            }
        problems.append(Problem("banned", message))
    return problems


def standing_problems(*, site: Site, client: Client | None, at: datetime) -> list[Problem]:
    """What stops this person whatever they answer: bans, and an age known to be too young."""
    problems = ban_problems(site=site, client=client, at=at)
    if site.check_min_age:
        age = _age_this_year(site, client, at)
        if age is not None and age < site.min_age:
            problems.append(
                Problem(
                    "under_age",
                    _("Born in %(year)s: under %(age)s.")
                    % {"year": client.year_of_birth if client else "", "age": site.min_age},
                )
            )
    return problems


def check_eligibility(
    *, site: Site, client: Client | None, answers: dict[str, bool], at: datetime
) -> list[Problem]:
    """Every reason this person cannot be admitted now. An unanswered question counts as a
    problem: nobody is admitted on a rule nobody checked."""
    questions = eligibility_questions(site=site, client=client, at=at)
    problems = standing_problems(site=site, client=client, at=at)
    unanswered = _unanswered_messages(site)
    for question in questions:
        answer = answers.get(question.key)
        if not isinstance(answer, bool):
            problems.append(
                Problem(question.problem_code, unanswered[question.key], unanswered=True)
            )
        elif answer == question.fails_on:
            problems.append(question.problem())
    return problems
