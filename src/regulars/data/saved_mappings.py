"""Mappings a shop saved by name, so a file the dashboard uploads can reuse one (``app_settings``
rows named ``mapping.<name>``; the newest value of a name wins, earlier ones stay as history).

A mapping is the TOML text ``regulars ingest --mapping`` reads (``[columns]``, ``[parse]``); it is
checked before it is saved, so a saved one always parses.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> save_mapping(ws, "till export", '[parse]\\ndelimiter = ";"\\ndecimal = ","\\n', by="doc")
'till export'
>>> saved_mappings(ws)
['till export']
>>> print(mapping_text(ws, "till export"), end="")
[parse]
delimiter = ";"
decimal = ","
>>> saved_mapping(ws, "till export").parse.delimiter
';'
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json

from regulars.data.connection import connection

PREFIX = "mapping."
MAX_NAME = 60
MAX_TEXT = 64 * 1024


def _clean_name(name: str) -> str:
    text = " ".join(str(name).split())
    if not 1 <= len(text) <= MAX_NAME:
        raise ValueError(f"a mapping name must be 1 to {MAX_NAME} characters")
    return text


def save_mapping(con, name: str, text: str, by: str) -> str:
    """Check *text* is a mapping and store it under *name* (replacing an older one); return the name."""
    con = connection(con)
    from regulars.data.ingest.options import Mapping

    name = _clean_name(name)
    if len(text) > MAX_TEXT:
        raise ValueError(f"a mapping is at most {MAX_TEXT // 1024} KB of TOML")
    Mapping.from_toml(text, path=f"mapping {name!r}")  # raises MappingError (a ValueError) saying what is wrong
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("INSERT INTO app_settings VALUES (?, ?, ?, ?)", [PREFIX + name, json.dumps(text), now, by])
    return name


def saved_mappings(con) -> list[str]:
    """Names of the saved mappings, alphabetically."""
    con = connection(con)
    rows = con.execute("SELECT DISTINCT name FROM app_settings WHERE starts_with(name, ?) ORDER BY name",
                       [PREFIX]).fetchall()
    return [r[0][len(PREFIX):] for r in rows]


def mapping_text(con, name: str) -> str:
    """The TOML of the saved mapping *name*; ``KeyError`` naming the saved ones when there is none."""
    con = connection(con)
    row = con.execute("SELECT arg_max(value, updated_at)::VARCHAR FROM app_settings WHERE name = ?",
                      [PREFIX + str(name)]).fetchone()
    if not row or row[0] is None:
        known = ", ".join(saved_mappings(con)) or "none yet"
        raise KeyError(f"no saved mapping {name!r} (saved: {known})")
    return json.loads(row[0])


def saved_mapping(ws, name: str):
    """The saved mapping *name*, parsed (a :class:`~regulars.data.ingest.options.Mapping`), for
    ``regulars ingest --mapping NAME``; ``KeyError`` naming the saved ones when there is none."""
    from regulars.data.ingest.options import Mapping

    return Mapping.from_toml(mapping_text(connection(ws), name), path=f"saved mapping {name!r}")
