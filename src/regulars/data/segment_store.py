"""The segment store: definitions, rule versions, refreshes, memberships, entry/exit history, sizes.

The one writer of the segment tables (created by the ``segments`` migration). Two paths write a
refresh, both through here so they agree:

- a **full** refresh (:func:`record_refresh`, called by :mod:`regulars.jobs.segments`) decides
  every built-in segment and every saved rule from the memberships computed into a temporary
  table;
- a **real-time** refresh (:func:`record_partial`, called by the server after posted events)
  decides the event-driven segments of a few customers only.

Both record entries and exits in ``segment_history`` and the current members in
``segment_memberships`` with the refresh's ``as_of``: the day the memberships were computed
**as of** (data strictly before that day; a real-time refresh counts today's events, so its
``as_of`` is tomorrow). A segment seen for the first time gets its definition from the same
*label* function on both paths.

The reads behind the segment reports (sizes, members, history, movement between refreshes)
are in :mod:`regulars.data.segment_queries`.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> save_rule(ws, "coffee_lovers", "Coffee lovers", "orders >= 3", "")
1
>>> find_definition(ws, "Coffee lovers", "coffee_lovers")["segment_id"]
'coffee_lovers'
>>> [r["segment_id"] for r in rule_segments(ws)], latest_refresh_id(ws)
(['coffee_lovers'], None)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pandas as pd

from regulars.data.connection import connection

#: A segment's (name, kind, description) from its id, for definitions created by a refresh.
Label = Callable[[str], tuple[str, str, str]]

LATEST_VERSIONS_SQL = "(SELECT segment_id, max(version) AS version FROM segment_versions GROUP BY ALL)"


class SegmentExists(ValueError):
    """A live rule segment already has this id (save a new version with ``replace=True``)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# -- definitions and rule versions ---------------------------------------------------------
def save_rule(db, segment_id: str, name: str, rule: str, description: str, replace: bool = False) -> int:
    """Save a rule segment (version 1) or a new version of it; return the version. One transaction.

    Raises :class:`SegmentExists` when a live segment has this id and not *replace*.
    """
    con = connection(db)
    now = _now()
    con.execute("BEGIN TRANSACTION")
    try:
        row = con.execute("SELECT deleted_at FROM segment_definitions WHERE segment_id = ?", [segment_id]).fetchall()
        if row and row[0][0] is None and not replace:
            raise SegmentExists(f"segment {segment_id!r} exists; pass --replace to save a new version of its rule")
        version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM segment_versions WHERE segment_id = ?",
                              [segment_id]).fetchall()[0][0]
        if row:
            con.execute("UPDATE segment_definitions SET name = ?, description = ?, updated_at = ?, deleted_at = NULL "
                        "WHERE segment_id = ?", [name, description, now, segment_id])
        else:
            con.execute("INSERT INTO segment_definitions VALUES (?, ?, 'rule', ?, ?, ?, NULL)",
                        [segment_id, name, description, now, now])
        con.execute("INSERT INTO segment_versions VALUES (?, ?, ?, ?, ?)", [segment_id, version, rule, description, now])
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return version


def rename_rule_column(old: str, new: str) -> str:
    """The statement that renames column *old* to *new* in every saved rule (for a migration that
    renames a column rules may read; whole words only).

    >>> rename_rule_column("next_order_at", "next_order_date").split(" SET ")[0]
    'UPDATE segment_versions'
    """
    return (f"UPDATE segment_versions SET rule = regexp_replace(rule, '\\b{old}\\b', '{new}', 'g') "
            f"WHERE regexp_matches(rule, '\\b{old}\\b')")


def mark_deleted(db, segment_id: str) -> None:
    """Mark a segment deleted; its members exit at the next refresh. History is kept."""
    connection(db).execute("UPDATE segment_definitions SET deleted_at = ? WHERE segment_id = ?", [_now(), segment_id])


def find_definition(db, name: str, slug: str) -> dict | None:
    """The definition whose id is *name* or *slug*, or whose name is *name* (any case); else None."""
    df = _frame(connection(db), "SELECT * FROM segment_definitions WHERE segment_id = ? OR segment_id = ? "
                "OR lower(name) = lower(?)", [name, slug, name])
    return None if df.empty else df.iloc[0].to_dict()


