"""Fairness audits and model cards: their tables, and the customer attributes an audit groups by.

Tables (created by the migration that calls :func:`create_statements`):

``fairness_runs``
    one row per audit of one model: cutoff, customers judged, attributes audited, which sensitive
    attributes the model used as inputs, notes.
``fairness_groups``
    one row per run, attribute and group: selection rate, true/false positive rates, mean predicted,
    observed rate, calibration gap, size.
``fairness_flags``
    one row per gap found, with its sentence.
``fairness_scores``
    the scores and outcomes an audit judged (per model, the latest run only), so the audit can be
    recomputed without refitting (``regulars audit --stored``).
``model_cards``
    one row per model and ``regulars predict`` run: the card as JSON and as Markdown.

Examples
--------
>>> [s.split("(")[0].split()[-1] for s in create_statements()]
['fairness_runs', 'fairness_groups', 'fairness_flags', 'fairness_scores', 'model_cards']
"""

from __future__ import annotations

import json

import pandas as pd

from regulars.data.inserts import insert
from regulars.data.connection import connection

RUNS = (("run_id", "VARCHAR"), ("model", "VARCHAR"), ("cutoff", "DATE"), ("finished_at", "TIMESTAMP"),
        ("n", "BIGINT"), ("attributes", "JSON"), ("inputs", "JSON"), ("sensitive_inputs", "JSON"),
        ("overall", "JSON"), ("notes", "JSON"), ("selection", "VARCHAR"), ("outcome", "VARCHAR"))
GROUPS = (("run_id", "VARCHAR"), ("model", "VARCHAR"), ("attribute", "VARCHAR"), ("grp", "VARCHAR"), ("n", "BIGINT"),
          ("judged", "BOOLEAN"), ("selection_rate", "DOUBLE"), ("true_positive_rate", "DOUBLE"),
          ("false_positive_rate", "DOUBLE"), ("mean_predicted", "DOUBLE"), ("observed_rate", "DOUBLE"),
          ("calibration_gap", "DOUBLE"))
FLAGS = (("run_id", "VARCHAR"), ("model", "VARCHAR"), ("attribute", "VARCHAR"), ("kind", "VARCHAR"),
         ("grp", "VARCHAR"), ("value", "DOUBLE"), ("sentence", "VARCHAR"))
SCORES = (("model", "VARCHAR"), ("cutoff", "DATE"), ("customer_id", "VARCHAR"), ("score", "DOUBLE"),
          ("selected", "BOOLEAN"), ("outcome", "BOOLEAN"))
CARDS = (("model", "VARCHAR"), ("as_of", "DATE"), ("run_id", "VARCHAR"), ("created_at", "TIMESTAMP"),
         ("card", "JSON"), ("markdown", "VARCHAR"))


#: What one ``regulars audit`` writes (model cards are written by ``regulars predict``).
AUDIT_TABLES = ("fairness_runs", "fairness_groups", "fairness_flags", "fairness_scores")


def _create(name: str, columns) -> str:
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(f'{c} {t}' for c, t in columns)})"


def create_statements() -> list[str]:
    return [_create("fairness_runs", RUNS), _create("fairness_groups", GROUPS), _create("fairness_flags", FLAGS),
            _create("fairness_scores", SCORES), _create("model_cards", CARDS)]


