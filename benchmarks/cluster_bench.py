"""Clustering a million customers: choose k, cluster, persona cards and ICP, with timings.

The features mart of a 1M-customer shop is a DuckDB query benchmarked in ``mart_bench.py``;
this script times what happens after it. It builds the demo shop (``--demo`` customers,
default 5,000), executes its mart, and resamples the mart's rows to ``--customers``
(default 1,000,000) with 10 % multiplicative noise on the numeric columns, so the million
customers keep the demo's mixture of planted types.

Printed: seconds per step, and the ratio of our k-means (choosing k among 2..10 with
silhouette and bootstrap stability, then MiniBatchKMeans on everyone) to a reference run
in the same process of scikit-learn's ``MiniBatchKMeans`` with k given and default
settings on the same matrix. The product's budget is 60 s for the clustering step.

    python benchmarks/cluster_bench.py [--customers 1000000] [--demo 5000] [--methods kmeans,hierarchical,hdbscan]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from regulars import Workspace
from regulars.demo import build_demo
from regulars.features.mart import customer_features
from regulars.segments.clusters import cluster_customers
from regulars.segments.icp import ideal_customer_profile
from regulars.segments.personas import persona_cards


def synthetic_mart(mart: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """*n* rows resampled from *mart*, numeric columns jittered by 10 %, fresh customer ids."""
    rng = np.random.default_rng(seed)
    out = mart.iloc[rng.integers(0, len(mart), n)].reset_index(drop=True)
    for col in out.columns:
        if col == "customer_id" or not pd.api.types.is_numeric_dtype(out[col]) or out[col].dtype == bool:
            continue
        values = pd.to_numeric(out[col], errors="coerce").astype(float).to_numpy()
        jitter = rng.lognormal(0.0, 0.1, n)
        if col in ("orders", "returns", "sessions", "email_sends", "email_opens", "product_views", "cart_adds"):
            out[col] = np.round(values * jitter)
        elif col.startswith("category_share_") or col.endswith("_share"):
            out[col] = np.clip(values * jitter, 0, 1)
        else:
            out[col] = values * jitter
    out["customer_id"] = [f"S{i:08d}" for i in range(n)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--demo", type=int, default=5_000)
    parser.add_argument("--methods", default="kmeans,hierarchical,hdbscan")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ws = Workspace(Path(tmp) / "demo.duckdb")
        build_demo(ws, n_customers=args.demo, seed=args.seed)
        mart = ws.execute(customer_features(ws))
        truth = ws.sql("SELECT customer_id, latent_type FROM demo_truth")
        ws.close()
        print(f"demo shop of {args.demo:,} customers and its mart: {time.perf_counter() - t:.1f} s")

    big = synthetic_mart(mart, args.customers, args.seed)
    truth_big = truth.set_index("customer_id").latent_type.reindex(
        mart.customer_id.iloc[np.random.default_rng(args.seed).integers(0, len(mart), args.customers)]
    ).to_numpy()
    print(f"synthetic mart: {len(big):,} customers\n")

    rows = []
    for method in args.methods.split(","):
        t = time.perf_counter()
        model, frame = cluster_customers(big, method=method, random_state=args.seed)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        cards = persona_cards(frame, big, model)
        cards_s = time.perf_counter() - t
        rows.append({"method": method, "k": model.n_clusters_, "fit_s": round(fit_s, 1), "cards_s": round(cards_s, 1),
                     "silhouette": round(model.silhouette_, 3), "stability": round(model.stability_, 2),
                     "personas": ", ".join(c.name for c in cards)})
        if method == "kmeans":
            kmeans_model, kmeans_frame, kmeans_fit = model, frame, fit_s
            ids = big.customer_id.to_numpy()
            labels = kmeans_frame.cluster.reindex(ids).to_numpy()
            rows[-1]["ari_vs_planted"] = round(adjusted_rand_score(truth_big.astype(str), labels), 3)

    if "kmeans" in args.methods:
        buyers = kmeans_frame[kmeans_frame.cluster >= 0]
        Z = kmeans_model.transform(buyers)
        with threadpool_limits(1):
            t = time.perf_counter()
            MiniBatchKMeans(kmeans_model.n_clusters_, random_state=args.seed).fit(Z)
            ref_s = time.perf_counter() - t
        print(f"reference: sklearn MiniBatchKMeans(k={kmeans_model.n_clusters_} given) on the same "
              f"{len(Z):,} x {Z.shape[1]} matrix: {ref_s:.1f} s")
        print(f"ours (choosing k in 2..10, stability, final fit, labels): {kmeans_fit:.1f} s "
              f"= {kmeans_fit / ref_s:.1f}x the reference; budget 60 s: {'met' if kmeans_fit <= 60 else 'MISSED'}")
        print(kmeans_model.k_scores_.round(3).to_string(index=False))

    t = time.perf_counter()
    profile = ideal_customer_profile(big)
    print(f"\nideal customer profile and similarity for {len(profile.scores):,} people: {time.perf_counter() - t:.1f} s")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
