"""Where a workspace lives by default: names the CLI needs before it imports DuckDB.

>>> ENV_VAR
'REGULARS_WORKSPACE'
"""

DEFAULT_PATH = "regulars.duckdb"
ENV_VAR = "REGULARS_WORKSPACE"
