"""MBG/NBD: the BG/NBD with a chance to drop out right after the first purchase too.

Reference: Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). "Empirical validation and
comparison of models for customer base analysis". *International Journal of Research in
Marketing* 24(3), 201-209.

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after **every** purchase, the first one included, she drops out with probability
``p ~ Beta(a, b)``. The only change from the BG/NBD (Fader, Hardie & Lee 2005) is that first
purchase: a customer who bought once long ago may have left, so ``P(alive)`` is below one for
her too (the BG/NBD gives exactly one, whatever the time since).

Published numbers reproduced by the tests (CDNOW 1/10 sample, weeks, 39-week calibration, as
estimated by the BTYDplus R package of Platzer & Reutterer): ``r = 0.525, alpha = 6.183,
a = 0.891, b = 1.614``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln

from ._base import TransactionModel, as_factor, as_float_array, validate_rfm
from .beta_geo import BetaGeoModel, _expected_repeat, beta_geometric_distribution
from .intervals import NBMixture

__all__ = ["ModifiedBetaGeoModel", "mbg_nbd_log_likelihood"]


def mbg_nbd_log_likelihood(params, x, tx, T, gradient=False):
    """Per-customer MBG/NBD log-likelihood (Batislam, Denizel & Filiztekin 2007, eq. 4).

    ``L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
    + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``: alive at ``T`` after
    ``x + 1`` purchases, or dropped out right after the last one.

    Parameters
    ----------
    params : array_like
        ``(r, alpha, a, b)``.
    x, tx, T : ndarray or Factor
        Repeat purchases, time of the last purchase, time observed.
    gradient : bool
        Also return the derivatives with respect to ``(r, alpha, a, b)``, shape (n, 4).

    Examples
    --------
    >>> ll = mbg_nbd_log_likelihood((0.525, 6.183, 0.891, 1.614), np.array([0.0, 2.0]),
    ...                             np.array([0.0, 30.43]), np.array([38.86, 38.86]))
    >>> [round(float(v), 4) for v in ll]
    [-0.5398, -9.4856]
    """
    r, alpha, a, b = (float(v) for v in params)
    x, tx, T = as_factor(x), as_factor(tx), as_factor(T)
    xv, x_full = x.values, x.full
    log_aT = T.expand(np.log(alpha + T.values))
    log_atx = tx.expand(np.log(alpha + tx.values))
    # log odds of "dropped out right after the last purchase" against "still alive at T"
    log_odds_dead = x.expand(np.log(a) - np.log(b + xv)) + (r + x_full) * (log_aT - log_atx)
    softplus = np.maximum(log_odds_dead, 0.0) + np.log1p(np.exp(-np.abs(log_odds_dead)))
    per_x = gammaln(r + xv) - gammaln(r) + betaln(a, b + xv + 1) - betaln(a, b)
    ll = x.expand(per_x) + r * np.log(alpha) - (r + x_full) * log_aT + softplus
    if not gradient:
        return ll
    w_dead = np.exp(log_odds_dead - softplus)
    w_alive = 1.0 - w_dead
    psi_abx = digamma(a + b + xv + 1)
    d_r = x.expand(digamma(r + xv) - digamma(r)) + np.log(alpha) - w_alive * log_aT - w_dead * log_atx
    d_alpha = r / alpha - (r + x_full) * (
        w_alive * T.expand(1.0 / (alpha + T.values)) + w_dead * tx.expand(1.0 / (alpha + tx.values))
    )
    d_a = x.expand(digamma(a + b) - psi_abx) + w_dead / a
    d_b = x.expand(digamma(a + b) - digamma(b) + digamma(b + xv + 1) - psi_abx) - w_dead * x.expand(1.0 / (b + xv))
    return ll, np.column_stack([d_r, d_alpha, d_a, d_b])


class ModifiedBetaGeoModel(TransactionModel):
    """MBG/NBD model fitted by maximum likelihood (Batislam, Denizel & Filiztekin 2007).

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` on the negative mean log-likelihood.
    tol : float, default 1e-8
        Gradient tolerance of the optimiser.
    maxiter : int, default 2000
        Maximum optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, a, b``.
    log_likelihood_, standard_errors_, covariance_, n_customers_, converged_, n_iter_ :
        As for :class:`~regulars.models.beta_geo.BetaGeoModel`.
    boundary_ : list of str
        Parameters whose estimate sits on the edge of what the data can tell apart (see
        :meth:`~regulars.models._base.MaximumLikelihoodModel.fit_problems`).

    Examples
    --------
    >>> model = ModifiedBetaGeoModel()
    >>> model.params_ = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    >>> [round(float(v), 3) for v in model.probability_alive([0, 0], [0, 0], [1.0, 38.86])]  # bought once
    [0.626, 0.39]
    >>> [round(float(v), 4) for v in model.expected_purchases_new_customer([1.0, 78.0])]
    [0.0531, 1.8048]
    """

    _param_names = ("r", "alpha", "a", "b")
    _BOUNDARY_WORDS = BetaGeoModel._BOUNDARY_WORDS  # same parameters, same meaning at the edges
    #: Extra purchase the dropout process has survived: the first one.
    _survived_first = 1

    @staticmethod
    def _log_likelihood(params, x, tx, T, gradient=False):
        return mbg_nbd_log_likelihood(params, x, tx, T, gradient=gradient)

    _initial_log_params = BetaGeoModel._initial_log_params

    def probability_alive(self, frequency, recency, T):
        """``1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x))**(r + x))`` (eq. 5)."""
        r, alpha, a, b = self._params_array()
        x, tx, t, _ = validate_rfm(*np.broadcast_arrays(frequency, recency, T))
        log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        return expit(-log_odds_dead)

    def expected_purchases(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T] (eq. 6): ``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
        2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))] * P(alive)``, in Euler-transformed form."""
        r, alpha, a, b = self._params_array()
        x, tx, T_, t_ = (as_float_array(v, n) for v, n in
                         zip(np.broadcast_arrays(frequency, recency, T, t), ("frequency", "recency", "T", "t")))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        validate_rfm(x, tx, T_)
        z = t_ / (alpha + T_ + t_)
        out = _expected_repeat(r, a, b + 1, x, z) * self.probability_alive(x, tx, T_)
        bad = ~np.isfinite(out)
        if bad.any():  # the 2F1 form overflows at degenerate fits (a, b in the millions): sum the tail
            out[bad] = self.count_distribution(t_[bad], x[bad], tx[bad], T_[bad]).mean()
        return out

    def count_distribution(self, t, frequency, recency, T) -> NBMixture:
        """The predictive distribution of the purchases in the next ``t``, one row per customer:
        as for the BG/NBD, with the dropout posterior ``Beta(a, b + x + 1)`` (the first purchase
        survived too).

        Examples
        --------
        >>> model = ModifiedBetaGeoModel()
        >>> model.params_ = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
        >>> sf = model.count_sf(np.arange(1, 400), 39, 2, 30.43, 38.86)
        >>> bool(abs(sf.sum() - model.expected_purchases(39, 2, 30.43, 38.86)[0]) < 1e-6)
        True
        """
        r, alpha, a, b = self._params_array()
        x, tx, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (frequency, recency, T)))
        return beta_geometric_distribution(np.asarray(t, dtype=float), r, alpha, a, b + x + 1, self.probability_alive(x, tx, T), x, T)

    def expected_purchases_new_customer(self, t):
        """E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))] (eq. 7)."""
        r, alpha, a, b = self._params_array()
        t_ = np.atleast_1d(np.asarray(t, dtype=float))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        return b / (a + b) * _expected_repeat(r, a, b + 1, np.zeros_like(t_), t_ / (alpha + t_))
