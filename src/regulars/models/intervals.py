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
from scipy.special import betainc, betaln

__all__ = ["NBMixture", "conformal_levels", "count_pit", "count_quantiles", "count_log_score"]

#: Counts are searched up to this many purchases (2**20; far beyond any shop's horizon).
_MAX_COUNT = 1 << 20


class NBMixture:
    """A predictive count distribution: ``P(N >= n) = R(n) * sum_j w_j P(NB(k, q_j) >= n)`` for
    ``n >= 1``, with ``R(n) = B(a, b + n - 1) / B(a, b)`` (or 1), per row.

    Every transaction model here has this form: the BG/NBD and MBG/NBD with one component (the
    chance of being alive as its weight) and the beta factor for dropping out after each
    purchase; the Pareto/NBD as a quadrature mixture over the remaining lifetime.

    Parameters
    ----------
    k : array of shape (rows,)
        Negative binomial size (``r + x``).
    q : array of shape (rows, components)
        Negative binomial success probabilities (``(alpha+T)/(alpha+T+u)``).
    w : array of shape (rows, components)
        Component weights (summing to the chance of being alive).
    a, b : array of shape (rows,), optional
        The dropout posterior ``Beta(a, b)``: surviving ``n - 1`` more purchases.

    Examples
    --------
    >>> d = NBMixture(np.array([2.0]), np.array([[0.5]]), np.array([[1.0]]))
    >>> [round(float(d.sf(np.array([n]))[0]), 4) for n in range(4)]  # NB(2, 1/2) tail
    [1.0, 0.75, 0.5, 0.3125]
    >>> d.quantiles([0.1, 0.5, 0.9]).ravel().tolist()  # scipy.stats.nbinom.ppf gives the same
    [0.0, 1.0, 5.0]
    """

    def __init__(self, k, q, w, a=None, b=None):
        self.k = np.asarray(k, dtype=float)
        self.q = np.atleast_2d(np.asarray(q, dtype=float))
        self.w = np.atleast_2d(np.asarray(w, dtype=float))
        self.a = None if a is None else np.broadcast_to(np.asarray(a, dtype=float), self.k.shape)
        self.b = None if b is None else np.asarray(b, dtype=float)

    @property
    def size(self) -> int:
        return self.k.size

    def sf(self, n, rows=None) -> np.ndarray:
        """``P(N >= n)`` for one ``n`` per row (of ``rows``, default every row); a single row
        takes any number of counts."""
        n = np.asarray(n, dtype=float)
        if rows is None and self.size == 1 and n.size > 1:
            rows = np.zeros(n.size, dtype=np.int64)
        rows = slice(None) if rows is None else rows
        n = np.broadcast_to(n, self.k[rows].shape)
        safe = np.maximum(n, 1.0)
        tail = (self.w[rows] * betainc(safe[:, None], self.k[rows][:, None], 1.0 - self.q[rows])).sum(axis=1)
        if self.a is not None:
            a, b = self.a[rows], self.b[rows]
            tail = tail * np.exp(betaln(a, b + safe - 1) - betaln(a, b))
        return np.where(n <= 0, 1.0, tail)

    def mean(self, max_steps: int = 100_000) -> np.ndarray:
        """``E[N] = sum over n >= 1 of P(N >= n)``, walked upwards (used where a model's closed
        form overflows, e.g. at a degenerate fit); NaN where ``P(NB = 0)`` underflows.

        Examples
        --------
        >>> round(float(NBMixture(np.array([2.0]), np.array([[0.5]]), np.array([[1.0]])).mean()[0]), 6)  # k(1-q)/q
        2.0
        """
        with np.errstate(divide="ignore", under="ignore"):
            pmf = np.exp(self.k[:, None] * np.log(self.q))
        total = np.zeros(self.size)
        rows = np.flatnonzero(np.all((pmf > 1e-280) | (self.w == 0), axis=1))
        total[np.setdiff1d(np.arange(self.size), rows)] = np.nan
        surv = np.ones((rows.size, self.q.shape[1]))
        pmf, w, fail, k = pmf[rows], self.w[rows], 1.0 - self.q[rows], self.k[rows]
        ratio = np.ones(rows.size)
        n = 0
        while rows.size and n < max_steps:
            surv = surv - pmf
            sf = ratio * (w * np.maximum(surv, 0.0)).sum(axis=1)
            total[rows] += sf
            pmf = pmf * ((n + k) / (n + 1))[:, None] * fail
            if self.a is not None:
                b = self.b[rows]
                ratio = ratio * (b + n) / (self.a[rows] + b + n)
            n += 1
            keep = sf > 1e-13 * np.maximum(total[rows], 1e-300)
            rows, surv, pmf, w, fail, k, ratio = rows[keep], surv[keep], pmf[keep], w[keep], fail[keep], k[keep], ratio[keep]
        total[rows] = np.nan
        return total

    def quantiles(self, levels, max_steps: int = 4000) -> np.ndarray:
        """``Q(tau)`` (least ``n`` with ``P(N <= n) >= tau``) for each level, shape (levels, rows).

        The tail is walked upwards from 0 with the negative binomial pmf recurrence, each row
        only as far as its highest quantile; rows the walk cannot settle (``P(NB = 0)``
        underflowing for very heavy buyers, or more than ``max_steps`` purchases) are bisected
        with :meth:`sf`.
        """
        levels = np.asarray(levels, dtype=float)
        target = 1.0 - np.clip(levels, 0.0, 1.0 - 1e-12)  # settled at n once P(N >= n + 1) <= target
        out = np.full((levels.size, self.size), -1.0)
        out[levels <= 0] = 0.0
        with np.errstate(divide="ignore", under="ignore"):
            log_pmf = self.k[:, None] * np.log(self.q)
        pmf = np.exp(log_pmf)
        walkable = np.all((pmf > 1e-280) | (self.w == 0), axis=1)
        rows = np.flatnonzero(walkable)
        surv = np.ones((rows.size, self.q.shape[1]))
        pmf, w, fail, k = pmf[rows], self.w[rows], 1.0 - self.q[rows], self.k[rows]
        ratio = np.ones(rows.size)  # R(n + 1)
        n = 0
        while rows.size and n < max_steps:
            surv = surv - pmf  # P(NB >= n + 1)
            sf = ratio * (w * np.maximum(surv, 0.0)).sum(axis=1)
            fresh = (out[:, rows] < 0) & (sf[None, :] <= target[:, None])
            out[:, rows] = np.where(fresh, float(n), out[:, rows])
            pmf = pmf * ((n + k) / (n + 1))[:, None] * fail
            if self.a is not None:
                b = self.b[rows]
                ratio = ratio * (b + n) / (self.a[rows] + b + n)
            n += 1
            keep = (out[:, rows] < 0).any(axis=0)
            rows, surv, pmf, w, fail, k, ratio = rows[keep], surv[keep], pmf[keep], w[keep], fail[keep], k[keep], ratio[keep]
        rest = np.flatnonzero((out < 0).any(axis=0))
        for i in np.flatnonzero(levels > 0):
            todo = rest[out[i, rest] < 0]
            if todo.size:
                out[i, todo] = count_quantiles(lambda m, r=todo: self.sf(m, r), levels[i], todo.size)
        return out


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
