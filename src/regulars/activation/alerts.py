"""Alert conditions over shop metrics, with thresholds the shop edits (``alert_*`` settings).

:func:`evaluate` takes the measured metrics and the settings and returns the alerts that fire,
each with a stable ``key`` (one alert per key and day is delivered) and a sentence.

>>> m = {"revenue_7d": 900.0, "forecast_7d": {"lower": 1000.0, "revenue": 1300.0, "upper": 1600.0},
...      "sessions": (700, 1000), "conversion": (0.02, 0.021), "churn_shares": (0.30, 0.22),
...      "quarantined_24h": 12, "failed_jobs": []}
>>> [a.key for a in evaluate(m, {"alert_revenue_below_forecast": True, "alert_churn_share_points": 5,
...      "alert_traffic_drop_pct": 25, "alert_conversion_drop_pct": 30, "alert_quarantine_rows": 100,
...      "alert_failed_jobs": True})]
['revenue_below_forecast', 'churn_share_up', 'traffic_drop']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Alert:
    key: str
    title: str
    message: str
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _drop(now: float, before: float) -> float | None:
    return None if not before else (before - now) / before


def evaluate(metrics: dict, settings: dict) -> list[Alert]:
    out: list[Alert] = []
    fc = metrics.get("forecast_7d")
    rev = metrics.get("revenue_7d")
    if settings.get("alert_revenue_below_forecast") and fc and rev is not None and rev < fc["lower"]:
        out.append(Alert("revenue_below_forecast", "Revenue below forecast",
                         f"revenue of the last 7 days is {rev:,.2f}, below the forecast's lower bound "
                         f"{fc['lower']:,.2f} (expected {fc['revenue']:,.2f})", rev, fc["lower"]))
    shares = metrics.get("churn_shares")
    points = float(settings.get("alert_churn_share_points") or 0)
    if points and shares and shares[1] is not None:
        up = (shares[0] - shares[1]) * 100
        if up >= points:
            out.append(Alert("churn_share_up", "More customers at high churn risk",
                             f"the share of customers at high churn risk rose by {up:.1f} points "
                             f"({shares[1] * 100:.1f}% to {shares[0] * 100:.1f}%)", up, points))
    sessions = metrics.get("sessions")
    pct = float(settings.get("alert_traffic_drop_pct") or 0)
    if pct and sessions:
        drop = _drop(*sessions)
        if drop is not None and drop * 100 >= pct:
            out.append(Alert("traffic_drop", "Traffic dropped",
                             f"sessions of the last 7 days fell {drop * 100:.0f}% ({sessions[1]:,} to {sessions[0]:,})",
                             drop * 100, pct))
    conv = metrics.get("conversion")
    pct = float(settings.get("alert_conversion_drop_pct") or 0)
    if pct and conv and conv[0] is not None and conv[1]:
        drop = _drop(*conv)
        if drop is not None and drop * 100 >= pct:
            out.append(Alert("conversion_drop", "Conversion dropped",
                             f"conversion (orders per session) fell {drop * 100:.0f}% week on week "
                             f"({conv[1] * 100:.2f}% to {conv[0] * 100:.2f}%)", drop * 100, pct))
    rows = int(settings.get("alert_quarantine_rows") or 0)
    q = metrics.get("quarantined_24h")
    if rows and q is not None and q > rows:
        out.append(Alert("quarantine_spike", "Many rows quarantined",
                         f"loads of the last 24 hours quarantined {q:,} rows (threshold {rows:,}); "
                         "see `regulars quarantine`", q, rows))
    failed = metrics.get("failed_jobs") or []
    if settings.get("alert_failed_jobs") and failed:
        names = ", ".join(sorted({f["kind"] for f in failed}))
        out.append(Alert("failed_job", "A scheduled job failed",
                         f"{len(failed)} scheduled job run(s) failed in the last 24 hours: {names}", len(failed), 0))
    return out
