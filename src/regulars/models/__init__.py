"""Customer-level statistical models: buy-till-you-die transaction models, spend, CLV.

Estimators follow scikit-learn's contract (hyperparameters in ``__init__``, data in
``fit``, learned attributes ending in ``_``) and never touch a database; ``summarize``
builds the per-customer input from transactions as an Ibis expression.
"""

from .beta_geo import BetaGeoModel
from .clv import customer_lifetime_value
from .gamma_gamma import GammaGammaModel
from .pareto_nbd import ParetoNBDModel
from .summary import summarize, summary_expression

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "ParetoNBDModel",
    "customer_lifetime_value",
    "summarize",
    "summary_expression",
]
