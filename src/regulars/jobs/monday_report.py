"""The Monday report as a self-contained HTML page (no scripts, inline styles): written to the
report folder and e-mailed to ``report_recipients``.

>>> html = render_html({"shop_name": "Rosie's", "as_of": "2025-01-06", "week": {"start": "2024-12-30",
...     "end": "2025-01-05"}, "kpis": [{"label": "Revenue", "kind": "money", "this_week": 1200.5,
...     "last_week": 1000.0, "change": 20.05, "change_unit": "%", "good_when_up": True}], "segments": None,
...     "at_risk": [], "journeys": [], "alerts": [], "data_problems": [], "next_actions": None, "notes": []})
>>> "1,200.50" in html and "▲ 20.1%" in html
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as _html
from pathlib import Path

STYLE = ("body{font-family:system-ui,-apple-system,sans-serif;color:#1d2430;max-width:760px;margin:24px auto;"
         "padding:0 16px;line-height:1.45}h1{font-size:1.5em;margin-bottom:0}h2{font-size:1.15em;margin-top:1.6em;"
         "border-bottom:1px solid #dde3ea;padding-bottom:4px}table{border-collapse:collapse;width:100%}"
         "td,th{padding:4px 8px;border-bottom:1px solid #eef1f4;text-align:left}td.n,th.n{text-align:right}"
         ".up{color:#17784a}.down{color:#b3261e}.muted{color:#5b6575}")


def _e(v) -> str:
    return _html.escape("" if v is None else str(v))


def _fmt(v, kind: str) -> str:
    if v is None:
        return "–"
    if kind == "money":
        return f"{float(v):,.2f}"
    if kind == "rate":
        return f"{float(v) * 100:.1f}%"
    return f"{float(v):,.0f}"


def _delta(k: dict) -> str:
    c = k.get("change")
    if c is None:
        return '<span class="muted">–</span>'
    if abs(c) < 0.05:
        return '<span class="muted">=</span>'
    up = c > 0
    cls = "up" if up == k.get("good_when_up", True) else "down"
    unit = " pts" if k.get("change_unit") == "points" else "%"
    return f'<span class="{cls}">{"▲" if up else "▼"} {abs(c):.1f}{unit}</span>'


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    th = "".join(f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_body(r: dict) -> str:
    """The report's sections as HTML (used by the e-mail, the file and the dashboard page)."""
    w = r["week"]
    parts = [f'<p class="muted">Week {_e(w["start"])} to {_e(w["end"])}, compared with the week before.</p>',
             "<h2>Key numbers</h2>"]
    if r["kpis"]:
        parts.append(_table(["", "This week", "Last week", "Change"],
                            [[_e(k["label"]), _fmt(k["this_week"], k["kind"]), _fmt(k["last_week"], k["kind"]), _delta(k)]
                             for k in r["kpis"]], {1, 2, 3}))
    else:
        parts.append('<p class="muted">No orders in these two weeks.</p>')
    parts.append("<h2>Segment movements (RFM)</h2>")
    seg = r.get("segments")
    if seg and seg.get("segments"):
        rows = [[_e(s["segment_id"].split(":", 1)[-1].replace("_", " ")), f"{s['before']:,}", f"{s['after']:,}",
                 f"+{s['entered']:,}", f"−{s['exited']:,}"] for s in seg["segments"]]
        parts.append(_table(["Segment", "Before", "Now", "Joined", "Left"], rows, {1, 2, 3, 4}))
    else:
        parts.append('<p class="muted">Needs two segment refreshes (`regulars segments refresh`).</p>')
    parts.append("<h2>Valuable customers at risk</h2>")
    if r["at_risk"]:
        rows = []
        for c in r["at_risk"]:
            reasons = c.get("reasons") or []
            why = "; ".join(x if isinstance(x, str) else str(x.get("text", x)) for x in reasons[:2])
            rows.append([_e(c["customer_id"]), f"{float(c['churn_risk']) * 100:.0f}%",
                         _fmt(c.get("clv"), "money"), _e(why)])
        parts.append(_table(["Customer", "Churn risk", "Predicted value", "Why"], rows, {1, 2}))
    else:
        parts.append('<p class="muted">No customer at high churn risk (or no predictions yet: `regulars predict`).</p>')
    parts.append("<h2>Next best actions</h2>")
    if r.get("next_actions"):
        parts.append(_table(["Action", "Customers", "Expected value"],
                            [[_e(a["action"]), f"{a['customers']:,}", _fmt(a.get("expected_value"), "money")]
                             for a in r["next_actions"]], {1, 2}))
        parts.append('<p class="muted">Who gets what: <code>regulars next-actions</code> or the Next actions page.</p>')
    elif r.get("next_actions") == []:
        parts.append('<p class="muted">No action is worth its cost for any customer this week.</p>')
    else:
        parts.append('<p class="muted">No next best actions yet: <code>regulars predict</code> computes them.</p>')
    parts.append("<h2>Journeys</h2>")
    if r["journeys"]:
        rows = []
        for j in r["journeys"]:
            inc = j.get("incremental_revenue")
            money = "–" if inc is None else f"{inc:,.2f} ± {j.get('incremental_revenue_margin') or 0:,.2f}"
            rows.append([_e(j["name"]), f"{j.get('treated', 0):,}", f"{j.get('holdout', 0):,}",
                         _fmt(j.get("conversion_treated"), "rate"), _fmt(j.get("conversion_holdout"), "rate"), money,
                         _e(j.get("sentence", ""))])
        parts.append(_table(["Journey", "Treated", "Held out", "Converted", "Held out converted",
                             "Brought in (95%)", ""], rows, {1, 2, 3, 4, 5}))
    else:
        parts.append('<p class="muted">No journey has had entrants yet.</p>')
    parts.append("<h2>Alerts and data problems</h2>")
    items = [f"<li>{_e(a['message'])} ({_e(str(a['fired_at'])[:16])})</li>" for a in r["alerts"]]
    items += [f"<li>{_e(p)}</li>" for p in r["data_problems"]]
    parts.append(f"<ul>{''.join(items)}</ul>" if items else '<p class="muted">Nothing to report.</p>')
    if r.get("notes"):
        parts.append('<p class="muted">' + _e("; ".join(r["notes"])) + "</p>")
    return "".join(parts)


