"""Where Spark runs: the master, executor sizes and extra ``spark.*`` settings.

Read from the environment first, then the settings file, then laptop defaults:

============================  ==============================  ======================
environment                   settings file (``[spark]``)     default
============================  ==============================  ======================
``REGULARS_SPARK_MASTER``     ``master``                      ``local[2]``
``REGULARS_SPARK_EXECUTOR_MEMORY``  ``executor_memory``       Spark's (1g)
``REGULARS_SPARK_EXECUTOR_CORES``   ``executor_cores``        Spark's
``REGULARS_SPARK_MAX_CORES``  ``max_cores``                   all the cluster offers
``REGULARS_SPARK_DRIVER_MEMORY``    ``driver_memory``         ``2g``
``REGULARS_SPARK_STAGING``    ``staging``                     the temp folder
``REGULARS_SPARK_CONF``       ``[spark.conf]`` table          none
============================  ==============================  ======================

``REGULARS_SPARK_CONF`` holds extra settings as ``key=value`` pairs separated by
``;`` or new lines, e.g. ``spark.sql.shuffle.partitions=64;spark.network.timeout=300s``.
Only ``spark.*`` keys are accepted.

The settings file is ``$REGULARS_SETTINGS`` or ``regulars.toml`` next to the
workspace file. Its ``engine`` key (top level) chooses the engine like
``REGULARS_ENGINE`` does::

    engine = "spark"

    [spark]
    master = "spark://10.0.0.5:7077"     # or yarn, k8s://https://…, local[4]
    executor_memory = "8g"
    executor_cores = 4
    staging = "/mnt/shared/regulars"     # a folder every executor can read

    [spark.conf]
    "spark.sql.shuffle.partitions" = "200"

``staging`` matters on a cluster: the workspace tables are copied there as
Parquet for the executors to read, so it must be a folder they all see (a shared
mount; the copy is written by DuckDB on this machine).

Examples
--------
>>> s = spark_settings(env={"REGULARS_SPARK_MASTER": "spark://127.0.0.1:7077",
...                         "REGULARS_SPARK_EXECUTOR_MEMORY": "1g",
...                         "REGULARS_SPARK_CONF": "spark.sql.shuffle.partitions=8"}, path=None)
>>> s.master, s.is_local, s.spark_conf()["spark.executor.memory"], s.spark_conf()["spark.sql.shuffle.partitions"]
('spark://127.0.0.1:7077', False, '1g', '8')
>>> spark_settings(env={}, path=None).master
'local[2]'
>>> spark_settings(env={"REGULARS_SPARK_CONF": "executor.memory=1g"}, path=None)
Traceback (most recent call last):
...
regulars.data.spark_config.SparkSettingsError: REGULARS_SPARK_CONF: 'executor.memory' is not a Spark setting; keys start with 'spark.' (e.g. spark.executor.memory=1g)
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SETTINGS_FILE = "regulars.toml"
SETTINGS_ENV = "REGULARS_SETTINGS"
DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "2g"

#: settings-file key -> environment variable
_FIELDS = {
    "master": "REGULARS_SPARK_MASTER",
    "executor_memory": "REGULARS_SPARK_EXECUTOR_MEMORY",
    "executor_cores": "REGULARS_SPARK_EXECUTOR_CORES",
    "max_cores": "REGULARS_SPARK_MAX_CORES",
    "driver_memory": "REGULARS_SPARK_DRIVER_MEMORY",
    "staging": "REGULARS_SPARK_STAGING",
}
_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://[^\s]+|yarn|k8s://[^\s]+|mesos://[^\s]+)$")
_MEMORY = re.compile(r"^\d+[kmgt]?b?$", re.IGNORECASE)


class EngineError(Exception):
    """The engine asked for is unknown or cannot start; the message says what to do."""


class SparkSettingsError(EngineError, ValueError):
    """A Spark setting has a value it cannot take; the message names it and says what to write."""


@dataclass(frozen=True)
class SparkSettings:
    """Where and how big the Spark session is.

    Parameters
    ----------
    master : ``local[N]``, ``spark://host:port``, ``yarn``, ``k8s://…``
    executor_memory, driver_memory : JVM sizes such as ``"2g"``
    executor_cores, max_cores : cores per executor, and at most this many for the whole job
    staging : folder for the Parquet copies of the workspace tables (must be visible to executors)
    conf : extra ``spark.*`` settings, applied last
    sources : where each value came from (``environment``, the settings file, ``default``)
    """

    master: str = DEFAULT_MASTER
    executor_memory: str | None = None
    executor_cores: int | None = None
    max_cores: int | None = None
    driver_memory: str = DEFAULT_DRIVER_MEMORY
    staging: str | None = None
    conf: tuple[tuple[str, str], ...] = ()
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")

    @property
    def local_cores(self) -> int | None:
        """N of ``local[N]`` (``None`` for ``local[*]`` or a cluster)."""
        m = re.match(r"^local\[(\d+)", self.master)
        return int(m.group(1)) if m else (1 if self.master == "local" else None)

    def spark_conf(self) -> dict[str, str]:
        """The ``spark.*`` settings these values stand for (without ``spark.master``)."""
        out = {"spark.driver.memory": self.driver_memory}
        if self.executor_memory:
            out["spark.executor.memory"] = self.executor_memory
        if self.executor_cores:
            out["spark.executor.cores"] = str(self.executor_cores)
        if self.max_cores:
            out["spark.cores.max"] = str(self.max_cores)
        if self.local_cores:
            out["spark.sql.shuffle.partitions"] = str(self.local_cores)
            out["spark.default.parallelism"] = str(self.local_cores)
        out.update(dict(self.conf))
        return out

    def describe(self) -> dict:
        """The settings as plain values, with where each came from (for ``regulars doctor``)."""
        return {"master": self.master, "executor_memory": self.executor_memory,
                "executor_cores": self.executor_cores, "max_cores": self.max_cores,
                "driver_memory": self.driver_memory, "staging": self.staging,
                "conf": dict(self.conf), "from": dict(self.sources)}


def settings_path(workspace: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The settings file: ``$REGULARS_SETTINGS``, else ``regulars.toml`` beside the workspace."""
    env = os.environ if env is None else env
    if env.get(SETTINGS_ENV):
        return Path(env[SETTINGS_ENV])
    if workspace is None:
        return None
    return Path(workspace).resolve().parent / SETTINGS_FILE


