"""Which engine the commands run on and what it is connected to (``regulars doctor --engine``).

For Spark: the settings in force and where each came from, what the session reports
(master, application, executors) and a round trip: the workspace's orders and customers
counted on Spark after the copy, against the same counts in DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHECKED_TABLES = ("customers", "orders")


@dataclass
class EngineCheck:
    """The engine, its connection and the row counts on both sides."""

    engine: str
    connected_to: str
    settings: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["duckdb"] == c[self.engine] for c in self.counts.values()) if self.engine != "duckdb" else True

    def sentences(self) -> list[str]:
        out = [self.connected_to]
        for table, c in self.counts.items():
            if self.engine != "duckdb":
                same = "same as" if c["duckdb"] == c[self.engine] else "DIFFERENT from"
                out.append(f"{table}: {c[self.engine]:,} rows on {self.engine}, {same} the workspace ({c['duckdb']:,})")
        return out

    def to_dict(self) -> dict:
        return {"engine": self.engine, "connected_to": self.connected_to, "ok": self.ok,
                "settings": self.settings, "status": self.status, "counts": self.counts}


def engine_check(ws, engine: str | None = None) -> EngineCheck:
    """Open *engine* on the workspace *ws* and report what it is connected to.

    Raises :class:`regulars.data.engines.EngineError` when the engine cannot start
    (the message says what to fix).
    """
    from regulars.data import engines
    from regulars.data.spark_config import spark_settings

    name = engines.engine_name(engine, workspace=ws.path)
    local = {t: int(ws.execute(ws.table(t).count())) for t in CHECKED_TABLES}
    if name == "duckdb":
        return EngineCheck("duckdb", engines.duckdb_description(ws),
                           counts={t: {"duckdb": n} for t, n in local.items()})
    settings = spark_settings(ws.path)
    with engines.spark_tables(ws, tables=list(CHECKED_TABLES), settings=settings) as spark:
        counts = {t: {"duckdb": local[t], "spark": int(spark.execute(spark.table(t).count()))} for t in CHECKED_TABLES}
        status = spark.status()  # after a job ran, so the executors have registered
    return EngineCheck("spark", status.sentence(), settings.describe(), status.to_dict(), counts)
