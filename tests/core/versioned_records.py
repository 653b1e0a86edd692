"""Every record staff can edit, described once for the version-checked edit tests
(``test_version_checked_edits.py``, ``test_edit_conflicts_machine.py``): how to make one, how a
person edits it (the ``n``-th edit sets a value of its own), what it says now, the audit event
of one edit, and its edit page.

The record in each description is the row that carries the ``version``."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils.formats import date_format

from saferoom.care.referrals import actions as referral_actions
from saferoom.care.referrals.models import Referral
from saferoom.care.supplies import actions as supply_actions
from saferoom.care.supplies.models import StockLevel
from saferoom.clients import actions as client_actions
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Intake
from saferoom.core.models import User
from saferoom.floor.models import Visit
from saferoom.incidents import actions as incident_actions
from saferoom.incidents.models import Incident
from saferoom.sites import actions as site_actions
from saferoom.sites.models import CatalogueItem, IntakeQuestion, Network, Site, Space
from tests.conftest import login
from tests.sites.helpers import rules_form

LONDON = ZoneInfo("Europe/London")
# A Tuesday afternoon: Riverside (09:00–21:00 every day) is open.
AFTERNOON = dt.datetime(2026, 3, 10, 14, 0, tzinfo=LONDON)
# Values that differ across every edit of a test run (names must be unique in a site).
_serial = itertools.count(1)


@pytest.fixture
def afternoon() -> Iterator[Any]:
    with time_machine.travel(AFTERNOON, tick=True) as traveller:
        yield traveller


@dataclass
class World:
    """Riverside and the people who edit its records."""

    site: Site
    desk: User
    nurse: User
    manager: User
    admin: User

    def http(self, persona: str) -> HttpClient:
        return login(getattr(self, persona))


@pytest.fixture
def world(
    afternoon: Any, site_a: Site, desk: User, nurse: User, manager: User, admin: User
) -> World:
    return World(site=site_a, desk=desk, nurse=nurse, manager=manager, admin=admin)


def key() -> str:
    return str(uuid.uuid4())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def shown_moment(site: Site, moment: dt.datetime) -> str:
    """A time as the conflict screen shows it (the site's clock)."""
    return str(date_format(site.local(moment), "j M Y H:i:s"))


def shown_day(day: dt.date) -> str:
    return str(date_format(day, "j M Y"))


def local_input(site: Site, moment: dt.datetime) -> str:
    return site.local(moment).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class Page:
    """The record's edit page: who opens it, where, the form data of the ``n``-th edit made
    from version ``v``, and that edit's value on the conflict screen's row ``label``."""

    persona: str
    url: Callable[[World, Any], str]
    data: Callable[[World, Any, int, int], dict[str, Any]]
    label: str
    shown: Callable[[World, Any, int], str]
    # The page that shows the form, when it is not the one it posts to.
    form_url: Callable[[World, Any], str] | None = None

    def opens(self, world: World, record: Any) -> str:
        return (self.form_url or self.url)(world, record)


@dataclass(frozen=True)
class Editable:
    name: str
    make: Callable[[World], Any]
    edit: Callable[[World, Any, int, int], Any]  # (world, record, expected_version, n)
    values: Callable[[Any], Any]  # what the record says now, read from the database
    audit: str
    page: Page | None

    def __str__(self) -> str:
        return self.name


def version_now(record: Any) -> int:
    value: int = (
        type(record)._default_manager.filter(pk=record.pk).values_list("version", flat=True).get()
    )
    return value


# --- The client's intake ----------------------------------------------------------------------

_initials = itertools.cycle(f"{a}{b}" for a in "ABCDEFGHJK" for b in "LMNPRSTVWY")


def _client(world: World) -> Any:
    return client_actions.register_client(
        site=world.site,
        attrs=SchemeAttributes(
            initials=next(_initials), date_of_birth=dt.date(1985, 6, 15), sex="female"
        ),
        gender="female",
        by=world.desk,
        idempotency_key=key(),
        confirm_not_duplicate=True,
    )


def _make_intake(world: World) -> Intake:
    return client_actions.record_intake(
        client=_client(world),
        site=world.site,
        answers={"years_of_use": 5},
        expected_version=0,
        by=world.desk,
    )


def _years(n: int) -> int:
    return 10 + n % 30


INTAKE = Editable(
    name="intake",
    make=_make_intake,
    edit=lambda w, intake, v, n: client_actions.record_intake(
        client=intake.client,
        site=w.site,
        answers={"years_of_use": _years(n)},
        expected_version=v,
        by=w.desk,
    ),
    values=lambda intake: Intake.objects.values("years_of_use", "recorded_by").get(pk=intake.pk),
    audit="client.intake_updated",
    page=Page(
        persona="desk",
        url=lambda w, intake: reverse(
            "clients:intake", kwargs={"site": w.site.slug, "pk": intake.client_id}
        ),
        data=lambda w, intake, v, n: {"years_of_use": str(_years(n)), "version": str(v)},
        label="How many years have they used drugs?",
        shown=lambda w, intake, n: str(_years(n)),
    ),
)


# --- Referrals: corrections and follow-ups ----------------------------------------------------


def _make_referral(world: World) -> Referral:
    visit = Visit.objects.create(
        site=world.site,
        client=_client(world),
        arrived_at=now() - dt.timedelta(minutes=40),
        state=Visit.State.AFTERCARE,
        planned_route="inject",
        created_by=world.desk,
        aftercare_started_at=now() - dt.timedelta(minutes=10),
    )
    return referral_actions.make_referral(
        site=world.site,
        visit=visit,
        target=CatalogueItem.objects.get(
            network=world.site.network, site=None, kind="referral_target", code="housing_options"
        ),
        urgency="routine",
        by=world.nurse,
        idempotency_key=key(),
    )


def _due(referral: Referral, n: int) -> dt.date:
    """The follow-up date the ``n``-th correction sets (never the one it had)."""
    return referral.made_at.astimezone(LONDON).date() + dt.timedelta(days=20 + n % 300)


def _amend_referral(world: World, referral: Referral, v: int, n: int) -> Any:
    return referral_actions.amend_referral(
        referral=referral,
        follow_up_due=_due(referral, n),
        reason=f"Correction {n}",
        expected_version=v,
        by=world.manager,
        idempotency_key=key(),
    )


REFERRAL_AMENDMENT = Editable(
    name="referral correction",
    make=_make_referral,
    edit=_amend_referral,
    values=lambda r: (
        Referral.objects.values("follow_up_due", "urgency", "status").get(pk=r.pk),
        list(r.amendments.values_list("reason", flat=True).order_by("pk")),
    ),
    audit="referral.amended",
    page=Page(
        persona="manager",
        url=lambda w, r: reverse("referrals:amend", kwargs={"site": w.site.slug, "pk": r.pk}),
        data=lambda w, r, v, n: {
            "idempotency_key": key(),
            "target": r.target_id,
            "urgency": "routine",
            "follow_up_due": _due(r, n).isoformat(),
            "status": "made",
            "reason": f"Correction {n}",
            "version": str(v),
        },
        label="Follow up by",
        shown=lambda w, r, n: shown_day(_due(r, n)),
    ),
)


def _next_try(n: int) -> dt.date:
    return AFTERNOON.date() + dt.timedelta(days=1 + n % 300)


REFERRAL_FOLLOW_UP = Editable(
    name="referral follow-up",
    make=_make_referral,
    edit=lambda w, r, v, n: referral_actions.record_follow_up(
        referral=r,
        outcome="not_yet",
        method="phone",
        next_due=_next_try(n),
        expected_version=v,
        by=w.nurse,
        idempotency_key=key(),
    ),
    values=lambda r: (
        Referral.objects.values("follow_up_due", "status").get(pk=r.pk),
        list(r.follow_ups.values_list("next_due", flat=True).order_by("pk")),
    ),
    audit="referral.followed_up",
    page=Page(
        persona="nurse",
        url=lambda w, r: reverse("referrals:follow_up", kwargs={"site": w.site.slug, "pk": r.pk}),
        data=lambda w, r, v, n: {
            "idempotency_key": key(),
            "outcome": "not_yet",
            "method": "phone",
            "next_due": _next_try(n).isoformat(),
            "note": "",
            "version": str(v),
        },
        label="Try again by (if not known yet)",
        shown=lambda w, r, n: shown_day(_next_try(n)),
    ),
)


# --- Incidents: corrections of times, outcome and interventions -------------------------------


def _make_incident(world: World) -> Incident:
    return incident_actions.start_incident(
        site=world.site,
        by=world.nurse,
        idempotency_key=key(),
        location="door",
        kind="opioid",
        at=now() - dt.timedelta(minutes=30),
    )


def _onset(incident: Incident, n: int) -> dt.datetime:
    return incident.onset_at - dt.timedelta(seconds=n)


INCIDENT_TIME = Editable(
    name="incident time",
    make=_make_incident,
    edit=lambda w, i, v, n: incident_actions.amend_incident_time(
        incident=i,
        field="onset_at",
        new_at=_onset(i, n),
        reason=f"Camera {n}",
        expected_version=v,
        by=w.nurse,
        idempotency_key=key(),
    ),
    values=lambda i: list(i.amendments.values_list("new_at", flat=True).order_by("pk")),
    audit="incident.amended",
    page=Page(
        persona="nurse",
        url=lambda w, i: reverse("incidents:amend", kwargs={"site": w.site.slug, "pk": i.pk}),
        data=lambda w, i, v, n: {
            "idempotency_key": key(),
            "field": "onset_at",
            "new_at": local_input(w.site, _onset(i, n)),
            "reason": f"Camera {n}",
            "version": str(v),
        },
        label="Onset",
        shown=lambda w, i, n: shown_moment(w.site, _onset(i, n)),
    ),
)


def _make_incident_with_outcome(world: World) -> Incident:
    incident = _make_incident(world)
    return incident_actions.record_outcome(
        incident=incident,
        outcome="hospital",
        hospital="St Mary's",
        by=world.nurse,
        at=now() - dt.timedelta(minutes=5),
    )


INCIDENT_OUTCOME = Editable(
    name="incident outcome",
    make=_make_incident_with_outcome,
    edit=lambda w, i, v, n: incident_actions.amend_outcome(
        incident=i,
        outcome="hospital",
        hospital=f"Infirmary {n}",
        reason=f"The crew said {n}",
        expected_version=v,
        by=w.nurse,
        idempotency_key=key(),
    ),
    values=lambda i: list(
        i.outcome_amendments.values_list("new_hospital", flat=True).order_by("pk")
    ),
    audit="incident.outcome_amended",
    page=Page(
        persona="nurse",
        url=lambda w, i: reverse(
            "incidents:amend_outcome", kwargs={"site": w.site.slug, "pk": i.pk}
        ),
        data=lambda w, i, v, n: {
            "idempotency_key": key(),
            "outcome": "hospital",
            "hospital": f"Infirmary {n}",
            "reason": f"The crew said {n}",
            "version": str(v),
        },
        label="Which hospital (if transferred)",
        shown=lambda w, i, n: f"Infirmary {n}",
    ),
)


def _make_incident_with_a_step(world: World) -> Incident:
    incident = _make_incident(world)
    incident_actions.record_intervention(
        incident=incident,
        kind="stimulation",
        by=world.nurse,
        idempotency_key=key(),
        at=incident.onset_at + dt.timedelta(minutes=10),
    )
    return incident


def _step_time(incident: Incident, n: int) -> dt.datetime:
    return incident.onset_at + dt.timedelta(seconds=1 + n % 500)


INTERVENTION = Editable(
    name="intervention",
    make=_make_incident_with_a_step,
    edit=lambda w, i, v, n: incident_actions.amend_intervention(
        intervention=i.interventions.get(),
        new_at=_step_time(i, n),
        reason=f"Log says {n}",
        expected_version=v,
        by=w.nurse,
        idempotency_key=key(),
    ),
    values=lambda i: list(
        i.interventions.get().amendments.values_list("new_at", flat=True).order_by("pk")
    ),
    audit="incident.intervention_amended",
    page=Page(
        persona="nurse",
        url=lambda w, i: reverse(
            "incidents:amend_intervention",
            kwargs={"site": w.site.slug, "pk": i.pk, "step": i.interventions.get().pk},
        ),
        data=lambda w, i, v, n: {
            "idempotency_key": key(),
            "change": "time",
            "new_at": local_input(w.site, _step_time(i, n)),
            "reason": f"Log says {n}",
            "version": str(v),
        },
        label="Stimulation (sternal rub, voice)",
        shown=lambda w, i, n: shown_moment(w.site, _step_time(i, n)),
    ),
)


# --- Site configuration -----------------------------------------------------------------------


def _min_age(n: int) -> int:
    return 18 + n


SITE_RULES = Editable(
    name="site rules",
    make=lambda w: w.site,
    edit=lambda w, site, v, n: site_actions.update_site_rules(
        site=site, changes={"min_age": _min_age(n)}, expected_version=v, by=w.manager
    ),
    values=lambda site: Site.objects.values_list("min_age", flat=True).get(pk=site.pk),
    audit="site.updated",
    page=Page(
        persona="manager",
        url=lambda w, site: reverse("sites:rules", kwargs={"site": site.slug}),
        data=lambda w, site, v, n: rules_form(site, min_age=str(_min_age(n)), version=str(v)),
        label="Minimum age",
        shown=lambda w, site, n: str(_min_age(n)),
    ),
)


def _closes(n: int) -> dt.time:
    return dt.time(10 + n % 12)


SITE_HOURS = Editable(
    name="opening hours",
    make=lambda w: w.site,
    edit=lambda w, site, v, n: site_actions.set_opening_hours(
        site=site,
        periods=[site_actions.Period(0, dt.time(9), _closes(n))],
        expected_version=v,
        by=w.manager,
    ),
    values=lambda site: list(
        site.opening_hours.order_by("weekday", "opens").values_list("weekday", "opens", "closes")
    ),
    audit="site.opening_hours_changed",
    page=Page(
        persona="manager",
        url=lambda w, site: reverse("sites:hours", kwargs={"site": site.slug}),
        data=lambda w, site, v, n: {
            "d0_0_opens": "09:00",
            "d0_0_closes": f"{_closes(n):%H:%M}",
            "version": str(v),
        },
        label="Monday",
        shown=lambda w, site, n: f"09:00–{_closes(n):%H:%M}",
    ),
)


def _make_space(world: World) -> Space:
    return site_actions.create_space(
        site=world.site, name=f"Booth x{next(_serial)}", kind="booth", by=world.manager
    )


SPACE = Editable(
    name="space",
    make=_make_space,
    edit=lambda w, space, v, n: site_actions.update_space(
        space=space, changes={"name": f"Quiet booth {n}"}, expected_version=v, by=w.manager
    ),
    values=lambda space: Space.objects.values_list("name", flat=True).get(pk=space.pk),
    audit="space.updated",
    page=Page(
        persona="manager",
        url=lambda w, space: reverse(
            "sites:space_edit", kwargs={"site": w.site.slug, "pk": space.pk}
        ),
        data=lambda w, space, v, n: {
            "name": f"Quiet booth {n}",
            "kind": "booth",
            "seats": "1",
            "clear_down_minutes": str(space.clear_down_minutes),
            "sort_order": str(space.sort_order),
            "version": str(v),
        },
        label="Name",
        shown=lambda w, space, n: f"Quiet booth {n}",
    ),
)


def _make_entry(world: World) -> CatalogueItem:
    return site_actions.create_catalogue_item(
        network=world.site.network,
        site=world.site,
        kind="substance",
        label=f"Nitazene x{next(_serial)}",
        category="opioid",
        by=world.manager,
    )


CATALOGUE_ENTRY = Editable(
    name="catalogue entry",
    make=_make_entry,
    edit=lambda w, item, v, n: site_actions.update_catalogue_item(
        item=item,
        label=f"Nitazene {n}",
        category="opioid",
        sort_order=item.sort_order,
        expected_version=v,
        by=w.manager,
    ),
    values=lambda item: CatalogueItem.objects.values_list("label", flat=True).get(pk=item.pk),
    audit="catalogue.updated",
    page=Page(
        persona="manager",
        url=lambda w, item: reverse(
            "sites:catalogue_edit",
            kwargs={"site": w.site.slug, "kind": "substances", "pk": item.pk},
        ),
        data=lambda w, item, v, n: {
            "label": f"Nitazene {n}",
            "category": "opioid",
            "sort_order": "",
            "version": str(v),
        },
        label="Label",
        shown=lambda w, item, n: f"Nitazene {n}",
    ),
)

_QUESTIONS = list(IntakeQuestion)


def _question(n: int) -> IntakeQuestion:
    return _QUESTIONS[n % len(_QUESTIONS)]


NETWORK = Editable(
    name="network settings",
    make=lambda w: w.site.network,
    edit=lambda w, network, v, n: site_actions.update_network_settings(
        network=network,
        client_code_scheme=network.client_code_scheme,
        intake_questions=[_question(n)],
        expected_version=v,
        by=w.admin,
    ),
    values=lambda network: Network.objects.values_list("intake_questions", flat=True).get(
        pk=network.pk
    ),
    audit="network.updated",
    page=Page(
        persona="admin",
        url=lambda w, network: reverse("sites:network", kwargs={"site": w.site.slug}),
        data=lambda w, network, v, n: {
            "client_code_scheme": network.client_code_scheme,
            "intake_questions": [_question(n).value],
            "version": str(v),
        },
        label="Questions asked at a client's first visit",
        shown=lambda w, network, n: str(_question(n).label),
    ),
)


def _staff_values(user: User) -> Any:
    return (
        User.objects.values_list("display_name", flat=True).get(pk=user.pk),
        sorted(user.memberships.values_list("role", flat=True)),
    )


STAFF = Editable(
    name="staff member",
    make=lambda w: w.desk,
    edit=lambda w, user, v, n: site_actions.edit_staff_member(
        user=user,
        site=w.site,
        display_name=f"Dana {n}",
        site_roles=["desk"],
        network_roles=None,
        expected_version=v,
        by=w.manager,
    ),
    values=_staff_values,
    audit="staff.updated",
    page=Page(
        persona="manager",
        url=lambda w, user: reverse(
            "sites:staff_edit", kwargs={"site": w.site.slug, "pk": user.pk}
        ),
        data=lambda w, user, v, n: {
            "display_name": f"Dana {n}",
            "site_roles": ["desk"],
            "version": str(v),
        },
        label="Name shown to colleagues",
        shown=lambda w, user, n: f"Dana {n}",
    ),
)

STAFF_NAME = Editable(
    name="staff name",
    make=lambda w: w.desk,
    edit=lambda w, user, v, n: site_actions.update_staff_user(
        user=user, display_name=f"Dana {n}", expected_version=v, by=w.manager
    ),
    values=_staff_values,
    audit="staff.updated",
    page=None,  # the staff page saves through edit_staff_member (above)
)


def _supply(world: World) -> CatalogueItem:
    return CatalogueItem.objects.filter(
        network=world.site.network, site=None, kind="supply", active=True
    ).order_by("pk")[0]


def _make_level(world: World) -> StockLevel:
    level, _made = StockLevel.objects.get_or_create(site=world.site, item=_supply(world))
    return level


STOCK_WARNING = Editable(
    name="low-stock warning",
    make=_make_level,
    edit=lambda w, level, v, n: supply_actions.set_low_threshold(
        site=w.site, item=level.item, threshold=5 * n, expected_version=v, by=w.manager
    ),
    values=lambda level: StockLevel.objects.values_list("low_threshold", flat=True).get(
        pk=level.pk
    ),
    audit="stock.threshold_set",
    page=Page(
        persona="manager",
        url=lambda w, level: reverse(
            "supplies:threshold", kwargs={"site": w.site.slug, "pk": level.item_id}
        ),
        data=lambda w, level, v, n: {"threshold": str(5 * n), "version": str(v)},
        label="Warn when at or below (leave empty for no warning)",
        shown=lambda w, level, n: str(5 * n),
        form_url=lambda w, level: reverse(
            "supplies:item", kwargs={"site": w.site.slug, "pk": level.item_id}
        ),
    ),
)

EDITABLE = [
    INTAKE,
    REFERRAL_AMENDMENT,
    REFERRAL_FOLLOW_UP,
    INCIDENT_TIME,
    INCIDENT_OUTCOME,
    INTERVENTION,
    SITE_RULES,
    SITE_HOURS,
    SPACE,
    CATALOGUE_ENTRY,
    NETWORK,
    STAFF,
    STAFF_NAME,
    STOCK_WARNING,
]
WITH_A_PAGE = [e for e in EDITABLE if e.page is not None]


# --- Reading the conflict screen --------------------------------------------------------------


class ConflictScreen(HTMLParser):
    """The comparison table's rows (field, saved now, yours) and the hidden inputs of the form
    that opens the edit form again."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.hidden: list[tuple[str, str]] = []
        self.action = ""
        self._form: tuple[str, list[tuple[str, str]]] | None = None
        self._in_table = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and "conflict-table" in (found.get("class") or ""):
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._in_table and tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "form":
            self._form = (found.get("action") or "", [])
        elif tag == "input" and found.get("type") == "hidden" and self._form is not None:
            name = found.get("name")
            if name is not None and name != "csrfmiddlewaretoken":
                self._form[1].append((name, found.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            action, hidden = self._form
            if any(name == "reopen" for name, _value in hidden):  # the button's form
                self.action, self.hidden = action, hidden
            self._form = None
        elif tag == "table":
            self._in_table = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def row(self, label: str) -> tuple[str, str]:
        """(saved now, what you tried to save) of the field ``label``."""
        for cells in self.rows:
            if len(cells) == 3 and cells[0].removesuffix(" different").strip() == label:
                return cells[1], cells[2]
        raise AssertionError(f"no row {label!r} in {self.rows}")

    def posted(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for name, value in self.hidden:
            data.setdefault(name, []).append(value)
        return data
