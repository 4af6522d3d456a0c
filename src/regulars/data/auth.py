"""API keys, dashboard sessions, the audit log and server settings, stored in the workspace.

Keys look like ``rk_<key id>_<secret>``. Only the SHA-256 of the secret is
stored (the secret is 192 random bits, so a fast hash is enough); the whole
key is shown once, when it is created. Sessions are stored the same way:
the cookie carries a random token, the table its hash.

Roles, from least to most trusted:

- ``viewer``: reads everything except personal data (names, e-mails,
  phones, postal codes, birth dates and free text are masked);
- ``analyst``: also reads personal data, posts events and uploads files;
- ``admin``: also erases customers, manages keys and changes settings.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> key, secret = create_key(ws, "viewer", name="wall screen", created_by="cli")
>>> key.role, secret.startswith("rk_" + key.key_id + "_")
('viewer', True)
>>> Keyring.load(ws).verify(secret).key_id == key.key_id
True
>>> _ = revoke_key(ws, key.key_id, revoked_by="cli")
>>> Keyring.load(ws).verify(secret) is None
True
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import asdict, dataclass, replace

from regulars.data.connection import connection

ROLES = ("viewer", "analyst", "admin")
KEY_PREFIX = "rk"

#: Server settings an admin may change, with their defaults and a description.
SETTINGS: dict[str, tuple[object, str]] = {
    "shop_name": ("My shop", "name shown in the dashboard header"),
    "session_hours": (12.0, "how long a dashboard sign-in lasts, in hours (0.25 to 720)"),
    "timezone": ("UTC", "the shop's time zone (IANA name, e.g. Europe/Paris): days, weeks and months in reports "
                        "group by it, and file times without an offset are read in it"),
    "currency": (None, "the shop's currency (ISO 4217 code, e.g. EUR)"),
    "exchange_rates": ({}, "exchange rates to the shop's currency for orders in other currencies, e.g. USD=0.92 "
                           "(one USD is 0.92 of the shop's currency), each with the day it was set"),
}


class AuthError(ValueError):
    """A key, role or setting is wrong; the message says what to change."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def rank(role: str) -> int:
    """Position of *role* in :data:`ROLES` (higher is more trusted)."""
    return ROLES.index(role)


def migration_statements() -> list[str]:
    """The tables this module needs (used by migration 3)."""
    return [
        """CREATE TABLE IF NOT EXISTS api_keys (
            key_id VARCHAR, name VARCHAR, role VARCHAR, secret_hash VARCHAR,
            created_at TIMESTAMP, created_by VARCHAR, last_used_at TIMESTAMP, revoked_at TIMESTAMP)""",
        """CREATE TABLE IF NOT EXISTS sessions (
            session_hash VARCHAR, key_id VARCHAR, role VARCHAR, csrf_token VARCHAR,
            created_at TIMESTAMP, expires_at TIMESTAMP, ended_at TIMESTAMP)""",
        """CREATE TABLE IF NOT EXISTS audit_log (
            logged_at TIMESTAMP, actor VARCHAR, role VARCHAR, action VARCHAR, target VARCHAR, detail JSON)""",
        """CREATE TABLE IF NOT EXISTS app_settings (
            name VARCHAR, value JSON, updated_at TIMESTAMP, updated_by VARCHAR)""",
    ]


