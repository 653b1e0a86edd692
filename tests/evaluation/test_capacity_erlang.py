"""The simulation agrees with Erlang-C when its assumptions hold (Poisson arrivals, exponential
time in space, no clear-down, nobody leaving, always open)."""

from __future__ import annotations

import math

import pytest

from saferoom.evaluation import erlang
from saferoom.evaluation.capacity import (
    ArrivalProfile,
    PlanInput,
    erlang_check,
    load_profile,
    simulate,
)


def mmc(per_hour: float, minutes: float, servers: int, days: int, seed: int = 1) -> PlanInput:
    return PlanInput(
        profile=ArrivalProfile.flat("flat", per_hour, {"inject": 1.0}),
        booths=servers,
        inhalation_rooms=0,
        service_minutes={"inject": minutes},
        service_distribution="exponential",
        clear_down_minutes={"booth": 0},
        patience_minutes=math.inf,
        days=days,
        seed=seed,
    )


@pytest.mark.parametrize(
    ("per_hour", "minutes", "servers"),
    [
        (2.4, 20.0, 1),  # ρ = 0.8 on one booth
        (24.0, 20.0, 9),  # ρ ≈ 0.89 on nine
        (30.0, 15.0, 10),  # ρ = 0.75 on ten
    ],
)
def test_mean_wait_and_share_waiting_match_erlang_c(
    per_hour: float, minutes: float, servers: int
) -> None:
    result = simulate(mmc(per_hour, minutes, servers, days=1000))
    booth = result.booth
    assert booth is not None
    lam, mu = per_hour / 60, 1 / minutes
    assert booth.mean_wait_minutes == pytest.approx(erlang.mean_wait(lam, mu, servers), rel=0.07)
    assert booth.share_waited == pytest.approx(erlang.erlang_c(lam, mu, servers), abs=0.02)
    # The p95 of a long-tailed wait is noisier than the mean (about ±8% between seeds for one
    # booth at 80% load over 1,000 days).
    assert booth.p95_wait_minutes == pytest.approx(
        erlang.wait_quantile(lam, mu, servers, 0.95), rel=0.10
    )


def test_the_built_in_check_agrees_for_a_busy_urban_site() -> None:
    check = erlang_check(
        PlanInput(
            profile=load_profile("busy-urban-500"),
            booths=5,
            inhalation_rooms=4,
        ),
        days=365,
    )
    assert check.ok, [row.to_dict() for row in check.rows if not row.ok]
    assert {row.space for row in check.rows} == {"booth", "inhalation"}
    assert {row.measure for row in check.rows} == {"P(wait)", "mean wait (min)", "p95 wait (min)"}
    # A real queue: people do wait, so the comparison means something.
    booth_wait = next(r for r in check.rows if r.space == "booth" and r.measure == "P(wait)")
    assert booth_wait.formula > 0.1


def test_the_check_notices_a_wrong_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    real = erlang.mean_wait
    monkeypatch.setattr(erlang, "mean_wait", lambda *a: 2 * real(*a))
    check = erlang_check(
        PlanInput(profile=load_profile("busy-urban-500"), booths=5, inhalation_rooms=4),
        days=120,
    )
    assert not check.ok


def test_the_check_refuses_a_queue_that_grows_without_end() -> None:
    with pytest.raises(ValueError, match="needs fewer arrivals than the booth spaces can serve"):
        erlang_check(
            PlanInput(profile=load_profile("busy-urban-500"), booths=3, inhalation_rooms=11)
        )


def test_the_check_skips_a_kind_with_no_arrivals() -> None:
    check = erlang_check(
        PlanInput(profile=load_profile("glasgow-like"), booths=2, inhalation_rooms=1), days=60
    )
    assert {row.space for row in check.rows} == {"booth"}
