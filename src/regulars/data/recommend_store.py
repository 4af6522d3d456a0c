"""Stored recommendations and next best actions: their DDL, and the functions that write and read them.

Tables (created by the migration that calls :func:`create_statements`):

``recommendations``
    one row per customer x rank and ``as_of``: the product, its score, the reason in words,
    which part of the hybrid it came from, whether it is personal, the recommender served
    (``hybrid`` or ``popularity``) and its version.
``product_pairs``
    one row per "bought together" rule A -> B and ``as_of``: baskets with both, support,
    confidence and lift.
``recommend_runs``
    one row per run of the recommendation job: what was served and why, counts and timings.
``recommend_evaluations``
    one row per offline evaluation, recommender and metric, next to popularity's value, with a
    plain sentence.
``next_actions``
    one row per customer and ``as_of``: the chosen action (``do_nothing`` included), its
    channel, the expected incremental value and how it was computed, and one sentence of reasons.
``next_action_runs``
    one row per run of the next-action job: counts per action, the catalogue used.
``action_uplift``
    measured response uplift per action (and optionally per segment), e.g. written by an
    experiment; the next-action job prefers it to the catalogue's prior (see
    :func:`read_action_uplift`).

Every writer replaces the rows of the same ``as_of`` (or run) in one transaction, so a failed
run leaves the previous results in place. Recommendations and actions are written sorted by
customer so that one customer's rows are found by DuckDB's min/max indexes without a scan.

Examples
--------
>>> [name for name, _ in TABLES][:2]
['recommendations', 'product_pairs']
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from regulars.data.predictions_store import _replace  # one writer for derived tables: replace rows in one transaction

RECOMMENDATIONS = (
    ("customer_id", "VARCHAR"), ("as_of", "DATE"), ("rank", "INTEGER"), ("product_id", "VARCHAR"),
    ("product_name", "VARCHAR"), ("score", "DOUBLE"), ("reason", "VARCHAR"), ("source", "VARCHAR"),
    ("is_personal", "BOOLEAN"), ("served", "VARCHAR"), ("model_version", "VARCHAR"), ("run_id", "VARCHAR"),
)
PRODUCT_PAIRS = (
    ("as_of", "DATE"), ("product_id", "VARCHAR"), ("other_product_id", "VARCHAR"), ("baskets", "BIGINT"),
    ("support", "DOUBLE"), ("confidence", "DOUBLE"), ("lift", "DOUBLE"), ("product_baskets", "BIGINT"),
    ("other_baskets", "BIGINT"), ("model_version", "VARCHAR"), ("run_id", "VARCHAR"),
)
RECOMMEND_RUNS = (
    ("run_id", "VARCHAR"), ("as_of", "DATE"), ("finished_at", "TIMESTAMP"), ("served", "VARCHAR"),
    ("served_reason", "VARCHAR"), ("customers", "BIGINT"), ("rows", "BIGINT"), ("model_version", "VARCHAR"),
    ("summary", "JSON"), ("timings", "JSON"),
)
RECOMMEND_EVALUATIONS = (
    ("run_id", "VARCHAR"), ("run_at", "TIMESTAMP"), ("cutoff", "DATE"), ("horizon_days", "INTEGER"),
    ("k", "INTEGER"), ("recommender", "VARCHAR"), ("metric", "VARCHAR"), ("value", "DOUBLE"),
    ("baseline_value", "DOUBLE"), ("customers", "BIGINT"), ("sentence", "VARCHAR"), ("model_version", "VARCHAR"),
)
NEXT_ACTIONS = (
    ("customer_id", "VARCHAR"), ("as_of", "DATE"), ("action", "VARCHAR"), ("channel", "VARCHAR"),
    ("expected_value", "DOUBLE"), ("p_response", "DOUBLE"), ("uplift", "DOUBLE"), ("uplift_source", "VARCHAR"),
    ("value", "DOUBLE"), ("cost", "DOUBLE"), ("product_id", "VARCHAR"), ("reason", "VARCHAR"),
    ("assumption", "VARCHAR"), ("model_version", "VARCHAR"), ("run_id", "VARCHAR"),
)
NEXT_ACTION_RUNS = (
    ("run_id", "VARCHAR"), ("as_of", "DATE"), ("finished_at", "TIMESTAMP"), ("customers", "BIGINT"),
    ("summary", "JSON"), ("catalogue", "JSON"), ("timings", "JSON"),
)
ACTION_UPLIFT = (
    ("action", "VARCHAR"), ("segment_id", "VARCHAR"), ("uplift", "DOUBLE"), ("source", "VARCHAR"),
    ("measured_at", "TIMESTAMP"), ("experiment_id", "VARCHAR"), ("note", "VARCHAR"),
)

TABLES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("recommendations", RECOMMENDATIONS),
    ("product_pairs", PRODUCT_PAIRS),
    ("recommend_runs", RECOMMEND_RUNS),
    ("recommend_evaluations", RECOMMEND_EVALUATIONS),
    ("next_actions", NEXT_ACTIONS),
    ("next_action_runs", NEXT_ACTION_RUNS),
    ("action_uplift", ACTION_UPLIFT),
)


def create_statements() -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` for every table above (used by the migration)."""
    out = []
    for name, columns in TABLES:
        body = ", ".join(f"{c} {t}" for c, t in columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {name} ({body})")
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# -- writing -----------------------------------------------------------------------------------
def write_recommendations(ws, frame: pd.DataFrame, pairs: pd.DataFrame, run: dict) -> dict[str, int]:
    """Replace the recommendations and pairs of ``run["as_of"]`` and record the run, in one go each."""
    as_of = run["as_of"]
    if len(frame) and not (frame["customer_id"].is_monotonic_increasing):
        frame = frame.sort_values(["customer_id", "rank"], kind="stable")
    rows = _replace(ws, "recommendations", RECOMMENDATIONS, frame, "as_of = ?", [as_of])
    n_pairs = _replace(ws, "product_pairs", PRODUCT_PAIRS, pairs, "as_of = ?", [as_of])
    _replace(ws, "recommend_runs", RECOMMEND_RUNS, pd.DataFrame([{**run, "finished_at": _now()}]),
             "run_id = ?", [run["run_id"]])
    return {"recommendations": rows, "product_pairs": n_pairs}


def write_evaluation(ws, frame: pd.DataFrame, run_id: str) -> int:
    return _replace(ws, "recommend_evaluations", RECOMMEND_EVALUATIONS, frame, "run_id = ?", [run_id])


def write_next_actions(ws, frame: pd.DataFrame, run: dict) -> int:
    """Replace the next actions of ``run["as_of"]`` and record the run."""
    frame = frame.sort_values("customer_id", kind="stable") if len(frame) else frame
    rows = _replace(ws, "next_actions", NEXT_ACTIONS, frame, "as_of = ?", [run["as_of"]])
    _replace(ws, "next_action_runs", NEXT_ACTION_RUNS, pd.DataFrame([{**run, "finished_at": _now()}]),
             "run_id = ?", [run["run_id"]])
    return rows


def record_uplift(ws, action: str, uplift: float, source: str, segment_id: str | None = None,
                  experiment_id: str | None = None, note: str | None = None) -> None:
    """Store a measured response uplift for ``action`` (and ``segment_id``), e.g. from an experiment."""
    if not 0.0 <= float(uplift) <= 1.0:
        raise ValueError(f"uplift is a probability between 0 and 1, got {uplift}")
    ws._con.execute("INSERT INTO action_uplift VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [action, segment_id, float(uplift), source, _now(), experiment_id, note])


# -- reading -----------------------------------------------------------------------------------
def latest_as_of(ws, table: str) -> dt.date | None:
    if table not in dict(TABLES):
        raise ValueError(f"{table!r} is not a recommendation table")
    rows = ws._con.execute(f"SELECT max(as_of) FROM {table}").fetchall()
    return rows[0][0] if rows else None


def read_recommendations(ws, customer_id: str | None = None, as_of: dt.date | None = None,
                         k: int | None = None) -> pd.DataFrame:
    """Stored recommendations of ``as_of`` (default: the latest), optionally one customer's, top ``k``."""
    as_of = as_of or latest_as_of(ws, "recommendations")
    if as_of is None:
        return pd.DataFrame(columns=[c for c, _ in RECOMMENDATIONS])
    query, params = "SELECT * FROM recommendations WHERE as_of = ?", [as_of]
    if customer_id is not None:
        query += " AND customer_id = ?"
        params.append(customer_id)
    if k is not None:
        query += " AND rank <= ?"
        params.append(int(k))
    return ws.sql(query + " ORDER BY customer_id, rank", params)


#: Text that a spreadsheet would evaluate (the same rule as ``regulars.reports.csv_safe``; a test keeps them equal).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _safe_text(column: str) -> str:
    """SQL for ``column`` with a leading apostrophe when it starts like a formula (CSV injection)."""
    starts = " OR ".join(f"starts_with({column}, chr({ord(c)}))" for c in FORMULA_START)
    return f"CASE WHEN {starts} THEN chr(39) || {column} ELSE {column} END AS {column}"


def export_recommendations_csv(ws, path: str, k: int, as_of: dt.date | None = None) -> int:
    """Write every customer's top ``k`` as CSV (``customer_id, rank, product_id, product_name, score, reason``)
    to ``path`` with DuckDB's own writer (a million customers in seconds), every text cell safe to open in a
    spreadsheet; return the rows written."""
    as_of = as_of or latest_as_of(ws, "recommendations")
    if as_of is None:
        return 0
    n = ws._con.execute("SELECT count(*) FROM recommendations WHERE as_of = ? AND rank <= ?", [as_of, int(k)]).fetchall()[0][0]
    day = pd.Timestamp(as_of).date().isoformat()
    ws._con.execute(
        f"COPY (SELECT {_safe_text('customer_id')}, rank, {_safe_text('product_id')}, {_safe_text('product_name')}, "
        f"score, {_safe_text('reason')} FROM recommendations "
        f"WHERE as_of = DATE '{day}' AND rank <= {int(k)} ORDER BY customer_id, rank) "
        f"TO '{path}' (HEADER, DELIMITER ',')")
    return int(n)


def read_pairs(ws, product_id: str | None = None, as_of: dt.date | None = None, limit: int | None = None,
               min_lift: float | None = None) -> pd.DataFrame:
    """Stored bought-together rules (latest ``as_of``), by lift; one product's when given, with names."""
    as_of = as_of or latest_as_of(ws, "product_pairs")
    if as_of is None:
        return pd.DataFrame(columns=[c for c, _ in PRODUCT_PAIRS] + ["product_name", "other_product_name"])
    query = ("SELECT r.*, p.name AS product_name, o.name AS other_product_name FROM product_pairs r "
             "LEFT JOIN products p ON p.product_id = r.product_id "
             "LEFT JOIN products o ON o.product_id = r.other_product_id WHERE r.as_of = ?")
    params: list = [as_of]
    if product_id is not None:
        query += " AND r.product_id = ?"
        params.append(product_id)
    if min_lift is not None:
        query += " AND r.lift >= ?"
        params.append(float(min_lift))
    query += " ORDER BY r.lift DESC, r.baskets DESC, r.product_id, r.other_product_id"
    if limit is not None:
        query += " LIMIT ?"
        params.append(int(limit))
    return ws.sql(query, params)


def read_run(ws, table: str = "recommend_runs") -> dict | None:
    """The latest run of the recommendation (or next-action) job, JSON parsed."""
    if table not in ("recommend_runs", "next_action_runs"):
        raise ValueError(table)
    df = ws.sql(f"SELECT * FROM {table} ORDER BY finished_at DESC LIMIT 1")
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    for key in ("summary", "timings", "catalogue"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def read_evaluation(ws, run_id: str | None = None) -> pd.DataFrame:
    """Rows of one evaluation (default: the latest)."""
    if run_id is None:
        rows = ws._con.execute("SELECT run_id FROM recommend_evaluations ORDER BY run_at DESC LIMIT 1").fetchall()
        if not rows:
            return pd.DataFrame(columns=[c for c, _ in RECOMMEND_EVALUATIONS])
        run_id = rows[0][0]
    return ws.sql("SELECT * FROM recommend_evaluations WHERE run_id = ? ORDER BY rowid", [run_id])


def read_next_actions(ws, as_of: dt.date | None = None, customer_id: str | None = None,
                      segment_id: str | None = None, action: str | None = None, limit: int | None = None,
                      offset: int = 0, include_nothing: bool = True) -> pd.DataFrame:
    """Stored next actions of ``as_of`` (default: the latest), optionally of one customer, of the
    current members of a segment, or of one action; highest expected value first."""
    as_of = as_of or latest_as_of(ws, "next_actions")
    if as_of is None:
        return pd.DataFrame(columns=[c for c, _ in NEXT_ACTIONS])
    query, params = "SELECT a.* FROM next_actions a WHERE a.as_of = ?", [as_of]
    if customer_id is not None:
        query += " AND a.customer_id = ?"
        params.append(customer_id)
    if segment_id is not None:
        query += " AND a.customer_id IN (SELECT customer_id FROM segment_memberships WHERE segment_id = ?)"
        params.append(segment_id)
    if action is not None:
        query += " AND a.action = ?"
        params.append(action)
    if not include_nothing:
        query += " AND a.action <> 'do_nothing'"
    query += " ORDER BY a.expected_value DESC, a.customer_id"
    if limit is not None:
        query += " LIMIT ? OFFSET ?"
        params += [int(limit), int(offset)]
    return ws.sql(query, params)


def next_action_counts(ws, as_of: dt.date | None = None, segment_id: str | None = None) -> pd.DataFrame:
    """Per action and channel: customers and total expected value (latest ``as_of``)."""
    as_of = as_of or latest_as_of(ws, "next_actions")
    if as_of is None:
        return pd.DataFrame(columns=["action", "channel", "customers", "expected_value"])
    query, params = ("SELECT action, channel, count(*) AS customers, sum(expected_value) AS expected_value "
                     "FROM next_actions WHERE as_of = ?"), [as_of]
    if segment_id is not None:
        query += " AND customer_id IN (SELECT customer_id FROM segment_memberships WHERE segment_id = ?)"
        params.append(segment_id)
    return ws.sql(query + " GROUP BY ALL ORDER BY action, channel", params)


def current_personalization(ws, customer_id: str) -> bool:
    """The customer's consent to personalisation now: the latest decision, else her flag, else yes."""
    rows = ws._con.execute(
        "SELECT coalesce((SELECT is_granted FROM consents WHERE customer_id = ? AND purpose = 'personalization' "
        "ORDER BY recorded_at DESC, is_granted DESC LIMIT 1), (SELECT accepts_personalization FROM customers "
        "WHERE customer_id = ?), true)", [customer_id, customer_id]).fetchall()
    return bool(rows[0][0])


ITEM_FIELDS = ("rank", "product_id", "product_name", "score", "reason", "source", "is_personal")


def opted_out_customers(ws) -> frozenset:
    """Customers who refuse personalisation now (latest decision in ``consents``, else their flag)."""
    rows = ws._con.execute(
        "WITH latest AS (SELECT customer_id, arg_max(is_granted, (recorded_at, is_granted)) AS granted "
        "FROM consents WHERE purpose = 'personalization' GROUP BY customer_id) "
        "SELECT c.customer_id FROM customers c LEFT JOIN latest l USING (customer_id) "
        "WHERE NOT coalesce(l.granted, c.accepts_personalization, true)").fetchall()
    return frozenset(r[0] for r in rows)


def customer_offer(ws, customer_id: str, as_of: dt.date | None, k: int,
                   opted_out: frozenset | None = None) -> tuple[bool, bool, list[dict]]:
    """Whether the customer exists, her consent to personalisation now (latest decision, else her flag,
    else yes) and her stored top ``k`` of ``as_of``. With ``opted_out`` (from :func:`opted_out_customers`,
    which a server caches) a customer with stored recommendations costs one point query."""
    items = [] if as_of is None else [dict(zip(ITEM_FIELDS, r)) for r in ws._con.execute(
        f"SELECT {', '.join(ITEM_FIELDS)} FROM recommendations WHERE as_of = ? AND customer_id = ? AND rank <= ? "
        "ORDER BY rank", [as_of, customer_id, int(k)]).fetchall()]
    if items and opted_out is not None:
        return True, customer_id not in opted_out, items
    rows = ws._con.execute(
        "SELECT (SELECT is_granted FROM consents WHERE customer_id = $1 AND purpose = 'personalization' "
        "ORDER BY recorded_at DESC, is_granted DESC LIMIT 1), "
        "(SELECT list(accepts_personalization) FROM customers WHERE customer_id = $1)", [customer_id]).fetchall()
    decided, flags = rows[0]
    exists = bool(items) or bool(flags)
    personal = decided if decided is not None else (flags[0] if flags and flags[0] is not None else True)
    return exists, bool(personal), items


def top_product_names(ws, customer_ids: list[str], as_of: dt.date, k: int) -> pd.DataFrame:
    """``customer_id, rank, product_name, is_personal`` of the stored top ``k`` of ``as_of`` for *customer_ids*."""
    return ws.sql("SELECT customer_id, rank, coalesce(product_name, product_id) AS product_name, is_personal "
                  "FROM recommendations WHERE as_of = ? AND rank <= ? AND customer_id IN (SELECT unnest(?::VARCHAR[])) "
                  "ORDER BY customer_id, rank", [as_of, int(k), list(customer_ids)])


def product_info(ws, product_id: str) -> dict | None:
    """One product of the catalogue or of the order lines: id, name, category, price, is_active."""
    rows = ws.sql(
        "SELECT ? AS product_id, coalesce(p.name, l.name) AS name, coalesce(p.category, l.category) AS category, "
        "p.price::DOUBLE AS price, p.is_active FROM (SELECT 1) "
        "LEFT JOIN products p ON p.product_id = ? "
        "LEFT JOIN (SELECT max(product_name) AS name, max(category) AS category FROM order_lines "
        "WHERE product_id = ?) l ON true", [product_id, product_id, product_id])
    row = {k: (None if pd.isna(v) else v) for k, v in rows.iloc[0].to_dict().items()}
    return None if row["name"] is None and row["category"] is None and row["price"] is None else row


def recommended_counts(ws, as_of: dt.date | None = None, k: int = 3) -> pd.DataFrame:
    """Per product: to how many customers it is recommended in their top ``k`` (latest ``as_of``)."""
    as_of = as_of or latest_as_of(ws, "recommendations")
    if as_of is None:
        return pd.DataFrame(columns=["product_id", "product_name", "customers"])
    return ws.sql("SELECT product_id, max(product_name) AS product_name, count(*) AS customers FROM recommendations "
                  "WHERE as_of = ? AND rank <= ? GROUP BY ALL ORDER BY customers DESC, product_id", [as_of, int(k)])


def read_action_uplift(ws) -> pd.DataFrame:
    """The latest measured uplift per action and segment (``segment_id`` null = every customer)."""
    return ws.sql(
        "SELECT action, segment_id, uplift, source, measured_at, experiment_id FROM ("
        " SELECT *, row_number() OVER (PARTITION BY action, coalesce(segment_id, '') ORDER BY measured_at DESC) AS n"
        " FROM action_uplift) WHERE n = 1 ORDER BY action, segment_id NULLS FIRST")


def contact_names(ws, customer_ids) -> pd.DataFrame:
    """``customer_id, first_name, last_name, email, phone`` of the given customers (for exports)."""
    ids = pd.DataFrame({"customer_id": pd.Series(list(customer_ids), dtype=object)})
    ws._con.register("_ids", ids)
    try:
        return ws.sql("SELECT c.customer_id, c.first_name, c.last_name, c.email, c.phone FROM customers c "
                      "JOIN _ids USING (customer_id)")
    finally:
        ws._con.unregister("_ids")
