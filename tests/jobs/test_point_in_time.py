"""Nothing after the as-of date reaches a model: a backtest equals a rebuild from exports cut at
its cutoff.

The demo shop is built twice: from its full exports, and from the same exports cut at the
backtest cutoff (rows dated before it only; the customers export with each customer's consent
as it stood then, as an export taken that day would show; support tickets closed later still
open). Every input of the models fitted at the cutoff -- readiness counts, the classifiers'
training and calibration frames with their labels, the leads' features and outcomes, the
value models' summary -- and every prediction made at the cutoff must be identical.

Not covered yet: refunds and cancellations carry no date in the schema, so both builds read the
final refund of an order placed before the cutoff (the cut exports keep the full file's
``status`` and ``refunded``). Slow (about a minute: two demo builds and two model fits), which
is the point of the test.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.demo.generate import generate
from regulars.jobs.backtest import default_cutoff
from regulars.jobs.data_stats import data_stats
from regulars.jobs.predict import fit_models
from regulars.jobs.scoring import score_customers, score_leads
from regulars.jobs.tables import as_known_on
from regulars.jobs.value import value_frame

pytestmark = pytest.mark.slow

N_CUSTOMERS = 2_000
TIME_COLUMNS = {"orders": "ordered_at", "messages": "occurred_at", "reviews": "created_at", "surveys": "answered_at",
                "consents": "recorded_at", "spend": "spent_on", "tickets": "opened_at", "customers": "created_at"}


def _cut(files, folder, cutoff: dt.date):
    """The demo's exports as they would have been exported on ``cutoff``."""
    ts = pd.Timestamp(cutoff)
    folder.mkdir()
    out = []
    consents = pd.read_csv(files.path("consents"), parse_dates=["recorded_at"])
    known = consents[consents["recorded_at"] < ts].sort_values(["recorded_at"], kind="stable")
    state = known.groupby(["customer_id", "purpose"])["is_granted"].last().unstack()
    orders = pd.read_csv(files.path("orders"), parse_dates=["ordered_at"], dtype={"discount_code": str})
    kept_orders = set(orders.loc[orders["ordered_at"] < ts, "order_id"])
    for kind, path in files:
        target = folder / path.name
        if kind == "events":
            table = pq.read_table(path)
            table = table.filter(pc.less(table["occurred_at"], pc.cast(pd.Timestamp(cutoff).to_datetime64(),
                                                                          table["occurred_at"].type)))
            pq.write_table(table, target)
        elif kind in ("products",):
            target.write_bytes(path.read_bytes())
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            if kind == "order-lines":
                df = df[df["order_id"].isin(kept_orders)]
            else:
                when = pd.to_datetime(df[TIME_COLUMNS[kind]].replace("", None))
                df = df[(when < ts).to_numpy()]
            if kind == "customers":  # consent as it stood on the cutoff (unknown: empty)
                for col, purpose in (("accepts_email", "email"), ("accepts_sms", "sms"),
                                     ("accepts_personalization", "personalization")):
                    then = state[purpose].reindex(df["customer_id"]) if purpose in state else pd.Series(index=df.index)
                    df[col] = ["" if pd.isna(v) else str(bool(v)).lower() for v in then.to_numpy()]
            if kind == "tickets":  # closed (and rated) after the cutoff: still open then
                later = pd.to_datetime(df["closed_at"].replace("", None)) >= ts
                df.loc[later.to_numpy(), ["closed_at", "csat"]] = ""
            df.to_csv(target, index=False)
        out.append((kind, target))
    return out


def _build(path, files) -> Workspace:
    ws = Workspace(path)
    for kind, file in files:
        result = ingest(ws, kind, [file])
        assert result.rows_quarantined == 0, (kind, result.rows_quarantined)
    return ws


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("pit")
    files = generate(root / "full-files", n_customers=N_CUSTOMERS, seed=4)
    full = _build(root / "full.duckdb", list(files))
    cutoff = default_cutoff(full)
    cut = _build(root / "cut.duckdb", _cut(files, root / "cut-files", cutoff))
    yield full, cut, cutoff
    full.close()
    cut.close()


def _same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    """Equal, up to the last bits of floating-point sums: the cut build reads its per-customer
    totals from the stored order totals (exact decimals), the full one sums the orders in floats,
    and a spend rounded to 6 decimals can then differ by one unit in the last place."""
    a = a.sort_index(axis=1).sort_index()
    b = b.sort_index(axis=1).sort_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, atol=1e-6, obj=what)


def test_the_rebuild_from_cut_exports_has_no_later_rows(builds):
    _, cut, cutoff = builds
    last = cut.sql("SELECT max(ordered_at) AS o FROM orders")["o"].iloc[0]
    assert last < pd.Timestamp(cutoff)
    # the stitched links of the cut build all rest on evidence from before the cutoff
    assert cut.sql(f"SELECT count(*) AS n FROM identities WHERE linked_at >= TIMESTAMP '{cutoff}' "
                   "AND kind = 'anonymous_id'")["n"].iloc[0] == 0


def test_backtest_inputs_and_cutoff_predictions_are_identical(builds):
    full, cut, cutoff = builds
    assert data_stats(full, cutoff) == data_stats(cut, cutoff)
    fm_full = fit_models(full, cutoff, keep_inputs=True)
    fm_cut = fit_models(cut, cutoff, keep_inputs=True)
    assert {k: v.status for k, v in fm_full.verdicts.items()} == {k: v.status for k, v in fm_cut.verdicts.items()}
    assert fm_full.categories == fm_cut.categories
    for label in ("churned", "bought"):
        for part in ("train", "calibration"):
            _same(fm_full.inputs[label][part], fm_cut.inputs[label][part], f"{label} {part}")
    _same(fm_full.inputs["leads"]["features"], fm_cut.inputs["leads"]["features"], "lead features")
    pd.testing.assert_series_equal(fm_full.inputs["leads"]["bought"], fm_cut.inputs["leads"]["bought"])
    _same(value_frame(full, as_known_on(full, cutoff), cutoff), value_frame(cut, as_known_on(cut, cutoff), cutoff),
          "value summary")
    # the predictions made at the cutoff
    a = score_customers(full, fm_full).set_index("customer_id")
    b = score_customers(cut, fm_cut).set_index("customer_id")
    assert fm_full.value.key == fm_cut.value.key and fm_full.value.levels == fm_cut.value.levels
    _same(a, b, "customer predictions at the cutoff")
    _same(score_leads(full, fm_full).set_index("customer_id"), score_leads(cut, fm_cut).set_index("customer_id"),
          "lead scores at the cutoff")
    _same(fm_full.forecast.forecast(28, start=cutoff), fm_cut.forecast.forecast(28, start=cutoff), "forecast")
