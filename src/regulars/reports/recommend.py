"""What to offer and what to do next: the read side shared by the CLI, the API and the dashboard.

- :func:`customer_recommendations`: one customer's stored top products with reasons (best-sellers
  for a customer who arrived after the last run or who has since opted out of personalisation);
- :func:`all_recommendations`: every customer's top ``k`` (the CSV export);
- :func:`bought_together`: the products bought with one product, with support, confidence, lift;
- :func:`products_overview`: the strongest bought-together pairs and the most recommended products;
- :func:`next_actions_report`: customers per action with expected value, and the customers;
- :func:`next_actions_csv`: the customers of an action, for an e-mail or ads tool;
- :func:`evaluation_report`: the latest offline evaluation against popularity.

Every function reads stored results (:mod:`regulars.data.recommend_store`); nothing is fitted here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import pandas as pd

from regulars.data import recommend_store as store
from regulars.reports.csv_safe import LINE_END, safe_frame
from regulars.data.rows import jsonable
from regulars.reports.customers import CustomerNotFound, resolve_segment
from regulars.values import round_money

__all__ = ["CustomerNotFound", "ProductNotFound", "all_recommendations", "bought_together", "customer_recommendations",
           "evaluation_report", "next_actions_csv", "next_actions_report", "products_overview"]

ITEM_COLUMNS = ["rank", "product_id", "product_name", "score", "reason", "source", "is_personal"]
EXPORT_COLUMNS = ["customer_id", "rank", "product_id", "product_name", "score", "reason"]
ACTION_COLUMNS = ["customer_id", "action", "channel", "expected_value", "reason", "p_response", "uplift",
                  "uplift_source", "value", "cost", "product_id", "assumption"]
NOT_PERSONAL = "personalised recommendations are off for this customer: these are the shop's best-sellers"


class ProductNotFound(LookupError):
    """No such product in the catalogue or the order lines."""


def _records(frame: pd.DataFrame, columns) -> list[dict]:
    return [jsonable(r) for r in frame[[c for c in columns if c in frame.columns]].to_dict(orient="records")]


@dataclass
class CustomerRecommendations:
    customer_id: str
    as_of: dt.date | None
    served: str | None
    is_personal: bool
    items: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable({"customer_id": self.customer_id, "as_of": self.as_of, "served": self.served,
                         "is_personal": self.is_personal, "items": self.items, "notes": self.notes})


def _best_sellers(run: dict | None, k: int, note: str) -> list[dict]:
    items = ((run or {}).get("summary") or {}).get("best_sellers") or []
    return [{**i, "reason": f"{i['reason']} ({note})", "source": "popularity", "is_personal": False}
            for i in items[:k]]


def customer_recommendations(ws, customer_id: str, k: int = 5, run: dict | None = None,
                             opted_out: frozenset | None = None) -> CustomerRecommendations:
    """The customer's stored top ``k`` (see the module docstring). A server passes what it caches per
    data version: ``run`` (the latest run) and ``opted_out`` (:func:`~regulars.data.recommend_store.opted_out_customers`)."""
    run = run if run is not None else store.read_run(ws)
    as_of = pd.Timestamp(run["as_of"]).date() if run else None
    exists, personal, items = store.customer_offer(ws, customer_id, as_of, k, opted_out)
    if exists and not items and run is not None:
        fresh = store.read_run(ws)  # the caller's run may predate a new one
        if fresh is not None and fresh["run_id"] != run["run_id"]:
            return customer_recommendations(ws, customer_id, k, fresh, opted_out)
    if not exists:
        raise CustomerNotFound(f"no customer {customer_id!r}")
    if run is None:
        return CustomerRecommendations(customer_id, None, None, False, [], [
            "no recommendations yet: run `regulars predict` (or `regulars recommend --all`)"])
    notes = [] if run["served"] == "hybrid" else [f"serving the best-sellers: {run['served_reason']}"]
    if not personal:
        return CustomerRecommendations(customer_id, as_of, "popularity", False,
                                       _best_sellers(run, k, "personalised recommendations are off"),
                                       [NOT_PERSONAL])
    if not items:
        return CustomerRecommendations(customer_id, as_of, "popularity", False,
                                       _best_sellers(run, k, "new since the last run"),
                                       [f"no history as of {as_of}: these are the shop's best-sellers"])
    is_personal = all(bool(i["is_personal"]) for i in items)
    if not is_personal:
        notes.append(NOT_PERSONAL if run["served"] == "hybrid" else "these are the shop's best-sellers")
    return CustomerRecommendations(customer_id, as_of, run["served"], is_personal, [jsonable(i) for i in items], notes)


def message_recommendations(ws, customer_ids: list[str], k: int = 3) -> dict[str, list[str]]:
    """Product names for a message's ``${recommendations}``, per customer: the stored top ``k`` of the
    latest run, the shop's best-sellers for customers who refuse personalisation now or are new since
    that run, nothing at all before the first run (the message then leaves the line out)."""
    run = store.read_run(ws)
    if run is None or not customer_ids:
        return {}
    as_of = pd.Timestamp(run["as_of"]).date()
    opted_out = store.opted_out_customers(ws)
    stored = store.top_product_names(ws, customer_ids, as_of, k)
    personal = {cid: list(g["product_name"]) for cid, g in stored.groupby("customer_id", sort=False)}
    popular = [i.get("product_name") or i.get("product_id") for i in _best_sellers(run, k, "")]
    return {cid: (popular if cid in opted_out else personal.get(cid, popular)) for cid in customer_ids}


def all_recommendations(ws, k: int = 10, as_of=None) -> pd.DataFrame:
    """Every customer's stored top ``k``: ``customer_id, rank, product_id, product_name, score, reason``."""
    recs = store.read_recommendations(ws, as_of=None if as_of is None else pd.Timestamp(as_of).date(), k=k)
    return recs[EXPORT_COLUMNS].reset_index(drop=True)


