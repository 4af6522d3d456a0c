"""A vectorised synthetic shop for the prediction benchmark (and for development before the demo).

Customers buy as a Poisson process while alive and drop out at an exponential time; some
have a staple product they re-buy on a rhythm; e-mail opens and site visits fade before a
customer drops out (so engagement carries signal beyond recency); some registered people
browse but never order (leads). Nothing loops over customers, so a million customers take
seconds. Written straight into the canonical tables of a Workspace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from regulars.data import order_stats

END = pd.Timestamp("2025-12-31 23:00")


def _insert(ws, table: str, frame: pd.DataFrame) -> None:
    ws._con.register("_synth", frame)
    try:
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        ws._con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _synth")
    finally:
        ws._con.unregister("_synth")


def synthesize_shop(ws, n_customers: int = 5000, seed: int = 0, years: float = 3.0,
                    end: pd.Timestamp = END, messages: bool = True, events: bool = True,
                    lead_share: float = 0.15) -> dict:
    """Fill ``ws`` with a synthetic shop; return row counts."""
    rng = np.random.default_rng(seed)
    span = years * 365.0
    start = end - pd.Timedelta(days=span)
    n = n_customers
    ids = np.array([f"c{i:07d}" for i in range(n)])
    acquired = rng.uniform(0, span, n) ** 1.0  # days after start
    rate = rng.gamma(0.9, 1 / 30.0, n)  # orders per day while alive (mean ~ 1/33)
    dropout = rng.gamma(1.2, 1 / 500.0, n)  # hazard per day
    engagement = rng.beta(2, 3, n)
    is_lead = rng.random(n) < lead_share
    life = rng.exponential(1 / dropout)
    churn_day = acquired + life
    alive_end = np.minimum(churn_day, span)
    active = np.clip(alive_end - acquired, 0, None)

    # orders: the first at acquisition, then Poisson while alive (leads never order)
    n_more = rng.poisson(rate * active)
    n_orders = np.where(is_lead, 0, 1 + n_more)
    cust_idx = np.repeat(np.arange(n), n_orders)
    first = np.r_[0, np.cumsum(n_orders)[:-1]]
    pos = np.arange(cust_idx.size) - np.repeat(first, n_orders)
    offset = rng.uniform(0, 1, cust_idx.size) * active[cust_idx]
    offset[pos == 0] = 0.0
    day = acquired[cust_idx] + offset
    ordered_at = start + pd.to_timedelta(day * 86400.0, unit="s")
    aov = rng.gamma(4.0, 12.0, n) + 10
    total = np.round(aov[cust_idx] * rng.gamma(8, 1 / 8, cust_idx.size), 2)
    discount = np.where(rng.random(cust_idx.size) < 0.2, np.round(total * 0.1, 2), 0.0)
    order_ids = np.array([f"o{i:09d}" for i in range(cust_idx.size)])
    orders = pd.DataFrame({
        "order_id": order_ids, "customer_id": ids[cust_idx], "ordered_at": ordered_at.floor("s"),
        "status": "paid", "currency": "EUR", "total": total, "discount": discount, "channel": "web",
    })
    created_at = start + pd.to_timedelta((acquired - np.where(is_lead, 0, rng.exponential(5, n))) * 86400, unit="s")
    customers = pd.DataFrame({
        "customer_id": ids, "created_at": created_at.floor("s"),
        "accepts_email": rng.random(n) < 0.8, "acquisition_channel": rng.choice(["organic", "paid_search", "social", "email"], n),
    })
    _insert(ws, "customers", customers)
    _insert(ws, "orders", orders)
    order_stats.rebuild(ws._con)  # written with SQL, not through ingestion: keep the stored totals current

    # order lines: a staple product (re-bought) on 60% of the orders of staple buyers
    n_products = 200
    staple = rng.integers(0, 20, n)
    has_staple = rng.random(n) < 0.4
    use_staple = has_staple[cust_idx] & (rng.random(cust_idx.size) < 0.6)
    product = np.where(use_staple, staple[cust_idx], rng.integers(0, n_products, cust_idx.size))
    lines = pd.DataFrame({
        "order_id": order_ids, "line_number": 1, "product_id": np.char.add("p", product.astype(str)),
        "product_name": np.char.add("Product ", product.astype(str)), "quantity": 1, "unit_price": total,
    })
    _insert(ws, "order_lines", lines)
    _insert(ws, "products", pd.DataFrame({"product_id": [f"p{i}" for i in range(n_products)],
                                          "name": [f"Product {i}" for i in range(n_products)]}))
    counts = {"customers": n, "orders": len(orders)}

    if messages:
        # a campaign every 14 days; open probability fades in the 90 days before dropout
        sends = np.arange(0, span, 14.0)
        rows = []
        for k, s in enumerate(sends):
            known = (acquired <= s) & customers["accepts_email"].to_numpy()
            until_churn = churn_day - s
            fade = np.clip(until_churn / 90.0, 0.05, 1.0)
            p_open = engagement * fade * np.where(is_lead, 0.7, 1.0)
            opened = known & (rng.random(n) < p_open)
            idx = np.flatnonzero(opened)
            if idx.size:
                when = start + pd.Timedelta(days=float(s)) + pd.to_timedelta(rng.uniform(0, 2, idx.size) * 86400, unit="s")
                rows.append(pd.DataFrame({"customer_id": ids[idx], "campaign_id": f"k{k}", "channel": "email",
                                          "event_type": "opened", "occurred_at": when.floor("s")}))
        msgs = pd.concat(rows, ignore_index=True)
        msgs.insert(0, "message_id", [f"m{i:09d}" for i in range(len(msgs))])
        _insert(ws, "messages", msgs)
        counts["messages"] = len(msgs)

    if events:
        # site visits while alive (rate tied to purchase rate), plus leads' browsing
        visit_rate = np.where(is_lead, rng.gamma(1.0, 1 / 20.0, n), rate * 2.0)
        lead_end = np.minimum(acquired + rng.exponential(60, n), span)
        visit_end = np.where(is_lead, lead_end, alive_end)
        n_visits = rng.poisson(visit_rate * np.clip(visit_end - acquired, 0, None))
        v_idx = np.repeat(np.arange(n), n_visits)
        v_day = acquired[v_idx] + rng.uniform(0, 1, v_idx.size) * np.clip(visit_end - acquired, 0, None)[v_idx]
        kinds = rng.choice(["page_view", "product_view", "add_to_cart", "begin_checkout"], v_idx.size, p=[0.5, 0.3, 0.15, 0.05])
        ev = pd.DataFrame({
            "event_id": [f"v{i:09d}" for i in range(v_idx.size)], "customer_id": ids[v_idx],
            "session_id": [f"s{i:09d}" for i in range(v_idx.size)], "event_type": kinds,
            "occurred_at": (start + pd.to_timedelta(v_day * 86400, unit="s")).floor("s"),
        })
        _insert(ws, "events", ev)
        counts["events"] = len(ev)
    return counts


if __name__ == "__main__":  # pragma: no cover
    import sys
    import time

    from regulars import Workspace

    path, n = sys.argv[1], int(sys.argv[2])
    t = time.time()
    with Workspace(path) as ws:
        print(synthesize_shop(ws, n), f"{time.time() - t:.1f}s")
