"""Benchmark: the fairness audit of every model on 1M customers (target <= 30 s on 2 cores).

Builds N customers (default 1,000,000) with a country, region, acquisition channel and birth date,
and for each of the five audited models a score, a decision and an outcome, stored as the audit's
scores: churn, propensity and leads (probabilities), next best action (an expected value in money:
offered an action or not, ordered within 30 days) and recommendations (a ranking score: personal
recommendations or the best-sellers fallback, bought a recommended product within 30 days); then times ``run_audit(ws, stored=True)`` -- the audit itself: groups, fairlearn
MetricFrames per attribute, flags, writing the results. Refitting the models at the cutoff is the
backtest's cost (see predict_bench.py) and is not included.

Reference in the same run: the same per-group rates computed with a plain pandas ``groupby`` (no
fairlearn, no flags, nothing written), to show what the MetricFrame layer costs; the ratio is printed
per model and for the whole audit.

    python benchmarks/fairness_bench.py [--customers 1000000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd


#: Audited model -> share of the customers it scores (lead scores cover prospects only).
SHARES = {"churn": 1.0, "propensity": 1.0, "leads": 0.3, "next_action": 1.0, "recommendations": 1.0}


def _score(model: str, outcome: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """A score that tells outcomes apart somewhat, and the decision made from it, as each model makes it."""
    k = len(outcome)
    if model == "next_action":  # expected value of the best action in money; "do nothing" below 1.00
        value = np.round(rng.gamma(2.0, 2.0 + 3.0 * outcome, k), 2)
        return value, value >= 1.0
    if model == "recommendations":  # best ranking score of the ten; personal unless the fallback served
        score = np.clip(rng.beta(2, 5, k) + 0.2 * outcome, 0, 1)
        return score, rng.random(k) < 0.85
    score = np.clip(0.3 + 0.3 * outcome + rng.normal(0, 0.15, k), 0, 1)
    return score, score >= 0.6


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
    ws._con.register("_c", customers)
    ws._con.execute("INSERT INTO customers (customer_id, country, region, acquisition_channel, birth_date) "
                   "SELECT customer_id, country, region, acquisition_channel, birth_date::DATE FROM _c")
    ws._con.unregister("_c")
    frames = []
    for model, share in SHARES.items():
        k = int(n * share)
        outcome = rng.random(k) < 0.3
        score, selected = _score(model, outcome, rng)
        frames.append(pd.DataFrame({"model": model, "cutoff": pd.Timestamp("2026-08-01"),
                                    "customer_id": customers["customer_id"].to_numpy()[:k], "score": score,
                                    "selected": selected, "outcome": outcome}))
    scores = pd.concat(frames)
    ws._con.register("_s", scores)
    ws._con.execute("INSERT INTO fairness_scores SELECT model, cutoff::DATE, customer_id, score, selected, outcome FROM _s")
    ws._con.unregister("_s")
    for model in SHARES:  # an earlier audit's record, as `--stored` expects
        ws._con.execute("INSERT INTO fairness_runs (run_id, model, cutoff, finished_at, inputs) VALUES "
                       "(?, ?, DATE '2026-08-01', now()::TIMESTAMP, '[]')", [f"seed-{model}", model])


def reference(ws) -> dict[str, float]:
    """Seconds per model of the plain pandas group-by of the same rates (reading the rows included)."""
    seconds = {}
    t = time.perf_counter()
    scores = ws.sql("SELECT * FROM fairness_scores")
    attrs = ws.sql("SELECT customer_id, country, region, acquisition_channel FROM customers")
    read = (time.perf_counter() - t) / max(1, scores["model"].nunique())  # shared equally
    for model, part in scores.groupby("model"):
        t = time.perf_counter()
        data = part.merge(attrs, on="customer_id")
        for col in ("country", "region", "acquisition_channel"):
            data.groupby(col).agg(n=("selected", "size"), selection=("selected", "mean"),
                                  mean_predicted=("score", "mean"), observed=("outcome", "mean"))
            data[data["outcome"]].groupby(col)["selected"].mean()
            data[~data["outcome"]].groupby(col)["selected"].mean()
        seconds[str(model)] = time.perf_counter() - t + read
    return seconds


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
    print(f"built {args.customers:,} customers and {len(SHARES)} models' scores in {time.perf_counter() - t:.1f}s")
    import fairlearn.metrics  # noqa: F401 - import cost (about 2 s) is paid once per process, not per audit

    print(f"load average before: {os.getloadavg()}")
    t = time.perf_counter()
    run = run_audit(ws, stored=True)
    audit = time.perf_counter() - t
    print(f"fairness audit of {len(run.results)} models: {audit:.1f}s ("
          + ", ".join(f"{k} {v:.1f}s" for k, v in run.seconds.items()) + ")")
    print(f"load average after: {os.getloadavg()}")
    ref = reference(ws)
    for name in SHARES:
        if name in run.seconds:
            print(f"  {name:<16} audit {run.seconds[name]:5.1f}s  reference {ref[name]:5.1f}s  "
                  f"ratio {run.seconds[name] / ref[name]:.2f}")
        else:
            print(f"  {name:<16} NOT audited: {run.skipped.get(name, 'missing')}")
    total = sum(ref.values())
    print(f"reference, plain pandas groupby of the same rates: {total:.1f}s; ratio audit / reference {audit / total:.2f}")
    covered = len(run.results) == len(SHARES)
    print(f"target: all {len(SHARES)} models <= 30 s for 1M customers -> "
          + ("met" if covered and audit <= 30 * args.customers / 1_000_000 else "NOT met"))
    ws.close()


if __name__ == "__main__":
    main()
