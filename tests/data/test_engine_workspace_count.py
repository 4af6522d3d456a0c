"""Counting rows where the command reads them: a lake's orders loaded on Spark are not in the workspace file."""

from __future__ import annotations

from regulars import Workspace
from regulars.data.engine_workspace import EngineWorkspace


def test_count_reads_the_engine_and_falls_back_to_the_workspace(tmp_path):
    """Before: count() went to the workspace file, so `predict --engine spark` on a lake whose orders were
    all loaded with `ingest --engine spark` stopped with "no orders in this workspace"."""
    with Workspace(tmp_path / "file.duckdb") as file, Workspace(tmp_path / "lake.duckdb") as lake:
        lake.insert_rows("customers", [{"customer_id": "c1"}])
        lake.insert_rows("orders", [{"order_id": f"o{i}", "customer_id": "c1", "ordered_at": "2026-01-02 10:00",
                                     "total": 10} for i in range(3)])
        file.insert_rows("segment_definitions", [{"segment_id": "rule:x", "name": "x", "kind": "rule"}])
        reads = EngineWorkspace(file, _Provider(lake, without={"segment_definitions"}), "spark")
        assert file.count("orders") == 0 and reads.count("orders") == 3
        assert reads.count("segment_definitions") == 1  # a table the engine does not hold: the workspace's


class _Provider:
    """A table provider over another workspace (what the Spark provider offers), minus some tables."""

    def __init__(self, ws, without=()):
        self.ws, self.without, self.ibis = ws, set(without), ws.ibis

    def list_tables(self):
        return [t for t in self.ws.list_tables() if t not in self.without]

    def table(self, name):
        return self.ws.table(name)

    def execute(self, expr):
        return self.ws.execute(expr)
