"""The store's file: its checks and layout version, online backups, restores
and compaction, as methods of the store's Database (and crm.restore).
"""
from __future__ import annotations

import os
from typing import Any, Callable

from . import _core
from ._bulk import _progress_bar

__all__ = ["FileMethods", "restore"]

# Show a progress bar for backups of stores at least this large (when tqdm
# is installed): 64 MiB in 4 KiB pages.
_PROGRESS_MIN_PAGES = 16_384


def _bar_of(path: Any, progress: Any, desc: str) -> _progress_bar:
    """The progress of a backup or restore of the store at `path`: SQLite
    copies pages; a server's store is copied table by table (its size is not
    known beforehand, so its bar is drawn whatever the size)."""
    if str(path).startswith(("postgresql://", "postgres://")):
        return _progress_bar("", progress, desc=desc, unit="tables", min_total=0)
    return _progress_bar("", progress, desc=desc, unit="pages", min_total=_PROGRESS_MIN_PAGES)


class FileMethods:
    """Methods that the store's Database gains for its file as a whole."""

    _core: Any  # the Database's C++ store

    # -- the file -----------------------------------------------------------------
    def integrity_check(self) -> str:
        """'ok' when SQLite's integrity and foreign-key checks find nothing wrong,
        otherwise their findings as text.

        >>> import crmcore as crm
        >>> crm.open().integrity_check()
        'ok'
        """
        return self._core.integrity_check()

    def schema_version(self) -> int:
        """The version of the file's layout, as an int; opening an older file
        brings it up to date.

        >>> import crmcore as crm
        >>> crm.open().schema_version() > 0
        True
        """
        return int(self._core.schema_version())

    # -- backups and compaction -------------------------------------------------------
    def backup(self, path: str | os.PathLike, progress: "bool | Callable[[int, int], None] | None" = None,
               *, pages_per_step: int = 1024) -> None:
        """Copies the store to the file `path` while it stays in use.

        The copy holds every write committed when the backup begins and none
        after, though this and other processes go on writing meanwhile
        (SQLite's online backup; on PostgreSQL a copy of the store's schema
        read in one snapshot, into a SQLite file). It is written beside
        `path` and renamed over it when whole, so `path` is never half a
        backup. A long backup shows a progress bar (``progress=True``
        always, ``False`` never, or a function called with pages done and
        pages in all; on PostgreSQL tables copied and tables in all, each
        table's copy a step) and stops on Ctrl-C. Open the copy with :func:`crmcore.open`, or put it back with
        :func:`crmcore.restore`.

        >>> import crmcore as crm
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     db = crm.open()
        ...     _ = db.add("customers", name="Acme")
        ...     db.backup(f"{folder}/copy.crm")
        ...     crm.open(f"{folder}/copy.crm").count("customers")
        1
        """
        with _bar_of(getattr(self, "path", ""), progress, "backup") as report:
            self._core.backup(os.fspath(path), report, pages_per_step)

    def vacuum(self) -> dict:
        """Rebuilds the file without its free pages (after large deletes) and
        returns its size in bytes before and after.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> sorted(db.vacuum())
        ['bytes_after', 'bytes_before']
        """
        before, after = self._core.vacuum()
        return {"bytes_before": int(before), "bytes_after": int(after)}

def restore(backup: str | os.PathLike, path: str | os.PathLike,
            progress: "bool | Callable[[int, int], None] | None" = None) -> None:
    """Puts the backup `backup` (made by :meth:`Database.backup`) back as the store at `path`.

    The backup is checked first (a crmcore store, not damaged). The store at
    `path` is replaced in one transaction, so a restore that fails or is
    stopped leaves it as it was; a missing `path` is created. Progress as
    for :meth:`Database.backup` (onto a server: tables copied).

    >>> import crmcore as crm
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     db = crm.open()
    ...     _ = db.add("customers", name="Acme")
    ...     db.backup(f"{folder}/copy.crm")
    ...     crm.restore(f"{folder}/copy.crm", f"{folder}/again.crm")
    ...     crm.open(f"{folder}/again.crm").count("customers")
    1
    """
    with _bar_of(path, progress, "restore") as report:
        _core.restore(os.fspath(backup), os.fspath(path), report)
