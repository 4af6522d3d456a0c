"""How a report adds up money when orders are in several currencies (one place for every report).

:func:`money_tables` reads the shop's currency, its exchange rates and the orders per currency,
decides with :func:`regulars.features.currency.currency_plan`, and hands back the table provider
to compute with: the workspace itself (one currency), or a view whose orders are converted to the
shop's currency (every other currency has a rate). When a rate is missing the plan's ``mode`` is
``"per_currency"``: the caller must not show a sum of amounts (it empties them, or shows them per
currency with :class:`~regulars.features.currency.OneCurrency`) and shows ``plan.note``.
"""

from __future__ import annotations

from regulars.data.connection import has_database
from regulars.features.currency import CurrencyPlan, InShopCurrency, OneCurrency, currency_plan, shop_plan

__all__ = ["money_plan", "money_tables"]


def money_plan(ws) -> CurrencyPlan:
    """How money adds up in *ws* (one currency for providers without the shop's settings)."""
    if isinstance(ws, OneCurrency):
        return currency_plan({ws.code: 1}, ws.code, {})
    if isinstance(ws, InShopCurrency):
        return currency_plan({}, ws.plan.shop_currency, {})
    db = ws if has_database(ws) else getattr(ws, "settings_con", None)  # the Spark provider: the shop's workspace
    return currency_plan({}, None, {}) if db is None else shop_plan(db)


def money_tables(ws):
    """``(tables, plan)``: the provider to compute money with, and how it adds up."""
    plan = money_plan(ws)
    return (InShopCurrency(ws, plan) if plan.mode == "converted" else ws), plan
