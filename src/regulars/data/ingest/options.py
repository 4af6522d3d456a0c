"""How to read a source file and map its columns onto a canonical table.

A mapping file is TOML::

    kind = "orders"              # optional: the kind it is meant for
    format = "csv"               # csv | parquet | jsonl (default: from the file extension)

    [columns]                    # canonical column = source column
    customer_id = "master_id"
    ordered_at = "date"
    total = "dollar_value"

    [parse]
    delimiter = "whitespace"     # any character, "\\t", or "whitespace" (runs of spaces/tabs)
    header = false               # without a header, columns are column1, column2, ...
    names = ["master_id", "date", "cds", "dollar_value"]   # or name them yourself
    date_format = "%Y%m%d"       # strptime format, or a list of them
    timezone = "Europe/Paris"    # zone of timestamps that carry no offset (default UTC)
    decimal = ","                # decimal separator of money columns (default ".")
    currency = "EUR"             # fills orders.currency when the file has none

Examples
--------
>>> m = Mapping.from_toml('[columns]\\ntotal = "amount"\\n[parse]\\ndelimiter = ";"')
>>> m.columns, m.parse.delimiter
({'total': 'amount'}, ';')
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from regulars.data.schema import KINDS, TABLES

FORMATS = ("csv", "parquet", "jsonl")


class MappingError(ValueError):
    """A mapping file or option is wrong; the message says what to change."""


@dataclass
class ParseOptions:
    delimiter: str | None = None
    header: bool = True
    names: list[str] | None = None
    date_format: str | list[str] | None = None
    timezone: str = "UTC"
    decimal: str = "."
    currency: str | None = None
    encoding: str = "utf-8"
    quote: str | None = None

    @classmethod
    def from_dict(cls, d: dict, where: str = "[parse]") -> "ParseOptions":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise MappingError(
                f"{where}: unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        for name, value in d.items():
            if not isinstance(value, (str, bool, list)) or (isinstance(value, list) and not all(
                    isinstance(v, str) for v in value)):
                raise MappingError(f"{where}: {name} must be text, true/false or a list of text, not {value!r:.60}")
        opts = cls(**d)
        if opts.delimiter in ("\\t", "tab"):
            opts.delimiter = "\t"
        if opts.decimal not in (".", ","):
            raise MappingError(f'{where}: decimal must be "." or ",", not {opts.decimal!r}')
        return opts


@dataclass
class Mapping:
    """Canonical column -> source column, plus parse options."""

    columns: dict[str, str] = field(default_factory=dict)
    parse: ParseOptions = field(default_factory=ParseOptions)
    kind: str | None = None
    format: str | None = None
    path: str | None = None

    @classmethod
    def from_toml(cls, text: str, path: str | None = None) -> "Mapping":
        where = path or "mapping"
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"{where}: not valid TOML: {exc}") from exc
        except RecursionError:  # arrays or tables nested thousands deep
            raise MappingError(f"{where}: not a mapping file (values nested too deeply)") from None
        for section in ("columns", "parse"):
            if not isinstance(doc.get(section, {}), dict):
                raise MappingError(f"{where}: [{section}] must be a table of name = value lines")
        unknown = set(doc) - {"kind", "format", "columns", "parse"}
        if unknown:
            raise MappingError(
                f"{where}: unknown section(s) {', '.join(sorted(unknown))}; "
                "expected kind, format, [columns], [parse]"
            )
        kind = doc.get("kind")
        if kind is not None and kind not in KINDS:
            raise MappingError(f"{where}: kind {kind!r} unknown; one of {', '.join(KINDS)}")
        fmt = doc.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise MappingError(f"{where}: format {fmt!r} unknown; one of {', '.join(FORMATS)}")
        columns = doc.get("columns", {})
        for canon, src in columns.items():
            if not isinstance(src, str):
                raise MappingError(
                    f"{where}: [columns] {canon} must name a source column as a string, "
                    f"got {src!r}"
                )
        return cls(
            columns=dict(columns),
            parse=ParseOptions.from_dict(doc.get("parse", {}), f"{where} [parse]"),
            kind=kind,
            format=fmt,
            path=path,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> "Mapping":
        p = Path(path)
        if not p.exists():
            raise MappingError(f"mapping file {p} does not exist")
        return cls.from_toml(p.read_text(encoding="utf-8"), str(p))

    def check_columns(self, table: str) -> None:
        """Fail when a mapped canonical column does not exist in *table*."""
        known = set(TABLES[table].column_names) | IDENTITY_INPUTS
        for canon in self.columns:
            if canon not in known:
                raise MappingError(
                    f"{self.path or 'mapping'}: [columns] {canon!r} is not a column of "
                    f"{table}; known: {', '.join(sorted(known - {'_run_id'}))}"
                )


#: Extra canonical inputs any customer-bearing kind may map: used to find the
#: customer (identity resolution), stored only in ``customers``.
IDENTITY_INPUTS = {"email", "phone", "anonymous_id"}


def detect_format(path: str | Path) -> str:
    """The format implied by a file name (``.csv``, ``.txt``, ``.tsv``, ``.parquet``, ``.jsonl``...).

    >>> detect_format("orders_export.csv.gz"), detect_format("events.ndjson")
    ('csv', 'jsonl')
    """
    name = str(path).lower()
    for suffix in (".gz", ".zst"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv", ".txt", ".tab")):
        return "csv"
    raise MappingError(
        f"cannot tell the format of {path} from its name; pass --format csv|parquet|jsonl"
    )
