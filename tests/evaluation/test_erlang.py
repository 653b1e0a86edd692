"""Erlang-C against values computed by hand from the M/M/c formulas."""

from __future__ import annotations

import math

import pytest

from saferoom.evaluation import erlang


def test_single_server_waits_with_probability_rho() -> None:
    # M/M/1, λ = 0.5, μ = 1: P(wait) = ρ = 0.5; Wq = ρ / (μ − λ) = 1.
    assert erlang.erlang_c(0.5, 1.0, 1) == pytest.approx(0.5)
    assert erlang.mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)


def test_two_servers_one_erlang() -> None:
    # M/M/2, a = 1, ρ = 0.5: P0 = 1 / (1 + 1 + 1²/(2!·0.5)) = 1/3; C = (1/2)/(0.5)·P0 = 1/3;
    # Wq = C / (2μ − λ) = 1/3.
    assert erlang.erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert erlang.mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)


def test_three_servers_two_erlangs_textbook() -> None:
    # M/M/3, λ = 2, μ = 1: P0 = 1 / (1 + 2 + 2 + (8/6)/(1/3)) = 1/9; C = 4 · 1/9 = 4/9;
    # Wq = C / (3 − 2) = 4/9.
    assert erlang.erlang_c(2.0, 1.0, 3) == pytest.approx(4 / 9)
    assert erlang.mean_wait(2.0, 1.0, 3) == pytest.approx(4 / 9)


def test_rates_in_any_unit_give_waits_in_that_unit() -> None:
    # 12 arrivals an hour, 20-minute service, 6 servers: the same queue per minute and per hour.
    per_minute = erlang.mean_wait(12 / 60, 1 / 20, 6)
    per_hour = erlang.mean_wait(12, 3, 6)
    assert per_minute == pytest.approx(per_hour * 60)


def test_wait_quantile_from_the_exponential_tail() -> None:
    # M/M/1, λ = 0.5, μ = 1: P(W > t) = 0.5·e^(−0.5 t); p95 = ln(0.5 / 0.05) / 0.5 = 2 ln 10.
    assert erlang.wait_quantile(0.5, 1.0, 1, 0.95) == pytest.approx(2 * math.log(10))
    assert erlang.wait_share_over(0.5, 1.0, 1, 2 * math.log(10)) == pytest.approx(0.05)
    # Fewer than 5% wait at all: the p95 wait is zero.
    assert erlang.wait_quantile(0.1, 1.0, 3, 0.95) == 0.0


def test_erlang_b_recursion() -> None:
    # B(1, a=1) = a / (1 + a) = 0.5; B(2, a=1) = (1/2) / (1 + 1 + 1/2) = 0.2.
    assert erlang.erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang.erlang_b(1.0, 2) == pytest.approx(0.2)


def test_hundreds_of_servers_stay_finite() -> None:
    c = erlang.erlang_c(480.0, 1.0, 500)
    assert 0 < c < 1
    assert math.isfinite(erlang.mean_wait(480.0, 1.0, 500))


def test_an_unstable_queue_always_waits_forever() -> None:
    assert erlang.erlang_c(3.0, 1.0, 3) == 1.0
    assert erlang.mean_wait(3.0, 1.0, 3) == math.inf
    assert erlang.wait_quantile(4.0, 1.0, 3, 0.95) == math.inf


def test_no_arrivals_no_wait() -> None:
    assert erlang.erlang_c(0.0, 1.0, 2) == 0.0
    assert erlang.mean_wait(0.0, 1.0, 2) == 0.0


@pytest.mark.parametrize(
    ("arrival", "service", "servers", "message"),
    [
        (-1.0, 1.0, 1, "arrival rate"),
        (1.0, 0.0, 1, "service rate"),
        (1.0, math.inf, 1, "service rate"),
        (1.0, 1.0, 0, "servers"),
        (1.0, 1.0, True, "servers"),
    ],
)
def test_nonsense_is_refused(arrival: float, service: float, servers: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        erlang.erlang_c(arrival, service, servers)


def test_quantile_must_be_below_one() -> None:
    with pytest.raises(ValueError, match="quantile"):
        erlang.wait_quantile(1.0, 1.0, 2, 1.0)
