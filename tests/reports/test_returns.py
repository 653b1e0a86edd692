"""Returns in funders' shapes: each field shows the figure the registry publishes for the same
site and period — exact for the site's manager and administrators, suppressed for evaluators —
as a page, a CSV and an XLSX; a period a return is not made for gets a message, never a 500.

Riverside's hand-built month (March 2026, Europe/London), known answers:

    clients        4 registered: three men (1985, 1990, 1978), one woman (1995)
    visits         12 by them (4 + 3 + 3 + 2) and 2 anonymous = 14; one arrival turned away
    episodes       11 injecting (opioid) and 3 smoking (stimulant) = 14
    incidents      2 opioid overdoses (one with naloxone, an ambulance and a hospital transfer),
                   1 stimulant over-amping = 3 medical emergencies
    care           2 wound-care services, 1 referral to drug treatment
    February       2 of the same clients, one visit each
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client as HttpClient
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from saferoom.care.referrals.models import Referral
from saferoom.care.supplies.models import ServiceGiven
from saferoom.clients.actions import register_client
from saferoom.clients.codes import SchemeAttributes
from saferoom.clients.models import Client
from saferoom.core.models import User
from saferoom.core.suppression import RULES
from saferoom.floor.models import ConsumptionSession, Visit
from saferoom.incidents import actions as incident_actions
from saferoom.reports import returns
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import compute_report
from saferoom.reports.scopes import site_scope
from saferoom.sites.models import CatalogueItem, Site, Space

LONDON = ZoneInfo("Europe/London")
# The morning after March 2026: March is the last complete month.
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)
MARCH = parse_period("2026-03")


@pytest.fixture(autouse=True)
def april_morning() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# --- hand-built activity --------------------------------------------------------------------


def march_day(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=LONDON)


def catalogue(site: Site, kind: str, code: str) -> CatalogueItem:
    return CatalogueItem.objects.get(network=site.network, site=None, kind=kind, code=code)


def client(site: Site, by: User, initials: str, *, gender: str, born: int) -> Client:
    return register_client(
        site=site,
        attrs=SchemeAttributes(initials=initials, date_of_birth=dt.date(born, 6, 15), sex=gender),
        gender=gender,
        by=by,
        idempotency_key=uuid.uuid4(),
        at=dt.datetime(2026, 1, 5, 9, 30, tzinfo=LONDON),
        confirm_not_duplicate=True,
    )


def visit(
    site: Site,
    by: User,
    arrived: dt.datetime,
    *,
    who: Client | None = None,
    route: str = "inject",
    substance: str = "heroin",
    episode: bool = True,
) -> Visit:
    """A visit that has left, with one finished session in Booth 1 (or the smoking room)."""
    made = Visit.objects.create(
        site=site,
        client=who,
        anonymous=who is None,
        arrived_at=arrived,
        state=Visit.State.LEFT,
        planned_route=route,
        created_by=by,
        ended_at=arrived + dt.timedelta(minutes=40),
        ended_by=by,
        end_reason=Visit.EndReason.CHECKED_OUT,
    )
    if episode:
        space = Space.objects.get(
            site=site, name="Booth 1" if route == "inject" else "Smoking room"
        )
        started = arrived + dt.timedelta(minutes=2)
        session = ConsumptionSession.objects.create(
            site=site,
            visit=made,
            space=space,
            route=route,
            started_at=started,
            started_by=by,
            check_interval_minutes=5,
            next_check_due_at=started + dt.timedelta(minutes=5),
            ended_at=started + dt.timedelta(minutes=20),
            ended_by=by,
            end_reason=ConsumptionSession.EndReason.FINISHED,
        )
        session.substances.add(catalogue(site, "substance", substance))
    return made


def emergency(
    site: Site, by: User, onset: dt.datetime, kind: str, *, naloxone: bool = False
) -> None:
    made = incident_actions.start_incident(
        site=site, by=by, idempotency_key=uuid.uuid4(), location="lounge", kind=kind, at=onset
    )
    last = onset + dt.timedelta(minutes=1)
    incident_actions.record_intervention(
        incident=made, kind="stimulation", by=by, idempotency_key=uuid.uuid4(), at=last
    )
    if naloxone:
        last = onset + dt.timedelta(minutes=2)
        incident_actions.record_intervention(
            incident=made,
            kind="naloxone",
            by=by,
            idempotency_key=uuid.uuid4(),
            at=last,
            naloxone_mg="0.4",
            naloxone_route="IM",
        )
        last = onset + dt.timedelta(minutes=3)
        incident_actions.record_intervention(
            incident=made, kind="ambulance_called", by=by, idempotency_key=uuid.uuid4(), at=last
        )
    incident_actions.record_outcome(
        incident=made,
        outcome="hospital" if naloxone else "recovered",
        hospital="Royal Infirmary" if naloxone else "",
        by=by,
        at=last + dt.timedelta(minutes=5),
    )


def build_riverside(site: Site, staff: User) -> dict[str, Client]:
    """Riverside's February and March 2026 (see the module's docstring)."""
    people = {
        "c1": client(site, staff, "AL", gender="male", born=1985),
        "c2": client(site, staff, "BM", gender="male", born=1990),
        "c3": client(site, staff, "CN", gender="male", born=1978),
        "c4": client(site, staff, "DP", gender="female", born=1995),
    }
    visit(site, staff, dt.datetime(2026, 2, 10, 11, tzinfo=LONDON), who=people["c1"])
    visit(site, staff, dt.datetime(2026, 2, 11, 11, tzinfo=LONDON), who=people["c4"])
    for day in (2, 9, 16, 23):
        visit(site, staff, march_day(day, 10), who=people["c1"])
    for day in (3, 10, 17):
        visit(site, staff, march_day(day, 14), who=people["c2"], route="smoke", substance="crack")
    for day in (4, 11, 18):
        visit(site, staff, march_day(day, 15), who=people["c3"])
    for day in (5, 31):
        visit(site, staff, march_day(day, 20, 30), who=people["c4"])
    visit(site, staff, march_day(6, 9, 30))
    visit(site, staff, march_day(7, 9, 30))
    turned = visit(site, staff, march_day(8, 20, 55), episode=False)
    Visit.objects.filter(pk=turned.pk).update(
        state=Visit.State.TURNED_AWAY,
        turnaway_reason=catalogue(site, "turnaway_reason", "full"),
        end_reason=Visit.EndReason.TURNED_AWAY,
    )
    emergency(site, staff, march_day(2, 10, 30), "opioid", naloxone=True)
    emergency(site, staff, march_day(4, 15, 30), "opioid")
    emergency(site, staff, march_day(10, 14, 30), "stimulant")
    for day in (2, 9):
        ServiceGiven.objects.create(
            site=site,
            item=catalogue(site, "service", "wound_care"),
            client=people["c1"],
            at=march_day(day, 10, 45),
            by=staff,
        )
    target = catalogue(site, "referral_target", "drug_treatment")
    Referral.objects.create(
        site=site,
        client=people["c2"],
        target=target,
        category=target.category,
        urgency="routine",
        made_at=march_day(3, 14, 40),
        made_by=staff,
        follow_up_due=dt.date(2026, 3, 17),
    )
    return people


@pytest.fixture
def riverside(site_a: Site, manager: User) -> Site:
    build_riverside(site_a, manager)
    return site_a


# --- helpers --------------------------------------------------------------------------------


def url(site: Site, name: str, period: str | None = None) -> str:
    address = reverse(f"returns:{name}", kwargs={"site": site.slug})
    return address if period is None else f"{address}?period={period}"


def line(filled: returns.FilledReturn, label: str) -> returns.FilledLine:
    found = [ln for _section, ln in filled.lines() if ln.label == label]
    assert len(found) == 1, f"{label!r}: {len(found)} lines"
    return found[0]


def texts(filled: returns.FilledReturn, label: str) -> list[str]:
    return [v.text for v in line(filled, label).values]


def fill(site: Site, shape: str, period: str, rule: Any = None) -> returns.FilledReturn:
    return returns.fill(
        returns.SHAPES[shape], site=site, period=parse_period(period), rule=rule, now=NOW
    )


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def csv_line(rows: list[list[str]], label: str) -> list[str]:
    found = [row for row in rows if len(row) > 1 and row[1] == label]
    assert len(found) == 1, f"{label!r}: {len(found)} rows"
    return found[0]


# --- the figures are the registry's ---------------------------------------------------------


def test_the_health_canada_return_reads_the_months_figures_as_the_registry_computes_them(
    riverside: Site,
):
    exact = compute_report(site_scope(riverside, MARCH, NOW))
    filled = fill(riverside, "health_canada", "2026-03")

    assert exact.results["U1"].figure("total").value == 14
    assert texts(filled, "Total visits") == ["14"]
    assert exact.results["U3"].figure("total").value == 4
    assert texts(filled, "Unique clients") == ["4"]
    assert texts(filled, "Consumption episodes") == ["14"]
    assert texts(filled, "Route of consumption: Inject") == ["11"]
    assert texts(filled, "Route of consumption: Smoke or inhale") == ["3"]
    assert texts(filled, "Overdoses and drug emergencies") == ["3"]
    assert texts(filled, "Opioid overdoses") == ["2"]
    assert texts(filled, "Stimulant overdoses") == ["1"]
    assert texts(filled, "Overdoses needing naloxone") == ["1"]
    assert texts(filled, "Calls to EMS (ambulance called)") == ["1"]
    assert texts(filled, "Hospital transfers") == ["1"]
    assert texts(filled, "Deaths") == ["0"]
    assert texts(filled, "Gender: Female") == ["1"]
    assert texts(filled, "Gender: Male") == ["3"]
    assert texts(filled, "Total referrals") == ["1"]
    assert filled.problems == []


def test_every_figure_of_a_return_is_the_published_figure_it_names(riverside: Site):
    """Read each line's source straight from the published report, for staff and evaluators."""
    for rule in (None, RULES["lt10"]):
        shown = publish(compute_report(site_scope(riverside, MARCH, NOW)), rule)
        filled = fill(riverside, "health_canada", "2026-03", rule)
        for _section, ln in filled.lines():
            if not ln.recorded:
                continue
            ref = returns.parse_ref(ln.source)
            result = shown.results[ref.code]
            if ref.is_cell:
                table = result.breakdown(ref.key)
                row = [key for key, _label in table.rows].index(ref.row or "")
                expected = table.cells[row][0]
            else:
                expected = result.figure(ref.key).shown
            assert ln.values == (expected,), ln.label


