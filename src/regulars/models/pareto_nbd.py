"""Pareto/NBD model of repeat buying.

References
----------
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). "Counting your customers: Who
are they and what will they do next?" *Management Science* 33(1), 1-24.

Fader, P. S. & Hardie, B. G. S. (2005). "A note on deriving the Pareto/NBD model and
related expressions." http://brucehardie.com/notes/009/ (likelihood, equations 19-22;
P(alive) and conditional expectation).

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
her lifetime is exponential with rate ``mu ~ Gamma(s, beta)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from ._base import Factor, TransactionModel, as_factor, as_float_array, validate_rfm
from ._hyp2f1 import log_hyp2f1_a_a1
from .intervals import NBMixture

__all__ = ["ParetoNBDModel", "pareto_nbd_log_likelihood"]


def _log_a0_part(params, x, t):
    """``log[(m + t)**-(r+s+x) 2F1(...; z(t))]`` and its gradient in (r, alpha, s, beta).

    Fader & Hardie's two cases: for alpha >= beta the 2F1 is
    ``2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t))``, otherwise
    ``2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+t))``; either way ``0 <= z < 1``.
    """
    r, alpha, s, beta = params
    k = r + s + x
    if alpha >= beta:
        big, small, b = alpha, beta, s + 1
    else:
        big, small, b = beta, alpha, r + x
    denom = big + t
    z = (big - small) / denom
    log_f, f_a, f_b, f_z = log_hyp2f1_a_a1(k, b, z)
    log_denom = np.log(denom)
    value = -k * log_denom + log_f
    d_big = -k / denom + f_z * (small + t) / denom**2
    d_small = -f_z / denom
    d_shape = -log_denom + f_a  # derivative through k = r + s + x, shared by r and s
    if alpha >= beta:
        grad = [d_shape, d_big, d_shape + f_b, d_small]
    else:
        grad = [d_shape + f_b, d_small, d_shape, d_big]
    return value, np.column_stack(grad)


def _distinct_pairs(x: Factor, t: Factor):
    """Distinct (x, t) pairs and the per-row codes into them (the 2F1 terms depend on no more)."""
    if x.codes is None or t.codes is None:
        return x.full, t.full, None
    codes, pairs = pd.factorize(x.codes.astype(np.int64) * len(t.values) + t.codes, sort=False)
    return x.values[pairs // len(t.values)], t.values[pairs % len(t.values)], codes


#: Rows whose 2F1 argument exceeds this (the series would need thousands of terms: alpha and
#: beta far apart) take the dropout integral by quadrature instead.
_SERIES_MAX_Z = 0.99
_NODES = np.polynomial.legendre.leggauss(64)


def _subset(f: Factor, mask: np.ndarray) -> Factor:
    return Factor(f.values, f.codes[mask]) if f.codes is not None else Factor(f.values[mask])


def _dropout_integral(params, x, tx, T, gradient):
    """``log(s * J)`` and its gradient in ``(r, alpha, s, beta)``, with
    ``J = integral over tx < y < T of (alpha + y)**-(r+x) (beta + y)**-(s+1) dy``: the
    "dropped out between the last purchase and T" part of the likelihood (Fader & Hardie's
    A0 term times ``s / (r + s + x)``), by Gauss-Legendre quadrature in ``u = log(c + y)``,
    ``c = min(alpha, beta)`` (the integrand is smooth in ``u`` at every scale). The gradient is
    the quadrature of the integrand's derivatives. ``J = 0`` when ``tx = T``.
    """
    r, alpha, s, beta = params
    c = min(alpha, beta)
    lo, hi = np.log(c + tx), np.log(c + T)
    nodes, weights = _NODES
    half = (hi - lo)[:, None] / 2
    u = lo[:, None] + half * (nodes + 1)
    y = np.exp(u) - c
    log_ay, log_by = np.log(alpha + y), np.log(beta + y)
    with np.errstate(divide="ignore"):
        log_terms = u - (r + x)[:, None] * log_ay - (s + 1) * log_by + np.log(weights * half)
    top = log_terms.max(axis=1)
    empty = ~np.isfinite(top)
    top = np.where(empty, 0.0, top)
    e = np.exp(log_terms - top[:, None])
    total = e.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_a = np.where(empty, -np.inf, np.log(s) + top + np.log(total))
    if not gradient:
        return log_a, None
    share = e / np.where(total > 0, total, 1.0)[:, None]
    grad = np.column_stack([
        -(share * log_ay).sum(axis=1),
        -(r + x) * (share / (alpha + y)).sum(axis=1),
        1 / s - (share * log_by).sum(axis=1),
        -(s + 1) * (share / (beta + y)).sum(axis=1),
    ])
    return log_a, np.where(empty[:, None], 0.0, grad)


def _pareto_terms(params, x: Factor, tx: Factor, T: Factor, gradient):
    """Scaled pieces of the likelihood shared by the log-likelihood and P(alive).

    The likelihood is ``C [alive + s J]`` (see :func:`_dropout_integral`); ``s J`` comes from
    the two 2F1 terms of Fader & Hardie when their series converges quickly, else by
    quadrature.
    """
    r, alpha, s, beta = params
    x_full, T_full = x.full, T.full
    n = x_full.size
    k = r + s + x_full
    log_c = x.expand(gammaln(r + x.values) - gammaln(r)) + r * np.log(alpha) + s * np.log(beta)
    log_alive = -(r + x_full) * T.expand(np.log(alpha + T.values)) - s * T.expand(np.log(beta + T.values))
    big, small = max(alpha, beta), min(alpha, beta)
    quad = tx.expand((big - small) / (big + tx.values)) > _SERIES_MAX_Z  # z is largest at t = t_x
    series = np.flatnonzero(~quad)
    quad = np.flatnonzero(quad)
    top = log_alive.copy()
    a_scaled = np.zeros(n)  # s J / exp(top)
    a_grad = np.zeros((n, 4)) if gradient else None  # d(s J)/dparams / exp(top)
    if series.size:
        xs, txs, Ts = _subset(x, series), _subset(tx, series), _subset(T, series)
        x1, t1, codes1 = _distinct_pairs(xs, txs)
        x2, t2, codes2 = _distinct_pairs(xs, Ts)
        parts, parts_grad = _log_a0_part(params, np.concatenate([x1, x2]), np.concatenate([t1, t2]))
        log_p1, log_p2 = parts[: x1.size], parts[x1.size :]
        g1, g2 = parts_grad[: x1.size], parts_grad[x1.size :]
        if codes1 is not None:
            log_p1, g1 = log_p1[codes1], g1[codes1]
        if codes2 is not None:
            log_p2, g2 = log_p2[codes2], g2[codes2]
        ks = k[series]
        log_sk = np.log(s) - np.log(ks)
        top[series] = np.maximum(log_alive[series], log_sk + log_p1)
        e1 = np.exp(log_sk + log_p1 - top[series])
        e2 = np.exp(log_sk + log_p2 - top[series])
        a_scaled[series] = e1 - e2  # >= 0: the A0 integral is non-negative
        if gradient:
            zeros = np.zeros(series.size)
            d_sk = np.column_stack([-1 / ks, zeros, 1 / s - 1 / ks, zeros])
            a_grad[series] = e1[:, None] * (d_sk + g1) - e2[:, None] * (d_sk + g2)
    if quad.size:
        log_a, g = _dropout_integral(params, x_full[quad], tx.full[quad], T_full[quad], gradient)
        top[quad] = np.maximum(log_alive[quad], log_a)
        a_scaled[quad] = np.exp(log_a - top[quad])
        if gradient:
            a_grad[quad] = a_scaled[quad][:, None] * g
    e_alive = np.exp(log_alive - top)
    scaled = e_alive + a_scaled
    ll = log_c + top + np.log(scaled)
    if not gradient:
        return ll, e_alive / scaled, None
    zeros = np.zeros(n)
    d_log_c = np.column_stack(
        [x.expand(digamma(r + x.values) - digamma(r)) + np.log(alpha), r / alpha + zeros, np.log(beta) + zeros, s / beta + zeros]
    )
    d_alive = np.column_stack(
        [-np.log(alpha + T_full), -(r + x_full) / (alpha + T_full), -np.log(beta + T_full), -s / (beta + T_full)]
    )
    grad = d_log_c + (e_alive[:, None] * d_alive + a_grad) / scaled[:, None]
    return ll, e_alive / scaled, grad


def pareto_nbd_log_likelihood(params, x, tx, T, gradient=False):
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eq. 19-22).

    Parameters
    ----------
    params : array_like
        ``(r, alpha, s, beta)``.
    x, tx, T : ndarray or Factor
        Repeat purchases, time of last purchase, time observed.
    gradient : bool
        Also return derivatives with respect to ``(r, alpha, s, beta)``, shape (n, 4).

    Examples
    --------
    >>> ll = pareto_nbd_log_likelihood((0.553, 10.578, 0.606, 11.669), np.array([2.0]),
    ...                                np.array([30.43]), np.array([38.86]))
    >>> round(float(ll[0]), 4)
    -9.5543
    """
    params = tuple(float(v) for v in params)
    ll, _, grad = _pareto_terms(params, as_factor(x), as_factor(tx), as_factor(T), gradient)
    return (ll, grad) if gradient else ll


