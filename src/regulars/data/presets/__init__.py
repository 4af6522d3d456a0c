"""Presets: real export formats that load without a mapping file.

Each preset knows a vendor's column names and how its rows map onto the
canonical tables. ``regulars ingest orders export.csv`` detects a preset
from the file's header; ``--format NAME`` picks one explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from regulars.data.ingest.options import MappingError, ParseOptions


@dataclass(frozen=True)
class Preset:
    """A known export format.

    ``builders`` maps an ingest kind to a function that, given the file's
    column names, returns the canonical targets it feeds.
    """

    name: str
    title: str
    format: str
    signature: frozenset[str]
    builders: dict[str, Callable]
    parse: ParseOptions = field(default_factory=ParseOptions)

    def source(self, kind: str):
        from regulars.data.ingest.pipeline import Source

        if kind not in self.builders:
            raise MappingError(
                f"the {self.title} preset loads {', '.join(self.builders)}, not {kind!r}"
            )
        return Source(self.name, self.format, self.parse, self.builders[kind])

    def matches(self, columns: set[str]) -> bool:
        return self.signature <= columns


PRESETS: dict[str, Preset] = {}


def register(preset: Preset) -> Preset:
    PRESETS[preset.name] = preset
    return preset


def detect_preset(path: str, kind: str) -> Preset | None:
    """The preset whose signature columns all appear in the file's header, if any."""
    columns = _header(path)
    for preset in PRESETS.values():
        if kind in preset.builders and preset.matches(columns):
            return preset
    return None


def _header(path: str) -> set[str]:
    """The file's column names: a CSV header as the loader reads it (delimiter, BOM and encoding
    worked out), or the keys of a JSON-lines file's first object."""
    import json

    from regulars.data.ingest import csvfile

    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            first = fh.readline().strip()
    except OSError:
        return set()
    if first.startswith("{"):
        try:
            return set(json.loads(first))
        except ValueError:
            return set()
    try:
        return set(csvfile.inspect(path, ParseOptions()).columns)
    except (MappingError, OSError):
        return set()


def _load_builtin() -> None:
    from regulars.data.presets import email, ga4, shopify, woocommerce  # noqa: F401


_load_builtin()
