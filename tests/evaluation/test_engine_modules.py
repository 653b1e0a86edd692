"""Each formula of the evaluation engine against hand computation, on floats and on arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saferoom.evaluation import modules as m


def test_jacobs_hiv_with_irwins_inputs_matches_hand_computation():
    # H = I · N · s · d · (1 − (1 − q·t)^m)
    #   = 0.823 · 1,600,000 · 0.028 · 1 · (1 − (1 − 0.177·0.0067)^1.2)
    # q·t = 0.0011859; (1 − 0.0011859)^1.2 = 0.998577; 1 − that = 0.00142291
    # H = 36,870.4 · 0.00142291 = 52.463
    new = m.jacobs_new_infections(0.823, 1_600_000, 0.028, 1.0, 0.177, 0.0067, 1.2)
    assert new == pytest.approx(36_870.4 * (1 - (1 - 0.177 * 0.0067) ** 1.2))
    assert new == pytest.approx(52.463, abs=0.001)
    # A = H · (C / T) · n = 52.463 · (2,100 / 20,950) · 0.70 = 3.681 (the paper: 3.7)
    averted = m.jacobs_averted(new, 2100, 20950, 0.70)
    assert averted == pytest.approx(52.463 * 2100 / 20950 * 0.70, rel=1e-4)
    assert round(float(averted), 1) == 3.7


def test_jacobs_hcv_with_irwins_inputs_matches_hand_computation():
    # H = 0.25 · 1,600,000 · 0.028 · (1 − (1 − 0.75·0.03)^1.2) = 11,200 · 0.026939 = 301.7
    new = m.jacobs_new_infections(0.25, 1_600_000, 0.028, 1.0, 0.75, 0.03, 1.2)
    assert new == pytest.approx(11_200 * (1 - 0.9775**1.2))
    averted = m.jacobs_averted(new, 2100, 20950, 0.70)
    # 301.7 · 0.100239 · 0.70 = 21.17 (the paper: 21)
    assert averted == pytest.approx(21.17, abs=0.01)


def test_odds_ratio_form_of_icer_equals_the_reduction_form():
    # ICER: H_site = H · ((T − C) + OR · C) / T; averted = H − H_site = H · (C/T) · (1 − OR)
    new, clients, population, odds_ratio = 40.0, 2100.0, 29500.0, 0.30
    h_site = new * ((population - clients) + odds_ratio * clients) / population
    assert m.jacobs_averted(new, clients, population, 1 - odds_ratio) == pytest.approx(new - h_site)


def test_a_site_cannot_reach_more_clients_than_the_population():
    assert m.jacobs_averted(10.0, 5000, 1000, 0.5) == pytest.approx(5.0)


def test_pinkerton_guard_caps_at_observed_incidence_times_attributable_share():
    # ceiling = 10 infections observed · 0.3 attributable to sharing = 3
    capped, bound = m.pinkerton_cap(3.68, 10.0, 0.3)
    assert capped == pytest.approx(3.0)
    assert bound == 1.0
    capped, bound = m.pinkerton_cap(2.0, 10.0, 0.3)
    assert (capped, bound) == (2.0, 0.0)


def test_ssti_days_with_irwins_inputs():
    # days = C · h · r · L = 2,100 · 0.0443 · 0.67 · 6 = 373.98 (the paper: 374)
    assert m.ssti_days_averted(2100, 0.0443, 0.67, 6) == pytest.approx(373.9806)


def test_area_based_deaths_with_irwins_inputs():
    # (0.350 − 0.093) · 0.05 · 463 = 0.257 · 23.15 = 5.95 (the paper: 5.9)
    assert m.deaths_area_based(0.350, 0.093, 0.05, 463) == pytest.approx(5.949550)


def test_area_based_deaths_never_negative():
    assert m.deaths_area_based(0.05, 0.10, 0.05, 463) == 0.0


def test_event_based_deaths_milloy():
    # O_pf · D_local / (D_local + P · o_nf) = 336 · 50 / (50 + 5,000 · 0.2) = 336 · 50 / 1,050 = 16
    assert m.deaths_event_based(336, 50, 5000, 0.2) == pytest.approx(16.0)


def test_productivity_value_is_irwins_annuity():
    # V = W · (1 − (1 + i)^−Y) / i = 25,707 · (1 − 1.03^−30) / 0.03 = 25,707 · 19.60044 = 503,869
    assert m.annuity_factor(0.03, 30) == pytest.approx(19.600441, rel=1e-6)
    assert m.productivity_value(25_707, 0.03, 30) == pytest.approx(503_868.5, abs=1)


def test_annuity_at_a_zero_rate_is_the_number_of_years():
    assert m.annuity_factor(0.0, 30) == 30.0
    assert m.loan_payment(150_000, 0.0, 15) == pytest.approx(10_000)


def test_emergency_care_with_irwins_inputs():
    # O = 180,000 · 0.00133 = 239.4 overdoses
    overdoses = m.overdoses_on_site(180_000, 0.00133)
    assert overdoses == pytest.approx(239.4)
    # ambulance: 239.4 · (0.46 − 0.0079) = 108.23 (the paper: 108)
    assert m.service_averted(overdoses, 0.46, 0.0079) == pytest.approx(108.233, abs=0.001)
    # hospital: 239.4 · (0.12 − 0.0079) = 26.84 (the paper: 27)
    assert m.service_averted(overdoses, 0.12, 0.0079) == pytest.approx(26.837, abs=0.001)


def test_observed_in_site_count_replaces_the_in_site_rate():
    # 200 overdoses · 0.46 = 92 ambulances without a site; 12 called: 80 averted
    assert m.service_averted_observed(200, 0.46, 12) == pytest.approx(80)
    assert m.service_averted_observed(10, 0.46, 12) == 0.0


def test_icer_admissions_are_a_share_of_ed_visits():
    # ED averted: 1,710 · (0.33 − 0.0079) = 550.79; admissions 48% of that = 264.38
    ed = m.service_averted(180_000 * 0.0095, 0.33, 0.0079)
    assert m.admissions_from_ed(ed, 0.48) == pytest.approx(264.38, abs=0.01)


def test_treatment_value_is_our_reading():
    # entrants 2,100 · 0.0578 = 121.38 (the paper: 121); retained 60.69;
    # value = 60.69 · 4,000 · (4.5 − 1) = 849,660
    retained = m.treatment_retained(2100 * 0.0578, 0.5)
    assert retained == pytest.approx(60.69)
    assert m.treatment_value(retained, 4000, 4.5) == pytest.approx(849_660)
    assert m.treatment_value(retained, 4000, 0.8) == 0.0


def test_facility_cost_adds_icers_loan_on_the_space():
    # 1,000 sq ft · $550 = $550,000 at 7% over 15 years: 550,000 · 0.07 / (1 − 1.07^−15)
    payment = 550_000 * 0.07 / (1 - 1.07**-15)
    assert payment == pytest.approx(60_387.04, abs=0.01)
    operating = 1_687_286 * 1.24
    assert m.facility_cost(operating, 1000, 550, 0.07, 15) == pytest.approx(operating + payment)


def test_every_formula_gives_the_same_answer_on_arrays_of_draws():
    draws = np.array([0.5, 1.0, 1.5])
    for scale in draws:
        single = m.jacobs_new_infections(0.823, 1.6e6 * scale, 0.028, 1.0, 0.177, 0.0067, 1.2)
        vector = m.jacobs_new_infections(0.823, 1.6e6 * draws, 0.028, 1.0, 0.177, 0.0067, 1.2)
        assert isinstance(vector, np.ndarray)
        assert single == pytest.approx(vector[list(draws).index(scale)])
    rates = np.array([0.0, 0.03, 0.05])
    factors = m.annuity_factor(rates, 30)
    assert isinstance(factors, np.ndarray)
    assert list(factors) == pytest.approx([m.annuity_factor(float(r), 30) for r in rates])
    capped, bound = m.pinkerton_cap(np.array([1.0, 5.0]), 10.0, 0.3)
    assert list(np.asarray(capped)) == [1.0, 3.0]
    assert list(np.asarray(bound)) == [0.0, 1.0]


def test_floats_stay_floats():
    assert type(m.ssti_days_averted(2100, 0.0443, 0.67, 6)) is float
    assert math.isfinite(m.loan_payment(0.0, 0.07, 0.0))
