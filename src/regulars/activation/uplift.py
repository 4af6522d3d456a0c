"""What a journey brought in beyond what would have happened: treatment vs holdout.

Each arm's revenue per entrant (net revenue of orders within the conversion window after entry)
is compared; the difference times the number of treated entrants is the incremental revenue,
with a 95% interval from the difference of two means (Welch's standard error, normal
approximation). The same for the conversion rate. Both arms are followed identically.

>>> rows = [{"arm": "treatment", "converted": i % 4 == 0, "revenue": 40.0 if i % 4 == 0 else 0.0} for i in range(900)]
>>> rows += [{"arm": "holdout", "converted": i % 5 == 0, "revenue": 40.0 if i % 5 == 0 else 0.0} for i in range(100)]
>>> u = uplift(rows)
>>> u["incremental_revenue"], round(u["incremental_revenue_margin"])
(1800.0, 3014)
"""

from __future__ import annotations

import math

from regulars.values import round_money

Z95 = 1.959964
MIN_PER_ARM = 20


def _mean_var(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if not n:
        return 0.0, 0.0
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, var


def uplift(outcomes: list[dict]) -> dict:
    """Per arm: entrants, conversion rate, revenue per entrant; the differences with 95% margins."""
    t = [o for o in outcomes if o["arm"] == "treatment"]
    h = [o for o in outcomes if o["arm"] == "holdout"]
    rev_t, var_rt = _mean_var([float(o["revenue"]) for o in t])
    rev_h, var_rh = _mean_var([float(o["revenue"]) for o in h])
    conv_t, var_ct = _mean_var([1.0 if o["converted"] else 0.0 for o in t])
    conv_h, var_ch = _mean_var([1.0 if o["converted"] else 0.0 for o in h])
    out = {"treated": len(t), "holdout": len(h), "conversion_treated": conv_t if t else None,
           "conversion_holdout": conv_h if h else None, "revenue_per_treated": rev_t if t else None,
           "revenue_per_holdout": rev_h if h else None, "revenue_treated": sum(float(o["revenue"]) for o in t),
           "revenue_holdout": sum(float(o["revenue"]) for o in h), "incremental_revenue": None,
           "incremental_revenue_margin": None, "conversion_uplift": None, "conversion_uplift_margin": None,
           "measurable": len(t) >= MIN_PER_ARM and len(h) >= MIN_PER_ARM}
    if not (t and h):
        out["sentence"] = "nothing to compare yet: the journey needs entrants in both the treated group and the holdout"
        return out
    se_rev = math.sqrt(var_rt / len(t) + var_rh / len(h))
    se_conv = math.sqrt(var_ct / len(t) + var_ch / len(h))
    out["incremental_revenue"] = round_money((rev_t - rev_h) * len(t))
    out["incremental_revenue_margin"] = round_money(Z95 * se_rev * len(t))
    out["conversion_uplift"] = conv_t - conv_h
    out["conversion_uplift_margin"] = Z95 * se_conv
    if not out["measurable"]:
        out["sentence"] = (f"too early to tell: {len(t)} treated and {len(h)} held out so far "
                           f"(at least {MIN_PER_ARM} in each group are needed)")
    else:
        out["sentence"] = (f"brought in {out['incremental_revenue']:,.2f} ± {out['incremental_revenue_margin']:,.2f} "
                           f"beyond what would have happened (95% interval), from {len(t):,} treated customers "
                           f"compared with {len(h):,} held out")
    return out
