"""RFM: hand-computed scores and segments on a ladder shop, tie-breaking, the TOML grid,
and CDNOW against an independent DuckDB SQL computation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from regulars.segments import rfm
from regulars.segments.rfm import DEFAULT_CONFIG, RFMConfigError, load_config
from tests.segments.conftest import AS_OF, add_orders

EXCLUDED = "('cancelled','canceled','voided','void','failed','declined','abandoned','draft')"


def test_ladder_scores_and_segments(ladder):
    df = ladder.execute(rfm(ladder, as_of=AS_OF)).set_index("customer_id").sort_index()
    assert list(df.index) == [f"c{k:02d}" for k in range(1, 11)]
    assert list(df.recency_days) == [10 * k for k in range(1, 11)]
    assert list(df.frequency) == list(range(1, 11))  # the cancelled order and the return are not purchases
    assert [float(m) for m in df.monetary] == [10 * k * k for k in range(1, 10)] + [995.0]
    # ten customers -> two per quintile; c01 is the most recent (R=5) and the least frequent (F=1)
    assert list(df.r_score) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert list(df.f_score) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(df.m_score) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert df.loc["c03", "rfm_cell"] == "422"
    assert list(df.segment) == ["new", "new", "potential_loyalists", "potential_loyalists", "need_attention",
                                "need_attention", "at_risk", "at_risk", "cant_lose", "cant_lose"]
    assert df.loc["c09", "segment_label"] == "Can't lose them"


def test_as_of_excludes_later_orders(ladder):
    df = ladder.execute(rfm(ladder, as_of=AS_OF - dt.timedelta(days=15))).set_index("customer_id")
    assert "c01" not in df.index  # its only order is 10 days before AS_OF
    assert df.loc["c02", "recency_days"] == 5 and df.loc["c02", "frequency"] == 2


def test_identical_customers_get_identical_scores(workspace):
    # five customers with the same single order: the customer id must not decide their scores
    add_orders(workspace, [(f"o{c}", c, "2024-06-01 10:00", 20) for c in "edcba"])
    df = workspace.execute(rfm(workspace, as_of=AS_OF)).set_index("customer_id").sort_index()
    assert set(df.f_score) == set(df.m_score) == set(df.r_score) == {1}
    assert df.segment.nunique() == 1


def test_one_time_buyers_stay_together_and_recent_ones_are_new(workspace):
    # 6 recent one-time buyers, and repeat buyers with 2..5 orders: F=1 is exactly the one-timers
    rows = [(f"n{i}", f"a{i}", "2024-06-25 10:00", 30) for i in range(6)]
    for k in range(2, 6):
        rows += [(f"r{k}-{j}", f"b{k}", f"2024-0{j + 1}-10 10:00", 30) for j in range(k)]
    add_orders(workspace, rows)
    df = workspace.execute(rfm(workspace, as_of=AS_OF)).set_index("customer_id")
    one_timers = df.frequency == 1
    assert (df.f_score[one_timers] == 1).all() and (df.f_score[~one_timers] > 1).all()
    assert set(df.segment[one_timers]) == {"new"}


@pytest.mark.slow
def test_demo_has_new_and_promising_customers(demo):
    """Issue 14 #11: with sequential ids, breaking ties by id gave the demo's one-time buyers
    frequency scores 1 and 2 alike, so "New" and "Promising" were empty."""
    from regulars import Workspace

    ws = Workspace(demo[0].path)  # its own connection: a clusters test closes the fixture's
    try:
        df = ws.execute(rfm(ws))
    finally:
        ws.close()
    assert (df.f_score[df.frequency == 1] == 1).all()
    counts = df.segment.value_counts()
    assert counts.get("new", 0) > 0 and counts.get("promising", 0) > 0, counts.to_dict()


def test_custom_grid_renames_and_falls_back(ladder, tmp_path):
    toml = tmp_path / "rfm.toml"
    toml.write_text('fallback = "everyone_else"\n[[segment]]\nname = "vip"\nlabel = "VIP"\nf = [5, 5]\nm = 5\n')
    cfg = load_config(toml)
    assert len(cfg.unmatched) == 125 - 5
    df = ladder.execute(rfm(ladder, as_of=AS_OF, config=toml)).set_index("customer_id")
    assert df.loc["c10", "segment"] == "vip" and df.loc["c10", "segment_label"] == "VIP"
    assert df.loc["c01", "segment"] == "everyone_else"


def test_shipped_grid_covers_every_cell():
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.unmatched == ()
    assert {s.name for s in cfg.segments} == {
        "champions", "loyal", "potential_loyalists", "new", "promising", "need_attention", "about_to_sleep",
        "at_risk", "cant_lose", "hibernating", "lost"}


@pytest.mark.parametrize("doc, message", [
    ({"segment": [{"name": "a", "r": [4, 2]}]}, "lowest <= highest"),
    ({"segment": [{"name": "a", "r": [0, 6]}]}, "1 <= lowest"),
    ({"segment": [{"name": "Bad Name"}]}, "lower-case id"),
    ({"segment": [{"name": "a"}, {"name": "a"}]}, "used twice"),
    ({"segment": [{"name": "a", "recency": [1, 2]}]}, "unknown key"),
    ({"segments": []}, "unknown key"),
    ({}, "at least one [[segment]]"),
])
def test_bad_configs_say_what_is_wrong(doc, message):
    with pytest.raises(RFMConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(doc)


class OrdersOnly:
    """The workspace's tables without its stored order totals: RFM reads every order."""

    def __init__(self, ws):
        self.table = ws.table


