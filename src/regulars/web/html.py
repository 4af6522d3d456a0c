"""Small, escaping HTML building blocks: every text goes through :func:`esc` unless it is already :class:`HTML`.

>>> str(el("td", "<b>", class_="num"))
'<td class="num">&lt;b&gt;</td>'
>>> money(1234.5), pct(0.1234), num(12345)
('1,234.50', '12.3%', '12,345')
>>> token = CURRENCY.set("EUR"); money(1234.5)
'1,234.50 EUR'
>>> CURRENCY.reset(token)
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from contextvars import ContextVar

from regulars.reports.shop_time import SHOP_TIMEZONE

#: The shop's currency for the page being built (set per request by :mod:`regulars.web.currency`).
CURRENCY: ContextVar[str | None] = ContextVar("regulars_currency", default=None)
#: The shop's time zone for the page being built (same middleware; shared with the API's JSON, see
#: :mod:`regulars.reports.shop_time`); stored times are UTC.
TIMEZONE = SHOP_TIMEZONE


class HTML(str):
    """Text that is already HTML (escaped); concatenating with plain text is not allowed implicitly."""

    def __add__(self, other):
        return HTML(str.__add__(self, esc(other)))


def esc(value) -> HTML:
    """Escape *value* for HTML (``None`` becomes empty)."""
    if isinstance(value, HTML):
        return value
    if value is None:
        return HTML("")
    return HTML(html.escape(str(value), quote=True))


def join(parts: Iterable, sep: str = "") -> HTML:
    return HTML(sep.join(esc(p) for p in parts if p is not None))


def attrs(**kw) -> str:
    out = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        name = k.rstrip("_").replace("_", "-")
        out.append(f" {name}" if v is True else f' {name}="{esc(v)}"')
    return "".join(out)


def el(tag: str, *children, **kw) -> HTML:
    """``<tag attrs>children</tag>``; children are escaped unless :class:`HTML`."""
    return HTML(f"<{tag}{attrs(**kw)}>{join(children)}</{tag}>")


def void(tag: str, **kw) -> HTML:
    return HTML(f"<{tag}{attrs(**kw)}>")


# -- formatting -----------------------------------------------------------------
def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))


def num(v, digits: int = 0) -> str:
    if _missing(v):
        return "–"
    return f"{float(v):,.{digits}f}"


def money(v) -> str:
    """An amount with two decimals and the shop's currency (when one is set)."""
    text = num(v, 2)
    currency = CURRENCY.get()
    return f"{text} {currency}" if currency and not _missing(v) else text


def pct(v, digits: int = 1) -> str:
    if _missing(v):
        return "–"
    return f"{float(v) * 100:.{digits}f}%"


def when(v) -> str:
    """A stored (UTC) timestamp as ``2024-05-01 12:30`` in the shop's time zone (:data:`TIMEZONE`).

    >>> when("2024-05-01T12:30:00"), when(None)
    ('2024-05-01 12:30', '–')
    >>> token = TIMEZONE.set("Europe/Paris"); when("2024-05-01T12:30:00"), when("2024-05-01")
    ('2024-05-01 14:30', '2024-05-01')
    >>> TIMEZONE.reset(token)
    """
    if _missing(v) or v == "":
        return "–"
    zone = TIMEZONE.get()
    if zone and zone != "UTC" and not (isinstance(v, dt.date) and not isinstance(v, dt.datetime)):
        try:
            stamp = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
        except ValueError:
            stamp = None
        if stamp is not None and (isinstance(v, dt.datetime) or len(str(v)) > 10):
            from zoneinfo import ZoneInfo

            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
            return stamp.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, (dt.datetime, dt.date)):
        v = v.isoformat()
    text = str(v).replace("T", " ")
    return text[:16]


def day(v) -> str:
    return "–" if _missing(v) or v == "" else str(v)[:10]


