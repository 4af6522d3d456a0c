"""Look at a CSV file before loading it, and rewrite the messy ones into clean CSV.

:func:`inspect` reads a few samples of the file (its start, middle and end) and settles how to
read it: text encoding (a UTF-8 or UTF-16 byte-order mark, Windows-1252 text), line endings,
delimiter, quoting, the header's column names (a repeated name gets a suffix), and whether the
file can go straight to DuckDB's fast reader. A file that does not read as CSV at all (most
sampled rows have another number of fields than the header) is refused with one sentence that
says what to set in ``[parse]``.

:func:`rewrite` streams a file that DuckDB's reader cannot take as it is (another encoding, mixed
line endings, rows with a wrong number of fields, broken quotes, bytes that are not text) into a
clean UTF-8 CSV with each row's data-row number, and a second file of the rows it could not read
with their reason and raw text. It holds one row at a time, so memory does not grow with the
file.

Data rows are numbered from 1 after the header; blank lines are not rows.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> p = os.path.join(d, "pos.csv")
>>> _ = open(p, "wb").write("kunde;betrag\\r\\nK1;3,50\\nK2;1,20\\r\\n".encode("cp1252"))
>>> layout = inspect(p, ParseOptions())
>>> layout.delimiter, layout.columns, layout.rewrite
(';', ['kunde', 'betrag'], True)
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from regulars.data.ingest.options import MappingError, ParseOptions

#: Bytes read from each sampled part of a file.
SAMPLE_BYTES = 256 * 1024
#: A quoted value spanning more lines than this is taken for a quote that was never closed.
MAX_RECORD_LINES = 1000
#: Raw text kept in the quarantine for one unreadable row.
MAX_RAW_CHARS = 20_000
#: Refuse a file when at least this share of the sampled rows cannot be read.
JUNK_SHARE = 0.5
DELIMITERS = (",", ";", "\t", "|")
#: Control characters that do not occur in text files (tab, line feed and carriage return do).
_CONTROL = tuple(chr(c) for c in range(32) if c not in (9, 10, 13)) + ("\x7f",)
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

#: ``[parse] encoding`` spellings -> Python codec.
ENCODINGS = {
    "utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8",
    "utf-16": "utf-16", "utf16": "utf-16", "utf-16le": "utf-16-le", "utf-16be": "utf-16-be",
    "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1", "iso8859-1": "latin-1",
    "cp1252": "cp1252", "windows-1252": "cp1252", "win1252": "cp1252",
    "iso-8859-15": "iso8859-15", "latin-9": "iso8859-15", "cp1250": "cp1250", "windows-1250": "cp1250",
    "mac-roman": "mac-roman", "macroman": "mac-roman", "cp850": "cp850",
}


@dataclass
class CsvLayout:
    """How to read one CSV file (see :func:`inspect`)."""

    path: str
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    columns: list[str] = field(default_factory=list)
    header: bool = True
    rewrite: bool = False
    why_rewrite: str = ""
    decimal: str | None = None
    warnings: list[str] = field(default_factory=list)
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    def label(self) -> str:
        return _NAMES.get(self.delimiter, repr(self.delimiter))


def _open_binary(path: str):
    return gzip.open(path, "rb") if str(path).lower().endswith(".gz") else open(path, "rb")


def _samples(path: str) -> list[bytes]:
    """The file's first bytes, and (for a large uncompressed file) a piece of its middle and end,
    each cut to whole lines."""
    with _open_binary(path) as fh:
        head = fh.read(SAMPLE_BYTES)
    size = os.path.getsize(path)
    parts = [head]
    if not str(path).lower().endswith(".gz") and size > 3 * SAMPLE_BYTES:
        with open(path, "rb") as fh:
            for start in (size // 2, size - SAMPLE_BYTES):
                fh.seek(start)
                chunk = fh.read(SAMPLE_BYTES)
                cut = chunk.find(b"\n")
                parts.append(chunk[cut + 1:] if cut >= 0 else b"")
    return parts


def _trim_partial(chunk: bytes, whole: bool) -> bytes:
    """Drop the last (possibly cut) line of a sample, unless it is the whole file."""
    if whole:
        return chunk
    cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
    return chunk[: cut + 1] if cut >= 0 else chunk


def _encoding(parts: list[bytes], parse: ParseOptions, path: str, layout: CsvLayout) -> str:
    head = parts[0]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        layout.rewrite, layout.why_rewrite = True, "UTF-16 text"
        return "utf-16"
    if parse.encoding is not None:
        asked = parse.encoding.strip().lower()
        codec = ENCODINGS.get(asked)
        if codec is None:
            try:
                codec = codecs.lookup(asked).name
            except LookupError:
                raise MappingError(
                    f'[parse] encoding = "{parse.encoding}" is not an encoding regulars knows; use one of '
                    + ", ".join(sorted({"utf-8", "utf-16", "latin-1", "cp1252", "iso-8859-15", "cp1250", "mac-roman"}))
                ) from None
        if codec != "utf-8":
            layout.rewrite, layout.why_rewrite = True, f"{asked} text"
        return codec
    invalid = multibyte = 0
    for i, part in enumerate(parts):
        text = _trim_partial(part, whole=len(parts) == 1 and len(part) < SAMPLE_BYTES)
        if i > 0:
            while text and (text[0] & 0xC0) == 0x80:  # a sample may start inside a character
                text = text[1:]
        decoded = text.decode("utf-8", errors="replace")
        invalid += decoded.count("\ufffd")
        multibyte += sum(1 for ch in decoded if ord(ch) > 127 and ch != "\ufffd")
    if invalid and not multibyte:
        try:
            for part in parts:
                part.decode("cp1252")
        except UnicodeDecodeError:
            return "utf-8"  # not Windows-1252 either: rows that are not text get quarantined
        layout.rewrite, layout.why_rewrite = True, "Windows-1252 text"
        layout.warnings.append(
            f"{os.path.basename(path)} is not UTF-8 text; it was read as Windows-1252 (Western European). "
            'If accented letters look wrong, set [parse] encoding (e.g. "latin-1" or "cp1250")'
        )
        return "cp1252"
    return "utf-8"


def _line_endings(text: str) -> set[str]:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    return {name for name, n in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if n}


def _records(text: str, delimiter: str, quote: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), **_dialect(delimiter, quote))
    out = []
    try:
        for rec in reader:
            if rec and any(v.strip() for v in rec):
                out.append(rec)
    except csv.Error:
        pass
    return out


def _dialect(delimiter: str, quote: str) -> dict:
    if quote:
        return {"delimiter": delimiter, "quotechar": quote, "doublequote": True, "strict": False}
    return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE, "strict": False}


def _choose_delimiter(text: str, quote: str) -> str:
    """The candidate that splits the header into the most fields that the next rows repeat."""
    best, best_score = ",", (-1, -1)
    for d in DELIMITERS:
        recs = _records(text, d, quote)[:200]
        if not recs:
            continue
        width = len(recs[0])
        if width < 2:
            continue
        agreeing = sum(len(r) == width for r in recs[1:])
        score = (agreeing, width)
        if score > best_score:
            best, best_score = d, score
    return best


def inspect(path: str, parse: ParseOptions) -> CsvLayout:
    """Settle how to read the CSV file *path* under *parse*; refuse a file that is not CSV."""
    layout = CsvLayout(path=str(path))
    name = os.path.basename(path)
    parts = _samples(path)
    layout.encoding = _encoding(parts, parse, name, layout)
    decode = "utf-16" if layout.encoding.startswith("utf-16") else layout.encoding
    texts = []
    for i, part in enumerate(parts):
        chunk = part if i == 0 and len(parts) == 1 else _trim_partial(part, whole=False)
        if i > 0 and decode == "utf-8":
            while chunk and (chunk[0] & 0xC0) == 0x80:
                chunk = chunk[1:]
        text = chunk.decode(decode, errors="replace")
        texts.append(text.lstrip("\ufeff") if i == 0 else text)
    endings = set().union(*(_line_endings(t) for t in texts))
    if len(endings) > 1:
        layout.rewrite = True
        layout.why_rewrite = layout.why_rewrite or f"mixed line endings ({' and '.join(sorted(endings))})"
    layout.quote = '"' if parse.quote is None else parse.quote
    if parse.delimiter:
        layout.delimiter = parse.delimiter
    else:
        layout.delimiter = _choose_delimiter(texts[0], layout.quote)
    if parse.decimal is None and layout.delimiter == ";":
        layout.decimal = ","
    head_records = _records(texts[0], layout.delimiter, layout.quote)
    layout.header = parse.header
    first = head_records[0] if head_records else []
    if parse.names:
        columns = list(parse.names)
    elif parse.header:
        columns = [c.strip() for c in first]
    else:
        columns = [f"column{i + 1}" for i in range(len(first))]
    layout.columns = _unique(columns, layout)
    _check_readable(layout, head_records, texts, name)
    return layout


def _unique(columns: list[str], layout: CsvLayout) -> list[str]:
    """Column names with blanks named by position and repeats suffixed ``(2)``, ``(3)`` ..."""
    seen: dict[str, int] = {}
    out = []
    for i, c in enumerate(columns):
        c = c or f"column{i + 1}"
        if c in seen:
            layout.duplicates.setdefault(c, [seen[c] + 1]).append(i + 1)
            n = len(layout.duplicates[c])
            c = f"{c} ({n})"
        else:
            seen[c] = i
        out.append(c)
    return out


def _check_readable(layout: CsvLayout, head: list[list[str]], texts: list[str], name: str) -> None:
    binary = sum(text.count(ch) for text in texts for ch in _CONTROL)
    if binary >= 32 and binary > 0.01 * sum(len(t) for t in texts):
        raise MappingError(f"{name} is not a CSV text file: it holds binary data (control characters such as NUL); "
                           "export it again as CSV, or check that this is the file you meant")
    width = len(layout.columns)
    sampled = head[1 if layout.header else 0:]
    for text in texts[1:]:
        sampled += _records(text, layout.delimiter, layout.quote)
    if len(sampled) < 20:
        return
    bad = sum(len(r) != width for r in sampled)
    if bad and not layout.rewrite:
        layout.rewrite, layout.why_rewrite = True, "rows with another number of fields than the header"
    if bad >= JUNK_SHARE * len(sampled):
        counts: dict[int, int] = {}
        for r in sampled:
            counts[len(r)] = counts.get(len(r), 0) + 1
        common = max(counts, key=counts.get)
        hint = (f'set [parse] delimiter (it was read as {layout.label()}-separated)'
                if width < 2 or common != width else "check that it is a CSV export")
        raise MappingError(
            f"{name} does not read as a {layout.label()}-separated file: {bad:,} of the {len(sampled):,} rows "
            f"sampled have another number of fields than its header ({width}); {hint}"
        )


class _Lines:
    """Physical lines of a text file, remembering those of the current record, with push-back."""

    def __init__(self, fh):
        self._fh = fh
        self.pending: deque[str] = deque()
        self.taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.pending.popleft() if self.pending else next(self._fh)
        self.taken.append(line)
        return line


def _open_text(path: str, encoding: str):
    binary = _open_binary(path)
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    return io.TextIOWrapper(binary, encoding=codec, errors="surrogateescape", newline="")


_SURROGATE = re.compile("[\udc80-\udcff]")


def _has_surrogates(values) -> bool:
    """True when a value holds bytes that did not decode (kept as surrogates by the reader)."""
    return _SURROGATE.search("".join(values)) is not None


def _raw(lines: list[str]) -> str:
    text = "".join(lines).rstrip("\r\n")
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "…(truncated)"


def rewrite(layout: CsvLayout, clean_path: str, rejects_path: str) -> tuple[int, int]:
    """Stream *layout.path* into *clean_path* (``_row`` + the columns, all quoted, UTF-8) and its
    unreadable rows into *rejects_path* (``_row, reason, raw``). Returns (rows read, rejected)."""
    width = len(layout.columns)
    what = "Windows-1252" if layout.encoding == "cp1252" else layout.encoding.upper()
    rows = rejected = 0
    csv.field_size_limit(2**31 - 1)
    with _open_text(layout.path, layout.encoding) as src, \
            open(clean_path, "w", encoding="utf-8", newline="") as out, \
            open(rejects_path, "w", encoding="utf-8", newline="") as bad:
        good_w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        bad_w = csv.writer(bad, quoting=csv.QUOTE_ALL, lineterminator="\n")
        lines = _Lines(src)
        reader = csv.reader(lines, **_dialect(layout.delimiter, layout.quote))
        header_left = layout.header

        def reject(reason: str, raw_lines: list[str]) -> None:
            nonlocal rejected
            rejected += 1
            bad_w.writerow([rows, reason, _raw(raw_lines)])

        while True:
            lines.taken = []
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                taken = lines.taken
                if not taken:
                    break
                rows += 1
                reject(f"unreadable row: {exc}", taken[:1])
                lines.pending.extendleft(reversed(taken[1:]))
                reader = csv.reader(lines, **_dialect(layout.delimiter, layout.quote))
                continue
            taken = lines.taken
            if not record or not any(v.strip() for v in record):
                continue  # blank line
            if len(taken) > MAX_RECORD_LINES:
                rows += 1
                reject(f"a quote opened on this row is not closed within {MAX_RECORD_LINES:,} lines", taken[:1])
                lines.pending.extendleft(reversed(taken[1:]))
                reader = csv.reader(lines, **_dialect(layout.delimiter, layout.quote))
                continue
            if header_left:
                header_left = False
                continue
            rows += 1
            if _has_surrogates(record):
                reject(f"not {what} text: bytes that are not letters in this encoding "
                       "(set [parse] encoding if the whole file looks wrong)", taken)
            elif len(record) != width:
                reject(f"expected {width} fields separated by {layout.label()}s, found {len(record)}", taken)
            else:
                good_w.writerow([rows, *record])
    return rows, rejected
