"""The safety indicators (S1–S9) on hand-built incidents whose answers are known: corrections
count (amended onsets move incidents between periods, corrected outcomes decide transfers and
deaths, struck-out interventions do not count, amended times are the ones timed), periods are
each site's local calendar, and deaths are published as they are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from saferoom.core.models import User
from saferoom.reports.facts import nearest_rank
from saferoom.reports.indicators import safety
from saferoom.reports.periods import parse_period
from saferoom.reports.publish import publish
from saferoom.reports.registry import Context, Report, compute_report, load
from saferoom.reports.scopes import network_scope, rule_for, site_scope
from saferoom.sites.models import Network, Site
from tests.reports.safety_data import (
    Step,
    correct_outcome,
    incident,
    move_onset,
    naloxone,
    oxygen,
    retime,
    step,
    strike,
    visits_and_episodes,
)

LONDON = ZoneInfo("Europe/London")
TORONTO = ZoneInfo("America/Toronto")
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SAFETY = ("S1", "S3", "S4", "S5", "S6", "S7", "S8", "S9")
WITHOUT_RATES = ("S1", "S3", "S4", "S6", "S7", "S8", "S9")


@pytest.fixture(autouse=True)
def after_everything() -> Iterator[None]:
    """Every incident of these tests has happened by now."""
    with time_machine.travel(NOW, tick=False):
        yield


def march(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=LONDON)


def report(site: Site, period: str, codes: tuple[str, ...] = WITHOUT_RATES) -> Report:
    return compute_report(site_scope(site, parse_period(period), now=NOW), codes)


def value(result: Report, ref: str) -> float | None:
    code, key = ref.split(".", 1)
    return result.results[code].figure(key).value


def table(result: Report, code: str) -> dict[str, float | None]:
    (kinds,) = result.results[code].breakdowns
    return {key: row[0] for (key, _label), row in zip(kinds.rows, kinds.values, strict=True)}


# --- what is counted -----------------------------------------------------------------------


def test_medical_incidents_are_counted_in_four_kinds_and_the_rest_as_non_medical(
    site_a: Site, site_b: Site, nurse: User
) -> None:
    for kind in ("opioid", "opioid", "stimulant", "sedative", "seizure", "agitation"):
        incident(site_a, nurse, kind=kind, onset=march(10, 14))
    incident(site_a, nurse, kind="other_medical", onset=march(11, 15))
    incident(site_a, nurse, kind="violence", onset=march(12, 16))
    incident(site_a, nurse, kind="police", onset=march(12, 17))
    incident(site_a, nurse, kind="", onset=march(13, 10))  # not yet said what it was
    incident(site_b, nurse, kind="opioid", onset=march(10, 14))  # another site
    incident(site_a, nurse, kind="opioid", onset=dt.datetime(2026, 4, 1, 9, tzinfo=LONDON))

    shown = report(site_a, "2026-03")

    assert value(shown, "S1.total") == 7
    assert table(shown, "S1") == {"opioid": 2, "stimulant": 1, "other_drug": 3, "other_medical": 1}
    assert value(shown, "S8.total") == 2
    assert table(shown, "S8") == {"violence": 1, "dealing": 0, "police": 1, "substance_found": 0}
    assert shown.results["S1"].notes  # the incident whose kind is not said yet
    network = compute_report(
        network_scope(site_a.network, parse_period("2026-03"), now=NOW), ["S1"]
    )
    assert value(network, "S1.total") == 8


def test_an_amended_onset_moves_an_incident_into_or_out_of_the_month(
    site_a: Site, nurse: User
) -> None:
    into_march = incident(
        site_a, nurse, kind="opioid", onset=dt.datetime(2026, 2, 28, 23, 50, tzinfo=LONDON)
    )
    move_onset(into_march, nurse, march(1, 0, 10))
    out_of_march = incident(site_a, nurse, kind="opioid", onset=march(1, 0, 5))
    move_onset(out_of_march, nurse, dt.datetime(2026, 2, 28, 23, 55, tzinfo=LONDON))
    back_again = incident(site_a, nurse, kind="stimulant", onset=march(15, 12))
    move_onset(back_again, nurse, dt.datetime(2026, 2, 20, 12, tzinfo=LONDON))
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        move_onset(back_again, nurse, march(16, 12))  # the latest correction counts

    assert table(report(site_a, "2026-03"), "S1") == {
        "opioid": 1,
        "stimulant": 1,
        "other_drug": 0,
        "other_medical": 0,
    }
    assert value(report(site_a, "2026-02"), "S1.total") == 1


def test_a_corrected_outcome_decides_hospital_transfers_and_deaths(
    site_a: Site, nurse: User
) -> None:
    taken = incident(
        site_a, nurse, kind="opioid", onset=march(3, 12), outcome="hospital", hospital="RVI"
    )
    correct_outcome(taken, nurse, "recovered")  # they recovered: no transfer after all
    later_taken = incident(site_a, nurse, kind="stimulant", onset=march(4, 12), outcome="recovered")
    correct_outcome(later_taken, nurse, "hospital", hospital="Freeman")
    incident(site_a, nurse, kind="violence", onset=march(5, 12), outcome="hospital", hospital="RVI")
    incident(site_a, nurse, kind="opioid", onset=march(6, 12), outcome="died")
    mis_tapped = incident(site_a, nurse, kind="opioid", onset=march(7, 12), outcome="died")
    correct_outcome(mis_tapped, nurse, "recovered")

    shown = report(site_a, "2026-03")

    assert value(shown, "S6.incidents") == 2  # the corrected transfer and the violent injury
    assert value(shown, "S7.total") == 1


def test_interventions_struck_out_as_recorded_in_error_do_not_count(
    site_a: Site, nurse: User
) -> None:
    two_doses = incident(
        site_a,
        nurse,
        kind="opioid",
        onset=march(10, 14),
        steps=(naloxone(60), step("ambulance_called", 90), naloxone(240, "1.8", "IN")),
    )
    strike(two_doses, "naloxone", nurse)  # the first tap was a mis-tap
    strike(two_doses, "ambulance_called", nurse)
    only_a_mis_tap = incident(
        site_a, nurse, kind="opioid", onset=march(11, 14), steps=(step("stimulation", 120),)
    )
    incident(site_a, nurse, kind="opioid", onset=march(12, 14), steps=(naloxone(30),))
    strike(only_a_mis_tap, "stimulation", nurse)
    incident(
        site_a,
        nurse,
        kind="opioid",
        onset=march(13, 14),
        steps=(oxygen(60), step("ventilation", 90), step("ambulance_called", 100)),
    )
    # Naloxone given before anyone said what it was is not yet part of S1, so not of S3.
    incident(site_a, nurse, kind="", onset=march(14, 14), steps=(naloxone(30),))

    shown = report(site_a, "2026-03", SAFETY)

    assert value(shown, "S1.total") == 4
    assert value(shown, "S3.incidents") == 2
    assert value(shown, "S3.doses") == 2
    assert value(shown, "S3.mg") == pytest.approx(2.2)
    assert value(shown, "S3.share") == pytest.approx(0.5)
    assert value(shown, "S4.incidents") == 1
    assert value(shown, "S5.incidents") == 1
    assert value(shown, "S5.share") == pytest.approx(0.25)
    # Timed: 4 min (the struck 1-minute dose does not count), 30 s, 60 s; the incident whose
    # only care was struck out is not timed.
    assert value(shown, "S9.care_incidents") == 3
    assert value(shown, "S9.naloxone_incidents") == 2
    assert value(shown, "S9.naloxone_p90") == pytest.approx(4.0)


def test_an_amended_intervention_time_is_the_time_the_response_is_measured_to(
    site_a: Site, nurse: User
) -> None:
    onset = march(10, 14)
    timed = incident(site_a, nurse, kind="opioid", onset=onset, steps=(naloxone(6 * 60),))
    assert value(report(site_a, "2026-03"), "S9.naloxone_median") == pytest.approx(6.0)

    retime(timed, "naloxone", nurse, onset + dt.timedelta(minutes=3))
    assert value(report(site_a, "2026-03"), "S9.naloxone_median") == pytest.approx(3.0)
    retime(timed, "naloxone", nurse, onset + dt.timedelta(minutes=4, seconds=30))
    assert value(report(site_a, "2026-03"), "S9.care_median") == pytest.approx(4.5)


def test_response_times_are_the_nearest_rank_median_and_90th_percentile(
    site_a: Site, nurse: User
) -> None:
    for i, seconds in enumerate((600, 30, 120, 60, 90)):
        incident(
            site_a,
            nurse,
            kind="opioid",
            onset=march(10 + i, 14),
            steps=(Step("observation", 5, {"avpu": "P"}), step("stimulation", seconds)),
        )
    # Calling an ambulance and watching are not care: this incident is not timed.
    incident(
        site_a,
        nurse,
        kind="other_medical",
        onset=march(20, 14),
        steps=(step("ambulance_called", 10),),
    )

    shown = report(site_a, "2026-03")

    assert value(shown, "S9.care_incidents") == 5
    assert value(shown, "S9.care_median") == pytest.approx(1.5)  # the 3rd of 5: 90 s
    assert value(shown, "S9.care_p90") == pytest.approx(10.0)  # the 5th of 5: 600 s
    assert value(shown, "S9.naloxone_incidents") == 0
    assert value(shown, "S9.naloxone_median") is None
    exact = publish(shown, None).results["S9"]
    assert exact.figure("care_median").shown.text == "1.5"


def test_response_times_to_the_microsecond_are_the_gaps_between_the_instants(
    site_a: Site, nurse: User
) -> None:
    # Worked out by the database as whole microseconds: the same seconds as subtracting the
    # instants, with and without a fraction of a second, after a correction too.
    onsets = (march(3, 9).replace(microsecond=250_001), march(4, 9), march(5, 9, 30))
    gaps = (61.999_999, 0.000_001, 45.5)
    for onset, seconds in zip(onsets, gaps, strict=True):
        incident(site_a, nurse, kind="opioid", onset=onset, steps=(naloxone(seconds),))
    timed = incident(site_a, nurse, kind="opioid", onset=march(6, 9), steps=(naloxone(90),))
    retime(timed, "naloxone", nurse, march(6, 9) + dt.timedelta(seconds=7, microseconds=3))
    moved = incident(site_a, nurse, kind="opioid", onset=march(7, 9), steps=(naloxone(100),))
    move_onset(moved, nurse, march(7, 9) + dt.timedelta(seconds=20, microseconds=2))

    found = safety.facts(Context(site_scope(site_a, parse_period("2026-03"))))

    expected = sorted(
        [dt.timedelta(seconds=s).total_seconds() for s in gaps]
        + [dt.timedelta(seconds=7, microseconds=3).total_seconds()]
        + [dt.timedelta(seconds=79, microseconds=999_998).total_seconds()]
    )
    assert list(found.to_first_naloxone) == expected
    assert list(found.to_first_care) == expected


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1), st.integers(1, 100))
def test_a_nearest_rank_percentile_is_the_smallest_value_with_enough_at_or_below_it(
    values: list[int], percent: int
) -> None:
    ordered = sorted(values)
    found = nearest_rank(ordered, percent)
    assert found in ordered
    at_or_below = sum(1 for v in ordered if v <= found)
    below = sum(1 for v in ordered if v < found)
    assert at_or_below * 100 >= percent * len(ordered)
    assert below * 100 < percent * len(ordered)


# --- the site's local calendar -------------------------------------------------------------


def test_a_month_ends_at_each_sites_own_local_midnight(
    site_a: Site, site_b: Site, nurse: User
) -> None:
    site_b.time_zone = "America/Toronto"
    site_b.save(update_fields=["time_zone"])
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
    incident(site_a, nurse, kind="opioid", onset=dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC))
    # 03:30 UTC on 1 July is 23:30 on 30 June in Toronto (EDT).
    incident(site_b, nurse, kind="stimulant", onset=dt.datetime(2026, 7, 1, 3, 30, tzinfo=dt.UTC))

    assert value(report(site_a, "2026-06"), "S1.total") == 0
    assert value(report(site_a, "2026-07"), "S1.total") == 1
    assert value(report(site_b, "2026-06"), "S1.total") == 1
    assert value(report(site_b, "2026-07"), "S1.total") == 0
    for period, kind in (("2026-06", "stimulant"), ("2026-07", "opioid")):
        network = compute_report(
            network_scope(site_a.network, parse_period(period), now=NOW), ["S1"]
        )
        assert {k: n for k, n in table(network, "S1").items() if n} == {kind: 1}


def test_the_day_the_clocks_go_back_has_twenty_five_hours(site_a: Site, nurse: User) -> None:
    for onset in (
        dt.datetime(2026, 10, 24, 22, 30, tzinfo=dt.UTC),  # 23:30 BST on the 24th: before
        dt.datetime(2026, 10, 24, 23, 30, tzinfo=dt.UTC),  # 00:30 BST on the 25th
        dt.datetime(2026, 10, 25, 23, 30, tzinfo=dt.UTC),  # 23:30 GMT on the 25th
        dt.datetime(2026, 10, 26, 0, 10, tzinfo=dt.UTC),  # 00:10 GMT on the 26th: after
    ):
        incident(site_a, nurse, kind="opioid", onset=onset)

    assert value(report(site_a, "2026-10-25"), "S1.total") == 2
    assert value(report(site_a, "2026-10-24"), "S1.total") == 1
    assert value(report(site_a, "2026-10-26"), "S1.total") == 1


# --- what readers are shown ----------------------------------------------------------------


@pytest.mark.parametrize("deaths", [0, 1])
def test_deaths_are_published_to_an_evaluator_as_they_are_even_when_zero(
    site_a: Site, nurse: User, evaluator: User, deaths: int
) -> None:
    for i in range(deaths):
        incident(site_a, nurse, kind="opioid", onset=march(10 + i, 14), outcome="died")
    incident(site_a, nurse, kind="stimulant", onset=march(20, 14), outcome="recovered")
    scope = site_scope(site_a, parse_period("2026-03"), now=NOW)
    rule = rule_for(evaluator, scope)
    assert rule is not None
    assert rule.code == "lt10"

    shown = publish(compute_report(scope, WITHOUT_RATES), rule)

    death = shown.results["S7"].figure("total").shown
    assert (death.value, death.text, death.hidden) == (deaths, str(deaths), "")
    assert shown.results["S1"].figure("total").shown.text == "<10"


def test_the_kind_table_is_suppressed_for_an_evaluator_and_exact_for_the_manager(
    site_a: Site, nurse: User, evaluator: User, manager: User
) -> None:
    for i in range(12):
        incident(site_a, nurse, kind="opioid", onset=march(1 + i, 14))
    for i in range(2):
        incident(site_a, nurse, kind="stimulant", onset=march(20 + i, 14))
    scope = site_scope(site_a, parse_period("2026-03"), now=NOW)
    computed = compute_report(scope, WITHOUT_RATES)

    for_evaluator = publish(computed, rule_for(evaluator, scope)).results["S1"]
    cells = [row[0] for row in for_evaluator.breakdown("kind").cells]
    assert cells[1].text == "<10"  # 2 stimulant
    # With the total shown, 2 = 14 − 12: so another cell (or the total) must be hidden too.
    hidden = [c for c in cells if c.value is None]
    total = for_evaluator.breakdown("kind").total
    assert total is not None
    assert len(hidden) >= 2 or total.value is None
    assert for_evaluator.figure("total").shown == total
    assert "2" not in [c.text for c in cells]

    for_manager = publish(computed, rule_for(manager, scope)).results["S1"]
    assert [row[0].value for row in for_manager.breakdown("kind").cells] == [12, 2, 0, 0]
    assert for_manager.figure("total").shown.value == 14


def test_rates_are_per_1000_episodes_and_visits_and_say_so(
    site_a: Site, nurse: User, evaluator: User
) -> None:
    visits_and_episodes(site_a, nurse, day=march(9, 10), visits=40, episodes=25)
    incident(site_a, nurse, kind="opioid", onset=march(9, 11), steps=(naloxone(60),))
    incident(
        site_a, nurse, kind="stimulant", onset=march(9, 12), steps=(step("ambulance_called", 30),)
    )

    shown = report(site_a, "2026-03", ("U1", "U2", "S1", "S2", "S3", "S5"))

    assert value(shown, "S2.per_1000_episodes") == pytest.approx(80.0)  # 2 × 1000 / 25
    assert value(shown, "S2.per_1000_visits") == pytest.approx(50.0)  # 2 × 1000 / 40
    assert value(shown, "S5.per_1000_visits") == pytest.approx(25.0)
    assert value(shown, "S5.share") == pytest.approx(0.5)
    assert "U2" in shown.results["S2"].figure("per_1000_episodes").note
    assert "U1" in shown.results["S2"].figure("per_1000_visits").note
    # Two emergencies are below the evaluator's threshold: their rates are hidden with them.
    scope = shown.scope
    hidden = publish(shown, rule_for(evaluator, scope)).results["S2"]
    assert hidden.figure("per_1000_episodes").shown.value is None


def test_a_rate_over_no_episodes_is_not_defined(site_a: Site, nurse: User) -> None:
    incident(site_a, nurse, kind="opioid", onset=march(9, 11))

    shown = report(site_a, "2026-03", ("U1", "U2", "S2"))

    assert value(shown, "S2.per_1000_episodes") is None
    assert publish(shown, None).results["S2"].figure("per_1000_visits").shown.text == "—"


# --- cost and definitions ------------------------------------------------------------------


@pytest.mark.parametrize("incidents", [2, 6])
def test_the_safety_indicators_read_five_queries_however_many_incidents(
    site_a: Site, nurse: User, incidents: int, django_assert_num_queries
) -> None:
    for i in range(incidents):
        made = incident(
            site_a,
            nurse,
            kind="opioid",
            onset=march(1 + i, 14),
            steps=(
                naloxone(60),
                step("stimulation", 120),
                naloxone(180),
                step("ambulance_called", 200),
            ),
            outcome="hospital",
            hospital="RVI",
        )
        move_onset(made, nurse, march(1 + i, 13, 59))
        strike(made, "naloxone", nurse, nth=1)
        retime(made, "naloxone", nurse, march(1 + i, 14, 2) + dt.timedelta(seconds=30))
    scope = site_scope(site_a, parse_period("2026-03"), now=NOW)

    with django_assert_num_queries(5):
        computed = compute_report(scope, WITHOUT_RATES)

    assert value(computed, "S3.doses") == incidents
    assert value(computed, "S6.incidents") == incidents
    # From the corrected onset (13:59): stimulation at 14:02, naloxone moved to 14:02:30.
    assert value(computed, "S9.care_median") == pytest.approx(3.0)
    assert value(computed, "S9.naloxone_median") == pytest.approx(3.5)


def test_the_safety_indicators_are_defined_once_with_their_rules(network: Network) -> None:
    registry = load()
    safety = [code for code, ind in registry.items() if ind.group == "safety"]
    assert safety == [f"S{n}" for n in range(1, 10)]
    assert not registry["S7"].suppressible
    assert all(registry[c].suppressible for c in safety if c != "S7")
    assert "Insite, OnPoint, Thistle" in registry["S2"].comparators
    assert "seizure" in registry["S1"].definition
    assert "naloxone" in registry["S9"].definition