@dataclass
class BoughtTogether:
    product: dict
    as_of: dt.date | None
    items: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable({"product": self.product, "as_of": self.as_of, "items": self.items, "notes": self.notes})


def bought_together(ws, product_id: str, k: int = 10) -> BoughtTogether:
    """The products most often bought with ``product_id`` (lift above 1 first)."""
    product = store.product_info(ws, product_id)
    if product is None:
        raise ProductNotFound(f"no product {product_id!r}")
    pairs = store.read_pairs(ws, product_id=product_id, limit=k)
    as_of = store.latest_as_of(ws, "product_pairs")
    notes = []
    if as_of is None:
        notes.append("no bought-together rules yet: run `regulars predict`")
    elif pairs.empty:
        notes.append("this product was not bought together with another one often enough (5 baskets or more)")
    items = []
    for r in pairs.to_dict(orient="records"):
        items.append({"product_id": r["other_product_id"], "product_name": r["other_product_name"],
                      "baskets": r["baskets"], "support": r["support"], "confidence": r["confidence"],
                      "lift": r["lift"], "sentence": (
                          f"{100 * r['confidence']:.0f}% of the {r['product_baskets']:,} orders with "
                          f"{product['name'] or product_id} also held {r['other_product_name'] or r['other_product_id']} "
                          f"({r['lift']:.1f}x its usual rate)")})
    return BoughtTogether(product, as_of, items, notes)


def products_overview(ws, limit: int = 50, min_baskets: int = 10) -> dict:
    """The strongest bought-together pairs (each pair once, by lift) and the most recommended products."""
    pairs = store.read_pairs(ws, min_lift=1.0)
    pairs = pairs[(pairs["baskets"] >= min_baskets) & (pairs["product_id"] < pairs["other_product_id"])]
    recommended = store.recommended_counts(ws).head(limit)
    run = store.read_run(ws)
    notes = [] if run else ["nothing computed yet: run `regulars predict`"]
    return jsonable({"as_of": store.latest_as_of(ws, "product_pairs"), "min_baskets": min_baskets,
                     "pairs": pairs.head(limit).drop(columns=["model_version", "run_id"], errors="ignore")
                     .to_dict(orient="records"),
                     "recommended": recommended.to_dict(orient="records"), "notes": notes,
                     "best_sellers": ((run or {}).get("summary") or {}).get("best_sellers", [])[:10]})