def reference_scores(values, descending):
    """Scores computed independently in pandas: distinct values in order, cut by quintile_cuts."""
    from regulars.segments.rfm import _spread, quintile_cuts

    counts = values.value_counts().sort_index(ascending=not descending)
    cuts = quintile_cuts(counts.to_numpy())
    group = np.searchsorted(np.array(cuts), np.arange(len(counts)), side="right")
    score = dict(zip(counts.index, np.array(_spread(len(cuts) + 1))[group]))
    return values.map(score)


@pytest.mark.parametrize("stored", [True, False], ids=["stored-totals", "from-orders"])
def test_cdnow_matches_independent_sql(cdnow_ws, stored):
    as_of = dt.date(1998, 7, 1)
    assert cdnow_ws.order_stats(as_of) is not None  # the day after the last CDNOW order
    tables = cdnow_ws if stored else OrdersOnly(cdnow_ws)
    ours = cdnow_ws.execute(rfm(tables, as_of=as_of)).sort_values("customer_id").reset_index(drop=True)
    ref = cdnow_ws.sql(f"""
        WITH p AS (
            SELECT customer_id, CAST(ordered_at AS DATE) AS d, total, total - coalesce(refunded, 0) AS net
            FROM orders
            WHERE ordered_at < TIMESTAMP '1998-07-01 00:00:00'
              AND (status IS NULL OR lower(status) NOT IN {EXCLUDED})),
        v AS (
            SELECT customer_id, max(d) FILTER (WHERE total > 0) AS last_d,
                   count(*) FILTER (WHERE total > 0) AS frequency, round(sum(net), 2) AS monetary
            FROM p GROUP BY customer_id HAVING count(*) FILTER (WHERE total > 0) > 0)
        SELECT customer_id, date_diff('day', last_d, DATE '1998-07-01') AS recency_days, frequency, monetary
        FROM v ORDER BY customer_id""")
    ref["r"] = reference_scores(ref.recency_days, descending=True)
    ref["f"] = reference_scores(ref.frequency, descending=False)
    ref["m"] = reference_scores(ref.monetary.astype(float).round(2), descending=False)
    assert len(ours) == len(ref) == 23_502  # 23,570 CDNOW customers, 68 of them with only $0 orders
    assert (ours.customer_id == ref.customer_id).all()
    assert (ours.recency_days == ref.recency_days).all()
    assert (ours.frequency == ref.frequency).all()
    assert (ours.monetary.astype(float).round(2) == ref.monetary.astype(float).round(2)).all()
    assert (ours.r_score == ref.r).all() and (ours.f_score == ref.f).all() and (ours.m_score == ref.m).all()
    cfg = load_config()
    expected = [cfg.segment_for(r, f, m) for r, f, m in zip(ref.r, ref.f, ref.m)]
    assert list(ours.segment) == expected
    # the whole period's revenue is accounted for
    assert round(float(ours.monetary.astype(float).sum()), 2) == 2_500_315.63


