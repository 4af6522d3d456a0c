"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers
the easy way: An alternative to the Pareto/NBD model". *Marketing Science* 24(2), 275-284.

While alive a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after every repeat purchase she drops out with probability ``p ~ Beta(a, b)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from ._base import TransactionModel, as_factor, as_float_array, validate_rfm
from .intervals import NBMixture

__all__ = ["BetaGeoModel", "beta_geometric_distribution", "bg_nbd_log_likelihood"]


def bg_nbd_log_likelihood(params, x, tx, T, gradient=False):
    """Per-customer BG/NBD log-likelihood, equation (6) of Fader, Hardie & Lee (2005).

    Parameters
    ----------
    params : array_like
        ``(r, alpha, a, b)``.
    x, tx, T : ndarray or Factor
        Repeat purchases, time of the last purchase, and time observed (same time unit).
        A :class:`~regulars.models._base.Factor` (distinct values + codes) is faster.
    gradient : bool
        Also return the derivatives with respect to ``(r, alpha, a, b)``.

    Returns
    -------
    ll : ndarray
        Log-likelihood of each row, all constant terms included.
    grad : ndarray of shape (n, 4)
        Only when ``gradient`` is true.

    Examples
    --------
    >>> ll = bg_nbd_log_likelihood((0.243, 4.414, 0.793, 2.426), np.array([2.0]),
    ...                            np.array([30.43]), np.array([38.86]))
    >>> round(float(ll[0]), 4)
    -9.4586
    """
    r, alpha, a, b = (float(v) for v in params)
    x, tx, T = as_factor(x), as_factor(tx), as_factor(T)
    xv = x.values
    x_full = x.full
    repeat_v = xv > 0
    bx1_v = np.where(repeat_v, b + xv - 1, 1.0)
    log_aT = T.expand(np.log(alpha + T.values))
    log_atx = tx.expand(np.log(alpha + tx.values))
    # log odds of "dropped out after the last purchase" against "still alive at T"
    log_ratio = x.expand(np.where(repeat_v, np.log(a) - np.log(bx1_v), -np.inf))
    log_odds_dead = log_ratio + (r + x_full) * (log_aT - log_atx)
    softplus = np.maximum(log_odds_dead, 0.0) + np.log1p(np.exp(-np.abs(log_odds_dead)))  # log(1 + e^L)
    per_x = gammaln(r + xv) - gammaln(r) + betaln(a, b + xv) - betaln(a, b)
    ll = x.expand(per_x) + r * np.log(alpha) - (r + x_full) * log_aT + softplus
    if not gradient:
        return ll
    w_dead = np.exp(log_odds_dead - softplus)
    w_alive = 1.0 - w_dead
    psi_abx = digamma(a + b + xv)
    d_r = x.expand(digamma(r + xv) - digamma(r)) + np.log(alpha) - w_alive * log_aT - w_dead * log_atx
    d_alpha = r / alpha - (r + x_full) * (
        w_alive * T.expand(1.0 / (alpha + T.values)) + w_dead * tx.expand(1.0 / (alpha + tx.values))
    )
    d_a = x.expand(digamma(a + b) - psi_abx) + w_dead / a
    d_b = x.expand(digamma(a + b) - digamma(b) + digamma(b + xv) - psi_abx) - w_dead * x.expand(1.0 / bx1_v)
    return ll, np.column_stack([d_r, d_alpha, d_a, d_b])


def _expected_repeat(r, a, b, x, z):
    """``(a+b+x-1)/(a-1) * [1 - (1-z)**(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)]`` (FHL eq. 9/10).

    This is the Euler-transformed form of the paper's
    ``1 - (1-z)**(r+x) 2F1(r+x, b+x; a+b+x-1; z)``. At ``a = 1`` both factors vanish; the
    removable singularity is bridged by averaging ``a = 1 -/+ 1e-6`` within 1e-7 of it.
    """
    if abs(a - 1) < 1e-7:
        return 0.5 * (_expected_repeat(r, 1 - 1e-6, b, x, z) + _expected_repeat(r, 1 + 1e-6, b, x, z))
    with np.errstate(invalid="ignore", over="ignore"):  # overflow is caught by the callers (non-finite)
        bracket = 1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * bracket


def beta_geometric_distribution(t, r, alpha, a, b_alive, p_alive, x, T) -> NBMixture:
    """The predictive distribution of the purchases ``N`` in the next ``t``, given the history.

    Given alive, the purchase rate has the posterior ``Gamma(r + x, alpha + T)`` and the
    dropout probability ``Beta(a, b_alive)`` (``b + x`` for the BG/NBD, ``b + x + 1`` for the
    MBG/NBD), independently. The customer buys ``Poisson(lambda t)`` times unless she drops out
    first, which after each purchase happens with probability ``p``; so for ``n >= 1``

    ``P(N >= n) = P(alive) * P(NB(r + x, (alpha+T)/(alpha+T+t)) >= n) * B(a, b_alive+n-1) / B(a, b_alive)``

    (a negative binomial tail times the chance of surviving ``n - 1`` more purchases). Its sum
    over ``n >= 1`` is the conditional expectation of Fader, Hardie & Lee (2005), eq. 10.

    Examples
    --------
    >>> d = beta_geometric_distribution(39.0, 0.243, 4.414, 0.793, 2.426 + 2, 1.0, 2.0, 38.86)
    >>> [round(float(d.sf(n)[0]), 3) for n in range(4)]
    [1.0, 0.763, 0.434, 0.236]
    """
    x, T, b_alive, p_alive, t = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                                      for v in (x, T, b_alive, p_alive, t)))
    q = (alpha + T) / (alpha + T + t)
    return NBMixture(r + x, q[:, None], p_alive[:, None], a, b_alive)


