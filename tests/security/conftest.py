"""A test shop with the planted customer (:mod:`tests.security.planted`), and a real server over it."""

from __future__ import annotations

import pytest

from regulars import Workspace
from tests.api.conftest import prepare
from tests.api.server import start
from tests.api.shop import build_shop
from tests.security import planted


@pytest.fixture(scope="session")
def planted_shop(tmp_path_factory):
    """Path of a workspace: a 60-customer shop, the planted customer, a rule segment she is in,
    segments refreshed, predictions and backtests made."""
    folder = tmp_path_factory.mktemp("security-shop")
    shop = build_shop(folder / "shop.duckdb", n_customers=60)
    planted.plant(shop.path, folder / "planted")
    from regulars.segments.membership import create_segment

    with Workspace(shop.path) as ws:
        create_segment(ws, "Loyal three", "orders >= 3")
    prepare(shop.path)
    return shop


@pytest.fixture(scope="session")
def planted_server(planted_shop):
    running = start(planted_shop.path, warm_reports=False, warm_profiles=False)
    with running.client("analyst") as c:
        r = c.post("/api/events", json={"events": planted.POSTED})
        assert r.status_code == 200, r.text
    running.shared.wait_idle(30)
    running.app.state.refresher.wait_idle(30)
    running.extra["shop"] = planted_shop
    yield running
    running.stop()
