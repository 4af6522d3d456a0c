"""The customer snapshot a prediction reads: every customer's features as of a date.

:func:`snapshot` joins, one row per customer with a purchase before ``as_of``, the activity
features (:mod:`regulars.features.labels`), the BTYD summary and gap statistics
(:mod:`regulars.features.purchase_history`), the customer features mart and, when the backtest
showed they help, the text features; :func:`finish_snapshot` makes the joined parts model-ready
row by row (so Spark executors can finish a partition on their own). The BG/NBD whose outputs
are classifier inputs is fitted and applied here too (:func:`_feature_btyd`, :func:`_add_btyd`).
Used by :mod:`regulars.jobs.predict` (training snapshots) and :mod:`regulars.jobs.scoring`.
"""

from __future__ import annotations

import warnings

import ibis
import pandas as pd

from regulars.features.labels import activity_features
from regulars.features.purchase_history import gap_statistics, purchase_summary
from regulars.jobs.tables import SampledTables, as_known_on
from regulars.models.churn import float_matrix
from regulars.values import to_date

__all__ = ["finish_snapshot", "snapshot", "snapshot_parts", "text_parts", "use_text_features"]

# Columns of the snapshot frame that are bookkeeping, not model inputs.
_NOT_FEATURES = {
    "customer_id", "as_of", "created_date", "first_order_date", "last_order_date", "acquisition_channel",
    "region", "country", "city", "frequency", "recency", "T", "monetary_value", "n_gaps", "log_gap_var",
    "log_gap_mean",
}


def _mart(tables, as_of, categories):
    try:
        from regulars.features.mart import customer_features
    except ImportError:  # the mart is optional: the activity features alone still work
        return None
    return customer_features(tables, as_of=as_of, categories=categories)


def snapshot_parts(tables, as_of, categories=None, ordered: bool = True) -> list[ibis.Table]:
    """The Ibis parts of :func:`snapshot`, one row per customer each, to be left-joined on
    ``customer_id`` to the first (the activity features): BTYD summary, gap statistics, the mart.
    The narrow parts are sorted by customer id (pandas then joins sorted indexes, 3x faster than
    hashing strings); the wide mart is not (DuckDB would hold ~0.4 GB at a million customers to
    sort it, for a 0.2 s gain). ``ordered=False``: none is sorted (they are joined on the engine)."""
    first = activity_features(tables, as_of)
    parts = [first, purchase_summary(tables, as_of), gap_statistics(tables, as_of)]
    if ordered:
        parts[1:] = [p.order_by("customer_id") for p in parts[1:]]
    mart = _mart(tables, as_of, categories)
    if mart is not None:
        parts.append(mart.select("customer_id", *[c for c in mart.columns if c not in first.columns]))
    return parts


def snapshot(ws, as_of, categories=None, fraction: float = 1.0, tables=None) -> pd.DataFrame:
    """One row per customer with a purchase before ``as_of``: features mart, activity,
    BTYD summary (days) and gap statistics, all as of ``as_of``.

    Each part runs as its own query and the parts are joined in pandas (DuckDB plans the
    parts well one by one; a single query joining them all was 3x slower at a million rows).
    The customer's BTYD summary comes from the stored order totals when they hold for ``as_of``
    (:func:`regulars.features.purchase_history.purchase_summary`).
    """
    as_of = to_date(as_of)
    tables = as_known_on(ws, as_of, tables or (SampledTables(ws, fraction) if fraction < 1 else ws))
    first, *parts = snapshot_parts(tables, as_of, categories)
    frame = ws.frame(first.order_by("customer_id")).set_index("customer_id")
    for part in parts:
        frame = frame.join(ws.frame(part).set_index("customer_id"), how="left")
    text = text_parts(ws, as_of)
    for part in text.values():
        frame = frame.join(part, how="left")
    frame = finish_snapshot(frame.reset_index(), {k: list(v.columns) for k, v in text.items()})
    return frame.set_index("customer_id").sort_index()  # DuckDB returns groups in any order


