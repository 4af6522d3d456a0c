"""Planning: how many customers an experiment needs, and what it can detect with those you have.

Sample sizes come from the two-sample normal power calculation of ``statsmodels``
(``NormalIndPower``): for a **rate** on Cohen's arcsine effect size ``h = 2 asin(sqrt(p2)) -
2 asin(sqrt(p1))``, for a **revenue** metric on ``d = difference / sd`` with the standard
deviation of revenue per customer measured on the shop's own history (over a window as long as
the test's). The *minimum detectable effect* is the same calculation solved for the effect.

References
----------
- Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*, 2nd ed.,
  chapters 2 and 6 (d and h effect sizes).
- Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled Experiments*, chapter 17.

Examples
--------
>>> p = plan_rate(0.10, 0.02, available=1200, weekly_inflow=450, population="your at-risk segment")
>>> p.n_per_arm
[3835, 3835]
>>> print(p.sentence)
To detect +2.0 points of conversion (10.0% -> 12.0%) with 80% power at 5% significance you need 3,835 customers per arm (7,670 in all); your at-risk segment has 1,200: run it for 15 weeks (about 450 customers join it a week) or accept ±5.4 points.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from statsmodels.stats.power import NormalIndPower

__all__ = ["Plan", "detectable_mean", "detectable_rate", "plan_mean", "plan_rate"]


@dataclass(frozen=True)
class Plan:
    metric: str               # "conversion" or "revenue"
    baseline: float           # rate, or mean revenue per customer
    sd: float | None          # revenue only
    effect: float             # absolute: rate difference, or money per customer
    alpha: float
    power: float
    shares: list[float]       # control share, treatment share
    n_per_arm: list[int]      # control, treatment
    total: int
    available: int | None
    detectable_with_available: float | None
    weekly_inflow: float | None
    weeks_needed: int | None
    sentence: str
    baseline_source: str | None = None  # where the baseline came from, in words (set by the caller)

    def to_dict(self) -> dict:
        return asdict(self)


def _solve(effect_size: float, alpha: float, power: float, treatment_share: float) -> tuple[int, int]:
    ratio = (1 - treatment_share) / treatment_share  # control per treatment customer
    n_t = NormalIndPower().solve_power(effect_size=abs(effect_size), alpha=alpha, power=power, ratio=ratio)
    n_t = int(math.ceil(n_t))
    return int(math.ceil(n_t * ratio)), n_t


def _detectable_size(n_control: int, n_treatment: int, alpha: float, power: float) -> float:
    if min(n_control, n_treatment) < 2:
        return float("inf")
    return float(NormalIndPower().solve_power(nobs1=n_treatment, ratio=n_control / n_treatment, alpha=alpha, power=power))


def detectable_rate(baseline: float, n_control: int, n_treatment: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest increase of a rate (absolute, e.g. 0.02 = 2 points) detectable with these arm sizes."""
    h = _detectable_size(n_control, n_treatment, alpha, power)
    if not np.isfinite(h):
        return float("inf")
    phi = 2 * math.asin(math.sqrt(baseline)) + h
    return (math.sin(min(phi, math.pi) / 2) ** 2) - baseline


