"""Benchmark: BG/NBD and Gamma-Gamma fits on 1M simulated customers, against lifetimes.

Run:  python benchmarks/btyd_fit.py [--customers 1000000] [--skip-lifetimes]

Customers are simulated from the BG/NBD process with the published CDNOW parameters, in a
12-week acquisition cohort observed for 52 weeks, and recorded the way a real summary is:
purchase times on whole days, expressed in weeks (days / 7). Identical (frequency,
recency, T) rows are collapsed into weights by our fit (that is part of the timing).

If ``lifetimes`` is importable (``pip install lifetimes==0.11.3 "setuptools<81"``; a
benchmark reference only, not a dependency), ``lifetimes.BetaGeoFitter`` is timed on the
same data in the same run, and both log-likelihoods are printed side by side (each
evaluated with our full log-likelihood, constants included).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from regulars.models import BetaGeoModel, GammaGammaModel
from regulars.models.beta_geo import bg_nbd_log_likelihood
from regulars.models.simulation import simulate_bg_nbd, simulate_gamma_gamma

BG_TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_TRUTH = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def simulate(n: int, seed: int = 2005):
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n)
    T_days = 364 - first_day
    data = simulate_bg_nbd(n, T=T_days / 7.0, random_state=rng, **BG_TRUTH)
    recency_days = np.floor(data["recency"].to_numpy() * 7.0)
    data["recency"] = recency_days / 7.0
    repeat = data["frequency"].to_numpy() > 0
    spend = np.zeros(n)
    spend[repeat] = np.round(simulate_gamma_gamma(data["frequency"].to_numpy()[repeat], random_state=rng, **GG_TRUTH), 2)
    data["monetary_value"] = spend
    return data


def best_of(repeats, function):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), times[0], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    data = simulate(args.customers)
    x, tx, T, m = (data[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    print(f"simulated {args.customers:,} customers in {time.perf_counter() - start:.2f} s "
          f"({len(data.drop_duplicates(['frequency', 'recency', 'T'])):,} distinct (frequency, recency, T) rows)")

    best, first, bg = best_of(3, lambda: BetaGeoModel().fit(x, tx, T))
    print(f"\nregulars BetaGeoModel.fit:     {best:.3f} s (best of 3; first run {first:.3f} s)")
    print("  params " + ", ".join(f"{k}={v:.4f}" for k, v in bg.params_.items()) + "   truth " + ", ".join(f"{k}={v}" for k, v in BG_TRUTH.items()))

    repeat = x > 0
    best_gg, first_gg, gg = best_of(3, lambda: GammaGammaModel().fit(x[repeat], m[repeat]))
    print(f"regulars GammaGammaModel.fit:  {best_gg:.3f} s (best of 3; first run {first_gg:.3f} s) on {repeat.sum():,} repeat customers")
    print("  params " + ", ".join(f"{k}={v:.4f}" for k, v in gg.params_.items()) + "   truth " + ", ".join(f"{k}={v}" for k, v in GG_TRUTH.items()))

    if args.skip_lifetimes:
        return
    try:
        import lifetimes
    except ImportError:
        print("\nlifetimes not importable: skipping the reference run")
        return

    start = time.perf_counter()
    reference = lifetimes.BetaGeoFitter().fit(x, tx, T)
    lifetimes_time = time.perf_counter() - start
    ref_params = [reference.params_[k] for k in ("r", "alpha", "a", "b")]
    ref_ll = bg_nbd_log_likelihood(ref_params, x, tx, T).sum()
    ours_ll = bg_nbd_log_likelihood([bg.params_[k] for k in ("r", "alpha", "a", "b")], x, tx, T).sum()
    print(f"\nlifetimes {lifetimes.__version__} BetaGeoFitter.fit: {lifetimes_time:.3f} s (one run, all {len(x):,} rows)")
    print("  params " + ", ".join(f"{k}={v:.4f}" for k, v in zip(("r", "alpha", "a", "b"), ref_params)))

    # Second reference: lifetimes given the same collapsed rows and weights that our fit builds.
    collapsed = data.groupby(["frequency", "recency", "T"], sort=False).size().reset_index(name="n")
    start = time.perf_counter()
    weighted = lifetimes.BetaGeoFitter().fit(collapsed["frequency"], collapsed["recency"], collapsed["T"], weights=collapsed["n"])
    weighted_time = time.perf_counter() - start
    weighted_ll = bg_nbd_log_likelihood([weighted.params_[k] for k in ("r", "alpha", "a", "b")], x, tx, T).sum()
    print(f"lifetimes BetaGeoFitter.fit on {len(collapsed):,} collapsed rows with weights: {weighted_time:.3f} s")

    print(f"\nspeed-up, lifetimes (all rows) / regulars: {lifetimes_time / best:.1f}x best-of-3, {lifetimes_time / first:.1f}x first run")
    print(f"speed-up, lifetimes (collapsed, weights) / regulars: {weighted_time / best:.1f}x best-of-3, {weighted_time / first:.1f}x first run")
    print("full log-likelihood at each fit (constants included):")
    print(f"  regulars {ours_ll:,.3f}   lifetimes {ref_ll:,.3f} (diff {ours_ll - ref_ll:+.3f})   "
          f"lifetimes weighted {weighted_ll:,.3f} (diff {ours_ll - weighted_ll:+.3f})")


if __name__ == "__main__":
    main()
