"""Customer-level statistical models: buy-till-you-die transaction models, spend, CLV.

Estimators follow scikit-learn's contract (hyperparameters in ``__init__``, data in
``fit``, learned attributes ending in ``_``) and never touch a database; ``summarize``
builds the per-customer input from transactions as an Ibis expression.
"""

from regulars._lazy import lazy_exports

#: Public name -> the submodule defining it. Imported on first use (PEP 562): importing a light
#: submodule such as ``regulars.models.readiness`` (the data doctor's limits) must not load the
#: estimators and SciPy, which costs seconds when a stored report is decoded on a page's first visit.
_EXPORTS = {
    "BetaGeoModel": ".beta_geo",
    "GammaGammaModel": ".gamma_gamma",
    "ParetoNBDModel": ".pareto_nbd",
    "customer_lifetime_value": ".clv",
    "summarize": ".summary",
    "summary_expression": ".summary",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
