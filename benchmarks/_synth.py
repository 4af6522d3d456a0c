"""Synthetic order histories for the RFM and mart benchmarks (built with DuckDB SQL, seconds per million rows).

Used when the demo generator is not wanted or not ready: ``orders`` rows spread over
``customers`` customers (uniformly, so about orders/customers each), four years of
dates, totals 0.01..200.00, 3 % returns, 2 % cancelled, some refunds and discounts.
With ``rich=True`` also order lines (one per order, 6 categories), events (sessions
with funnel steps), e-mail messages, tickets and reviews, for the mart benchmark.
"""

from __future__ import annotations

import time
from pathlib import Path

from regulars import Workspace
from regulars.data import order_stats


def build(path: str | Path, orders: int, customers: int, rich: bool = False, fresh: bool = False) -> Workspace:
    path = Path(path)
    if fresh and path.exists():
        path.unlink()
    ws = Workspace(path)
    if ws.count("orders") == orders and ws.count("customers") == customers and (not rich or ws.count("events")):
        return ws
    t = time.perf_counter()
    con = ws._con
    for table in ("customers", "orders", "order_lines", "events", "messages", "tickets", "reviews"):
        con.execute(f"DELETE FROM {table}")
    con.execute(f"""
        INSERT INTO customers (customer_id, created_at, region, acquisition_channel, accepts_email)
        SELECT 'c' || lpad(i::VARCHAR, 8, '0'),
               TIMESTAMP '2020-01-01' + to_days((hash(i, 1) % 1400)::INTEGER),
               ['north', 'south', 'east', 'west'][(hash(i, 2) % 4)::INTEGER + 1],
               ['organic', 'paid_search', 'social', 'email'][(hash(i, 3) % 4)::INTEGER + 1],
               hash(i, 4) % 3 > 0
        FROM range({customers}) r(i)""")
    con.execute(f"""
        INSERT INTO orders (order_id, customer_id, ordered_at, status, total, refunded, discount, discount_code)
        SELECT 'o' || i,
               'c' || lpad((hash(i, 10) % {customers})::VARCHAR, 8, '0'),
               TIMESTAMP '2020-01-01' + to_seconds((hash(i, 11) % (1460 * 86400))::BIGINT),
               CASE WHEN hash(i, 12) % 100 < 2 THEN 'cancelled' WHEN hash(i, 12) % 100 < 5 THEN 'refunded'
                    ELSE 'paid' END,
               CASE WHEN hash(i, 12) % 100 BETWEEN 2 AND 4 THEN -((hash(i, 13) % 5000) / 100.0)
                    ELSE (1 + hash(i, 13) % 20000) / 100.0 END::DECIMAL(18, 2),
               CASE WHEN hash(i, 14) % 50 = 0 THEN 5 END::DECIMAL(18, 2),
               CASE WHEN hash(i, 15) % 5 = 0 THEN 10 ELSE 0 END::DECIMAL(18, 2),
               CASE WHEN hash(i, 15) % 5 = 0 THEN 'SALE' END
        FROM range({orders}) r(i)""")
    if rich:
        con.execute("""
            INSERT INTO order_lines (order_id, line_number, product_id, category, quantity, unit_price, discount)
            SELECT order_id, 1, 'p' || (hash(order_id) % 60),
                   ['Coffee', 'Tea', 'Mugs', 'Gifts', 'Chocolate', 'Books'][(hash(order_id, 1) % 6)::INTEGER + 1],
                   1 + (hash(order_id, 2) % 3)::INTEGER, abs(total), 0
            FROM orders WHERE total > 0""")
        steps = "['page_view', 'product_view', 'search', 'add_to_cart', 'begin_checkout', 'purchase']"
        con.execute(f"""
            INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at)
            SELECT 'e' || i, 'c' || lpad((hash(i // 4, 20) % {customers})::VARCHAR, 8, '0'), 's' || (i // 4),
                   {steps}[(i % 4 + hash(i // 4, 21) % 3)::INTEGER + 1],
                   TIMESTAMP '2020-01-01' + to_seconds((hash(i // 4, 22) % (1460 * 86400) + i % 4)::BIGINT)
            FROM range({orders}) r(i)""")
        con.execute(f"""
            INSERT INTO messages (message_id, customer_id, channel, event_type, occurred_at)
            SELECT 'm' || i, 'c' || lpad((hash(i, 30) % {customers})::VARCHAR, 8, '0'), 'email',
                   ['sent', 'sent', 'opened', 'clicked', 'unsubscribed'][(hash(i, 31) % 5)::INTEGER + 1],
                   TIMESTAMP '2020-01-01' + to_seconds((hash(i, 32) % (1460 * 86400))::BIGINT)
            FROM range({orders // 2}) r(i)""")
        con.execute(f"""
            INSERT INTO tickets (ticket_id, customer_id, opened_at, csat)
            SELECT 't' || i, 'c' || lpad((hash(i, 40) % {customers})::VARCHAR, 8, '0'),
                   TIMESTAMP '2020-01-01' + to_days((hash(i, 41) % 1460)::INTEGER), 1 + (hash(i, 42) % 5)::INTEGER
            FROM range({customers // 10}) r(i)""")
        con.execute(f"""
            INSERT INTO reviews (review_id, customer_id, rating, created_at)
            SELECT 'v' || i, 'c' || lpad((hash(i, 50) % {customers})::VARCHAR, 8, '0'), 1 + (hash(i, 51) % 5)::INTEGER,
                   TIMESTAMP '2020-01-01' + to_days((hash(i, 52) % 1460)::INTEGER)
            FROM range({customers // 10}) r(i)""")
    order_stats.rebuild(con)  # orders were written with SQL, not through ingestion
    con.execute("CHECKPOINT")
    print(f"built {path} ({orders:,} orders, {customers:,} customers{', rich' if rich else ''}) "
          f"in {time.perf_counter() - t:.1f}s")
    return ws
