"""Swapping what a Spark ingest wrote into a lake (:mod:`regulars.data.lake`), all or nothing.

The ingest writes everything it changes under a staging folder inside the warehouse (a hidden
``.ingest-…`` folder, so on the same file system and never read as a table): for a month-partitioned
table the *whole* new content of each month it touches, for an appended table (quarantine, ingest
runs, customer stubs) new part files. :func:`swap_in` then moves them into place with renames,
keeping every replaced month folder aside; any failure moves everything back in reverse order, so
the lake is as it was. The manifest is replaced last (written beside it, then renamed over it).

Examples
--------
>>> moves = Moves()
>>> moves.done
[]
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.lake import MANIFEST

__all__ = ["Moves", "data_files", "parquet_rows", "staging_folder", "swap_in"]


def staging_folder(warehouse: Path) -> Path:
    """A fresh hidden folder inside *warehouse* for one ingest's files."""
    folder = warehouse / f".ingest-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def data_files(folder: Path) -> list[Path]:
    """The Parquet data files Spark committed under *folder* (not its ``_temporary`` or hidden files)."""
    return [f for f in folder.rglob("*.parquet") if not any(p.startswith(("_", ".")) for p in f.relative_to(folder).parts)]


def parquet_rows(folder: Path) -> int:
    """The rows under *folder*, from the Parquet footers of its data files."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in data_files(folder)) if folder.exists() else 0


@dataclass
class Moves:
    """Renames done so far, to undo in reverse order."""

    done: list[tuple[Path, Path]] = field(default_factory=list)

    def move(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        self.done.append((source, target))

    def undo(self) -> None:
        for source, target in reversed(self.done):
            os.rename(target, source)
        self.done.clear()


def swap_in(warehouse: Path, staging: Path, months: dict[str, list[str]], appended: list[str], manifest: dict) -> None:
    """Move the staged months of each partitioned table and the staged files of each appended table
    into *warehouse*, then its new *manifest*; on any failure, put everything back.

    *months* maps a partitioned table to the months it rewrote (a month with no staged folder had all
    its rows moved to another month: its folder is removed). *appended* lists the tables whose staged
    part files are added beside the existing ones.
    """
    moves = Moves()
    aside = staging / "_replaced"
    try:
        for table, touched in months.items():
            for month in touched:
                old, new = warehouse / table / f"month={month}", staging / table / f"month={month}"
                if old.exists():
                    moves.move(old, aside / table / f"month={month}")
                if new.exists():
                    moves.move(new, old)
        for table in appended:
            for part in data_files(staging / table):
                moves.move(part, warehouse / table / part.name)
        fresh = staging / MANIFEST
        fresh.write_text(json.dumps(manifest, indent=1))
        os.replace(fresh, warehouse / MANIFEST)
    except BaseException:
        moves.undo()
        raise
    shutil.rmtree(staging, ignore_errors=True)
