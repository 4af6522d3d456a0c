"""Ranges that mean what they say: predictive quantiles of counts and their conformal levels.

A BTYD model gives each customer a whole predictive distribution of her purchases in the
next ``t`` (``model.count_sf(n, t, x, t_x, T) = P(N >= n)``). An "80 % range" is the pair of
quantiles ``[Q(tau_lo), Q(tau_hi)]`` of that distribution. With ``tau = (0.1, 0.9)`` it
covers 80 % only if the model is right, and counts are discrete (a customer with a 90 %
chance of no purchase has the range 0-0 whatever the levels).

**Conformal adjustment of the levels** (split conformal prediction, Vovk, Gammerman & Shafer
2005, *Algorithmic Learning in a Random World*; applied to quantile levels as in Kuleshov,
Fenner & Ermon 2018, "Accurate uncertainties for deep learning using calibrated regression",
ICML): on a calibration window whose outcome is already known, every customer's observed
count ``N`` is placed in her predictive distribution by its two probability-integral-transform
values ``u = F(N)`` and ``l = F(N - 1)``. She falls below ``Q(tau)`` exactly when ``u < tau``
and above it exactly when ``l >= tau``. So the symmetric levels ``0.5 -+ w/2`` whose range
holds 80 % of the calibration window follow from an order statistic of a score of ``u`` and
``l`` (:func:`conformal_levels`); applied to later predictions they give ranges whose
coverage, over customers, is the nominal one as far as the window is like the future (the
backtest measures it). Spend and value use the same levels machinery
with the observed amount divided by the value of one order (a real number of "orders").

Examples
--------
>>> u = np.linspace(0.0, 1.0, 101)  # PIT values of 101 calibration customers (continuous outcomes)
>>> [round(v, 6) for v in conformal_levels(u, u, coverage=0.8)]  # the finite-sample rank: 82 of 101
[0.09, 0.91]
>>> sf = lambda n: np.exp(-0.5 * n)           # P(N >= n) of a geometric count, for two customers
>>> count_quantiles(lambda n: sf(n), np.array([0.1, 0.9]), 2).tolist()
[0.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["conformal_levels", "count_pit", "count_quantiles", "count_log_score"]

#: Counts are searched up to this many purchases (2**20; far beyond any shop's horizon).
_MAX_COUNT = 1 << 20


def count_quantiles(sf: Callable[[np.ndarray], np.ndarray], q, n_rows: int) -> np.ndarray:
    """The least ``n >= 0`` with ``P(N <= n) >= q`` for each row, by integer bisection.

    Parameters
    ----------
    sf : callable
        ``sf(n)`` with ``n`` an array of one count per row returns ``P(N >= n)`` per row.
    q : float or array of one level per row
        Levels in ``[0, 1)``; 0 (or less) gives 0.
    n_rows : int
    """
    q = np.broadcast_to(np.asarray(q, dtype=float), (n_rows,))
    target = 1.0 - np.clip(q, 0.0, 1.0 - 1e-12)  # P(N >= n + 1) <= 1 - q
    hi = np.ones(n_rows)
    while True:  # an upper bracket: sf(hi + 1) <= target
        short = sf(hi + 1) > target
        if not short.any() or hi.max() >= _MAX_COUNT:
            break
        hi[short] = np.minimum(hi[short] * 2, _MAX_COUNT)
    lo = np.full(n_rows, -1.0)  # invalid; hi valid
    while (hi - lo > 1).any():
        mid = np.floor((lo + hi) / 2)
        ok = sf(mid + 1) <= target
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return np.where(q <= 0, 0.0, hi)


def count_pit(sf: Callable[[np.ndarray], np.ndarray], observed) -> tuple[np.ndarray, np.ndarray]:
    """``(F(floor(y)), F(ceil(y) - 1))`` for observed amounts ``y`` in units of one purchase.

    For a count ``y = N`` these are ``F(N)`` and ``F(N - 1)``: the row lies below the quantile
    ``Q(tau)`` iff the first is ``< tau``, above it iff the second is ``>= tau``. A real ``y``
    (spend divided by the value of one order) compares with ``Q(tau) * value`` the same way.
    ``F`` of a negative count is 0.
    """
    y = np.asarray(observed, dtype=float)
    low, high = np.floor(y), np.ceil(y) - 1

    def cdf(n):
        out = 1.0 - sf(np.maximum(n, 0.0) + 1)
        return np.where(n < 0, 0.0, out)

    return cdf(low), cdf(high)


def conformal_levels(upper_pit, lower_pit, coverage: float = 0.8) -> tuple[float, float]:
    """Quantile levels ``(0.5 - w/2, 0.5 + w/2)`` whose range covers ``coverage`` of the
    calibration rows.

    The conformity score of a row is ``max(1 - 2 F(floor y), 2 F(ceil y - 1) - 1)``: how far
    from the median its outcome lies in probability terms, on either side. A range with levels
    ``0.5 -+ w/2`` covers exactly the rows whose score is at most ``w``, so ``w`` is the
    split-conformal quantile of the scores: the ``ceil(coverage * (n + 1))``-th smallest. One
    width for both tails (rather than a level per tail) stays stable when one tail is
    degenerate, as the lower one is for customers who most likely buy nothing.

    Parameters
    ----------
    upper_pit, lower_pit : array_like
        ``F(floor(y))`` and ``F(ceil(y) - 1)`` of each calibration row (:func:`count_pit`).
    coverage : float
        Nominal coverage of the range.

    Returns
    -------
    (tau_lo, tau_hi)
        The nominal ``((1 - coverage) / 2, (1 + coverage) / 2)`` without calibration rows.
    """
    u = np.asarray(upper_pit, dtype=float)
    lo_pit = np.asarray(lower_pit, dtype=float)
    if u.size == 0:
        return (1 - coverage) / 2, (1 + coverage) / 2
    scores = np.sort(np.maximum(1 - 2 * u, 2 * lo_pit - 1))
    k = int(np.ceil(coverage * (u.size + 1)))
    if k > u.size:
        return 0.0, 1.0 - 1e-9
    w = max(float(scores[k - 1]), 0.0)
    tau_lo = max(0.5 - w / 2, 0.0)
    tau_hi = min(float(np.nextafter(0.5 + w / 2, 1.0)), 1.0 - 1e-9)
    return round(tau_lo, 12), tau_hi


def count_log_score(sf: Callable[[np.ndarray], np.ndarray], observed) -> np.ndarray:
    """``log P(N = n)`` of each observed count under the predictive distribution (a proper
    score: higher is better; used to choose between transaction models on a holdout)."""
    n = np.asarray(observed, dtype=float)
    p = sf(n) - sf(n + 1)
    return np.log(np.maximum(p, 1e-300))
