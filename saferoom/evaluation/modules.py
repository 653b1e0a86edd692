"""The published formulas of the evaluation engine, one function each, per year.

Every function works on floats and on NumPy arrays of draws alike (the probabilistic
sensitivity analysis calls the very same functions with arrays): only arithmetic and NumPy
ufuncs, no ``if`` on a value. Pure Python + NumPy: no Django. The formulas and their sources
are written out in ``docs/evaluation.md``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# A float for the deterministic run, an array of draws for the PSA.
Number = float | npt.NDArray[np.float64]


def _out(value: object) -> Number:
    """A 0-d result back to a plain float, so deterministic runs stay in floats."""
    array = np.asarray(value, dtype=np.float64)
    return float(array) if array.ndim == 0 else array


# --- HIV and HCV: Jacobs et al. 1999 needle-sharing model ---------------------------------------


def jacobs_new_infections(
    uninfected: Number,
    needles: Number,
    sharing: Number,
    unbleached: Number,
    prevalence: Number,
    transmission: Number,
    partners: Number,
) -> Number:
    """New infections a year without the site: ``H = I · N · s · d · (1 − (1 − q·t)^m)``."""
    per_shared = 1.0 - np.power(1.0 - np.multiply(prevalence, transmission), partners)
    return _out(np.multiply(uninfected, needles) * np.multiply(sharing, unbleached) * per_shared)


def jacobs_averted(
    new_infections: Number, clients: Number, population: Number, reduction: Number
) -> Number:
    """Infections averted: ``A = H · (C / T) · n``. ``C`` is capped at ``T`` (a site cannot
    reach more people than inject in the area)."""
    reach = np.minimum(np.divide(clients, np.maximum(population, 1e-12)), 1.0)
    return _out(np.multiply(new_infections, reach) * reduction)


def pinkerton_cap(
    averted: Number, observed_incidence: Number, attributable_share: Number
) -> tuple[Number, Number]:
    """Pinkerton 2011's guard: infections averted never exceed the observed incidence among
    PWID times the share attributable to sharing. Returns (capped, bound) where ``bound`` is
    1.0 where the guard bound and 0.0 elsewhere."""
    ceiling = np.multiply(observed_incidence, attributable_share)
    bound = np.asarray(averted) > ceiling
    return _out(np.minimum(averted, ceiling)), _out(bound.astype(np.float64))


# --- Skin and soft-tissue infections (Irwin 2017) ------------------------------------------------


def ssti_days_averted(
    clients: Number, hospitalisation_rate: Number, reduction: Number, length_of_stay: Number
) -> Number:
    """Hospital days averted: ``days = C · h · r · L``."""
    return _out(np.multiply(clients, hospitalisation_rate) * np.multiply(reduction, length_of_stay))


# --- Overdose deaths ------------------------------------------------------------------------------


def deaths_area_based(
    reduction_within: Number, reduction_beyond: Number, catchment_share: Number, city_deaths: Number
) -> Number:
    """Marshall et al. 2011: ``deaths = (r_within − r_beyond) · p · D``, never below 0."""
    difference = np.maximum(np.subtract(reduction_within, reduction_beyond), 0.0)
    return _out(difference * np.multiply(catchment_share, city_deaths))


def deaths_event_based(
    potentially_fatal: Number, local_deaths: Number, pwid: Number, nonfatal_rate: Number
) -> Number:
    """Milloy et al. 2008: ``deaths = O_pf · D_local / (D_local + P · o_nf)`` — the share of
    local overdoses that are fatal, applied to the potentially fatal overdoses managed on site."""
    all_overdoses = np.add(local_deaths, np.multiply(pwid, nonfatal_rate))
    fatal_share = np.divide(local_deaths, np.maximum(all_overdoses, 1e-12))
    return _out(np.multiply(potentially_fatal, fatal_share))


def annuity_factor(rate: Number, years: Number) -> Number:
    """Present value of 1 a year for ``years`` years at ``rate``: ``(1 − (1 + i)^−Y) / i``
    (``Y`` when the rate is 0)."""
    rate_array = np.asarray(rate, dtype=np.float64)
    safe = np.where(np.abs(rate_array) < 1e-12, 1.0, rate_array)
    factor = np.where(
        np.abs(rate_array) < 1e-12,
        np.asarray(years, dtype=np.float64) * np.ones_like(rate_array),
        (1.0 - np.power(1.0 + safe, np.negative(years))) / safe,
    )
    return _out(factor)


def productivity_value(wage: Number, rate: Number, years: Number) -> Number:
    """Irwin's value of a death averted: ``V = W · (1 − (1 + i)^−Y) / i``."""
    return _out(np.multiply(wage, annuity_factor(rate, years)))


# --- Emergency care (Irwin 2017; ICER 2021) -------------------------------------------------------


def overdoses_on_site(injections: Number, overdose_rate: Number) -> Number:
    """On-site overdoses: ``O = injections · overdose rate``."""
    return _out(np.multiply(injections, overdose_rate))


def service_averted(overdoses: Number, rate_without: Number, rate_in_site: Number) -> Number:
    """Uses of a service averted: ``O · (rate_without_site − rate_in_site)``, never below 0."""
    return _out(np.maximum(np.multiply(overdoses, np.subtract(rate_without, rate_in_site)), 0.0))


def service_averted_observed(overdoses: Number, rate_without: Number, observed: Number) -> Number:
    """The same with the site's observed count: ``O · rate_without − observed``, never below 0."""
    return _out(np.maximum(np.multiply(overdoses, rate_without) - observed, 0.0))


def admissions_from_ed(ed_averted: Number, share_admitted: Number) -> Number:
    """ICER: hospital admissions averted as a share of the ED visits averted."""
    return _out(np.multiply(ed_averted, share_admitted))


# --- Treatment entry (Irwin 2017; the valuation is our reading) -----------------------------------


def treatment_retained(entrants: Number, retention: Number) -> Number:
    """People retained in treatment: ``entrants · f``."""
    return _out(np.multiply(entrants, retention))


def treatment_value(retained: Number, annual_cost: Number, benefit_cost_ratio: Number) -> Number:
    """Our reading: ``retained · annual cost · (benefit–cost ratio − 1)``, the net benefit of
    the treatment the site brought people into (never below 0)."""
    net_ratio = np.maximum(np.subtract(benefit_cost_ratio, 1.0), 0.0)
    return _out(np.multiply(retained, annual_cost) * net_ratio)


# --- Facility cost (ICER 2021) --------------------------------------------------------------------


def loan_payment(principal: Number, rate: Number, years: Number) -> Number:
    """Yearly payment on a loan: ``principal / annuity_factor(rate, years)``."""
    factor = np.asarray(annuity_factor(rate, years))
    return _out(np.divide(principal, np.maximum(factor, 1e-12)))


def facility_cost(
    operating: Number, space: Number, price_per_area: Number, rate: Number, years: Number
) -> Number:
    """Operating cost plus the annuity on purchased space (``space · price``)."""
    return _out(np.add(operating, loan_payment(np.multiply(space, price_per_area), rate, years)))


def value(events: Number, unit_value: Number) -> Number:
    """Events averted times the value of one."""
    return _out(np.multiply(events, unit_value))
