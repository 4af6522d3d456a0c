"""The data layer: schema, migrations, ingestion, identity, the Workspace.

The only layer that opens DuckDB (or Spark) connections.
"""