def test_the_thistle_table_has_a_column_per_month_each_its_own_months_report(riverside: Site):
    filled = fill(riverside, "thistle", "2026-Q1")

    assert [p.code for p in filled.columns] == ["2026-01", "2026-02", "2026-03"]
    assert texts(filled, "Service users") == ["0", "2", "4"]
    assert texts(filled, "Times service accessed") == ["0", "2", "12"]
    assert texts(filled, "Injecting episodes") == ["0", "2", "11"]
    assert texts(filled, "Inhalation episodes") == ["0", "0", "3"]
    assert texts(filled, "Medical emergencies") == ["0", "0", "3"]
    assert texts(filled, "Ambulance call-outs") == ["0", "0", "1"]
    assert texts(filled, "Referrals to drug treatment") == ["0", "0", "1"]
    february = compute_report(site_scope(riverside, parse_period("2026-02"), NOW))
    assert february.results["U3"].figure("total").value == 2


def test_the_thistle_table_of_this_year_stops_at_the_month_we_are_in(riverside: Site):
    filled = fill(riverside, "thistle", "2026")

    assert [p.code for p in filled.columns] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert not filled.complete


def test_the_nrw_report_counts_clients_once_in_the_year_and_gives_the_german_terms(
    riverside: Site,
):
    filled = fill(riverside, "nrw", "2026")

    assert texts(filled, "Clients") == ["4"]
    assert line(filled, "Clients").term == "Klientinnen und Klienten"
    assert texts(filled, "Visits") == ["16"]
    assert texts(filled, "Consumption episodes") == ["16"]
    assert texts(filled, "Turned away") == ["1"]
    assert texts(filled, "Drug emergencies") == ["3"]
    assert texts(filled, "Kind: Opioid") == ["2"]