def _segment(ws, segment: str | None) -> str | None:
    if segment is None:
        return None
    sid = resolve_segment(ws, segment)
    if sid is None:
        raise ValueError(f"no segment {segment!r}; see `regulars segments list`")
    return sid


@dataclass
class NextActionsReport:
    as_of: dt.date | None
    segment: str | None
    actions: list[dict]
    total: int
    items: list[dict]
    limit: int
    offset: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def next_actions_report(ws, segment: str | None = None, action: str | None = None, limit: int = 50,
                        offset: int = 0) -> NextActionsReport:
    """Customers and expected value per action (and channel), and a page of the customers, best first."""
    sid = _segment(ws, segment)
    counts = store.next_action_counts(ws, segment_id=sid)
    run = store.read_run(ws, "next_action_runs")
    labels = ((run or {}).get("summary") or {}).get("labels", {})
    actions = []
    for name, g in counts.groupby("action", sort=False):
        actions.append({"action": name, "label": labels.get(name, "Do nothing" if name == "do_nothing" else name),
                        "customers": int(g["customers"].sum()), "expected_value": round_money(float(g["expected_value"].sum())),
                        "channels": {r["channel"]: int(r["customers"]) for r in g.to_dict(orient="records")}})
    actions.sort(key=lambda a: (a["action"] == "do_nothing", -a["expected_value"]))
    total = sum(a["customers"] for a in actions if action is None or a["action"] == action)
    page = store.read_next_actions(ws, segment_id=sid, action=action, limit=limit, offset=offset)
    notes = []
    if run is None:
        notes.append("no next actions yet: run `regulars predict` (or `regulars next-actions --refresh`)")
    else:
        notes.append("expected values use the response uplift of each action; where it says 'assumption', the "
                     "uplift is the catalogue's prior, not a measurement: test it with an experiment")
    return NextActionsReport(pd.Timestamp(run["as_of"]).date() if run else None, sid, actions, total,
                             _records(page, ACTION_COLUMNS), limit, offset, notes)


def next_actions_csv(ws, action: str | None = None, segment: str | None = None, include_pii: bool = False) -> str:
    """The customers of ``action`` (or every customer) as CSV; names, e-mail and phone only with ``include_pii``."""
    sid = _segment(ws, segment)
    rows = store.read_next_actions(ws, segment_id=sid, action=action)
    columns = ["customer_id", "action", "channel", "expected_value", "reason", "product_id", "assumption"]
    frame = rows[columns]
    if include_pii and len(frame):
        frame = frame.merge(store.contact_names(ws, frame["customer_id"]), on="customer_id", how="left")
        columns = ["customer_id", "first_name", "last_name", "email", "phone", *columns[1:]]
    out = io.StringIO()
    safe_frame(frame[columns]).to_csv(out, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator=LINE_END)
    return out.getvalue()


def evaluation_report(ws) -> dict:
    """The latest offline evaluation: sentences, and per recommender and metric the value next to popularity's."""
    rows = store.read_evaluation(ws)
    if rows.empty:
        return {"run_id": None, "notes": ["recommendations not evaluated yet: run `regulars backtest`"]}
    first = rows.iloc[0]
    metrics: dict[str, dict] = {}
    for r in rows.to_dict(orient="records"):
        if r["metric"] == "served":
            continue
        metrics.setdefault(r["recommender"], {})[r["metric"]] = {
            "value": None if pd.isna(r["value"]) else r["value"],
            "popularity": None if pd.isna(r["baseline_value"]) else r["baseline_value"]}
    served = rows[rows["metric"] == "served"]
    def plain(v):
        return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v

    return jsonable({"run_id": first["run_id"], "cutoff": pd.Timestamp(first["cutoff"]).date(),
                     "horizon_days": plain(first["horizon_days"]), "k": plain(first["k"]),
                     "customers": plain(first["customers"]),
                     "served": "hybrid" if len(served) and served["value"].iloc[0] >= 1 else "popularity",
                     "sentences": [s for s in rows["sentence"] if isinstance(s, str) and s],
                     "metrics": metrics, "notes": []})
