"""Gamma-Gamma model of the average value of a customer's transactions.

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "RFM and CLV: Using
iso-value curves for customer base analysis". *Journal of Marketing Research* 42(4),
415-430 (section "Spend model", and Fader & Hardie's note "The Gamma-Gamma model of
monetary value", 2013).

Each transaction of a customer is worth ``z ~ Gamma(p, nu)``; ``nu ~ Gamma(q, gamma)``
across customers. The model sees each customer's number of repeat transactions ``x`` and
the mean value ``m_x`` of those transactions, and assumes spend is independent of the
transaction rate (check ``frequency_spend_correlation_``).

How refunds and returns enter
-----------------------------
``monetary_value`` must be the mean **net** value per repeat transaction: what the
customer paid minus what was refunded for those transactions (shipping and tax as your
margin definition dictates). The gamma distribution has positive support, so customers
whose net mean is zero or negative (e.g. everything returned) cannot be fitted:
``fit`` drops them and warns with their number (or raises, with
``on_nonpositive="raise"``); the count is kept in ``n_dropped_nonpositive_``. In
:meth:`GammaGammaModel.expected_spend` such a mean is treated as 0, so the prediction shrinks towards zero
with the number of transactions instead of being undefined.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma, gammaln

from ._base import MaximumLikelihoodModel, as_factor, as_float_array, collapse_rows, validate_weights

__all__ = ["GammaGammaModel", "gamma_gamma_log_likelihood"]


def gamma_gamma_log_likelihood(params, x, m, gradient=False):
    """Log-density of the mean spend ``m`` of ``x`` transactions (FHL 2005 JMR, eq. 3).

    ``log[ Gamma(px+q) / (Gamma(px) Gamma(q)) * gamma**q * m**(px-1) * x**(px)
    / (gamma + m x)**(px+q) ]``, i.e. the density of the mean, with its Jacobian.

    Examples
    --------
    >>> ll = gamma_gamma_log_likelihood((6.25, 3.74, 15.44), np.array([2.0]), np.array([30.0]))
    >>> round(float(ll[0]), 4)
    -3.847
    """
    p, q, g = (float(v) for v in params)
    x, m = as_factor(x), as_factor(m)
    xv = x.values
    pxv = p * xv
    px = x.expand(pxv)
    log_x = x.expand(np.log(xv))
    log_mx = m.expand(np.log(m.values)) + log_x
    mx = np.exp(log_mx)
    log_gmx = np.log(g + mx)
    per_x = gammaln(pxv + q) - gammaln(pxv) - gammaln(q)
    ll = x.expand(per_x) + q * np.log(g) + (px - 1) * log_mx + log_x - (px + q) * log_gmx
    if not gradient:
        return ll
    psi_v = digamma(pxv + q)
    x_full = x.full
    d_p = x.expand(xv * (psi_v - digamma(pxv))) + x_full * (log_mx - log_gmx)
    d_q = x.expand(psi_v - digamma(q)) + np.log(g) - log_gmx
    d_g = q / g - (px + q) / (g + mx)
    return ll, np.column_stack([d_p, d_q, d_g])


class GammaGammaModel(MaximumLikelihoodModel):
    """Gamma-Gamma spend model fitted by maximum likelihood (Fader, Hardie & Lee 2005, JMR).

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` on the negative mean log-likelihood.
    tol : float, default 1e-8
        Gradient tolerance of L-BFGS-B.
    maxiter : int, default 2000
        Maximum optimiser iterations.
    on_nonpositive : {"warn", "raise"}, default "warn"
        What ``fit`` does with repeat customers whose mean net spend is <= 0 (see the module
        notes on refunds): drop them with a warning, or raise ``ValueError``.

    Attributes
    ----------
    params_ : dict
        ``p, q, gamma``.
    log_likelihood_ : float
        Total log-likelihood of the mean spends.
    standard_errors_ : dict
    covariance_ : ndarray of shape (3, 3)
        Inverse Hessian of the negative log-likelihood in ``log(params)``.
    n_customers_ : float
        Customers used (frequency > 0 and positive mean spend).
    n_dropped_no_repeat_ : int
        Rows with frequency 0, ignored: they have no repeat transaction to learn from.
    n_dropped_nonpositive_ : int
        Repeat customers dropped for a mean net spend <= 0.
    frequency_spend_correlation_ : float
        Pearson correlation of frequency and mean spend among the customers used; the model
        assumes it is near 0.

    Examples
    --------
    >>> from regulars.models.simulation import simulate_gamma_gamma
    >>> freq = np.tile([1, 2, 3, 5], 1000)
    >>> spend = simulate_gamma_gamma(freq, p=6.0, q=4.0, gamma=15.0, random_state=0)
    >>> model = GammaGammaModel().fit(freq, spend)
    >>> sorted(model.params_)
    ['gamma', 'p', 'q']
    >>> bool(model.expected_spend(0, 0)[0] > 0)
    True
    """

    _param_names = ("p", "q", "gamma")
    _fitted_attributes = MaximumLikelihoodModel._fitted_attributes + (
        "n_dropped_no_repeat_",
        "n_dropped_nonpositive_",
        "frequency_spend_correlation_",
    )

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, maxiter: int = 2000, on_nonpositive: str = "warn"):
        super().__init__(penalizer=penalizer, tol=tol, maxiter=maxiter)
        self.on_nonpositive = on_nonpositive

    @staticmethod
    def _log_likelihood(params, x, m, gradient=False):
        return gamma_gamma_log_likelihood(params, x, m, gradient=gradient)

    def _initial_log_params(self, x, m, w):
        return np.log([1.0, 2.0, (w @ m.full) / w.sum()])

    def fit(self, frequency, monetary_value, weights=None):
        """Fit on the repeat customers.

        Parameters
        ----------
        frequency : array_like
            Number of repeat transactions; rows with 0 are ignored (counted in
            ``n_dropped_no_repeat_``).
        monetary_value : array_like
            Mean net value of those repeat transactions.
        weights : array_like, optional
            Number of customers each row stands for.

        Returns
        -------
        self
        """
        if self.on_nonpositive not in ("warn", "raise"):
            raise ValueError(f"on_nonpositive must be 'warn' or 'raise', got {self.on_nonpositive!r}")
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        if x.size != m.size:
            raise ValueError(f"frequency and monetary_value must have the same length, got {x.size} and {m.size}")
        w = validate_weights(weights, x.size)
        if (x < 0).any() or (x != np.round(x)).any():
            bad = (x < 0) | (x != np.round(x))
            raise ValueError(f"frequency must be whole numbers >= 0: {bad.sum()} row(s) fail, first at position {np.argmax(bad)}")
        repeat = x > 0
        nonpositive = repeat & (m <= 0)
        self.n_dropped_no_repeat_ = int((~repeat).sum())
        self.n_dropped_nonpositive_ = int(nonpositive.sum())
        if self.n_dropped_nonpositive_:
            message = (
                f"{self.n_dropped_nonpositive_} customer(s) with frequency > 0 have a mean net spend <= 0 "
                f"(refunds/returns), first at position {np.argmax(nonpositive)}; the Gamma-Gamma model needs "
                "positive spend"
            )
            if self.on_nonpositive == "raise":
                raise ValueError(message)
            warnings.warn(message + ": they were excluded from the fit", UserWarning, stacklevel=2)
        keep = repeat & (m > 0) & (w > 0)
        if not keep.any():
            raise ValueError("no customer with frequency > 0 and positive monetary_value to fit on")
        x, m, w = x[keep], m[keep], w[keep]
        self.frequency_spend_correlation_ = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 and np.ptp(m) > 0 else 0.0
        data, w = collapse_rows((x, m), w)
        return self._fit_arrays(data, w)

    def expected_spend(self, frequency, monetary_value):
        """Conditional expected mean transaction value ``E[M | p, q, gamma, m_x, x]``.

        ``(p (gamma + x m_x)) / (p x + q - 1)``: a weighted average of the population mean
        ``p gamma / (q - 1)`` and the customer's own mean (FHL 2005 JMR, eq. 5). Customers
        with ``frequency == 0`` get the population mean; a mean ``<= 0`` counts as 0.
        Requires ``q > 1``.

        Examples
        --------
        >>> model = GammaGammaModel()
        >>> model.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
        >>> [round(float(v), 2) for v in model.expected_spend([0, 2], [0.0, 50.0])]
        [35.22, 47.34]
        """
        p, q, g = self._params_array()
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        x, m = np.broadcast_arrays(x, m)
        if (x < 0).any():
            raise ValueError("frequency must be >= 0")
        if q <= 1:
            raise ValueError(f"expected spend needs q > 1 (the population mean is infinite), fitted q={q:.4g}")
        m = np.where(x > 0, np.maximum(m, 0.0), 0.0)
        return p * (g + x * m) / (p * x + q - 1)
