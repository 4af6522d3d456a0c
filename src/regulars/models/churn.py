"""Churn risk: a calibrated LightGBM classifier on arrays or frames (no database).

Why this module is long: the calibrated gradient-boosted classifier (fit, held-out calibration, raw
scores) and its per-customer reasons (exact TreeSHAP or the path decomposition of
models/tree_paths.py) must agree on the same raw score, so they are kept together.

What it learns from is built in :mod:`regulars.features.labels`: the **churn label** (1 when a
customer who purchased before the snapshot ``A`` makes no purchase in the ``window_days`` days
from ``A``) and :func:`~regulars.features.labels.activity_features` (how recent her activity
is); the job joins them with the customer features mart and the BTYD outputs (p_alive,
expected orders).

The classifier is gradient-boosted trees (LightGBM: Ke, G., Meng, Q., Finley, T., Wang, T.,
Chen, W., Ma, W., Ye, Q. & Liu, T.-Y. (2017). "LightGBM: A highly efficient gradient boosting
decision tree". *Advances in Neural Information Processing Systems* 30, 3146-3154), whose raw
scores are calibrated on a **later** snapshot than the one it was trained on (isotonic
regression with enough data, Platt scaling otherwise), so a 30 % risk means about 30 of 100
such customers do not come back. Per-customer reasons come from TreeSHAP contributions
(``pred_contrib=True``, Lundberg et al. 2020), see :mod:`regulars.models.reasons`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .readiness import NotEnoughData
from .tree_paths import path_contributions, path_tables

__all__ = [
    "CalibratedBoostingClassifier",
    "ChurnModel",
    "float_matrix",
]

FORMAT_VERSION = 1
#: Scoring many rows uses every core: rows are scored independently, so (unlike training,
#: which keeps ``n_jobs`` for repeatable sums) the result does not depend on the number of
#: threads. Small batches stay on one thread, where OpenMP's start-up and spinning cost more.
_PREDICT_THREADS = os.cpu_count() or 1
_PARALLEL_ROWS = 50_000
#: Exact TreeSHAP costs about 2 microseconds per row and tree: from this many row-trees (0.2 s
#: on one core) every core pays for the threads' start-up.
_PARALLEL_TREESHAP = 100_000


def _threads(matrix: np.ndarray, per_row: int = 1) -> int:
    """Threads for scoring ``matrix``; ``per_row`` is how many row-sized units of work each row costs."""
    if per_row > 1:
        return _PREDICT_THREADS if len(matrix) * per_row >= _PARALLEL_TREESHAP else 1
    return _PREDICT_THREADS if len(matrix) >= _PARALLEL_ROWS else 1


def float_matrix(X: pd.DataFrame, names) -> np.ndarray:
    """The columns ``names`` of ``X`` as a float64 matrix; anything that is not a number is NaN,
    and so is a column ``X`` does not have. Filled column by column: no copy of ``X`` first.

    Examples
    --------
    >>> float_matrix(pd.DataFrame({"a": [1, None], "ok": pd.array([True, None], dtype="boolean")}), ["ok", "a", "zz"])
    array([[ 1.,  1., nan],
           [nan, nan, nan]])
    """
    names = list(names)
    if not len(X):
        return np.empty((0, len(names)))
    if list(X.columns) == names and all(t == np.float64 for t in X.dtypes):  # one float block
        return X.to_numpy(dtype=float)
    out = np.empty((len(X), len(names)))
    for j, name in enumerate(names):
        if name not in X.columns:
            out[:, j] = np.nan
            continue
        col = X[name]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            col = pd.to_numeric(col.astype(object), errors="coerce")
        out[:, j] = col.to_numpy(dtype=float, na_value=np.nan)
    return out



def _named(X) -> bool:
    """Whether *X* is a DataFrame whose columns name its features."""
    return isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)


# -- the classifier -----------------------------------------------------------------------
class CalibratedBoostingClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM gradient-boosted trees with probabilities calibrated on a separate fold.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda :
        LightGBM hyperparameters (Ke et al. 2017).
    calibration : {"auto", "isotonic", "sigmoid"}
        ``auto`` uses isotonic regression when the calibration fold has at least 1,000 rows and
        100 of each class, Platt scaling (a logistic fit on the raw score) otherwise.
    random_state : int
    n_jobs : int, default 1
        LightGBM threads. One by default: OpenMP threads busy-wait, and on a shared 2-core
        machine two threads were measured 15x slower than one.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    feature_names_in_ : ndarray of str
    calibration_ : str
        ``isotonic`` or ``sigmoid``.
    calibration_fold_ : str
        ``held-out`` (a separate, later snapshot) or ``random`` (a random quarter of the
        training rows, when no later snapshot was given).
    n_train_, n_calibration_, positive_rate_ :
        Rows used and the share of positives in training.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=2000), "noise": rng.normal(size=2000)})
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-2 * X["x"]))).astype(int)
    >>> model = CalibratedBoostingClassifier(n_estimators=50).fit(X, y)
    >>> proba = model.predict_proba(X)[:, 1]
    >>> bool(abs(proba.mean() - y.mean()) < 0.03)
    True
    >>> list(model.contributions(X.head(1)).columns)
    ['x', 'noise', 'bias']
    """

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 50, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 1.0, calibration: str = "auto", random_state: int = 0, n_jobs: int = 1):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.calibration = calibration
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _lgb_params(self) -> dict:
        return {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples, "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0, "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda, "seed": self.random_state, "num_threads": self.n_jobs,
            "verbosity": -1, "deterministic": True, "force_row_wise": True,
        }

    def _n_rounds(self) -> int:
        return int(self.n_estimators)

    def fit(self, X: pd.DataFrame, y, X_calibration: pd.DataFrame | None = None, y_calibration=None):
        """Fit the trees on ``(X, y)`` and the calibration on ``(X_calibration, y_calibration)``.

        Without a calibration fold, a random quarter of ``(X, y)`` is held out for it
        (``calibration_fold_ = "random"``).

        Returns
        -------
        self
        """
        if self.calibration not in ("auto", "isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'auto', 'isotonic' or 'sigmoid', got {self.calibration!r}")
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = self._frame(X, reset=True)
        y = self._encode(y, reset=True)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        names = list(X.columns)
        if X_calibration is None:
            rng = np.random.default_rng(self.random_state)
            hold = rng.random(len(X)) < 0.25
            X_calibration, y_calibration = X.loc[hold], y[hold]
            X, y = X.loc[~hold], y[~hold]
            self.calibration_fold_ = "random"
        else:
            X_calibration = self._frame(X_calibration, reset=False)
            y_calibration = self._encode(y_calibration, reset=False)
            self.calibration_fold_ = "held-out"
        for name, labels in (("training", y), ("calibration", y_calibration)):
            if labels.size == 0 or labels.min() == labels.max():
                raise NotEnoughData(f"the {name} rows hold only one class (outcome); both outcomes are needed to learn")
        data = lgb.Dataset(float_matrix(X, names), label=y, feature_name=names, free_raw_data=True)
        self.booster_ = lgb.train(self._lgb_params(), data, num_boost_round=self._n_rounds())
        self.n_train_ = len(y)
        self.positive_rate_ = float(y.mean())
        calibration = float_matrix(X_calibration, names)
        raw = self.booster_.predict(calibration, raw_score=True, num_threads=_threads(calibration))
        self._fit_calibration(raw, y_calibration)
        return self

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        """*X* as a DataFrame: its own columns for a DataFrame (they name the features); an array
        is checked as scikit-learn does and its columns are named ``x0, x1, ...`` internally
        (``feature_names_in_`` is then not set, as scikit-learn's convention asks); so is a
        DataFrame whose column names are not all text."""
        if _named(X):
            if not len(X):
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            if reset:
                self.feature_names_in_ = np.array(list(X.columns), dtype=object)
                self.n_features_in_ = X.shape[1]
            return X
        matrix = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan", estimator=self)
        if reset:
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.n_features_in_ = matrix.shape[1]
        elif matrix.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {matrix.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        names = [f"x{i}" for i in range(matrix.shape[1])] if reset else self._feature_names()
        return pd.DataFrame(matrix, columns=names)

    def _feature_names(self) -> list:
        return list(getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]))

    def _encode(self, y, reset: bool) -> np.ndarray:
        """Labels as 0/1 (the position in ``classes_``); exactly two classes can be learned."""
        y = np.asarray(column_or_1d(y, warn=True))
        check_classification_targets(y)
        if reset:
            self.classes_ = np.unique(y)
            if len(self.classes_) > 2:
                raise ValueError(f"Only binary classification is supported. {type(self).__name__} learns two "
                                 f"classes; y holds {len(self.classes_)}: {list(self.classes_)[:5]}")
            if len(self.classes_) == 1:
                raise NotEnoughData("the training rows hold only one class (outcome); both outcomes are needed to learn")
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y holds labels not seen in training: {list(np.unique(y[unknown]))[:5]}")
        return np.searchsorted(self.classes_, y).astype(int)

    def _fit_calibration(self, raw: np.ndarray, y: np.ndarray) -> None:
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(y) >= 1000 and min(y.sum(), len(y) - y.sum()) >= 100 else "sigmoid"
        self.calibration_ = method
        self.n_calibration_ = len(y)
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            self.calibration_map_ = {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), y)
            self.calibration_map_ = {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        cmap = self.calibration_map_
        if self.calibration_ == "isotonic":
            return np.interp(raw, cmap["x"], cmap["y"])
        return 1.0 / (1.0 + np.exp(-(cmap["a"] * raw + cmap["b"])))

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "booster_")
        if not _named(X):
            return float_matrix(self._frame(X, reset=False), self._feature_names())
        names = self._feature_names()
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature(s) the model was fitted on: {missing}")
        return float_matrix(X, names)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated raw score (log-odds) of the trees."""
        matrix = self._check_X(X)
        return self.booster_.predict(matrix, raw_score=True, num_threads=_threads(matrix))

    def proba_from_raw(self, raw) -> np.ndarray:
        """Calibrated positive-class probability from raw scores (e.g. summed contributions)."""
        check_is_fitted(self, "booster_")
        return np.clip(self._calibrate(np.asarray(raw, dtype=float)), 0.0, 1.0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, 2)``; column 1 is the positive class."""
        p = np.clip(self._calibrate(self.decision_function(X)), 0.0, 1.0)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more likely class of each row (``classes_[1]`` when its probability is at least 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM learns where missing values go
        tags.classifier_tags.multi_class = False
        return tags

    def contributions(self, X: pd.DataFrame, method: str = "treeshap", groups: dict | None = None) -> pd.DataFrame:
        """Contribution of every feature (or group of features) to the raw score, plus ``bias``.

        Parameters
        ----------
        X : DataFrame
        method : {"treeshap", "path"}
            ``treeshap``: exact TreeSHAP (LightGBM's ``pred_contrib=True``; Lundberg et al.
            2020). It costs about 2 microseconds per row and tree on one core, i.e. minutes for
            a million customers. ``path``: the change in the node value at each split on the
            row's path, credited to the split's feature (Saabas' "treeinterpreter"
            decomposition): one ``pred_leaf`` pass plus table look-ups, ~50x faster. Both sum
            exactly to :meth:`decision_function`; ``path`` over-credits features near the root.
        groups : dict, optional
            Feature -> group name: return one column per group (their sum) instead.

        Each row sums to :meth:`decision_function` of that row.
        """
        matrix = self._check_X(X)
        names = self._feature_names()
        index = X.index if isinstance(X, pd.DataFrame) else None  # rows keep their labels
        if method == "treeshap":
            contrib = self.booster_.predict(matrix, pred_contrib=True,
                                            num_threads=_threads(matrix, per_row=self.booster_.num_trees()))
            frame = pd.DataFrame(contrib, columns=[*names, "bias"], index=index)
            if groups is None:
                return frame
            labels = [groups.get(c, c) for c in names]
            grouped = frame[names].T.groupby(labels, sort=False).sum().T
            grouped["bias"] = frame["bias"]
            return grouped
        if method != "path":
            raise ValueError(f"method must be 'treeshap' or 'path', got {method!r}")
        labels = [groups.get(c, c) for c in names] if groups else names
        columns = list(dict.fromkeys(labels))
        column_of = np.array([columns.index(g) for g in labels])
        cache = getattr(self, "_path_cache", None)
        if cache is None or cache[0] != (tuple(column_of), len(columns)) or cache[1] is not self.booster_:
            self._path_cache = ((tuple(column_of), len(columns)), self.booster_,
                                path_tables(self.booster_, column_of, len(columns)))
        leaves = self.booster_.predict(matrix, pred_leaf=True, num_threads=_threads(matrix))
        out, bias = path_contributions(self._path_cache[2], leaves)
        frame = pd.DataFrame(out, columns=columns, index=index)
        frame["bias"] = bias
        return frame

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature, largest first."""
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self._feature_names()).sort_values(ascending=False)

    # -- persistence --------------------------------------------------------------------
    _fitted = ("feature_names_in_", "calibration_", "calibration_fold_", "calibration_map_",
               "n_train_", "n_calibration_", "positive_rate_")

    def save(self, path) -> None:
        """Write the hyperparameters, trees and calibration map to a JSON file."""
        check_is_fitted(self, "booster_")
        fitted = {k: getattr(self, k) for k in self._fitted}
        fitted["feature_names_in_"] = self._feature_names()
        fitted["classes_"] = self.classes_.tolist()
        state = {"model": type(self).__name__, "format_version": FORMAT_VERSION,
                 "hyperparameters": self.get_params(), "fitted": fitted,
                 "booster": self.booster_.model_to_string()}
        Path(path).write_text(json.dumps(state))

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`."""
        state = json.loads(Path(path).read_text())
        if state.get("model") != cls.__name__ or state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} does not hold a {cls.__name__} (format {FORMAT_VERSION})")
        model = cls(**state["hyperparameters"])
        for k, v in state["fitted"].items():
            setattr(model, k, v)
        model.feature_names_in_ = np.array(model.feature_names_in_, dtype=object)
        model.n_features_in_ = len(model.feature_names_in_)
        model.classes_ = np.array(state["fitted"].get("classes_", [0, 1]))
        model.booster_ = lgb.Booster(model_str=state["booster"])
        return model


