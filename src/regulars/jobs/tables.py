"""Table providers the prediction jobs read through: a hash sample of the customers.

A *table provider* is anything with ``.table(name) -> ibis.Table`` (a
:class:`~regulars.data.workspace.Workspace` is one); the feature and model code takes one, so
wrapping the workspace changes what every feature sees without changing the feature code.
"""

from __future__ import annotations

import ibis

__all__ = ["SampledTables"]


class SampledTables:
    """A table provider that keeps a fixed share of the customers (by a hash of their id).

    Every table with a ``customer_id`` column is filtered before any feature is computed, so
    a training snapshot of a large shop costs ``fraction`` of a full one. With ``materialize``
    each filtered table is stored once as a temporary table on first use, so the several
    training snapshots and labels read the sample instead of rescanning the whole table;
    :meth:`close` drops them.
    """

    def __init__(self, ws, fraction: float, materialize: bool = False):
        self.ws, self.fraction, self.materialize = ws, fraction, materialize
        self._stored: dict[str, ibis.Table] = {}

    def table(self, name: str) -> ibis.Table:
        t = self.ws.table(name)
        if self.fraction >= 1 or "customer_id" not in t.columns:
            return t
        if name in self._stored:
            return self._stored[name]
        sample = t.filter(t.customer_id.hash().abs() % 10_000 < int(self.fraction * 10_000))
        if self.materialize:
            sample = self._stored[name] = self.ws.temp_table(f"_training_sample_{name}", sample)
        return sample

    def close(self) -> None:
        for name in self._stored:
            self.ws.drop_temp_table(f"_training_sample_{name}")
        self._stored.clear()
