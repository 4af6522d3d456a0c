"""The process's Spark session, built from :mod:`regulars.data.spark_config`, and what it is connected to.

One session per process (Spark allows one context per JVM). Asking for a session
with other settings (another master, other executor sizes) stops the current one
and starts a new one; asking again with the same settings reuses it.

Fixed settings on every session: UTC everywhere (session, driver and executor JVMs),
no UI, Arrow transfers, Spark 4's ANSI mode on (our expressions guard divisions
with ``nullif`` and cast dates before differencing), and Parquet timestamps read
as naive (``TIMESTAMP_NTZ``) like DuckDB's.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass

from regulars.data.spark_config import EngineError, SparkSettings

#: Settings every session gets (the user's ``spark.*`` settings may override them).
SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


class SparkUnavailable(EngineError):
    """Spark cannot start or cannot reach its master; the message says what to check."""


_SESSION = None
_SETTINGS: SparkSettings | None = None


def _alive(session) -> bool:
    return session is not None and session.sparkContext._jsc is not None


def session_for(settings: SparkSettings):
    """The Spark session for *settings* (created once, reused while the settings stay the same)."""
    global _SESSION, _SETTINGS
    if _alive(_SESSION) and _SETTINGS == settings:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SparkUnavailable("the Spark engine needs PySpark: pip install 'regulars[spark]'") from exc
    if _alive(_SESSION):
        _SESSION.stop()
    _SESSION = _SETTINGS = None
    # executors run Python (Arrow transfers, pandas UDFs) with the same interpreter as the driver
    python = sys.executable or shutil.which("python3") or "python3"
    os.environ.setdefault("PYSPARK_PYTHON", python)
    builder = SparkSession.builder.master(settings.master).appName("regulars")
    for key, value in {**SPARK_CONF, **settings.spark_conf()}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pragma: no cover - depends on Java and the cluster
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkUnavailable(f"cannot start Spark with master {settings.master} ({first}); is Java 17 installed "
                               "and is the master running and reachable?") from exc
    session.sparkContext.setLogLevel("ERROR")
    _SESSION, _SETTINGS = session, settings
    return session


def stop() -> None:
    """Stop the process's Spark session, if any (the next :func:`session_for` starts a new one)."""
    global _SESSION, _SETTINGS
    if _alive(_SESSION):
        _SESSION.stop()
    _SESSION = _SETTINGS = None


@dataclass(frozen=True)
class SparkStatus:
    """What a Spark session is connected to (``regulars doctor --engine spark``)."""

    master: str
    application_id: str
    spark_version: str
    executors: int
    executor_hosts: tuple[str, ...]
    default_parallelism: int
    executor_memory: str | None
    executor_cores: str | None
    driver_memory: str | None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["executor_hosts"] = list(self.executor_hosts)
        return out

    def sentence(self) -> str:
        where = ("this machine, in the regulars process" if self.master.startswith("local")
                 else f"{self.executors} executor(s) on {', '.join(sorted(set(self.executor_hosts))) or 'no host'}")
        return (f"Spark {self.spark_version} at {self.master} (application {self.application_id}): {where}; "
                f"{self.default_parallelism} task(s) at a time")


def status(session) -> SparkStatus:
    """Ask *session* what it runs on: master, application, executors (the driver is not counted)."""
    sc = session.sparkContext
    conf = sc.getConf()
    infos = sc._jsc.sc().statusTracker().getExecutorInfos()
    hosts = [info.host() for info in infos]
    local = sc.master.startswith("local")
    if not local:  # the status tracker lists the driver too
        driver = conf.get("spark.driver.host", None)
        if driver in hosts:
            hosts.remove(driver)
        else:
            hosts = hosts[1:]
    return SparkStatus(
        master=sc.master, application_id=sc.applicationId, spark_version=session.version,
        executors=1 if local else len(hosts), executor_hosts=tuple(hosts[:1] if local else hosts),
        default_parallelism=sc.defaultParallelism,
        executor_memory=conf.get("spark.executor.memory", None), executor_cores=conf.get("spark.executor.cores", None),
        driver_memory=conf.get("spark.driver.memory", None),
    )
