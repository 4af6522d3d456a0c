"""regulars: the customer-analytics department a small shop cannot hire.

``Workspace`` is imported on first use (it brings DuckDB, Ibis and pandas), so
``regulars --help`` and commands that need none of them start quickly.

>>> from regulars import Workspace
"""

__version__ = "0.1.0"
__all__ = ["Workspace", "WorkspaceError", "__version__"]


def __getattr__(name: str):
    if name in ("Workspace", "WorkspaceError"):
        from regulars.data import workspace

        return getattr(workspace, name)
    raise AttributeError(f"module 'regulars' has no attribute {name!r}")