def read_settings_file(path: Path | None) -> dict:
    """The settings file's content (``{}`` when there is none)."""
    if path is None or not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SparkSettingsError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from exc


def engine_from_file(path: Path | None) -> str | None:
    """The ``engine`` key of the settings file, if set."""
    value = read_settings_file(path).get("engine")
    return str(value) if value else None


def _parse_conf(text: str, where: str) -> dict[str, str]:
    out = {}
    for part in re.split(r"[;\n]", text):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise SparkSettingsError(f"{where}: {part!r} is not key=value (e.g. spark.sql.shuffle.partitions=64)")
        out[key.strip()] = value.strip()
    return out


def _check_conf(conf: Mapping[str, object], where: str) -> dict[str, str]:
    out = {}
    for key, value in conf.items():
        if not str(key).startswith("spark."):
            raise SparkSettingsError(f"{where}: {key!r} is not a Spark setting; keys start with 'spark.' "
                                     "(e.g. spark.executor.memory=1g)")
        if key == "spark.master":
            raise SparkSettingsError(f"{where}: set the master with REGULARS_SPARK_MASTER or [spark] master, "
                                     "not spark.master")
        out[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _check(name: str, value, where: str):
    if name == "master":
        value = str(value).strip()
        if value.startswith("sc://"):
            raise SparkSettingsError(f"{where}: Spark Connect ({value}) needs pyspark's connect extras "
                                     "(grpcio), which are not installed; use spark://host:7077, yarn or k8s://")
        if not _MASTER.match(value):
            raise SparkSettingsError(f"{where}: master {value!r} is not local[N], spark://host:port, yarn or k8s://…")
        return value
    if name in ("executor_cores", "max_cores"):
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise SparkSettingsError(f"{where}: {name.replace('_', ' ')} must be a whole number of cores ≥ 1, "
                                     f"got {value!r}")
        return number
    if name in ("executor_memory", "driver_memory"):
        value = str(value).strip()
        if not _MEMORY.match(value):
            raise SparkSettingsError(f"{where}: {name.replace('_', ' ')} {value!r} is not a size such as 512m or 2g")
        return value
    return str(value)


def spark_settings(workspace: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                   path: Path | None | str = "auto") -> SparkSettings:
    """The Spark settings: environment, then settings file, then defaults.

    Parameters
    ----------
    workspace : the workspace file (its folder holds ``regulars.toml``)
    env : the environment (default ``os.environ``)
    path : the settings file; ``"auto"`` finds it with :func:`settings_path`, ``None`` reads none
    """
    env = os.environ if env is None else env
    file_path = settings_path(workspace, env) if path == "auto" else (Path(path) if path else None)
    section = read_settings_file(file_path).get("spark", {}) or {}
    if not isinstance(section, dict):
        raise SparkSettingsError(f"{file_path}: [spark] must be a table of settings")
    values: dict = {}
    sources: dict[str, str] = {}
    for name, var in _FIELDS.items():
        if env.get(var):
            values[name] = _check(name, env[var], var)
            sources[name] = "environment"
        elif section.get(name) not in (None, ""):
            values[name] = _check(name, section[name], f"{file_path} [spark] {name}")
            sources[name] = str(file_path)
    conf = _check_conf(section.get("conf", {}) or {}, f"{file_path} [spark.conf]")
    if env.get("REGULARS_SPARK_CONF"):
        conf.update(_check_conf(_parse_conf(env["REGULARS_SPARK_CONF"], "REGULARS_SPARK_CONF"), "REGULARS_SPARK_CONF"))
        sources["conf"] = "environment"
    elif conf:
        sources["conf"] = str(file_path)
    return SparkSettings(**values, conf=tuple(sorted(conf.items())), sources=tuple(sorted(sources.items())))
