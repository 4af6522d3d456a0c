"""The shop's key numbers, overall or per month, acquisition channel or cohort.

:func:`kpis` resolves the window (a couple of small queries: first and last
order, the shop's purchase rhythm, which sources are loaded), builds the
expression from :mod:`regulars.features.kpis` and executes it once. The CLI
(``regulars kpis``), the API and the dashboard all render the same
:class:`KpiReport`. Definitions: ``docs/kpis.md``.

Examples
--------
>>> import tempfile, os
>>> import pandas as pd
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1"}, {"customer_id": "c2"}])
>>> _ = ws.insert_rows("orders", pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["c1", "c1", "c2"],
...     "ordered_at": ["2024-01-01 10:00", "2024-02-11 09:00", "2024-02-15 12:00"], "total": [10, 30, 20]}))
>>> report = kpis(ws, by="month", active_days=60)
>>> report.table[["month", "customers", "new_customers", "orders", "revenue"]]
     month  customers  new_customers  orders  revenue
0  2024-01          1              1       1     10.0
1  2024-02          2              1       2     50.0
>>> report.notes[0]
"active customers: purchased in the 60 days up to each month's last day; window set by you"
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd

from regulars.features import kpis as features
from regulars.features.currency import CurrencyPlan, OneCurrency
from regulars.values import to_date
from regulars.features.sessions import trim
from regulars.reports.money import money_plan, money_tables

__all__ = ["KpiReport", "kpis"]

_KEY_COLUMN = {None: None, "month": "month", "channel": "channel", "cohort": "cohort"}
_MONEY = ("revenue", "guest_revenue", "refund_amount", "spend")  # sums of cents: rounding only removes float noise
#: KPIs that add up order amounts: never shown as one figure across currencies.
ORDER_MONEY = ("revenue", "guest_revenue", "average_order_value", "clv_historical", "refund_amount",
               "cac_payback_months")


@dataclass
class KpiReport:
    """KPIs for one view of the shop.

    Attributes
    ----------
    by : {None, "month", "channel", "cohort", "currency"}
    start, end : date or None
        The window (inclusive); ``None`` when the shop has no orders.
    active_days : int or None
        The activity window used, and ``active_days_reason`` says why.
    table : pandas.DataFrame
        One row (``by=None``) or one row per month / channel / cohort (first
        column ``month``, ``channel`` or ``cohort``), then the KPI columns of
        :data:`regulars.features.kpis.METRICS`. A KPI that cannot be computed
        is NaN (``None`` in JSON), and :attr:`notes` says why.
    definitions : dict
        Column name -> definition in plain words.
    notes : list of str
        What the numbers rest on and what is missing ("CAC needs marketing
        spend: none loaded ...").
    currency_note : str or None
        How money adds up when orders are in several currencies (converted
        at the shop's rates, or shown per currency); ``currency_warning``
        repeats it when amounts are *not* converted.
    by_currency : pandas.DataFrame or None
        When orders are in several currencies and a rate is missing: the
        same table per currency (first column ``currency``), each in its own
        money; :attr:`table` then leaves :data:`ORDER_MONEY` empty.
    """

    by: str | None
    start: dt.date | None
    end: dt.date | None
    active_days: int | None
    table: pd.DataFrame
    definitions: dict[str, str]
    notes: list[str] = field(default_factory=list)
    active_days_reason: str = ""
    gross_margin: float | None = None
    currency_warning: str | None = None
    currency_note: str | None = None
    by_currency: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """JSON-ready: ``rows`` is a list of records, NaN becomes ``None``, dates ISO strings."""
        rows = _records(self.table)
        return {
            "by": self.by,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "active_days": self.active_days,
            "active_days_reason": self.active_days_reason,
            "gross_margin": self.gross_margin,
            "columns": list(self.table.columns),
            "rows": rows,
            "definitions": dict(self.definitions),
            "notes": list(self.notes),
            "currency_warning": self.currency_warning,
            "currency_note": self.currency_note,
            "by_currency": None if self.by_currency is None else _records(self.by_currency),
        }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def _plain(value):
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()
    return value


def _scalar(ws, expr) -> int:
    value = ws.execute(expr)
    return 0 if value is None or pd.isna(value) else int(value)


def _sources(ws, end: dt.date) -> dict[str, int]:
    """How much of each optional source exists up to *end* (small counting queries)."""
    stop = pd.Timestamp(end + dt.timedelta(days=1))
    e = ws.table("events")
    e = e.filter(e.occurred_at < stop)
    t = ws.table("tickets")
    s = ws.table("surveys")
    survey = trim(s.survey).lower()
    return {
        "events": _scalar(ws, e.count()),
        "purchase_events": _scalar(ws, e.count(where=trim(e.event_type).lower() == "purchase")),
        "spend": _scalar(ws, ws.table("marketing_spend").count()),
        "csat": _scalar(ws, t.count(where=t.csat.notnull())) + _scalar(ws, s.count(where=survey == "csat")),
        "nps": _scalar(ws, s.count(where=survey == "nps")),
        "no_channel": _scalar(ws, trim(ws.table("customers").acquisition_channel).nullif("").isnull().sum()),
    }


def _empty(by: str | None, active_days: int | None, notes: list[str], margin: float | None) -> KpiReport:
    key = _KEY_COLUMN[by]
    cols = ([key] if key else []) + list(features.METRICS)
    return KpiReport(by, None, None, active_days, pd.DataFrame(columns=cols),
                     features.definitions(by, active_days or features.ACTIVE_DAYS_FALLBACK), notes,
                     gross_margin=margin)


def kpis(
    ws,
    by: str | None = None,
    start=None,
    end=None,
    active_days: int | None = None,
    *,
    gross_margin: float | None = None,
) -> KpiReport:
    """Customers, activity, revenue, retention, CLV, conversion, CAC and satisfaction.

    Parameters
    ----------
    ws : Workspace
        Or any table provider with ``.table(name)`` and ``.execute(expr)``.
    by : {None, "month", "channel", "cohort"}
        ``None``: one row for the shop over the window. ``"month"``: a time
        series of calendar months. ``"channel"``: per acquisition channel
        (``customers.acquisition_channel``; channels with spend but no
        customers appear too). ``"cohort"``: per first-purchase month.
    start, end : date, datetime or ISO string, optional
        The window, inclusive. Default: the first and the last day with an
        order. Data after ``end`` is ignored everywhere; "to date" figures
        (CLV, repeat rate) use all history up to ``end``.
    active_days : int, optional
        Activity window: a customer is active when they purchased in the
        ``active_days`` days ending on ``end``. Default: twice the shop's
        median time between purchase days (see
        :func:`regulars.features.kpis.active_window`); the reason is in
        ``report.active_days_reason``.
    gross_margin : float, optional
        Share of revenue kept as margin (e.g. ``0.4``) for CAC payback; the
        schema holds no product costs, so without it payback uses revenue.

    Returns
    -------
    KpiReport
    """
    if by == "currency":
        return _per_currency_report(ws, start, end, active_days, gross_margin)
    if by not in features.BY:
        raise ValueError(f"by must be one of month, channel, cohort, currency (or None); got {by!r}")
    if active_days is not None and int(active_days) < 1:
        raise ValueError(f"active_days must be at least 1; got {active_days}")
    if gross_margin is not None and not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be a share in (0, 1], e.g. 0.4; got {gross_margin}")
    start_d, end_d = to_date(start), to_date(end)
    if start_d and end_d and start_d > end_d:
        raise ValueError(f"start {start_d} is after end {end_d}")
    ws, money = money_tables(ws)
    timezone = _timezone(ws)
    rhythm = ws.execute(features.shop_rhythm(ws, end_d, timezone)).iloc[0]
    if pd.isna(rhythm["first_day"]):
        when = f" up to {end_d}" if end_d else ""
        return _empty(by, active_days, [f"no orders{when}: load them with `regulars ingest orders FILE`"],
                      gross_margin)

    first_day, last_day = to_date(rhythm["first_day"]), to_date(rhythm["last_day"])
    end_d = end_d or last_day
    start_d = start_d or first_day
    if start_d > end_d:
        raise ValueError(f"start {start_d} is after the last order ({end_d}); pick an earlier start")
    if active_days is None:
        median = None if pd.isna(rhythm["median_gap_days"]) else float(rhythm["median_gap_days"])
        active_days, reason = features.active_window(median, int(rhythm["gaps"]))
    else:
        active_days, reason = int(active_days), "window set by you"

    src = _sources(ws, end_d)
    plan = features.KpiPlan(
        start=start_d,
        end=end_d,
        history_start=min(first_day, start_d),
        active_days=active_days,
        gross_margin=1.0 if gross_margin is None else float(gross_margin),
        sessions=src["events"] > 0,
        purchase_events=src["purchase_events"] > 0,
        spend=src["spend"] > 0,
        ratings=src["csat"] + src["nps"] > 0,
        timezone=timezone,
    )
    expr = features.monthly_kpis(ws, plan) if by == "month" else features.summary_kpis(ws, plan, by)
    table = _tidy(ws.execute(expr), by)
    notes = _notes(by, plan, reason, rhythm, src, table)
    per_currency = None
    if money.mode == "per_currency":
        per_currency = _by_currency(ws, money, by, start_d, end_d, active_days, gross_margin)
        for col in ORDER_MONEY:
            table[col] = float("nan")
    if money.note:
        notes.insert(0, money.note)  # first: every money figure depends on it
    defs = features.definitions(by, active_days, plan.months, plan.gross_margin)
    warning = money.note if money.mode == "per_currency" else None
    return KpiReport(by, start_d, end_d, active_days, table, defs, notes, reason, gross_margin, warning,
                     money.note, per_currency)


def _by_currency(ws, money: CurrencyPlan, by, start, end, active_days, gross_margin) -> pd.DataFrame:
    """The report's table once per currency, each over the orders in that currency only."""
    frames = []
    for code in money.currencies:
        part = kpis(OneCurrency(ws, code, money.shop_currency), by, start, end, active_days,
                    gross_margin=gross_margin).table
        part.insert(0, "currency", code)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def _per_currency_report(ws, start, end, active_days, gross_margin) -> KpiReport:
    """``by="currency"``: one row per currency, each in its own money (never converted)."""
    money = money_plan(ws)
    whole = kpis(ws, None, start, end, active_days, gross_margin=gross_margin)
    table = _by_currency(ws, money, None, whole.start, whole.end, whole.active_days, gross_margin) \
        if whole.start is not None else pd.DataFrame(columns=["currency", *features.METRICS])
    notes = [n for n in whole.notes if n != whole.currency_note]
    notes.insert(0, "each row counts only the orders in its currency, in that currency's money"
                 + (f"; {money.note}" if money.mode == "per_currency" else ""))
    return KpiReport("currency", whole.start, whole.end, whole.active_days, table, whole.definitions, notes,
                     whole.active_days_reason, gross_margin, whole.currency_warning, whole.currency_note)


def _timezone(ws) -> str:
    """The shop's time zone (a workspace setting, also carried by the Spark provider; UTC for
    other table providers)."""
    return getattr(ws, "timezone", None) or "UTC"


def guest_note(ws, as_of=None) -> str | None:
    """How much of the shop's revenue customer-level analyses skip (guest orders), up to
    *as_of* (exclusive; default all): one query. None when there are no guest orders."""
    from regulars.features.mart import to_date

    as_of = to_date(as_of)
    end = None if as_of is None else as_of - dt.timedelta(days=1)
    rhythm = ws.execute(features.shop_rhythm(ws, end, _timezone(ws))).iloc[0]
    if pd.isna(rhythm["first_day"]):
        return None
    return guest_share_note(float(rhythm["guest_revenue"]), float(rhythm["revenue"]), int(rhythm["guest_purchases"]))


def guest_share_note(guest_revenue: float, revenue: float, guest_orders: int) -> str | None:
    """The sentence saying how much customer-level analyses leave out, or None without guests.

    >>> guest_share_note(230.0, 1000.0, 12)
    '23% of revenue (12 guest orders) is from guest orders, with no customer: it counts in revenue, orders and the forecast, not in customer analyses (RFM, CLV, churn, cohorts)'
    """
    if not guest_orders and not guest_revenue:
        return None
    share = (guest_revenue / revenue) if revenue else 0.0
    return (f"{share:.0%} of revenue ({guest_orders:,} guest orders) is from guest orders, with no customer: it "
            "counts in revenue, orders and the forecast, not in customer analyses (RFM, CLV, churn, cohorts)")


def _tidy(df: pd.DataFrame, by: str | None) -> pd.DataFrame:
    key = _KEY_COLUMN[by]
    if key is None:
        df = df.drop(columns="key")
    else:
        labels = df["key"].map(features.month_label) if by in ("month", "cohort") else df["key"].astype(str)
        df = df.drop(columns="key")
        df.insert(0, key, labels.astype(str))
    for col in _MONEY:
        df[col] = df[col].astype(float).round(2)
    return df.reset_index(drop=True)


def _notes(by, plan: features.KpiPlan, reason: str, rhythm, src: dict, table: pd.DataFrame) -> list[str]:
    n = plan.active_days
    where = "each month's last day" if by == "month" else f"the end date ({plan.end})"
    notes = [f"active customers: purchased in the {n} days up to {where}; {reason}"]
    if plan.timezone != "UTC":
        notes.append(f"days and months are the shop's, in {plan.timezone}")
    guests = guest_share_note(float(rhythm["guest_revenue"]), float(rhythm["revenue"]), int(rhythm["guest_purchases"]))
    if guests:
        notes.append(guests)
    if int(rhythm["refunds"]):
        notes.append(f"{int(rhythm['refunds'])} refund(s) (returns and refunds of orders) reduce revenue on the day "
                     "they happen (the export's date when it gives none); they are not orders and do not count for "
                     "frequency, and a fully refunded order is not an order")
    if int(rhythm["excluded"]):
        notes.append(f"{int(rhythm['excluded'])} cancelled or voided order(s) are left out of every figure")
    if by != "month" and len(table) and int(table["retention_base"].sum()) == 0:
        notes.append(f"retention and churn need purchases in the {n} days before the last {n} days; "
                     "there are none, so they are empty")
    if not plan.sessions:
        notes.append("conversion rate needs web/app events: none loaded (`regulars ingest events FILE`)")
    elif by in ("channel", "cohort"):
        notes.append("conversion rate is shown overall and by month only: most sessions are anonymous, "
                     "so they have no acquisition channel or cohort")
    elif not plan.purchase_events:
        notes.append("conversion rate = orders / sessions: the events have no purchase events to mark "
                     "converting sessions")
    if not plan.spend:
        notes.append("CAC needs marketing spend: none loaded (`regulars ingest spend FILE`)")
    else:
        if plan.gross_margin == 1.0:
            notes.append("CAC payback uses revenue, not gross margin: no product costs are loaded "
                         "(pass gross_margin, e.g. 0.4, for a margin-based payback)")
        if by is None:
            notes.append("CAC here is blended: all spend / all new customers, organic ones included "
                         "(see --by channel)")
        if by == "channel":
            orphan = table[(table["spend"].fillna(0) > 0) & (table["new_customers"] == 0)]["channel"].tolist()
            if orphan:
                notes.append(f"spend on {', '.join(orphan)} won no new customers with that acquisition channel "
                             "in the window, so its CAC is empty (check that spend and customers use the "
                             "same channel names)")
    if by == "channel" and src["no_channel"]:
        notes.append(f"{src['no_channel']} customer(s) have no acquisition channel: shown as "
                     f"'{features.UNKNOWN_CHANNEL}'")
    if not src["csat"]:
        notes.append("CSAT needs tickets with a csat score or csat surveys: none loaded")
    if not src["nps"]:
        notes.append("NPS needs nps surveys (score 0..10): none loaded")
    return notes
