"""A guard against peeking: always-valid confidence intervals (confidence sequences) and p-values.

A classical 95 % interval is right 95 % of the time when it is looked at **once**, at the sample
size planned in advance. Looking every day and stopping when it excludes zero turns a 5 % false
positive rate into 20-30 %. The mixture sequential probability ratio test (mSPRT) gives an
interval that holds at every look simultaneously: with a normal mixture ``N(0, tau^2)`` over the
true difference and the estimate's variance ``V``, the likelihood ratio against "no difference" is

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * estimate^2 / (2 V (V + tau^2)))

and, by Ville's inequality, ``P(exists a look with Lambda >= 1/alpha) <= alpha`` when there is no
difference. Inverting it gives the confidence sequence

    estimate +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))

which is wider than the fixed-horizon interval (the price of looking whenever one likes) and
narrows as data arrive. ``tau^2`` is chosen so that the interval is narrowest at the planned
sample size (Howard et al. 2021, section 3.5).

References
----------
- Johari, R., Koomen, P., Pekelis, L. & Walsh, D. (2017). "Peeking at A/B tests: why it matters,
  and what to do about it". *Proceedings of KDD 2017*, 1517-1525.
- Howard, S. R., Ramdas, A., McAuliffe, J. & Sekhon, J. (2021). "Time-uniform, nonparametric,
  nonasymptotic confidence sequences". *Annals of Statistics* 49(2), 1055-1080.
- Robbins, H. (1970). "Statistical methods related to the law of the iterated logarithm".
  *Annals of Mathematical Statistics* 41, 1397-1409 (normal mixture boundary).

Examples
--------
>>> tau2 = mixture_variance(0.04)
>>> lo, hi = confidence_sequence(0.5, 0.04, tau2)
>>> round(lo, 2), round(hi, 2)
(-0.11, 1.11)
>>> round(always_valid_p(0.5, 0.04, tau2), 3)
0.187
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

__all__ = ["always_valid_p", "confidence_sequence", "mixture_variance"]


def _width_factor(ratio: float, alpha: float) -> float:
    """Squared half-width divided by V, for tau^2 = ratio * V."""
    return (1 + 1 / ratio) * (2 * np.log(1 / alpha) + np.log1p(ratio))


def mixture_variance(planned_variance: float, alpha: float = 0.05) -> float:
    """The mixing variance ``tau^2`` whose confidence sequence is narrowest when the estimate's
    variance reaches *planned_variance* (its value at the planned sample size)."""
    if not planned_variance > 0:
        raise ValueError("the planned variance of the estimate must be positive")
    res = optimize.minimize_scalar(lambda r: _width_factor(np.exp(r), alpha), bounds=(-10, 15), method="bounded")
    return float(np.exp(res.x) * planned_variance)


def confidence_sequence(estimate, variance, tau2: float, alpha: float = 0.05):
    """Always-valid ``(lower, upper)`` interval at the current look (arrays broadcast)."""
    v = np.asarray(variance, dtype=float)
    half = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))
    est = np.asarray(estimate, dtype=float)
    lo, hi = est - half, est + half
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


def always_valid_p(estimate, variance, tau2: float):
    """``min(1, 1 / Lambda)``: rejecting "no difference" whenever it is below alpha, at any look,
    keeps the false positive rate below alpha."""
    v = np.asarray(variance, dtype=float)
    est = np.asarray(estimate, dtype=float)
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * est**2 / (2 * v * (v + tau2))
    p = np.minimum(1.0, np.exp(-log_lr))
    return float(p) if np.ndim(p) == 0 else p
