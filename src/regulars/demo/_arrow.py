"""Small vectorised helpers: ids, money, timestamps, grouped ranks, and file writers.

Everything works on whole numpy arrays; strings are built with pyarrow
compute kernels (fast, no Python loop per row).

Examples
--------
>>> import numpy as np
>>> ids(np.array([0, 7, 42]), "C", 4).to_pylist()
['C0000', 'C0007', 'C0042']
>>> money(np.array([1250, -50])).to_pylist()
[Decimal('12.50'), Decimal('-0.50')]
>>> rank_in_group(np.array([3, 3, 5, 5, 5, 9])).tolist()
[0, 1, 0, 1, 2, 0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MONEY_TYPE = pa.decimal128(18, 2)
#: Dictionary-encoded text: cheap to build and to write (CSV and Parquet writers decode it).
DICT = pa.dictionary(pa.int32(), pa.string())
#: Rows per batch when writing big files (bounds the memory spent on strings).
WRITE_BATCH = 1_000_000


def ids(numbers: np.ndarray, prefix: str, width: int) -> pa.Array:
    """``prefix`` + zero-padded decimal number, e.g. ``C0000042``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def opaque(numbers: np.ndarray) -> pa.Array:
    """Distinct, random-looking 16-hex-digit ids for distinct numbers (splitmix64, a bijection).

    >>> opaque(np.array([0, 1])).to_pylist()
    ['e220a8397b1dcdaf', '910a2dec89025cc1']
    """
    z = np.asarray(numbers, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    hexed = z.astype(">u8").view(np.uint8).reshape(-1, 8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((z.size, 16), dtype=np.uint8)
    chars[:, 0::2] = digits[hexed >> 4]
    chars[:, 1::2] = digits[hexed & 15]
    offsets = pa.py_buffer((np.arange(z.size + 1, dtype=np.int64) * 16).astype(np.int32).tobytes())
    return pa.StringArray.from_buffers(z.size, offsets, pa.py_buffer(chars.tobytes()))


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents -> DECIMAL(18,2)."""
    return pa.array(np.asarray(cents, dtype=np.int64) / 100.0).cast(MONEY_TYPE)


def timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds (UTC) -> naive timestamp array; ``mask`` marks nulls."""
    return pa.array(np.asarray(seconds, dtype=np.int64), pa.timestamp("s"), mask=mask)


def dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Days since epoch -> date32 array."""
    return pa.array(np.asarray(days, dtype=np.int32), pa.date32(), mask=mask)


def coded(index: np.ndarray, values, mask: np.ndarray | None = None) -> pa.DictionaryArray:
    """``values[index]`` as a dictionary array (no strings copied); ``mask`` marks nulls.

    >>> coded(np.array([1, 0, 1]), ["a", "b"], mask=np.array([False, False, True])).to_pylist()
    ['b', 'a', None]
    """
    dictionary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    index = np.asarray(index)
    if mask is not None:
        index = np.where(mask, 0, index)
    return pa.DictionaryArray.from_arrays(pa.array(index.astype(np.int32), mask=mask), dictionary)


def take(values, index: np.ndarray) -> pa.Array:
    """``values[index]`` for a Python list/tuple or arrow array of strings (a lookup table)."""
    table = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def nullable(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """*arr* with nulls where *mask* is true."""
    return pc.if_else(pa.array(mask), pa.nulls(len(arr), arr.type), arr)


def join(*parts) -> pa.Array:
    """Element-wise concatenation of arrow string arrays and Python strings."""
    return pc.binary_join_element_wise(*parts, "")


def rank_in_group(group: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal, contiguous *group* values."""
    group = np.asarray(group)
    n = group.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of sizes *counts*: (group index per element, 0-based rank within group)."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(owner.size, dtype=np.int64) - starts[owner]
    return owner, rank


def weighted_choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to *weights*."""
    w = np.asarray(weights, dtype=float)
    cdf = np.cumsum(w) / w.sum()
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), w.size - 1)


class CsvSink:
    """Write a CSV file batch by batch (the same bytes whatever the batch sizes)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._writer = pacsv.CSVWriter(str(self.path), schema, write_options=pacsv.WriteOptions(quoting_style="needed"))

    def write(self, columns: dict[str, pa.Array]) -> None:
        table = pa.table({f.name: _as(columns[f.name], f.type) for f in self.schema})
        for batch in table.to_batches(max_chunksize=WRITE_BATCH):
            self._writer.write_batch(batch)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


class ParquetSink:
    """Write a Parquet file batch by batch."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(str(self.path), schema, compression="zstd")

    def write(self, columns: dict[str, pa.Array]) -> None:
        table = pa.table({f.name: _as(columns[f.name], f.type) for f in self.schema}, schema=self.schema)
        self._writer.write_table(table, row_group_size=WRITE_BATCH)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


def _as(values, type_: pa.DataType) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if values.type == type_ or (pa.types.is_dictionary(values.type) and values.type.value_type == type_):
            return values
        return values.cast(type_)
    return pa.array(values, type_)


def write_csv(path: Path, columns: dict[str, pa.Array], schema: pa.Schema) -> int:
    """Write one CSV file in batches; returns the number of rows."""
    sink = CsvSink(path, schema)
    sink.write(columns)
    sink.close()
    return sink.rows
