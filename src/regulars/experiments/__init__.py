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

from regulars._lazy import lazy_exports

#: Public name -> the submodule defining it, imported on first use (PEP 562): planning a test
#: (``regulars.experiments.power``) must not load the analysis, LightGBM and scikit-learn.
_EXPORTS = {"ExperimentResult": ".analysis", "analyse": ".analysis", "ActionUplift": ".uplift",
            "ResponseUplift": ".uplift", "response_uplift": ".uplift"}

__all__ = ["ActionUplift", "ExperimentResult", "ResponseUplift", "analyse", "response_uplift"]


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
