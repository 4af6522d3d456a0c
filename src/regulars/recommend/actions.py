"""Next best action: at most one action per customer, the one that pays most, or nothing.

The **catalogue** (``config/actions.toml``, editable) lists the actions: who is eligible (a
rule in the rule-segment language over the decision frame of
:mod:`regulars.features.next_action`), the channels to try in order, the response the action
aims at, what a response is worth, the discount it gives and its expected response
**uplift** (a prior in the catalogue, an assumption until an experiment measures it).

For customer *i* and action *a* on channel *c* (Verbeke et al. 2012 and Gubela et al. 2020
frame retention and cross-sell decisions as expected profit of the incremental response):

- baseline chance of the response without the action: ``b`` = the 30-day purchase propensity
  (purchase, review: 0 for a review) or ``1 - churn_risk`` (retention);
- incremental response ``u_a * (1 - b)``: only those who would not respond anyway can be moved;
- value of a response ``V``: the basket (her average order), the recommended or due product's
  price, or her predicted CLV, times the gross margin; or a fixed amount of money;
- cost ``= message cost(c) + discount% * basket * (b + u_a (1 - b))``: the discount is paid
  on every responding order, also by those who would have bought anyway;
- expected incremental value ``EV = u_a (1 - b) V - cost``.

A channel is usable only with the customer's consent as of the decision date (e-mail, SMS;
an ad audience needs consent to personalisation), below the contact caps (e-mails + SMS in
the last 7 and 30 days), outside the quiet days after the last contact and outside the shop's
quiet periods. The best action by EV wins when it is worth at least a cent; otherwise "do nothing".

The uplift comes from an :class:`UpliftSource`: :class:`PriorUplift` reads the catalogue;
:class:`MeasuredUplift` prefers measured values (per action, optionally per segment, e.g.
written by an experiment into ``action_uplift``) and falls back to the prior.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from regulars.segments.rules import RuleError, compile_rule, validate
from regulars.values import round_money

__all__ = ["Action", "ActionCatalogue", "CHANNELS", "MeasuredUplift", "PriorUplift", "UpliftSource",
           "choose_actions", "eligibility_columns"]

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "config" / "actions.toml"
CHANNELS = ("email", "sms", "audience")
RESPONSES = ("purchase", "retention", "review")
VALUES = ("basket", "clv", "recommended_product", "due_product")
DO_NOTHING = "do_nothing"
#: An action must be expected to return at least a cent (after costs) to beat doing nothing.
MIN_VALUE = 0.005


class CatalogueError(ValueError):
    """The action catalogue cannot be used; the message says which action and key."""


@dataclass(frozen=True)
class Action:
    id: str
    label: str
    eligibility: str
    channels: tuple[str, ...]
    response: str
    value: str | float
    discount_pct: float
    uplift: float


@dataclass
class ActionCatalogue:
    """The actions and the shop-wide settings (margin, caps, quiet periods, contact costs)."""

    actions: list[Action]
    gross_margin: float = 0.4
    horizon_days: int = 30
    max_messages_7d: int = 2
    max_messages_30d: int = 6
    quiet_days: int = 2
    quiet_periods: list[str] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def load(cls, path=None, columns: dict | None = None) -> "ActionCatalogue":
        """Read and check a catalogue (default: the shipped one); rules are checked against ``columns``."""
        path = Path(path) if path else DEFAULT_CATALOGUE
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueError(f"cannot read the action catalogue {path}: {exc}") from exc
        return cls.from_dict(raw, columns, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, columns: dict | None = None, source: str = "") -> "ActionCatalogue":
        settings, costs = raw.get("settings", {}), raw.get("costs", {})
        unknown = set(raw) - {"settings", "costs", "action"}
        if unknown:
            raise CatalogueError(f"unknown section(s) {sorted(unknown)}; use [settings], [costs] and [[action]]")
        actions, seen = [], set()
        for i, a in enumerate(raw.get("action", []), start=1):
            where = f"action #{i} ({a.get('id', '?')})"
            missing = {"id", "eligibility", "channels", "response", "value", "uplift"} - set(a)
            if missing:
                raise CatalogueError(f"{where}: missing {', '.join(sorted(missing))}")
            if a["id"] in seen or a["id"] == DO_NOTHING:
                raise CatalogueError(f"{where}: the id {a['id']!r} is used twice (or reserved)")
            seen.add(a["id"])
            bad = [c for c in a["channels"] if c not in CHANNELS]
            if bad or not a["channels"]:
                raise CatalogueError(f"{where}: channels must be some of {', '.join(CHANNELS)}; got {a['channels']}")
            if a["response"] not in RESPONSES:
                raise CatalogueError(f"{where}: response must be one of {', '.join(RESPONSES)}")
            value = a["value"]
            if not (isinstance(value, (int, float)) and value >= 0) and value not in VALUES:
                raise CatalogueError(f"{where}: value must be one of {', '.join(VALUES)} or an amount of money")
            if not 0 <= float(a["uplift"]) <= 1:
                raise CatalogueError(f"{where}: uplift is a probability between 0 and 1, got {a['uplift']}")
            if not 0 <= float(a.get("discount_pct", 0)) <= 100:
                raise CatalogueError(f"{where}: discount_pct must be between 0 and 100")
            if columns is not None:
                try:
                    validate(a["eligibility"], columns)
                except RuleError as exc:
                    raise CatalogueError(f"{where}: eligibility rule: {exc}") from None
            actions.append(Action(a["id"], a.get("label", a["id"]), a["eligibility"], tuple(a["channels"]),
                                  a["response"], value if isinstance(value, str) else float(value),
                                  float(a.get("discount_pct", 0)), float(a["uplift"])))
        missing_costs = {c for a in actions for c in a.channels} - set(costs)
        if missing_costs:
            raise CatalogueError(f"[costs] has no cost for {', '.join(sorted(missing_costs))}")
        return cls(actions, float(settings.get("gross_margin", 0.4)), int(settings.get("horizon_days", 30)),
                   int(settings.get("max_messages_7d", 2)), int(settings.get("max_messages_30d", 6)),
                   int(settings.get("quiet_days", 2)), list(settings.get("quiet_periods", [])),
                   {k: float(v) for k, v in costs.items()}, source)

    def in_quiet_period(self, day: dt.date) -> bool:
        """Whether ``day`` falls in one of the ``quiet_periods`` (``"MM-DD..MM-DD"``, may wrap the year)."""
        md = (day.month, day.day)
        for period in self.quiet_periods:
            lo, _, hi = period.partition("..")
            a = tuple(int(x) for x in lo.split("-"))
            b = tuple(int(x) for x in (hi or lo).split("-"))
            if (a <= md <= b) if a <= b else (md >= a or md <= b):
                return True
        return False

    def to_dict(self) -> dict:
        return {"source": self.source, "gross_margin": self.gross_margin, "horizon_days": self.horizon_days,
                "max_messages_7d": self.max_messages_7d, "max_messages_30d": self.max_messages_30d,
                "quiet_days": self.quiet_days, "quiet_periods": self.quiet_periods, "costs": self.costs,
                "actions": [a.__dict__ for a in self.actions]}


def eligibility_columns(table, catalogue: ActionCatalogue) -> dict:
    """``eligible__<action id>`` -> Ibis boolean over ``table`` (built, not executed)."""
    return {f"eligible__{a.id}": compile_rule(a.eligibility, table) for a in catalogue.actions}


class UpliftSource(Protocol):
    """Where the expected response uplift of an action comes from."""

    def lookup(self, action: Action, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Uplift per row of ``frame`` and, per row, where it comes from (in words)."""


