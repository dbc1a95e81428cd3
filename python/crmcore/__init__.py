"""crmcore: a customer-relationship-management engine for Python.

Records, the relationship graph between them and customer-value scoring live
in a C++ core; this package is the Python surface over it.

>>> import crmcore as crm
>>> db = crm.open(":memory:")
"""
from ._core import Error, NotFound, StorageError, ValidationError, __version__

__all__ = [
    "Error",
    "NotFound",
    "StorageError",
    "ValidationError",
    "__version__",
]
