"""RFM: hand-computed scores and segments on a ladder shop, tie-breaking, the TOML grid,
and CDNOW against an independent DuckDB SQL computation."""

from __future__ import annotations

import datetime as dt

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


def test_ties_are_broken_by_customer_id(workspace):
    add_orders(workspace, [(f"o{c}", c, "2024-06-01 10:00", 20) for c in "edcba"])
    df = workspace.execute(rfm(workspace, as_of=AS_OF)).set_index("customer_id").sort_index()
    assert list(df.f_score) == [1, 2, 3, 4, 5]
    assert list(df.m_score) == [1, 2, 3, 4, 5]
    assert list(df.r_score) == [1, 2, 3, 4, 5]


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
        SELECT customer_id, date_diff('day', last_d, DATE '1998-07-01') AS recency_days, frequency, monetary,
               ntile(5) OVER (ORDER BY date_diff('day', last_d, DATE '1998-07-01') DESC, customer_id) AS r,
               ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
               ntile(5) OVER (ORDER BY monetary, customer_id) AS m
        FROM v ORDER BY customer_id""")
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


@pytest.mark.parametrize("seed", range(6))
def test_quintile_scores_equal_ntile_for_any_size_and_ties(seed):
    import ibis
    import numpy as np

    from regulars.segments.rfm import quintile_scores

    rng = np.random.default_rng(seed)
    con = ibis.duckdb.connect()
    for n in [1, 2, 3, 4, 5, 6, 7, 11, 23, 100, 997]:
        distinct = [1, 2, 3, n][seed % 4]  # from all tied to all different
        data = pa_table(rng, n, distinct)
        t = con.create_table(f"t{n}", data, overwrite=True)
        ours = con.to_pyarrow(quintile_scores(t, {"up": ("x", False), "down": ("x", True)}, key="id")).to_pandas()
        ref = con.raw_sql(f"SELECT id, ntile(5) OVER (ORDER BY x, id) AS up, ntile(5) OVER (ORDER BY x DESC, id) AS down "
                          f"FROM t{n}").df()
        got = ours.set_index("id").sort_index()
        want = ref.set_index("id").sort_index()
        assert (got.up.to_numpy() == want.up.to_numpy()).all(), (n, distinct)
        assert (got.down.to_numpy() == want.down.to_numpy()).all(), (n, distinct)


def pa_table(rng, n, distinct):
    import pyarrow as pa

    ids = [f"k{i:05d}" for i in rng.permutation(n)]
    return pa.table({"id": ids, "x": rng.integers(0, distinct, n).astype("int64")})
