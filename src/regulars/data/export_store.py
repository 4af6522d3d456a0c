"""The rows a table or segment export reads, filtered by channel consent when asked.

Exportable: the canonical customer-data tables and the derived per-customer tables; never the
keys, sessions, audit log, settings, quarantine (raw rejected rows) or the demo's truth.

A channel filter (``email`` or ``sms``) keeps only rows of customers whose current consent for
that channel is granted (``accepts_email`` / ``accepts_sms`` true; never stated counts as not
allowed, as everywhere in regulars).
"""

from __future__ import annotations

import pandas as pd

from regulars.data.schema import TABLES
from regulars.data.connection import connection

NOT_EXPORTABLE = {"ingest_runs", "quarantine", "erasures", "demo_truth", "demo_truth_texts", "demo_truth_anomalies"}
DERIVED = ("customer_predictions", "lead_scores", "replenishments", "segment_memberships", "text_scores",
           "anomaly_flags", "customer_order_stats")
CHANNELS = {"email": "accepts_email", "sms": "accepts_sms"}


def exportable(ws) -> list[str]:
    present = set(ws.list_tables())
    return sorted((set(TABLES) - NOT_EXPORTABLE) | (set(DERIVED) & present))


def _channel_clause(alias: str, channel: str | None) -> tuple[str, str]:
    if channel is None:
        return "", ""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be email or sms; got {channel!r}")
    return (f" JOIN customers _c ON _c.customer_id = {alias}.customer_id",
            f" WHERE coalesce(_c.{CHANNELS[channel]}, false)")


def read_table(ws, table: str, channel: str | None = None) -> pd.DataFrame:
    """Every row of *table* (of customers who consented to *channel*, when given)."""
    if table not in exportable(ws):
        raise ValueError(f"cannot export {table!r}; exportable tables: {', '.join(exportable(ws))}")
    columns = [r[0] for r in connection(ws).execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall()]
    if channel is not None and "customer_id" not in columns:
        raise ValueError(f"{table} holds no customer_id: a channel filter does not apply to it")
    join, where = _channel_clause("t", channel)
    if table == "customers" and channel is not None:
        join, where = "", f" WHERE coalesce(t.{CHANNELS[channel]}, false)"
    cols = ", ".join(f't."{c}"' for c in columns if c != "_run_id")
    return connection(ws).sql(f"SELECT {cols} FROM {table} t{join}{where}").df()


def read_segment(ws, segment_id: str, channel: str | None = None) -> pd.DataFrame:
    """The customers currently in a segment (their ``customers`` rows), consent-filtered when asked."""
    rows = connection(ws).execute("SELECT count(*) FROM segment_memberships WHERE segment_id = ?", [segment_id]).fetchall()
    if not rows[0][0]:
        raise ValueError(f"segment {segment_id!r} has no members (or does not exist); see `regulars segments list`")
    columns = [c for c in TABLES["customers"].column_names if c != "_run_id"]
    where = f" AND coalesce(c.{CHANNELS[channel]}, false)" if channel else ""
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"channel must be email or sms; got {channel!r}")
    cols = ", ".join(f"c.{c}" for c in columns)
    return connection(ws).execute(f"SELECT {cols} FROM customers c JOIN segment_memberships m USING (customer_id) "
                          f"WHERE m.segment_id = ?{where} ORDER BY c.customer_id", [segment_id]).df()
