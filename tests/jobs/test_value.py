"""Value predictions on CDNOW's published 39-week calibration / 39-week holdout split: the 80%
ranges hold 75-85% of what happened, the transaction model is chosen on a holdout and says why,
and the chance of ordering again is never 100% for someone who bought once long ago."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import order_stats
from regulars.jobs.value import ACTIVITY_BOUNDS, fit_value, score_value, value_frame
from regulars.features.purchase_history import purchase_outcomes
from tests.conftest import CDNOW

AS_OF = dt.date(1997, 10, 1)  # the day after the 39-week calibration period
HOLDOUT = 273  # 39 weeks, to 1998-06-30


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    """The CDNOW 1/10 sample (the paper's 2,357 customers) as orders of a workspace."""
    raw = pd.read_csv(CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "customer_id", "date", "cds", "value"])
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(len(raw))], "customer_id": raw["customer_id"].astype(str),
        "ordered_at": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"), "total": raw["value"].round(2)})
    ws = Workspace(tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb")
    ws._con.register("raw_orders", orders)
    ws._con.execute("INSERT INTO customers (customer_id) SELECT DISTINCT customer_id FROM raw_orders")
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) "
                   "SELECT order_id, customer_id, ordered_at, CAST(total AS DECIMAL(18, 2)) FROM raw_orders")
    ws._con.unregister("raw_orders")
    order_stats.rebuild(ws._con)
    frame = value_frame(ws, ws, AS_OF)
    vm = fit_value(ws, AS_OF, HOLDOUT, frame, first_day=dt.date(1997, 1, 1))
    scored = score_value(vm, frame)
    actual = ws.frame(purchase_outcomes(ws, AS_OF, HOLDOUT)).set_index("customer_id").reindex(frame.index)
    yield ws, frame, vm, scored, actual
    ws.close()


def _inside(y, lo, hi) -> float:
    y = np.asarray(y, dtype=float)
    return float(((y >= np.asarray(lo, dtype=float) - 1e-9) & (y <= np.asarray(hi, dtype=float) + 1e-9)).mean())


def test_80_percent_ranges_hold_75_to_85_percent_of_the_holdout(cdnow):
    _, frame, vm, scored, actual = cdnow
    assert len(frame) == 2349  # the 2,357 customers but 8 whose only orders were $0 (not purchases)
    orders = actual["orders"].fillna(0)
    # before: the BG/NBD range (no dropout in the horizon) held 93% of customers' holdout purchases
    assert 0.75 <= _inside(orders, scored["expected_orders_lower"], scored["expected_orders_upper"]) <= 0.85
    assert 0.75 <= _inside(actual["spend"].fillna(0), scored["expected_spend_lower"], scored["expected_spend_upper"]) <= 0.85
    assert 0.75 <= _inside(actual["discounted"].fillna(0), scored["clv_lower"], scored["clv_upper"]) <= 0.85
    back = actual["first_day"].notna()
    day = pd.to_datetime(actual.loc[back, "first_day"]).to_numpy().astype("datetime64[D]").astype(float)
    lo, hi = (pd.to_datetime(scored.loc[back, c]).to_numpy().astype("datetime64[D]").astype(float)
              for c in ("next_order_lower", "next_order_upper"))
    assert 0.75 <= _inside(day, lo, hi) <= 0.85
    # the calibration used a window inside the 39 weeks, and says so
    assert vm.calibration["horizon_days"] == 183 and vm.notes


def test_the_model_is_chosen_on_a_holdout_and_the_sentence_says_why(cdnow):
    _, _, vm, _, _ = cdnow
    assert set(vm.candidates) == {"bgnbd", "mbgnbd", "pnbd"}
    usable = {k: c for k, c in vm.candidates.items() if not c["problems"]}
    assert vm.key == max(usable, key=lambda k: usable[k]["log_score"])
    assert vm.sentence.startswith(f"{vm.name} was chosen")
    # the Pareto/NBD fitted on three months of a young cohort ends on a boundary and is set aside, in words
    assert vm.candidates["pnbd"]["problems"] and "Pareto/NBD was set aside" in vm.sentence


def test_one_time_buyers_are_never_certain_to_come_back(cdnow):
    _, frame, _, scored, actual = cdnow
    p = scored["p_alive"]
    assert p.between(*ACTIVITY_BOUNDS).all() and p.max() < 1
    once = frame["frequency"] == 0
    # bought once: the longer ago, the lower the chance (BG/NBD said 100% for all of them)
    by_age = pd.DataFrame({"age": frame.loc[once, "T"], "p": p[once]}).sort_values("age")
    assert by_age["p"].is_monotonic_decreasing
    assert by_age["p"].iloc[-1] < 0.5
    # and the chance is about right: measured 24% predicted vs 29% who ordered again
    assert abs(p.mean() - (actual["orders"].fillna(0) > 0).mean()) < 0.06