# -- keys ---------------------------------------------------------------------
@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    key_id: str
    name: str
    role: str
    created_at: dt.datetime
    created_by: str
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict:
        d = asdict(self)
        for k in ("created_at", "last_used_at", "revoked_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["active"] = self.active
        return d


_KEY_COLS = "key_id, name, role, created_at, created_by, last_used_at, revoked_at"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")


def create_key(db, role: str, name: str = "", created_by: str = "cli") -> tuple[ApiKey, str]:
    """Create a key with *role*; return it and the full secret key (shown once)."""
    con = connection(db)
    _check_role(role)
    name = (name or f"{role} key").strip()[:100]
    key_id = secrets.token_hex(5)
    secret = secrets.token_urlsafe(24)
    now = _now()
    con.execute(
        "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        [key_id, name, role, _hash(secret), now, created_by],
    )
    record(con, created_by, None, "key.create", key_id, {"role": role, "name": name})
    return ApiKey(key_id, name, role, now, created_by), f"{KEY_PREFIX}_{key_id}_{secret}"


def list_keys(db, include_revoked: bool = True) -> list[ApiKey]:
    con = connection(db)
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    rows = con.execute(f"SELECT {_KEY_COLS} FROM api_keys {where} ORDER BY created_at, key_id").fetchall()
    return [ApiKey(*r) for r in rows]


def get_key(db, key_id: str) -> ApiKey | None:
    """The key *key_id* (active or revoked), or None."""
    rows = connection(db).execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_id = ?", [key_id]).fetchall()
    return ApiKey(*rows[0]) if rows else None


def revoke_key(db, key_id: str, revoked_by: str = "cli") -> ApiKey:
    """Revoke a key (and end its sessions). Raises :class:`AuthError` when unknown."""
    con = connection(db)
    rows = con.execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_id = ?", [key_id]).fetchall()
    if not rows:
        raise AuthError(f"no key {key_id!r}; list them with `regulars keys list`")
    key = ApiKey(*rows[0])
    if key.active:
        now = _now()
        con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [now, key_id])
        con.execute("UPDATE sessions SET ended_at = ? WHERE key_id = ? AND ended_at IS NULL", [now, key_id])
        record(con, revoked_by, None, "key.revoke", key_id, {"role": key.role})
        key = replace(key, revoked_at=now)
    return key


def count_active_admins(db) -> int:
    con = connection(db)
    return con.execute(
        "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL"
    ).fetchall()[0][0]


def touch_keys(db, last_used: dict[str, dt.datetime]) -> None:
    """Record when keys were last used (batched by the server)."""
    con = connection(db)
    for key_id, at in last_used.items():
        con.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", [at, key_id])


class Keyring:
    """The active keys in memory, for checking a presented key without a query.

    The server holds the workspace alone (DuckDB allows one writing process),
    so keys only change through the server itself, which reloads the ring.
    """

    def __init__(self, keys: dict[str, tuple[str, ApiKey]]):
        self._keys = keys
        self._lock = threading.Lock()
        self.last_used: dict[str, dt.datetime] = {}

    @classmethod
    def load(cls, db) -> "Keyring":
        con = connection(db)
        rows = con.execute(
            f"SELECT secret_hash, {_KEY_COLS} FROM api_keys WHERE revoked_at IS NULL"
        ).fetchall()
        return cls({r[1]: (r[0], ApiKey(*r[1:])) for r in rows})

    def verify(self, presented: str | None) -> ApiKey | None:
        """The active key matching *presented*, or None."""
        if not presented:
            return None
        parts = presented.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        entry = self._keys.get(parts[1])
        if entry is None or not hmac.compare_digest(entry[0], _hash(parts[2])):
            return None
        with self._lock:
            self.last_used[entry[1].key_id] = _now()
        return entry[1]

    def get(self, key_id: str) -> ApiKey | None:
        entry = self._keys.get(key_id)
        return entry[1] if entry else None

    def drain_last_used(self) -> dict[str, dt.datetime]:
        with self._lock:
            out, self.last_used = self.last_used, {}
        return out

    def __len__(self) -> int:
        return len(self._keys)


# -- sessions -----------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """A dashboard sign-in: which key, which role, its CSRF token and expiry."""

    key_id: str
    role: str
    csrf_token: str
    expires_at: dt.datetime


def create_session(db, key: ApiKey, hours: float) -> tuple[str, Session]:
    """Start a session for *key*; return the cookie token and the session."""
    con = connection(db)
    token = secrets.token_urlsafe(32)
    session = Session(key.key_id, key.role, secrets.token_urlsafe(24), _now() + dt.timedelta(hours=hours))
    con.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [_hash(token), key.key_id, key.role, session.csrf_token, _now(), session.expires_at],
    )
    return token, session


