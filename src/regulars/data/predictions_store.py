"""Derived prediction tables: their DDL, and the functions that write and read them.

Tables (created by the migration that calls :func:`create_statements`):

``customer_predictions``
    one row per customer and ``as_of`` date: p_alive, expected orders and spend over the
    horizon (with intervals), CLV, churn risk and reasons, next order date (with interval),
    30-day purchase propensity, the data mode and the model versions.
``lead_scores``
    one row per not-yet-customer and ``as_of``: hot / warm / cold, a score and reasons.
``replenishments``
    one row per customer x product bought repeatedly and ``as_of``: typical re-buy interval
    and when the customer is due.
``demand_forecast``
    one row per forecast day and ``as_of``: orders and revenue with intervals.
``backtests``
    one row per backtest run, model and metric: the model's value, the naive baseline's,
    a plain sentence and details (e.g. reliability bins) as JSON.
``prediction_runs``
    one row per ``regulars predict`` run: readiness verdicts (what was refused and why),
    the summary and timings (created by a later migration, :func:`create_run_statements`).

Writing replaces the rows of the same ``as_of`` (predictions) or adds a run (backtests) in
one transaction, so a failed run leaves the previous results in place.

Examples
--------
>>> [name for name, _ in TABLE_COLUMNS][:2]
['customer_predictions', 'lead_scores']
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa

CUSTOMER_PREDICTIONS = (
    ("customer_id", "VARCHAR"),
    ("as_of", "DATE"),
    ("horizon_days", "INTEGER"),
    ("data_mode", "VARCHAR"),  # full | small (pooled estimates, wide intervals)
    ("orders_to_date", "INTEGER"),
    ("last_order_date", "DATE"),
    ("p_alive", "DOUBLE"),
    ("expected_orders", "DOUBLE"),
    ("expected_orders_lower", "DOUBLE"),
    ("expected_orders_upper", "DOUBLE"),
    ("expected_spend", "DOUBLE"),
    ("expected_spend_lower", "DOUBLE"),
    ("expected_spend_upper", "DOUBLE"),
    ("clv", "DOUBLE"),
    ("clv_lower", "DOUBLE"),
    ("clv_upper", "DOUBLE"),
    ("churn_risk", "DOUBLE"),
    ("churn_band", "VARCHAR"),  # low | medium | high
    ("churn_reasons", "JSON"),  # list of sentences, strongest first
    ("propensity_30d", "DOUBLE"),
    ("propensity_reasons", "JSON"),
    ("next_order_date", "DATE"),
    ("next_order_lower", "DATE"),
    ("next_order_upper", "DATE"),
    ("model_versions", "JSON"),
    ("run_id", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
)

LEAD_SCORES = (
    ("customer_id", "VARCHAR"),
    ("as_of", "DATE"),
    ("tier", "VARCHAR"),  # hot | warm | cold
    ("score", "DOUBLE"),
    ("reasons", "JSON"),
    ("last_seen_at", "TIMESTAMP"),
    ("model_version", "VARCHAR"),
    ("run_id", "VARCHAR"),
)

REPLENISHMENTS = (
    ("customer_id", "VARCHAR"),
    ("product_id", "VARCHAR"),
    ("as_of", "DATE"),
    ("product_name", "VARCHAR"),
    ("times_bought", "INTEGER"),
    ("last_bought_date", "DATE"),
    ("typical_interval_days", "DOUBLE"),
    ("due_date", "DATE"),
    ("due_lower", "DATE"),
    ("due_upper", "DATE"),
    ("is_overdue", "BOOLEAN"),
    ("run_id", "VARCHAR"),
)

DEMAND_FORECAST = (
    ("day", "DATE"),
    ("as_of", "DATE"),
    ("orders", "DOUBLE"),
    ("orders_lower", "DOUBLE"),
    ("orders_upper", "DOUBLE"),
    ("revenue", "DOUBLE"),
    ("revenue_lower", "DOUBLE"),
    ("revenue_upper", "DOUBLE"),
    ("is_busy", "BOOLEAN"),
    ("model_version", "VARCHAR"),
    ("run_id", "VARCHAR"),
)

BACKTESTS = (
    ("run_id", "VARCHAR"),
    ("run_at", "TIMESTAMP"),
    ("cutoff", "DATE"),
    ("model", "VARCHAR"),  # churn | propensity | next_order | clv | leads | forecast
    ("model_version", "VARCHAR"),
    ("status", "VARCHAR"),  # ok | warn | refused
    ("horizon_days", "INTEGER"),
    ("population", "VARCHAR"),
    ("n", "BIGINT"),
    ("metric", "VARCHAR"),
    ("value", "DOUBLE"),
    ("baseline", "VARCHAR"),
    ("baseline_value", "DOUBLE"),
    ("sentence", "VARCHAR"),
    ("details", "JSON"),
)

TABLE_COLUMNS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("customer_predictions", CUSTOMER_PREDICTIONS),
    ("lead_scores", LEAD_SCORES),
    ("replenishments", REPLENISHMENTS),
    ("demand_forecast", DEMAND_FORECAST),
    ("backtests", BACKTESTS),
)

PREDICTION_RUNS = (
    ("run_id", "VARCHAR"),
    ("as_of", "DATE"),
    ("horizon_days", "INTEGER"),
    ("finished_at", "TIMESTAMP"),
    ("readiness", "JSON"),  # prediction -> {status, messages}
    ("summary", "JSON"),
    ("timings", "JSON"),
)

#: Derived tables holding one customer's rows (for erasure and right of access).
CUSTOMER_TABLES = ("customer_predictions", "lead_scores", "replenishments")


#: Columns renamed since the tables were first created (schema version 18: a date is ``*_date``,
#: ``*_at`` is a timestamp): table -> {name at version 2: name now}.
RENAMED_COLUMNS = {
    "customer_predictions": {"last_order_at": "last_order_date", "next_order_at": "next_order_date"},
    "replenishments": {"last_bought_at": "last_bought_date", "due_at": "due_date"},
}


def create_statements(original: bool = False) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` for every prediction table; ``original=True``: with the column
    names of schema version 2, which created them (later migrations rename some)."""
    statements = []
    for name, columns in TABLE_COLUMNS:
        old = {now: then for then, now in RENAMED_COLUMNS.get(name, {}).items()} if original else {}
        body = ",\n".join(f"    {old.get(c, c)} {t}" for c, t in columns)
        statements.append(f"CREATE TABLE IF NOT EXISTS {name} (\n{body}\n)")
    return statements


