"""The Spark jobs of a lake ingest (:mod:`regulars.data.lake_ingest`): read, validate, merge, stage.

:class:`SparkLoad` numbers the file's lines on the cluster (per-partition counts, then offsets),
validates them with ``mapInArrow`` (:mod:`regulars.data.lake_ingest_rows`), writes the validated
rows once to the staging folder, then does the load-wide checks as joins and aggregations and
writes the months the load touches, whole, to the staging folder. Only counts and month names come
back to the driver.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from pathlib import Path

from regulars.data.ingest.targets import NO_CUSTOMER
from regulars.data.lake import PARTITIONED
from regulars.data.lake_commit import parquet_rows
from regulars.data.lake_ingest_rows import QUARANTINE_COLUMNS, output_columns, validate_batches
from regulars.data.schema import TABLES

__all__ = ["SparkLoad"]

QUARANTINE = ("file", "row_number", "column_name", "reason", "raw", "raw_hash")


class SparkLoad:
    """One load of planned files into one month-partitioned table of the lake (see the module docstring)."""

    def __init__(self, session, lake: Path, manifest: dict, kind: str, table: str, plans: list, provided: list[str],
                 staging: Path, say) -> None:
        self.session, self.lake, self.manifest, self.kind, self.table = session, lake, manifest, kind, table
        self.plans, self.provided, self.staging, self.say = plans, provided, staging, say
        self.key = TABLES[table].key[0]
        self.months: list[str] = []
        self.appended: list[str] = []
        self.before = self.replaced = self.after = 0
        self.added: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self._phase, self._since = None, 0.0

    def step(self, phase: str | None, message: str = "") -> None:
        """Start *phase* (seconds go to ``timings[phase]`` until the next step), telling the user *message*."""
        now = time.perf_counter()
        if self._phase is not None:
            self.timings[self._phase] = round(self.timings.get(self._phase, 0.0) + now - self._since, 3)
        self._phase, self._since = phase, now
        if message:
            self.say(message)

    # -- the lake's tables ------------------------------------------------------------------------------
    def schema(self, name: str):
        from pyspark.sql.types import StructType

        return StructType.fromJson(self.manifest["tables"][name]["spark_schema"])

    def read(self, name: str):
        return self.session.read.schema(self.schema(name)).parquet(str(self.lake / name))

    def conform(self, frame, name: str):
        """*frame* with exactly the columns and types of the lake's *name* (missing ones NULL)."""
        from pyspark.sql import functions as F

        have = set(frame.columns)
        return frame.select(*[(F.col(f.name) if f.name in have else F.lit(None)).cast(f.dataType).alias(f.name)
                              for f in self.schema(name).fields])

    # -- reading --------------------------------------------------------------------------------------
    def numbered_lines(self, path: str):
        """The file's non-blank lines after the header, with their data-row number, numbered on the cluster."""
        from pyspark.sql import functions as F

        lines = (self.session.read.text(str(Path(path).resolve())).where(F.col("value") != "")
                 .withColumn("_pid", F.spark_partition_id()).withColumn("_mid", F.monotonically_increasing_id()))
        counts = sorted((r["_pid"], r["count"]) for r in lines.groupBy("_pid").count().collect())
        offsets, start = [], 0
        for pid, n in counts:
            offsets.append((pid, start))
            start += n
        table = self.session.createDataFrame(offsets or [(0, 0)], "_pid int, _offset long")
        numbered = (lines.join(F.broadcast(table), "_pid")
                    .select((F.col("_offset") + F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33))
                            .alias("_row"), "value")
                    .where(F.col("_row") > 0))
        return numbered, max(start - 1, 0)

    def validated(self):
        """Every line through the executors' checks, written once to the staging folder and read back."""
        from pyspark.sql.pandas.types import to_arrow_schema
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        lake_types = {f.name: f.dataType for f in self.schema(self.table).fields}
        parts, read = [], 0
        for plan in self.plans:
            fields = []
            for name in output_columns(plan):
                kind = {"_row": LongType(), "q_row_number": LongType()}.get(name)
                fields.append(StructField(name, kind or lake_types.get(name, StringType())))
            out = StructType(fields)
            lines, n = self.numbered_lines(plan.path)
            read += n
            body = functools.partial(validate_batches, plan=plan, arrow_schema=to_arrow_schema(out))
            parts.append(lines.mapInArrow(body, out))
        frame = functools.reduce(lambda a, b: a.unionByName(b), parts)
        target = str(self.staging / "_validated")
        frame.write.mode("errorifexists").parquet(target)
        return self.session.read.parquet(target), read

    # -- the load ---------------------------------------------------------------------------------------
    def run(self, fmt: str):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        from regulars.data.lake_ingest import LakeIngest

        runs = self.read("ingest_runs").agg(F.max("run_id")).collect()[0][0]
        run_id = int(runs or 0) + 1
        result = LakeIngest(run_id, self.kind, fmt, [p.path for p in self.plans])
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.step("read and validate", f"reading and validating {len(self.plans)} file(s) on the cluster")
        frame, result.rows_read = self.validated()
        good = frame.where("_what = 'row'").select("_file", "_row", "_raw", *self.provided)
        quarantined = [frame.where("_what = 'quarantine'").select(*[F.col(q).alias(c) for q, c in zip(QUARANTINE_COLUMNS,
                                                                                              QUARANTINE)])]
        key, spec = self.key, TABLES[self.table]
        if "customer_id" in self.provided and "identities" in self.manifest["tables"]:
            ids = self.read("identities").where("kind = 'shop_id'").select(F.col("value").alias("_shop"),
                                                                           F.col("customer_id").alias("_cid"))
            good = (good.join(ids, good["customer_id"] == ids["_shop"], "left")
                    .withColumn("customer_id", F.coalesce("_cid", "customer_id")).drop("_shop", "_cid"))
        if spec.customer_column and self.table not in ("orders", "events"):
            if "customer_id" not in self.provided:
                good = good.withColumn("customer_id", F.lit(None).cast("string"))
            quarantined.append(good.where("customer_id IS NULL").select(
                F.col("_file").alias("file"), F.col("_row").alias("row_number"), F.lit("customer_id").alias("column_name"),
                F.lit(NO_CUSTOMER).alias("reason"), F.col("_raw").alias("raw"), F.md5("_raw").alias("raw_hash")))
            good = good.where("customer_id IS NOT NULL")
        if good.groupBy(key).count().where("count > 1").limit(1).count():
            self.step("repeated keys", "setting aside repeated keys")
            every = Window.partitionBy(key).orderBy("_file", "_row").rowsBetween(Window.unboundedPreceding,
                                                                                  Window.unboundedFollowing)
            ranked = (good.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy(key)))
                      .withColumn("_pos", F.row_number().over(Window.partitionBy(key).orderBy("_file", "_row")))
                      .withColumn("_winner", F.last(F.concat_ws(" row ", "_file", F.col("_row").cast("string"))).over(every)))
            quarantined.append(ranked.where("_n > 1 AND _pos < _n").select(
                F.col("_file").alias("file"), F.col("_row").alias("row_number"), F.lit(key).alias("column_name"),
                F.concat(F.lit(f"duplicate key {key}="), F.coalesce(F.col(key).cast("string"), F.lit("")),
                         F.lit(": a later row ("), F.col("_winner"), F.lit(") was loaded instead")).alias("reason"),
                F.col("_raw").alias("raw"), F.md5("_raw").alias("raw_hash")))
            good = ranked.where("_pos = _n").drop("_n", "_pos", "_winner")
        self.step("count rejected")
        rejects = functools.reduce(lambda a, b: a.unionByName(b), quarantined)
        result.rows_quarantined = rejects.select("file", "row_number").distinct().count()
        self.step("merge", f"merging into {self.table}")
        merged = self.merge(good, run_id, result)
        self.write_months(merged)
        self.step("quarantine, customers, run", "recording the quarantine, new customers and the run")
        self.append("quarantine", self.new_quarantine(rejects, run_id))
        loaded = good.select("customer_id") if "customer_id" in self.provided else None
        if loaded is not None:
            stubs = loaded.where("customer_id IS NOT NULL").distinct().join(
                self.read("customers").select("customer_id"), "customer_id", "left_anti")
            result.customers_created = self.append("customers", stubs.withColumn("_run_id", F.lit(run_id)))
        if self.table == "messages" and "campaign_id" in self.provided and "campaigns" in self.manifest["tables"]:
            campaigns = (good.where("campaign_id IS NOT NULL").groupBy("campaign_id")
                         .agg(F.first("channel", ignorenulls=True).alias("channel") if "channel" in self.provided
                              else F.lit(None).alias("channel"), F.min("occurred_at").alias("sent_at"))
                         .join(self.read("campaigns").select("campaign_id"), "campaign_id", "left_anti")
                         .withColumn("name", F.col("campaign_id")).withColumn("_run_id", F.lit(run_id)))
            result.tables["campaigns"] = {"stubs_created": self.append("campaigns", campaigns)}
        if self.table == "orders" and "customer_id" in self.provided:
            result.guest_orders = good.where("customer_id IS NULL").count()
        self.field_warnings(frame, good, run_id, result)
        self.step(None)
        result.timings = dict(self.timings)
        self.append_run(result, started)
        return result

    def merge(self, good, run_id: int, result):
        """The loaded rows as they will be stored: unchanged ones as they are, columns the file lacks kept."""
        from pyspark.sql import functions as F

        key = self.key
        stored = self.read(self.table)
        s = stored.select(*[F.col(c).alias("s_" + c) for c in stored.columns])
        joined = good.join(s, good[key] == s["s_" + key], "left")
        matched = F.col("s_" + key).isNotNull()
        same = functools.reduce(lambda a, b: a & b, [F.col(c).eqNullSafe(F.col("s_" + c))
                                                       for c in self.provided], F.lit(True))
        joined = joined.withColumn("_matched", matched).withColumn("_unchanged", matched & same)
        columns = []
        for f in self.schema(self.table).fields:
            if f.name == "_run_id":
                value = F.when(F.col("_unchanged"), F.col("s__run_id")).otherwise(F.lit(run_id))
            elif f.name == "month":
                continue
            elif f.name in self.provided:
                value = F.col(f.name)
            else:
                value = F.col("s_" + f.name)
            columns.append(value.cast(f.dataType).alias(f.name))
        moment = PARTITIONED[self.table]
        merged = joined.select(*columns, F.date_format(moment, "yyyy-MM").alias("month"), "_matched", "_unchanged",
                               F.col("s_month").alias("_old_month")).persist()
        counts = merged.agg(F.count(F.lit(1)), F.sum(F.col("_matched").cast("long")),
                            F.sum(F.col("_unchanged").cast("long"))).collect()[0]
        result.rows_loaded = int(counts[0])
        self.replaced = int(counts[1] or 0)
        result.rows_unchanged = int(counts[2] or 0)
        result.rows_updated = self.replaced - result.rows_unchanged
        result.rows_new = result.rows_loaded - self.replaced
        result.tables[self.table] = {"new": result.rows_new, "updated": result.rows_updated,
                                     "unchanged": result.rows_unchanged}
        months = merged.select("month").union(merged.where("_matched").select("_old_month")).distinct().collect()
        self.months = sorted(r[0] for r in months if r[0] is not None)
        result.months_rewritten = self.months
        return merged

    def write_months(self, merged) -> None:
        """The whole new content of every month the load touches, to the staging folder (Spark's commit protocol)."""
        from pyspark.sql import functions as F

        self.step("write months", f"writing {len(self.months)} month(s) of {self.table}")
        self.before = sum(parquet_rows(self.lake / self.table / f"month={m}") for m in self.months)
        kept = (self.read(self.table).where(F.col("month").isin(self.months))
                .join(merged.select(self.key), self.key, "left_anti"))
        fresh = self.conform(merged, self.table)
        rows = kept.unionByName(fresh).repartition("month")
        rows.write.mode("errorifexists").partitionBy("month").parquet(str(self.staging / self.table))
        self.after = parquet_rows(self.staging / self.table)
        merged.unpersist()

    def field_warnings(self, frame, good, run_id: int, result) -> None:
        """Values dropped from rows that loaded (not from rows quarantined anywhere in the load), with the
        customer each row resolved to, appended to the lake's ``ingest_warnings`` unless already there."""
        from pyspark.sql import functions as F

        if "ingest_warnings" not in self.manifest["tables"]:
            return
        customer = F.col("customer_id") if "customer_id" in self.provided else F.lit(None).cast("string")
        loaded = good.select("_file", "_row", customer.alias("customer_id"))
        warned = (frame.where("_what = 'warning'")
                  .select("_file", "_row", F.col("q_column_name").alias("column_name"), F.col("w_value").alias("value"),
                          F.col("q_reason").alias("reason"))
                  .join(loaded, ["_file", "_row"]))
        result.field_warnings = warned.count()
        if not result.field_warnings:
            return
        earlier = (self.read("ingest_warnings").where(F.col("kind") == self.kind)
                   .select(F.regexp_extract("file", r"[^/]*$", 0).alias("_name"), F.col("row_number").alias("_r"),
                           F.col("column_name").alias("_c"), F.col("value").alias("_v"), F.col("reason").alias("_why")))
        fresh = warned.withColumn("_name", F.regexp_extract("_file", r"[^/]*$", 0))
        fresh = fresh.join(earlier, (fresh["_name"] == earlier["_name"]) & (fresh["_row"] == earlier["_r"])
                           & (fresh["column_name"] == earlier["_c"]) & fresh["value"].eqNullSafe(earlier["_v"])
                           & (fresh["reason"] == earlier["_why"]), "left_anti")
        self.append("ingest_warnings", fresh.select(
            F.lit(run_id).alias("run_id"), F.lit(self.kind).alias("kind"), F.col("_file").alias("file"),
            F.col("_row").alias("row_number"), "column_name", "value", "reason", "customer_id"))
        result.warnings.append(f"{result.field_warnings:,} value(s) could not be read and were left out of rows that "
                               f"loaded (a malformed date, JSON, e-mail ...): the lake's ingest_warnings, run {run_id}")

    def new_quarantine(self, rejects, run_id: int):
        """Rejected rows not already in the lake's quarantine (same kind, file name, row, raw row and reason)."""
        from pyspark.sql import functions as F

        name = F.regexp_extract("file", r"[^/]*$", 0)
        earlier = (self.read("quarantine").where(F.col("kind") == self.kind)
                   .select(F.regexp_extract("file", r"[^/]*$", 0).alias("_name"), F.col("row_number").alias("_r"),
                           F.col("raw_hash").alias("_h"), F.col("reason").alias("_why")))
        fresh = rejects.withColumn("_name", name)
        fresh = fresh.join(earlier, (fresh["_name"] == earlier["_name"]) & (fresh["row_number"] == earlier["_r"])
                           & (fresh["raw_hash"] == earlier["_h"]) & (fresh["reason"] == earlier["_why"]), "left_anti")
        return fresh.withColumn("run_id", F.lit(run_id)).withColumn("kind", F.lit(self.kind))

    def append(self, name: str, frame) -> int:
        """Write *frame* as new part files of the lake's unpartitioned table *name* (staged); rows written."""
        target = self.staging / name
        self.conform(frame, name).coalesce(1).write.mode("errorifexists").parquet(str(target))
        self.added[name] = parquet_rows(target)
        self.appended.append(name)
        return self.added[name]

    def append_run(self, result, started) -> None:
        finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        summary = {"tables": result.tables, "warnings": result.warnings, "customers_created": result.customers_created,
                   "rows_loaded": result.rows_loaded, "guest_orders": result.guest_orders, "engine": "spark",
                   "field_warnings": result.field_warnings,
                   "months_rewritten": result.months_rewritten}
        row = [(result.run_id, result.kind, result.format, json.dumps(result.files), started, finished,
                result.rows_read, result.rows_new, result.rows_updated, result.rows_unchanged,
                result.rows_quarantined, json.dumps(summary))]
        names = ["run_id", "kind", "format", "files", "started_at", "finished_at", "rows_read", "rows_new",
                 "rows_updated", "rows_unchanged", "rows_quarantined", "summary"]
        self.append("ingest_runs", self.session.createDataFrame(row, names))

    def new_manifest(self, result) -> dict:
        """The lake's manifest after this load."""
        manifest = json.loads(json.dumps(self.manifest))
        spec = manifest["tables"][self.table]
        spec["rows"] += result.rows_loaded - self.replaced
        present = {p.name.split("=", 1)[1] for p in (self.staging / self.table).glob("month=*")}
        spec["months"] = sorted((set(spec["months"]) - set(self.months)) | present)
        for name, n in self.added.items():
            manifest["tables"][name]["rows"] += n
        manifest["last_ingest"] = {"run_id": result.run_id, "kind": result.kind, "engine": "spark",
                                   "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        return manifest
