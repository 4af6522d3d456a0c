"""``regulars ingest --mapping``: a mapping file, or the name of a mapping saved on the dashboard.

The Data page's upload form saves mappings by name (:mod:`regulars.data.saved_mappings`);
the same name works in the terminal, so a shop sets up its till export once.
"""

from __future__ import annotations

from pathlib import Path

from regulars.cli.common import fail


def resolve_mapping(ws, value: str | None):
    """A file path when *value* names an existing file, else the saved mapping of that name.

    Fails with a message listing the saved mappings when it is neither.
    """
    from regulars.data.saved_mappings import saved_mapping

    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return path
    try:
        return saved_mapping(ws, value)
    except KeyError as exc:
        fail(f"--mapping {value!r}: no such file, and {exc.args[0]}; save one on the dashboard's Data page "
             "(Upload a file) or give a TOML file")