def test_a_field_saferoom_does_not_record_says_so_and_why_and_shows_no_number(riverside: Site):
    filled = fill(riverside, "nrw", "2026")

    substituted = line(filled, "Episodes by visibly substituted clients")
    assert not substituted.recorded
    assert [v.value for v in substituted.values] == [None]
    assert substituted.values[0].text == "not recorded by saferoom"
    assert substituted.maps.startswith("Not recorded by saferoom: ")
    assert "substitution treatment" in substituted.maps


def test_each_line_says_how_it_maps_to_our_indicator(riverside: Site):
    filled = fill(riverside, "health_canada", "2026-03")

    unique = line(filled, "Unique clients")
    assert unique.source == "U3.total"
    assert unique.maps.startswith("U3 Unique clients: Unique clients. ")
    assert "once per site per calendar month" in unique.maps
    opioid = line(filled, "Opioid overdoses")
    assert opioid.maps.startswith("S1 Overdoses and medical emergencies: By kind — Opioid")


# --- who sees what ----------------------------------------------------------------------------


def test_the_manager_sees_exact_figures_and_the_evaluator_the_suppression_marker(
    riverside: Site, as_manager: HttpClient, as_evaluator: HttpClient
):
    address = url(riverside, "health_canada", "2026-03")
    mine = as_manager.get(address)
    theirs = as_evaluator.get(address)

    assert mine.status_code == theirs.status_code == 200
    assert mine.context["filled"].exact
    assert texts(mine.context["filled"], "Unique clients") == ["4"]
    assert not theirs.context["filled"].exact
    assert texts(theirs.context["filled"], "Unique clients") == ["<10"]
    assert texts(mine.context["filled"], "Total visits") == ["14"]
    # Deaths are published as they are.
    assert texts(theirs.context["filled"], "Deaths") == ["0"]
    assert "1–9 shown as &lt;10" in theirs.content.decode()
    assert "None: exact figures" in mine.content.decode()


