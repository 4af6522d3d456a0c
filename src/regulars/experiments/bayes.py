"""The Bayesian view of an experiment: probability each arm is best and the expected loss of
choosing it.

Rates use independent Beta(1 + successes, 1 + failures) posteriors (uniform priors). Means (revenue
per customer) use the large-sample normal posterior ``N(mean, se^2)`` of each arm's mean under a
flat prior, which is what the central limit theorem gives for a few hundred customers or more.
The **expected loss** of choosing arm *k* is ``E[max_j theta_j - theta_k]``: what choosing it costs
per customer, on average over the posterior, if it is not the best.

References
----------
- Gelman, A., Carlin, J. B., Stern, H. S., Dunson, D. B., Vehtari, A. & Rubin, D. B. (2013).
  *Bayesian Data Analysis*, 3rd ed., chapters 2-3 (Beta-binomial and normal models).
- Scott, S. L. (2015). "Multi-armed bandit experiments in the online service economy".
  *Applied Stochastic Models in Business and Industry* 31, 37-45 (probability of being best,
  value remaining).
- Stucchio, C. (2015). "Bayesian A/B testing at VWO". VWO technical report (expected loss).

Examples
--------
>>> view = rate_posteriors([100, 130], [1000, 1000], seed=0)
>>> round(view.p_best[1], 2), view.expected_loss[1] < view.expected_loss[0]
(0.98, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["BayesView", "mean_posteriors", "rate_posteriors"]


@dataclass(frozen=True)
class BayesView:
    """Per arm (in the order given): posterior mean, P(best), expected loss, P(beats arm 0)."""

    posterior_mean: list[float]
    p_best: list[float]
    expected_loss: list[float]
    p_beats_first: list[float]
    draws: int

    def to_dict(self) -> dict:
        return asdict(self)


def _view(samples: np.ndarray) -> BayesView:
    best = samples.max(axis=1, keepdims=True)
    winners = np.bincount(samples.argmax(axis=1), minlength=samples.shape[1])
    return BayesView(
        posterior_mean=samples.mean(axis=0).tolist(),
        p_best=(winners / len(samples)).tolist(),
        expected_loss=(best - samples).mean(axis=0).tolist(),
        p_beats_first=(samples > samples[:, :1]).mean(axis=0).tolist(),
        draws=len(samples),
    )


def rate_posteriors(successes, trials, draws: int = 20_000, seed: int | None = 0) -> BayesView:
    """Beta posteriors of conversion rates; ``successes[k]`` out of ``trials[k]`` per arm."""
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(s < 0) or np.any(s > n):
        raise ValueError("successes must be between 0 and the number of customers of each arm")
    rng = np.random.default_rng(seed)
    return _view(rng.beta(1 + s, 1 + n - s, size=(draws, len(s))))


def mean_posteriors(means, standard_errors, draws: int = 20_000, seed: int | None = 0) -> BayesView:
    """Normal posteriors ``N(mean, se^2)`` of per-arm means (e.g. CUPED-adjusted revenue).

    >>> v = mean_posteriors([10.0, 10.5], [0.2, 0.2], seed=1)
    >>> round(v.p_beats_first[1], 2)
    0.96
    """
    m = np.asarray(means, dtype=float)
    se = np.asarray(standard_errors, dtype=float)
    rng = np.random.default_rng(seed)
    return _view(m + se * rng.standard_normal((draws, len(m))))
