"""The lists a shop owner acts on, each whole and exportable: valuable customers at risk, likely
buyers, hot leads, re-buys due and every segment — with names and e-mails next to the ids for the
roles that may see them (masked otherwise), the same for the CLI (``regulars lists``), the API
(``/api/lists``) and the dashboard (``/lists``).

CSV goes through :mod:`regulars.reports.csv_safe` (no cell a spreadsheet would evaluate).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from regulars.data import predictions_store as store
from regulars.data.contacts import contacts
from regulars.reports.csv_safe import write_csv
from regulars.reports.customers import jsonable, mask

#: name -> (title, what it is for)
FIXED = {
    "at-risk": ("Valuable customers at risk", "high churn risk, most predicted value first: win them back"),
    "likely-buyers": ("Likely buyers", "most likely to buy in the next 30 days: show them what is new"),
    "hot-leads": ("Hot leads", "people who have not bought yet and look ready to: follow up"),
    "replenishment-due": ("Re-buys due", "customers due (or overdue) to re-buy a product within 14 days: remind them"),
}
SEGMENT_PREFIX = "segment:"
REPLENISH_WINDOW_DAYS = 14
PERSON = ["name", "email", "phone", "accepts_email"]


RATES = {"churn_risk", "propensity_30d"}
MONEY = {"clv", "revenue"}
LABELS = {"customer_id": "customer", "accepts_email": "may e-mail", "churn_risk": "churn risk",
          "propensity_30d": "buys within 30 days", "clv": "predicted value", "last_order_at": "last order", "last_order_date": "last order",
          "last_seen_at": "last seen", "product_id": "product id", "product_name": "product", "due_date": "due",
          "is_overdue": "overdue", "typical_interval_days": "buys", "score": "lead score"}


class UnknownList(LookupError):
    """No list by that name; the message names the lists there are."""


@dataclass
class ActionList:
    """One list: its rows (every one, not a page), the columns to show and how it was made."""

    name: str
    title: str
    purpose: str
    as_of: dt.date | None
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    currency: str | None = None

    def to_dict(self) -> dict:
        return jsonable({"name": self.name, "title": self.title, "purpose": self.purpose, "as_of": self.as_of,
                         "currency": self.currency,
                         "total": len(self.rows), "columns": self.columns, "items": self.rows, "notes": self.notes})

    def to_csv(self) -> str:
        return write_csv(jsonable(self.rows), self.columns)

    def display(self) -> list[dict]:
        """Rows in a shop owner's words: rates as percentages, money with its currency, days as dates."""
        out = []
        for row in self.rows:
            shown = {}
            for col in self.columns:
                v = row.get(col)
                if v is None or (isinstance(v, float) and pd.isna(v)):
                    shown[LABELS.get(col, col)] = ""
                elif col in RATES:
                    shown[LABELS.get(col, col)] = f"{100 * float(v):.0f}%"
                elif col in MONEY:
                    shown[LABELS.get(col, col)] = f"{float(v):,.2f}" + (f" {self.currency}" if self.currency else "")
                elif isinstance(v, (pd.Timestamp, dt.date)):
                    shown[LABELS.get(col, col)] = str(v)[:10]
                elif isinstance(v, bool):
                    shown[LABELS.get(col, col)] = "yes" if v else "no"
                elif col == "typical_interval_days":
                    shown[LABELS.get(col, col)] = f"every {float(v):.0f} days"
                elif col == "score":
                    shown[LABELS.get(col, col)] = f"{float(v):.0f}"
                else:
                    shown[LABELS.get(col, col)] = str(v)
            out.append(shown)
        return out

    def file_name(self) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in self.name) + ".csv"


def _with_people(ws, frame: pd.DataFrame, include_pii: bool) -> list[dict]:
    """Rows of *frame* with the customer's name, e-mail and phone after the id (masked unless *include_pii*)."""
    people = contacts(ws, frame["customer_id"].astype(str).tolist()) if len(frame) else None
    known = {} if people is None else {r["customer_id"]: r for r in people.to_dict("records")}
    rows = []
    for record in frame.to_dict("records"):
        who = known.get(str(record["customer_id"]), {})
        name = " ".join(str(who[k]) for k in ("first_name", "last_name") if who.get(k) not in (None, "")) or None
        person = {"name": name, "email": who.get("email"), "phone": who.get("phone")}
        masked = mask({"name_display": name, "email": person["email"], "phone": person["phone"]}, include_pii)
        person = {"name": masked["name_display"], "email": masked["email"], "phone": masked["phone"],
                  "accepts_email": who.get("accepts_email")}
        rows.append({"customer_id": record["customer_id"], **person,
                     **{k: v for k, v in record.items() if k != "customer_id"}})
    return rows


def with_names(ws, rows: list[dict], include_pii: bool) -> list[dict]:
    """Copies of *rows* (dicts with a ``customer_id``) with ``name`` and ``email`` next to the id
    (``***`` for roles that may not see them; ``None`` when the id is not a known customer)."""
    if not rows:
        return rows
    people = pd.DataFrame({"customer_id": [str(r.get("customer_id")) for r in rows]})
    named = _with_people(ws, people, include_pii)
    return [{**row, "name": who["name"], "email": who["email"]} for row, who in zip(rows, named)]


def _reasons(value) -> str | None:
    import json

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    items = json.loads(value) if isinstance(value, str) else value
    return "; ".join(str(i) for i in items) if isinstance(items, list) else str(items)


