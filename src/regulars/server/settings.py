"""Server settings: where the workspace is, where to listen, cookie and size limits.

Read from arguments, else ``REGULARS_*`` environment variables, else defaults.
Settings an admin changes at run time (shop name, session length) live in
the workspace instead (:mod:`regulars.data.auth`).

>>> Settings(workspace="shop.duckdb").port
8000
>>> Settings.from_env({"REGULARS_PORT": "9000", "REGULARS_WORKSPACE": "x.duckdb"}).port
9000
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from regulars.data.workspace import resolve_path


@dataclass(frozen=True)
class Settings:
    """Everything :func:`regulars.server.create_app` needs; nothing is read at import time.

    Parameters
    ----------
    workspace : the ``.duckdb`` file the server holds (default ``$REGULARS_WORKSPACE`` or ``./regulars.duckdb``)
    host, port : where ``regulars serve`` listens (default 127.0.0.1:8000, this machine only)
    secure_cookies : ``None`` marks cookies Secure when the request came over https (also behind a
        proxy sending ``X-Forwarded-Proto``); True/False forces it
    read_connections : read cursors kept open for requests
    max_upload_mb : largest upload accepted by ``POST /api/ingest/{kind}``
    max_events_per_request : largest batch accepted by ``POST /api/events``
    memory_limit : DuckDB memory limit, e.g. ``"2GB"``
    warm_reports : compute the dashboard's reports in the background at start, so first page loads are fast
    warm_profiles : build customer profiles in the background at start (most recently active first)
    max_profiles : how many customer profiles to keep ready in memory (about 4 kB each)
    run_activation : run journeys, webhooks, scheduled reports and alerts in the background
    """

    workspace: Path | str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    secure_cookies: bool | None = None
    read_connections: int = 8
    max_upload_mb: int = 200
    max_events_per_request: int = 10_000
    memory_limit: str | None = None
    log_level: str = "info"
    warm_reports: bool = True
    warm_profiles: bool = True
    max_profiles: int = 50_000
    run_activation: bool = True

    @property
    def workspace_path(self) -> Path:
        return resolve_path(self.workspace)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from ``REGULARS_<NAME>`` variables (e.g. ``REGULARS_PORT``), then *overrides*."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            raw = env.get(f"REGULARS_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.name in ("port", "read_connections", "max_upload_mb", "max_events_per_request", "max_profiles"):
                values[f.name] = int(raw)
            elif f.name in ("secure_cookies", "warm_reports", "warm_profiles", "run_activation"):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
