"""Property tests: reloads are idempotent, overlapping exports add only what is new, nothing is lost."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest

customers = st.sampled_from(["C1", "C2", "C3", "c4", "0005"])
days = st.dates(min_value=__import__("datetime").date(2023, 1, 1), max_value=__import__("datetime").date(2024, 12, 31))
amounts = st.decimals(min_value=-50, max_value=500, places=2, allow_nan=False, allow_infinity=False)
junk = st.sampled_from(["", "n/a", "12,3,4", "2024-02-30"])

# A POS row: customer, date, amount — no order id; sometimes a broken value.
pos_row = st.tuples(customers, days, amounts, st.booleans(), junk)


def to_csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["customer", "day", "amount"])
    for cust, day, amount, broken, bad in rows:
        w.writerow([cust, day.isoformat(), bad if broken else str(amount)])
    return buf.getvalue()


MAPPING = '[columns]\ncustomer_id = "customer"\nordered_at = "day"\ntotal = "amount"\n'


def state(ws):
    return {
        t: ws._con.execute(f"SELECT COLUMNS(lambda c: c NOT IN ('_run_id', 'run_id')) FROM {t} ORDER BY ALL").fetchall()
        for t in ("orders", "customers", "identities", "quarantine")
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(pos_row, max_size=25), extra=st.lists(pos_row, max_size=10))
def test_reload_is_idempotent_and_overlap_adds_only_new_rows(rows, extra):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "map.toml").write_text(MAPPING)
        (d / "old.csv").write_text(to_csv(rows))
        (d / "new.csv").write_text(to_csv(rows + extra))  # a newer export: same rows, then new ones
        ws = Workspace(d / "w.duckdb")
        try:
            first = ingest(ws, "orders", [d / "old.csv"], mapping=d / "map.toml")
            broken = sum(1 for r in rows if r[3])
            # Nothing is lost: every row loaded or quarantined.
            assert first.rows_read == len(rows)
            assert first.rows_loaded + first.rows_quarantined == len(rows)
            assert first.rows_quarantined == broken
            assert ws.count("orders") == len(rows) - broken  # identical rows are separate purchases
            assert ws.count("quarantine") == broken

            before = state(ws)
            again = ingest(ws, "orders", [d / "old.csv"], mapping=d / "map.toml")
            assert again.rows_new == 0 and again.rows_updated == 0
            assert state(ws) == before

            newer = ingest(ws, "orders", [d / "new.csv"], mapping=d / "map.toml")
            extra_good = sum(1 for r in extra if not r[3])
            assert newer.rows_new == extra_good
            assert newer.rows_unchanged == len(rows) - broken
            assert ws.count("orders") == len(rows) - broken + extra_good
        finally:
            ws.close()