def detectable_mean(sd: float, n_control: int, n_treatment: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest difference of means (money per customer) detectable with these arm sizes."""
    return _detectable_size(n_control, n_treatment, alpha, power) * sd


def _arms(n_per_arm: list[int], available: int | None, shares: list[float]) -> tuple[int | None, int | None]:
    if available is None:
        return None, None
    return int(available * shares[0]), int(available * shares[1])


def _weeks(total: int, available: int | None, weekly_inflow: float | None) -> int | None:
    """Weeks until the customers there now plus those entering reach *total*."""
    if available is None or available >= total or not weekly_inflow or weekly_inflow <= 0:
        return None
    return int(math.ceil((total - available) / weekly_inflow))


def _tail(total: int, available: int | None, weeks: int | None, weekly_inflow, population: str, detect: str) -> str:
    if available is None:
        return "."
    if available >= total:
        return f"; {population} has {available:,} customers: enough."
    if weeks is not None:
        return (f"; {population} has {available:,}: run it for {weeks} weeks (about {weekly_inflow:,.0f} customers join "
                f"it a week) or accept ±{detect}.")
    return f"; {population} has {available:,} and is not growing: accept ±{detect} or widen the audience."


def plan_rate(baseline: float, lift: float, alpha: float = 0.05, power: float = 0.8, treatment_share: float = 0.5,
              available: int | None = None, weekly_inflow: float | None = None,
              population: str = "your audience") -> Plan:
    """Customers needed to detect a rate moving from *baseline* to *baseline + lift*."""
    if not 0 < baseline < 1 or not 0 < baseline + lift < 1 or lift == 0:
        raise ValueError("the baseline rate and the rate to detect must lie strictly between 0% and 100%, and differ")
    h = 2 * math.asin(math.sqrt(baseline + lift)) - 2 * math.asin(math.sqrt(baseline))
    n_c, n_t = _solve(h, alpha, power, treatment_share)
    shares = [1 - treatment_share, treatment_share]
    a_c, a_t = _arms([n_c, n_t], available, shares)
    detect = detectable_rate(baseline, a_c, a_t, alpha, power) if available is not None else None
    weeks = _weeks(n_c + n_t, available, weekly_inflow)
    sentence = (f"To detect {lift * 100:+.1f} points of conversion ({baseline:.1%} -> {baseline + lift:.1%}) with "
                f"{power:.0%} power at {alpha:.0%} significance you need {max(n_c, n_t):,} customers per arm "
                f"({n_c + n_t:,} in all)" if n_c == n_t else
                f"To detect {lift * 100:+.1f} points of conversion ({baseline:.1%} -> {baseline + lift:.1%}) with "
                f"{power:.0%} power at {alpha:.0%} significance you need {n_c:,} in control and {n_t:,} in treatment "
                f"({n_c + n_t:,} in all)")
    sentence += _tail(n_c + n_t, available, weeks, weekly_inflow, population,
                      f"{detect * 100:.1f} points" if detect is not None and np.isfinite(detect) else "")
    return Plan("conversion", baseline, None, lift, alpha, power, shares, [n_c, n_t], n_c + n_t, available,
                detect, weekly_inflow, weeks, sentence)


def plan_mean(baseline: float, sd: float, effect: float, currency: str = "", alpha: float = 0.05, power: float = 0.8,
              treatment_share: float = 0.5, available: int | None = None, weekly_inflow: float | None = None,
              population: str = "your audience") -> Plan:
    """Customers needed to detect *effect* more revenue per customer, given the shop's *sd*.

    >>> plan_mean(12.0, 40.0, 2.0, "EUR").n_per_arm
    [6280, 6280]
    """
    if not sd > 0 or effect == 0:
        raise ValueError("revenue per customer must vary (sd > 0) and the effect to detect must not be zero")
    n_c, n_t = _solve(effect / sd, alpha, power, treatment_share)
    shares = [1 - treatment_share, treatment_share]
    a_c, a_t = _arms([n_c, n_t], available, shares)
    detect = detectable_mean(sd, a_c, a_t, alpha, power) if available is not None else None
    weeks = _weeks(n_c + n_t, available, weekly_inflow)
    unit = f" {currency}" if currency else ""
    sentence = (f"To detect {effect:+,.2f}{unit} of revenue per customer (from {baseline:,.2f}{unit}; customers vary by "
                f"{sd:,.2f}{unit}) with {power:.0%} power at {alpha:.0%} significance you need {max(n_c, n_t):,} customers "
                f"per arm ({n_c + n_t:,} in all)")
    sentence += _tail(n_c + n_t, available, weeks, weekly_inflow, population,
                      f"{detect:,.2f}{unit}" if detect is not None and np.isfinite(detect) else "")
    return Plan("revenue", baseline, sd, effect, alpha, power, shares, [n_c, n_t], n_c + n_t, available, detect,
                weekly_inflow, weeks, sentence)
