"""Classifier-only scores are computed once per fitted models and reused by a shallow copy."""

import copy

import pandas as pd
import pytest

from regulars import Workspace
from regulars.demo import build_demo
from regulars.jobs import predict as P
from regulars.jobs import scoring as S


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("reuse") / "shop.duckdb")
    build_demo(ws, n_customers=1500, seed=3)
    cutoff = P.resolve_as_of(ws) - pd.Timedelta(days=120)
    fm = P.fit_models(ws, cutoff)
    yield ws, fm
    ws.close()


def test_copy_reuses_scores_and_a_changed_model_does_not(fitted, monkeypatch):
    ws, fm = fitted
    if fm.churn is None:
        pytest.skip("the demo shop is too small for a churn model")
    first = P.score_customers(ws, fm, reasons=False, value=False)
    calls = []
    real = S._score_customers
    monkeypatch.setattr(S, "_score_customers", lambda *a, **k: calls.append(1) or real(*a, **k))
    shared = copy.copy(fm)  # what the backtest hands the audit
    again = P.score_customers(ws, shared, reasons=False, value=False)
    pd.testing.assert_frame_equal(first, again)
    assert calls == []
    again["churn_risk"] = -1.0  # a caller changing its copy does not change the kept scores
    assert (P.score_customers(ws, shared, reasons=False, value=False)["churn_risk"] >= 0).all()
    shared.churn = None  # e.g. refused by the backtest's verdicts: scored again, without churn
    without = P.score_customers(ws, shared, reasons=False, value=False)
    assert calls == [1] and without["churn_risk"].isna().all()
    P.score_customers(ws, fm, reasons=True, value=False)  # reasons are never reused
    assert calls == [1, 1]
