"""Numbered schema migrations, applied in order and recorded in ``schema_version``.

Rules for adding one: append a new :class:`Migration` with the next number;
never edit a released migration; write statements that are safe on a
workspace created by any earlier version (``IF NOT EXISTS``).

Examples
--------
>>> [m.version for m in MIGRATIONS][:1]
[1]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from regulars.data.schema import TABLES, create_table_sql


@dataclass(frozen=True)
class Migration:
    """``statements()`` returns SQL strings, or callables ``fn(con)`` for steps SQL alone cannot say."""

    version: int
    description: str
    statements: Callable[[], list]


def _predictions_v() -> list[str]:
    from regulars.data.predictions_store import create_statements

    return create_statements(original=True)


def _server_v() -> list[str]:
    from regulars.data.auth import migration_statements

    return migration_statements()


def _v1() -> list[str]:
    return [create_table_sql(t, original=True) for t in TABLES.values() if not t.later] + [
        "CREATE SEQUENCE IF NOT EXISTS ingest_run_ids START 1",
    ]


MIGRATIONS: list[Migration] = [
    Migration(1, "canonical tables, ingest bookkeeping, erasure audit, demo truth", _v1),
    Migration(2, "prediction tables: customer_predictions, lead_scores, replenishments, demand_forecast, backtests", lambda: _predictions_v()),
    Migration(3, "server: hashed API keys, dashboard sessions, audit log, settings", lambda: _server_v()),
    Migration(4, "segments: definitions, versions, refreshes, memberships, history, sizes", lambda: _segments_v()),
    Migration(5, "prediction runs: readiness verdicts, summary and timings of each `regulars predict`", lambda: _prediction_runs_v()),
    Migration(6, "customer_order_stats: per-customer order totals kept current on every write to orders", lambda: _order_stats_v()),
    Migration(7, "experiments: definitions, assignment log, bandit allocations", lambda: _experiments_v()),
    Migration(8, "privacy: workspace secret, keyed identity hashes and provisional ids, erasure suppression list, "
                 "events deferred during uploads", lambda: _privacy_v()),
    Migration(9, "recommendations, bought-together pairs, next best actions, their runs and evaluations, action uplift",
              lambda: _recommend_v()),
    Migration(10, "activation: journeys, enrollments, send log, webhooks, audiences, schedules, alerts", lambda: _activation_v()),
    Migration(11, "guest orders, dated refunds and cancellations (orders.refunded_at, orders.cancelled_at), "
               "ingest_warnings", lambda: _nothing_lost_v()),
    Migration(12, "text analysis: text_scores, text_topics, text_runs, text_feature_decisions, demo_truth_texts", lambda: _text_v()),
    Migration(13, "anomaly flags: anomaly_flags, anomaly_runs, demo_truth_anomalies", lambda: _anomalies_v()),
    Migration(14, "fairness audits, model cards, privacy settings, retention log and daily event counts",
              lambda: _trust_v()),
    Migration(15, "stored report results (report_results): what read commands and pages computed, per data version",
              lambda: _report_results_v()),
    Migration(16, "text feature decisions: per-group verdicts (sentiment, topic of the last complaint)",
              lambda: _text_feature_groups_v()),
    Migration(17, "consent dates from the data: customers.consent_at, consents.from_load", lambda: _consent_dates_v()),
    Migration(18, "date columns named *_date: customer_predictions.last_order_date, next_order_date; "
                  "replenishments.last_bought_date, due_date (were *_at)", lambda: _date_names_v()),
]


def _date_names_v() -> list[str]:
    """A DATE column is named ``*_date`` (``*_at`` is a UTC timestamp): rename the prediction tables'
    dates, and the column in saved segment rules that read it (``next_order_at < today + 7``)."""
    from regulars.data.segment_store import rename_rule_column

    renames = {
        "customer_predictions": {"last_order_at": "last_order_date", "next_order_at": "next_order_date"},
        "replenishments": {"last_bought_at": "last_bought_date", "due_at": "due_date"},
    }
    return [
        *[f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}"
          for table, columns in renames.items() for old, new in columns.items()],
        rename_rule_column("next_order_at", "next_order_date"),  # segment rules are written by segment_store only
    ]


def _text_feature_groups_v() -> list[str]:
    from regulars.data.text_store import feature_groups_statements

    return feature_groups_statements()


def _consent_dates_v() -> list[str]:
    return [
        "ALTER TABLE customers ADD COLUMN IF NOT EXISTS consent_at TIMESTAMP",
        "ALTER TABLE consents ADD COLUMN IF NOT EXISTS from_load BOOLEAN",
        # every consent a customers file stated so far was dated when the file was loaded
        "UPDATE consents SET from_load = (source LIKE 'customers file %')",
    ]


def _report_results_v() -> list[str]:
    from regulars.data.report_store import create_statements

    return create_statements()


def _text_v() -> list[str]:
    from regulars.data.text_store import create_statements

    return create_statements()


def _anomalies_v() -> list[str]:
    from regulars.data.anomaly_store import create_statements

    return create_statements()


def _trust_v() -> list[str]:
    from regulars.data import fairness_store, privacy_store

    return fairness_store.create_statements() + privacy_store.create_statements()


def _experiments_v() -> list[str]:
    from regulars.data.experiments_store import create_statements

    return create_statements()


def _privacy_v() -> list:
    from regulars.data import keyed, rekey, suppression
    from regulars.data.fastlane import create_statements as deferred_events

    return (keyed.create_statements() + suppression.create_statements() + deferred_events()
            + ["ALTER TABLE erasures ADD COLUMN IF NOT EXISTS file_rewritten_at TIMESTAMP", rekey.upgrade])


def _activation_v() -> list[str]:
    from regulars.data.activation_schema import create_statements

    return create_statements()


def _recommend_v() -> list[str]:
    from regulars.data.recommend_store import create_statements

    return create_statements()


def _nothing_lost_v() -> list[str]:
    """Orders may have no customer (guests); refunds and cancellations carry their own dates;
    values a load dropped from a row it kept are listed in ``ingest_warnings``.

    Existing refunds and cancellations get no date (NULL): they count as known from the start,
    as before. Statuses are stored trimmed and lower-cased from now on.
    """
    from regulars.data.order_stats import create_statements

    return [
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS refunded_at TIMESTAMP",
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS cancelled_at TIMESTAMP",
        "UPDATE orders SET status = lower(trim(status)) WHERE status IS DISTINCT FROM lower(trim(status))",
        create_table_sql(TABLES["ingest_warnings"]),
        *create_statements(),  # the stored totals under the current definition of a purchase
    ]


def _order_stats_v() -> list[str]:
    from regulars.data.order_stats import create_statements_v6

    return create_statements_v6()


def _prediction_runs_v() -> list[str]:
    from regulars.data.predictions_store import create_run_statements

    return create_run_statements()


def _segments_v() -> list[str]:
    """Saved segments with versions; each refresh's memberships, entry/exit history and sizes."""
    return [
        "CREATE TABLE IF NOT EXISTS segment_definitions (segment_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "kind VARCHAR, description VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP)",
        "CREATE TABLE IF NOT EXISTS segment_versions (segment_id VARCHAR, version INTEGER, rule VARCHAR, "
        "description VARCHAR, created_at TIMESTAMP, PRIMARY KEY (segment_id, version))",
        "CREATE TABLE IF NOT EXISTS segment_refreshes (refresh_id BIGINT PRIMARY KEY, refreshed_at TIMESTAMP, "
        "as_of DATE, engine VARCHAR, segments INTEGER, entered BIGINT, exited BIGINT, summary JSON)",
        "CREATE TABLE IF NOT EXISTS segment_memberships (segment_id VARCHAR, customer_id VARCHAR, version INTEGER, "
        "since_refresh BIGINT, since_as_of DATE)",
        "CREATE TABLE IF NOT EXISTS segment_history (refresh_id BIGINT, segment_id VARCHAR, customer_id VARCHAR, "
        "change VARCHAR, version INTEGER, as_of DATE)",
        "CREATE TABLE IF NOT EXISTS segment_sizes (refresh_id BIGINT, segment_id VARCHAR, version INTEGER, "
        "members BIGINT, revenue DECIMAL(18,2))",
        "CREATE SEQUENCE IF NOT EXISTS segment_refresh_ids START 1",
    ]

LATEST = MIGRATIONS[-1].version


def current_version(con) -> int:
    """The schema version of an open DuckDB connection (0 for an empty file)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(con) -> list[int]:
    """Bring the workspace schema up to :data:`LATEST`; return the versions applied.

    Each migration runs in its own transaction together with its
    ``schema_version`` row, so a crash leaves a consistent version.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER, description VARCHAR, applied_at TIMESTAMP)"
    )
    have = current_version(con)
    if have > LATEST:
        raise RuntimeError(
            f"this workspace has schema version {have}, newer than this regulars "
            f"understands ({LATEST}); upgrade regulars (pip install -U regulars)"
        )
    applied = []
    for m in MIGRATIONS:
        if m.version <= have:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            for stmt in m.statements():
                stmt(con) if callable(stmt) else con.execute(stmt)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                [m.version, m.description],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied
