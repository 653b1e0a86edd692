"""A network's report through HTTP: the whole network, and its sites compared — exact where the
reader works, otherwise under the network's rule as one table, so no site's hidden count is the
network's total less the others. Only people with a network-level role (manager, evaluator,
administrator across the network) may open it; everyone else gets 404."""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from saferoom.core.roles import Role
from saferoom.core.suppression import RULES
from saferoom.floor.models import Visit
from saferoom.reports import reading
from saferoom.reports.publish import Shown, link_sites
from tests.conftest import login, make_user
from tests.reports.safety_data import incident, visits_and_episodes

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 4, 2, 10, 0, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def arrive(site, by, when: dt.datetime, n: int) -> None:
    for _ in range(n):
        Visit.objects.create(
            site=site,
            anonymous=True,
            arrived_at=when,
            state=Visit.State.LEFT,
            ended_at=when + dt.timedelta(minutes=30),
            ended_by=by,
            end_reason=Visit.EndReason.CHECKED_OUT,
            created_by=by,
        )


@pytest.fixture
def march(site_a, site_b, desk) -> None:
    """March 2026: 4 visits at Riverside (no episodes); 200 visits at Eastgate, each with a
    supervised episode, and 2 opioid overdoses there (10 per 1,000 episodes)."""
    arrive(site_a, desk, dt.datetime(2026, 3, 2, 10, 15, tzinfo=LONDON), 4)
    start = dt.datetime(2026, 3, 5, 12, 0, tzinfo=LONDON)
    visits_and_episodes(site_b, desk, day=start, visits=200, episodes=200)
    for hour in (13, 15):
        incident(site_b, desk, kind="opioid", onset=start.replace(hour=hour))


@pytest.fixture
def network_manager(network, site_a, site_b):
    return make_user("nora.network", (Role.MANAGER, network))


@pytest.fixture
def network_evaluator(network, site_a, site_b):
    return make_user("ed.network", (Role.EVALUATOR, network))


def url(network, name: str = "network_reports:dashboard") -> str:
    return reverse(name, kwargs={"network": network.pk})


def comparison(page: str) -> dict[str, list[str]]:
    """Site → the texts of its row in the comparison table."""
    table = re.search(r'<table class="comparison".*?</table>', page, re.S)
    assert table, "no comparison table"
    rows = {}
    for row in re.findall(r"<tr[^>]*data-site=\"[^\"]+\">(.*?)</tr>", table.group(0), re.S):
        cells = [
            html_module.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


def headings(page: str) -> list[str]:
    table = re.search(r'<table class="comparison".*?</thead>', page, re.S)
    assert table
    return [
        html_module.unescape(h)
        for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table.group(0))
    ]


def figure_now(page: str, figure: str) -> str:
    row = re.search(rf'<tr data-figure="{re.escape(figure)}">(.*?)</tr>', page, re.S)
    assert row
    now = re.search(r'<td class="num now">(.*?)</td>', row.group(1), re.S)
    assert now
    return html_module.unescape(re.sub(r"<[^>]+>", "", now.group(1))).strip()


# --- who may open it -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["network_manager", "network_evaluator", "admin"])
def test_people_with_a_network_role_open_the_network_report(who, request, network, march):
    response = login(request.getfixturevalue(who)).get(url(network), {"period": "2026-03"})
    assert response.status_code == 200
    assert "Reports: Test network (all sites)" in response.content.decode()


@pytest.mark.parametrize("who", ["desk", "nurse", "manager", "evaluator", "other_site_worker"])
@pytest.mark.parametrize(
    "name", ["network_reports:dashboard", "network_reports:print", "network_reports:export"]
)
def test_people_who_work_at_one_site_only_get_404(who, name, request, network):
    assert login(request.getfixturevalue(who)).get(url(network, name)).status_code == 404


def test_another_networks_administrator_and_a_network_that_does_not_exist_get_404(
    other_network_site, network, as_admin
):
    stranger = make_user("sam.stranger", (Role.ADMIN, other_network_site.network))
    assert login(stranger).get(url(network)).status_code == 404
    missing = reverse("network_reports:dashboard", kwargs={"network": network.pk + 999})
    assert as_admin.get(missing).status_code == 404


def test_a_desk_role_across_the_network_does_not_open_its_reports(network, site_a):
    desk_everywhere = make_user("dee.desk", (Role.DESK, network))
    assert login(desk_everywhere).get(url(network)).status_code == 404


# --- the whole network and its sites compared ------------------------------------------------


def test_the_network_manager_sees_every_site_exactly_side_by_side(network_manager, network, march):
    page = login(network_manager).get(url(network), {"period": "2026-03"}).content.decode()
    columns = headings(page)
    assert columns[0] == "Site"
    assert "Visits (U1)" in columns
    assert "Emergencies per 1,000 episodes (S2)" in columns
    rows = comparison(page)
    visits = columns.index("Visits (U1)") - 1
    assert rows["Eastgate"][visits] == "200"
    assert rows["Riverside"][visits] == "4"
    assert rows["All sites"][visits] == "204"
    rate = columns.index("Emergencies per 1,000 episodes (S2)") - 1
    assert rows["Eastgate"][rate] == "10.00"
    assert rows["Riverside"][rate] == "—"  # no episodes: no rate
    assert rows["Riverside"][-1] == "exact"
    assert 'data-rule="exact"' in page


def test_the_network_evaluator_sees_the_sites_suppressed_as_one_table(
    network_evaluator, network, march
):
    page = login(network_evaluator).get(url(network), {"period": "2026-03"}).content.decode()
    columns = headings(page)
    visits = columns.index("Visits (U1)") - 1
    episodes = columns.index("Supervised episodes (U2)") - 1
    rate = columns.index("Emergencies per 1,000 episodes (S2)") - 1
    rows = comparison(page)
    assert rows["Riverside"][visits] == "<10 (hidden under the small-number rule)"
    # The network's own figure, as its U1 card publishes it; and Eastgate's 200 is not shown
    # beside a shown 204, which would give Riverside's 4 away.
    total = rows["All sites"][visits]
    assert total == figure_now(page, "U1.total")
    assert total.startswith("[c]") or rows["Eastgate"][visits].startswith("[c]")
    assert [rows[s][episodes] for s in ("Riverside", "Eastgate", "All sites")] == [
        "0",
        "200",
        "200",
    ]
    # Two emergencies are a small number: the rate made from them is hidden too.
    assert rows["Eastgate"][rate] == "<10 (hidden under the small-number rule)"
    assert rows["Riverside"][-1] == "1–9 shown as <10"
    assert "Figures under rule 1–9 shown as &lt;10" in page


def test_the_comparison_uses_the_strictest_rule_of_the_networks_sites(
    network_evaluator, network, site_a, march
):
    site_a.suppression_rule = "ndtms"  # Riverside alone would hide only 1–4
    site_a.save(update_fields=["suppression_rule"])
    page = login(network_evaluator).get(url(network), {"period": "2026-03"}).content.decode()
    visits = headings(page).index("Visits (U1)") - 1
    rows = comparison(page)
    assert rows["Riverside"][visits] == "<10 (hidden under the small-number rule)"
    assert {row[-1] for row in rows.values()} == {"1–9 shown as <10"}


def test_someone_who_manages_one_site_and_evaluates_the_network_sees_only_that_site_exactly(
    network, site_a, march
):
    both = make_user("bo.both", (Role.EVALUATOR, network), (Role.MANAGER, site_a))
    page = login(both).get(url(network), {"period": "2026-03"}).content.decode()
    visits = headings(page).index("Visits (U1)") - 1
    rows = comparison(page)
    assert rows["Riverside"][visits] == "4"
    assert rows["Riverside"][-1] == "exact"
    assert rows["Eastgate"][-1] == "1–9 shown as <10"
    assert rows["All sites"][-1] == "1–9 shown as <10"


def test_the_emergency_rate_chart_shows_each_site_against_the_published_band(
    network_manager, network, march
):
    page = login(network_manager).get(url(network), {"period": "2026-03"}).content.decode()
    chart = re.search(r'data-chart-figure="emergency-rate">.*?</figure>', page, re.S)
    assert chart
    text = chart.group(0)
    assert "published 8–14" in text
    for site, rate in (("Riverside", "—"), ("Eastgate", "10.00"), ("All sites", "10.00")):
        assert f'<th scope="row">{site}</th><td class="num">{rate}</td>' in text


def test_a_bad_period_is_refused_on_the_network_page_before_anything_is_computed(
    network_manager, network, monkeypatch
):
    monkeypatch.setattr(reading, "compute_report", lambda *a, **k: pytest.fail("computed"))
    response = login(network_manager).get(url(network), {"period": "last tuesday"})
    assert response.status_code == 400
    assert "That is not a period we can read." in response.content.decode()


# --- print and downloads ---------------------------------------------------------------------


def test_the_network_printable_report_holds_the_comparison_and_the_rule(
    network_evaluator, network, march
):
    response = login(network_evaluator).get(
        url(network, "network_reports:print"), {"period": "2026-03"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Report: Test network (all sites)</h1>" in page
    assert "Sites compared" in page
    assert "Suppression rule:</strong> 1–9 shown as &lt;10" in page


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("json", "application/json"),
    ],
)
def test_network_downloads_are_named_after_the_network_and_period(
    fmt, content_type, network_manager, network, march
):
    response = login(network_manager).get(
        url(network, "network_reports:export"), {"period": "2026-03", "format": fmt}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == (
        f'attachment; filename="saferoom-network-test-network-2026-03.{fmt}"'
    )


def test_a_network_download_covers_every_site(network_evaluator, network, march):
    response = login(network_evaluator).get(
        url(network, "network_reports:export"), {"period": "2026-03", "format": "json"}
    )
    data = json.loads(response.content)
    assert data["scope"]["kind"] == "network"
    assert [s["slug"] for s in data["scope"]["sites"]] == ["eastgate", "riverside"]
    assert data["exact"] is False


# --- the sites' counts published as one table ------------------------------------------------

LT10 = RULES["lt10"]
NHS = RULES["nhs"]


def own(value: int, rule) -> Shown:
    """A site's count as its own report shows it under ``rule`` (None: exact)."""
    if rule is None:
        return Shown(value, str(value))
    if rule.hides(value):
        return Shown(None, rule.marker, "primary")
    return Shown(rule.shown(value), str(rule.shown(value)))


@pytest.mark.parametrize(
    ("values", "rules", "total", "expected", "still_pinned"),
    [
        # 204 − 200 would give the 4 away, and the 200 is on Eastgate's own page anyway:
        # hiding it here cannot help, only hiding the network's total can.
        ([4, 200], [LT10, LT10], (204, 204), ["primary", ""], True),
        # With the total hidden already, nothing more needs to go.
        ([4, 200], [LT10, LT10], (10, 10**12), ["primary", ""], False),
        # Two small counts adding to 9 could be 1 and 8 or 4 and 5: neither is given away.
        ([4, 5, 300], [LT10] * 3, (309, 309), ["primary", "primary", ""], False),
        # Two small counts adding to 2 can only be 1 and 1.
        ([1, 1, 300], [LT10] * 3, (302, 302), ["primary", "primary", ""], True),
        # A site the reader works at is never hidden from them (they know it anyway).
        ([4, 200], [LT10, None], (204, 204), ["primary", ""], True),
        # A site whose own page rounds (NHS: 203 shown as 205) is hidden here too, rather than
        # shown exactly beside the total.
        ([4, 203], [LT10, NHS], (207, 207), ["primary", "secondary"], False),
    ],
)
def test_no_sites_hidden_count_is_the_networks_total_less_the_others(
    values, rules, total, expected, still_pinned
):
    cells, pinned = link_sites(
        values, [own(v, r) for v, r in zip(values, rules, strict=True)], rules, LT10, total
    )
    assert [c.hidden for c in cells] == expected
    assert pinned is still_pinned


def test_the_networks_total_is_hidden_when_the_other_sites_own_pages_would_give_a_site_away(
    network_evaluator, network, march
):
    """Riverside's 4 visits are hidden on its own page; Eastgate's 200 are shown on its own
    page to the same evaluator. Shown beside them, the network's 204 would give the 4 away."""
    client = login(network_evaluator)
    eastgate = client.get(
        reverse("reports:dashboard", kwargs={"site": "eastgate"}), {"period": "2026-03"}
    )
    assert figure_now(eastgate.content.decode(), "U1.total") == "200"
    page = client.get(url(network), {"period": "2026-03"}).content.decode()
    assert figure_now(page, "U1.total") == "[c] (hidden under the small-number rule)"
    api = client.get(
        reverse("network_reports:export", kwargs={"network": network.pk}),
        {"period": "2026-03", "format": "json"},
    ).json()
    (u1,) = [i for i in api["indicators"] if i["code"] == "U1"]
    assert next(f for f in u1["figures"] if f["key"] == "total")["hidden"] == "secondary"
    by_day = next(t for t in u1["tables"] if t["key"] == "by_day")
    assert by_day["total"]["hidden"] == "secondary"
    # and the days do not add up to it: at least one of them is hidden too
    assert any(row["cells"][0]["hidden"] for row in by_day["rows"])
