"""Export a table or a segment to CSV or Parquet, pseudonymised and consent-filtered on request.

``export(ws, path, table=...)`` or ``export(ws, path, segment=...)`` is what ``regulars export``
runs. With a *key* every personal field becomes a keyed pseudonym (:mod:`regulars.privacy.pseudonymise`;
the same key gives the same pseudonyms in every export, so exported tables still join) and free
text is left out. With a *channel* only customers who consented to that channel are exported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from regulars.data import export_store
from regulars.privacy.pseudonymise import pseudonymise


@dataclass
class ExportResult:
    path: Path
    rows: int
    columns: list[str]
    pseudonymised: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "rows": self.rows, "columns": self.columns,
                "pseudonymised": self.pseudonymised, "notes": self.notes}


def export(ws, path, *, table: str | None = None, segment: str | None = None, key: bytes | None = None,
           channel: str | None = None) -> ExportResult:
    """Write *table* or *segment* to *path* (``.csv`` or ``.parquet``)."""
    if (table is None) == (segment is None):
        raise ValueError("export either a table or a segment")
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"{path.name}: the file must end in .csv or .parquet")
    frame = export_store.read_table(ws, table, channel) if table else export_store.read_segment(ws, segment, channel)
    notes = []
    if channel:
        notes.append(f"only customers who accept {channel} (consent granted and current)")
    replaced: list[str] = []
    if key is not None:
        before = set(frame.columns)
        frame, more = pseudonymise(frame, table or "customers", key)
        notes += more
        from regulars.privacy.pseudonymise import personal_columns

        replaced = personal_columns(table or "customers", [c for c in frame.columns if c in before])
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        from regulars.reports.csv_safe import LINE_END, safe_frame

        safe_frame(frame).to_csv(path, index=False, lineterminator=LINE_END)  # no cell runs as a formula
    else:
        frame.to_parquet(path, index=False)
    return ExportResult(path, len(frame), list(frame.columns), replaced, notes)
