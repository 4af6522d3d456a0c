"""Shared machinery of the maximum-likelihood BTYD estimators.

Every model here is fitted the same way: the parameters are optimised on the log scale
(so they stay positive) with L-BFGS-B and an analytic gradient, identical customers are
collapsed into weighted rows first, and the covariance of the log-parameters is the inverse
of the Hessian of the negative log-likelihood at the optimum (the Hessian is a central
difference of the analytic gradient).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

FORMAT_VERSION = 1
_LOG_BOUND = 30.0  # |log parameter| bound: keeps exp() finite during line searches


def as_float_array(values, name: str) -> np.ndarray:
    """1-d float array from a list/array/Series, with a message naming ``name``."""
    array = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values, dtype=float)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f"{name} has {bad.sum()} missing or infinite value(s), first at position {np.argmax(bad)}")
    return array


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def validate_rfm(frequency, recency, T, weights=None):
    """Check (frequency, recency, T[, weights]) and return them as float arrays.

    Raises
    ------
    ValueError
        With the number of offending rows and the position of the first one, when lengths
        differ, values are negative or non-finite, frequency is not a whole number,
        recency exceeds T, or a customer without repeat purchases has recency > 0.
    """
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    t = as_float_array(T, "T")
    if not (x.size == tx.size == t.size):
        raise ValueError(f"frequency, recency and T must have the same length, got {x.size}, {tx.size}, {t.size}")
    checks = [
        (x < 0, "frequency must be >= 0"),
        (x != np.round(x), "frequency must be a whole number of repeat purchases"),
        (tx < 0, "recency must be >= 0"),
        (t <= 0, "T must be > 0"),
        (tx > t * (1 + 1e-12), "recency must be <= T"),
        ((x == 0) & (tx != 0), "recency must be 0 when frequency is 0"),
    ]
    for mask, message in checks:
        if mask.any():
            i = _first(mask)
            raise ValueError(
                f"{message}: {int(mask.sum())} row(s) fail, first at position {i} "
                f"(frequency={x[i]:g}, recency={tx[i]:g}, T={t[i]:g})"
            )
    tx = np.minimum(tx, t)
    w = validate_weights(weights, x.size)
    return x, tx, t, w


def validate_weights(weights, size: int) -> np.ndarray:
    """Non-negative weights of length ``size`` (ones when ``weights`` is None)."""
    if weights is None:
        return np.ones(size)
    w = as_float_array(weights, "weights")
    if w.size != size:
        raise ValueError(f"weights must have one value per customer ({size}), got {w.size}")
    if (w < 0).any():
        raise ValueError(f"weights must be >= 0, first negative at position {_first(w < 0)}")
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    return w


def collapse_rows(columns: tuple[np.ndarray, ...], weights: np.ndarray):
    """Merge identical rows of ``columns``, summing their weights.

    Returns the unique columns and their weights; customers with equal (frequency,
    recency, T) have equal likelihood terms, so this changes nothing but the run time.
    """
    frame = pd.DataFrame({f"c{i}": c for i, c in enumerate(columns)})
    frame["w"] = weights
    grouped = frame.groupby(list(frame.columns[:-1]), sort=False)["w"].sum()
    grouped = grouped[grouped.to_numpy() > 0]
    index = grouped.index
    if len(columns) == 1:
        unique = (index.to_numpy(dtype=float),)
    else:
        unique = tuple(index.get_level_values(i).to_numpy(dtype=float) for i in range(len(columns)))
    return unique, grouped.to_numpy(dtype=float)


class MaximumLikelihoodModel(BaseEstimator):
    """Base class: fitting on log-parameters, standard errors, save/load, parameter draws.

    Subclasses define ``_param_names`` and ``_log_likelihood(params, *data, gradient)``
    returning the per-row log-likelihood and (if ``gradient``) its derivatives with respect
    to the natural parameters, shape ``(n_rows, n_params)``.
    """

    _param_names: tuple[str, ...] = ()

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-8, maxiter: int = 2000):
        self.penalizer = penalizer
        self.tol = tol
        self.maxiter = maxiter

    # -- subclass hooks -------------------------------------------------------------------
    @staticmethod
    def _log_likelihood(params, *data, gradient=False):  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_log_params(self, *data_and_weights) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- fitting --------------------------------------------------------------------------
    def _objective(self, log_params, data, weights):
        """Penalised negative mean log-likelihood and its gradient in log-parameters."""
        params = np.exp(log_params)
        ll, grad = self._log_likelihood(params, *data, gradient=True)
        total = weights.sum()
        value = -(weights @ ll) / total + self.penalizer * np.sum(params**2)
        g = -(weights @ grad) / total * params + 2 * self.penalizer * params**2
        if not np.isfinite(value):
            return 1e100, np.zeros_like(g)
        return value, g

    def _fit_arrays(self, data: tuple[np.ndarray, ...], weights: np.ndarray):
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x0 = self._initial_log_params(*data, weights)
        result = minimize(
            self._objective,
            x0,
            args=(data, weights),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(x0),
            options={"maxiter": self.maxiter, "gtol": self.tol, "ftol": 1e-15, "maxcor": 20},
        )
        log_params = result.x
        params = np.exp(log_params)
        ll = self._log_likelihood(params, *data)
        self.params_ = {name: float(v) for name, v in zip(self._param_names, params)}
        self.log_likelihood_ = float(weights @ ll)
        self.n_customers_ = float(weights.sum())
        self.converged_ = bool(result.success)
        self.n_iter_ = int(result.nit)
        self.covariance_ = self._log_param_covariance(log_params, data, weights)
        se = params * np.sqrt(np.clip(np.diag(self.covariance_), 0, None))
        self.standard_errors_ = {name: float(v) for name, v in zip(self._param_names, se)}
        if not self.converged_:
            import warnings

            warnings.warn(
                f"{type(self).__name__} did not converge: {result.message}", RuntimeWarning, stacklevel=3
            )
        return self

    def _log_param_covariance(self, log_params, data, weights) -> np.ndarray:
        """Inverse Hessian of the (penalised) total negative log-likelihood in log-parameters."""
        total = weights.sum()
        k = log_params.size
        hessian = np.empty((k, k))
        for j in range(k):
            h = 1e-5 * max(1.0, abs(log_params[j]))
            up, down = log_params.copy(), log_params.copy()
            up[j] += h
            down[j] -= h
            hessian[:, j] = (self._objective(up, data, weights)[1] - self._objective(down, data, weights)[1]) / (2 * h)
        hessian = 0.5 * (hessian + hessian.T) * total
        try:
            return np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(hessian)

    # -- helpers for predictions ----------------------------------------------------------
    def _params_array(self) -> np.ndarray:
        check_is_fitted(self, "params_")
        return np.array([self.params_[name] for name in self._param_names])

    def sample_params(self, n: int, random_state=None) -> np.ndarray:
        """Draw parameter vectors from the asymptotic normal of the log-parameters.

        Parameters
        ----------
        n : int
            Number of draws.
        random_state : int, numpy Generator or None

        Returns
        -------
        ndarray of shape (n, n_params)
            Natural-scale parameters, columns in the order of ``params_``.
        """
        check_is_fitted(self, "params_")
        rng = np.random.default_rng(random_state)
        mean = np.log(self._params_array())
        draws = rng.multivariate_normal(mean, self.covariance_, size=n, method="eigh")
        return np.exp(np.clip(draws, -_LOG_BOUND, _LOG_BOUND))

    def with_params(self, params) -> "MaximumLikelihoodModel":
        """A copy of this fitted model whose ``params_`` are replaced by ``params``."""
        check_is_fitted(self, "params_")
        clone = copy.copy(self)
        clone.params_ = {name: float(v) for name, v in zip(self._param_names, np.asarray(params, dtype=float))}
        return clone

    # -- persistence ----------------------------------------------------------------------
    _fitted_attributes = ("params_", "log_likelihood_", "standard_errors_", "n_customers_", "converged_", "n_iter_")

    def save(self, path) -> None:
        """Write hyperparameters and fitted parameters to a JSON file at ``path``."""
        check_is_fitted(self, "params_")
        state = {
            "model": type(self).__name__,
            "format_version": FORMAT_VERSION,
            "hyperparameters": self.get_params(),
            "fitted": {name: getattr(self, name) for name in self._fitted_attributes if hasattr(self, name)},
            "covariance_": np.asarray(self.covariance_).tolist(),
        }
        Path(path).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`."""
        state = json.loads(Path(path).read_text())
        if state.get("model") != cls.__name__:
            raise ValueError(f"{path} holds a {state.get('model')!r}, not a {cls.__name__}")
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} has format_version {state.get('format_version')}, expected {FORMAT_VERSION}")
        model = cls(**state["hyperparameters"])
        for name, value in state["fitted"].items():
            setattr(model, name, value)
        model.covariance_ = np.asarray(state["covariance_"], dtype=float)
        return model
