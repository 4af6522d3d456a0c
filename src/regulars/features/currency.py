"""Money in one currency: the single definition of how orders in other currencies count.

An order's currency is the one it states, or the shop's when it states none. When every
order is in one currency, amounts add up as they are. When they are in several:

* every currency other than the shop's has an exchange rate the shop gave
  (``regulars settings --rate USD=0.92``): each order's amounts are converted to the shop's
  currency (``amount × rate``, rounded to the cent) before anything adds them up —
  :class:`InShopCurrency` wraps a table provider so that every feature reading ``orders``
  sees converted amounts;
* a rate is missing: amounts are never added across currencies. Reports show money per
  currency (:class:`OneCurrency` keeps the orders of one currency) and say which rate to add.

:func:`currency_plan` decides which case applies; reports call it once and say
:attr:`CurrencyPlan.note` next to their figures.

Examples
--------
>>> plan = currency_plan({"EUR": 120, "USD": 3}, "EUR", {})
>>> plan.mode, plan.missing
('per_currency', ['USD'])
>>> plan = currency_plan({"EUR": 120, "USD": 3}, "EUR", {"USD": {"rate": 0.92, "set_on": "2026-12-07"}})
>>> plan.mode
'converted'
>>> plan.note
'amounts in EUR: 3 orders in USD converted at 0.92 (rate set 2026-12-07)'
>>> currency_plan({"EUR": 12, "": 3}, "EUR", {}).mode
'one'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import ibis
import ibis.expr.types as ir

__all__ = ["CurrencyPlan", "InShopCurrency", "MONEY_COLUMNS", "OneCurrency", "currency_plan", "in_shop_currency",
           "order_currency", "shop_plan"]

#: The money columns of ``orders`` (converted together).
MONEY_COLUMNS = ("subtotal", "discount", "shipping", "tax", "total", "refunded")
#: Label of orders that state no currency when the shop has none set.
UNSTATED = "(not stated)"


@dataclass
class CurrencyPlan:
    """How a report adds up money.

    Attributes
    ----------
    shop_currency : str or None
    currencies : dict
        Orders per currency (an order stating none counts in the shop's currency).
    rates : dict
        ``{code: {"rate": float, "set_on": "YYYY-MM-DD"}}`` used to convert (``converted`` only).
    missing : list of str
        Currencies without a rate (``per_currency`` only).
    mode : {"one", "converted", "per_currency"}
    """

    shop_currency: str | None
    currencies: dict[str, int]
    rates: dict[str, dict] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    mode: str = "one"

    @property
    def note(self) -> str | None:
        """The sentence to show next to money figures (None when there is one currency)."""
        if self.mode == "one":
            return None
        if self.mode == "converted":
            parts = [f"{self.currencies.get(c, 0):,} order{'s' * (self.currencies.get(c, 0) != 1)} in {c} converted "
                     f"at {r['rate']:g} (rate set {r['set_on']})" for c, r in self.rates.items()]
            return f"amounts in {self.shop_currency}: " + "; ".join(parts)
        listed = ", ".join(f"{c}: {n:,} order{'s' * (n != 1)}" for c, n in self.currencies.items())
        if not self.shop_currency:
            fix = "set the shop's currency (`regulars settings currency EUR`), then a rate for each other currency"
        else:
            fix = ("to add them up in " + self.shop_currency + ", add " + " and ".join(
                f"`regulars settings --rate {c}=RATE` (one {c} in {self.shop_currency})" for c in self.missing))
        return (f"orders are in {len(self.currencies)} currencies ({listed}): money figures (revenue, average order "
                f"value, CLV, refunds) are shown per currency, never added up across currencies; {fix}")


def currency_plan(currencies: dict[str, int], shop_currency: str | None, rates: dict[str, dict]) -> CurrencyPlan:
    """Decide how money adds up, from the orders per stated currency (``""``: none stated).

    Parameters
    ----------
    currencies : dict
        Orders per stated currency code, ``""`` for orders stating none
        (:func:`regulars.data.shop.order_currencies`).
    shop_currency : str or None
        The currency the shop reports in.
    rates : dict
        The shop's exchange rates (:func:`regulars.data.shop.exchange_rates`).

    >>> currency_plan({"USD": 5, "": 2}, None, {}).currencies
    {'USD': 5, '(not stated)': 2}
    """
    counts: dict[str, int] = {}
    for code, n in currencies.items():
        label = code or shop_currency or UNSTATED
        counts[label] = counts.get(label, 0) + n
    counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    foreign = [c for c in counts if c != shop_currency]
    if not shop_currency or not foreign:
        return CurrencyPlan(shop_currency, counts, mode="one" if len(counts) < 2 else "per_currency")
    missing = [c for c in foreign if c not in rates]
    if not missing:
        return CurrencyPlan(shop_currency, counts, {c: rates[c] for c in foreign}, mode="converted")
    if len(counts) < 2:  # one foreign currency, no rate: its amounts are shown as they are
        return CurrencyPlan(shop_currency, counts)
    return CurrencyPlan(shop_currency, counts, missing=missing, mode="per_currency")


def shop_plan(db) -> CurrencyPlan:
    """The plan for a workspace *db*: its orders per currency, the shop's currency and exchange rates."""
    from regulars.data import shop

    return currency_plan(shop.order_currencies(db), shop.settings(db)["currency"], shop.exchange_rates(db))


def in_shop_currency(tables, db):
    """*tables* with orders converted to the shop's currency when the shop's rates cover them all."""
    plan = shop_plan(db)
    return InShopCurrency(tables, plan) if plan.mode == "converted" else tables


def order_currency(orders: ir.Table, shop_currency: str | None) -> ir.StringValue:
    """An order's currency: the one it states, else the shop's (else :data:`UNSTATED`)."""
    return orders.currency.nullif("").fill_null(shop_currency or UNSTATED)


def _rate(code: ir.StringValue, rates: dict[str, dict]) -> ir.DecimalValue:
    kind = "decimal(18, 6)"
    branches = [(code == c, ibis.literal(Decimal(str(r["rate"])), type=kind)) for c, r in rates.items()]
    return ibis.cases(*branches, else_=ibis.literal(Decimal(1), type=kind))


class _Provider:
    """A table provider over another; everything but ``orders`` passes through."""

    def __init__(self, tables):
        self.tables = tables

    def __getattr__(self, name):
        if name == "order_stats":  # stored totals add amounts as they are
            return lambda *a, **k: None
        return getattr(self.tables, name)

    def table(self, name: str) -> ir.Table:
        t = self.tables.table(name)
        return self._orders(t) if name == "orders" else t


class InShopCurrency(_Provider):
    """Orders with their amounts converted to the shop's currency by ``plan.rates``.

    >>> orders = ibis.memtable({"order_id": ["a", "b"], "currency": ["EUR", "USD"], "total": [10.0, 10.0]}).mutate(
    ...     total=lambda t: t.total.cast("decimal(18, 2)"))
    >>> class Tables:
    ...     def table(self, name):
    ...         return orders
    >>> plan = currency_plan({"EUR": 1, "USD": 1}, "EUR", {"USD": {"rate": 0.925, "set_on": "2026-12-07"}})
    >>> [float(v) for v in InShopCurrency(Tables(), plan).table("orders").total.execute()]
    [10.0, 9.25]
    """

    def __init__(self, tables, plan: CurrencyPlan):
        super().__init__(tables)
        self.plan = plan

    def _orders(self, o: ir.Table) -> ir.Table:
        rate = _rate(order_currency(o, self.plan.shop_currency), self.plan.rates)
        money = {c: (o[c].cast("decimal(18, 6)") * rate).round(2).cast(o[c].type())
                 for c in MONEY_COLUMNS if c in o.columns}
        return o.mutate(**money)


class OneCurrency(_Provider):
    """Only the orders in ``code`` (an order stating none is in the shop's currency)."""

    def __init__(self, tables, code: str, shop_currency: str | None):
        super().__init__(tables)
        self.code, self.shop_currency = code, shop_currency

    def _orders(self, o: ir.Table) -> ir.Table:
        return o.filter(order_currency(o, self.shop_currency) == self.code)
