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
    timezone = "Europe/Paris"    # zone of timestamps that carry no offset (default: the shop's)
    decimal = ","                # decimal separator of amounts (default "." or, in a semicolon file, ",")
    thousands = "."              # thousands separator ("" for none; default: the other of , and .)
    negative_parentheses = true  # (12.50) is -12.50 (accounting style; default false: rejected)
    currency = "EUR"             # fills orders.currency when the file has none
    encoding = "cp1252"          # text encoding (default: UTF-8, else Windows-1252 detected)
    cancellation_prefix = "C"    # order lines: order ids starting with it are credit notes

Examples
--------
>>> m = Mapping.from_toml('[columns]\\ntotal = "amount"\\n[parse]\\ndelimiter = ";"')
>>> m.columns, m.parse.delimiter
({'total': 'amount'}, ';')
"""

from __future__ import annotations

import tomllib
import zoneinfo
from dataclasses import dataclass, field, fields
from pathlib import Path

from regulars.data.schema import KINDS, TABLES

FORMATS = ("csv", "parquet", "jsonl")


class MappingError(ValueError):
    """A mapping file or option is wrong; the message says what to change."""


@dataclass
class ParseOptions:
    """How to read a file (the ``[parse]`` table of a mapping); ``None`` means "work it out".

    ``timezone`` None is the shop's time zone; ``decimal`` None is ``"."`` (``","`` in a
    semicolon-separated file); ``thousands`` None is the other of ``,`` and ``.``;
    ``encoding`` None is UTF-8 (Windows-1252 when the file is not UTF-8 but reads as it).
    """

    delimiter: str | None = None
    header: bool = True
    names: list[str] | None = None
    date_format: str | list[str] | None = None
    timezone: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    negative_parentheses: bool = False
    currency: str | None = None
    encoding: str | None = None
    quote: str | None = None
    cancellation_prefix: str | None = None

    @property
    def point(self) -> str:
        """The decimal separator in force."""
        return self.decimal or "."

    @property
    def group(self) -> str:
        """The thousands separator in force (``""``: none)."""
        if self.thousands is not None:
            return self.thousands
        return "." if self.point == "," else ","

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
        if opts.decimal not in (None, ".", ","):
            raise MappingError(f'{where}: decimal must be "." or ",", not {opts.decimal!r}')
        if opts.thousands not in (None, "", ",", ".", " ", "'"):
            raise MappingError(f'{where}: thousands must be ",", ".", " ", "\'" or "" (none), not {opts.thousands!r}')
        if opts.thousands and opts.thousands == opts.point:
            raise MappingError(f"{where}: thousands and decimal separators must differ (both {opts.point!r})")
        if not isinstance(opts.negative_parentheses, bool):
            raise MappingError(f"{where}: negative_parentheses must be true or false")
        if opts.timezone is not None:
            opts.timezone = check_timezone(opts.timezone, where)
        if opts.currency is not None:
            from regulars.data.ingest.money import currency_code

            code = currency_code(opts.currency)
            if code is None:
                raise MappingError(f"{where}: currency {opts.currency!r} is not an ISO 4217 code such as EUR or USD")
            opts.currency = code
        return opts


def check_timezone(name: str, where: str = "time zone") -> str:
    """*name* when it is an IANA time zone (``Europe/Paris``), else a :class:`MappingError`.

    >>> check_timezone("Europe/Paris")
    'Europe/Paris'
    """
    text = str(name).strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise MappingError(
            f"{where}: {name!r} is not a time zone; use an IANA name such as Europe/Paris, America/New_York or UTC"
        ) from None
    return text


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
        if table == "order_lines":  # a line-level file may name its orders' fields (see ingest.rollup)
            from regulars.data.ingest.rollup import ORDER_FIELDS

            known |= set(ORDER_FIELDS)
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
