"""What the text analysis stores, and the queries behind the text reports.

Tables (created by the migration that calls :func:`create_statements`):

``text_scores``
    one row per analysed text of the latest run (review, ticket or survey comment): language,
    whether it was analysed, VADER scores and label, main topic and its weight. The text itself
    stays in its source table (so erasing a customer erases their words); quotes are read from
    there.
``text_topics``
    one row per topic and run: label, top words, the word signature used to keep topic ids
    stable across runs, how many texts it holds, and the run it first appeared in.
``text_runs``
    one row per run of the text analysis: counts, languages found, parameters, seconds.
``demo_truth_texts``
    the demo shop only: each text's planted language, sentiment and topic.
``text_feature_decisions``
    one row per comparison of the churn model with and without customer text features: the
    backtest metrics of both and whether the features are kept.

Examples
--------
>>> [s.split("(")[0].split()[-1] for s in create_statements()]
['text_scores', 'text_topics', 'text_runs', 'demo_truth_texts', 'text_feature_decisions']
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa

from regulars.data.inserts import insert
from regulars.data.connection import connection

SOURCES = {  # source -> (table, id column, text column, time column, score column, product column)
    "reviews": ("reviews", "review_id", "body", "created_at", "rating", "product_id"),
    "tickets": ("tickets", "ticket_id", "body", "opened_at", "csat", None),
    "surveys": ("surveys", "response_id", "comment", "answered_at", "score", None),
}

SCORES = (
    ("source", "VARCHAR"), ("text_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("product_id", "VARCHAR"),
    ("written_at", "TIMESTAMP"), ("language", "VARCHAR"), ("is_analysed", "BOOLEAN"), ("compound", "DOUBLE"),
    ("positive", "DOUBLE"), ("neutral", "DOUBLE"), ("negative", "DOUBLE"), ("sentiment", "VARCHAR"),
    ("topic_id", "INTEGER"), ("topic_weight", "DOUBLE"), ("score", "INTEGER"), ("run_id", "VARCHAR"),
)
TOPICS = (
    ("run_id", "VARCHAR"), ("source", "VARCHAR"), ("topic_id", "INTEGER"), ("label", "VARCHAR"),
    ("top_words", "JSON"), ("signature", "JSON"), ("texts", "BIGINT"), ("first_run_id", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
)
RUNS = (
    ("run_id", "VARCHAR"), ("finished_at", "TIMESTAMP"), ("texts", "BIGINT"), ("analysed", "BIGINT"),
    ("languages", "JSON"), ("params", "JSON"), ("seconds", "DOUBLE"),
)
FEATURE_DECISIONS = (
    ("decided_at", "TIMESTAMP"), ("cutoff", "DATE"), ("use", "BOOLEAN"), ("n", "BIGINT"), ("auc_with", "DOUBLE"),
    ("auc_without", "DOUBLE"), ("brier_with", "DOUBLE"), ("brier_without", "DOUBLE"), ("sentence", "VARCHAR"),
)
#: The decisions' columns since per-group verdicts were added (:func:`feature_groups_statements`).
FEATURE_DECISIONS_V2 = FEATURE_DECISIONS + (("groups", "JSON"),)
DEMO_TRUTH = (
    ("source", "VARCHAR"), ("text_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("language", "VARCHAR"),
    ("sentiment", "VARCHAR"), ("topic", "VARCHAR"),
)


def _create(name: str, columns) -> str:
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(f'{c} {t}' for c, t in columns)})"


def create_statements() -> list[str]:
    """``CREATE TABLE`` statements for the migration that adds the text analysis."""
    return [_create("text_scores", SCORES), _create("text_topics", TOPICS), _create("text_runs", RUNS),
            _create("demo_truth_texts", DEMO_TRUTH), _create("text_feature_decisions", FEATURE_DECISIONS)]


def feature_groups_statements() -> list[str]:
    """The migration that adds per-group verdicts (sentiment, complaint topic) to the text feature decisions."""
    return ["ALTER TABLE text_feature_decisions ADD COLUMN IF NOT EXISTS groups JSON"]


# -- reading the texts ---------------------------------------------------------------------------
def texts_query() -> str:
    """Every non-empty review body, ticket body and survey comment, one row each."""
    parts = []
    for source, (table, key, text, at, score, product) in SOURCES.items():
        parts.append(
            f"SELECT '{source}' AS source, {key}::VARCHAR AS text_id, customer_id, "
            f"{product if product else 'NULL'}::VARCHAR AS product_id, {at} AS written_at, {text} AS text, "
            f"{score}::INTEGER AS score FROM {table} WHERE {text} IS NOT NULL AND length(trim({text})) > 0")
    return " UNION ALL ".join(parts)


def read_texts(ws) -> pa.Table:
    """The texts to analyse, as an Arrow table (ordered by source and id, for repeatable runs)."""
    return connection(ws).sql(texts_query() + " ORDER BY source, text_id").to_arrow_table()


def product_words(ws) -> set[str]:
    """The words of the shop's product names (lower case, letters only)."""
    import re

    names = [r[0] for r in connection(ws).execute("SELECT DISTINCT name FROM products WHERE name IS NOT NULL").fetchall()]
    return {w for n in names for w in re.findall(r"[^\W\d_]{3,}", n.lower())}


