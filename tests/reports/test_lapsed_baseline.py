"""Planning a win-back test on a lapsed segment (issue 16): the base rate comes from comparable
lapsed customers one window earlier, point in time, and the plan says so."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import order_stats
from regulars.reports.experiments import plan
from regulars.jobs.segments import refresh
from regulars.segments.membership import create_segment

AS_OF = dt.date(2024, 12, 31)
COME_BACK = 0.12  # chance that a lapsed customer buys again within any 30 days (memoryless gaps)


def _insert(ws, frame: pd.DataFrame) -> None:
    ws._con.register("_o", frame)
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total, refunded, currency) "
                   "SELECT order_id, customer_id, ordered_at, total, 0, 'EUR' FROM _o")
    ws._con.unregister("_o")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """6,000 customers; after a first purchase, gaps between purchases are exponential, so whatever a
    customer's history, the chance of buying within the next 30 days is ``COME_BACK``."""
    rng = np.random.default_rng(7)
    n, start = 6000, dt.datetime(2023, 1, 1)
    per_day = -math.log(1 - COME_BACK) / 30
    rows = []
    for i in range(n):
        t = rng.uniform(0, 600)
        while t < 800:  # past AS_OF (730 days): the orders after it must not change the plan
            rows.append((f"o{len(rows)}", f"c{i:05d}", start + dt.timedelta(days=t), round(rng.gamma(2, 20), 2)))
            t += rng.exponential(1 / per_day)
    path = tmp_path_factory.mktemp("lapsed") / "shop.duckdb"
    ws = Workspace(path)
    ids = pd.DataFrame({"customer_id": [f"c{i:05d}" for i in range(n)]})
    ws._con.register("_c", ids)
    ws._con.execute("INSERT INTO customers (customer_id, created_at) SELECT customer_id, TIMESTAMP '2023-01-01' FROM _c")
    ws._con.unregister("_c")
    _insert(ws, pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "total"]))
    order_stats.rebuild(ws._con)
    create_segment(ws, "Lapsed", "days_since_last_order >= 60")
    refresh(ws, as_of=AS_OF, builtin=False)
    yield ws
    ws.close()


def test_a_lapsed_segment_gets_the_come_back_rate_of_earlier_lapsed_customers(shop):
    p = plan(shop, segment="Lapsed", lift=0.03, as_of=AS_OF)
    earlier = int(p.baseline_source.split(" customers who")[0].split()[-1].replace(",", ""))
    se = math.sqrt(COME_BACK * (1 - COME_BACK) / earlier)
    assert abs(p.baseline - COME_BACK) < 3 * se, (p.baseline, earlier)
    assert "nobody in this audience bought in the last 30 days" in p.sentence
    assert "2024-12-01" in p.baseline_source  # the earlier group is described one window before AS_OF
    assert p.available > 1000 and p.n_per_arm[0] > 0


def test_the_base_rate_knows_nothing_after_the_plan_date(shop):
    before = plan(shop, segment="Lapsed", lift=0.03, as_of=AS_OF)
    _insert(shop, pd.DataFrame({"order_id": [f"late{i}" for i in range(3000)],
                                "customer_id": [f"c{i:05d}" for i in range(3000)],
                                "ordered_at": [dt.datetime(2024, 12, 31, 12)] * 3000, "total": [10.0] * 3000}))
    order_stats.rebuild(shop._con)
    assert plan(shop, segment="Lapsed", lift=0.03, as_of=AS_OF).baseline == before.baseline


def test_an_audience_that_bought_keeps_its_own_rate_and_says_so(shop):
    p = plan(shop, lift=0.03, as_of=AS_OF)
    assert p.baseline_source == "the share of the shop's customers who bought in the last 30 days"
    assert p.sentence.endswith(f"Base rate {p.baseline:.1%}: {p.baseline_source}.")