def test_the_evaluators_figures_are_the_ones_the_dashboard_publishes_for_them(
    riverside: Site, evaluator: User, as_evaluator: HttpClient
):
    from saferoom.reports.scopes import rule_for

    scope = site_scope(riverside, MARCH, NOW)
    rule = rule_for(evaluator, scope)
    assert rule is not None
    dashboard = publish(compute_report(scope), rule)
    page = as_evaluator.get(url(riverside, "health_canada", "2026-03")).context["filled"]

    assert line(page, "Unique clients").values[0] == dashboard.results["U3"].figure("total").shown
    assert line(page, "Gender: Male").values[0].hidden == "primary"


def test_an_administrator_of_the_network_sees_exact_figures(riverside: Site, as_admin: HttpClient):
    response = as_admin.get(url(riverside, "thistle", "2026-Q1"))

    assert response.status_code == 200
    assert texts(response.context["filled"], "Service users") == ["0", "2", "4"]


@pytest.mark.parametrize("name", ["index", "health_canada", "thistle_csv", "nrw_xlsx"])
def test_the_desk_and_floor_may_not_open_returns_and_another_site_does_not_see_them(
    site_a: Site,
    name: str,
    as_desk: HttpClient,
    as_nurse: HttpClient,
    as_other_site_worker: HttpClient,
):
    assert as_desk.get(url(site_a, name)).status_code == 403
    assert as_nurse.get(url(site_a, name)).status_code == 403
    assert as_other_site_worker.get(url(site_a, name)).status_code == 404


# --- pages ------------------------------------------------------------------------------------


def test_the_list_offers_each_return_with_its_last_complete_period(
    site_a: Site, as_manager: HttpClient
):
    page = as_manager.get(url(site_a, "index")).content.decode()

    assert "Health Canada monthly return" in page
    assert 'value="2026-03"' in page  # last complete month
    assert 'value="2026-Q1"' in page  # last complete quarter
    assert 'value="2025"' in page  # last complete year


def test_a_return_without_a_period_shows_the_last_complete_one(
    riverside: Site, as_manager: HttpClient
):
    response = as_manager.get(url(riverside, "health_canada"))

    assert response.status_code == 200
    assert response.context["filled"].period.code == "2026-03"
    assert response.context["filled"].complete


@pytest.mark.parametrize("name", ["health_canada_csv", "thistle_xlsx"])
def test_a_download_address_without_a_period_shows_the_returns_page_with_its_links(
    riverside: Site, as_manager: HttpClient, name: str
):
    response = as_manager.get(url(riverside, name))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    period = response.context["filled"].period.code
    assert f'href="{url(riverside, name, period)}"' in response.content.decode()


def test_a_return_page_shows_figures_sources_and_how_they_map(
    riverside: Site, as_manager: HttpClient
):
    page = as_manager.get(url(riverside, "nrw", "2026")).content.decode()

    assert "North Rhine-Westphalia annual report" in page
    assert "<code>U3.total</code>" in page
    assert 'lang="de"' in page
    assert "Konsumvorgänge" in page
    assert "not recorded by saferoom" in page
    assert "This period is not over yet" in page