def customer_name_words(ws) -> set[str]:
    """Every first and last name of the shop's customers, lower case (kept out of topic words)."""
    rows = connection(ws).execute("SELECT DISTINCT lower(trim(n)) FROM (SELECT first_name AS n FROM customers UNION ALL "
                          "SELECT last_name FROM customers) WHERE n IS NOT NULL").fetchall()
    return {r[0] for r in rows if r[0]}


def sample_texts(ws, n: int = 2000) -> list[str]:
    """At most *n* texts, a repeatable sample (every text when there are fewer)."""
    rows = connection(ws).execute(f"SELECT text FROM ({texts_query()}) ORDER BY hash(source || text_id) LIMIT ?",
                          [int(n)]).fetchall()
    return [r[0] for r in rows]


def count_texts(ws) -> int:
    return connection(ws).execute(f"SELECT count(*) FROM ({texts_query()})").fetchall()[0][0]


# -- writing a run -------------------------------------------------------------------------------
def write_run(ws, scores: pa.Table, topics: pd.DataFrame, run: dict) -> None:
    """Replace the scores with this run's, add its topics and its run row: one transaction."""
    topics = topics.copy()
    for col in ("top_words", "signature"):
        topics[col] = topics[col].map(lambda v: json.dumps(v))
    run = {**run, "languages": json.dumps(run.get("languages", {})), "params": json.dumps(run.get("params", {}))}
    con = connection(ws)
    with ws.transaction():
        con.execute("DELETE FROM text_scores")
        insert(con, "text_scores", SCORES, scores)
        con.execute("DELETE FROM text_topics WHERE run_id = ?", [run["run_id"]])
        insert(con, "text_topics", TOPICS, topics)
        insert(con, "text_runs", RUNS, pd.DataFrame([run]))


def write_text_truth(ws, frame: pd.DataFrame) -> int:
    """Replace ``demo_truth_texts`` with *frame* (the demo generator's planted text truth)."""
    con = connection(ws)
    with ws.transaction():
        con.execute("DELETE FROM demo_truth_texts")
        insert(con, "demo_truth_texts", DEMO_TRUTH, frame)
    return ws.count("demo_truth_texts")


# -- reading results -------------------------------------------------------------------------------
def latest_run(ws) -> dict | None:
    rows = ws.sql("SELECT * FROM text_runs ORDER BY finished_at DESC, run_id DESC LIMIT 1")
    if rows.empty:
        return None
    run = rows.iloc[0].to_dict()
    for key in ("languages", "params"):
        run[key] = json.loads(run[key]) if isinstance(run[key], str) else run[key]
    return run


def topics(ws, run_id: str | None = None) -> pd.DataFrame:
    """The topics of one run (default: the latest), with JSON columns parsed."""
    run_id = run_id or (latest_run(ws) or {}).get("run_id")
    if run_id is None:
        return pd.DataFrame(columns=[c for c, _ in TOPICS])
    df = ws.sql("SELECT * FROM text_topics WHERE run_id = ? ORDER BY source, texts DESC, topic_id", [run_id])
    for col in ("top_words", "signature"):
        df[col] = df[col].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return df


