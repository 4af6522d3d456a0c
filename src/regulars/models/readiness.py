"""Is there enough data for each prediction? Minimums, verdicts and what to do about it.

Every prediction the product shows goes through :func:`assess` first. Below the stated
minimums it is **refused** (no numbers are shown, the message says what is missing and what
would fix it); between the minimum and the comfortable size it runs in **small-data mode**
(simpler, more regularised models, pooled estimates, wide intervals) and says so.

The minimums are deliberately explicit so a shop owner can read them in the docs:

========================  ==============================  ==================================
prediction                refused below                   small-data mode below
========================  ==============================  ==================================
churn, propensity         100 customers who ordered,       1,000 customers who ordered or
                          30 repeat customers, history     200 repeat customers
                          of 210 days (churn, 90-day
                          window) / 120 days (propensity,
                          30-day window)
value (BTYD, CLV),        20 repeat customers,             200 repeat customers
next order date           90 days of history
demand forecast           56 days with sales history       2 years (no yearly seasonality
                                                          below)
lead scoring              10 people with activity but      200 such people (no backtest
                          no order                         of the tiers below)
========================  ==============================  ==================================

What counts as a purchase is :func:`regulars.features.purchase_history.purchases` (the rule of
:mod:`regulars.data.purchases`), which labels, features and forecasts share.

Examples
--------
>>> stats = DataStats(customers_with_orders=80, repeat_customers=12, history_days=400,
...                   days_with_orders=300, leads=0)
>>> verdict = assess(stats)["churn"]
>>> verdict.status
'refused'
>>> print(verdict.messages[0])
only 80 customers have ordered; churn risk needs at least 100 (and 30 who ordered more than once)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.values import EXCLUDED_STATUSES

__all__ = ["MIN_OBSERVED", "DataStats", "Minimums", "NotEnoughData", "Verdict", "assess"]

#: Fewest customers with an observed outcome that a backtest judges a prediction on, or that a
#: range is calibrated on (fewer and the figure would be noise: it is refused instead).
MIN_OBSERVED = 20

# Statuses, from best to worst.
OK, SMALL, REFUSED = "ok", "small", "refused"


class NotEnoughData(ValueError):
    """A model was asked to fit on less data than it needs; the message says what is needed."""


@dataclass(frozen=True)
class Minimums:
    """The thresholds behind :func:`assess` (see the module table)."""

    customers: int = 100
    repeat_customers: int = 30
    btyd_repeat_customers: int = 20
    btyd_history_days: int = 90
    label_class: int = MIN_OBSERVED  # each outcome (e.g. returned / did not) in the training window
    comfortable_customers: int = 1000
    comfortable_repeat: int = 200
    forecast_days: int = 56
    forecast_recent_days: int = 28  # days with sales in the fitted window (see DataStats)
    forecast_yearly_days: int = 730
    leads: int = 10
    comfortable_leads: int = 200
    churn_horizon_days: int = 90
    propensity_horizon_days: int = 30


@dataclass(frozen=True)
class DataStats:
    """Counts that decide readiness; computed by the job from the workspace."""

    customers_with_orders: int
    repeat_customers: int
    history_days: int  # first to last purchase day
    days_with_orders: int
    leads: int = 0
    #: days with sales in the window the forecast is fitted on (the last 730 days with two years
    #: of history, else the last 180); None when not counted
    recent_days_with_orders: int | None = None


@dataclass
class Verdict:
    """Readiness of one prediction: ``ok``, ``small`` (small-data mode) or ``refused``."""

    model: str
    status: str
    messages: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.status == REFUSED

    @property
    def small(self) -> bool:
        return self.status == SMALL

    def to_dict(self) -> dict:
        return {"model": self.model, "status": self.status, "messages": list(self.messages)}


def _classifier(name: str, noun: str, horizon: int, s: DataStats, m: Minimums) -> Verdict:
    # the first training snapshot sits on a multiple of 90 days at least two windows back
    # (see regulars.jobs.predict.training_dates), with a month of history before it
    needed_history = 90 * -(-2 * horizon // 90) + 30
    problems = []
    if s.customers_with_orders < m.customers:
        problems.append(
            f"only {s.customers_with_orders:,} customers have ordered; {noun} needs at least "
            f"{m.customers} (and {m.repeat_customers} who ordered more than once)"
        )
    elif s.repeat_customers < m.repeat_customers:
        problems.append(
            f"only {s.repeat_customers:,} customers have ordered more than once; {noun} needs at "
            f"least {m.repeat_customers} to learn what coming back looks like"
        )
    if s.history_days < needed_history:
        problems.append(
            f"the order history covers {s.history_days} days; {noun} over {horizon} days needs "
            f"{needed_history} (a window to learn from, a later one to check the calibration, plus a month)"
        )
    if problems:
        return Verdict(name, REFUSED, problems)
    if s.customers_with_orders < m.comfortable_customers or s.repeat_customers < m.comfortable_repeat:
        return Verdict(name, SMALL, [
            (f"small-data mode: {s.customers_with_orders:,} customers who ordered, {s.repeat_customers:,} repeat "
            f"customers (comfortable from {m.comfortable_customers:,} and {m.comfortable_repeat}); a simpler, "
            "more cautious model is used and its accuracy figures are rough")
        ])
    return Verdict(name, OK)


def assess(stats: DataStats, minimums: Minimums | None = None) -> dict[str, Verdict]:
    """One :class:`Verdict` per prediction: churn, propensity, value, next_order, forecast, leads."""
    m = minimums or Minimums()
    s = stats
    out = {
        "churn": _classifier("churn", "churn risk", m.churn_horizon_days, s, m),
        "propensity": _classifier("propensity", "purchase propensity", m.propensity_horizon_days, s, m),
    }
    value = []
    if s.repeat_customers < m.btyd_repeat_customers:
        value.append(
            f"only {s.repeat_customers:,} customers have ordered more than once; expected orders, "
            f"p(alive), CLV and next-order dates need at least {m.btyd_repeat_customers}"
        )
    if s.history_days < m.btyd_history_days:
        value.append(f"the order history covers {s.history_days} days; at least {m.btyd_history_days} are needed")
    if value:
        out["value"] = Verdict("value", REFUSED, value)
    elif s.repeat_customers < m.comfortable_repeat:
        out["value"] = Verdict("value", SMALL, [
            (f"small-data mode: {s.repeat_customers:,} repeat customers (comfortable from {m.comfortable_repeat}); "
            "values lean on the shop-wide average and intervals are wide")
        ])
    else:
        out["value"] = Verdict("value", OK)
    out["next_order"] = Verdict("next_order", out["value"].status, list(out["value"].messages))

    if s.days_with_orders < m.forecast_days:
        out["forecast"] = Verdict("forecast", REFUSED, [
            (f"orders on only {s.days_with_orders} days; the demand forecast needs at least {m.forecast_days} "
            "days of sales history (8 weeks, to see the weekly pattern)")
        ])
    elif s.recent_days_with_orders is not None and s.recent_days_with_orders < m.forecast_recent_days:
        window = 730 if s.history_days >= m.forecast_yearly_days else 180
        out["forecast"] = Verdict("forecast", REFUSED, [
            (f"orders on only {s.recent_days_with_orders} of the last {window} days; the demand forecast needs sales "
             f"on at least {m.forecast_recent_days} days of the period it learns from")
        ])
    elif s.history_days < m.forecast_yearly_days:
        out["forecast"] = Verdict("forecast", SMALL, [
            (f"{s.history_days} days of history: the forecast follows the weekly pattern and the recent level, "
            f"but cannot know the yearly season until there are {m.forecast_yearly_days} days")
        ])
    else:
        out["forecast"] = Verdict("forecast", OK)

    if s.leads < m.leads:
        out["leads"] = Verdict("leads", REFUSED, [
            (f"only {s.leads} people have site or e-mail activity without an order; lead scoring needs at least "
            f"{m.leads} (load web events or e-mail engagement to use it)")
        ])
    elif s.leads < m.comfortable_leads:
        out["leads"] = Verdict("leads", SMALL, [
            f"{s.leads} leads: tiers come from fixed rules; too few to check them against who went on to buy"
        ])
    else:
        out["leads"] = Verdict("leads", OK)
    return out
