"""Adaptive allocation for an ongoing offer: Thompson sampling over an action's variants.

Each variant's conversion rate has a Beta(1 + conversions, 1 + non-conversions) posterior. New
customers are sent to each variant in proportion to the posterior probability that it is the
best (randomised probability matching, i.e. Thompson sampling in batches), never below a
**minimum exploration share** so a variant that started badly can still recover and the
estimates stay unbiased enough to read. **Regret** is what the allocation cost against always
sending the best variant: expected conversions lost, ``sum_k n_k (theta_best - theta_k)``.

References
----------
- Thompson, W. R. (1933). "On the likelihood that one unknown probability exceeds another in
  view of the evidence of two samples". *Biometrika* 25, 285-294.
- Chapelle, O. & Li, L. (2011). "An empirical evaluation of Thompson sampling". *NIPS 24*.
- Scott, S. L. (2010). "A modern Bayesian look at the multi-armed bandit". *Applied Stochastic
  Models in Business and Industry* 26, 639-658 (batch allocation by P(best)).
- Russo, D., Van Roy, B., Kazerouni, A., Osband, I. & Wen, Z. (2018). "A tutorial on Thompson
  sampling". *Foundations and Trends in Machine Learning* 11(1), 1-96.

Examples
--------
>>> shares = thompson_shares([30, 45, 70], [1000, 1000, 1000], min_share=0.05, seed=0)
>>> [round(float(s), 2) for s in shares]
[0.05, 0.06, 0.89]
>>> sim = simulate([0.04, 0.05, 0.07], customers=20_000, batch=500, seed=1)
>>> bool(sim.regret < 0.5 * sim.uniform_regret)
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["BanditSimulation", "RegretReport", "regret_report", "simulate", "thompson_shares"]


def thompson_shares(conversions, customers, min_share: float = 0.05, draws: int = 10_000,
                    seed: int | None = 0) -> np.ndarray:
    """Share of the next customers for each variant: P(best) floored at *min_share*.

    ``min_share * n_variants`` must not exceed 1.
    """
    s = np.asarray(conversions, dtype=float)
    n = np.asarray(customers, dtype=float)
    k = len(s)
    if k < 2:
        raise ValueError("a bandit needs at least two variants")
    if not 0 <= min_share * k <= 1:
        raise ValueError(f"a minimum share of {min_share:.0%} for {k} variants adds up to more than 100%")
    if np.any(s < 0) or np.any(s > n):
        raise ValueError("conversions must be between 0 and the number of customers of each variant")
    rng = np.random.default_rng(seed)
    samples = rng.beta(1 + s, 1 + n - s, size=(draws, k))
    p_best = np.bincount(samples.argmax(axis=1), minlength=k) / draws
    return min_share + (1 - k * min_share) * p_best


@dataclass(frozen=True)
class BanditSimulation:
    """Expected conversions lost against always choosing the best variant."""

    true_rates: list[float]
    customers: int
    regret: float
    uniform_regret: float
    customers_per_variant: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def simulate(true_rates, customers: int = 20_000, batch: int = 500, min_share: float = 0.05,
             seed: int | None = 0) -> BanditSimulation:
    """Run Thompson allocation in batches on variants with known *true_rates*."""
    theta = np.asarray(true_rates, dtype=float)
    rng = np.random.default_rng(seed)
    k = len(theta)
    conv = np.zeros(k)
    sent = np.zeros(k)
    remaining = customers
    while remaining > 0:
        size = min(batch, remaining)
        shares = thompson_shares(conv, sent, min_share, draws=2_000, seed=rng.integers(2**32))
        pulled = rng.multinomial(size, shares / shares.sum())
        conv += rng.binomial(pulled, theta)
        sent += pulled
        remaining -= size
    regret = float(((theta.max() - theta) * sent).sum())
    uniform = float(customers * (theta.max() - theta.mean()))
    return BanditSimulation(theta.tolist(), customers, regret, uniform, sent.astype(int).tolist())


@dataclass(frozen=True)
class RegretReport:
    """Regret of the allocation so far, estimated from the variants' posteriors."""

    variants: list[str]
    customers: list[int]
    conversions: list[int]
    p_best: list[float]
    regret: float            # expected conversions lost so far (posterior mean)
    regret_upper: float      # 95th percentile
    uniform_regret: float    # what an even split of the same customers would have lost
    next_shares: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


def regret_report(variants, conversions, customers, min_share: float = 0.05, draws: int = 20_000,
                  seed: int | None = 0) -> RegretReport:
    """How much the allocation so far cost against the best variant, and the next shares.

    >>> r = regret_report(["a", "b"], [40, 80], [1000, 1000])
    >>> round(r.regret), round(r.uniform_regret)
    (40, 40)
    """
    s = np.asarray(conversions, dtype=float)
    n = np.asarray(customers, dtype=float)
    rng = np.random.default_rng(seed)
    theta = rng.beta(1 + s, 1 + n - s, size=(draws, len(s)))
    gap = theta.max(axis=1, keepdims=True) - theta
    lost = gap @ n
    uniform = n.sum() * gap.mean(axis=1)
    p_best = np.bincount(theta.argmax(axis=1), minlength=len(s)) / draws
    shares = thompson_shares(s, n, min_share, seed=seed)
    return RegretReport(list(variants), n.astype(int).tolist(), s.astype(int).tolist(), p_best.tolist(),
                        float(lost.mean()), float(np.quantile(lost, 0.95)), float(uniform.mean()), shares.tolist())
