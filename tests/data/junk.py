"""Junk CSV of a given size, as a careless export or a wrong file would be: for memory tests and
``benchmarks/junk_bench.py``.

A quarter of the rows have a field too few, a few hold a quoted line break, one in twenty is a
plausible order; the rest have four fields of random text. Enough of it reads as CSV that the
loader does not refuse the file outright, so every row goes through reading, validation and the
quarantine: the most work a load does per byte.
"""

from __future__ import annotations

import random
import string

_ALPHA = string.ascii_letters + string.digits + " .-/$€"


def _write(path, size_bytes: int, line) -> int:
    """Write an orders header and lines from ``line()`` until about *size_bytes*; return the rows."""
    rows = size = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("order_id,customer_id,ordered_at,total\n")
        buf = []
        while size < size_bytes:
            text = line()
            buf.append(text)
            rows += 1
            size += len(text) + 1
            if len(buf) >= 50_000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")
    return rows


def junk_csv(path, size_bytes: int, seed: int = 0) -> int:
    """Write about *size_bytes* of junk orders to *path*; return the number of data rows."""
    rng = random.Random(seed)

    def junk(n: int) -> str:
        return "".join(rng.choices(_ALPHA, k=n))

    def line() -> str:
        r = rng.random()
        if r < 0.25:
            return f"{junk(8)},{junk(6)},{junk(10)}"
        if r < 0.3:
            return f'{junk(8)},"{junk(5)}\n{junk(5)}",{junk(10)},{junk(4)}'
        if r < 0.35:
            return f"{junk(8)},{junk(6)},2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)},{rng.randint(1, 9999) / 100}"
        return f"{junk(8)},{junk(6)},{junk(10)},{junk(6)}"

    return _write(path, size_bytes, line)


def ragged_csv(path, size_bytes: int, seed: int = 0) -> int:
    """About *size_bytes* of short random tokens with commas and quotes (not CSV at all, or hardly:
    the kind of file that made DuckDB's reader collect an error per line)."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + ',,,;"\' .-'
    return _write(path, size_bytes, lambda: "".join(rng.choices(alphabet, k=rng.randint(3, 40))))
