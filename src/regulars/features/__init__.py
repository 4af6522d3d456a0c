"""Features: Ibis expressions over a table provider (built here, executed by the caller)."""