def live_segment_ids(db) -> list[str]:
    """Ids of the segments not deleted, sorted."""
    return [r[0] for r in connection(db).execute(
        "SELECT segment_id FROM segment_definitions WHERE deleted_at IS NULL ORDER BY 1").fetchall()]


def rule_versions(db, segment_id: str) -> list[dict]:
    """Every version of a segment's rule, oldest first."""
    return _frame(connection(db), "SELECT version, rule, description, created_at FROM segment_versions "
                  "WHERE segment_id = ? ORDER BY version", [segment_id]).to_dict(orient="records")


def definitions(db) -> pd.DataFrame:
    """Every segment definition as stored (deleted ones too)."""
    return _frame(connection(db), "SELECT * FROM segment_definitions ORDER BY segment_id")


def rule_segments(db) -> list[dict]:
    """Live rule segments with the latest version of their rule: ``segment_id, name, version, rule``."""
    return _frame(connection(db),
                  "SELECT d.segment_id, d.name, v.version, v.rule FROM segment_definitions d "
                  f"JOIN {LATEST_VERSIONS_SQL} m USING (segment_id) "
                  "JOIN segment_versions v ON v.segment_id = m.segment_id AND v.version = m.version "
                  "WHERE d.kind = 'rule' AND d.deleted_at IS NULL ORDER BY d.segment_id").to_dict(orient="records")


def resolve_segment(db, segment: str) -> str | None:
    """The segment id for *segment* (an id or a name), or None when unknown or no segments exist."""
    con = connection(db)
    if not _has_table(con, "segment_definitions"):
        return None
    rows = con.execute(
        "SELECT segment_id FROM segment_definitions WHERE segment_id = ? OR lower(name) = lower(?) "
        "ORDER BY segment_id = ? DESC LIMIT 1", [segment, segment, segment]).fetchall()
    return rows[0][0] if rows else None


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchall()[0][0])


