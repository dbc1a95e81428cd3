"""Records in bulk: imports from frames, CSV and JSON files (inserts,
upserts and updates), their dry runs, deletions of many records and the JSON
export, as methods of the store's Database; and what they return.

Rows cross into C++ as NumPy columns; there is no Python loop over rows.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from . import _core
from . import mapping as _mapping
from ._args import _record_ids
from ._text_file import undecodable
from ._convert import _columns
from ._query import _refuse

__all__ = ["BulkMethods", "ImportResult"]

# Show a progress bar for imports at least this long (when tqdm is installed).
_PROGRESS_MIN_ROWS = 200_000


@dataclass
class ImportResult:
    """What `import_frame(..., on_error="skip")` or an upsert did.

    ``ids`` has one entry per input row: the record's id (new, or the one the
    row updated), or -1 where the row was rejected. ``errors`` has one row per
    rejected input row (indexed by its position in the input) with the field
    and the reason. ``updated`` (upserts and updates) is True where the row
    updated an existing record rather than adding one.
    """

    ids: np.ndarray
    errors: pd.DataFrame
    updated: "np.ndarray | None" = None

    @property
    def imported(self) -> int:
        """Rows written (added or updated)."""
        return int((self.ids >= 0).sum())

    @property
    def inserted(self) -> int:
        """Rows that added a record."""
        return self.imported - self.updated_count

    @property
    def updated_count(self) -> int:
        """Rows that updated an existing record."""
        return 0 if self.updated is None else int(self.updated.sum())


class BulkMethods:
    """Methods that the store's Database gains for moving many records at once."""

    _core: Any  # the Database's C++ store

    # -- bulk -------------------------------------------------------------------
    def import_frame(self, kind: str, df: pd.DataFrame, on_error: str = "raise",
                     progress: bool | None = None, *, mode: str = "insert",
                     key: "str | list[str] | None" = None, mapping: Any = None,
                     dry_run: bool = False) -> "np.ndarray | ImportResult | pd.DataFrame":
        """Imports the rows of a DataFrame: new records, or updates of existing ones.

        ``mode="insert"`` (the default) adds every row as a new record.
        ``mode="upsert"`` writes each row to the record its ``key`` names and
        adds the rows that name none, so that importing the same export again
        updates instead of duplicating. ``mode="update"`` writes rows to
        existing records only (a row naming none is an error). The key is one
        or more fields: ``"id"`` (the default when the frame has an ``id``
        column or index, as ``db.frame`` gives), the external key
        ``["external_source", "external_id"]`` (the default when the frame has
        ``external_id``; unique per kind), or any fields that name one record
        (``"sku"``). An update changes only the columns given; an empty cell
        clears its field. ``created_at`` and ``updated_at`` columns are left to
        the store. So ``db.frame(kind)`` can be edited and written back. A row
        whose values equal its record's writes nothing (no audit entry,
        ``updated_at`` kept) and still counts as updated.
        A key repeated in one import is refused; rows whose different keys
        name one record because their records were merged apply in order
        (the last wins).

        With ``on_error="raise"`` (the default) the import is all or nothing:
        a bad row raises :class:`crmcore.ValidationError` naming the row, the
        column and the reason, and the store is as it was. With
        ``on_error="skip"`` the good rows land and the bad ones are listed.
        Inserts return the new ids in row order (an :class:`ImportResult`
        with ``on_error="skip"``); upserts and updates an :class:`ImportResult`
        whose ``updated`` says which rows updated a record.

        ``mapping`` (a :class:`crmcore.Mapping`, a dict as in a mapping file,
        or a mapping file's path) reads another system's export: its column
        names, values and formats; errors then name the file's column too.
        ``dry_run=True`` writes nothing and returns :meth:`check_frame`'s report.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> ids = db.import_frame("customers", pd.DataFrame({"name": ["A", "B"]}))
        >>> len(ids)
        2
        >>> erp = pd.DataFrame({"external_id": ["K1", "K2"], "name": ["Acme", "Bolt"]})
        >>> db.import_frame("customers", erp, mode="upsert").inserted
        2
        >>> again = db.import_frame("customers", erp.assign(region="East"), mode="upsert")
        >>> again.updated_count, db.count("customers")
        (2, 4)
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"import_frame takes a pandas DataFrame, not {type(df).__name__}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        if mode not in ("insert", "upsert", "update"):
            raise ValueError(f"mode must be 'insert', 'upsert' or 'update', not {mode!r}")
        if mode == "insert" and key is not None:
            raise ValueError("key= names the records an upsert or update writes to; an insert adds new records")
        if mode != "insert":
            if df.index.name == "id" and "id" not in df.columns:
                df = df.reset_index()
            df = df.drop(columns=[c for c in ("created_at", "updated_at") if c in df.columns])
        prepared = _mapping.prepare(kind, df, mapping, dry_run)
        keys = [] if mode == "insert" else _upsert_key(prepared.frame, key)

        def write(columns, on_error, report, dry_run):
            if mode == "insert":
                return self._core.insert(kind, columns, on_error, report, dry_run)
            return self._core.upsert(kind, columns, keys, mode == "upsert", on_error, report, dry_run)

        if dry_run:
            with prepared.naming_columns():
                return prepared.check(lambda columns: write(columns, "skip", None, True)[1],
                                      lambda frame: _columns(kind, frame, arrow_text=True), keys)
        columns = prepared.core_columns(lambda frame: _columns(kind, frame, arrow_text=True))
        with _progress_bar(kind, progress) as report, prepared.naming_columns():
            ids, errors, interrupted, updated = write(columns, on_error, report, False)
        if mode == "insert":
            result = prepared.label(_import_result(ids, errors, on_error, df))
            _check_interrupted(interrupted, f"the import of {int((ids >= 0).sum())} {kind}", result)
            return result
        result = prepared.label(_import_result(ids, errors, "skip", df))
        result.updated = updated.astype(bool)
        _check_interrupted(interrupted, f"the {mode} of {result.imported} {kind}", result)
        return result

    def check_frame(self, kind: str, df: pd.DataFrame, *, mode: str = "insert", key: "str | list[str] | None" = None,
                    mapping: Any = None) -> pd.DataFrame:
        """Every problem an import of ``df`` would meet, without writing anything.

        The rows are checked the whole way, as an import writes them (so a
        duplicate sku or a missing customer is found too), and then undone:
        the store, its ids and its audit log stay as they were. Returns a
        DataFrame with one row per problem: ``row`` (from 0; missing for a
        problem of the whole file, such as an unknown column), ``column``
        (the file's), ``field``, ``value`` (as in the file) and ``reason``;
        empty when the import would land whole. ``mode``, ``key`` and
        ``mapping`` are those of :meth:`import_frame`. What stops a file as a
        whole (a column named ``id`` in an insert, a mapping that does not fit
        the kind) is raised, as an import raises it.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> cid = db.add("customers", name="Acme")
        >>> df = pd.DataFrame({"customer_id": [cid, cid], "ordered_at": ["2025/1/5", "someday"],
        ...                    "amount": ["¥1,200", "1.2万"]})
        >>> db.check_frame("orders", df)[["row", "field"]].values.tolist()
        [[1, 'ordered_at']]
        >>> db.count("orders")
        0
        """
        return self.import_frame(kind, df, progress=False, mode=mode, key=key, mapping=mapping, dry_run=True)

    def delete_many(self, kind: str, ids: Iterable[int], dependants: str = "refuse") -> int:
        """Deletes the records ids of a kind in one transaction; returns how many
        records were asked for (an id given twice is one record).

        A record that other records still refer to (a customer with orders) is
        refused with ``dependants="refuse"`` (the default), and nothing is
        deleted; with ``dependants="delete"`` the records that refer to it go
        too, and theirs, recursively (a reference cycle, such as two customers
        each the other's partner, goes whole). The ids are one set: a record
        referring to another one the call deletes does not keep it. Ids not
        in the store are refused (crm.NotFound) before anything goes. Link
        records (contact roles, stage history, links) always go with their
        record. Every removed row has its
        audit entry, naming in ``cause_id`` the record whose deletion took it.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=10.0)
        >>> db.delete_many("customers", [c], dependants="delete"), db.count("orders")
        (1, 0)
        """
        if dependants not in ("refuse", "delete"):
            raise ValueError(f"dependants must be 'refuse' or 'delete', not {dependants!r}")
        wanted = _record_ids(ids if isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else list(ids), kind)
        _check_interrupted(self._core.remove_many(kind, wanted, dependants == "delete"),
                           f"the deletion of {len(wanted)} {kind}")
        return len(np.unique(wanted))

    def import_csv(self, kind: str, path: str | os.PathLike, on_error: str = "raise", *, mode: str = "insert",
                   key: "str | list[str] | None" = None, mapping: Any = None, dry_run: bool = False,
                   progress: bool | None = None, **read_csv_args: Any):
        """Imports a CSV file (read as text; the store converts and checks each value).

        Rows in errors are counted from 0 at the first data line. ``mode``,
        ``key``, ``mapping`` and ``dry_run`` are those of :meth:`import_frame`;
        ``read_csv_args`` go to ``pandas.read_csv`` (e.g.
        ``encoding="gb18030"`` for an export saved by Excel on a Chinese Windows).
        Returns what :meth:`import_frame` returns (the new ids, in the file's order).

        >>> import crmcore as crm
        >>> import pathlib, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "customers.csv"
        >>> _ = path.write_text("name,phone\\nAcme,138 0013 8000\\n", encoding="utf-8")
        >>> db = crm.open()
        >>> len(db.import_csv("customers", path)), db.count("customers")
        (1, 1)
        >>> folder.cleanup()
        """
        read_csv_args.setdefault("dtype", str)
        read_csv_args.setdefault("keep_default_na", False)
        read_csv_args.setdefault("na_values", [""])
        try:
            frame = pd.read_csv(path, **read_csv_args)
            twice = _header_twice(path, frame.columns, read_csv_args)
        except UnicodeDecodeError as e:  # it names no file and no line, only a position in some chunk
            if not isinstance(path, (str, os.PathLike)):
                raise
            raise _refuse(kind, "", undecodable(path, e, read_csv_args.get("encoding"))) from None
        if twice:
            raise _refuse(kind, "", f"the file has the columns {', '.join(map(repr, twice))} more than once")
        return self.import_frame(kind, frame, on_error=on_error, mode=mode, key=key,
                                 mapping=mapping, dry_run=dry_run, progress=progress)

    def import_json(self, kind: str, path: str | os.PathLike, on_error: str = "raise",
                    progress: bool | None = None, *, dry_run: bool = False) -> "np.ndarray | ImportResult":
        """Imports a JSON file holding a list of records (as written by :meth:`export_json`),
        or an object whose member ``kind`` is that list.

        The file is read and checked in C++ and imported like a DataFrame
        (all or nothing, or ``on_error="skip"``); rows count from 0 in the
        list. Ids, created_at and updated_at in the file are ignored: the
        store gives new ids, returned in the file's order. ``dry_run=True``
        writes nothing and returns the problems as :meth:`check_frame` does.

        >>> import crmcore as crm
        >>> import pathlib, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "customers.json"
        >>> _ = path.write_text('[{"name": "Acme"}, {"name": "Bolt"}]', encoding="utf-8")
        >>> db = crm.open()
        >>> len(db.import_json("customers", path)), db.count("customers")
        (2, 2)
        >>> folder.cleanup()
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        with _progress_bar(kind, progress) as report:
            ids, errors, interrupted, _ = self._core.import_json(kind, os.fspath(path), on_error, report, dry_run)
        if dry_run:
            return _mapping.Prepared(kind, None, None).report(errors)
        result = _import_result(ids, errors, on_error)
        _check_interrupted(interrupted, f"the import of {int((ids >= 0).sum())} {kind}", result)
        return result

    def export_json(self, kind: str, path: str | os.PathLike) -> int:
        """Writes every record of a kind to a JSON file at path, one object per line in
        one list (times as ISO 8601 text, tags as a list, custom fields as an
        object); returns how many records it wrote.

        >>> import crmcore as crm
        >>> import pathlib, tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "customers.json"
        >>> db = crm.open()
        >>> _ = db.add("customers", name="Acme", tags=["vip"])
        >>> db.export_json("customers", path)
        1
        >>> copy = crm.open()
        >>> _ = copy.import_json("customers", path)
        >>> copy.get("customers", int(copy.ids("customers")[0]))["tags"]
        ['vip']
        >>> folder.cleanup()
        """
        return int(self._core.export_json(kind, os.fspath(path)))


# The read_csv arguments that say how a file's lines are read (and so its header line).
_CSV_LAYOUT = ("sep", "delimiter", "encoding", "encoding_errors", "quotechar", "quoting", "doublequote", "escapechar",
               "skiprows", "comment", "skipinitialspace", "skip_blank_lines", "lineterminator", "dialect", "engine",
               "compression")


def _header_twice(path: Any, columns: pd.Index, read_csv_args: dict) -> list:
    """The names a CSV file's header line holds more than once. pandas reads
    a second 'email' as 'email.1', which the import would then take for a
    column of that name (refused as no field, or kept as a custom field);
    the header line is read again, as text, only when a column looks so
    renamed (the name of another column, a dot and a number)."""
    names = set(map(str, columns))
    renamed = [c for c in names if "." in c and c.rsplit(".", 1)[1].isdigit() and c.rsplit(".", 1)[0] in names]
    if not renamed or "names" in read_csv_args or "header" in read_csv_args or not isinstance(path, (str, os.PathLike)):
        return []
    layout = {k: v for k, v in read_csv_args.items() if k in _CSV_LAYOUT}
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **layout).iloc[0]
    return sorted(set(header[header.duplicated()]))


def _check_interrupted(interrupted: bool, what: str, result: Any = None) -> None:
    """Raises InterruptedAfterCommit when Ctrl-C came while a write committed."""
    if interrupted:
        exc = _core.InterruptedAfterCommit(f"interrupted while {what} committed: it was saved; do not run it again")
        exc.result = result
        raise exc


def _upsert_key(df: pd.DataFrame, key: "str | list[str] | None") -> "list[str]":
    """The fields that name each row's record: as given, or the natural one."""
    if key is not None:
        fields = [key] if isinstance(key, str) else list(key)
        repeated = sorted({str(f) for f in fields if fields.count(f) > 1})
        if repeated:  # a field named twice would be matched twice (or the key silently be shorter)
            raise _core.ValidationError(f"key={key!r} names {', '.join(map(repr, repeated))} more than once: "
                                        "give each field of the key once")
        return fields
    if "id" in df.columns:
        return ["id"]
    if "external_id" in df.columns:
        return ["external_source", "external_id"] if "external_source" in df.columns else ["external_id"]
    raise ValueError("an upsert or update needs key=, or an 'id' or 'external_id' column to name each row's record")


def _import_result(ids: np.ndarray, errors: list, on_error: str, rows: pd.DataFrame | None = None):
    """What an import returns: the ids, or with on_error="skip" an ImportResult
    whose errors carry the rejected rows' values when the rows are at hand
    (a value whose column is named like the report's, as a movement's
    ``reason``, comes as ``reason_given``)."""
    if on_error == "raise":
        return ids
    errors_df = pd.DataFrame(errors, columns=["row", "field", "reason"]).set_index("row")
    if len(errors_df) and rows is not None:
        given = rows.reset_index(drop=True)
        given = given.rename(columns={c: f"{c}_given" for c in given.columns if c in ("field", "reason")})
        errors_df = errors_df.join(given, how="left")
    return ImportResult(ids=ids, errors=errors_df)


class _progress_bar:
    """A tqdm bar for long imports (or backups: ``desc``, ``unit``), drawn
    once the core reports the size of the work (after its first chunk);
    nothing when tqdm is absent or the work is short, unless ``enabled``
    says otherwise. A function as ``enabled`` is called instead of a bar."""

    def __init__(self, kind: str, enabled: "bool | Callable[[int, int], None] | None", *, desc: str | None = None,
                 unit: str = "rows", min_total: int = _PROGRESS_MIN_ROWS):
        self.kind, self.enabled = kind, enabled
        self.desc, self.unit, self.min_total = desc or f"import {kind}", unit, min_total
        self.bar: Any = None  # a tqdm bar, made once the size of the work is known

    def __enter__(self):
        if self.enabled is False:
            return None
        if callable(self.enabled):
            return self.enabled

        def report(done: int, total: int) -> None:
            if self.bar is None:
                if self.enabled is None and total < self.min_total:
                    return
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        from tqdm.auto import tqdm
                except ImportError:
                    self.enabled = False
                    return
                self.bar = tqdm(total=total, desc=self.desc, unit=self.unit)
            self.bar.update(done - self.bar.n)
        return report

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()