def _fixed_frame(ws, name: str, predictions: dict | None = None) -> tuple[pd.DataFrame, object]:
    """The fixed list *name* before names are looked up: its rows (``customer_id`` first) and the
    date of the predictions it comes from (None before any). *predictions* caches the latest
    customer predictions between calls (the at-risk and likely-buyer lists read the same ones)."""
    if name in ("at-risk", "likely-buyers"):
        cache = {} if predictions is None else predictions
        if "as_of" not in cache:
            cache["as_of"] = store.latest_as_of(ws)
            cache["frame"] = store.read_customer_predictions(ws, cache["as_of"]) if cache["as_of"] else pd.DataFrame()
        as_of, preds = cache["as_of"], cache["frame"]
        if name == "at-risk":
            pick = preds[preds["churn_band"] == "high"] if len(preds) else preds
            pick = pick.sort_values(["clv", "churn_risk"], ascending=False, na_position="last") if len(pick) else pick
            cols = ["churn_risk", "clv", "last_order_date", "churn_reasons"]
        else:
            pick = preds[preds["propensity_30d"].notna()] if len(preds) else preds
            pick = pick.sort_values(["propensity_30d", "clv"], ascending=False, na_position="last") if len(pick) else pick
            cols = ["propensity_30d", "clv", "last_order_date", "propensity_reasons"]
        frame = pick[["customer_id", *cols]].copy() if len(pick) else pd.DataFrame(columns=["customer_id", *cols])
        frame = frame.rename(columns={"churn_reasons": "why", "propensity_reasons": "why"})
        frame["why"] = frame["why"].map(_reasons)
    elif name == "hot-leads":
        as_of = store.latest_as_of(ws, "lead_scores")
        leads = store.read_table_as_of(ws, "lead_scores", as_of) if as_of else pd.DataFrame()
        pick = leads[leads["tier"] == "hot"].sort_values("score", ascending=False) if len(leads) else leads
        frame = (pick[["customer_id", "score", "last_seen_at", "reasons"]].rename(columns={"reasons": "why"})
                 if len(pick) else pd.DataFrame(columns=["customer_id", "score", "last_seen_at", "why"]))
        frame["why"] = frame["why"].map(_reasons)
    else:
        as_of = store.latest_as_of(ws, "replenishments")
        rep = store.read_table_as_of(ws, "replenishments", as_of) if as_of else pd.DataFrame()
        if len(rep):
            soon = pd.Timestamp(as_of) + pd.Timedelta(days=REPLENISH_WINDOW_DAYS)
            rep = rep[pd.to_datetime(rep["due_lower"]) <= soon].sort_values(["due_date", "customer_id"])
        cols = ["product_id", "product_name", "due_date", "is_overdue", "typical_interval_days"]
        frame = rep[["customer_id", *cols]] if len(rep) else pd.DataFrame(columns=["customer_id", *cols])
    return frame, as_of


def _fixed(ws, name: str, include_pii: bool) -> ActionList:
    title, purpose = FIXED[name]
    frame, as_of = _fixed_frame(ws, name)
    notes: list[str] = []
    if as_of is None:
        notes.append("no predictions yet: run `regulars predict` (the dashboard's refresh does it too)")
    rows = _with_people(ws, frame, include_pii)
    columns = ["customer_id", *PERSON, *[c for c in frame.columns if c != "customer_id"]]
    return ActionList(name, title, purpose, as_of, columns, rows, notes)


def _segment(ws, name: str, include_pii: bool) -> ActionList:
    from regulars.reports.customers import list_customers, resolve_segment

    sid = resolve_segment(ws, name[len(SEGMENT_PREFIX):])
    if sid is None:
        raise UnknownList(f"no segment {name[len(SEGMENT_PREFIX):]!r}; see `regulars lists`")
    page = list_customers(ws, segment=sid, limit=1_000_000, offset=0, sort="revenue", include_pii=True)
    cols = ["customer_id", "orders", "revenue", "last_order_at"]
    frame = pd.DataFrame(page.items, columns=cols) if page.items else pd.DataFrame(columns=cols)
    rows = _with_people(ws, frame, include_pii)
    label = next((s["name"] for s in segment_lists(ws) if s["segment_id"] == sid), sid)
    return ActionList(SEGMENT_PREFIX + sid, f"Segment: {label}", "everyone in this segment now", None,
                      ["customer_id", *PERSON, "orders", "revenue", "last_order_at"], rows)


def segment_lists(ws) -> list[dict]:
    from regulars.reports.segments import segment_list

    df = segment_list(ws)
    return [{"segment_id": r.segment_id, "name": r.name, "members": None if pd.isna(r.members) else int(r.members)}
            for r in df.itertuples()]


def action_list(ws, name: str, include_pii: bool = False) -> ActionList:
    """The whole list *name* (see :func:`available`), people masked unless *include_pii*.

    Raises
    ------
    UnknownList
        When there is no such list.
    """
    from regulars.data.shop import settings

    if name in FIXED:
        out = _fixed(ws, name, include_pii)
    elif name.startswith(SEGMENT_PREFIX):
        out = _segment(ws, name, include_pii)
    else:
        raise UnknownList(f"no list {name!r}; lists: {', '.join(FIXED)} and segment:ID (see `regulars lists`)")
    out.currency = settings(ws)["currency"]
    return out


def available(ws) -> list[dict]:
    """Every list with its title and size: the four fixed ones, then one per segment."""
    out, predictions = [], {}
    for name, (title, purpose) in FIXED.items():
        out.append({"name": name, "title": title, "purpose": purpose,
                    "size": len(_fixed_frame(ws, name, predictions)[0])})
    for seg in segment_lists(ws):
        out.append({"name": SEGMENT_PREFIX + seg["segment_id"], "title": f"Segment: {seg['name']}",
                    "purpose": "everyone in this segment now", "size": seg["members"] or 0})
    return out
