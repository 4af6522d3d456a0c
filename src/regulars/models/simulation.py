"""Vectorised simulation of customers from each model's own generative process.

Used to check that the estimators recover known parameters, and by the benchmarks. No loop
over customers: the time of the x-th of N uniform purchase times is drawn directly as an
order statistic, ``T * Beta(x, N - x + 1)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_bg_nbd", "simulate_mbg_nbd", "simulate_pareto_nbd", "simulate_gamma_gamma"]


def _observation_lengths(n, T):
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if (T <= 0).any():
        raise ValueError("T must be > 0")
    return T


def _last_of_first(x, n_events, window, rng):
    """Time of the x-th of ``n_events`` uniform events on ``[0, window]`` (0 when x is 0)."""
    tx = np.zeros(x.size)
    some = x > 0
    tx[some] = window[some] * rng.beta(x[some], n_events[some] - x[some] + 1)
    return tx


def simulate_bg_nbd(n, r, alpha, a, b, T, random_state=None) -> pd.DataFrame:
    """Simulate ``n`` customers from the BG/NBD process (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        ``lambda ~ Gamma(shape=r, rate=alpha)``, ``p ~ Beta(a, b)``.
    T : float or array_like
        Observation length of each customer.
    random_state : int, numpy Generator or None

    Returns
    -------
    DataFrame
        Columns ``frequency, recency, T``.

    Examples
    --------
    >>> df = simulate_bg_nbd(3, 0.5, 5.0, 1.0, 3.0, T=10.0, random_state=0)
    >>> list(df.columns)
    ['frequency', 'recency', 'T']
    """
    rng = np.random.default_rng(random_state)
    T = _observation_lengths(n, T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    n_events = rng.poisson(lam * T)
    # Purchases while alive before dropping out (dropout only after a repeat purchase).
    n_alive = rng.geometric(np.clip(p, 1e-300, 1.0))
    x = np.minimum(n_events, n_alive)
    tx = _last_of_first(x, n_events, T, rng)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T})


def simulate_mbg_nbd(n, r, alpha, a, b, T, random_state=None) -> pd.DataFrame:
    """Simulate ``n`` customers from the MBG/NBD process (Batislam, Denizel & Filiztekin 2007).

    As :func:`simulate_bg_nbd`, but the customer may also drop out right after her first
    purchase: she makes ``Geometric(p) - 1`` repeat purchases at most.

    Examples
    --------
    >>> simulate_mbg_nbd(3, 0.5, 5.0, 1.0, 3.0, T=10.0, random_state=0).shape
    (3, 3)
    """
    rng = np.random.default_rng(random_state)
    T = _observation_lengths(n, T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    n_events = rng.poisson(lam * T)
    n_alive = rng.geometric(np.clip(p, 1e-300, 1.0)) - 1
    x = np.minimum(n_events, n_alive)
    tx = _last_of_first(x, n_events, T, rng)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T})


def simulate_pareto_nbd(n, r, alpha, s, beta, T, random_state=None) -> pd.DataFrame:
    """Simulate ``n`` customers from the Pareto/NBD process (Schmittlein et al. 1987).

    ``lambda ~ Gamma(r, rate=alpha)``; lifetime ``~ Exponential(mu)``, ``mu ~ Gamma(s, rate=beta)``.

    Examples
    --------
    >>> simulate_pareto_nbd(2, 0.5, 10.0, 0.6, 12.0, T=39.0, random_state=0).shape
    (2, 3)
    """
    rng = np.random.default_rng(random_state)
    T = _observation_lengths(n, T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    window = np.minimum(lifetime, T)
    x = rng.poisson(lam * window)
    tx = _last_of_first(x, x, window, rng)
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T})


def simulate_gamma_gamma(frequency, p, q, gamma, random_state=None) -> np.ndarray:
    """Mean spend per transaction for customers with the given repeat ``frequency``.

    Fader, Hardie & Lee (2005, JMR): spend per transaction ``~ Gamma(p, rate=nu)``,
    ``nu ~ Gamma(q, rate=gamma)``; the mean of x transactions is ``Gamma(p x, rate=nu) / x``.

    Examples
    --------
    >>> simulate_gamma_gamma([1, 3], 6.0, 4.0, 15.0, random_state=0).shape
    (2,)
    """
    rng = np.random.default_rng(random_state)
    x = np.asarray(frequency, dtype=float)
    if (x <= 0).any():
        raise ValueError("frequency must be > 0 for every customer")
    nu = rng.gamma(q, 1.0 / gamma, x.size)
    return rng.gamma(p * x, 1.0 / nu) / x
