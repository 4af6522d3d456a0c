"""Send a command to the ``regulars serve`` that holds its workspace, and play back its output.

While the dashboard runs, the server is the one process that may open the workspace file
(DuckDB's rule). Every command first looks for the server's record next to the workspace
(:mod:`regulars.data.handover`); when a server runs, the command's arguments, working folder and
environment go to it over loopback with the record's token, the server runs the same command
and this process writes its output and exits with its exit code. Without a server nothing
changes: the command runs here.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import struct
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from regulars.data import handover

PATH = "/_cli/run"
TOKEN_HEADER = "X-Regulars-Token"
_WORKSPACE_ENV = "REGULARS_WORKSPACE"


def workspace_argument(args: Sequence[str]) -> str:
    """The workspace a command line names (``--workspace``/``-w``), else ``$REGULARS_WORKSPACE``, else the default.

    Examples
    --------
    >>> workspace_argument(["kpis", "--by", "month", "-w", "shop.duckdb"])
    'shop.duckdb'
    >>> workspace_argument(["sql", "SELECT 1", "--workspace=/tmp/x.duckdb"])
    '/tmp/x.duckdb'
    """
    found = None
    for i, arg in enumerate(args):
        if arg in ("--workspace", "-w") and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--workspace="):
            found = arg.split("=", 1)[1]
        elif arg.startswith("-w") and len(arg) > 2 and not arg.startswith("--"):
            found = arg[2:]
    return found or os.environ.get(_WORKSPACE_ENV) or "regulars.duckdb"


def forward_if_served(args: Sequence[str]) -> int | None:
    """Run *args* on the server holding their workspace and return the exit code; ``None`` to run here."""
    args = list(args)
    if os.environ.get(handover.FORWARDED_ENV) or not args or args[0].startswith("-") or "--help" in args:
        return None
    record = handover.read_record(workspace_argument(args))
    if record is None:
        return None
    if args[0] == "serve":
        sys.stderr.write(f"error: the dashboard already runs on this workspace at {record.url}; open that address, "
                         "or stop it (Ctrl+C where it runs) before starting another\n")
        return 1
    return _send(record, args)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    if sys.stdout.isatty():  # lay tables out for this terminal, as a command run here would
        env.setdefault("COLUMNS", str(shutil.get_terminal_size().columns))
        if sys.stderr.isatty() and "NO_COLOR" not in env:
            env.setdefault("FORCE_COLOR", "1")
    return env


def _send(record: handover.ServerRecord, args: list[str]) -> int | None:
    url = urlsplit(record.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=None)
    body = json.dumps({"argv": args, "cwd": os.getcwd(), "env": _environment()})
    try:
        conn.request("POST", PATH, body=body, headers={TOKEN_HEADER: record.token,
                                                       "Content-Type": "application/json"})
        response = conn.getresponse()
    except OSError:
        return None  # not answering: a stale record; the command runs here
    try:
        if response.status != 200:
            detail = response.read().decode(errors="replace")
            try:
                detail = json.loads(detail)["message"]
            except (ValueError, KeyError, TypeError):
                pass
            sys.stderr.write(f"error: the dashboard running on this workspace did not run the command: {detail}\n")
            return 1
        return _play(response)
    except KeyboardInterrupt:
        return 130  # closing the connection stops the command on the server
    except (OSError, http.client.HTTPException):
        sys.stderr.write("error: the dashboard stopped while running the command; run it again\n")
        return 1
    finally:
        conn.close()


def _play(response) -> int:
    outputs = {handover.STDOUT: sys.stdout, handover.STDERR: sys.stderr}
    while True:
        head = response.read(5)
        if len(head) < 5:
            raise http.client.IncompleteRead(head)
        channel, size = struct.unpack(">BI", head)
        payload = response.read(size)
        if channel == handover.EXIT:
            return struct.unpack(">i", payload)[0]
        stream = outputs[channel]
        stream.flush()
        target = getattr(stream, "buffer", None)
        if target is not None:
            target.write(payload)
            target.flush()
        else:
            stream.write(payload.decode(errors="replace"))
            stream.flush()


