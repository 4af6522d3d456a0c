"""What customers say: the text reports behind ``regulars text``, ``/api/text/*`` and the Text page.

Both read what the text job stored (:mod:`regulars.jobs.text`):

- :func:`topics_report` -- per source (reviews, tickets, surveys) the topics with their top
  words, size, sentiment, a monthly trend, whether they are *emerging* (a much larger share of
  the texts of the last 90 days than of the 90 days before) and example quotes, masked unless
  the reader may see personal data;
- :func:`sentiment_report` -- texts, mean sentiment, positive and negative shares and mean
  rating / CSAT, overall or by month, product, segment or source, and which languages were set
  aside.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> topics_report(ws).notes
['no text analysis yet: run `regulars text analyse` (or POST /api/text/analyse)']
>>> ws.close()
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from regulars.data import segment_queries
from regulars.data import text_store as store
from regulars.text.redact import redact

NOT_RUN = "no text analysis yet: run `regulars text analyse` (or POST /api/text/analyse)"
#: A topic is emerging when its share of the last 90 days is this many times its share before ...
EMERGING_RATIO = 1.5
#: ... and it holds at least this many recent texts (a few texts are noise) ...
EMERGING_MIN_TEXTS = 10
#: ... and the rise is beyond chance: a two-proportion z-test at 1% (z >= 2.58).
EMERGING_Z = 2.58
WINDOW_DAYS = 90
SOURCE_NAMES = {"reviews": "reviews", "tickets": "support tickets", "surveys": "survey comments"}


def _num(v):
    return None if v is None or pd.isna(v) else float(v)


@dataclass
class TopicsReport:
    run: dict | None
    sources: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pii_masked: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    def topic(self, source: str, label: str) -> dict | None:
        for s in self.sources:
            if s["source"] == source:
                return next((t for t in s["topics"] if t["label"] == label), None)
        return None


def _run_summary(ws) -> dict | None:
    run = store.latest_run(ws)
    if run is None:
        return None
    return {"run_id": run["run_id"], "finished_at": str(run["finished_at"])[:19], "texts": int(run["texts"]),
            "analysed": int(run["analysed"]), "languages": run["languages"],
            "notes": (run.get("params") or {}).get("notes", [])}


def topics_report(ws, include_pii: bool = False, examples: int = 3) -> TopicsReport:
    """Topics per source with trends, emerging flags and example quotes (masked unless *include_pii*)."""
    run = _run_summary(ws)
    if run is None:
        return TopicsReport(None, [], [NOT_RUN], not include_pii)
    topics = store.topics(ws, run["run_id"])
    stats = store.topic_stats(ws).set_index(["source", "topic_id"])
    months = store.topic_months(ws)
    change = store.topic_change(ws, WINDOW_DAYS)
    quotes = store.examples(ws, examples)
    notes = list(run["notes"])
    sources = []
    for source in store.SOURCES:
        rows = topics[topics["source"] == source]
        if rows.empty:
            continue
        all_months = sorted(months.loc[months["source"] == source, "month"].unique())
        items = []
        for r in rows.to_dict("records"):
            tid = int(r["topic_id"])
            st = stats.loc[(source, tid)] if (source, tid) in stats.index else None
            m = months[(months["source"] == source) & (months["topic_id"] == tid)].set_index("month")["texts"]
            ch = change[(change["source"] == source) & (change["topic_id"] == tid)].set_index("period")
            recent = _num(ch["share"].get("recent")) if "recent" in ch.index else 0.0
            before = _num(ch["share"].get("before")) if "before" in ch.index else 0.0
            recent_n = int(ch["texts"].get("recent", 0)) if "recent" in ch.index else 0
            totals = change[change["source"] == source].groupby("period")["texts"].sum()
            z = _z(recent, int(totals.get("recent", 0)), before, int(totals.get("before", 0)))
            emerging = (recent_n >= EMERGING_MIN_TEXTS and recent >= EMERGING_RATIO * max(before, 1e-9)
                        and z >= EMERGING_Z)
            q = quotes[(quotes["source"] == source) & (quotes["topic_id"] == tid)]
            items.append({
                "topic_id": tid, "label": r["label"], "top_words": list(r["top_words"])[:8],
                "texts": int(st["texts"]) if st is not None else 0,
                "share": _num(st["share"]) if st is not None else None,
                "mean_sentiment": _num(st["mean_sentiment"]) if st is not None else None,
                "negative_share": _num(st["negative_share"]) if st is not None else None,
                "mean_score": _num(st["mean_score"]) if st is not None else None,
                "trend": {"months": all_months, "texts": [int(m.get(x, 0)) for x in all_months]},
                "recent_share": recent, "previous_share": before, "emerging": bool(emerging),
                "since_run": r["first_run_id"],
                "examples": [_quote(x, include_pii) for x in q.to_dict("records")],
            })
            if emerging:
                notes.append(f"emerging in {SOURCE_NAMES[source]}: '{r['label']}' is {100 * recent:.0f}% of the last "
                             f"{WINDOW_DAYS} days' texts, up from {100 * before:.0f}% in the {WINDOW_DAYS} days before")
        sources.append({"source": source, "name": SOURCE_NAMES[source], "topics": items})
    return TopicsReport(run, sources, notes, not include_pii)


def _z(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-proportion z statistic of p1 (out of n1) above p2 (out of n2).

    >>> round(_z(0.3, 400, 0.1, 400), 1)
    7.1
    """
    if not n1 or not n2:
        return 0.0
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
    return (p1 - p2) / se if se > 0 else 0.0


