"""Experiments and causal measurement, on arrays and frames (no database).

=========================  ==========================================================
:mod:`.allocation`         deterministic keyed-hash assignment, stratified blocks
:mod:`.estimates`          Welch, bootstrap and Wilson / exact intervals
:mod:`.cuped`              variance reduction with pre-period spend
:mod:`.bayes`              probability each arm is best, expected loss
:mod:`.sequential`         always-valid intervals (peeking guard)
:mod:`.srm`                sample-ratio mismatch
:mod:`.power`              sample size and minimum detectable effect
:mod:`.analysis`           one experiment's full analysis and its sentence
:mod:`.uplift`             T- and X-learners, Qini / AUUC, response uplift for next-best-action
:mod:`.bandit`             Thompson sampling with a minimum exploration share, regret
:mod:`.quasi`              difference-in-differences, synthetic control, structural time series
=========================  ==========================================================

The data layer (:mod:`regulars.data.experiments_store`) keeps experiments and assignments;
:mod:`regulars.jobs.experiments` creates and records assignments; :mod:`regulars.reports.experiments`
reads outcomes and calls this package.
"""

from regulars.experiments.analysis import ExperimentResult, analyse
from regulars.experiments.uplift import ActionUplift, ResponseUplift, response_uplift

__all__ = ["ActionUplift", "ExperimentResult", "ResponseUplift", "analyse", "response_uplift"]
