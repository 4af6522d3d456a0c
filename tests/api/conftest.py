"""One shop and one real server for the API tests (session-scoped: building it takes a few seconds)."""

from __future__ import annotations

import pytest

from tests.api.server import start
from tests.api.shop import build_shop


def prepare(path, segments: bool = True, predictions: bool = True) -> None:
    """Run the segment refresh, predictions and backtest on a test shop (each when installed)."""
    from regulars import Workspace

    with Workspace(path) as ws:
        if segments:
            from regulars.jobs.segments import refresh

            refresh(ws)
        from regulars.jobs.text import analyse_texts

        analyse_texts(ws)
        from regulars.jobs.anomalies import detect_anomalies

        detect_anomalies(ws)
        if predictions:
            from regulars.jobs.backtest import backtest
            from regulars.jobs.predict import predict

            predict(ws)
            backtest(ws)
            from regulars.jobs.next_actions import next_actions
            from regulars.jobs.recommend import recommend
            from regulars.jobs.recommend_eval import evaluate

            evaluate(ws)
            next_actions(ws, as_of=recommend(ws).as_of)
            from regulars.jobs.audit import run_audit

            run_audit(ws)


@pytest.fixture(scope="session")
def shop(tmp_path_factory):
    built = build_shop(tmp_path_factory.mktemp("api-shop") / "shop.duckdb", n_customers=150)
    prepare(built.path)
    return built


@pytest.fixture(scope="session")
def server(shop):
    running = start(shop.path)
    running.extra["shop"] = shop
    yield running
    running.stop()


@pytest.fixture
def admin(server):
    with server.client("admin") as c:
        yield c


@pytest.fixture
def analyst(server):
    with server.client("analyst") as c:
        yield c


@pytest.fixture
def viewer(server):
    with server.client("viewer") as c:
        yield c


@pytest.fixture
def anonymous(server):
    with server.client() as c:
        yield c
