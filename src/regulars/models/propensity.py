"""Purchase propensity: the probability that a customer buys in the next ``window_days`` days.

Same machinery as churn (:class:`~regulars.models.churn.CalibratedBoostingClassifier`:
LightGBM, Ke et al. 2017, calibrated on a later snapshot, TreeSHAP reasons), a shorter window
and the opposite question: the label is 1 when the customer **does** purchase in days
``A .. A+window_days-1`` from the snapshot ``A`` (:func:`regulars.features.labels.propensity_labels`).
"""

from __future__ import annotations

from .churn import ChurnModel

__all__ = ["PurchasePropensityModel"]


class PurchasePropensityModel(ChurnModel):
    """Probability of at least one purchase in the next ``window_days`` days (default 30).

    Hyperparameters, attributes and methods are those of
    :class:`~regulars.models.churn.ChurnModel`; only the default window differs.

    Examples
    --------
    >>> PurchasePropensityModel().window_days
    30
    """

    def __init__(self, window_days: int = 30, small_data: bool = False, n_estimators: int = 200,
                 learning_rate: float = 0.05, num_leaves: int = 15, min_child_samples: int = 50,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, reg_lambda: float = 1.0,
                 calibration: str = "auto", random_state: int = 0, n_jobs: int = 1):
        super().__init__(window_days=window_days, small_data=small_data, n_estimators=n_estimators,
                         learning_rate=learning_rate, num_leaves=num_leaves, min_child_samples=min_child_samples,
                         subsample=subsample, colsample_bytree=colsample_bytree, reg_lambda=reg_lambda,
                         calibration=calibration, random_state=random_state, n_jobs=n_jobs)