class ChurnModel(CalibratedBoostingClassifier):
    """Probability that a customer makes no purchase in the next ``window_days`` days.

    A :class:`CalibratedBoostingClassifier` with the churn window as an extra
    hyperparameter (it is recorded with the model; the labels come from
    :func:`churn_labels`). ``small_data`` switches to fewer, shallower trees with larger
    leaves, for shops with a few hundred customers.
    """

    def __init__(self, window_days: int = 90, small_data: bool = False, n_estimators: int = 200,
                 learning_rate: float = 0.05, num_leaves: int = 15, min_child_samples: int = 50,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, reg_lambda: float = 1.0,
                 calibration: str = "auto", random_state: int = 0, n_jobs: int = 1):
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
                         min_child_samples=min_child_samples, subsample=subsample,
                         colsample_bytree=colsample_bytree, reg_lambda=reg_lambda, calibration=calibration,
                         random_state=random_state, n_jobs=n_jobs)
        self.window_days = window_days
        self.small_data = small_data

    def _lgb_params(self) -> dict:
        params = super()._lgb_params()
        if self.small_data:
            params.update(num_leaves=min(self.num_leaves, 4), min_data_in_leaf=max(10, min(self.min_child_samples, 20)),
                          lambda_l2=max(self.reg_lambda, 10.0), learning_rate=min(self.learning_rate, 0.05))
        return params

    def _n_rounds(self) -> int:
        return min(int(self.n_estimators), 100) if self.small_data else int(self.n_estimators)