@pytest.mark.parametrize(
    ("name", "period", "says"),
    [
        ("health_canada", "2026-13", "is not a period"),
        ("health_canada", "2026", "is made for a month"),
        ("health_canada", "2026-Q1", "is made for a month"),
        ("thistle", "2026-03", "is made for a quarter or a year"),
        ("nrw", "2026-Q2", "is made for a year"),
        ("nrw", "2027", "has not started yet"),
        ("health_canada", "1999-12", "from 2000 onwards"),
        ("thistle_csv", "soon", "is not a period"),
        ("nrw_xlsx", "2026-03-01..2026-03-31", "is made for a year"),
    ],
)
def test_a_period_the_return_is_not_made_for_gets_a_clear_message(
    site_a: Site, as_manager: HttpClient, name: str, period: str, says: str
):
    response = as_manager.get(url(site_a, name, period))

    assert response.status_code == 400
    assert says in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_what_was_typed_is_quoted_back_short_and_escaped(site_a: Site, as_manager: HttpClient):
    response = as_manager.get(url(site_a, "health_canada", "<script>" + "x" * 200))

    assert response.status_code == 400
    page = response.content.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "x" * 30 not in page


# --- downloads --------------------------------------------------------------------------------


def test_the_csv_carries_the_figures_the_mapping_and_the_rule_used(
    riverside: Site, as_manager: HttpClient, as_evaluator: HttpClient
):
    mine = as_manager.get(url(riverside, "health_canada_csv", "2026-03"))
    theirs = as_evaluator.get(url(riverside, "health_canada_csv", "2026-03"))

    assert mine["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="saferoom-riverside-health-canada-2026-03.csv"' in mine["Content-Disposition"]
    rows = csv_rows(mine)
    about = {row[0]: row[1] for row in rows[:11]}
    assert about["Return"] == "Health Canada monthly return"
    assert about["Period"] == "2026-03"
    assert about["Figures"] == "exact"
    assert about["Suppression rule"].startswith("None: exact figures")
    header = rows[12]
    assert header == ["Section", "Field", "2026-03", "Source", "How this maps"]
    unique = csv_line(rows, "Unique clients")
    assert unique[2:4] == ["4", "U3.total"]
    assert "once per site per calendar month" in unique[4]

    rows = csv_rows(theirs)
    about = {row[0]: row[1] for row in rows[:11]}
    assert about["Figures"] == "suppressed"
    assert about["Suppression rule"].startswith("1–9 shown as <10. Counts from 1 to 9")
    assert csv_line(rows, "Unique clients")[2] == "<10"
    assert csv_line(rows, "Deaths")[2] == "0"


def test_the_thistle_csv_has_a_column_per_month(riverside: Site, as_manager: HttpClient):
    rows = csv_rows(as_manager.get(url(riverside, "thistle_csv", "2026-Q1")))

    assert rows[12] == [
        "Section",
        "Field",
        "2026-01",
        "2026-02",
        "2026-03",
        "Source",
        "How this maps",
    ]
    assert csv_line(rows, "Service users")[2:5] == ["0", "2", "4"]
    reviews = csv_line(rows, "Reviews of injecting practice")
    assert reviews[2:6] == ["not recorded by saferoom"] * 3 + [""]


def test_the_xlsx_carries_the_figures_the_mapping_and_the_rule_used(
    riverside: Site, as_evaluator: HttpClient
):
    response = as_evaluator.get(url(riverside, "nrw_xlsx", "2026"))

    assert response["Content-Type"] == returns.XLSX_CONTENT_TYPE
    assert 'filename="saferoom-riverside-nrw-2026.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["Return"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Section", "Field", "Term (de)", "2026", "Source", "How this maps"]
    by_field = {row[1]: row for row in rows[1:]}
    assert by_field["Deaths"][3] == 0  # a number, not text
    assert by_field["Clients"][3] == "<10"
    assert by_field["Clients"][2] == "Klientinnen und Klienten"
    assert by_field["Clients"][4] == "U3.total"
    assert by_field["Consumption places"][3] == "not recorded by saferoom"
    about = {row[0].value: row[1].value for row in book["About"].iter_rows(min_row=2)}
    assert about["Figures"] == "suppressed"
    assert about["Suppression rule"].startswith("1–9 shown as <10")
    assert "CODE.figure" in about["Sources"]