def find_session(db, token: str | None) -> Session | None:
    """The live session for a cookie token, or None (unknown, ended or expired)."""
    con = connection(db)
    if not token or len(token) > 200:
        return None
    rows = con.execute(
        "SELECT key_id, role, csrf_token, expires_at FROM sessions "
        "WHERE session_hash = ? AND ended_at IS NULL AND expires_at > ?",
        [_hash(token), _now()],
    ).fetchall()
    return Session(*rows[0]) if rows else None


def end_session(db, token: str) -> None:
    con = connection(db)
    con.execute("UPDATE sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL", [_now(), _hash(token)])


def session_hash(token: str) -> str:
    return _hash(token)


def purge_sessions(db) -> None:
    """Forget sessions that ended or expired more than a day ago."""
    con = connection(db)
    con.execute(
        "DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < ?", [_now() - dt.timedelta(days=1)]
    )


# -- audit --------------------------------------------------------------------
def record(db, actor: str, role: str | None, action: str, target: str | None, detail: dict | None = None) -> None:
    """Append to the audit log. *target* and *detail* must not hold personal data."""
    con = connection(db)
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?)",
        [_now(), actor, role, action, target, json.dumps(detail or {}, default=str)],
    )


def audit_entries(db, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
    con = connection(db)
    total = con.execute("SELECT count(*) FROM audit_log").fetchall()[0][0]
    cur = con.execute(
        "SELECT logged_at, actor, role, action, target, detail::VARCHAR FROM audit_log ORDER BY logged_at DESC LIMIT ? OFFSET ?",
        [limit, offset],
    )
    rows = cur.fetchall()
    return total, [
        {"logged_at": r[0].isoformat(), "actor": r[1], "role": r[2], "action": r[3], "target": r[4],
         "detail": json.loads(r[5]) if r[5] else {}}
        for r in rows
    ]


# -- settings -----------------------------------------------------------------
def get_settings(db) -> dict[str, object]:
    """Every setting: stored value, else default."""
    con = connection(db)
    stored = dict(
        con.execute(
            "SELECT name, arg_max(value, updated_at)::VARCHAR FROM app_settings GROUP BY name"
        ).fetchall()
    )
    return {name: json.loads(stored[name]) if name in stored else default for name, (default, _) in SETTINGS.items()}


def validate_setting(name: str, value: object, current: object = None) -> object:
    if name not in SETTINGS:
        raise AuthError(f"unknown setting {name!r}; known: {', '.join(SETTINGS)}")
    if name == "shop_name":
        text = str(value).strip()
        if not 1 <= len(text) <= 80:
            raise AuthError("shop_name must be 1 to 80 characters")
        return text
    if name == "session_hours":
        try:
            hours = float(value)
        except (TypeError, ValueError):
            raise AuthError("session_hours must be a number of hours") from None
        if not 0.25 <= hours <= 720:
            raise AuthError("session_hours must be between 0.25 and 720")
        return hours
    if name == "timezone":
        from regulars.data.ingest.options import MappingError, check_timezone

        try:
            return check_timezone(str(value), "timezone")
        except MappingError as exc:
            raise AuthError(str(exc)) from None
    if name == "currency":
        from regulars.data.ingest.money import currency_code

        code = currency_code(str(value))
        if code is None:
            raise AuthError(f"currency {value!r} is not an ISO 4217 code such as EUR or USD")
        return code
    if name == "exchange_rates":
        from regulars.data.shop import RateError, parse_rates

        try:
            return parse_rates(value, current if isinstance(current, dict) else None)
        except RateError as exc:
            raise AuthError(str(exc)) from None
    return value  # pragma: no cover


def set_settings(db, values: dict[str, object], updated_by: str) -> dict[str, object]:
    """Validate and store settings; return all settings."""
    con = connection(db)
    now = get_settings(con) if values else {}
    clean = {name: validate_setting(name, v, now.get(name)) for name, v in values.items()}
    for name, v in clean.items():
        con.execute("INSERT INTO app_settings VALUES (?, ?, ?, ?)", [name, json.dumps(v), _now(), updated_by])
    if clean:
        record(con, updated_by, "admin", "settings.change", None, clean)
    return get_settings(con)
