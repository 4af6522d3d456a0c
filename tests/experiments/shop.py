"""A synthetic shop with a running experiment and a planted effect (real DuckDB workspace).

Customers bought over the 180 days before the experiment started; then everyone is assigned
(control / offer, 50/50, by regulars' own hashing) and buys in the 30-day window with a
probability that the offer raises by ``lift`` points. Amounts do not depend on the arm, so the
true revenue effect per customer is ``lift * mean basket`` (computed exactly from the
generator's parameters). Refunds, cancelled orders, guest orders and orders after the analysis
date are mixed in to check they are treated as the mart treats them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from regulars import Workspace
from regulars.data import order_stats
from regulars.jobs.experiments import create_experiment

START = dt.datetime(2024, 3, 1)
AS_OF = dt.date(2024, 4, 15)   # every 30-day window is over
BASKET = 40.0                   # mean basket in the window: gamma(2, 20)
BASE_RATE = {True: 0.35, False: 0.08}


def _insert_orders(ws, frame: pd.DataFrame) -> None:
    ws._con.register("_new_orders", frame)
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total, refunded, status, currency) "
                   "SELECT order_id, customer_id, ordered_at, total, refunded, status, 'EUR' FROM _new_orders")
    ws._con.unregister("_new_orders")


def experiment_shop(path, n: int = 20_000, lift: float = 0.04, seed: int = 0, name: str = "Spring offer",
                    **create_kw):
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:06d}" for i in range(n)])
    loyal = rng.random(n) < 0.3
    ws = Workspace(path)
    ws._con.register("_c", pd.DataFrame({"customer_id": ids}))
    ws._con.execute("INSERT INTO customers (customer_id, created_at) SELECT customer_id, TIMESTAMP '2023-01-01' FROM _c")
    ws._con.unregister("_c")
    k = rng.poisson(np.where(loyal, 3.0, 0.6))
    owner = np.repeat(np.arange(n), k)
    pre = pd.DataFrame({
        "order_id": [f"p{i}" for i in range(len(owner))], "customer_id": ids[owner],
        "ordered_at": START - pd.to_timedelta(rng.uniform(1, 180 * 24, len(owner)), unit="h"),
        "total": np.round(rng.gamma(2.0, 20.0, len(owner)), 2), "refunded": 0.0, "status": None})
    _insert_orders(ws, pre)
    exp = create_experiment(ws, name, create_kw.pop("arms", "control:0.5,offer:0.5"), everyone=True,
                            starts_at=START, salt="test-shop", window_days=30, pre_days=90, **create_kw)
    arms = ws.sql("SELECT customer_id, arm FROM experiment_assignments WHERE experiment_id = ?", [exp["experiment_id"]])
    arm = pd.Series(arms["arm"].to_numpy(), index=arms["customer_id"]).reindex(ids).to_numpy()
    offer = arm != "control"
    pre_spend = pre.groupby("customer_id")["total"].sum().reindex(ids).fillna(0).to_numpy()
    p = np.where(loyal, BASE_RATE[True], BASE_RATE[False]) + lift * offer
    buy = rng.random(n) < p
    basket = rng.gamma(2.0, 20.0, n) + 0.2 * pre_spend
    post = pd.DataFrame({
        "order_id": [f"w{i}" for i in range(n)], "customer_id": ids,
        "ordered_at": START + pd.to_timedelta(rng.uniform(0, 29 * 24, n), unit="h"),
        "total": np.round(basket, 2), "refunded": 0.0, "status": None})[buy]
    _insert_orders(ws, post)
    noise = pd.DataFrame({  # none of these may count
        "order_id": ["x1", "x2", "x3"], "customer_id": [ids[0], None, ids[1]],
        "ordered_at": [START + dt.timedelta(days=2), START + dt.timedelta(days=3), dt.datetime(2024, 4, 20)],
        "total": [500.0, 700.0, 900.0], "refunded": [0.0, 0.0, 0.0], "status": ["cancelled", None, None]})
    _insert_orders(ws, noise)
    order_stats.rebuild(ws._con)
    true_effect = lift * (BASKET + 0.2 * pre_spend.mean())
    return ws, {"experiment_id": exp["experiment_id"], "arm": arm, "ids": ids, "buy": buy, "loyal": loyal,
                "true_revenue_effect": true_effect, "lift": lift,
                "observed_revenue": np.where(buy, np.round(basket, 2), 0.0), "pre_spend": pre_spend}
