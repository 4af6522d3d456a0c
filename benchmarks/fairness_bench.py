"""Benchmark: the fairness audit of every model on 1M customers (target <= 30 s on 2 cores).

Builds N customers (default 1,000,000) with a country, region, acquisition channel and birth date,
and for each audited model (churn, propensity, leads) a score, a decision and an outcome, stored as
the audit's scores; then times ``run_audit(ws, stored=True)`` -- the audit itself: groups, fairlearn
MetricFrames per attribute, flags, writing the results. Refitting the models at the cutoff is the
backtest's cost (see predict_bench.py) and is not included.

Reference in the same run: the same per-group rates computed with a plain pandas ``groupby`` (no
fairlearn, no flags, nothing written), to show what the MetricFrame layer costs.

    python benchmarks/fairness_bench.py [--customers 1000000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd


def build(ws, n: int, seed: int = 0) -> None:
    from regulars.demo.people import PLACES
    from regulars.demo.types import CHANNELS

    rng = np.random.default_rng(seed)
    place = rng.integers(0, len(PLACES), n)
    customers = pd.DataFrame({
        "customer_id": [f"C{i:08d}" for i in range(n)],
        "country": np.array([p[2] for p in PLACES])[place], "region": np.array([p[1] for p in PLACES])[place],
        "acquisition_channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)],
        "birth_date": pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, n), unit="D"),
    })
    customers.loc[rng.random(n) < 0.6, "birth_date"] = pd.NaT
    ws.con.register("_c", customers)
    ws.con.execute("INSERT INTO customers (customer_id, country, region, acquisition_channel, birth_date) "
                   "SELECT customer_id, country, region, acquisition_channel, birth_date::DATE FROM _c")
    ws.con.unregister("_c")
    frames = []
    for model, share in (("churn", 1.0), ("propensity", 1.0), ("leads", 0.3)):
        k = int(n * share)
        outcome = rng.random(k) < 0.3
        score = np.clip(0.3 + 0.3 * outcome + rng.normal(0, 0.15, k), 0, 1)
        frames.append(pd.DataFrame({"model": model, "cutoff": pd.Timestamp("2026-08-01"),
                                    "customer_id": customers["customer_id"].to_numpy()[:k], "score": score,
                                    "selected": score >= 0.6, "outcome": outcome}))
    scores = pd.concat(frames)
    ws.con.register("_s", scores)
    ws.con.execute("INSERT INTO fairness_scores SELECT model, cutoff::DATE, customer_id, score, selected, outcome FROM _s")
    ws.con.unregister("_s")
    for model in ("churn", "propensity", "leads"):  # an earlier audit's record, as `--stored` expects
        ws.con.execute("INSERT INTO fairness_runs (run_id, model, cutoff, finished_at, inputs) VALUES "
                       "(?, ?, DATE '2026-08-01', now()::TIMESTAMP, '[]')", [f"seed-{model}", model])


def reference(ws) -> float:
    t = time.perf_counter()
    scores = ws.sql("SELECT * FROM fairness_scores")
    attrs = ws.sql("SELECT customer_id, country, region, acquisition_channel FROM customers")
    for _model, part in scores.groupby("model"):
        data = part.merge(attrs, on="customer_id")
        for col in ("country", "region", "acquisition_channel"):
            data.groupby(col).agg(n=("selected", "size"), selection=("selected", "mean"),
                                  mean_predicted=("score", "mean"), observed=("outcome", "mean"))
            data[data["outcome"]].groupby(col)["selected"].mean()
            data[~data["outcome"]].groupby(col)["selected"].mean()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    from regulars import Workspace
    from regulars.jobs.audit import run_audit

    path = os.path.join(tempfile.mkdtemp(prefix="fairness-bench-"), "bench.duckdb")
    ws = Workspace(path, memory_limit="4GB")
    t = time.perf_counter()
    build(ws, args.customers)
    print(f"built {args.customers:,} customers and 3 models' scores in {time.perf_counter() - t:.1f}s")
    import fairlearn.metrics  # noqa: F401 - import cost (about 2 s) is paid once per process, not per audit

    print(f"load average before: {os.getloadavg()}")
    t = time.perf_counter()
    run = run_audit(ws, stored=True)
    audit = time.perf_counter() - t
    print(f"fairness audit of {len(run.results)} models: {audit:.1f}s ("
          + ", ".join(f"{k} {v:.1f}s" for k, v in run.seconds.items()) + ")")
    print(f"load average after: {os.getloadavg()}")
    ref = reference(ws)
    print(f"reference, plain pandas groupby of the same rates: {ref:.1f}s; ratio audit / reference {audit / ref:.2f}")
    print(f"target: <= 30 s for 1M customers -> {'met' if audit <= 30 * args.customers / 1_000_000 else 'NOT met'}")
    ws.close()


if __name__ == "__main__":
    main()
