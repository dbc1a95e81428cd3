"""Moving a whole store between backends: a SQLite file and a schema on a
PostgreSQL server, in either direction (the work is done in C++,
cpp/src/records/copy.cpp)."""
from __future__ import annotations

import os

from . import _core


def copy(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """Copies the store at `src` into `dst` as it is, and returns ``{"tables", "rows"}`` copied.

    Either may be a file path or a ``postgresql://...?schema=name`` URL. Every
    record keeps its id and times; the audit log (and its hash chain), the
    custom fields and labels, and the id sequence come along, so the copy
    reads, verifies and continues as the original. `dst` must be new or empty
    (a missing file or schema is created) and at the same schema version as
    `src`; anything else is refused before a row moves. The copy is one
    transaction on `dst`: all of it lands, or none (a file it created is
    removed again). `src` is only read, from one consistent snapshot.

    >>> import tempfile
    >>> import crmcore as crm
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with crm.open(f"{folder}/a.crm") as db:
    ...         _ = db.add("customers", name="Acme")
    ...     report = crm.copy(f"{folder}/a.crm", f"{folder}/b.crm")
    ...     with crm.open(f"{folder}/b.crm") as copied:
    ...         copied.frame("customers")["name"].tolist()
    ['Acme']
    """
    return _core.copy_store(os.fspath(src), os.fspath(dst))
