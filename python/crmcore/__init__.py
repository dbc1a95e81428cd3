"""crmcore: a customer-relationship-management engine for Python.

Records, the relationship graph between them and customer-value scoring live
in a C++ core; this package is the Python surface over it.

>>> import crmcore as crm
>>> db = crm.open(":memory:")
"""
from ._core import Error, InterruptedAfterCommit, NotFound, PermissionDenied, StorageError, ValidationError, __version__
from . import clv, datasets, plotting, scoring
from .duplicates import find_duplicates
from .graph import Graph
from .mapping import Mapping
from .store import Database, open, restore
from .transfer import copy
from ._versions import show_versions

__all__ = [
    "Database",
    "Error",
    "Graph",
    "InterruptedAfterCommit",
    "Mapping",
    "NotFound",
    "PermissionDenied",
    "StorageError",
    "ValidationError",
    "__version__",
    "clv",
    "copy",
    "datasets",
    "find_duplicates",
    "open",
    "plotting",
    "restore",
    "scoring",
    "show_versions",
]
