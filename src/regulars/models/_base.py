"""Shared machinery of the maximum-likelihood BTYD estimators.

Why this module is long: it is the one maximum-likelihood core (weighted collapse, log-scale
L-BFGS-B with analytic gradients, Hessian covariance, fit diagnostics, parameter draws) shared by
BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma; splitting it would scatter one estimator's fit over
files.

Every model here is fitted the same way: the parameters are optimised on the log scale
(so they stay positive) with L-BFGS-B and an analytic gradient, identical customers are
collapsed into weighted rows first, and the covariance of the log-parameters is the inverse
of the Hessian of the negative log-likelihood at the optimum (the Hessian is a central
difference of the analytic gradient).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

FORMAT_VERSION = 1
_LOG_BOUND = 30.0  # |log parameter| bound: keeps exp() finite during line searches
_WARM_START_ROWS = 20_000  # above this many distinct rows, start from a fit on a subset
#: A parameter beyond exp(+-11.5) (1e5 or 1e-5) sits on the edge of the parameter space.
BOUNDARY_LOG = 11.5
#: A standard deviation of a log-parameter above this (its 95% interval spans more than a
#: factor of e^4 ~ 55 either way) means the data cannot pin that parameter down.
MAX_LOG_SD = 2.0


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
        (t < 0, "T must be >= 0"),
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


class Factor:
    """A column stored as distinct ``values`` and per-row ``codes`` (``values[codes]``).

    Likelihood terms that depend on one column only (``gammaln(r + x)``, ``log(alpha + T)``)
    are computed once per distinct value and gathered, which is what makes a fit on a
    million customers fast: they have a few hundred distinct values per column.
    """

    __slots__ = ("values", "codes")

    def __init__(self, values, codes=None):
        self.values = np.asarray(values, dtype=float)
        self.codes = codes

    def expand(self, per_value: np.ndarray) -> np.ndarray:
        """Per-row array from an array computed on ``values``."""
        return per_value if self.codes is None else per_value[self.codes]

    @property
    def full(self) -> np.ndarray:
        return self.expand(self.values)


def as_factor(column) -> Factor:
    """``column`` itself if it is a :class:`Factor`, else a Factor of its rows."""
    return column if isinstance(column, Factor) else Factor(np.asarray(column, dtype=float))


def collapse_rows(columns: tuple[np.ndarray, ...], weights: np.ndarray):
    """Merge identical rows of ``columns``, summing their weights.

    Customers with equal inputs have equal likelihood terms, so this changes nothing but
    the run time. Hash-based (``pandas.factorize``), no sort.

    Returns
    -------
    factors : tuple of Factor
        One per column, one row per distinct input row.
    weights : ndarray
        Summed weights of the distinct rows (rows of zero total weight are dropped).
    """
    per_column = [pd.factorize(c, sort=False) for c in columns]
    key = per_column[0][0].astype(np.int64)
    for codes, uniques in per_column[1:]:
        if key.max(initial=0) >= np.iinfo(np.int64).max // max(len(uniques), 1):
            key = pd.factorize(key, sort=False)[0].astype(np.int64)
        key = key * len(uniques) + codes
    row_codes, distinct = pd.factorize(key, sort=False)
    n_rows = len(distinct)
    summed = np.bincount(row_codes, weights=weights, minlength=n_rows)
    representative = np.empty(n_rows, dtype=np.int64)
    representative[row_codes] = np.arange(row_codes.size)
    keep = summed > 0
    representative, summed = representative[keep], summed[keep]
    factors = tuple(Factor(uniques, codes[representative]) for codes, uniques in per_column)
    return factors, summed


def _small(gradient, tol) -> bool:
    gradient = np.asarray(gradient, dtype=float)
    return bool(np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) <= tol)


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
        # einsum rather than BLAS: no thread start-up cost for these small reductions.
        value = -np.einsum("i,i->", weights, ll) / total + self.penalizer * np.sum(params**2)
        g = -np.einsum("i,ij->j", weights, grad) / total * params + 2 * self.penalizer * params**2
        if not np.isfinite(value):
            return 1e100, np.zeros_like(g)
        return value, g

    def _fit_arrays(self, data: tuple[Factor, ...], weights: np.ndarray):
        """Maximise the likelihood: warm start, BFGS, then Newton steps to ``tol``.

        BFGS brings the gradient of the mean objective below ``max(tol, 1e-6)`` cheaply
        (L-BFGS-B, bounded so that exp() stays finite, takes over if it stalls). Newton
        steps with the finite-difference Hessian then reach ``tol``, where a line search
        would only see rounding noise; the same Hessian gives ``covariance_``.
        """
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x0 = self._initial_log_params(*data, weights)
        n_iter = 0
        coarse_tol = max(self.tol, 1e-6)
        options = {"maxiter": self.maxiter, "gtol": coarse_tol}
        if weights.size > _WARM_START_ROWS:
            # Warm start: optimise on a fixed random subset of the distinct rows (an unbiased
            # estimate of the same objective), then continue on all rows from that optimum
            # and its inverse-Hessian approximation: a few full passes instead of ~30.
            subset = np.sort(np.random.default_rng(0).choice(weights.size, _WARM_START_ROWS, replace=False))
            sub_data = tuple(
                Factor(f.values, f.codes[subset]) if f.codes is not None else Factor(f.values[subset]) for f in data
            )
            warm = minimize(self._objective, x0, args=(sub_data, weights[subset]), jac=True, method="BFGS", options=options)
            if np.all(np.isfinite(warm.x)) and np.isfinite(warm.fun):
                x0 = warm.x
                hess_inv = 0.5 * (warm.hess_inv + warm.hess_inv.T)
                if np.all(np.isfinite(hess_inv)) and np.all(np.linalg.eigvalsh(hess_inv) > 0):
                    options = {**options, "hess_inv0": hess_inv}
            n_iter += int(warm.nit)
        # BFGS: with 3-4 parameters it costs nothing beyond the objective, whereas
        # L-BFGS-B's per-iteration overhead is milliseconds.
        result = minimize(self._objective, x0, args=(data, weights), jac=True, method="BFGS", options=options)
        n_iter += int(result.nit)
        attempts = 0
        while not _small(result.jac, 1e-4) and attempts < 3:
            attempts += 1
            start = result.x if np.all(np.abs(result.x) < _LOG_BOUND) and np.isfinite(result.fun) else x0
            result = minimize(
                self._objective,
                np.clip(start, -_LOG_BOUND, _LOG_BOUND),
                args=(data, weights),
                jac=True,
                method="L-BFGS-B",
                bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(x0),
                options={"maxiter": self.maxiter, "gtol": coarse_tol, "ftol": 1e-15, "maxcor": 20},
            )
            n_iter += int(result.nit)
        log_params, value, grad = result.x, *self._objective(result.x, data, weights)
        hessian = self._hessian(log_params, grad, data, weights)
        for _ in range(5):
            if _small(grad, self.tol):
                break
            try:
                step = np.linalg.solve(hessian, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or grad @ step <= 0:  # not a descent direction
                break
            for shrink in (1.0, 0.5, 0.25, 0.125):
                trial = log_params - shrink * step
                trial_value, trial_grad = self._objective(trial, data, weights)
                if trial_value <= value + 1e-12 * abs(value):
                    break
            else:
                break
            log_params, value, grad = trial, trial_value, trial_grad
            hessian = self._hessian(log_params, grad, data, weights)
            n_iter += 1
        params = np.exp(log_params)
        ll = self._log_likelihood(params, *data)
        self.params_ = {name: float(v) for name, v in zip(self._param_names, params)}
        self.log_likelihood_ = float(np.einsum("i,i->", weights, ll))
        self.n_customers_ = float(weights.sum())
        self.converged_ = _small(grad, max(self.tol, 1e-6))
        self.n_iter_ = n_iter
        total_hessian = hessian * weights.sum()
        try:
            self.covariance_ = np.linalg.inv(total_hessian)
        except np.linalg.LinAlgError:
            self.covariance_ = np.linalg.pinv(total_hessian)
        se = params * np.sqrt(np.clip(np.diag(self.covariance_), 0, None))
        self.standard_errors_ = {name: float(v) for name, v in zip(self._param_names, se)}
        self.boundary_ = self._boundary(log_params)
        log_sd = np.sqrt(np.diag(self.covariance_)) if np.all(np.diag(self.covariance_) >= 0) else np.full(len(params), np.inf)
        self.weakly_identified_ = [name for name, sd in zip(self._param_names, log_sd)
                                   if not np.isfinite(sd) or sd > MAX_LOG_SD]
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge: largest gradient component "
                f"{np.max(np.abs(grad)):.2e} after {n_iter} iterations ({result.message})",
                RuntimeWarning,
                stacklevel=3,
            )
        return self

    def _boundary(self, log_params) -> list[str]:
        """Names of the parameters whose estimate lies on the edge of the parameter space."""
        return [name for name, v in zip(self._param_names, log_params) if abs(v) >= BOUNDARY_LOG]

    def fit_problems(self, name: str | None = None) -> list[str]:
        """What is wrong with the fit, in plain words (empty when nothing is).

        A parameter on the boundary (e.g. the BG/NBD's ``a`` near 0: nobody ever stops
        buying) or one the data cannot pin down (a huge standard error of its logarithm, a
        flat or singular likelihood) makes the model's statements about that part of
        behaviour arbitrary; :mod:`regulars.jobs.value` does not choose such a fit.
        """
        check_is_fitted(self, "params_")
        name = name or type(self).__name__
        problems = []
        boundary = getattr(self, "boundary_", [])
        if boundary:
            shown = ", ".join(f"{p} = {self.params_[p]:.3g}" for p in boundary)
            meaning = self._boundary_meaning(boundary)
            problems.append(f"{name}'s fit ended on the edge of its parameter space ({shown}"
                            + (f": {meaning}" if meaning else "") + "), a degenerate fit")
        else:  # at a boundary the curvature, and so every standard error, is meaningless
            weak = getattr(self, "weakly_identified_", [])
            if weak:
                problems.append(f"the data cannot pin down {name}'s {', '.join(weak)} (the 95% interval spans more "
                                "than a factor of 50): the fit is not identified")
            if not getattr(self, "converged_", True):
                problems.append(f"{name} did not converge")
        return problems

    #: ``(parameter, high?) -> what that edge means``, in words (subclasses fill it).
    _BOUNDARY_WORDS: dict[tuple[str, bool], str] = {}

    def _boundary_meaning(self, boundary: list[str]) -> str:
        words = [self._BOUNDARY_WORDS.get((p, self.params_[p] > 1)) for p in boundary]
        return "; ".join(dict.fromkeys(w for w in words if w))

    def _hessian(self, log_params, grad, data, weights) -> np.ndarray:
        """Hessian of the (penalised) mean objective: forward differences of the gradient.

        Its inverse divided by the number of customers is the asymptotic covariance of the
        log-parameters (relative error of the differences ~1e-6).
        """
        k = log_params.size
        hessian = np.empty((k, k))
        for j in range(k):
            h = 1e-6 * max(1.0, abs(log_params[j]))
            shifted = log_params.copy()
            shifted[j] += h
            hessian[:, j] = (self._objective(shifted, data, weights)[1] - grad) / h
        return 0.5 * (hessian + hessian.T)

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
    _fitted_attributes = ("params_", "log_likelihood_", "standard_errors_", "n_customers_", "converged_", "n_iter_",
                          "boundary_", "weakly_identified_")

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


class TransactionModel(MaximumLikelihoodModel):
    """A BTYD transaction model fitted on (frequency, recency, T): the shared ``fit``,
    ``log_likelihood`` and ``count_sf`` (subclasses give ``_log_likelihood`` and
    ``count_distribution``)."""

    def fit(self, frequency, recency, T, weights=None):
        """Fit on one row per customer (or per group of identical customers with ``weights``).

        Parameters
        ----------
        frequency : array_like
            Number of repeat purchases ``x`` (whole numbers >= 0).
        recency : array_like
            Time from first to last purchase ``t_x`` (0 when ``x`` is 0).
        T : array_like
            Time from first purchase to the end of the observation period, same unit.
        weights : array_like, optional
            Number of customers each row stands for.

        Returns
        -------
        self
        """
        x, tx, t, w = validate_rfm(frequency, recency, T, weights)
        data, w = collapse_rows((x, tx, t), w)
        return self._fit_arrays(data, w)

    def log_likelihood(self, frequency, recency, T):
        """Per-customer log-likelihood under the fitted parameters."""
        x, tx, t, _ = validate_rfm(frequency, recency, T)
        return self._log_likelihood(self._params_array(), x, tx, t)

    def count_sf(self, n, t, frequency, recency, T):
        """``P(N(t) >= n | x, t_x, T)``: chance of at least ``n`` purchases in the next ``t``,
        from :meth:`count_distribution` (the predictive distribution behind the ranges)."""
        return self.count_distribution(t, frequency, recency, T).sf(n)