def topic_stats(ws) -> pd.DataFrame:
    """Per source and topic: texts, share of the source's analysed texts, mean compound, negative share."""
    return ws.sql(
        "SELECT source, topic_id, count(*) AS texts, "
        "count(*) / sum(count(*)) OVER (PARTITION BY source) AS share, avg(compound) AS mean_sentiment, "
        "avg((sentiment = 'negative')::INTEGER) AS negative_share, avg(score) AS mean_score "
        "FROM text_scores WHERE is_analysed AND topic_id IS NOT NULL GROUP BY 1, 2")


def topic_months(ws, months: int = 12) -> pd.DataFrame:
    """Texts per source, topic and month over the last *months* months with texts."""
    return ws.sql(
        "WITH m AS (SELECT source, topic_id, date_trunc('month', written_at)::DATE AS month FROM text_scores "
        "WHERE is_analysed AND topic_id IS NOT NULL), last AS (SELECT max(month) AS hi FROM m) "
        "SELECT source, topic_id, strftime(month, '%Y-%m') AS month, count(*) AS texts FROM m, last "
        f"WHERE month > hi - INTERVAL {int(months)} MONTH GROUP BY 1, 2, 3 ORDER BY 1, 3, 2")


def topic_change(ws, days: int = 90) -> pd.DataFrame:
    """Each topic's share of its source's texts in the last *days* days and the *days* before."""
    return ws.sql(
        "WITH t AS (SELECT source, topic_id, written_at, max(written_at) OVER () AS hi FROM text_scores "
        "WHERE is_analysed AND topic_id IS NOT NULL), w AS (SELECT source, topic_id, "
        f"CASE WHEN written_at > hi - INTERVAL {int(days)} DAY THEN 'recent' "
        f"WHEN written_at > hi - INTERVAL {2 * int(days)} DAY THEN 'before' END AS period FROM t) "
        "SELECT source, topic_id, period, count(*) AS texts, count(*) / sum(count(*)) OVER (PARTITION BY source, period) "
        "AS share FROM w WHERE period IS NOT NULL GROUP BY 1, 2, 3")


def examples(ws, per_topic: int = 3) -> pd.DataFrame:
    """The texts most typical of each topic (highest topic weight, newest first on ties), with the
    writer's personal fields so quotes can be masked."""
    parts = []
    for source, (table, key, text, _at, _score, _product) in SOURCES.items():
        parts.append(f"SELECT '{source}' AS source, {key}::VARCHAR AS text_id, {text} AS text FROM {table}")
    return ws.sql(
        "WITH ranked AS (SELECT s.*, row_number() OVER (PARTITION BY source, topic_id ORDER BY topic_weight DESC, "
        "written_at DESC, text_id) AS k FROM text_scores s WHERE is_analysed AND topic_id IS NOT NULL) "
        "SELECT r.source, r.topic_id, r.text_id, r.written_at, r.sentiment, r.compound, x.text, "
        "c.first_name, c.last_name, c.email, c.phone, c.postal_code "
        f"FROM ranked r JOIN ({' UNION ALL '.join(parts)}) x USING (source, text_id) "
        f"LEFT JOIN customers c USING (customer_id) WHERE r.k <= {int(per_topic)} "
        "ORDER BY r.source, r.topic_id, r.k")


#: ``--by`` of the sentiment report -> (SQL expression of the group, extra join)
GROUPINGS = {
    None: ("'all'", ""),
    "month": ("strftime(date_trunc('month', s.written_at), '%Y-%m')", ""),
    "source": ("s.source", ""),
    "product": ("coalesce(p.name, s.product_id)", "LEFT JOIN products p ON p.product_id = s.product_id"),
    "segment": ("coalesce(seg.segment, 'no segment')",
                "LEFT JOIN (SELECT m.customer_id, coalesce(d.name, m.segment_id) AS segment "
                "FROM segment_memberships m LEFT JOIN segment_definitions d USING (segment_id) "
                "WHERE m.segment_id LIKE 'rfm:%') seg ON seg.customer_id = s.customer_id"),
}


