"""Sample-ratio mismatch: are the arms as large as the assignment shares say they should be?

A mismatch (say 50.8 % / 49.2 % on 100,000 customers when 50/50 was planned) almost always means
something broke: a journey that skipped customers in one arm, an export that lost rows, bots.
Every other number of such an experiment is suspect. The check is Pearson's chi-square
goodness-of-fit test against the planned shares; by convention it alarms at ``p < 0.001``
(Fabijan et al. 2019), strict enough that it almost never fires by chance.

References
----------
- Fabijan, A., Gupchup, J., Gupta, S., Omhover, J., Qin, W., Vermeer, L. & Dmitriev, P. (2019).
  "Diagnosing sample ratio mismatch in online controlled experiments: a taxonomy and rules of
  thumb for practitioners". *Proceedings of KDD 2019*, 2156-2164.
- Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled Experiments*. Cambridge
  University Press, chapter 21.

Examples
--------
>>> sample_ratio_check([5080, 4920], [0.5, 0.5]).mismatch
False
>>> sample_ratio_check([50800, 49200], [0.5, 0.5]).mismatch
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = ["SRM_ALPHA", "SampleRatio", "sample_ratio_check"]

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class SampleRatio:
    observed: list[int]
    expected: list[float]
    observed_shares: list[float]
    planned_shares: list[float]
    chi2: float
    p_value: float
    mismatch: bool

    def to_dict(self) -> dict:
        return asdict(self)


def sample_ratio_check(counts, shares, alpha: float = SRM_ALPHA) -> SampleRatio:
    """Chi-square test of the arm sizes *counts* against the planned *shares* (normalised)."""
    observed = np.asarray(counts, dtype=float)
    planned = np.asarray(shares, dtype=float)
    if observed.shape != planned.shape or len(observed) < 2:
        raise ValueError("give one count and one planned share per arm, at least two arms")
    planned = planned / planned.sum()
    total = observed.sum()
    if total == 0:
        return SampleRatio([0] * len(observed), [0.0] * len(observed), [0.0] * len(observed), planned.tolist(),
                           0.0, 1.0, False)
    expected = planned * total
    res = stats.chisquare(observed, expected)
    p = float(res.pvalue)
    return SampleRatio(observed.astype(int).tolist(), expected.tolist(), (observed / total).tolist(), planned.tolist(),
                       float(res.statistic), p, p < alpha)