def customer_attributes(ws) -> pd.DataFrame:
    """Every customer's country, region, acquisition channel, birth date, and gender when the table has it."""
    cols = {r[0] for r in connection(ws).execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'customers'").fetchall()}
    extra = ", gender::VARCHAR AS gender" if "gender" in cols else ""
    return connection(ws).sql(f"SELECT customer_id, country, region, acquisition_channel, birth_date{extra} "
                      "FROM customers").df()


def write_audit(ws, run: dict, groups: pd.DataFrame, flags: pd.DataFrame, scores: pd.DataFrame | None) -> None:
    """Store one model's audit (and, when given, the scores it judged, replacing that model's earlier ones)."""
    run = {**run, **{k: json.dumps(run[k], default=str) for k in ("attributes", "inputs", "sensitive_inputs",
                                                                  "overall", "notes")}}
    con = connection(ws)
    with ws.transaction():
        insert(con, "fairness_runs", RUNS, pd.DataFrame([run]))
        insert(con, "fairness_groups", GROUPS, groups)
        insert(con, "fairness_flags", FLAGS, flags)
        if scores is not None:
            con.execute("DELETE FROM fairness_scores WHERE model = ?", [run["model"]])
            insert(con, "fairness_scores", SCORES, scores)


def stored_scores(ws, model: str) -> pd.DataFrame:
    return connection(ws).sql(f"SELECT customer_id, score, selected, outcome, cutoff FROM fairness_scores "
                      f"WHERE model = '{model.replace(chr(39), '')}'").df()


def latest_run_ids(ws) -> dict[str, str]:
    """The run id of each model's latest audit (the one ``regulars audit`` shows)."""
    return dict(connection(ws).execute(
        "SELECT model, arg_max(run_id, (finished_at, run_id)) FROM fairness_runs GROUP BY model").fetchall())


def latest_audit(ws, model: str) -> dict | None:
    """The latest audit of *model*: run, groups and flags (None when never audited)."""
    runs = ws.sql("SELECT * FROM fairness_runs WHERE model = ? ORDER BY finished_at DESC, run_id DESC LIMIT 1", [model])
    if runs.empty:
        return None
    run = runs.iloc[0].to_dict()
    for k in ("attributes", "inputs", "sensitive_inputs", "overall", "notes"):
        run[k] = json.loads(run[k]) if isinstance(run[k], str) else run[k]
    groups = ws.sql("SELECT * FROM fairness_groups WHERE run_id = ? AND model = ? ORDER BY attribute, grp",
                    [run["run_id"], model])
    flags = ws.sql("SELECT * FROM fairness_flags WHERE run_id = ? AND model = ? ORDER BY attribute, kind, grp",
                   [run["run_id"], model])
    return {"run": run, "groups": groups, "flags": flags}


def audited_models(ws) -> list[str]:
    return [r[0] for r in connection(ws).execute("SELECT DISTINCT model FROM fairness_runs ORDER BY 1").fetchall()]


def write_cards(ws, cards: list[dict]) -> int:
    """Store model cards (``model, as_of, run_id, created_at, card, markdown``), replacing a run's earlier ones."""
    frame = pd.DataFrame(cards)
    if frame.empty:
        return 0
    frame["card"] = frame["card"].map(lambda c: json.dumps(c, default=str))
    con = connection(ws)
    with ws.transaction():
        con.execute("DELETE FROM model_cards WHERE run_id = ?", [cards[0]["run_id"]])
        insert(con, "model_cards", CARDS, frame)
    return len(frame)


def latest_card(ws, model: str) -> dict | None:
    df = ws.sql("SELECT * FROM model_cards WHERE model = ? ORDER BY created_at DESC LIMIT 1", [model])
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    row["card"] = json.loads(row["card"]) if isinstance(row["card"], str) else row["card"]
    return row


def card_models(ws) -> list[str]:
    return [r[0] for r in connection(ws).execute("SELECT model FROM model_cards GROUP BY 1 ORDER BY min(created_at), 1").fetchall()]


def products_bought(ws, start, days: int) -> pd.DataFrame:
    """``customer_id, product_id`` of every product bought in ``start .. start + days - 1`` (sale lines)."""
    import datetime as dt

    lo = pd.Timestamp(start).to_pydatetime()
    return connection(ws).execute(
        "SELECT DISTINCT o.customer_id, l.product_id FROM orders o JOIN order_lines l USING (order_id) "
        "WHERE o.ordered_at >= ? AND o.ordered_at < ? AND o.total > 0 AND l.quantity > 0 "
        "AND o.customer_id IS NOT NULL AND l.product_id IS NOT NULL",
        [lo, lo + dt.timedelta(days=days)]).df()
