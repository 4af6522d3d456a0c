"""Where ``regulars predict`` fits and scores on Spark: the fitting sample's size and where scoring runs.

Read from the environment first, then the ``[scoring]`` table of the settings file
(:mod:`regulars.data.spark_config`), then the defaults:

=============================  ==========================  ===========================
environment                    settings file (``[scoring]``)  default
=============================  ==========================  ===========================
``REGULARS_FIT_SAMPLE``        ``fit_sample``              200,000 customers
``REGULARS_SCORING``           ``where``                   ``executors``
``REGULARS_SCORING_OUTPUT``    ``output``                  the staging folder (removed)
=============================  ==========================  ===========================

``fit_sample``: the models are fitted on the driver from a stratified sample of at most this
many customers (:mod:`regulars.jobs.fit_sample`). ``where``: ``executors`` scores every
customer on the Spark executors with the fitted models broadcast to them; ``driver`` brings
every customer's features to this machine and scores here (as on DuckDB). ``output``: a
folder every executor can write to (a shared mount, HDFS, S3…) where the scored predictions
are kept as Parquet, one sub-folder per ``as_of`` date; by default they are written to the
staging folder and removed once loaded into the workspace.

Examples
--------
>>> s = scoring_settings(env={"REGULARS_FIT_SAMPLE": "50000"}, path=None)
>>> s.fit_sample, s.where, s.on_executors
(50000, 'executors', True)
>>> scoring_settings(env={"REGULARS_SCORING": "nowhere"}, path=None)
Traceback (most recent call last):
...
regulars.data.spark_config.SparkSettingsError: REGULARS_SCORING: 'nowhere' is not a place to score; use executors or driver
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from regulars.data.spark_config import SparkSettingsError, read_settings_file, settings_path

DEFAULT_FIT_SAMPLE = 200_000
PLACES = ("executors", "driver")

_FIELDS = {"fit_sample": "REGULARS_FIT_SAMPLE", "where": "REGULARS_SCORING", "output": "REGULARS_SCORING_OUTPUT"}


@dataclass(frozen=True)
class ScoringSettings:
    """How ``regulars predict --engine spark`` fits and scores (see the module docstring)."""

    fit_sample: int = DEFAULT_FIT_SAMPLE
    where: str = "executors"
    output: str | None = None

    @property
    def on_executors(self) -> bool:
        return self.where == "executors"


def _check(name: str, value, where: str):
    if name == "fit_sample":
        try:
            number = int(str(value).replace("_", "").replace(",", ""))
        except ValueError:
            number = 0
        if number < 100:
            raise SparkSettingsError(f"{where}: the fitting sample must be a whole number of customers ≥ 100, "
                                     f"got {value!r}")
        return number
    if name == "where":
        value = str(value).strip().lower()
        if value not in PLACES:
            raise SparkSettingsError(f"{where}: {value!r} is not a place to score; use executors or driver")
        return value
    return str(value)


def scoring_settings(workspace: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                     path: Path | None | str = "auto", fit_sample: int | None = None) -> ScoringSettings:
    """The scoring settings: *fit_sample* (a command's option) first, then the environment, the
    settings file beside *workspace* (or ``path``), the defaults."""
    env = os.environ if env is None else env
    file_path = settings_path(workspace, env) if path == "auto" else (Path(path) if path else None)
    section = read_settings_file(file_path).get("scoring", {}) or {}
    if not isinstance(section, dict):
        raise SparkSettingsError(f"{file_path}: [scoring] must be a table of settings")
    values = {}
    for name, var in _FIELDS.items():
        if env.get(var):
            values[name] = _check(name, env[var], var)
        elif section.get(name) not in (None, ""):
            values[name] = _check(name, section[name], f"{file_path} [scoring] {name}")
    if fit_sample is not None:
        values["fit_sample"] = _check("fit_sample", fit_sample, "--fit-sample")
    return ScoringSettings(**values)
