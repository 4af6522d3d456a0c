"""The shop's privacy settings: which sensitive attributes models may use, what personal data is kept at
ingest, how long raw web events are kept; and the log of retention runs.

Tables (created by the migration that calls :func:`create_statements`):

``privacy_settings``
    one row per change of a setting (name, JSON value, when, by whom); the latest value counts.
``retention_runs``
    one row per retention run: the cut-off, events aggregated and deleted, seconds.
``event_daily``
    what is kept of web events older than the retention limit: counts per day, customer (or
    anonymous id), event type and traffic source.

Examples
--------
>>> DEFAULTS["sensitive_inputs"], DEFAULTS["event_retention_months"]
([], None)
"""

from __future__ import annotations

import datetime as dt
import json

#: setting -> default value
DEFAULTS: dict[str, object] = {
    # sensitive attributes the shop allows models to use (none by default)
    "sensitive_inputs": [],
    # personal columns of customers dropped at ingest (none by default; e.g. ["birth_date", "postal_code"])
    "drop_columns": [],
    # raw web events older than this many months are aggregated per day and deleted (None: kept)
    "event_retention_months": None,
}


def create_statements() -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS privacy_settings (name VARCHAR, value JSON, updated_at TIMESTAMP, updated_by VARCHAR)",
        "CREATE TABLE IF NOT EXISTS retention_runs (run_at TIMESTAMP, cutoff TIMESTAMP, months INTEGER, "
        "events_aggregated BIGINT, events_deleted BIGINT, daily_rows BIGINT, seconds DOUBLE)",
        "CREATE TABLE IF NOT EXISTS event_daily (day DATE, customer_id VARCHAR, anonymous_id VARCHAR, "
        "event_type VARCHAR, traffic_source VARCHAR, events BIGINT)",
    ]


def get(con, name: str | None = None):
    """One setting (or all of them as a dict): the latest stored value, else the default."""
    rows = dict(con.execute("SELECT name, arg_max(value, updated_at)::VARCHAR FROM privacy_settings GROUP BY name")
                .fetchall())
    values = {k: json.loads(rows[k]) if k in rows else v for k, v in DEFAULTS.items()}
    return values if name is None else values[name]


def put(con, name: str, value, updated_by: str = "cli") -> None:
    if name not in DEFAULTS:
        raise ValueError(f"unknown privacy setting {name!r}; known: {', '.join(DEFAULTS)}")
    con.execute("INSERT INTO privacy_settings VALUES (?, ?, ?, ?)",
                [name, json.dumps(value), dt.datetime.now(dt.UTC).replace(tzinfo=None), updated_by])


# -- consent ----------------------------------------------------------------------------------------
_LATEST_PERSONALISATION = (
    "SELECT customer_id, arg_max(is_granted, recorded_at) AS granted FROM consents "
    "WHERE lower(purpose) IN ('personalization', 'personalisation') GROUP BY 1")


def refused_personalisation(con) -> set[str]:
    """Customers whose current personalisation consent is refused: their latest decision in
    ``consents``, else ``customers.accepts_personalization`` (never stated = allowed)."""
    rows = con.execute(
        f"WITH latest AS ({_LATEST_PERSONALISATION}) "
        "SELECT c.customer_id FROM customers c LEFT JOIN latest l USING (customer_id) "
        "WHERE coalesce(l.granted, c.accepts_personalization, true) = false").fetchall()
    return {r[0] for r in rows}


def withdraw_personalisation(con, customer_ids) -> dict[str, int]:
    """Empty the personalised predictions of *customer_ids* and drop their lead scores and reminders,
    at once (a consent change takes effect on the next event, not the next prediction run)."""
    from regulars.privacy.consent import NOT_PERSONALISED, PERSONALISED_COLUMNS

    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    present = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'customer_predictions'").fetchall()}
    sets = ", ".join(f"{c} = NULL" for c in PERSONALISED_COLUMNS if c in present)
    marks = ", ".join("?" for _ in ids)
    changed = con.execute(f"UPDATE customer_predictions SET {sets}, data_mode = '{NOT_PERSONALISED}' "
                          f"WHERE customer_id IN ({marks}) AND data_mode IS DISTINCT FROM '{NOT_PERSONALISED}'",
                          ids).fetchall()
    out = {"customer_predictions": changed[0][0] if changed else 0}
    for table in ("lead_scores", "replenishments"):
        out[table] = con.execute(f"DELETE FROM {table} WHERE customer_id IN ({marks})", ids).fetchall()[0][0]
    return out


def apply_consent_events(ws, customer_ids) -> dict[str, int]:
    """Record the consent changes carried by ``consent`` events of *customer_ids* that are not recorded
    yet (``consents`` rows, ``customers.accepts_*``), and withdraw personalisation at once for those
    who refused it. Called on the writer after events commit (:func:`regulars.api.refresh.on_events`)."""
    import json

    from regulars.privacy.consent import PURPOSES, consent_change

    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = ws.con.execute(
        "SELECT e.customer_id, e.occurred_at, e.properties::VARCHAR FROM events e WHERE e.customer_id IN "
        f"({marks}) AND lower(e.event_type) IN ('consent', 'consent_change') AND NOT EXISTS (SELECT 1 FROM consents c "
        "WHERE c.customer_id = e.customer_id AND c.recorded_at = e.occurred_at AND c.source = 'event') "
        "ORDER BY e.occurred_at", ids).fetchall()
    changes = []
    for cid, at, props in rows:
        change = consent_change(json.loads(props) if props else None)
        if change:
            changes.append((cid, change[0], change[1], at))
    if not changes:
        return {}
    refused: set[str] = set()
    with ws.transaction() as con:
        for cid, purpose, granted, at in changes:
            con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source) "
                        "VALUES (?, ?, ?, ?, 'event')", [cid, purpose, granted, at])
            con.execute(f"UPDATE customers SET {PURPOSES[purpose]} = ? WHERE customer_id = ?", [granted, cid])
        refused = {cid for cid in {c[0] for c in changes} if cid in refused_personalisation(con)}
        done = withdraw_personalisation(con, refused)
    return {"consent_changes": len(changes), "withdrawn": len(refused), **done}
