"""Planted anomalies in the demo shop, with their truth (``demo_truth_anomalies``).

A few customers, orders and web sessions are made unusual on purpose, so that the anomaly flags
(:mod:`regulars.anomalies`) can be checked for precision and recall:

``large_order``
    one line's quantity multiplied by 12 to 25 (a reseller or a fat-finger order), the order's
    totals recomputed;
``serial_returner``
    a customer with at least three orders who returns nearly all of them (refunded in full);
``code_abuse``
    a customer who applies the first-order code ``WELCOME10`` to every order (three or more);
``many_emails``
    a customer whose web orders carry three to six different e-mail addresses;
``bot_session``
    an anonymous session of 120 to 400 page views a second or two apart, with no cart.

About 0.15% of customers (and as many bot sessions) are planted, none in a shop of fewer than 334
customers (a tiny demo stays plain); everything else is left as simulated.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from regulars.demo._arrow import ids, timestamps
from regulars.demo.calendar import DAY, Calendar
from regulars.demo.purchases import PAID, POS, REFUNDED, Lines, Orders

KINDS = ("large_order", "serial_returner", "code_abuse", "many_emails", "bot_session")
#: Planted per kind, as a share of customers.
SHARE = 0.0015


def _count(n: int) -> int:
    return int(round(SHARE * n))


def plant_orders(rng: np.random.Generator, o: Orders, lines: Lines, codes: list[str], n_customers: int) -> list[dict]:
    """Change a few orders and customers in place; return the truth rows (entity, number, kind)."""
    truth: list[dict] = []
    sale = np.flatnonzero(~o.is_return & (o.status == PAID) & (o.channel != POS))
    # large orders: one line's quantity x12..25
    if not _count(n_customers):
        return truth
    picked = np.sort(rng.choice(sale, min(_count(n_customers), sale.size), replace=False))
    for order in picked:
        own = np.flatnonzero(lines.order == order)
        if not own.size:
            continue
        line = own[0]
        factor = int(rng.integers(12, 26))
        extra = int(lines.quantity[line]) * (factor - 1)
        lines.quantity[line] += extra
        added = extra * int(lines.unit[line])
        rate = o.tax[order] / max(o.subtotal[order] - o.discount[order], 1)
        o.subtotal[order] += added
        o.tax[order] = int(round(rate * (o.subtotal[order] - o.discount[order])))
        o.total[order] = o.subtotal[order] - o.discount[order] + o.shipping[order] + o.tax[order]
        truth.append({"entity": "order", "number": int(order), "kind": "large_order"})
    # customers with three or more sale orders
    counts = np.bincount(o.cust[sale], minlength=n_customers)
    regulars_ = np.flatnonzero(counts >= 3)
    taken = set()
    welcome = codes.index("WELCOME10") if "WELCOME10" in codes else None
    for kind in ("serial_returner", "code_abuse", "many_emails"):
        pool = np.array([c for c in regulars_ if c not in taken])
        if not pool.size or (kind == "code_abuse" and welcome is None):
            continue
        chosen = rng.choice(pool, min(_count(n_customers), pool.size), replace=False)
        taken.update(chosen.tolist())
        for c in chosen:
            rows = sale[o.cust[sale] == c]
            if kind == "serial_returner":
                back = rows[rng.random(rows.size) < 0.9] if rows.size > 3 else rows
                o.status[back] = REFUNDED
                o.refunded[back] = o.total[back]
                # refunded a few days later, like the shop's other refunds (never after the last order)
                o.refunded_t[back] = np.minimum(o.t[back] + 3 * DAY, o.t.max())
            elif kind == "code_abuse":
                for r in rows:
                    new = int(round(0.1 * o.subtotal[r]))
                    o.total[r] -= new - o.discount[r]
                    o.discount[r] = new
                    o.code[r] = welcome
            truth.append({"entity": "customer", "number": int(c), "kind": kind})
    return truth


def order_emails(rng: np.random.Generator, o: Orders, truth: list[dict], n_customers: int) -> np.ndarray:
    """An e-mail address per order: empty except for the ``many_emails`` customers' orders."""
    emails = np.full(o.size, "", dtype=object)
    for row in truth:
        if row["kind"] != "many_emails":
            continue
        rows = np.flatnonzero((o.cust == row["number"]) & ~o.is_return)
        variants = int(rng.integers(3, 7))
        for k, r in enumerate(rows):
            emails[r] = f"buyer{row['number'] + 1}.{k % variants}@mail.example"
    return emails


def bot_sessions(rng: np.random.Generator, cal: Calendar, n_customers: int, first_event: int) -> tuple[dict, list[dict]]:
    """Events of a few scripted sessions (anonymous), and their truth rows."""
    k = _count(n_customers)
    cols = {name: [] for name in ("event_id", "anonymous_id", "session_id", "event_type", "occurred_at", "page_url",
                                  "traffic_source")}
    truth = []
    next_id = first_event
    for s in range(k):
        views = int(rng.integers(120, 401))
        start = (rng.uniform(30, cal.n_days - 2)) * DAY
        gaps = rng.uniform(0.6, 2.2, views)
        t = start + np.cumsum(gaps)
        session = f"bot-{s + 1:04d}"
        cols["event_id"].append(ids(next_id + np.arange(views), "VB", 9))
        next_id += views
        cols["anonymous_id"].append(pa.array([f"anon-bot-{s + 1:04d}"] * views))
        cols["session_id"].append(pa.array([session] * views))
        cols["event_type"].append(pa.array(np.where(rng.random(views) < 0.7, "page_view", "product_view").tolist()))
        cols["occurred_at"].append(timestamps(cal.to_utc(t)))
        cols["page_url"].append(pa.array([f"/products/{int(x)}" for x in rng.integers(1, 500, views)]))
        cols["traffic_source"].append(pa.array(["(direct) / (none)"] * views))
        truth.append({"entity": "session", "id": session, "kind": "bot_session"})
    if not k:
        return None, truth
    out = {name: pa.concat_arrays(parts) for name, parts in cols.items()}
    n = len(out["event_id"])
    for name in ("customer_id", "product_id", "search_query", "properties"):
        out[name] = pa.nulls(n, pa.string())
    return out, truth