class PriorUplift:
    """The catalogue's prior: the same uplift for everyone, marked as an assumption."""

    def lookup(self, action: Action, frame: pd.DataFrame):
        n = len(frame)
        return (np.full(n, action.uplift),
                np.full(n, f"prior: {100 * action.uplift:.0f}% uplift assumed in the catalogue", dtype=object))


class MeasuredUplift:
    """Measured uplift (e.g. from an experiment) where there is one, else ``fallback``.

    ``measured``: ``action, segment_id (null = everyone), uplift, source`` (one row each, see
    :func:`regulars.data.recommend_store.read_action_uplift`); ``memberships``:
    ``customer_id, segment_id`` for the segments named there. A customer in several measured
    segments takes the first one listed.
    """

    def __init__(self, measured: pd.DataFrame, memberships: pd.DataFrame | None = None, fallback=None):
        self.measured = measured
        self.memberships = memberships if memberships is not None else pd.DataFrame(columns=["customer_id", "segment_id"])
        self.fallback = fallback or PriorUplift()

    def lookup(self, action: Action, frame: pd.DataFrame):
        uplift, source = self.fallback.lookup(action, frame)
        rows = self.measured[self.measured["action"] == action.id]
        ids = frame["customer_id"]
        for r in rows.sort_values("segment_id", na_position="first", kind="stable").to_dict(orient="records"):
            seg = r.get("segment_id")
            if seg is None or (isinstance(seg, float) and np.isnan(seg)):
                hit = np.ones(len(frame), dtype=bool)
            else:
                members = self.memberships.loc[self.memberships["segment_id"] == seg, "customer_id"]
                hit = ids.isin(members).to_numpy()
            uplift = np.where(hit, float(r["uplift"]), uplift)
            source = np.where(hit, f"measured: {100 * float(r['uplift']):.1f}% uplift ({r.get('source')})", source)
        return uplift, source