def _add_definitions(con, segment_ids, label: Label, now: dt.datetime) -> None:
    """Definitions for the ids among *segment_ids* not defined yet (name, kind, description from *label*)."""
    known = {r[0] for r in con.execute("SELECT segment_id FROM segment_definitions").fetchall()}
    for sid in dict.fromkeys(segment_ids):
        if sid not in known:
            name, kind, description = label(sid)
            con.execute("INSERT INTO segment_definitions VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        [sid, name, kind, description, now, now])


# -- writing refreshes ---------------------------------------------------------------------
def record_refresh(db, *, as_of: dt.date, engine: str, members_table: str, features_table: str,
                   fixed_ids: list[str], label: Label, builtin: bool, errors: dict[str, str],
                   lifecycle: dict | None, money_mode: str = "one", money_note: str | None = None) -> dict:
    """Record a full refresh from *members_table* ``(segment_id, customer_id)``; one transaction.

    Decides every built-in segment (when *builtin*) and every rule segment except those in
    *errors* (their members stay as they were). *features_table* holds ``customer_id, revenue``
    of every customer (segment revenue and the refresh's totals). *fixed_ids* are the built-in
    ids defined even before they have members. *money_mode* and *money_note* say how amounts in
    several currencies were added (``regulars.features.currency.CurrencyPlan``). Returns the
    counts of the refresh.
    """
    con = connection(db)
    now = _now()
    con.execute("BEGIN TRANSACTION")
    try:
        rid = con.execute("SELECT nextval('segment_refresh_ids')").fetchall()[0][0]
        found = [r[0] for r in con.execute(
            f"SELECT DISTINCT segment_id FROM {members_table} WHERE segment_id LIKE '%:%' ORDER BY 1").fetchall()]
        _add_definitions(con, (fixed_ids if builtin else []) + found, label, now)
        # Which segments this refresh decides: every built-in (when computed) and every evaluated rule segment,
        # plus deleted rule segments that still have members (they all exit).
        builtin_clause = "kind <> 'rule'" if builtin else "false"
        failed = list(errors) or ["\x00"]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _seg_ids AS SELECT d.segment_id, coalesce(v.version, 0) AS version "
            f"FROM segment_definitions d LEFT JOIN {LATEST_VERSIONS_SQL} v USING (segment_id) "
            f"WHERE ({builtin_clause} OR d.kind = 'rule') AND d.segment_id NOT IN ({', '.join('?' * len(failed))})",
            failed,
        )
        con.execute(
            "INSERT INTO segment_history SELECT ?, n.segment_id, n.customer_id, 'entered', i.version, ? "
            f"FROM {members_table} n JOIN _seg_ids i USING (segment_id) "
            "ANTI JOIN segment_memberships m ON m.segment_id = n.segment_id AND m.customer_id = n.customer_id",
            [rid, as_of],
        )
        con.execute(
            "INSERT INTO segment_history SELECT ?, m.segment_id, m.customer_id, 'exited', i.version, ? "
            "FROM segment_memberships m JOIN _seg_ids i USING (segment_id) "
            f"ANTI JOIN {members_table} n ON m.segment_id = n.segment_id AND m.customer_id = n.customer_id",
            [rid, as_of],
        )
        con.execute(
            "DELETE FROM segment_memberships WHERE segment_id IN (SELECT segment_id FROM _seg_ids) "
            "AND (segment_id, customer_id) IN (SELECT segment_id, customer_id FROM segment_history "
            "WHERE refresh_id = ? AND change = 'exited')",
            [rid],
        )
        con.execute(
            "INSERT INTO segment_memberships SELECT segment_id, customer_id, version, ?, ? FROM segment_history "
            "WHERE refresh_id = ? AND change = 'entered'",
            [rid, as_of, rid],
        )
        con.execute(
            "UPDATE segment_memberships m SET version = i.version FROM _seg_ids i "
            "WHERE m.segment_id = i.segment_id AND m.version IS DISTINCT FROM i.version"
        )
        con.execute(
            "INSERT INTO segment_sizes SELECT ?, i.segment_id, i.version, count(n.customer_id), "
            f"coalesce(sum(f.revenue), 0) FROM _seg_ids i LEFT JOIN {members_table} n USING (segment_id) "
            f"LEFT JOIN {features_table} f ON f.customer_id = n.customer_id GROUP BY ALL",
            [rid],
        )
        entered, exited = con.execute(
            "SELECT count(*) FILTER (change = 'entered'), count(*) FILTER (change = 'exited') "
            "FROM segment_history WHERE refresh_id = ?", [rid]).fetchall()[0]
        segments, members = con.execute(
            "SELECT count(*), coalesce(sum(members), 0) FROM segment_sizes WHERE refresh_id = ?", [rid]).fetchall()[0]
        customers, revenue = con.execute(
            f"SELECT count(*), coalesce(sum(revenue), 0) FROM {features_table}").fetchall()[0]
        summary = {"errors": errors, "lifecycle": lifecycle, "money": money_mode, "money_note": money_note,
                   "customers": customers, "revenue": float(revenue)}
        con.execute(
            "INSERT INTO segment_refreshes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, now, as_of, engine, segments, entered, exited, json.dumps(summary)],
        )
        con.execute("DROP TABLE _seg_ids")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return {"refresh_id": rid, "segments": segments, "members": members, "entered": entered, "exited": exited}


def record_partial(db, *, as_of: dt.date, customer_ids: list[str], decided: set[str],
                   members: set[tuple[str, str]], revenue: dict[str, float], label: Label,
                   engine: str = "realtime") -> dict | None:
    """Record entries/exits of *customer_ids* in the *decided* segments as a partial refresh.

    *members* are the ``(segment_id, customer_id)`` pairs found among those customers, *revenue*
    their net revenue (segment sizes move by it). Nothing is written when nobody entered or
    exited, or before the first full refresh (the sizes build on it); returns None then,
    else ``{"refresh_id", "entered", "exited"}``. One transaction.
    """
    con = connection(db)
    con.execute("BEGIN TRANSACTION")
    try:
        out = _record_partial(con, as_of, customer_ids, decided, members, revenue, label, engine)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return out


