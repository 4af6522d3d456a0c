"""The local control channel: ``regulars`` commands run while the server holds the workspace.

On start the server writes its record (:mod:`regulars.data.handover`: address and a random token,
mode 0600). ``regulars.cli.forward`` sends a command's arguments, working folder and environment
here with that token; the server then runs an *exclusive* write: reads in progress finish, its
connection closes, the same command runs in a child process exactly as it would have run in the
terminal, and the file is opened again. The child's output is streamed back as frames of
``channel (1 byte: 1 stdout, 2 stderr, 0 exit code) + length (4 bytes) + payload``.

The dashboard waits while a command runs (most take a second or two; ``predict`` or ``demo``
longer). After a command that wrote to the file, keys, settings and cached reports are reloaded.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import queue
import signal
import struct
import subprocess
import sys
import threading

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from regulars.data import auth, handover
from regulars.data.handover import EXIT, FORWARDED_ENV, STDERR, STDOUT

log = logging.getLogger("regulars.server")

router = APIRouter(include_in_schema=False)

PATH = "/_cli/run"
TOKEN_HEADER = "X-Regulars-Token"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def frame(channel: int, payload: bytes) -> bytes:
    """One frame of the stream (see the module docstring)."""
    return struct.pack(">BI", channel, len(payload)) + payload


def install(app: FastAPI) -> None:
    """Write the server's record for its workspace (call when the workspace is open)."""
    settings = app.state.settings
    host = settings.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    url = f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"
    app.state.cli_record = handover.write_record(app.state.shared.path, url)


def uninstall(app: FastAPI) -> None:
    """Remove the record (the server stops)."""
    record = getattr(app.state, "cli_record", None)
    if record is not None:
        handover.remove_record(record.workspace, record.token)


def _allowed(request: Request) -> bool:
    record = getattr(request.app.state, "cli_record", None)
    token = request.headers.get(TOKEN_HEADER, "")
    client = request.client.host if request.client else ""
    local = client in _LOOPBACK or client == request.app.state.settings.host
    return bool(record) and local and hmac.compare_digest(token.encode(), record.token.encode())


@router.post(PATH)
async def run_command(request: Request):
    """Run one ``regulars`` command on the held workspace; stream its output and exit code."""
    if not _allowed(request):
        return JSONResponse({"error": "forbidden", "message": "not a command of this server's user",
                             "status": 403}, status_code=403)
    try:
        body = await request.json()
        argv, cwd, env = body["argv"], body["cwd"], body["env"]
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv) and isinstance(cwd, str)
                and isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "bad_request", "message": "expected argv, cwd and env", "status": 400},
                            status_code=400)
    out: queue.Queue = queue.Queue()
    child: dict = {}

    def job(ws):
        def run_child():
            before = handover.file_stamp(ws.path)
            code = _run_child(argv, cwd, env, out, child)
            return code, handover.file_stamp(ws.path) != before

        return handover.lend(ws, run_child)

    def finished(future):
        threading.Thread(target=_after, args=(request.app, future, out), daemon=True).start()

    request.app.state.shared.submit(job, exclusive=True).add_done_callback(finished)
    return StreamingResponse(_stream(out, child), media_type="application/octet-stream")


async def _stream(out: queue.Queue, child: dict):
    done = False
    try:
        while not done:
            try:
                channel, payload = await asyncio.to_thread(out.get, True, 0.5)
            except queue.Empty:
                continue
            done = channel == EXIT
            yield frame(channel, payload)
    finally:
        proc = child.get("proc")
        if not done and proc is not None and proc.poll() is None:  # the terminal went away (Ctrl+C)
            proc.send_signal(signal.SIGINT)


def _run_child(argv: list[str], cwd: str, env: dict, out: queue.Queue, child: dict) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "regulars.cli.main", *argv], cwd=cwd,
                            env={**env, FORWARDED_ENV: "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child["proc"] = proc

    def pump(stream, channel):
        while chunk := os.read(stream.fileno(), 65536):
            out.put((channel, chunk))

    pumps = [threading.Thread(target=pump, args=(proc.stdout, STDOUT), daemon=True),
             threading.Thread(target=pump, args=(proc.stderr, STDERR), daemon=True)]
    for t in pumps:
        t.start()
    code = proc.wait()
    for t in pumps:
        t.join()
    return code


def _after(app: FastAPI, future, out: queue.Queue) -> None:
    """Once the file is back: reload what the command may have changed, then send the exit code."""
    try:
        code, changed = future.result()
    except Exception as exc:  # noqa: BLE001 - the caller gets a clear message instead
        log.error("forwarded command failed to run: %s", type(exc).__name__)
        out.put((STDERR, f"error: the dashboard could not run the command ({type(exc).__name__})\n".encode()))
        out.put((EXIT, struct.pack(">i", 1)))
        return
    if changed:
        try:
            from regulars.server.actions import reload_keys
            from regulars.server.actions import forget_derived

            reload_keys(app)
            with app.state.shared.read() as ws:
                app.state.app_settings = auth.get_settings(ws)
            forget_derived(app)
        except Exception as exc:  # noqa: BLE001 - the command itself succeeded
            log.error("reloading after a forwarded command failed: %s", type(exc).__name__)
    out.put((EXIT, struct.pack(">i", code)))