def text_parts(ws, as_of) -> dict[str, pd.DataFrame]:
    """The customer text features that are model inputs (:func:`use_text_features`), by group,
    each indexed by customer (only customers who wrote something)."""
    parts = {}
    if use_text_features(ws):  # only when the backtest showed they help (regulars.jobs.text_features)
        from regulars.jobs.text_features import text_features

        parts["sentiment"] = text_features(ws, as_of)
    if use_text_features(ws, "complaint_topic"):
        from regulars.jobs.text_features import complaint_topic_features

        parts["complaint_topic"] = complaint_topic_features(ws, as_of)
    return parts


def finish_snapshot(frame: pd.DataFrame, text_columns: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The row-by-row end of :func:`snapshot`: the joined parts (``customer_id`` a column) made
    model-ready. Each row only depends on itself, so a partition of the customers can be
    finished on its own (Spark executors do, :mod:`regulars.jobs.spark_scoring`).

    *text_columns* names the columns of each text part joined in (:func:`text_parts`).
    """
    text_columns = text_columns or {}
    for col in text_columns.get("sentiment", []):
        if col in ("texts_written", "negative_texts", "negative_tickets_90d"):
            frame[col] = frame[col].fillna(0.0)  # wrote nothing: zero texts (their sentiment stays unknown)
    topics = text_columns.get("complaint_topic", [])
    if topics:
        complained = frame[topics].notna().any(axis=1)
        frame[topics] = frame[topics].fillna(0.0)
        if "complaint_none" in topics:
            frame.loc[~complained, "complaint_none"] = 1.0  # no complaint before as_of
    for c in frame.columns:
        if frame[c].dtype == bool or str(frame[c].dtype) == "boolean":
            frame[c] = frame[c].astype(float)
    if "days_since_last_order" not in frame.columns:  # without the mart
        frame["days_since_last_order"] = frame["T"] - frame["recency"] + 1
        frame["orders"] = frame["frequency"] + 1
        frame["tenure_days"] = frame["T"] + 1
    for c in ("frequency", "recency", "T", "monetary_value"):
        frame[c] = frame[c].astype(float)
    # parallel sums differ in the last bits from run to run; rounding makes the fits repeatable
    floats = [c for c in frame.columns if frame[c].dtype == float]
    frame[floats] = frame[floats].round(6)
    return frame


def use_text_features(ws, group: str = "sentiment") -> bool:
    """Whether a group of customer text features ("sentiment": sentiment and negative tickets;
    "complaint_topic": topic of the last complaint) are model inputs: the latest comparison's
    decision (:mod:`regulars.jobs.text_features`), unless overridden while comparing."""
    from regulars.jobs.text_features import enabled

    return enabled(ws, group)


def _feature_names(frame: pd.DataFrame) -> list[str]:
    names = []
    for c in frame.columns:
        if c in _NOT_FEATURES or c in ("churned", "bought"):
            continue
        if pd.api.types.is_numeric_dtype(frame[c]) or str(frame[c].dtype).startswith("decimal"):
            names.append(c)
    return names


def _numeric(frame: pd.DataFrame, names) -> pd.DataFrame:
    """The columns ``names`` as one float64 block (non-numbers become NaN)."""
    return pd.DataFrame(float_matrix(frame, names), columns=list(names), index=frame.index, copy=False)


# -- BTYD ------------------------------------------------------------------------------------
def _feature_btyd(frame: pd.DataFrame, small: bool):
    """The BG/NBD whose p_alive and expected orders are features of the classifiers."""
    from regulars.models.beta_geo import BetaGeoModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoModel(penalizer=0.001 if small else 0.0).fit(frame["frequency"], frame["recency"], frame["T"])


def _add_btyd(frame: pd.DataFrame, bg, window: int) -> pd.DataFrame:
    frame = frame.copy()
    x, tx, T = frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["T"].to_numpy()
    frame["p_alive"] = bg.probability_alive(x, tx, T)
    frame["expected_orders"] = bg.expected_purchases(float(window), x, tx, T)
    return frame
