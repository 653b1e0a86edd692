"""Erlang-C: the M/M/c queue in closed form (Poisson arrivals, exponential service, ``c``
identical servers, first come first served, nobody leaves the queue).

Used to check the capacity simulation (:mod:`saferoom.evaluation.capacity`): with the same
assumptions the simulation must give the same waits. Rates are per unit of time (any unit, as
long as both rates use the same one); waits come back in that unit. Pure Python: no Django.

With ``a = λ/μ`` the offered load and ``ρ = a/c`` the utilisation (must be below 1):

* P(wait) = C(c, a) = (a^c / c!) / (1 − ρ) · P0, computed through the Erlang-B recursion
  ``B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1))`` and ``C = c·B / (c − a·(1 − B))``, which is
  numerically stable for hundreds of servers;
* mean wait Wq = C / (cμ − λ);
* P(Wq > t) = C · exp(−(cμ − λ)·t), so the q-quantile of the wait is 0 when 1 − q ≥ C, else
  ln(C / (1 − q)) / (cμ − λ).
"""

from __future__ import annotations

import math

__all__ = ["erlang_b", "erlang_c", "mean_wait", "utilisation", "wait_quantile", "wait_share_over"]


def _check(arrival_rate: float, service_rate: float, servers: int) -> None:
    if not (arrival_rate >= 0 and math.isfinite(arrival_rate)):
        raise ValueError("The arrival rate must be a finite number of at least 0.")
    if not (service_rate > 0 and math.isfinite(service_rate)):
        raise ValueError("The service rate must be a finite number above 0.")
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise ValueError("The number of servers must be a whole number of at least 1.")


def utilisation(arrival_rate: float, service_rate: float, servers: int) -> float:
    """ρ = λ / (cμ): the share of time each server is busy (when below 1)."""
    _check(arrival_rate, service_rate, servers)
    return arrival_rate / (servers * service_rate)


def erlang_b(offered_load: float, servers: int) -> float:
    """Erlang-B blocking probability for offered load ``a`` (erlangs) on ``servers`` servers."""
    if offered_load < 0 or servers < 0:
        raise ValueError("The offered load and the number of servers must be at least 0.")
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """The probability that an arrival has to wait (all servers busy). 1.0 when the queue is
    unstable (λ ≥ cμ): everyone waits."""
    _check(arrival_rate, service_rate, servers)
    a = arrival_rate / service_rate
    if a >= servers:
        return 1.0
    if a == 0:
        return 0.0
    b = erlang_b(a, servers)
    return servers * b / (servers - a * (1 - b))


def mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in the queue (Wq), in the unit of the rates; ``inf`` when unstable."""
    c = erlang_c(arrival_rate, service_rate, servers)
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return math.inf
    return c / drain


def wait_share_over(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    """P(wait > t): the share of arrivals who wait longer than ``t``."""
    c = erlang_c(arrival_rate, service_rate, servers)
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return 1.0
    if t < 0:
        return 1.0
    return c * math.exp(-drain * t)


def wait_quantile(arrival_rate: float, service_rate: float, servers: int, q: float) -> float:
    """The ``q``-quantile of the wait (e.g. ``q=0.95`` for the p95), in the unit of the rates;
    ``inf`` when unstable."""
    if not 0 <= q < 1:
        raise ValueError("The quantile must be at least 0 and below 1.")
    c = erlang_c(arrival_rate, service_rate, servers)
    drain = servers * service_rate - arrival_rate
    if drain <= 0:
        return math.inf
    tail = 1 - q
    if tail >= c:
        return 0.0
    return math.log(c / tail) / drain
