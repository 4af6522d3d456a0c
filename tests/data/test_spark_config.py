"""Spark settings: environment over settings file over defaults; bad values refused with what to write."""

from __future__ import annotations

import pytest

from regulars.data.engines import EngineError, engine_name
from regulars.data.spark_config import SparkSettingsError, settings_path, spark_settings

FILE = """engine = "spark"

[spark]
master = "spark://10.0.0.5:7077"
executor_memory = "8g"
executor_cores = 4
staging = "/mnt/shared/regulars"

[spark.conf]
"spark.sql.shuffle.partitions" = 200
"spark.speculation" = true
"""


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "regulars.toml"
    path.write_text(FILE)
    return path


def test_laptop_default_is_local():
    s = spark_settings(env={}, path=None)
    assert s.master == "local[2]" and s.is_local and s.local_cores == 2
    conf = s.spark_conf()
    assert conf["spark.driver.memory"] == "2g" and conf["spark.sql.shuffle.partitions"] == "2"
    assert "spark.executor.memory" not in conf


def test_settings_file_beside_the_workspace(tmp_path, settings_file):
    workspace = tmp_path / "shop.duckdb"
    assert settings_path(workspace, env={}) == settings_file
    s = spark_settings(workspace, env={})
    assert s.master == "spark://10.0.0.5:7077" and not s.is_local and s.local_cores is None
    conf = s.spark_conf()
    assert conf["spark.executor.memory"] == "8g" and conf["spark.executor.cores"] == "4"
    assert conf["spark.sql.shuffle.partitions"] == "200" and conf["spark.speculation"] == "true"
    assert s.staging == "/mnt/shared/regulars"
    assert s.describe()["from"]["master"] == str(settings_file)
    assert engine_name(None, env={}, workspace=workspace) == "spark"


def test_environment_wins_over_the_file(tmp_path, settings_file):
    env = {"REGULARS_SPARK_MASTER": "spark://127.0.0.1:7077", "REGULARS_SPARK_CONF":
           "spark.sql.shuffle.partitions=8; spark.network.timeout=300s", "REGULARS_ENGINE": "duckdb"}
    s = spark_settings(tmp_path / "shop.duckdb", env=env)
    assert s.master == "spark://127.0.0.1:7077" and s.executor_memory == "8g"
    assert s.spark_conf()["spark.sql.shuffle.partitions"] == "8"
    assert s.spark_conf()["spark.network.timeout"] == "300s"
    assert s.describe()["from"] == {"master": "environment", "executor_memory": str(settings_file),
                                    "executor_cores": str(settings_file), "staging": str(settings_file),
                                    "conf": "environment"}
    assert engine_name(None, env=env, workspace=tmp_path / "shop.duckdb") == "duckdb"
    assert engine_name("spark", env=env) == "spark"


def test_settings_file_from_the_environment_variable(tmp_path, settings_file):
    elsewhere = tmp_path / "other" / "shop.duckdb"
    env = {"REGULARS_SETTINGS": str(settings_file)}
    assert spark_settings(elsewhere, env=env).master == "spark://10.0.0.5:7077"
    assert spark_settings(elsewhere, env={}).master == "local[2]"


@pytest.mark.parametrize("env, message", [
    ({"REGULARS_SPARK_MASTER": "spark//host"}, "is not local[N], spark://host:port, yarn or k8s://"),
    ({"REGULARS_SPARK_MASTER": "sc://host:15002"}, "Spark Connect"),
    ({"REGULARS_SPARK_EXECUTOR_MEMORY": "lots"}, "is not a size such as 512m or 2g"),
    ({"REGULARS_SPARK_EXECUTOR_CORES": "0"}, "whole number of cores"),
    ({"REGULARS_SPARK_CONF": "spark.master=local[4]"}, "not spark.master"),
    ({"REGULARS_SPARK_CONF": "spark.sql.shuffle.partitions"}, "is not key=value"),
])
def test_bad_values_say_what_to_write(env, message):
    with pytest.raises(SparkSettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        spark_settings(env=env, path=None)


def test_broken_settings_file_and_unknown_engine(tmp_path):
    (tmp_path / "regulars.toml").write_text("[spark\nmaster = 1")
    with pytest.raises(EngineError, match="not valid TOML"):
        spark_settings(tmp_path / "shop.duckdb", env={})
    (tmp_path / "regulars.toml").write_text('engine = "hadoop"\n')
    with pytest.raises(EngineError, match="unknown engine 'hadoop'"):
        engine_name(None, env={}, workspace=tmp_path / "shop.duckdb")
