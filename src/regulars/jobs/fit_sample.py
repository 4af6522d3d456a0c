"""The customers the models are fitted on when every customer is too many: a stratified sample.

On a cluster the shop may have millions of customers; the models are fitted on the driver
(one machine) from a sample of at most ``size`` of them, then score everyone on the
executors (:mod:`regulars.jobs.spark_scoring`). The sample is stratified so that it keeps
the shop's mix exactly: the customers with a purchase before ``as_of`` are split by how
often they came back (repeat purchase days 0, 1, 2–3, 4–7, 8+) and by whether they have
lapsed (no purchase in the last :data:`~regulars.jobs.predict.CHURN_WINDOW` days), and each
stratum gives its share of the sample (proportional allocation, largest remainders), the
customers of a stratum taken in the order of a hash of their id (repeatable, unrelated to
behaviour). Proportional allocation keeps the sample's mix equal to the population's, so
the models need no weights; it removes the sampling noise in the mix of rare, valuable
strata (the 8+ buyers) that a plain hash sample of the same size would have.

When the shop has no more customers than ``size`` nothing is sampled: the fit is the one
on every customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis

__all__ = ["CustomerSample", "FitSample", "allocate", "stratified_sample", "strata_expression"]

#: upper bounds of the repeat-purchase buckets (the last bucket is open)
REPEAT_BUCKETS = (0, 1, 3, 7)
BUCKET_NAMES = ("0 repeat days", "1 repeat day", "2-3 repeat days", "4-7 repeat days", "8+ repeat days")


def strata_expression(tables, as_of, lapsed_after: int = 90) -> ibis.Table:
    """``customer_id, stratum`` for every customer with a purchase before *as_of*.

    ``stratum = 2 * bucket + lapsed``: the repeat-purchase bucket (:data:`BUCKET_NAMES`) and
    whether the last purchase is *lapsed_after* days or more before *as_of*.
    """
    from regulars.features.purchase_history import purchase_summary

    s = purchase_summary(tables, as_of)
    bucket = ibis.literal(len(REPEAT_BUCKETS))
    for i, upper in reversed(list(enumerate(REPEAT_BUCKETS))):
        bucket = ibis.ifelse(s.frequency <= upper, i, bucket)
    lapsed = ((s.T - s.recency) >= lapsed_after).cast("int64")
    return s.select("customer_id", stratum=(bucket.cast("int64") * 2 + lapsed).cast("int64"))


def stratum_name(stratum: int) -> str:
    """The stratum in words.

    >>> stratum_name(9)
    '8+ repeat days, lapsed'
    """
    return f"{BUCKET_NAMES[stratum // 2]}, {'lapsed' if stratum % 2 else 'active'}"


def allocate(counts: dict[int, int], size: int) -> dict[int, int]:
    """Proportional allocation of *size* over strata of *counts* customers (largest remainders).

    Examples
    --------
    >>> allocate({0: 700, 1: 200, 2: 100}, 10)
    {0: 7, 1: 2, 2: 1}
    >>> allocate({0: 5, 1: 5, 2: 1}, 5)
    {0: 2, 1: 2, 2: 1}
    >>> allocate({0: 3, 1: 4}, 100)
    {0: 3, 1: 4}
    """
    total = sum(counts.values())
    if total <= size:
        return dict(counts)
    exact = {k: size * n / total for k, n in counts.items()}
    out = {k: int(v) for k, v in exact.items()}
    left = size - sum(out.values())
    for k in sorted(exact, key=lambda k: (out[k] - exact[k], k))[:left]:
        out[k] += 1
    return out


class CustomerSample:
    """A table provider keeping only the customers of a sample (a table of ``customer_id``).

    Every table with a ``customer_id`` column is semi-joined with the sample, stored once as a
    temporary table on the engine on first use (:meth:`close` drops them), like
    :class:`~regulars.jobs.tables.SampledTables`, whose place it takes in the training snapshots.
    """

    def __init__(self, ws, ids: ibis.Table, fraction: float):
        self.ws, self.fraction = ws, fraction
        self._ids = ws.temp_table("_fit_sample_ids", ids)
        self._stored: dict[str, ibis.Table] = {}

    def table(self, name: str) -> ibis.Table:
        t = self.ws.table(name)
        if "customer_id" not in t.columns:
            return t
        if name not in self._stored:
            self._stored[name] = self.ws.temp_table(f"_fit_sample_{name}", t.semi_join(self._ids, "customer_id"))
        return self._stored[name]

    def close(self) -> None:
        for name in self._stored:
            self.ws.drop_temp_table(f"_fit_sample_{name}")
        self._stored.clear()
        self.ws.drop_temp_table("_fit_sample_ids")


@dataclass
class FitSample:
    """The fitting sample: how many customers it asked for and took, of how many, by stratum."""

    as_of: dt.date
    target: int
    population: int
    size: int
    strata: list[dict] = field(default_factory=list)
    tables: CustomerSample | None = None  # None: every customer (no sampling)

    @property
    def fraction(self) -> float:
        return self.size / self.population if self.population else 1.0

    @property
    def sampled(self) -> bool:
        return self.tables is not None

    def close(self) -> None:
        if self.tables is not None:
            self.tables.close()

    def to_dict(self) -> dict:
        return {"target": self.target, "population": self.population, "size": self.size,
                "fraction": round(self.fraction, 6), "stratified": self.sampled, "strata": self.strata}

    def sentence(self) -> str:
        if not self.sampled:
            return f"models fitted on all {self.population:,} customers (at most {self.target:,} are sampled)"
        return (f"models fitted on a stratified sample of {self.size:,} of {self.population:,} customers "
                f"({100 * self.fraction:.1f}%, {len(self.strata)} strata by repeat purchases and lapsing)")


def stratified_sample(ws, as_of, size: int, lapsed_after: int = 90) -> FitSample:
    """The stratified fitting sample of at most *size* customers as of *as_of* (see the module).

    Only one row per stratum comes back from the engine (the counts); the sample itself stays
    there as a temporary table (``fit.tables``), read by the training snapshots.
    """
    strata = strata_expression(ws, as_of, lapsed_after)
    counted = ws.execute(strata.group_by("stratum").aggregate(n=strata.count()))
    counts = {int(r.stratum): int(r.n) for r in counted.itertuples()}
    population = sum(counts.values())
    shares = allocate(counts, size)
    rows = [{"stratum": stratum_name(k), "population": counts[k], "sampled": shares[k]} for k in sorted(counts)]
    if population <= size:
        return FitSample(as_of, size, population, population, rows)
    order = ibis.window(group_by="stratum", order_by=[strata.customer_id.hash(), strata.customer_id])
    ranked = strata.mutate(_rank=ibis.row_number().over(order))
    quota = ibis.cases(*[(ranked.stratum == k, n) for k, n in shares.items()], else_=0)
    ids = ranked.filter(ranked._rank < quota).select("customer_id")
    return FitSample(as_of, size, population, sum(shares.values()), rows,
                     CustomerSample(ws, ids, sum(shares.values()) / population))
