"""The overview's money when orders are in several currencies and a rate is missing.

The KPI report then leaves every money figure of its single row empty and gives them per
currency (``by_currency``); these pieces show them that way, each amount with its own
currency, so the page never shows one total across currencies.
"""

from __future__ import annotations

from regulars.web.analysis import PALETTE
from regulars.web.html import HTML, chart, num, table

#: (column, header) of the per-currency money table.
COLUMNS = (("orders", "Orders"), ("revenue", "Revenue"), ("average_order_value", "Average order value"),
           ("clv_historical", "Historical CLV"), ("refund_amount", "Refunds"))


def _amount(value, code: str) -> str:
    text = num(value, 2)
    return text if text == "–" else f"{text} {code}"


def per_currency_table(summary: dict) -> HTML:
    """One row per currency: orders and money, each amount in its currency."""
    rows = summary.get("by_currency") or []
    cols = [("currency", "Currency")] + [
        (c, label, (lambda r, c=c: num(r.get(c))) if c == "orders" else (lambda r, c=c: _amount(r.get(c), r["currency"])),
         "num") for c, label in COLUMNS]
    return table(rows, cols, caption="Money per currency: amounts in different currencies are not added up")


def revenue_by_month(monthly: dict, months: list[str]) -> HTML:
    """Net revenue per month, one bar series per currency."""
    rows = monthly.get("by_currency") or []
    codes = list(dict.fromkeys(r["currency"] for r in rows))
    by_key = {(r["currency"], r["month"]): r.get("revenue") for r in rows}
    traces = [{"type": "bar", "x": months, "y": [by_key.get((c, m[:7])) for m in months], "name": c,
               "marker": {"color": PALETTE[i % len(PALETTE)]}} for i, c in enumerate(codes)]
    return chart({"data": traces, "layout": {"barmode": "group",
                                             "yaxis": {"title": {"text": "net revenue, each in its currency"}}}},
                 "Net revenue per month and currency",
                 data_table=table(rows, [("month", "Month"), ("currency", "Currency"),
                                         ("revenue", "Revenue", lambda r: _amount(r.get("revenue"), r["currency"]),
                                          "num"),
                                         ("orders", "Orders", lambda r: num(r.get("orders")), "num")]))
