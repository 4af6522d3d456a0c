"""Pseudonymised copies of tables: personal fields replaced by keyed hashes, free text left out.

Each personal value is replaced by ``HMAC-SHA256(key, column kind + value)`` cut to 16 hex digits
(64 bits) with a ``p_`` prefix. With the same key the same customer gets the same pseudonym in
every table and every export (orders still join to customers); without the key a pseudonym
cannot be turned back into the value or recomputed from a guess, unlike a plain hash of an
e-mail address. A new key makes the pseudonyms unlinkable to earlier exports.

What is replaced: identifiers (``customer_id``, ``anonymous_id``, identity values), contact and
name fields, postal codes and birth dates (every column listed in
:data:`regulars.data.schema.PII_COLUMNS`). Free-text columns (review and ticket bodies, survey
comments) are **dropped**: people write their names and addresses in them, and no hash can fix that.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"customer_id": ["C1", "C2", "C1"], "email": ["a@x.org", None, "a@x.org"],
...                       "total": [10.0, 20.0, 5.0], "body": ["hi", "hello", "hey"]})
>>> out, notes = pseudonymise(frame, "orders", key=b"secret")
>>> out.columns.tolist(), out["customer_id"].iloc[0] == out["customer_id"].iloc[2], out["email"].iloc[1]
(['customer_id', 'email', 'total'], True, None)
>>> out["customer_id"].iloc[0].startswith("p_"), len(out["customer_id"].iloc[0])
(True, 18)
>>> notes
['dropped free-text column(s) body: they can hold names and addresses']
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pandas as pd

from regulars.data.schema import PII_COLUMNS

#: Columns that identify a person wherever they appear.
IDENTIFIER_COLUMNS = {"customer_id", "anonymous_id", "email", "phone", "first_name", "last_name", "postal_code",
                      "birth_date"}
FREE_TEXT_COLUMNS = {"body", "comment", "search_query", "raw"}
#: Columns that hold the same person's identifier under another name (hashed as that kind).
SAME_AS = {"value": "identity_value"}


def new_key() -> bytes:
    """A random 256-bit key."""
    return secrets.token_bytes(32)


def pseudonym(key: bytes, kind: str, value) -> str | None:
    """The keyed pseudonym of one value (None stays None).

    >>> pseudonym(b"k", "customer_id", "C1") == pseudonym(b"k", "customer_id", "C1") != pseudonym(b"j", "customer_id", "C1")
    True
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    digest = hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
    return "p_" + digest[:16]


def personal_columns(table: str, columns) -> list[str]:
    """The columns of *table* to replace by pseudonyms."""
    listed = set(PII_COLUMNS.get(table, ())) - FREE_TEXT_COLUMNS
    return [c for c in columns if c in IDENTIFIER_COLUMNS or c in listed or (table == "identities" and c in SAME_AS)]


def pseudonymise(frame: pd.DataFrame, table: str, key: bytes) -> tuple[pd.DataFrame, list[str]]:
    """*frame* (rows of *table*) with personal columns pseudonymised and free text dropped; and notes."""
    notes = []
    drop = [c for c in frame.columns if c in FREE_TEXT_COLUMNS or c in set(PII_COLUMNS.get(table, ())) & FREE_TEXT_COLUMNS]
    out = frame.drop(columns=drop)
    if drop:
        notes.append(f"dropped free-text column(s) {', '.join(drop)}: they can hold names and addresses")
    for col in personal_columns(table, out.columns):
        kind = "customer_id" if col == "customer_id" else SAME_AS.get(col, col)
        values = out[col].astype(object).where(out[col].notna(), None)
        cache: dict = {}
        out[col] = pd.Series([cache.setdefault(v, pseudonym(key, kind, v)) if v is not None else None
                              for v in values], index=out.index, dtype=object)
    return out, notes
