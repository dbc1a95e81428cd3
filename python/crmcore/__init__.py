"""crmcore: a customer-relationship-management engine for Python.

Records, the relationship graph between them and customer-value scoring live
in a C++ core; this package is the Python surface over it.

>>> import crmcore as crm
>>> db = crm.open(":memory:")
"""
from ._core import Error, InterruptedAfterCommit, NotFound, StorageError, ValidationError, __version__
from . import clv, datasets, plotting, scoring
from .graph import Graph
from .store import Database, open

__all__ = [
    "Database",
    "Error",
    "Graph",
    "InterruptedAfterCommit",
    "NotFound",
    "StorageError",
    "ValidationError",
    "__version__",
    "clv",
    "datasets",
    "open",
    "plotting",
    "scoring",
]
