"""The data doctor: what the workspace holds, what looks wrong, and what each analysis can do with it.

Why this module is long: the data doctor is one read-only report whose checks (row counts, date
ranges, completeness, duplicates, outliers, quarantine, ingest runs, identity) and readiness
verdicts fill one DoctorReport; each check is a short function, and docs/doctor.md follows the same
order.

:func:`doctor` reads the workspace (never writes) and returns a
:class:`DoctorReport`: per-table row counts, date ranges and completeness,
likely duplicates, outliers, the quarantine, the last ingest runs, identity
statistics and a **readiness** verdict for every analysis the product offers,
each with the stated minimum and what the shop has. ``docs/doctor.md``
explains every check; the thresholds are the module constants below, each
with its reason.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> report = doctor(ws)
>>> report.ready("rfm").status, report.ready("rfm").load
('missing', 'load orders: `regulars ingest orders FILE`')
>>> report.table("orders").rows
0
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import asdict, dataclass, field

import ibis
import pandas as pd

from regulars.data.schema import TABLES
from regulars.features.funnel import DEFAULT_STEPS as FUNNEL_STEPS
from regulars.features.kpis import month_index, order_facts
from regulars.features.sessions import sessions, trim
from regulars.models.readiness import Minimums

__all__ = ["DoctorReport", "Finding", "Readiness", "TableHealth", "doctor"]

# -- thresholds, each with its reason ------------------------------------------------------

_MODEL = Minimums()  # the prediction models' own limits (regulars.models.readiness)

#: RFM scores customers in quintiles on three axes; below ~100 buyers a quintile holds a
#: handful of people and one order moves a customer across segments.
RFM_MIN_CUSTOMERS = 100
#: Cohort retention needs time to unfold: six months lets the early cohorts show half a year.
COHORT_MIN_MONTHS = 6
#: Below ~100 sessions a step's conversion moves by ten points with a few visits.
FUNNEL_MIN_SESSIONS = 100
#: A funnel needs most of its steps tracked; with fewer it is one ratio, not a funnel.
FUNNEL_MIN_STEPS = 3
#: BTYD models (BG/NBD, Pareto/NBD + Gamma-Gamma) estimate how often and how long customers
#: buy from repeat purchases; their parameters settle from ~200 repeat customers (the models'
#: comfortable size), and a backtest needs a calibration and a holdout period of ~3 months each.
BTYD_MIN_REPEAT_CUSTOMERS = _MODEL.comfortable_repeat
BTYD_MIN_MONTHS = 6
#: A churn classifier needs enough customers who did and did not come back, and two
#: horizons of history (one to learn, one to check) plus a month: the models' own limits.
CHURN_MIN_CUSTOMERS = _MODEL.comfortable_customers
CHURN_MIN_REPEAT_CUSTOMERS = _MODEL.comfortable_repeat
CHURN_MIN_DAYS = 2 * _MODEL.churn_horizon_days + 30
#: "Bought together" needs co-purchases: with fewer customers or products, recommending
#: the best sellers is as good as it gets.
RECO_MIN_CUSTOMERS = 100
RECO_MIN_PRODUCTS = 20
#: CAC per channel divides spend by the customers acquired through that channel, so most
#: customers need a known acquisition channel.
CAC_MIN_CHANNEL_SHARE = 0.5
#: At 100 answers an NPS is known to about +-15 points (95%); fewer and it is anecdote.
NPS_MIN_RESPONSES = 100
#: Below ~50 texts a few angry reviews swing the average; read them instead.
SENTIMENT_MIN_TEXTS = 50

#: Order totals above Q3 + this many IQRs are outliers (3 = "far out", Tukey).
OUTLIER_IQR_MULTIPLE = 3
#: Quartiles of fewer purchases say little; the totals check needs this many.
OUTLIER_MIN_ORDERS = 20
#: More orders than this by one customer on one day is implausible for a person: usually a
#: shared guest account, a POS default customer or a test account.
MAX_ORDERS_PER_DAY = 10
#: A key column filled for less than this share is reported.
COMPLETENESS_WARN = 0.5
#: How many examples, ingest runs and quarantine reasons to show.
EXAMPLES = 5
LAST_RUNS = 5
TOP_REASONS = 5

#: The customer-data tables the doctor looks at, and the columns whose completeness matters
#: (what the analyses use: contactability, channel, cohorts, products, sessions, ratings).
IMPORTANT_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("email", "phone", "created_at", "acquisition_channel", "country", "accepts_email"),
    "identities": (),
    "products": ("name", "category", "price"),
    "orders": ("ordered_at", "total", "status", "currency", "channel"),
    "order_lines": ("product_id", "quantity", "unit_price", "category"),
    "events": ("customer_id", "anonymous_id", "session_id", "product_id", "traffic_source"),
    "messages": ("campaign_id", "channel"),
    "campaigns": ("name", "channel", "sent_at"),
    "marketing_spend": ("channel", "amount"),
    "tickets": ("closed_at", "topic", "csat", "body"),
    "reviews": ("product_id", "body"),
    "surveys": ("comment",),
    "consents": ("source",),
}

LOAD = {
    "orders": "load orders: `regulars ingest orders FILE`",
    "more_orders": "your orders are loaded: more customers and history get it there (older orders not loaded "
                   "yet? `regulars ingest orders FILE`)",
    "events": "load web/app events: `regulars ingest events FILE` (a GA4 export or a CSV)",
    "order_lines": "load order lines with product ids: `regulars ingest order-lines FILE`",
    "spend": "load marketing spend per day and channel: `regulars ingest spend FILE`, "
             "and customers with an acquisition_channel",
    "nps": "load NPS answers: `regulars ingest surveys FILE` with survey = nps and a 0..10 score",
    "texts": "load reviews, support tickets or survey comments with their text "
             "(`regulars ingest reviews|tickets|surveys FILE`)",
}

OK, WARN, MISSING = "ok", "warn", "missing"
PLURAL_TITLES = {"RFM segments", "cohorts", "recommendations"}


@dataclass
class TableHealth:
    """One canonical table: rows, time range and completeness of its key columns.

    ``completeness`` maps column -> share of rows where it is filled (``None``
    for an empty table); ``first`` and ``last`` are the min and max of the
    table's time column as ISO strings.
    """

    name: str
    rows: int
    time_column: str | None = None
    first: str | None = None
    last: str | None = None
    completeness: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Finding:
    """A duplicate or outlier check: how many, how many rows, in words, and examples."""

    check: str
    area: str
    count: int
    rows: int
    message: str
    examples: list[dict] = field(default_factory=list)
    threshold: float | None = None

    @property
    def status(self) -> str:
        return WARN if self.count else OK


@dataclass
class Readiness:
    """Whether the data supports one analysis: ``ok``, ``warn`` (below the minimum) or ``missing``."""

    analysis: str
    title: str
    status: str
    minimum: str
    have: str
    reason: str
    load: str | None = None


@dataclass
class DoctorReport:
    """Everything :func:`doctor` found; ``to_dict()`` for JSON.

    Attributes
    ----------
    tables : list of TableHealth
    duplicates : dict of Finding
        ``orders`` (same customer, time and total), ``customer_emails`` and
        ``customer_phones`` (one e-mail or phone on several customers).
    outliers : dict of Finding
        ``order_totals`` (above Q3 + 3 IQR) and ``orders_per_day`` (customers
        with more than :data:`MAX_ORDERS_PER_DAY` orders on a day).
    quarantine : dict
        ``rows``, ``by_kind`` and ``top_reasons`` (values in reasons replaced by …).
    ingest_runs : list of dict
        The last runs, newest first.
    identities : dict
        Identifier counts by kind, customers with several identifiers, merges.
    readiness : list of Readiness
    personal_data : list of dict
        What personal data is held: per personal column the number of values and whether the shop
        keeps it at ingest (data minimisation), and the raw web events with the retention limit.
    """

    workspace: str
    tables: list[TableHealth]
    duplicates: dict[str, Finding]
    outliers: dict[str, Finding]
    quarantine: dict
    ingest_runs: list[dict]
    identities: dict
    readiness: list[Readiness]
    personal_data: list[dict] = field(default_factory=list)

    def table(self, name: str) -> TableHealth:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def ready(self, analysis: str) -> Readiness:
        for r in self.readiness:
            if r.analysis == analysis:
                return r
        raise KeyError(analysis)

    @property
    def findings(self) -> list[dict]:
        """Things that need attention, one line each (status, area, check, message)."""
        out = []
        for f in [*self.duplicates.values(), *self.outliers.values()]:
            if f.count:
                out.append({"status": WARN, "area": f.area, "check": f.check, "message": f.message})
        if self.quarantine["rows"]:
            top = self.quarantine["top_reasons"][0]["reason"] if self.quarantine["top_reasons"] else ""
            out.append({"status": WARN, "area": "quarantine", "check": "rejected rows",
                        "message": f"{self.quarantine['rows']:,} input row(s) were rejected; most often: {top} "
                                   "(`regulars sql \"SELECT * FROM quarantine\"` shows them)"})
        for t in self.tables:
            for col, share in t.completeness.items():
                if share is not None and share < COMPLETENESS_WARN:
                    out.append({"status": "info", "area": t.name, "check": "completeness",
                                "message": f"{t.name}.{col} is filled in {share:.0%} of rows"})
        return out

    @property
    def summary(self) -> str:
        ready = [r.title for r in self.readiness if r.status == OK]
        rows = sum(t.rows for t in self.tables)
        warn = sum(1 for f in self.findings if f["status"] == WARN)
        if not rows:
            return "The workspace is empty: load orders first (`regulars ingest orders FILE`)."
        return (f"{rows:,} rows in {sum(1 for t in self.tables if t.rows)} tables; "
                f"{warn} thing(s) to check; ready for {len(ready)} of {len(self.readiness)} analyses"
                + (f" ({', '.join(ready)})" if ready else "") + ".")

    def to_dict(self) -> dict:
        return _plain({
            "workspace": self.workspace,
            "summary": self.summary,
            "findings": self.findings,
            "tables": [asdict(t) for t in self.tables],
            "duplicates": {k: {**asdict(f), "status": f.status} for k, f in self.duplicates.items()},
            "outliers": {k: {**asdict(f), "status": f.status} for k, f in self.outliers.items()},
            "quarantine": self.quarantine,
            "ingest_runs": self.ingest_runs,
            "identities": self.identities,
            "readiness": [asdict(r) for r in self.readiness],
        })


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()
    return value


def _iso(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _row(ws, expr) -> dict:
    df = ws.execute(expr)
    return {} if df.empty else {k: (None if _isna(v) else v) for k, v in df.iloc[0].to_dict().items()}


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _int(v) -> int:
    return 0 if v is None or _isna(v) else int(v)


# -- tables -------------------------------------------------------------------------------

def _tables(ws) -> list[TableHealth]:
    out = []
    for name, cols in IMPORTANT_COLUMNS.items():
        t = ws.table(name)
        time_col = TABLES[name].time_column
        aggs = {"_rows": t.count()}
        if time_col:
            aggs["_first"] = t[time_col].min()
            aggs["_last"] = t[time_col].max()
        for c in cols:
            aggs[f"_nn_{c}"] = t[c].count()
        row = _row(ws, t.aggregate(**aggs))
        rows = _int(row.get("_rows"))
        completeness = {c: (round(_int(row[f"_nn_{c}"]) / rows, 4) if rows else None) for c in cols}
        first, last = _iso(row.get("_first")), _iso(row.get("_last"))
        if time_col and t[time_col].type().is_date():
            first, last = (v[:10] if v else v for v in (first, last))
        out.append(TableHealth(name, rows, time_col, first, last, completeness))
    return out


# -- duplicates ---------------------------------------------------------------------------

def _duplicate_orders(ws) -> Finding:
    o = ws.table("orders")
    g = o.group_by(["customer_id", "ordered_at", "total"]).aggregate(n=o.count(), ids=o.order_id.collect())
    g = g.filter(g.n > 1)
    stats = _row(ws, g.aggregate(groups=g.count(), rows=g.n.sum()))
    count, rows = _int(stats.get("groups")), _int(stats.get("rows"))
    examples = []
    if count:
        top = ws.execute(g.order_by([ibis.desc("n"), "customer_id", "ordered_at"]).limit(EXAMPLES))
        examples = [{"customer_id": r.customer_id, "ordered_at": _iso(r.ordered_at), "total": float(r.total),
                     "orders": sorted(r.ids)} for r in top.itertuples()]
    message = (f"{count:,} group(s) of orders share customer, time and total ({rows:,} orders): possibly loaded "
               "twice under different ids (real exports can hold identical purchases, so check before deleting)"
               if count else "no orders share customer, time and total")
    return Finding("orders with the same customer, time and total", "orders", count, rows, message, examples)


def _shared_identifier(ws, column: str, noun: str, nouns: str) -> Finding:
    c = ws.table("customers")
    c = c.filter(c[column].notnull())
    g = c.group_by(value_hash=c[column].hexdigest("sha256")).aggregate(n=c.count(), ids=c.customer_id.collect())
    g = g.filter(g.n > 1)
    stats = _row(ws, g.aggregate(groups=g.count(), rows=g.n.sum()))
    count, rows = _int(stats.get("groups")), _int(stats.get("rows"))
    examples = []
    if count:
        top = ws.execute(g.order_by([ibis.desc("n"), "value_hash"]).limit(EXAMPLES))
        # no fingerprint of the shared value: a bare hash of an e-mail can be reversed by guessing
        examples = [{"customers": sorted(r.ids)} for r in top.itertuples()]
    message = (f"{count:,} {noun if count == 1 else nouns} belong{'s' if count == 1 else ''} to several customers "
               f"({rows:,} customers): the same person under "
               "different shop ids, or a shared address (identity resolution keeps shop ids apart)"
               if count else f"no {noun} belongs to several customers")
    return Finding(f"customers sharing an {noun}" if noun[0] in "ae" else f"customers sharing a {noun}",
                   "customers", count, rows, message, examples)


# -- outliers -----------------------------------------------------------------------------

def _order_totals(ws) -> Finding:
    o = ws.table("orders")
    p = o.filter(o.total > 0).mutate(amount=o.total.cast("float64"))
    q = _row(ws, p.aggregate(n=p.count(), q1=p.amount.quantile(0.25), q3=p.amount.quantile(0.75)))
    n = _int(q.get("n"))
    check = f"order totals above Q3 + {OUTLIER_IQR_MULTIPLE} x IQR"
    if n < OUTLIER_MIN_ORDERS:
        return Finding(check, "orders", 0, 0,
                       f"not checked: {n} purchase(s), the check needs at least {OUTLIER_MIN_ORDERS}")
    q1, q3 = float(q["q1"]), float(q["q3"])
    limit = q3 + OUTLIER_IQR_MULTIPLE * (q3 - q1)
    big = p.filter(p.amount > limit)
    count = _scalar(ws, big.count())
    examples = []
    if count:
        top = ws.execute(big.order_by([ibis.desc("amount"), "order_id"]).limit(EXAMPLES)
                         .select("order_id", "customer_id", "ordered_at", "amount"))
        examples = [{"order_id": r.order_id, "customer_id": r.customer_id, "ordered_at": _iso(r.ordered_at),
                     "total": r.amount} for r in top.itertuples()]
    message = (f"{count:,} order(s) above {limit:,.2f} (Q1 {q1:,.2f}, Q3 {q3:,.2f}): check for typos, test orders "
               "or wholesale buyers; they move averages such as AOV and CLV" if count
               else f"no order total above {limit:,.2f} (Q1 {q1:,.2f}, Q3 {q3:,.2f})")
    return Finding(check, "orders", count, count, message, examples, threshold=round(limit, 2))


def _orders_per_day(ws) -> Finding:
    o = ws.table("orders")
    o = o.filter(o.total > 0)
    g = o.group_by(["customer_id", o.ordered_at.cast("date").name("day")]).aggregate(orders=o.count())
    g = g.filter(g.orders > MAX_ORDERS_PER_DAY)
    stats = _row(ws, g.aggregate(customers=g.customer_id.nunique(), rows=g.orders.sum()))
    count, rows = _int(stats.get("customers")), _int(stats.get("rows"))
    examples = []
    if count:
        top = ws.execute(g.order_by([ibis.desc("orders"), "customer_id", "day"]).limit(EXAMPLES))
        examples = [{"customer_id": r.customer_id, "day": _iso(r.day)[:10], "orders": int(r.orders)}
                    for r in top.itertuples()]
    message = (f"{count:,} customer(s) placed more than {MAX_ORDERS_PER_DAY} orders on one day ({rows:,} orders): "
               "usually a guest or POS default account; such customers distort frequency, segments and predictions"
               if count else f"no customer placed more than {MAX_ORDERS_PER_DAY} orders on one day")
    return Finding(f"customers with more than {MAX_ORDERS_PER_DAY} orders on a day", "orders", count, rows,
                   message, examples, threshold=MAX_ORDERS_PER_DAY)


def _scalar(ws, expr) -> int:
    value = ws.execute(expr)
    return _int(value)


# -- quarantine, runs, identities ---------------------------------------------------------

_REASON_PATTERNS = [
    (re.compile(r'(cannot read )"[^"]*"'), r'\1"…"'),
    (re.compile(r"(duplicate key ).*?(: a later row) \([^)]*\)"), r"\1…\2"),
    (re.compile(r"^order \S+ is not loaded"), "order … is not loaded"),
]


def generalize_reason(reason: str) -> str:
    """A quarantine reason with the row's own values replaced by ``…``, so reasons can be counted.

    >>> generalize_reason('column "total": cannot read "abc" as a number')
    'column "total": cannot read "…" as a number'
    >>> generalize_reason("duplicate key order_id=o7: a later row (a.csv row 9) was loaded instead")
    'duplicate key …: a later row was loaded instead'
    """
    for pattern, repl in _REASON_PATTERNS:
        reason = pattern.sub(repl, reason)
    return reason


def _quarantine(ws) -> dict:
    q = ws.table("quarantine")
    by_kind = ws.execute(q.group_by("kind").aggregate(rows=q.count()).order_by("kind"))
    reasons = ws.execute(q.group_by("reason").aggregate(rows=q.count()))
    counts: dict[str, int] = {}
    for r in reasons.itertuples():
        for part in str(r.reason or "no reason recorded").split("; "):
            key = generalize_reason(part)
            counts[key] = counts.get(key, 0) + int(r.rows)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return {
        "rows": int(by_kind["rows"].sum()) if len(by_kind) else 0,
        "by_kind": {str(r.kind): int(r.rows) for r in by_kind.itertuples()},
        "top_reasons": [{"reason": k, "rows": v} for k, v in top],
    }


def _ingest_runs(ws) -> list[dict]:
    r = ws.table("ingest_runs")
    df = ws.execute(r.order_by(ibis.desc("run_id")).limit(LAST_RUNS))
    out = []
    for row in df.to_dict(orient="records"):
        summary = row.get("summary")
        if isinstance(summary, str):
            try:
                summary = json.loads(summary)
            except ValueError:
                summary = {}
        files = row.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                files = [files]
        started, finished = row.get("started_at"), row.get("finished_at")
        seconds = (finished - started).total_seconds() if started is not None and finished is not None else None
        out.append({
            "run_id": _int(row["run_id"]), "kind": row.get("kind"), "format": row.get("format"),
            "files": [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in files or []],  # names, not folders
            "started_at": _iso(started), "seconds": seconds,
            **{k: _int(row.get(k)) for k in ("rows_read", "rows_new", "rows_updated", "rows_unchanged",
                                              "rows_quarantined")},
            "warnings": list((summary or {}).get("warnings") or []),
        })
    return out


_MERGED = re.compile(r"merged from (\S+?):")


def _identities(ws) -> dict:
    i = ws.table("identities")
    kinds = ws.execute(i.group_by("kind").aggregate(n=i.count()).order_by("kind"))
    per = i.group_by("customer_id").aggregate(n=i.count(), emails=i.count(where=i.kind == "email"))
    stats = _row(ws, per.aggregate(several=per.count(where=per.n >= 2), several_emails=per.count(where=per.emails >= 2)))
    merged = ws.execute(i.filter(i.reason.contains("merged from")).select("reason"))
    merged_ids = {m for reason in merged["reason"] for m in _MERGED.findall(str(reason))}
    c = ws.table("customers")
    provisional = _scalar(ws, c.count(where=c.customer_id.startswith("e-") | c.customer_id.startswith("p-")))
    return {
        "customers": _scalar(ws, c.count()),
        "identifiers": {str(r.kind): int(r.n) for r in kinds.itertuples()},
        "customers_with_several_identifiers": _int(stats.get("several")),
        "customers_with_several_emails": _int(stats.get("several_emails")),
        "merges": len(merged_ids),
        "provisional_customers": provisional,
    }


# -- readiness ----------------------------------------------------------------------------

def _stats(ws) -> dict:
    """The counts readiness rests on."""
    f = order_facts(ws)
    p = f.filter(f.is_purchase)
    days = p.select("customer_id", "day").distinct()
    per = days.group_by("customer_id").aggregate(days=days.count())
    s = _row(ws, p.aggregate(buyers=p.customer_id.nunique(), first=p.day.min(), last=p.day.max()))
    s["repeat"] = _scalar(ws, per.count(where=per.days >= 2))
    first, last = s.get("first"), s.get("last")
    s["history_days"] = (pd.Timestamp(last) - pd.Timestamp(first)).days if first is not None else 0
    s["history_months"] = s["history_days"] / 30.4375

    e = ws.table("events")
    s["events"] = _scalar(ws, e.count())
    s["sessions"] = _scalar(ws, sessions(ws).count()) if s["events"] else 0
    types = ws.execute(e.select(t=trim(e.event_type).lower()).distinct())["t"].tolist() if s["events"] else []
    s["steps"] = [step for step in FUNNEL_STEPS if step in set(types)]

    lines = ws.table("order_lines")
    lines = lines.filter(lines.product_id.notnull(), lines.quantity > 0)
    lj = lines.join(p.select("order_id", "customer_id"), "order_id")
    s.update(_row(ws, lj.aggregate(line_customers=lj.customer_id.nunique(), line_products=lj.product_id.nunique())))
    s["lines"] = _scalar(ws, lines.count())

    m = ws.table("marketing_spend")
    s["spend_rows"] = _scalar(ws, m.count())
    s["spend_months"] = _scalar(ws, month_index(m.spent_on).nunique())
    c = ws.table("customers")
    channel = trim(c.acquisition_channel).lower().nullif("")
    s["customers"] = _scalar(ws, c.count())
    s["with_channel"] = _scalar(ws, channel.count())
    spend_channels = set(ws.execute(m.select(ch=trim(m.channel).lower()).distinct())["ch"].dropna())
    acq = set(ws.execute(c.select(ch=channel).distinct())["ch"].dropna())
    s["matching_channels"] = sorted(spend_channels & acq)

    sv = ws.table("surveys")
    s["nps"] = _scalar(ws, sv.count(where=(trim(sv.survey).lower() == "nps") & sv.score.between(0, 10)))
    texts = 0
    for name, col in (("reviews", "body"), ("tickets", "body"), ("surveys", "comment")):
        t = ws.table(name)
        texts += _scalar(ws, t.count(where=trim(t[col]).length() > 0))
    s["texts"] = texts
    s["english_texts"], s["english_exact"] = _english_texts(ws, texts)
    return s


#: Texts whose language the doctor checks; above it the English share is estimated from a sample.
LANGUAGE_SAMPLE = 2000


def _english_texts(ws, texts: int) -> tuple[int, bool]:
    """How many texts are in English (the language sentiment and topics are computed for)."""
    if not texts:
        return 0, True
    from regulars.data.text_store import sample_texts
    from regulars.text.language import SUPPORTED, detect_language

    sample = sample_texts(ws, LANGUAGE_SAMPLE)
    english = sum(detect_language(t) in SUPPORTED for t in sample)
    if len(sample) >= texts:
        return english, True
    return round(texts * english / max(len(sample), 1)), False


def _verdict(ok: bool, has_data: bool) -> str:
    return OK if ok else (WARN if has_data else MISSING)


def _months(x: float) -> str:
    return f"{x:.1f} month(s)"


def _readiness(s: dict) -> list[Readiness]:
    out = []
    buyers, repeat = _int(s.get("buyers")), _int(s.get("repeat"))
    months, hdays = s["history_months"], s["history_days"]
    orders_advice = LOAD["more_orders"] if buyers else LOAD["orders"]  # orders loaded: "load orders" would mislead

    def add(analysis, title, ok, has, minimum, have, load, extra=""):
        status = _verdict(ok, has)
        verb = "need" if title in PLURAL_TITLES else "needs"
        reason = f"{title} {verb} {minimum}; you have {have}" + extra
        out.append(Readiness(analysis, title, status, minimum, have, reason, None if status == OK else load))

    add("rfm", "RFM segments", buyers >= RFM_MIN_CUSTOMERS, buyers > 0,
        f"at least {RFM_MIN_CUSTOMERS} customers with a purchase", f"{buyers:,}", orders_advice)
    add("cohorts", "cohorts", months >= COHORT_MIN_MONTHS, buyers > 0,
        f"at least {COHORT_MIN_MONTHS} months of order history", _months(months), orders_advice)
    steps = s["steps"]
    add("funnel", "the funnel", s["sessions"] >= FUNNEL_MIN_SESSIONS and len(steps) >= FUNNEL_MIN_STEPS,
        s["events"] > 0,
        f"at least {FUNNEL_MIN_SESSIONS} sessions and {FUNNEL_MIN_STEPS} of the steps {', '.join(FUNNEL_STEPS)}",
        f"{s['sessions']:,} session(s) and the step(s) {', '.join(steps) or 'none'}", LOAD["events"])
    floor = ""
    if buyers and (repeat < _MODEL.btyd_repeat_customers or hdays < _MODEL.btyd_history_days):
        floor = (f" (below {_MODEL.btyd_repeat_customers} repeat customers or {_MODEL.btyd_history_days} days "
                 "of history the model does not run at all)")
    elif buyers and repeat < BTYD_MIN_REPEAT_CUSTOMERS:
        floor = " (it runs in small-data mode: values lean on the shop average, intervals are wide)"
    add("predicted_clv", "predicted CLV",
        repeat >= BTYD_MIN_REPEAT_CUSTOMERS and months >= BTYD_MIN_MONTHS, buyers > 0,
        f"at least {BTYD_MIN_REPEAT_CUSTOMERS} customers with repeat purchases over at least "
        f"{BTYD_MIN_MONTHS} months of history",
        f"{repeat:,} over {_months(months)}", orders_advice, floor)
    floor = ""
    if buyers and (buyers < _MODEL.customers or repeat < _MODEL.repeat_customers or hdays < CHURN_MIN_DAYS):
        floor = (f" (below {_MODEL.customers} customers, {_MODEL.repeat_customers} repeat customers or "
                 f"{CHURN_MIN_DAYS} days the model does not run at all)")
    elif buyers and (buyers < CHURN_MIN_CUSTOMERS or repeat < CHURN_MIN_REPEAT_CUSTOMERS):
        floor = " (it runs in small-data mode: a simpler model, rough accuracy figures)"
    add("churn", "a churn model",
        buyers >= CHURN_MIN_CUSTOMERS and repeat >= CHURN_MIN_REPEAT_CUSTOMERS and hdays >= CHURN_MIN_DAYS,
        buyers > 0,
        f"at least {CHURN_MIN_CUSTOMERS:,} customers with a purchase ({CHURN_MIN_REPEAT_CUSTOMERS} of them "
        f"repeat customers) over at least {CHURN_MIN_DAYS} days",
        f"{buyers:,} ({repeat:,} repeat) over {hdays:,} day(s)", orders_advice, floor)
    lc, lp = _int(s.get("line_customers")), _int(s.get("line_products"))
    add("recommendations", "recommendations", lc >= RECO_MIN_CUSTOMERS and lp >= RECO_MIN_PRODUCTS, s["lines"] > 0,
        f"order lines with product ids from at least {RECO_MIN_CUSTOMERS} customers and {RECO_MIN_PRODUCTS} products",
        f"{lc:,} customer(s) and {lp:,} product(s)", LOAD["order_lines"])
    share = s["with_channel"] / s["customers"] if s["customers"] else 0.0
    matching = s["matching_channels"]
    add("cac", "CAC", s["spend_rows"] > 0 and share >= CAC_MIN_CHANNEL_SHARE and bool(matching), s["spend_rows"] > 0,
        f"marketing spend and an acquisition channel for at least {CAC_MIN_CHANNEL_SHARE:.0%} of customers, "
        "named like the spend channels",
        f"{s['spend_rows']:,} spend row(s) over {s['spend_months']} month(s), a channel for {share:.0%} of customers, "
        f"{len(matching)} channel(s) in both" + (f" ({', '.join(matching)})" if matching else ""), LOAD["spend"])
    add("nps", "NPS", s["nps"] >= NPS_MIN_RESPONSES, s["nps"] > 0,
        f"at least {NPS_MIN_RESPONSES} NPS answers", f"{s['nps']:,}", LOAD["nps"])
    english = s["english_texts"]
    have = f"{s['texts']:,}"
    if s["texts"] and english != s["texts"]:
        have += f" ({'' if s['english_exact'] else 'about '}{english:,} in English)"
    add("sentiment", "sentiment analysis", english >= SENTIMENT_MIN_TEXTS, s["texts"] > 0,
        f"at least {SENTIMENT_MIN_TEXTS} texts in English (reviews, ticket bodies, survey comments; other "
        "languages are not analysed)", have, LOAD["texts"])
    return out


def doctor(ws) -> DoctorReport:
    """Examine the workspace: data quality, identities, ingest history and readiness.

    Parameters
    ----------
    ws : Workspace
        Read only; nothing is written.

    Returns
    -------
    DoctorReport
    """
    return DoctorReport(
        workspace=getattr(getattr(ws, "path", None), "name", ""),  # the file's name, never the server's folders
        tables=_tables(ws),
        duplicates={
            "orders": _duplicate_orders(ws),
            "customer_emails": _shared_identifier(ws, "email", "e-mail address", "e-mail addresses"),
            "customer_phones": _shared_identifier(ws, "phone", "phone number", "phone numbers"),
        },
        outliers={"order_totals": _order_totals(ws), "orders_per_day": _orders_per_day(ws)},
        quarantine=_quarantine(ws),
        ingest_runs=_ingest_runs(ws),
        identities=_identities(ws),
        readiness=_readiness(_stats(ws)),
        personal_data=_personal_data(ws),
    )


def _personal_data(ws) -> list[dict]:
    from regulars.data.privacy_store import personal_data_held

    return personal_data_held(ws)
