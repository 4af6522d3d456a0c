"""Data in: ``POST /api/events`` (real time) and ``POST /api/ingest/{kind}`` (file uploads)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
import tempfile
import threading
from pathlib import Path as FsPath
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Path, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from regulars.api.errors import ApiError
from regulars.api.routes._common import ERRORS, JSON, example
from regulars.api.security import Principal, require
from regulars.data import auth
from regulars.data.ingest.options import MappingError
from regulars.data.realtime import EventError
from regulars.data.schema import KINDS

router = APIRouter(tags=["data in"])

Text = lambda n, d="": Field(None, max_length=n, description=d)  # noqa: E731


class EventIn(BaseModel):
    """One web/app event. At least one of customer_id, email, phone or anonymous_id says whose it is."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "event_id": "evt-20240501-0001", "customer_id": "C000123", "event_type": "add_to_cart",
        "occurred_at": "2024-05-01T12:30:00Z", "product_id": "P12", "session_id": "s-88",
        "properties": {"quantity": 1}}]})

    event_id: str | None = Text(200, "Your id for the event; resending it changes nothing. Default: a hash of the event.")
    customer_id: str | None = Text(200, "The shop's customer id; an unknown id creates the customer.")
    email: str | None = Text(320, "Finds the customer by e-mail (stored hashed in the identity links).")
    phone: str | None = Text(40, "Finds the customer by phone.")
    anonymous_id: str | None = Text(200, "Cookie or device id; linked to the customer when sent with another identifier.")
    session_id: str | None = Text(200)
    event_type: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$",
                            description="page_view, product_view, search, add_to_cart, begin_checkout, purchase, …")
    occurred_at: dt.datetime | None = Field(None, description="ISO 8601; without an offset it is UTC. Default: now.")
    page_url: str | None = Text(2000)
    product_id: str | None = Text(200)
    search_query: str | None = Text(500)
    traffic_source: str | None = Text(200, "utm source / medium")
    properties: dict[str, Any] | None = Field(None, description="Anything else, as a JSON object.")


class EventBatch(BaseModel):
    """Several events, written in one transaction (all or none)."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(..., min_length=1, max_length=10_000)


EVENTS_EXAMPLE = {"accepted": 2, "new": 2, "duplicates": 0, "customers": ["C000123"], "customers_created": 0,
                  "run_id": 42}


@router.post(
    "/events",
    summary="Post events (one, or a batch of up to 10,000)",
    description="Events are validated, resolved to customers (shop id, e-mail, phone or anonymous id; unknown "
    "shop ids, e-mails and phones create a customer) and written durably before the answer. The customers' "
    "profile features and segment memberships are refreshed right after, typically within a second. "
    "A batch is all-or-nothing: one invalid event rejects the batch with its index and field. Needs analyst.",
    responses={**ERRORS, **example(EVENTS_EXAMPLE)},
)
def post_events(
    request: Request,
    principal: Principal = Depends(require("analyst")),
    body: EventIn | EventBatch = Body(..., openapi_examples={
        "single": {"summary": "one event", "value": {"customer_id": "C000123", "event_type": "page_view",
                                                      "page_url": "/products/p12"}},
        "batch": {"summary": "a batch", "value": {"events": [
            {"customer_id": "C000123", "event_type": "product_view", "product_id": "P12"},
            {"email": "ann@example.com", "event_type": "add_to_cart", "product_id": "P12"}]}},
    }),
):
    events = body.events if isinstance(body, EventBatch) else [body]
    limit = request.app.state.settings.max_events_per_request
    if len(events) > limit:
        raise ApiError(413, f"at most {limit} events per request; split the batch")
    try:
        result = request.app.state.shared.post_events([e.model_dump() for e in events])
    except EventError as exc:
        raise ApiError(422, str(exc), problems=[{"where": f"body.events.{exc.index}" + (
            f".{exc.field}" if exc.field else ""), "problem": str(exc)}]) from None
    return JSON(result.as_dict())


UPLOAD_EXAMPLE = {"run_id": 7, "kind": "orders", "format": "shopify", "files": ["orders_export.csv"],
                  "rows_read": 1200, "rows_loaded": 1195, "rows_quarantined": 5, "rows_new": 1195,
                  "rows_updated": 0, "rows_unchanged": 0, "tables": {"orders": {"new": 400}},
                  "customers_created": 12, "customers_merged": 0, "warnings": [], "seconds": 0.8}


@router.post(
    "/ingest/{kind}",
    summary="Upload export files (the same ingest path as `regulars ingest`)",
    description="Multipart upload of one or more files of one kind and format. The load is validated, "
    "idempotent and all-or-nothing; rejected rows go to the quarantine. Answers with the load summary. "
    "Needs analyst.",
    responses={**ERRORS, **example(UPLOAD_EXAMPLE), 413: {"description": "Upload too large."},
               503: {"description": "Too many uploads waiting to be loaded; try again later."}},
)
def upload(
    request: Request,
    principal: Principal = Depends(require("analyst")),
    kind: Literal[tuple(KINDS)] = Path(..., description="What the files hold."),  # type: ignore[valid-type]
    files: list[UploadFile] = File(..., description="CSV, Parquet or JSONL files (or a preset's export)."),
    format: str | None = Form(None, max_length=40, description="csv, parquet, jsonl or a preset name; default: detected."),
    mapping: UploadFile | None = File(None, description="Optional TOML mapping file."),
):
    result = run_upload(request, principal, kind, files, format, mapping)
    return JSON(result)


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
        from regulars.api.routes.customers import forget_derived

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