class BetaGeoModel(TransactionModel):
    """BG/NBD model fitted by maximum likelihood (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` added to the negative *mean*
        log-likelihood (the convention of the ``lifetimes`` package). 0 gives the MLE.
    tol : float, default 1e-8
        Gradient tolerance of the L-BFGS-B optimiser (on the mean log-likelihood).
    maxiter : int, default 2000
        Maximum optimiser iterations.

    Attributes
    ----------
    params_ : dict
        ``r, alpha, a, b``.
    log_likelihood_ : float
        Total log-likelihood at the optimum, all constants included (comparable with the
        paper's -9582.4 on CDNOW).
    standard_errors_ : dict
        Asymptotic standard errors (delta method on the inverse Hessian of the log-params).
    covariance_ : ndarray of shape (4, 4)
        Inverse Hessian of the negative log-likelihood in ``log(params)``.
    n_customers_, converged_, n_iter_ :
        Sum of weights, optimiser success flag and iteration count.

    Examples
    --------
    >>> from regulars.models.simulation import simulate_bg_nbd
    >>> data = simulate_bg_nbd(5000, r=0.25, alpha=4.0, a=0.8, b=2.5, T=39.0, random_state=1)
    >>> model = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> float(model.probability_alive(0, 0, 39.0)[0])
    1.0
    """

    _param_names = ("r", "alpha", "a", "b")
    _BOUNDARY_WORDS = {
        ("a", False): "nobody would ever stop buying",
        ("a", True): "every customer would have the same chance of stopping after a purchase",
        ("b", True): "every customer would have the same chance of stopping after a purchase",
        ("r", True): "every customer would buy at the same rate",
        ("alpha", True): "every customer would buy at the same rate",
    }

    @staticmethod
    def _log_likelihood(params, x, tx, T, gradient=False):
        return bg_nbd_log_likelihood(params, x, tx, T, gradient=gradient)

    def _initial_log_params(self, x, tx, T, w):
        rate = max((w @ x.full) / (w @ T.full), 1e-6)
        return np.log([1.0, 1.0 / rate, 1.0, 1.0])

    def probability_alive(self, frequency, recency, T):
        """P(alive at T | x, t_x, T), equation (A.13) of Fader, Hardie & Lee (2005)."""
        r, alpha, a, b = self._params_array()
        x, tx, t, _ = validate_rfm(*np.broadcast_arrays(frequency, recency, T))
        repeat = x > 0
        log_odds_dead = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx)),
            -np.inf,
        )
        return expit(-log_odds_dead)

    def expected_purchases(self, t, frequency, recency, T):
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units.

        Equation (10) of Fader, Hardie & Lee (2005), with the 2F1 term rewritten by Euler's
        transformation ``2F1(A, B; C; z) = (1 - z)**(C - A - B) 2F1(C - A, C - B; C; z)`` so
        that no factor overflows for heavy buyers.

        Examples
        --------
        >>> model = BetaGeoModel()
        >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> round(float(model.expected_purchases(39, 2, 30.43, 38.86)[0]), 3)
        1.226
        """
        r, alpha, a, b = self._params_array()
        x, tx, T_, t_ = (as_float_array(v, n) for v, n in zip(np.broadcast_arrays(frequency, recency, T, t), ("frequency", "recency", "T", "t")))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        validate_rfm(x, tx, T_)
        z = t_ / (alpha + T_ + t_)
        out = _expected_repeat(r, a, b, x, z) * self.probability_alive(x, tx, T_)
        bad = ~np.isfinite(out)
        if bad.any():  # the 2F1 form overflows at degenerate fits (a, b in the millions): sum the tail
            out[bad] = self.count_distribution(t_[bad], x[bad], tx[bad], T_[bad]).mean()
        return out

    def count_distribution(self, t, frequency, recency, T) -> NBMixture:
        """The predictive distribution of the purchases in the next ``t`` (see
        :func:`beta_geometric_distribution`), one row per customer.

        Examples
        --------
        >>> model = BetaGeoModel()
        >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> sf = model.count_sf(np.arange(1, 400), 39, 2, 30.43, 38.86)
        >>> round(float(sf.sum()), 3)  # the expectation, 1.226
        1.226
        """
        r, alpha, a, b = self._params_array()
        x, tx, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (frequency, recency, T)))
        return beta_geometric_distribution(np.asarray(t, dtype=float), r, alpha, a, b + x, self.probability_alive(x, tx, T), x, T)

    def expected_purchases_new_customer(self, t):
        """E[X(t)]: expected repeat purchases of a new customer by time ``t`` (FHL eq. 9).

        Examples
        --------
        >>> model = BetaGeoModel()
        >>> model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> round(float(model.expected_purchases_new_customer(78)[0]), 3)
        1.861
        """
        r, alpha, a, b = self._params_array()
        t_ = np.atleast_1d(np.asarray(t, dtype=float))
        if (t_ < 0).any():
            raise ValueError("t must be >= 0")
        return _expected_repeat(r, a, b, np.zeros_like(t_), t_ / (alpha + t_))
