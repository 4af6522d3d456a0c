"""Uploaded export files loaded through the ingest pipeline on the server's writer.

Shared by ``POST /api/ingest/{kind}`` and the dashboard's Data page: the files are saved to a
temporary folder of this workspace's (removed afterwards, and at start-up after an interrupted
server), loaded one upload at a time, and the caches dropped after.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
import threading
from pathlib import Path as FsPath

from fastapi import Request, UploadFile

from regulars.data import auth
from regulars.data.ingest.options import MappingError
from regulars.data.schema import KINDS
from regulars.server.actions import forget_derived
from regulars.server.errors import ApiError
from regulars.server.security import Principal


def run_upload(request: Request, principal: Principal, kind: str, files: list[UploadFile], format: str | None,
               mapping: UploadFile | None, mapping_text: str | None = None) -> dict:
    """Save the uploads to a temporary folder and ingest them through the writer (shared with the Data page).

    Loads run one at a time on the server's single writer; at most :data:`MAX_UPLOADS_IN_FLIGHT`
    uploads are received or waiting at once (HTTP 503 beyond).
    """
    if kind not in KINDS:
        raise ApiError(422, f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    files = [f for f in files if getattr(f, "filename", None) is not None]
    if not files:
        raise ApiError(422, "no file uploaded; send one or more files in the `files` field")
    with _upload_slot(request):
        return _save_and_load(request, principal, kind, files, format, mapping, mapping_text)


#: Uploads received or waiting for the writer at once; more are refused until one finishes.
#: Loads run one at a time on the writer (each within the ingest memory budget), so waiting uploads
#: cost disk, not memory.
MAX_UPLOADS_IN_FLIGHT = 4
_in_flight = threading.BoundedSemaphore(MAX_UPLOADS_IN_FLIGHT)


@contextlib.contextmanager
def _upload_slot(request: Request):
    if not _in_flight.acquire(blocking=False):
        raise ApiError(503, f"{MAX_UPLOADS_IN_FLIGHT} uploads are already being loaded, one after the other; "
                            "try again when one has finished")
    try:
        yield
    finally:
        _in_flight.release()


def _save_and_load(request: Request, principal: Principal, kind: str, files: list[UploadFile], format: str | None,
                   mapping: UploadFile | None, mapping_text: str | None = None) -> dict:
    from regulars.data.ingest.pipeline import LoadInvariantError, ingest

    budget = request.app.state.settings.max_upload_mb * 1024 * 1024
    folder = FsPath(tempfile.mkdtemp(prefix=upload_prefix(request.app.state.shared.path)))
    try:
        paths, used = [], 0
        for i, f in enumerate(files):
            name = _safe_name(f.filename, f"upload-{i + 1}.csv")
            target = folder / f"{i:02d}" / name
            target.parent.mkdir()
            with target.open("wb") as out:
                while chunk := f.file.read(1 << 20):
                    used += len(chunk)
                    if used > budget:
                        raise ApiError(413, f"upload larger than {request.app.state.settings.max_upload_mb} MB; "
                                            "load big files with `regulars ingest` instead")
                    out.write(chunk)
            paths.append(str(target))
        mapping_path = None
        if mapping is not None and mapping.filename:
            mapping_path = folder / "mapping.toml"
            mapping_path.write_bytes(mapping.file.read(1 << 20))
        elif mapping_text and mapping_text.strip():  # pasted on the Data page, or a saved one
            mapping_path = folder / "mapping.toml"
            mapping_path.write_text(mapping_text, encoding="utf-8")

        def run(ws):
            result = ingest(ws, kind, paths, format=format or None, mapping=mapping_path)
            auth.record(ws, principal.actor, principal.role, "ingest.upload", f"run:{result.run_id}",
                        {"kind": kind, "files": len(paths), "rows_read": result.rows_read})
            return result

        try:
            # no time limit: the files must stay until the writer has loaded them (loads queue)
            result = request.app.state.shared.write(run, timeout=None)
        except LoadInvariantError as exc:
            raise ApiError(500, _first_line(exc, folder)) from None
        except (MappingError, ValueError, UnicodeError, RecursionError) as exc:
            raise ApiError(422, f"cannot load these files: {_first_line(exc, folder)}") from None
        except Exception as exc:  # the database refusing the file (not a server fault)
            if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                raise
            raise ApiError(422, f"cannot read these files as {format or 'detected format'}: "
                                f"{_first_line(exc, folder)}") from None
        forget_derived(request.app)
        out = result.as_dict()
        out["files"] = [FsPath(p).name for p in out["files"]]
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload_prefix(workspace: FsPath) -> str:
    """Name prefix of this workspace's upload folders in the temporary directory (one per server)."""
    return "regulars-upload-" + hashlib.sha256(str(FsPath(workspace).resolve()).encode()).hexdigest()[:12] + "-"


def clean_stale_uploads(workspace: FsPath) -> int:
    """Remove upload folders an interrupted server left behind (called at start-up); return how many.

    Only this workspace's folders: another server on this machine serves another workspace.
    """
    removed = 0
    for folder in FsPath(tempfile.gettempdir()).glob(upload_prefix(workspace) + "*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _hide(message: str, folder: FsPath) -> str:
    """*message* without the server's temporary folder (file names only)."""
    return re.sub(re.escape(str(folder)) + r"[/\\](\d\d[/\\])?", "", message)


def _first_line(exc: BaseException, folder: FsPath | None = None) -> str:
    line = (str(exc).splitlines() or [type(exc).__name__])[0]
    return (_hide(line, folder) if folder else line)[:300]


def _safe_name(name: str | None, default: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch if ch.isalnum() or ch in "-_. " else "_" for ch in base).strip(" .")[:120]
    return cleaned or default
