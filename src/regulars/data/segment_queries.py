"""Reads of the segment tables for reports: refreshes, sizes, members, history, movement.

The tables are written by :mod:`regulars.data.segment_store` only; these functions read them
and return DataFrames (``db``: a workspace or a server read view).

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> refreshes(ws).empty, segment_list(ws).empty, membership_rows(ws)
(True, True, 0)
>>> ws.close()
"""

from __future__ import annotations

import pandas as pd

from regulars.data.connection import connection
from regulars.data.segment_store import LATEST_VERSIONS_SQL, latest_refresh_id


def _frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def membership_rows(db) -> int:
    """How many (segment, customer) memberships are stored now (0 before the first refresh)."""
    return int(connection(db).execute("SELECT count(*) FROM segment_memberships").fetchall()[0][0])


def refreshes(db, limit: int = 50) -> pd.DataFrame:
    """Refreshes, newest first."""
    return _frame(connection(db), "SELECT refresh_id, refreshed_at, as_of, engine, segments, entered, exited "
                  "FROM segment_refreshes ORDER BY refresh_id DESC LIMIT ?", [int(limit)])


def sizes(db, refresh_id: int, customers: int, revenue: float, family: str | None = None) -> pd.DataFrame:
    """Per segment at a refresh: members, share of *customers*, revenue and share of *revenue*."""
    where, params = "", []
    if family == "rule":
        where = " AND d.kind = 'rule'"
    elif family:
        where, params = " AND s.segment_id LIKE ?", [f"{family}:%"]
    return _frame(
        connection(db),
        "SELECT s.segment_id, coalesce(d.name, s.segment_id) AS name, d.kind, s.version, s.members, "
        "s.members / nullif(?, 0) AS member_share, s.revenue::DOUBLE AS revenue, "
        "s.revenue::DOUBLE / nullif(?, 0) AS value_share "
        "FROM segment_sizes s LEFT JOIN segment_definitions d USING (segment_id) "
        f"WHERE s.refresh_id = ?{where} ORDER BY split_part(s.segment_id, ':', 1), s.members DESC, s.segment_id",
        [customers, revenue, refresh_id, *params],
    )


def size_trend(db, segment_id: str) -> pd.DataFrame:
    """A segment's size and revenue at every refresh."""
    return _frame(connection(db),
                  "SELECT s.refresh_id, r.as_of, s.version, s.members, s.revenue::DOUBLE AS revenue "
                  "FROM segment_sizes s JOIN segment_refreshes r USING (refresh_id) WHERE segment_id = ? "
                  "ORDER BY refresh_id", [segment_id])


def segment_list(db) -> pd.DataFrame:
    """Every live segment with its current rule version and size at the latest refresh."""
    rid = latest_refresh_id(db) or -1
    return _frame(
        connection(db),
        "SELECT d.segment_id, d.name, d.kind, v.version, v.rule, s.members, s.revenue::DOUBLE AS revenue, "
        "d.description FROM segment_definitions d "
        f"LEFT JOIN {LATEST_VERSIONS_SQL} m USING (segment_id) "
        "LEFT JOIN segment_versions v ON v.segment_id = m.segment_id AND v.version = m.version "
        "LEFT JOIN segment_sizes s ON s.segment_id = d.segment_id AND s.refresh_id = ? "
        "WHERE d.deleted_at IS NULL "
        "ORDER BY d.kind = 'rule' DESC, split_part(d.segment_id, ':', 1), s.members DESC NULLS LAST, d.segment_id",
        [rid],
    )


def members(db, segment_id: str, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """Current members of a segment: who, since which refresh and date, under which rule version."""
    return _frame(
        connection(db),
        "SELECT customer_id, since_as_of, since_refresh, version FROM segment_memberships WHERE segment_id = ? "
        "ORDER BY since_refresh, customer_id LIMIT ? OFFSET ?",
        [segment_id, int(limit), int(offset)],
    )


def memberships(db, segment_ids: list[str]) -> pd.DataFrame:
    """``customer_id, segment_id`` of the current members of *segment_ids*."""
    if not segment_ids:
        return pd.DataFrame(columns=["customer_id", "segment_id"])
    return _frame(connection(db), "SELECT customer_id, segment_id FROM segment_memberships "
                  "WHERE segment_id IN (SELECT unnest(?::VARCHAR[]))", [list(segment_ids)])


def history(db, segment_id: str, customer_id: str | None = None, limit: int | None = 1000) -> pd.DataFrame:
    """Entries and exits of a segment (optionally one customer), newest refresh first (all when *limit* is None)."""
    extra, params = (" AND h.customer_id = ?", [customer_id]) if customer_id else ("", [])
    return _frame(
        connection(db),
        "SELECT h.refresh_id, r.refreshed_at, h.as_of, h.customer_id, h.change, h.version "
        "FROM segment_history h LEFT JOIN segment_refreshes r USING (refresh_id) "
        f"WHERE h.segment_id = ?{extra} ORDER BY h.refresh_id DESC, h.change, h.customer_id"
        + (" LIMIT ?" if limit is not None else ""),
        [segment_id, *params, *([int(limit)] if limit is not None else [])],
    )


def _members_at(rid: int) -> str:
    """SQL of (segment_id, customer_id) members right after refresh *rid*, rebuilt from the history."""
    return (
        "SELECT segment_id, customer_id FROM ("
        "  SELECT segment_id, customer_id, arg_max(change, refresh_id) AS last_change"
        f"  FROM segment_history WHERE refresh_id <= {int(rid)} GROUP BY ALL"
        ") WHERE last_change = 'entered'"
    )


def movement(db, from_refresh: int, to_refresh: int, pattern: str) -> pd.DataFrame:
    """Per segment whose id is LIKE *pattern*: members before and after, entered, exited."""
    a, b = _members_at(from_refresh), _members_at(to_refresh)
    return _frame(
        connection(db),
        f"WITH a AS ({a}), b AS ({b}) "
        "SELECT coalesce(a.segment_id, b.segment_id) AS segment_id, "
        "count(a.customer_id) AS before, count(b.customer_id) AS after, "
        "count(*) FILTER (a.customer_id IS NULL) AS entered, count(*) FILTER (b.customer_id IS NULL) AS exited "
        "FROM a FULL JOIN b ON a.segment_id = b.segment_id AND a.customer_id = b.customer_id "
        "WHERE coalesce(a.segment_id, b.segment_id) LIKE ? GROUP BY 1 ORDER BY after DESC, segment_id",
        [pattern],
    )


def flows(db, from_refresh: int, to_refresh: int, pattern: str) -> pd.DataFrame:
    """Customers moving from each segment LIKE *pattern* to each other one (``(none)``: in none)."""
    a, b = _members_at(from_refresh), _members_at(to_refresh)
    return _frame(
        connection(db),
        f"WITH a AS ({a}), b AS ({b}), "
        "fa AS (SELECT customer_id, min(segment_id) AS s FROM a WHERE segment_id LIKE ? GROUP BY 1), "
        "fb AS (SELECT customer_id, min(segment_id) AS s FROM b WHERE segment_id LIKE ? GROUP BY 1) "
        "SELECT coalesce(fa.s, '(none)') AS from_segment, coalesce(fb.s, '(none)') AS to_segment, "
        "count(*) AS customers FROM fa FULL JOIN fb USING (customer_id) GROUP BY ALL "
        "ORDER BY customers DESC, from_segment, to_segment",
        [pattern, pattern],
    )