def render_html(r: dict) -> str:
    title = f"{r['shop_name']}: your week ({r['week']['start']} to {r['week']['end']})"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_e(r['shop_name'])}: your Monday report</h1>"
            f"{render_body(r)}</body></html>")


def text_version(r: dict) -> str:
    lines = [f"{r['shop_name']}: week {r['week']['start']} to {r['week']['end']}", ""]
    for k in r["kpis"]:
        lines.append(f"{k['label']}: {_fmt(k['this_week'], k['kind'])} (last week {_fmt(k['last_week'], k['kind'])})")
    for j in r["journeys"]:
        lines.append(f"{j['name']}: {j.get('sentence', '')}")
    for p in r["data_problems"]:
        lines.append(f"Data: {p}")
    return "\n".join(lines) + "\n\nThe full report is attached as HTML.\n"


def write_file(r: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"monday-report-{r['as_of']}.html"
    path.write_text(render_html(r), encoding="utf-8")
    return path


def report_folder(workspace_path: Path, settings: dict) -> Path:
    folder = Path(str(settings.get("report_folder") or "reports"))
    return folder if folder.is_absolute() else Path(workspace_path).parent / folder


def run(db, now: dt.datetime, settings: dict, as_of=None, mailer=None) -> dict:
    """Build the report of the week before *as_of* (default: today in the shop's time zone), write the file,
    e-mail it; returns where it went."""
    from regulars.activation.mailer import Mailer, SmtpSettings, build_message
    from regulars.activation.schedule import local
    from regulars.reports.monday import monday_report

    as_of = as_of or local(now, str(settings.get("time_zone") or "UTC")).date()
    report = db.read(lambda ws: monday_report(ws, as_of=as_of, shop_name=str(settings.get("shop_name") or "My shop")))
    data = report.to_dict()
    path = write_file(data, report_folder(db.path, settings))
    out = {"file": str(path), "emailed": []}
    recipients = [x.strip() for x in str(settings.get("report_recipients") or "").split(",") if x.strip()]
    smtp = SmtpSettings.from_settings(settings)
    if recipients and smtp:
        own = mailer is None
        mailer = mailer or Mailer(smtp)
        try:
            for to in recipients:
                key = hashlib.sha256(f"monday/{data['as_of']}/{to}".encode()).hexdigest()[:24]
                mailer.send(build_message(smtp.sender, to, f"{data['shop_name']}: your week ({data['week']['start']} "
                                          f"to {data['week']['end']})", text_version(data), render_html(data), key))
                out["emailed"].append(to)
        finally:
            if own:
                mailer.close()
    elif recipients:
        out["note"] = "not e-mailed: set the SMTP settings"
    return out