def _record_partial(con, as_of, ids, decided, members, revenue, label, engine) -> dict | None:
    current = {(s, c) for s, c in con.execute(
        "SELECT segment_id, customer_id FROM segment_memberships WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND segment_id IN (SELECT unnest(?::VARCHAR[]))", [ids, sorted(decided)]).fetchall()}
    entered, exited = members - current, current - members
    if not entered and not exited:
        return None
    base = con.execute("SELECT refresh_id, summary::VARCHAR FROM segment_refreshes ORDER BY refresh_id DESC LIMIT 1"
                       ).fetchall()
    if not base:
        return None
    base_id, base_summary = base[0]
    rid = con.execute("SELECT nextval('segment_refresh_ids')").fetchall()[0][0]
    now = _now()
    versions = dict(con.execute("SELECT segment_id, max(version) FROM segment_versions GROUP BY 1").fetchall())
    _add_definitions(con, sorted({s for s, _ in entered}), label, now)
    rows = [(rid, s, c, "entered", versions.get(s, 0), as_of) for s, c in sorted(entered)]
    rows += [(rid, s, c, "exited", versions.get(s, 0), as_of) for s, c in sorted(exited)]
    con.executemany("INSERT INTO segment_history VALUES (?, ?, ?, ?, ?, ?)", rows)
    for s, c in exited:
        con.execute("DELETE FROM segment_memberships WHERE segment_id = ? AND customer_id = ?", [s, c])
    if entered:  # executemany with no rows fails
        con.executemany("INSERT INTO segment_memberships VALUES (?, ?, ?, ?, ?)",
                        [(s, c, versions.get(s, 0), rid, as_of) for s, c in sorted(entered)])
    # Sizes at this refresh: the previous ones, moved by who entered and exited.
    delta: dict[str, list[float]] = {}
    for s, c in entered:
        d = delta.setdefault(s, [0, 0.0])
        d[0] += 1
        d[1] += revenue.get(c, 0.0)
    for s, c in exited:
        d = delta.setdefault(s, [0, 0.0])
        d[0] -= 1
        d[1] -= revenue.get(c, 0.0)
    con.execute("CREATE OR REPLACE TEMP TABLE _rt_delta (segment_id VARCHAR, members BIGINT, revenue DOUBLE)")
    con.executemany("INSERT INTO _rt_delta VALUES (?, ?, ?)", [(s, int(v[0]), v[1]) for s, v in delta.items()])
    con.execute(
        "INSERT INTO segment_sizes SELECT ?, coalesce(s.segment_id, d.segment_id), coalesce(s.version, 0), "
        "coalesce(s.members, 0) + coalesce(d.members, 0), coalesce(s.revenue, 0) + coalesce(d.revenue, 0) "
        "FROM (SELECT * FROM segment_sizes WHERE refresh_id = ?) s FULL JOIN _rt_delta d USING (segment_id)",
        [rid, base_id])
    con.execute("DROP TABLE _rt_delta")
    summary = json.loads(base_summary or "{}")
    summary.update({"partial": True, "base_refresh": base_id, "touched_customers": len(ids)})
    con.execute("INSERT INTO segment_refreshes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [rid, now, as_of, engine, len({s for s, _ in entered | exited}), len(entered), len(exited),
                 json.dumps(summary)])
    return {"refresh_id": rid, "entered": len(entered), "exited": len(exited)}


# -- reading -------------------------------------------------------------------------------
def has_refresh(db) -> bool:
    """True once any refresh was recorded (real-time refreshes build on a full one)."""
    return bool(connection(db).execute("SELECT count(*) FROM segment_refreshes").fetchall()[0][0])


def latest_refresh_id(db) -> int | None:
    return connection(db).execute("SELECT max(refresh_id) FROM segment_refreshes").fetchall()[0][0]


def refresh_summary(db, refresh_id: int) -> tuple[object, dict] | None:
    """``(as_of, summary)`` of a refresh, or None when there is no such refresh."""
    rows = connection(db).execute("SELECT as_of, summary::VARCHAR FROM segment_refreshes WHERE refresh_id = ?",
                                  [refresh_id]).fetchall()
    return (rows[0][0], json.loads(rows[0][1] or "{}")) if rows else None


def last_two_refresh_ids(db) -> list[int]:
    return [r[0] for r in connection(db).execute(
        "SELECT refresh_id FROM segment_refreshes ORDER BY refresh_id DESC LIMIT 2").fetchall()]
