"""One demo shop for the trust tests (anomalies, fairness audit, model cards, exports), built once.

3,000 customers, fixed seed, loaded through the normal ingest path; predictions and the backtest
are run because the audit and the model cards describe them.
"""

from __future__ import annotations

import shutil

import pytest

from regulars import Workspace


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory):
    from regulars.demo import build_demo
    from regulars.jobs.backtest import backtest
    from regulars.jobs.predict import predict

    path = tmp_path_factory.mktemp("trust-demo") / "shop.duckdb"
    with Workspace(path) as ws:
        build_demo(ws, n_customers=3000, seed=8)
        backtest(ws)
        predict(ws)
    return path


@pytest.fixture
def demo(demo_path, tmp_path):
    """A private copy of the demo workspace (tests may write to it)."""
    copy = tmp_path / "shop.duckdb"
    shutil.copy(demo_path, copy)
    ws = Workspace(copy)
    yield ws
    ws.close()
