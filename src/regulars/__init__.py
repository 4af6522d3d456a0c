"""regulars: the customer-analytics department a small shop cannot hire.

>>> from regulars import Workspace
"""

from regulars.data.workspace import Workspace, WorkspaceError

__version__ = "0.1.0"
__all__ = ["Workspace", "WorkspaceError", "__version__"]
