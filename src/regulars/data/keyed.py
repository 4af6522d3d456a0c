"""Keyed hashes of identifiers: HMAC-SHA256 with a secret that belongs to one workspace.

A bare SHA-256 of an e-mail address is no protection: anyone can hash a guessed
address and compare. Wherever regulars keeps a fingerprint of an identifier
(identity links, provisional customer ids, the erasure suppression list, the
audit log) it keeps a *keyed* hash instead::

    keyed(x) = HMAC-SHA256(secret, sha256_hex(x))

The secret is 32 random bytes made when the workspace is created (or upgraded),
stored in the table ``workspace_secret``; :mod:`regulars.data.sandbox` refuses to
read it, and it never leaves the workspace. Someone who sees a customer id, an
identity link or an audit entry — a viewer, a report sent by e-mail, a copy of an
export — cannot tell whose it is without the secret. Someone holding the
workspace file holds the personal data itself anyway.

Hashing the SHA-256 (rather than the value) lets an old workspace, whose links
stored ``sha256_hex(x)``, be upgraded without knowing ``x``.

The same function runs in Python (:meth:`Keyed.hash`) and in SQL
(:meth:`Keyed.sql`: HMAC written out with DuckDB's ``sha256`` over blobs), so a
row loaded from a file and an event posted to the API get the same fingerprint.

Examples
--------
>>> k = Keyed(bytes(range(32)))
>>> k.hash("ann@example.com") == k.of_sha256(hashlib.sha256(b"ann@example.com").hexdigest())
True
>>> import duckdb
>>> con = duckdb.connect()
>>> con.execute(f"SELECT {k.sql('?')}", ["ann@example.com"]).fetchall()[0][0] == k.hash("ann@example.com")
True
>>> len(k.hash("x")), k.hash("x") == Keyed(bytes(32)).hash("x")
(64, False)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from regulars.data.connection import connection

TABLE = "workspace_secret"

_BLOCK = 64  # SHA-256 block size: HMAC pads the key to it


def create_statements() -> list[str]:
    """The secret's table and a fresh random secret (a new one each time a workspace is created)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (secret BLOB, created_at TIMESTAMP)",
        f"INSERT INTO {TABLE} SELECT unhex('{secrets.token_hex(32)}'), now()::TIMESTAMP "
        f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE})",
    ]


class Keyed:
    """HMAC-SHA256 of ``sha256_hex(text)`` under one secret, in Python and as SQL."""

    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("the workspace secret must be at least 16 bytes")
        self._secret = secret
        padded = secret.ljust(_BLOCK, b"\0") if len(secret) <= _BLOCK else hashlib.sha256(secret).digest().ljust(_BLOCK, b"\0")
        self._ipad = bytes(b ^ 0x36 for b in padded).hex()
        self._opad = bytes(b ^ 0x5C for b in padded).hex()

    def of_sha256(self, sha256_hex: str) -> str:
        """The keyed hash from an already computed ``sha256_hex(text)``."""
        return hmac.new(self._secret, sha256_hex.encode(), hashlib.sha256).hexdigest()

    def hash(self, text: str) -> str:
        """The keyed hash of *text* (64 hex characters)."""
        return self.of_sha256(hashlib.sha256(text.encode()).hexdigest())

    def sql_of_sha256(self, expr: str) -> str:
        """SQL for :meth:`of_sha256` of the VARCHAR expression *expr* (NULL stays NULL)."""
        return (f"sha256(unhex('{self._opad}') || unhex(sha256(unhex('{self._ipad}') || encode({expr}))))")

    def sql(self, expr: str) -> str:
        """SQL for :meth:`hash` of the VARCHAR expression *expr* (NULL stays NULL)."""
        return self.sql_of_sha256(f"sha256({expr})")


def for_connection(db) -> Keyed:
    """The workspace's keyed hash (its secret read from ``workspace_secret``)."""
    con = connection(db)
    rows = con.execute(f"SELECT secret FROM {TABLE} ORDER BY created_at LIMIT 1").fetchall()
    if not rows:
        raise RuntimeError("this workspace has no secret yet: open it once for writing to upgrade it")
    return Keyed(bytes(rows[0][0]))