# -- components -------------------------------------------------------------------
def table(rows: Sequence[dict], columns: Sequence[tuple], caption: str | None = None, empty: str = "Nothing yet.",
          label: str | None = None) -> HTML:
    """A table; *columns* are ``(key, header[, format[, css class]])``; format is a callable row -> cell."""
    if not rows:
        return el("p", empty, class_="muted")
    head = join(el("th", c[1], scope="col", class_=c[3] if len(c) > 3 else None) for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            fmt = c[2] if len(c) > 2 and c[2] else None
            value = fmt(r) if fmt else r.get(c[0])
            cells.append(el("td", value if isinstance(value, HTML) else esc("–" if value is None else value),
                            class_=c[3] if len(c) > 3 else None))
        body.append(el("tr", *cells))
    cap = el("caption", caption) if caption else ""
    return el("div", el("table", cap, el("thead", el("tr", head)), el("tbody", *body)),
              class_="table-wrap", tabindex="0", role="region", aria_label=label or caption or "table")


def tile(label: str, value: str, delta: HTML | str | None = None, spark: HTML | None = None, title: str | None = None) -> HTML:
    return el("div", el("div", label, class_="label"), el("div", value, class_="value"),
              el("div", delta or "", class_="delta"), spark or "", class_="tile", title=title)


def delta(now, before, label: str, good_when_up: bool = True, is_rate: bool = False, points: bool = False) -> HTML:
    """``▲ 4.2% vs Nov`` (green when it moved the good way); a rate moves in percentage points, a
    score such as NPS (*points*) in points — never in percent of the score."""
    if _missing(now) or _missing(before):
        return el("span", "no earlier period", class_="flat")
    if points:
        change = float(now) - float(before)
        text = f"{abs(change):.1f} points"
    elif is_rate:
        change = (float(now) - float(before)) * 100
        text = f"{abs(change):.1f} pts"
    else:
        if float(before) == 0:
            return el("span", f"new vs {label}", class_="flat")
        change = (float(now) - float(before)) / abs(float(before)) * 100
        text = f"{abs(change):.1f}%"
    if abs(change) < 0.05:
        return el("span", f"= vs {label}", class_="flat")
    up = change > 0
    cls = "up" if up == good_when_up else "down"
    arrow = "▲" if up else "▼"
    return el("span", f"{arrow} {text} vs {label}", class_=cls,
              aria_label=f"{'up' if up else 'down'} {text} compared with {label}")


def sparkline(values: Sequence, label: str) -> HTML:
    """A tiny inline SVG line (no script needed)."""
    pts = [float(v) for v in values if not _missing(v)]
    if len(pts) < 2:
        return HTML("")
    lo, hi = min(pts), max(pts)
    span = (hi - lo) or 1.0
    w, h = 100.0, 28.0
    step = w / (len(pts) - 1)
    path = " ".join(f"{i * step:.1f},{h - 2 - (p - lo) / span * (h - 4):.1f}" for i, p in enumerate(pts))
    return HTML(f'<svg viewBox="0 0 100 28" preserveAspectRatio="none" role="img" aria-label="{esc(label)}">'
                f'<polyline fill="none" stroke="#1f5fbf" stroke-width="1.6" points="{path}"/></svg>')


def chart(spec: dict, label: str, height: int = 320, data_table: HTML | None = None) -> HTML:
    """A Plotly chart drawn by app.js from ``data-chart``; *label* describes it for screen readers."""
    payload = json.dumps(spec, separators=(",", ":"), allow_nan=False, default=str)
    fig = el("div", class_="chart", role="img", aria_label=label, data_chart=payload, style=f"height:{height}px")
    if data_table is not None:
        fig = fig + el("details", el("summary", "Show the numbers"), data_table)
    return HTML(fig)


def bar(share, label: str) -> HTML:
    if _missing(share):
        return HTML("")
    w = max(0.0, min(1.0, float(share))) * 100
    return el("div", HTML(f'<span style="width:{w:.1f}%"></span>'), class_="bar", role="img", aria_label=label)


def pager(base: str, total: int, limit: int, offset: int, params: dict | None = None) -> HTML:
    from urllib.parse import urlencode

    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    parts = []
    if offset > 0:
        parts.append(el("a", "← Previous", href=f"{base}?{urlencode({**params, 'offset': max(0, offset - limit)})}",
                        class_="button secondary"))
    shown_to = min(total, offset + limit)
    parts.append(el("span", f"{offset + 1 if total else 0:,}–{shown_to:,} of {total:,}", class_="muted"))
    if shown_to < total:
        parts.append(el("a", "Next →", href=f"{base}?{urlencode({**params, 'offset': offset + limit})}",
                        class_="button secondary"))
    return el("nav", *parts, class_="pager", aria_label="pages")
