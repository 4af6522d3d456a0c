"""Which engine the commands run on and what it is connected to (``regulars doctor --engine``).

For Spark: the settings in force and where each came from, what the session reports
(master, application, executors) and a round trip: the workspace's orders and customers
counted on Spark after the copy, against the same counts in DuckDB. When the workspace reads a
lake (``$REGULARS_LAKE`` or ``lake`` in the settings file) the counts are the lake's, and a
difference says the lake needs promoting again.
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
    lake: str | None = None

    @property
    def ok(self) -> bool:
        return all(c["duckdb"] == c[self.engine] for c in self.counts.values()) if self.engine != "duckdb" else True

    def sentences(self) -> list[str]:
        out = [self.connected_to]
        if self.lake:
            out.append(f"reading the lake at {self.lake}")
        where = "in the lake" if self.lake else f"on {self.engine}"
        for table, c in self.counts.items():
            if self.engine != "duckdb":
                same = "same as" if c["duckdb"] == c[self.engine] else "DIFFERENT from"
                out.append(f"{table}: {c[self.engine]:,} rows {where}, {same} the workspace ({c['duckdb']:,})")
        if self.lake and not self.ok:
            out.append(f"the workspace changed since the lake was promoted: run `regulars lake promote {self.lake}`")
        return out

    def to_dict(self) -> dict:
        return {"engine": self.engine, "connected_to": self.connected_to, "ok": self.ok, "lake": self.lake,
                "settings": self.settings, "status": self.status, "counts": self.counts}


def engine_check(ws, engine: str | None = None) -> EngineCheck:
    """Open *engine* on the workspace *ws* and report what it is connected to.

    Raises :class:`regulars.data.engines.EngineError` when the engine cannot start
    (the message says what to fix).
    """
    from regulars.data import engines
    from regulars.data.lake import lake_location
    from regulars.data.spark_config import spark_settings

    name = engines.engine_name(engine, workspace=ws.path)
    local = {t: int(ws.execute(ws.table(t).count())) for t in CHECKED_TABLES}
    if name == "duckdb":
        return EngineCheck("duckdb", engines.duckdb_description(ws),
                           counts={t: {"duckdb": n} for t, n in local.items()})
    settings = spark_settings(ws.path)
    lake = lake_location(ws.path)
    if lake is not None:
        from regulars.data.lake_read import lake_tables

        opened = lake_tables(lake, ws, settings=settings)
    else:
        opened = engines.spark_tables(ws, tables=list(CHECKED_TABLES), settings=settings)
    with opened as spark:
        counts = {t: {"duckdb": local[t], "spark": int(spark.execute(spark.table(t).count()))} for t in CHECKED_TABLES}
        status = spark.status()  # after a job ran, so the executors have registered
    return EngineCheck("spark", status.sentence(), settings.describe(), status.to_dict(), counts,
                       str(lake) if lake is not None else None)
