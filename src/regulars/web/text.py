"""The Text page: what customers say -- sentiment over time, topics with their trends and example quotes.

Renders the dicts of :mod:`regulars.server.text_views` (the same functions as ``/api/text/*``);
viewers see quotes with personal data masked.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.server import text_views
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.analysis import PALETTE, _controls, _select, _unavailable
from regulars.web.html import HTML, chart, el, join, num, pct, table, tile
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)


def _signed(v) -> str:
    return "–" if v is None else f"{v:+.2f}"


def _sentiment_chart(months: dict) -> HTML | None:
    rows = months.get("rows") or []
    if len(rows) < 2:
        return None
    x = [r["group"] for r in rows]
    spec = {"data": [
        {"type": "bar", "x": x, "y": [r["texts"] for r in rows], "name": "texts", "yaxis": "y2",
         "marker": {"color": "#d9e3f3"}},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": [r["positive_share"] for r in rows],
         "name": "positive", "line": {"color": PALETTE[2]}},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": [r["negative_share"] for r in rows],
         "name": "negative", "line": {"color": PALETTE[3]}}],
        "layout": {"yaxis": {"tickformat": ".0%", "title": {"text": "share of texts"}, "rangemode": "tozero"},
                   "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False, "title": {"text": "texts"}},
                   "legend": {"orientation": "h"}}}
    return chart(spec, "Share of positive and negative texts per month, with the number of texts",
                 data_table=table(rows, [("group", "Month"), ("texts", "Texts", lambda r: num(r["texts"]), "num"),
                                         ("positive_share", "Positive", lambda r: pct(r["positive_share"]), "num"),
                                         ("negative_share", "Negative", lambda r: pct(r["negative_share"]), "num"),
                                         ("mean_sentiment", "Mean sentiment", lambda r: _signed(r["mean_sentiment"]),
                                          "num")]))


def _topic_trend(source: dict) -> HTML | None:
    topics = source["topics"]
    if not topics or len(topics[0]["trend"]["months"]) < 2:
        return None
    months = topics[0]["trend"]["months"]
    spec = {"data": [{"type": "bar", "name": t["label"], "x": months, "y": t["trend"]["texts"],
                      "marker": {"color": PALETTE[i % len(PALETTE)]}} for i, t in enumerate(topics)],
            "layout": {"barmode": "stack", "yaxis": {"title": {"text": "texts"}}, "legend": {"orientation": "h"}}}
    rows = [{"month": m, **{t["label"]: t["trend"]["texts"][j] for t in topics}} for j, m in enumerate(months)]
    return chart(spec, f"Topics of {source['name']} per month",
                 data_table=table(rows, [("month", "Month")] + [(t["label"], t["label"], None, "num") for t in topics]))


def _topic_table(source: dict) -> HTML:
    def label(t):
        badge = el("span", "emerging", class_="badge", title="a significantly larger share of the last 90 days")
        return join([t["label"], " ", badge]) if t["emerging"] else t["label"]

    def quotes(t):
        if not t["examples"]:
            return "–"
        return el("ul", *[el("li", el("q", q["text"]), " ", el("span", q["sentiment"] or "not analysed", class_="muted"))
                          for q in t["examples"][:2]], class_="quotes")

    return table(source["topics"], [
        ("label", "Topic", label), ("top_words", "Words", lambda t: ", ".join(t["top_words"][:6])),
        ("texts", "Texts", lambda t: num(t["texts"]), "num"), ("share", "Share", lambda t: pct(t["share"], 0), "num"),
        ("mean_sentiment", "Sentiment", lambda t: _signed(t["mean_sentiment"]), "num"),
        ("negative_share", "Negative", lambda t: pct(t["negative_share"], 0), "num"),
        ("recent_share", "Last 90 days", lambda t: pct(t["recent_share"], 0), "num"),
        ("examples", "What they say", quotes)], label=f"topics of {source['name']}")


@router.get("/text", response_class=HTMLResponse)
def text_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
              by: Literal["", "product", "segment", "source"] = Query("")):
    try:
        topics = text_views.topics(request, ws, include_pii=principal.sees_pii)
        months = text_views.sentiment(request, ws, by="month")
        grouped = text_views.sentiment(request, ws, by=by or "source")
    except ApiError as exc:
        return _unavailable(request, principal, "Text", exc)
    parts = [el("h1", "What customers say")]
    run = topics.get("run")
    if run is None:
        parts.append(el("p", "No text analysis yet. Run ", el("code", "regulars text analyse"),
                        " (or POST /api/text/analyse) after loading reviews, tickets or survey answers.", class_="note"))
        return page(request, "Text", join(parts), principal=principal)
    overall = months.get("overall") or {}
    other = run["texts"] - run["analysed"]
    parts.append(el("p", f"Reviews, support tickets and survey comments, analysed on {run['finished_at'][:10]}. "
                         "Sentiment runs from -1 (very negative) to +1 (very positive); English texts only.",
                    class_="lead"))
    parts.append(el("div", tile("Texts", num(run["texts"])), tile("Analysed (English)", num(run["analysed"])),
                    tile("Not analysed (other languages)", num(other)),
                    tile("Mean sentiment", _signed(overall.get("mean_sentiment"))),
                    tile("Positive", pct(overall.get("positive_share"))),
                    tile("Negative", pct(overall.get("negative_share"))), class_="tiles"))
    for note in topics.get("notes", []):
        parts.append(el("p", note, class_="note"))
    trend = _sentiment_chart(months)
    if trend is not None:
        parts.append(el("section", el("h2", "Sentiment over time"), trend, class_="card"))
    for source in topics.get("sources", []):
        section = [el("h2", f"Topics of {source['name']}")]
        tr = _topic_trend(source)
        if tr is not None:
            section.append(tr)
        section.append(_topic_table(source))
        parts.append(el("section", *section, class_="card"))
    rows = grouped.get("rows") or []
    parts.append(el("section", el("h2", "Sentiment by " + (by or "source")),
                    _controls("/text", _select("by", "Break down by", [("", "source"), ("product", "product"),
                                                                       ("segment", "segment")], by)),
                    table(rows, [("group", (by or "source").capitalize()), ("texts", "Texts", lambda r: num(r["texts"]), "num"),
                                 ("mean_sentiment", "Sentiment", lambda r: _signed(r["mean_sentiment"]), "num"),
                                 ("positive_share", "Positive", lambda r: pct(r["positive_share"]), "num"),
                                 ("negative_share", "Negative", lambda r: pct(r["negative_share"]), "num"),
                                 ("mean_rating", "Rating", lambda r: num(r["mean_rating"], 2), "num"),
                                 ("mean_csat", "CSAT", lambda r: num(r["mean_csat"], 2), "num")],
                          label="sentiment breakdown"),
                    *[el("p", n, class_="muted") for n in grouped.get("notes", [])], class_="card"))
    return page(request, "Text", join(parts), principal=principal, charts=True)