def sentiment_groups(ws, by: str | None = None) -> pd.DataFrame:
    """Texts, analysed texts, mean compound, positive/negative shares and mean rating or CSAT per group."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of month, product, segment, source; got {by!r}")
    group, join = GROUPINGS[by]
    where = "WHERE s.product_id IS NOT NULL" if by == "product" else ""
    return ws.sql(
        f"SELECT {group} AS grp, count(*) AS texts, count(*) FILTER (WHERE s.is_analysed) AS analysed, "
        "avg(s.compound) AS mean_sentiment, avg((s.sentiment = 'positive')::INTEGER) AS positive_share, "
        "avg((s.sentiment = 'negative')::INTEGER) AS negative_share, "
        "avg(s.score) FILTER (WHERE s.source = 'reviews') AS mean_rating, "
        "avg(s.score) FILTER (WHERE s.source = 'tickets') AS mean_csat "
        f"FROM text_scores s {join} {where} GROUP BY 1 ORDER BY 1")


def languages(ws) -> pd.DataFrame:
    """Texts per source and language, and how many were analysed."""
    return ws.sql("SELECT source, language, count(*) AS texts, count(*) FILTER (WHERE is_analysed) AS analysed "
                  "FROM text_scores GROUP BY 1, 2 ORDER BY 1, 3 DESC")


def scores_with_truth(ws) -> pd.DataFrame:
    """Stored scores next to the demo's planted truth (demo shops only)."""
    return ws.sql("SELECT s.source, s.text_id, s.language, s.is_analysed, s.sentiment, s.compound, s.topic_id, "
                  "t.language AS true_language, t.sentiment AS true_sentiment, t.topic AS true_topic "
                  "FROM text_scores s JOIN demo_truth_texts t USING (source, text_id)")


def customer_text_features(ws, as_of) -> pd.DataFrame:
    """Per customer, from texts written before *as_of* only: mean sentiment, texts written, negative
    texts, and negative support tickets in the 90 days before. (The topic of the last complaint is
    not read from the stored topics, fitted on every text, later ones included: it is fitted again
    on the complaints before *as_of*, see :func:`complaints_before`.)"""
    import datetime as dt

    day = pd.Timestamp(as_of).to_pydatetime()
    return connection(ws).execute(
        "SELECT customer_id, avg(compound) AS text_sentiment, count(*) AS texts_written, "
        "count(*) FILTER (WHERE sentiment = 'negative') AS negative_texts, "
        "count(*) FILTER (WHERE source = 'tickets' AND sentiment = 'negative' AND written_at >= ?) "
        "AS negative_tickets_90d FROM text_scores WHERE is_analysed AND written_at < ? AND customer_id IS NOT NULL "
        "GROUP BY 1", [day - dt.timedelta(days=90), day]).df()


def complaints_before(ws, as_of) -> pd.DataFrame:
    """Every negative analysed text of a known customer written before *as_of*, with its words:
    source, text_id, customer_id, written_at, text, and ``is_last`` (the customer's latest complaint
    before *as_of*; ties broken by source and id, so the choice is repeatable)."""
    parts = [f"SELECT '{source}' AS source, {key}::VARCHAR AS text_id, {text} AS text FROM {table}"
             for source, (table, key, text, _at, _score, _product) in SOURCES.items()]
    return connection(ws).execute(
        "SELECT s.source, s.text_id, s.customer_id, s.written_at, x.text, row_number() OVER (PARTITION BY "
        "s.customer_id ORDER BY s.written_at DESC, s.source DESC, s.text_id DESC) = 1 AS is_last "
        f"FROM text_scores s JOIN ({' UNION ALL '.join(parts)}) x USING (source, text_id) "
        "WHERE s.is_analysed AND s.sentiment = 'negative' AND s.customer_id IS NOT NULL AND s.written_at < ? "
        "ORDER BY s.source, s.text_id", [pd.Timestamp(as_of).to_pydatetime()]).df()


def write_feature_decision(ws, row: dict) -> None:
    """Add one decision; ``row["groups"]`` (per-group verdicts, a dict) is optional."""
    row = {**row, "groups": json.dumps(row["groups"]) if row.get("groups") is not None else None}
    con = connection(ws)
    with ws.transaction():
        insert(con, "text_feature_decisions", FEATURE_DECISIONS_V2, pd.DataFrame([row]))


def latest_feature_decision(ws) -> dict | None:
    """The latest decision, ``groups`` parsed (None for a decision made before groups were judged)."""
    names = [c for c, _ in FEATURE_DECISIONS_V2]
    rows = connection(ws).execute(f"SELECT {', '.join(names)} FROM text_feature_decisions "
                          "ORDER BY decided_at DESC LIMIT 1").fetchall()
    if not rows:
        return None
    decision = dict(zip(names, rows[0]))
    if isinstance(decision["groups"], str):
        decision["groups"] = json.loads(decision["groups"])
    return decision
