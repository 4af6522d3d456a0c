"""A running server lends its workspace file to a command-line command of the same user.

DuckDB lets one process at a time open a file for writing, and while ``regulars serve`` runs
it is that process. So that every ``regulars`` command still works meanwhile, the server
writes a *record* next to the workspace (``.shop.duckdb.server`` for ``shop.duckdb``) holding
its address and a random token. The record is created with mode 0600, so only the user who
started the server (who may also open the workspace file itself) can read the token. A command
that finds a live record sends its arguments to the server, which closes its connection
(:func:`lend`), runs the very same command in a child process, streams its output back and
opens the file again.

Examples
--------
>>> import os, tempfile
>>> shop = os.path.join(tempfile.mkdtemp(), "shop.duckdb")
>>> record = write_record(shop, "http://127.0.0.1:8000")
>>> oct(os.stat(record_path(shop)).st_mode & 0o777)
'0o600'
>>> read_record(shop) == record
True
>>> remove_record(shop, record.token)
>>> read_record(shop) is None
True
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


#: Set in the environment of a command the server runs, so that it runs there instead of being sent again.
FORWARDED_ENV = "REGULARS_FORWARDED"
#: Frames of a forwarded command's output: channel byte (stdout, stderr or exit code), 4-byte length, payload.
STDOUT, STDERR, EXIT = 1, 2, 0


@dataclass(frozen=True)
class ServerRecord:
    """Where the server holding a workspace listens, and the token that proves a caller is its user."""

    url: str
    token: str
    pid: int
    workspace: str


def record_path(workspace: str | os.PathLike) -> Path:
    """The record file of *workspace*: a hidden file in the same folder."""
    path = Path(workspace).resolve()
    return path.with_name(f".{path.name}.server")


def write_record(workspace: str | os.PathLike, url: str) -> ServerRecord:
    """Write a fresh record (new token) readable by this user only; replaces a stale one."""
    record = ServerRecord(url=url, token=secrets.token_urlsafe(32), pid=os.getpid(),
                          workspace=str(Path(workspace).resolve()))
    path = record_path(workspace)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(record), f)
    return record


def read_record(workspace: str | os.PathLike) -> ServerRecord | None:
    """The record of a server that runs now for *workspace*, else ``None``.

    A record not owned by this user, readable by others, unreadable, or left by a process
    that no longer runs is ignored.
    """
    path = record_path(workspace)
    try:
        st = os.stat(path)
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        record = ServerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(record.pid, 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return None
    return record


def remove_record(workspace: str | os.PathLike, token: str) -> None:
    """Remove the record if it is still ours (a newer server may have replaced it)."""
    path = record_path(workspace)
    with contextlib.suppress(OSError, ValueError, TypeError):
        if json.loads(path.read_text()).get("token") == token:
            path.unlink()


def file_stamp(path: str | os.PathLike) -> tuple:
    """Size and modification time of the workspace file and its write-ahead log: changes when data was written."""
    stamp = []
    for p in (Path(path), Path(f"{path}.wal")):
        try:
            st = os.stat(p)
            stamp.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            stamp.append(None)
    return tuple(stamp)


def lend(workspace, fn: Callable[[], object]) -> object:
    """Close *workspace*'s connection, call ``fn()`` (another process opens the file), reopen it.

    Every other connection of this process to the file must be closed first (the server's
    exclusive write does that), or DuckDB keeps the file locked.
    """
    import duckdb
    import ibis

    workspace._con.close()
    try:
        return fn()
    finally:
        config = {"memory_limit": workspace.memory_limit} if getattr(workspace, "memory_limit", None) else {}
        workspace._con = duckdb.connect(str(workspace.path), config=config)
        workspace._con.execute("SET enable_progress_bar = false")
        workspace.ibis = ibis.duckdb.from_connection(workspace._con)