def _num(frame: pd.DataFrame, col: str, default: float = np.nan) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _flag(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[col].fillna(False).to_numpy(dtype=bool)


def _money(x: np.ndarray) -> pd.Series:
    return pd.Series(x).map("{:,.2f}".format)


def channel_state(frame: pd.DataFrame, catalogue: ActionCatalogue, day: dt.date) -> tuple[dict, np.ndarray]:
    """Per channel, whether it may be used for each customer; and why messages are blocked."""
    sent7 = np.nan_to_num(_num(frame, "email_sent_7d", 0)) + np.nan_to_num(_num(frame, "sms_sent_7d", 0))
    sent30 = np.nan_to_num(_num(frame, "email_sent_30d", 0)) + np.nan_to_num(_num(frame, "sms_sent_30d", 0))
    since = _num(frame, "days_since_last_contact")
    why = np.full(len(frame), "", dtype=object)
    quiet_day = catalogue.in_quiet_period(day)
    capped7, capped30 = sent7 >= catalogue.max_messages_7d, sent30 >= catalogue.max_messages_30d
    quiet = np.isfinite(since) & (since < catalogue.quiet_days)
    why[quiet] = "contacted " + pd.Series(since[quiet]).astype(int).astype(str).to_numpy() + " day(s) ago (quiet days)"
    why[capped30] = f"already {catalogue.max_messages_30d}+ messages in 30 days (cap)"
    why[capped7] = f"already {catalogue.max_messages_7d}+ messages in 7 days (cap)"
    if quiet_day:
        why[:] = f"{day} is in a quiet period"
    messages_ok = ~(capped7 | capped30 | quiet) & (not quiet_day)
    ok = {"email": messages_ok & _flag(frame, "accepts_email"),
          "sms": messages_ok & _flag(frame, "accepts_sms"),
          "audience": frame["accepts_personalization"].fillna(True).to_numpy(dtype=bool)
          if "accepts_personalization" in frame.columns else np.ones(len(frame), dtype=bool)}
    return ok, why


def choose_actions(frame: pd.DataFrame, catalogue: ActionCatalogue, uplift: UpliftSource | None = None,
                   day=None) -> pd.DataFrame:
    """One row per customer of ``frame``: the chosen action (or ``do_nothing``) and why.

    ``frame`` is the decision frame with one ``eligible__<action id>`` boolean per action.
    Columns out: ``customer_id, action, label, channel, expected_value, p_response, uplift,
    uplift_source, value, cost, product_id, reason, assumption``.
    """
    uplift = uplift or PriorUplift()
    n = len(frame)
    day = pd.Timestamp(day if day is not None else frame["as_of"].iloc[0] if n else dt.date.today()).date()
    ok, blocked_why = channel_state(frame, catalogue, day)
    propensity = np.clip(np.nan_to_num(_num(frame, "propensity_30d"), nan=np.nanmean(_num(frame, "propensity_30d"))
                                       if n and np.isfinite(_num(frame, "propensity_30d")).any() else 0.1), 0, 1)
    churn = np.clip(np.nan_to_num(_num(frame, "churn_risk"), nan=0.5), 0, 1)
    aov = _num(frame, "aov")
    shop_aov = float(np.nanmedian(aov)) if np.isfinite(aov).any() else 0.0
    basket = np.where(np.isfinite(aov) & (aov > 0), aov, shop_aov)
    clv = np.nan_to_num(_num(frame, "clv"), nan=0.0)
    best_ev = np.zeros(n)
    best = np.full(n, -1)
    best_channel = np.full(n, "none", dtype=object)
    parts = {}
    any_eligible = np.zeros(n, dtype=bool)
    runner_up = np.full(n, -np.inf)
    runner_label = np.full(n, "", dtype=object)
    for k, a in enumerate(catalogue.actions):
        eligible = _flag(frame, f"eligible__{a.id}")
        any_eligible |= eligible
        channel = np.full(n, "none", dtype=object)
        for c in reversed(a.channels):
            channel = np.where(ok[c], c, channel)
        feasible = eligible & (channel != "none")
        u, source = uplift.lookup(a, frame)
        base = {"purchase": propensity, "retention": 1 - churn, "review": np.zeros(n)}[a.response]
        p_inc = u * (1 - base)
        value = _value(a, frame, basket, clv) * (1.0 if isinstance(a.value, float) else catalogue.gross_margin)
        contact = np.zeros(n)
        for c in a.channels:
            contact[channel == c] = catalogue.costs.get(c, 0.0)
        discount = a.discount_pct / 100 * basket * (base + p_inc) if a.response != "review" else np.zeros(n)
        cost = contact + discount
        ev = p_inc * value - cost
        parts[k] = (p_inc, base + p_inc, u, source, value, cost, channel)
        better = feasible & (ev > best_ev) & (ev >= MIN_VALUE)
        # the best action that did not pay, for the "do nothing" reason
        lost = feasible & ~better & (ev > runner_up) & (ev < MIN_VALUE)
        runner_up = np.where(lost, ev, runner_up)
        runner_label = np.where(lost, a.label, runner_label)
        best = np.where(better, k, best)
        best_ev = np.where(better, ev, best_ev)
        best_channel = np.where(better, channel, best_channel)
    return _result(frame, catalogue, best, best_ev, best_channel, parts, any_eligible, blocked_why, ok,
                   runner_up, runner_label, churn, clv, propensity)


def _value(a: Action, frame, basket, clv) -> np.ndarray:
    n = len(frame)
    if isinstance(a.value, float):
        return np.full(n, a.value)
    if a.value == "basket":
        return basket
    if a.value == "clv":
        return clv
    price = _num(frame, "recommended_product_price" if a.value == "recommended_product" else "due_product_price")
    return np.where(np.isfinite(price), price, basket)


def _result(frame, catalogue, best, best_ev, best_channel, parts, any_eligible, blocked_why, ok, runner_up,
            runner_label, churn, clv, propensity) -> pd.DataFrame:
    n = len(frame)
    actions = catalogue.actions
    out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(dtype=object),
                        "action": DO_NOTHING, "label": "Do nothing", "channel": "none",
                        "expected_value": 0.0, "p_response": np.nan, "uplift": np.nan, "uplift_source": None,
                        "value": np.nan, "cost": 0.0, "product_id": None, "reason": "", "assumption": None})
    nothing = best < 0
    can_message = ok["email"] | ok["sms"]
    reason = np.full(n, "", dtype=object)
    reason[nothing & ~any_eligible] = "Do nothing: no action in the catalogue applies to this customer."
    blocked = nothing & any_eligible & (runner_up == -np.inf)
    reason[blocked & (blocked_why != "")] = "Do nothing: " + blocked_why[blocked & (blocked_why != "")] + "."
    reason[blocked & (blocked_why == "") & ~can_message] = ("Do nothing: no consent for the channels of the "
                                                              "actions this customer is eligible for.")
    reason[blocked & (reason == "")] = "Do nothing: no usable channel for the eligible actions."
    unpaid = nothing & (runner_up > -np.inf)
    if unpaid.any():
        reason[unpaid] = ("Do nothing: nothing pays; the best option, " + runner_label[unpaid] + ", would return "
                          + _money(runner_up[unpaid]).to_numpy() + " after costs.")
    for k, a in enumerate(actions):
        m = best == k
        if not m.any():
            continue
        p_inc, p_resp, u, source, value, cost, channel = (np.asarray(x)[m] for x in parts[k])
        out.loc[m, ["action", "label"]] = [a.id, a.label]
        out.loc[m, "channel"] = best_channel[m]
        out.loc[m, "expected_value"] = round_money(best_ev[m])
        out.loc[m, "p_response"] = p_resp.round(4)
        out.loc[m, "uplift"] = u
        out.loc[m, "uplift_source"] = source
        out.loc[m, "value"] = round_money(value)
        out.loc[m, "cost"] = round_money(cost)
        if a.value in ("recommended_product", "due_product"):
            col = "recommended_product_id" if a.value == "recommended_product" else "due_product_id"
            out.loc[m, "product_id"] = frame.loc[m, col].to_numpy(dtype=object) if col in frame else None
        why = _why(a, churn[m], clv[m], propensity[m], frame.loc[m])
        reason[m] = (a.label + " by " + pd.Series(best_channel[m]).str.replace("email", "e-mail").to_numpy() + ": "
                     + why + "; expected +" + pd.Series(p_inc * 100).map("{:.1f}".format).to_numpy()
                     + " points of response x " + _money(value).to_numpy() + " - " + _money(cost).to_numpy()
                     + " cost = " + _money(best_ev[m]).to_numpy() + ".")
        out.loc[m, "assumption"] = np.where(pd.Series(source).str.startswith("prior").to_numpy(),
                                            "uplift is an assumption (catalogue prior), not measured", None)
    out["reason"] = reason
    return out


def _why(a: Action, churn, clv, propensity, frame) -> np.ndarray:
    pct = lambda x: pd.Series(np.round(x * 100)).astype(int).astype(str).to_numpy() + "%"  # noqa: E731
    if a.response == "retention":
        return pct(churn) + " churn risk, predicted value " + _money(clv).to_numpy()
    if a.value == "due_product":
        return "re-buy of " + _name(frame, "due_product") + " is due"
    if a.value == "recommended_product":
        return "top recommendation " + _name(frame, "recommended_product") + ", " + pct(propensity) \
            + " chance to buy anyway"
    if a.response == "review":
        return "ordered " + frame["days_since_last_order"].astype("Int64").astype(str).to_numpy() + " days ago"
    return pct(propensity) + " chance to buy in 30 days anyway"


def _name(frame: pd.DataFrame, prefix: str) -> np.ndarray:
    name = frame[f"{prefix}_name"] if f"{prefix}_name" in frame else frame[f"{prefix}_id"]
    return name.fillna(frame[f"{prefix}_id"]).astype(str).to_numpy()
