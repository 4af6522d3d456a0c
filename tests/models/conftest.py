"""Fixtures for the model tests: the CDNOW sample shipped in ``shared/data/cdnow``."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CDNOW_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cdnow"
CALIBRATION_END = "1997-09-30"
OBSERVATION_END = "1998-06-30"


@pytest.fixture(scope="session")
def cdnow_rfm() -> pd.DataFrame:
    """Published RFM summary: 2,357 customers, weeks, 39-week calibration."""
    return pd.read_csv(CDNOW_DIR / "cdnow_customers_summary.csv", index_col="ID")


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    """Raw CDNOW 1/10 sample: one row per transaction."""
    raw = pd.read_csv(
        CDNOW_DIR / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "number_of_cds", "dollar_value"],
    )
    raw["ordered_at"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    return raw


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_transactions) -> pd.DataFrame:
    """Our own summary of the raw sample, in weeks, with the 39-week holdout."""
    from regulars.models import summarize

    return summarize(
        cdnow_transactions,
        "customer_id",
        "ordered_at",
        "dollar_value",
        freq="W",
        observation_end=OBSERVATION_END,
        calibration_end=CALIBRATION_END,
    )


# -- shared checks, handed out as fixtures so they work under any pytest import mode ------


def central_difference_gradient(function, params, relative_step=1e-6):
    """Central finite-difference gradient of a scalar ``function`` at ``params``."""
    params = np.asarray(params, dtype=float)
    grad = np.empty_like(params)
    for i in range(params.size):
        h = relative_step * max(abs(params[i]), 1e-3)
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (function(up) - function(down)) / (2 * h)
    return grad


def assert_recovers(model, truth, n_se=4.0, max_relative_error=0.15):
    """Each fitted parameter lies within ``n_se`` standard errors and ``max_relative_error``."""
    for name, true_value in truth.items():
        estimate = model.params_[name]
        se = model.standard_errors_[name]
        assert np.isfinite(se) and se > 0, name
        assert abs(estimate - true_value) <= n_se * se, (name, estimate, true_value, se)
        assert abs(estimate / true_value - 1) <= max_relative_error, (name, estimate, true_value)


@pytest.fixture(name="central_difference_gradient")
def _central_difference_gradient_fixture():
    return central_difference_gradient


@pytest.fixture(name="assert_recovers")
def _assert_recovers_fixture():
    return assert_recovers
