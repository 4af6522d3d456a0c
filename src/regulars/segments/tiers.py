"""Behavioural tiers over the features mart: frequency, value, category affinity, discounts,
engagement and geography.

All thresholds live in ``config/tiers.toml`` (shipped default; pass ``config=`` a path or
dict to override any key). Definitions:

- **frequency_tier**: ``one_time`` (1 purchase), else by ``mean_days_between_orders``:
  ``high`` (≤ 31 days: monthly or more), ``medium`` (≤ 92: quarterly), ``low`` (slower:
  once or twice a year); ``none`` without purchases.
- **spend_tier / aov_tier**: buyers ranked by ``revenue`` / ``aov`` (descending, ties by
  ``customer_id``): top 20 % ``high``, next 30 % ``medium``, the rest ``low``; ``none``
  without purchases.
- **top_category**: the category (slug) with at least 50 % of the customer's spend, if any
  ("coffee buyers").
- **is_discount_driven**: ≥ 50 % of purchases discounted, with ≥ 2 purchases.
- engagement flags: **is_browser_never_bought** (sessions but no purchase),
  **is_product_viewer**, **is_cart_abandoner** (with ``abandoned_checkout_step``),
  **is_email_engager** (an open or click in the last 90 days), **is_unsubscribed**.
- **region**: the customer's region (``unknown`` when missing).

>>> cfg = load_config({"frequency": {"high_max_days": 14}})
>>> cfg["frequency"]["high_max_days"], cfg["frequency"]["medium_max_days"]
(14, 92)
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import ibis
import ibis.expr.types as ir

from regulars.features.mart import category_groups, customer_features, resolve_as_of, shop_categories

__all__ = ["DEFAULT_CONFIG", "TIER_COLUMNS", "load_config", "tiers"]

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config" / "tiers.toml"

#: Tier columns and the segment-id prefix their memberships get.
TIER_COLUMNS = {
    "frequency_tier": "frequency",
    "spend_tier": "spend",
    "aov_tier": "aov",
    "top_category": "affinity",
    "region": "region",
}
FLAG_COLUMNS = (
    "is_discount_driven", "is_browser_never_bought", "is_product_viewer", "is_cart_abandoner",
    "is_email_engager", "is_unsubscribed",
)


def load_config(config=None) -> dict:
    """The tier thresholds: the shipped defaults updated with *config* (path or dict)."""
    base = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    if config is None:
        return base
    if not isinstance(config, dict):
        path = Path(config)
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read tiers config {path}: {exc}") from exc
    out = copy.deepcopy(base)
    for section, values in config.items():
        if section not in out or not isinstance(values, dict):
            raise ValueError(f"tiers config: unknown section [{section}]; known: {', '.join(out)}")
        for key, value in values.items():
            if key not in out[section]:
                raise ValueError(f"tiers config: unknown key {key!r} in [{section}]; known: {', '.join(out[section])}")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"tiers config: [{section}] {key} must be a number, got {value!r}")
            out[section][key] = value
    return out


def _rank_tier(t: ir.Table, value: ir.Column, is_buyer: ir.BooleanColumn, cfg: dict) -> ir.StringValue:
    w = ibis.window(order_by=[ibis.desc(is_buyer.cast("int8")), ibis.desc(value.coalesce(0)), t.customer_id])
    pos = ibis.row_number().over(w).cast("float64")
    n = is_buyer.cast("int64").sum().over(ibis.window()).cast("float64")
    share = pos / n.nullif(0)
    high, medium = cfg["high_top_share"], cfg["high_top_share"] + cfg["medium_next_share"]
    return ibis.cases(
        (~is_buyer, "none"),
        (share < high, "high"),
        (share < medium, "medium"),
        else_="low",
    )


def tiers(tables, as_of=None, config=None, categories=None, mart: ir.Table | None = None) -> ir.Table:
    """Behavioural tiers per customer of the mart (an Ibis expression).

    *mart* may be passed when already built (it must be
    :func:`~regulars.features.mart.customer_features` for the same ``as_of`` and categories).
    """
    cfg = load_config(config)
    as_of = resolve_as_of(tables, as_of)
    if categories is None:
        categories = shop_categories(tables)
    t = mart if mart is not None else customer_features(tables, as_of, categories)
    groups = category_groups(categories)
    fq, aff, disc, eng = cfg["frequency"], cfg["affinity"], cfg["discount"], cfg["engagement"]
    is_buyer = t.orders > 0

    frequency = ibis.cases(
        (~is_buyer, "none"),
        (t.orders == 1, "one_time"),
        (t.mean_days_between_orders <= fq["high_max_days"], "high"),
        (t.mean_days_between_orders <= fq["medium_max_days"], "medium"),
        else_="low",
    )
    if groups:
        top = ibis.cases(*[(t[f"category_share_{slug}"] >= aff["min_share"], slug) for slug in groups],
                         else_=ibis.null("string"))
    else:
        top = ibis.null("string")
    return t.select(
        "customer_id",
        "as_of",
        frequency_tier=frequency,
        spend_tier=_rank_tier(t, t.revenue, is_buyer, cfg["value"]),
        aov_tier=_rank_tier(t, t.aov, is_buyer, cfg["value"]),
        top_category=top,
        is_discount_driven=(t.orders >= disc["min_orders"])
        & (t.discounted_order_share.coalesce(0) >= disc["min_discounted_order_share"]),
        is_browser_never_bought=(t.sessions > 0) & ~is_buyer,
        is_product_viewer=t.product_views > 0,
        is_cart_abandoner=t.cart_abandonments > 0,
        abandoned_checkout_step=t.abandoned_checkout_step,
        is_email_engager=(t.email_opens_90d + t.email_clicks_90d) >= eng["email_engager_min_90d"],
        is_unsubscribed=t.email_unsubscribes > 0,
        region=t.region.coalesce("unknown"),
    )
