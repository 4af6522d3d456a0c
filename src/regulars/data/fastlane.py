"""Events written while the writer is busy with a long job (an upload, a segment refresh).

The server writes through one thread (:class:`~regulars.data.realtime.SharedWorkspace`);
an upload of a large file holds it for many seconds. Posted events must not wait
that long (they should be visible within two seconds), so while a long job runs they
take this *fast lane*, on a connection of their own, in a transaction that only
**appends** — it never updates or deletes a row, so it cannot conflict with the long
job's transaction (DuckDB detects conflicts on rows both transactions change):

1. each event's customer is looked up among the identity links already committed
   (shop id, e-mail, phone, anonymous id, the same keyed hashes as every load); an
   unknown shop id is the customer id (rule 1 of :mod:`regulars.data.identity`); an
   unknown e-mail or phone leaves the event unattributed for now;
2. events of an erased person (:mod:`regulars.data.suppression`) are quarantined;
3. new event ids are appended to ``events`` (visible at once), and every event is
   appended to ``events_deferred``.

When the long job is done, the writer replays ``events_deferred`` through the normal
path (:meth:`SharedWorkspace._drain_deferred`): new customers and identity links are
made, provisional customers merged, anonymous events stitched, changed events updated,
segments refreshed — and the deferred rows deleted in the same transaction. Deferred
rows left by a crash are replayed when the server starts again.
"""

from __future__ import annotations

import json

from regulars.data import keyed, suppression
from regulars.data.identity import normalized_hash_sql

TABLE = "events_deferred"


def create_statements() -> list[str]:
    return [f"CREATE TABLE IF NOT EXISTS {TABLE} (seq BIGINT, event JSON, posted_at TIMESTAMP)"]


def _lookup_sql(has: set[str], hasher: keyed.Keyed) -> str:
    """Customer id of each row of ``_fl`` from committed identity links only (no writes)."""
    joins, picks = [], []
    if "customer_id" in has:
        joins.append("LEFT JOIN identities i_shop ON i_shop.kind = 'shop_id' AND i_shop.value = f.customer_id")
        picks += ["i_shop.customer_id", "f.customer_id"]
    for kind in ("email", "phone"):
        if kind in has:
            joins.append(f"LEFT JOIN identities i_{kind} ON i_{kind}.kind = '{kind}' "
                         f"AND i_{kind}.value = {normalized_hash_sql(kind, 'f.' + kind, hasher)}")
            picks.append(f"i_{kind}.customer_id")
    if "anonymous_id" in has:
        joins.append("LEFT JOIN identities i_anon ON i_anon.kind = 'anonymous_id' AND i_anon.value = f.anonymous_id")
        picks.append("i_anon.customer_id")
    cid = f"coalesce({', '.join(picks)})" if picks else "NULL::VARCHAR"
    return f"SELECT f._seq, {cid} AS resolved FROM _fl f {' '.join(joins)}"


def write(con, rows: list[dict], arrow_table, columns: list[str], run_id: int) -> dict:
    """Append *rows* (normalised events with ``_file``, ``_row``, ``_seq``) on *con*, in one transaction.

    Returns ``accepted``, ``new``, ``duplicates``, ``suppressed`` and ``customers`` (the ids
    the events were attributed to now).
    """
    has = {c for c in ("customer_id", "email", "phone", "anonymous_id") if any(r[c] for r in rows)}
    con.execute("BEGIN TRANSACTION")
    try:
        hasher = keyed.for_connection(con)
        con.register("_fl_arrow", arrow_table)
        con.execute("CREATE OR REPLACE TEMP TABLE _fl AS SELECT * REPLACE (properties::JSON AS properties) FROM _fl_arrow")
        con.unregister("_fl_arrow")
        suppressed = suppression.quarantine_events(con, "_fl", has, run_id)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _fl_ids AS {_lookup_sql(has, hasher)}")
        con.execute("UPDATE _fl SET customer_id = r.resolved FROM _fl_ids r WHERE _fl._seq = r._seq")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _fl_new AS SELECT * FROM _fl "
            "WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = _fl.event_id) "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _seq DESC) = 1"
        )
        cols = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO events ({cols}, _run_id) SELECT {cols}, {int(run_id)} FROM _fl_new")
        new = con.execute("SELECT count(*) FROM _fl_new").fetchall()[0][0]
        customers = [r[0] for r in con.execute(
            "SELECT DISTINCT customer_id FROM _fl WHERE customer_id IS NOT NULL ORDER BY 1").fetchall()]
        deferred = [(r["_seq"], json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, default=str))
                    for r in rows]
        kept = {s for (s,) in con.execute("SELECT _seq FROM _fl").fetchall()}
        deferred = [d for d in deferred if d[0] in kept]
        if deferred:
            con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?::JSON, now()::TIMESTAMP)", deferred)
        con.execute("UPDATE ingest_runs SET finished_at = now()::TIMESTAMP, rows_read = rows_read + ?, "
                    "rows_new = rows_new + ?, rows_unchanged = rows_unchanged + ?, "
                    "rows_quarantined = rows_quarantined + ? WHERE run_id = ?",
                    [len(rows), new, len(rows) - new - suppressed, suppressed, run_id])
        con.execute("DROP TABLE _fl; DROP TABLE _fl_ids; DROP TABLE _fl_new")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"accepted": len(rows), "new": new, "duplicates": len(rows) - new - suppressed, "suppressed": suppressed,
            "customers": customers}


def pending(con, limit: int = 50_000) -> list[tuple[int, dict]]:
    """Deferred events, oldest first: ``(seq, event)`` as posted (after normalisation)."""
    out = []
    for seq, text in con.execute(f"SELECT seq, event::VARCHAR FROM {TABLE} ORDER BY seq LIMIT ?", [limit]).fetchall():
        event = json.loads(text)
        if isinstance(event.get("properties"), str):
            event["properties"] = json.loads(event["properties"])
        out.append((seq, event))
    return out


def next_batch(con) -> int:
    """A batch number above those of deferred events left by an earlier server (``seq`` = batch * 1e6 + row)."""
    return con.execute(f"SELECT coalesce(max(seq) // 1000000, 0) + 1 FROM {TABLE}").fetchall()[0][0]


def forget(con, seqs: list[int]) -> None:
    """Delete replayed deferred events (inside the replaying transaction)."""
    if seqs:
        con.execute(f"DELETE FROM {TABLE} WHERE seq IN (SELECT unnest(?::BIGINT[]))", [seqs])