def _one_minus_power_over(log_q, exponent):
    """``(1 - q**e) / e`` computed stably, with its limit ``-log q`` at ``e = 0``."""
    if abs(exponent) < 1e-10:
        return -log_q
    return -np.expm1(exponent * log_q) / exponent


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD model fitted by maximum likelihood (Schmittlein, Morrison & Colombo 1987).

    The likelihood follows Fader & Hardie's 2005 note; its Gaussian hypergeometric
    function is summed as a positive series in log space, with exact derivatives, so the
    gradient is analytic and nothing overflows for heavy buyers.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` on the negative mean log-likelihood.
    tol : float, default 1e-8
        Gradient tolerance of L-BFGS-B.
    maxiter : int, default 2000
        Maximum optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, s, beta``.
    log_likelihood_ : float
        Total log-likelihood, all constants included (paper: -9595.0 on CDNOW).
    standard_errors_ : dict
        Delta-method standard errors from the inverse Hessian.
    covariance_ : ndarray of shape (4, 4)
        Inverse Hessian of the negative log-likelihood in ``log(params)``.

    Examples
    --------
    >>> from regulars.models.simulation import simulate_pareto_nbd
    >>> data = simulate_pareto_nbd(5000, 0.55, 10.0, 0.6, 12.0, T=39.0, random_state=2)
    >>> model = ParetoNBDModel().fit(data["frequency"], data["recency"], data["T"])
    >>> sorted(model.params_)
    ['alpha', 'beta', 'r', 's']
    """

    _param_names = ("r", "alpha", "s", "beta")
    _BOUNDARY_WORDS = {
        ("s", False): "nobody would ever stop buying",
        ("beta", True): "customers would (almost) never stop buying, or all at the same rate",
        ("s", True): "every customer would have the same lifetime risk",
        ("r", True): "every customer would buy at the same rate",
        ("alpha", True): "every customer would buy at the same rate",
    }
    @staticmethod
    def _log_likelihood(params, x, tx, T, gradient=False):
        return pareto_nbd_log_likelihood(params, x, tx, T, gradient=gradient)

    def _initial_log_params(self, x, tx, T, w):
        x, T = x.full, T.full
        rate = max((w @ x) / (w @ T), 1e-6)
        mean_T = (w @ T) / w.sum()
        return np.log([1.0, 1.0 / rate, 1.0, mean_T])

    def probability_alive(self, frequency, recency, T):
        """P(alive at T | x, t_x, T), equation (24) of Fader & Hardie's note.

        Examples
        --------
        >>> model = ParetoNBDModel()
        >>> model.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
        >>> round(float(model.probability_alive(0, 0, 38.86)[0]), 3)
        0.295
        """
        params = tuple(self._params_array())
        x, tx, t, _ = validate_rfm(*np.broadcast_arrays(frequency, recency, T))
        key = (params, x.size, hash(x.tobytes()), hash(tx.tobytes()), hash(t.tobytes()))
        cached = getattr(self, "_alive_cache", None)
        if cached is not None and cached[0] == key:  # the expensive part of every prediction
            return cached[1].copy()
        alive = self._probability_alive(params, x, tx, t)
        self._alive_cache = (key, alive)
        return alive.copy()

    @staticmethod
    def _probability_alive(params, x, tx, t):
        # one evaluation per distinct customer history, and the 2F1 series per distinct (x, t) pair
        rows, distinct = pd.factorize(pd.MultiIndex.from_arrays([x, tx, t]), sort=False)
        columns = [pd.factorize(distinct.get_level_values(i), sort=False) for i in range(3)]
        factors = [Factor(np.asarray(uniques, dtype=float), codes) for codes, uniques in columns]
        return _pareto_terms(params, *factors, gradient=False)[1][rows]

    def expected_purchases(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units.

        ``(r + x)(beta + T) / ((alpha + T)(s - 1)) * [1 - ((beta + T)/(beta + T + t))**(s - 1)]
        * P(alive)`` (Schmittlein et al. 1987, eq. 22; its limit is used at ``s = 1``).
        """
        r, alpha, s, beta = self._params_array()
        x, tx, T_, t_ = (as_float_array(v, n) for v, n in zip(np.broadcast_arrays(frequency, recency, T, t), ("frequency", "recency", "T", "t")))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        alive = self.probability_alive(x, tx, T_)
        growth = _one_minus_power_over(np.log(beta + T_) - np.log(beta + T_ + t_), s - 1)
        return (r + x) * (beta + T_) / (alpha + T_) * growth * alive

    #: Gauss-Legendre nodes for the integral over the remaining lifetime in :meth:`count_sf`.
    _QUADRATURE = np.polynomial.legendre.leggauss(24)

    def count_distribution(self, t, frequency, recency, T) -> NBMixture:
        """The predictive distribution of the purchases in the next ``t``, one row per customer.

        Given alive at ``T``, the rate is ``Gamma(r + x, alpha + T)`` and the remaining lifetime
        ``tau`` is Lomax, ``P(tau > u) = ((beta + T) / (beta + T + u))**s`` (independent); she
        buys ``Poisson(lambda * min(tau, t))`` times, a negative binomial given ``tau``. So the
        distribution is a mixture of negative binomials over ``tau``: one component for
        ``tau >= t`` and a 24-point Gauss-Legendre quadrature in the lifetime's probability
        scale for ``tau < t``.

        Examples
        --------
        >>> model = ParetoNBDModel()
        >>> model.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
        >>> sf = model.count_sf(np.arange(1, 400), 39, 2, 30.43, 38.86)
        >>> bool(abs(sf.sum() - model.expected_purchases(39, 2, 30.43, 38.86)[0]) < 1e-5)
        True
        """
        r, alpha, s, beta = self._params_array()
        x, tx, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (frequency, recency, T)))
        t = float(t)
        alive = self.probability_alive(x, tx, T)
        lived = 1.0 - ((beta + T) / (beta + T + t)) ** s  # P(tau < t)
        nodes, weights = self._QUADRATURE
        v = lived[:, None] * (nodes + 1.0) / 2.0
        u = np.concatenate([np.full((x.size, 1), t), (beta + T)[:, None] * ((1.0 - v) ** (-1.0 / s) - 1.0)], axis=1)
        w = np.concatenate([(1.0 - lived)[:, None], lived[:, None] * weights / 2.0], axis=1) * alive[:, None]
        return NBMixture(r + x, (alpha + T)[:, None] / ((alpha + T)[:, None] + u), w)

    def expected_purchases_curve(self, times, frequency, recency, T):
        """:meth:`expected_purchases` at several horizons, P(alive) computed once (it is the
        expensive part and does not depend on the horizon)."""
        r, alpha, s, beta = self._params_array()
        x, tx, T_ = (as_float_array(v, n) for v, n in zip(np.broadcast_arrays(frequency, recency, T),
                                                          ("frequency", "recency", "T")))
        alive = self.probability_alive(x, tx, T_)
        for t in times:
            growth = _one_minus_power_over(np.log(beta + T_) - np.log(beta + T_ + t), s - 1)
            yield (r + x) * (beta + T_) / (alpha + T_) * growth * alive

    def expected_purchases_new_customer(self, t):
        """E[X(t)] = r beta / (alpha (s - 1)) * [1 - (beta / (beta + t))**(s - 1)].

        Examples
        --------
        >>> model = ParetoNBDModel()
        >>> model.params_ = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
        >>> round(float(model.expected_purchases_new_customer(39)[0]), 3)
        1.213
        """
        r, alpha, s, beta = self._params_array()
        t_ = np.atleast_1d(np.asarray(t, dtype=float))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        return r * beta / alpha * _one_minus_power_over(np.log(beta) - np.log(beta + t_), s - 1)