def create_run_statements() -> list[str]:
    """``CREATE TABLE IF NOT EXISTS prediction_runs`` (a later migration than the other tables)."""
    body = ",\n".join(f"    {c} {t}" for c, t in PREDICTION_RUNS)
    return [f"CREATE TABLE IF NOT EXISTS prediction_runs (\n{body}\n)"]


def _conform(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Columns in table order; JSON columns serialised; missing columns as nulls."""
    out = pd.DataFrame(index=frame.index)
    for name, type_ in columns:
        if name not in frame.columns:
            out[name] = None
            continue
        values = frame[name]
        if type_ == "JSON" and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            values = values.map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v, default=str))
        out[name] = values
    return out.reset_index(drop=True)


def _replace(ws, table: str, columns, frame: pd.DataFrame, where: str, params: list) -> int:
    data = _conform(frame, columns)
    con = ws._con
    with ws.transaction():
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        if len(data):
            # through Arrow: DuckDB scans Arrow strings several times faster than Python objects
            con.register("_incoming", pa.Table.from_pandas(data, preserve_index=False))
            try:
                casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns)
                con.execute(f"INSERT INTO {table} SELECT {casts} FROM _incoming")
            finally:
                con.unregister("_incoming")
    return len(data)


def write_customer_predictions(ws, frame: pd.DataFrame, as_of: dt.date) -> int:
    """Replace the ``customer_predictions`` rows of ``as_of`` with ``frame``; return rows written."""
    return _replace(ws, "customer_predictions", CUSTOMER_PREDICTIONS, frame, "as_of = ?", [as_of])


def load_customer_predictions(ws, files: list[str], as_of: dt.date) -> int:
    """Replace the ``customer_predictions`` rows of ``as_of`` with the rows of Parquet *files*
    (written by the Spark executors, :mod:`regulars.data.spark_scoring`); DuckDB reads them
    itself, in one transaction, without passing the rows through Python. Returns rows written."""
    casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in CUSTOMER_PREDICTIONS)
    con = ws._con
    with ws.transaction():
        con.execute("DELETE FROM customer_predictions WHERE as_of = ?", [as_of])
        if not files:
            return 0
        before = con.execute("SELECT count(*) FROM customer_predictions").fetchall()[0][0]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"INSERT INTO customer_predictions SELECT {casts} FROM read_parquet([{listed}])")
        return con.execute("SELECT count(*) FROM customer_predictions").fetchall()[0][0] - before


def write_lead_scores(ws, frame: pd.DataFrame, as_of: dt.date) -> int:
    return _replace(ws, "lead_scores", LEAD_SCORES, frame, "as_of = ?", [as_of])


def write_replenishments(ws, frame: pd.DataFrame, as_of: dt.date) -> int:
    return _replace(ws, "replenishments", REPLENISHMENTS, frame, "as_of = ?", [as_of])


def write_demand_forecast(ws, frame: pd.DataFrame, as_of: dt.date) -> int:
    return _replace(ws, "demand_forecast", DEMAND_FORECAST, frame, "as_of = ?", [as_of])


def write_prediction_run(ws, run: dict) -> int:
    """Record one ``regulars predict`` run (readiness verdicts, summary, timings)."""
    return _replace(ws, "prediction_runs", PREDICTION_RUNS, pd.DataFrame([run]), "run_id = ?", [run["run_id"]])


def read_prediction_run(ws, as_of: dt.date | None = None) -> dict | None:
    """The latest run (of ``as_of`` when given), with its JSON columns parsed."""
    query, params = "SELECT * FROM prediction_runs", []
    if as_of is not None:
        query += " WHERE as_of = ?"
        params.append(as_of)
    df = ws.sql(query + " ORDER BY finished_at DESC LIMIT 1", params)
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    for key in ("readiness", "summary", "timings"):
        row[key] = json.loads(row[key]) if isinstance(row[key], str) else row[key]
    return row


def write_backtests(ws, frame: pd.DataFrame, run_id: str) -> int:
    """Add one backtest run (replacing a run with the same id)."""
    return _replace(ws, "backtests", BACKTESTS, frame, "run_id = ?", [run_id])


# -- reading --------------------------------------------------------------------------------
def latest_as_of(ws, table: str = "customer_predictions") -> dt.date | None:
    rows = ws._con.execute(f"SELECT max(as_of) FROM {table}").fetchall()
    return rows[0][0] if rows else None


def read_customer_predictions(ws, as_of: dt.date | None = None, customer_id: str | None = None) -> pd.DataFrame:
    """Predictions of one ``as_of`` (default: the latest), optionally for one customer."""
    as_of = as_of or latest_as_of(ws)
    if as_of is None:
        return pd.DataFrame(columns=[c for c, _ in CUSTOMER_PREDICTIONS])
    query = "SELECT * FROM customer_predictions WHERE as_of = ?"
    params: list = [as_of]
    if customer_id is not None:
        query += " AND customer_id = ?"
        params.append(customer_id)
    return ws.sql(query, params)


def read_table_as_of(ws, table: str, as_of: dt.date | None = None, customer_id: str | None = None) -> pd.DataFrame:
    """Rows of a per-``as_of`` prediction table (default: its latest ``as_of``)."""
    if table not in dict(TABLE_COLUMNS) or table == "backtests":
        raise ValueError(f"{table!r} is not a per-as_of prediction table")
    as_of = as_of or latest_as_of(ws, table)
    if as_of is None:
        return pd.DataFrame(columns=[c for c, _ in dict(TABLE_COLUMNS)[table]])
    query = f"SELECT * FROM {table} WHERE as_of = ?"
    params: list = [as_of]
    if customer_id is not None:
        query += " AND customer_id = ?"
        params.append(customer_id)
    return ws.sql(query, params)


def read_backtests(ws, run_id: str | None = None) -> pd.DataFrame:
    """Rows of one backtest run (default: the latest run)."""
    if run_id is None:
        rows = ws._con.execute("SELECT run_id FROM backtests ORDER BY run_at DESC, run_id DESC LIMIT 1").fetchall()
        if not rows:
            return pd.DataFrame(columns=[c for c, _ in BACKTESTS])
        run_id = rows[0][0]
    return ws.sql("SELECT * FROM backtests WHERE run_id = ? ORDER BY rowid", [run_id])