def _quote(row: dict, include_pii: bool) -> dict:
    text = row["text"]
    if not include_pii:
        text = redact(text, names=[row.get("first_name"), row.get("last_name")],
                      values=[row.get("email"), row.get("phone"), row.get("postal_code")])
    return {"text_id": row["text_id"], "text": text, "sentiment": row["sentiment"],
            "compound": _num(row["compound"]), "written_at": str(row["written_at"])[:10]}


@dataclass
class SentimentReport:
    by: str | None
    run: dict | None
    rows: list[dict] = field(default_factory=list)
    overall: dict | None = None
    languages: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _rows(df: pd.DataFrame) -> list[dict]:
    out = []
    for r in df.to_dict("records"):
        out.append({"group": str(r["grp"]), "texts": int(r["texts"]), "analysed": int(r["analysed"]),
                    "mean_sentiment": _num(r["mean_sentiment"]), "positive_share": _num(r["positive_share"]),
                    "negative_share": _num(r["negative_share"]), "mean_rating": _num(r["mean_rating"]),
                    "mean_csat": _num(r["mean_csat"])})
    return out


def sentiment_report(ws, by: str | None = None) -> SentimentReport:
    """Sentiment overall or by ``month``, ``product``, ``segment`` or ``source``."""
    if by not in store.GROUPINGS:
        raise ValueError(f"--by must be month, product, segment or source; got {by!r}")
    run = _run_summary(ws)
    if run is None:
        return SentimentReport(by, None, notes=[NOT_RUN])
    notes = []
    if by == "segment" and "segment_memberships" in ws.list_tables() and \
            segment_queries.membership_rows(ws) == 0:
        notes.append("no segments yet: run `regulars segments refresh`; every text shows as 'no segment'")
    if by == "product":
        notes.append("only reviews name a product; tickets and survey comments are left out of this breakdown")
    overall = _rows(store.sentiment_groups(ws, None))
    langs = store.languages(ws)
    other = langs[langs["language"] != "en"]
    if len(other):
        notes.append(f"{int(other['texts'].sum()):,} text(s) in other languages ("
                     + ", ".join(f"{lang}: {int(n):,}" for lang, n in other.groupby("language")["texts"].sum().items())
                     + ") are not analysed: sentiment is measured for English only")
    return SentimentReport(by, run, _rows(store.sentiment_groups(ws, by)), overall[0] if overall else None,
                           langs.to_dict("records"), notes)
