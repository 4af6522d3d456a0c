"""Rewrite a workspace file so that deleted rows leave no bytes behind.

DuckDB deletes rows by writing new versions of the blocks that held them; the old
blocks are only marked free, and blocks shared by several small tables keep the
old bytes next to live data. ``CHECKPOINT`` (even ``FORCE CHECKPOINT``) does not
overwrite them and DuckDB has no setting that zeroes freed blocks (checked on
DuckDB 2.0: a deleted name is still found by grepping the file after a
checkpoint; see ``tests/data/test_scrub.py``). So after an erasure the live data
is copied into a fresh file (``COPY FROM DATABASE``: tables, constraints,
sequences at their current values, views and macros), which then replaces the
workspace file with an atomic rename:

- the copy is written next to the workspace (``<name>.rewrite``) and synced to
  disk before the rename; a crash before the rename leaves the old file intact
  and the half-written copy is removed the next time;
- an erasure records ``erasures.file_rewritten_at`` only in the new file, so a
  workspace whose last erasure was not followed by a rewrite (a crash in
  between) is rewritten when it is next opened for writing (:func:`pending`).

The connection is closed and reopened around the rename: callers must not hold
cursors of it (the server's :class:`~regulars.data.realtime.SharedWorkspace`
closes its read views first).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import duckdb


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def temp_path(path: Path) -> Path:
    return path.with_name(path.name + ".rewrite")


def discard_leftover(path: Path) -> None:
    """Remove a half-written copy left by a crash (the workspace file itself is intact)."""
    for p in (temp_path(path), Path(str(temp_path(path)) + ".wal")):
        if p.exists():
            p.unlink()


def pending(con) -> bool:
    """True when an erasure was committed but the file was not rewritten since."""
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'erasures'").fetchall()}
    if "file_rewritten_at" not in cols:
        return False
    return bool(con.execute("SELECT count(*) FROM erasures WHERE file_rewritten_at IS NULL").fetchall()[0][0])


def rewrite(workspace) -> None:
    """Copy the live data of *workspace* into a fresh file, swap it in, reopen the connection."""
    path = Path(workspace.path)
    tmp = temp_path(path)
    discard_leftover(path)
    con = workspace._con
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    token = secrets.token_hex(8)
    con.execute("CHECKPOINT")
    con.execute(f"ATTACH {_lit(str(tmp))} AS _rewrite")
    try:
        con.execute(f"COPY FROM DATABASE {_q(db)} TO _rewrite")
        con.execute(f"CREATE TABLE _rewrite.main._rewrite_mark AS SELECT {_lit(token)} AS token")
        con.execute("UPDATE _rewrite.main.erasures SET file_rewritten_at = now()::TIMESTAMP WHERE file_rewritten_at IS NULL")
        con.execute("CHECKPOINT _rewrite")
    except BaseException:
        con.execute("DETACH _rewrite")
        discard_leftover(path)
        raise
    con.execute("DETACH _rewrite")
    _fsync(tmp)
    workspace._con.close()
    os.replace(tmp, path)
    _fsync(path.parent)
    _reopen(workspace, token)


def _reopen(workspace, token: str) -> None:
    config = {"memory_limit": workspace.memory_limit} if getattr(workspace, "memory_limit", None) else {}
    workspace._con = duckdb.connect(str(workspace.path), config=config)
    mark = workspace._con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_rewrite_mark'").fetchall()[0][0]
    found = workspace._con.execute("SELECT token FROM _rewrite_mark").fetchall() if mark else []
    if not found or found[0][0] != token:
        raise RuntimeError(
            "the workspace file was rewritten but this process still reads the old one: another connection "
            "of this process is open (close every cursor before rewriting)")
    workspace._con.execute("DROP TABLE _rewrite_mark")
    workspace._con.execute("CHECKPOINT")
    workspace.ibis = None  # made again over the new connection on first use
