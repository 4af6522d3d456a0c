"""Benchmark: sentiment + topics of 1M texts (target <= 120 s on 2 cores).

Writes a workspace with N reviews, tickets and survey comments (default 1,000,000 in all: half
reviews, 30% tickets, 20% comments) composed from the demo shop's fragments with random products
and names (about 2% in other languages), then runs the text job (``analyse_texts``: read, language,
VADER sentiment in parallel, topics per source, write) and prints its time per phase next to a
reference: plain VADER on one core over the same texts (what scoring alone costs without the
job's parallelism).

    python benchmarks/text_bench.py [--texts 1000000] [--workspace /tmp/text-bench.duckdb]

Measured (2 cores, shared machine; see docs/text.md for the load at the time): printed by the run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)


WHO = ["me", "my partner", "my mum", "my dad", "the office", "my sister", "a friend", "my neighbour", "the team",
       "my brother", "my husband", "my wife", "our cafe", "my grandmother", "my flatmate"]
DEVICES = ["pour-over", "French press", "moka pot", "Aeropress", "drip machine", "espresso machine", "Chemex",
           "cold brew jar", "teapot", "kettle"]


def variety(rng: np.random.Generator, n: int) -> pa.Array:
    """A random everyday sentence per text (numbers, people, devices), so that texts are not
    template copies: real reviews seldom repeat word for word."""
    kind = rng.integers(0, 4, n)
    a = rng.integers(1, 31, n)
    who = np.asarray(WHO, dtype=object)[rng.integers(0, len(WHO), n)]
    dev = np.asarray(DEVICES, dtype=object)[rng.integers(0, len(DEVICES), n)]
    out = np.where(kind == 0, [f" Bought it {x} days ago for {w}." for x, w in zip(a, who)],
          np.where(kind == 1, [f" I use it in a {d} with {x + 10} grams." for x, d in zip(a, dev)],
          np.where(kind == 2, [f" Ordering for {w} every {x} weeks." for x, w in zip(a, who)],
                   [f" {w.capitalize()} tried it too, {x} cups so far." for x, w in zip(a, who)])))
    return pa.array(out.astype(str))


def make_texts(n: int, seed: int = 0) -> dict[str, pa.Table]:
    from regulars.demo import texts as T
    from regulars.demo.catalog import Catalog
    from regulars.demo.people import FIRST_NAMES

    rng = np.random.default_rng(seed)
    cat = Catalog.build(700)
    products = pa.array(cat.name)
    n_rev, n_tic = n // 2, int(n * 0.3)
    n_sur = n - n_rev - n_tic
    out = {}
    # reviews
    aspect = np.asarray(T.REVIEW_ASPECTS, dtype=object)[rng.integers(0, len(T.REVIEW_ASPECTS), n_rev)]
    sentiment = np.asarray(T.SENTIMENTS, dtype=object)[rng.choice(3, n_rev, p=[0.6, 0.2, 0.2])]
    language = np.where(rng.random(n_rev) < 0.02, np.asarray(list(T.FOREIGN_REVIEWS), dtype=object)[
        rng.integers(0, len(T.FOREIGN_REVIEWS), n_rev)], "en").astype(object)
    prod = products.take(pa.array(rng.integers(0, len(products), n_rev)))
    body = T.review_texts(rng, aspect, sentiment, language, product=prod)
    body = pa.compute.if_else(pa.array(language == "en"), pa.compute.binary_join_element_wise(body, variety(rng, n_rev), ""), body)
    out["reviews"] = pa.table({"review_id": pa.array([f"R{i:09d}" for i in range(n_rev)]),
                               "customer_id": pa.array([f"C{i % 400_000:07d}" for i in range(n_rev)]),
                               "product_id": pa.array(rng.integers(0, len(products), n_rev).astype(str)),
                               "rating": pa.array(np.where(sentiment == "positive", 5, np.where(sentiment == "neutral", 3, 1))),
                               "body": body})
    topic = np.asarray(list(T.TICKETS), dtype=object)[rng.integers(0, len(T.TICKETS), n_tic)]
    names = pa.array(np.asarray(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n_tic)].astype(str))
    orders = pa.array([f"O{x:07d}" for x in rng.integers(100_000, 9_999_999, n_tic)])
    body, _ = T.ticket_texts(rng, topic, order=orders, product=products.take(pa.array(rng.integers(0, len(products), n_tic))),
                             first_name=names)
    body = pa.compute.binary_join_element_wise(body, variety(rng, n_tic), "")
    out["tickets"] = pa.table({"ticket_id": pa.array([f"T{i:09d}" for i in range(n_tic)]),
                               "customer_id": pa.array([f"C{i % 400_000:07d}" for i in range(n_tic)]),
                               "topic": pa.array(topic.astype(str)), "body": body,
                               "csat": pa.array(rng.integers(1, 6, n_tic))})
    feel = np.asarray(T.SENTIMENTS, dtype=object)[rng.choice(3, n_sur, p=[0.5, 0.25, 0.25])]
    comment, _ = T.survey_texts(rng, feel)
    comment = pa.compute.binary_join_element_wise(comment, variety(rng, n_sur), "")
    out["surveys"] = pa.table({"response_id": pa.array([f"S{i:09d}" for i in range(n_sur)]),
                               "customer_id": pa.array([f"C{i % 400_000:07d}" for i in range(n_sur)]),
                               "score": pa.array(rng.integers(0, 11, n_sur)), "comment": comment})
    return out


def load(ws, tables: dict[str, pa.Table]) -> None:
    con = ws._con
    start = "TIMESTAMP '2024-01-01'"
    con.register("_r", tables["reviews"])
    con.execute(f"INSERT INTO reviews (review_id, customer_id, product_id, rating, body, created_at) SELECT review_id, "
                f"customer_id, product_id, rating, body, {start} + to_minutes(row_number() OVER () % 900000) FROM _r")
    con.register("_t", tables["tickets"])
    con.execute(f"INSERT INTO tickets (ticket_id, customer_id, opened_at, topic, body, csat) SELECT ticket_id, "
                f"customer_id, {start} + to_minutes(row_number() OVER () % 900000), topic, body, csat FROM _t")
    con.register("_s", tables["surveys"])
    con.execute(f"INSERT INTO surveys (response_id, customer_id, survey, score, comment, answered_at) SELECT "
                f"response_id, customer_id, 'nps', score, comment, {start} + to_minutes(row_number() OVER () % 900000) FROM _s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args()
    from regulars import Workspace
    from regulars.jobs.text import analyse_texts

    folder = tempfile.mkdtemp(prefix="text-bench-")
    path = args.workspace or os.path.join(folder, "bench.duckdb")
    t = time.perf_counter()
    tables = make_texts(args.texts)
    ws = Workspace(path, memory_limit="4GB")
    load(ws, tables)
    every = [x for tab in tables.values() for x in tab.column("body" if "body" in tab.column_names else "comment").to_pylist()]
    print(f"generated and loaded {args.texts:,} texts in {time.perf_counter() - t:.1f}s "
          f"({len(set(every)) / len(every):.0%} distinct)")
    print(f"load average before: {os.getloadavg()}")
    t = time.perf_counter()
    result = analyse_texts(ws)
    job = time.perf_counter() - t
    print(f"text job: {job:.1f}s for {result.texts:,} texts ({result.analysed:,} analysed); phases "
          + ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items()) + f"; topics {result.topics}")
    print(f"load average after: {os.getloadavg()}")
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sample = every
    analyzer = SentimentIntensityAnalyzer()
    t = time.perf_counter()
    for x in sample:
        analyzer.polarity_scores(x)
    ref = time.perf_counter() - t
    print(f"reference, plain VADER on one core over the same texts: {ref:.1f}s")
    print(f"ratio job / reference: {job / ref:.2f} (the job also detects languages, fits topics, reads and writes)")
    print(f"target: <= 120 s for 1M texts -> {'met' if job <= 120 * args.texts / 1_000_000 else 'NOT met'}")
    ws.close()


if __name__ == "__main__":
    main()