def test_cdnow_ties_get_identical_scores_and_groups_are_as_equal_as_ties_allow(cdnow_ws):
    df = cdnow_ws.execute(rfm(cdnow_ws, as_of=dt.date(1998, 7, 1)))
    # identical (recency, frequency, monetary) -> identical (R, F, M)
    per_value = df.groupby(["recency_days", "frequency", "monetary"])[["r_score", "f_score", "m_score"]].nunique()
    assert (per_value == 1).all().all()
    assert per_value.index.size < len(df)  # CDNOW has ties: the check is not vacuous
    # each score is a function of its own value alone
    for score, value in (("r_score", "recency_days"), ("f_score", "frequency"), ("m_score", "monetary")):
        assert (df.groupby(value)[score].nunique() == 1).all(), score
    # frequency: 60 % of CDNOW bought on a single day; they all get F = 1, and every score is used
    one_timers = df.frequency == 1
    assert (df.f_score[one_timers] == 1).all() and (df.f_score[~one_timers] > 1).all()
    assert set(df.f_score) == {1, 2, 3, 4, 5}
    # few ties in spend: its groups stay within a few customers of a fifth each
    sizes = df.m_score.value_counts()
    assert (abs(sizes - len(df) / 5) <= 0.01 * len(df)).all()


@pytest.mark.parametrize("seed", range(6))
def test_quintile_scores_are_ntile_without_ties_and_tie_invariant_with_them(seed):
    import ibis
    import numpy as np

    from regulars.segments.rfm import quintile_scores

    rng = np.random.default_rng(seed)
    con = ibis.duckdb.connect()
    for n in [1, 2, 3, 4, 5, 6, 7, 11, 23, 100, 997]:
        distinct = [1, 2, 3, n][seed % 4]  # from all tied to all different
        data = pa_table(rng, n, distinct)
        t = con.create_table(f"t{n}", data, overwrite=True)
        ours = con.to_pyarrow(quintile_scores(t, {"up": ("x", False), "down": ("x", True)})).to_pandas()
        got = ours.set_index("id").sort_index()
        assert (got.groupby("x")[["up", "down"]].nunique() == 1).all().all(), (n, distinct)
        assert (got.up == reference_scores(got.x, descending=False)).all(), (n, distinct)
        assert (got.down == reference_scores(got.x, descending=True)).all(), (n, distinct)
        if distinct == n:  # no ties: exactly ntile(5)
            ref = con.raw_sql(f"SELECT id, ntile(5) OVER (ORDER BY x) AS up, ntile(5) OVER (ORDER BY x DESC) AS down "
                              f"FROM t{n}").df().set_index("id").sort_index()
            if n >= 5:
                assert (got.up.to_numpy() == ref.up.to_numpy()).all(), n
                assert (got.down.to_numpy() == ref.down.to_numpy()).all(), n


def pa_table(rng, n, distinct):
    import pyarrow as pa

    ids = [f"k{i:05d}" for i in rng.permutation(n)]
    x = rng.permutation(n) if distinct == n else rng.integers(0, distinct, n)
    return pa.table({"id": ids, "x": x.astype("int64")})
