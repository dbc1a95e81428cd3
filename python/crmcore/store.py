"""The record store: `crm.open(path)` and the `Database` it returns.

Records of every kind live in one SQLite file (or in memory). Bulk paths cross
into C++ as NumPy columns; there is no Python loop over rows.
"""
from __future__ import annotations

import contextlib
import datetime
import html
import json
import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import _core
from .graph import GraphMethods
from .schema import SchemaMethods
from .scoring import ScoringMethods

__all__ = ["Database", "ImportResult", "Record", "open"]

_KINDS = {k["name"]: k for k in _core.kinds()}
#: How deep custom values may nest objects and lists (a documented limit of the core).
MAX_CUSTOM_DEPTH = _core.MAX_CUSTOM_DEPTH
_NAT = np.iinfo(np.int64).min
# Show a progress bar for imports at least this long (when tqdm is installed).
_PROGRESS_MIN_ROWS = 200_000


def _fields(kind: str) -> dict:
    try:
        return {f["name"]: f for f in _KINDS[kind]["fields"]}
    except KeyError:
        raise _core.NotFound(f"no record kind {kind!r} (known kinds: {', '.join(_KINDS)})") from None


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


class Record(dict):
    """One record: a dict of its fields that shows as a table in Jupyter."""

    def __init__(self, kind: str, values: Mapping[str, Any], db: "Database | None" = None):
        super().__init__(values)
        self.kind = kind
        self._db = db

    def _repr_html_(self) -> str:
        title = self.get("name") or self.get("subject") or f"{self.kind} {self.get('id')}"
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(_show(v))}</td></tr>"
            for k, v in self.items()
            if v is not None and not (isinstance(v, float) and np.isnan(v)) and v != {} and v != []
        )
        parts = [f"<h4>{html.escape(str(title))} <small>({self.kind} #{self.get('id')})</small></h4>",
                 f"<table>{rows}</table>"]
        if self.kind == "customers" and self._db is not None:
            for kind, when in (("orders", "ordered_at"), ("interactions", "occurred_at"), ("tickets", "opened_at")):
                recent = self._db.find(kind, customer_id=self["id"])
                if len(recent):
                    recent = recent.sort_values(when, ascending=False).head(5)
                    shown = recent.drop(columns=["customer_id", "tags", "custom", "created_at", "updated_at"],
                                        errors="ignore").dropna(axis=1, how="all")
                    parts.append(f"<h5>Latest {kind} ({len(recent)} shown)</h5>" + shown.to_html())
        return "".join(parts)


def _show(v: Any) -> str:
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ")
    return str(v)


class Database(GraphMethods, ScoringMethods, SchemaMethods):
    """A crmcore store. Make one with :func:`crmcore.open`.

    >>> db = open(":memory:")
    >>> cid = db.add("customers", name="Acme", kind="organization", phone="+86 138 0013 8000")
    >>> db.find("customers", phone="138-0013-8000").index.tolist() == [cid]
    True
    """

    def __init__(self, path: str | os.PathLike = ":memory:"):
        self.path = os.fspath(path)
        self._store = _core.Store(self.path)

    # -- life cycle -------------------------------------------------------
    def close(self) -> None:
        """Closes the file; the Database cannot be used afterwards."""
        self._store = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<crmcore.Database {self.path!r}>"

    @property
    def _core(self) -> "_core.Store":
        if self._store is None:
            raise _core.Error(f"the database {self.path!r} is closed")
        return self._store

    @contextlib.contextmanager
    def transaction(self):
        """Groups writes so that they land together or not at all.

        >>> db = open()
        >>> with db.transaction():
        ...     cid = db.add("customers", name="Acme")
        ...     _ = db.add("contacts", name="Li Lei")
        >>> db.count("contacts")
        1
        """
        self._core.begin()
        try:
            yield self
        except BaseException:
            self._core.rollback()
            raise
        if self._core.commit():
            raise _core.InterruptedAfterCommit(
                "interrupted while the transaction committed: every write in it was saved; do not run it again")

    # -- single records ---------------------------------------------------
    def add(self, kind: str, /, **fields: Any) -> int:
        """Adds one record and returns its id.

        >>> db = open()
        >>> db.add("customers", name="王芳", phone="139 1234 5678", tags=["vip"]) > 0
        True
        """
        ids, _, interrupted, _ = self._core.insert(kind, _record_columns(kind, fields), "raise", None)
        _check_interrupted(interrupted, f"the {kind} record (id {int(ids[0])})", int(ids[0]))
        return int(ids[0])

    def get(self, kind: str, id: int) -> Record:
        """One record as a :class:`Record` (a dict with an HTML view)."""
        df = self.frame(kind, ids=[id])
        row = df.iloc[0]
        values = {"id": int(df.index[0])}
        for name, value in row.items():
            values[name] = _python_value(value)
        values["tags"] = list(values.get("tags") or [])
        values["custom"] = json.loads(values["custom"]) if values.get("custom") else {}
        return Record(kind, values, self)

    def update(self, kind: str, id: int, /, **fields: Any) -> None:
        """Sets the given fields of one record (None clears a field)."""
        _check_interrupted(self._core.update(kind, int(id), _record_columns(kind, fields)), f"the update of {kind} {id}")

    def delete(self, kind: str, id: int) -> None:
        """Deletes one record. Records still referring to it must go first; its
        link records (contact roles, stage history, campaign memberships,
        links) go with it, each named in the audit log."""
        _check_interrupted(self._core.remove(kind, int(id)), f"the deletion of {kind} {id}")

    def kind_of(self, id: int) -> str:
        """The kind of the record with this id (ids are unique across kinds)."""
        kind = self._core.kind_of(int(id))
        if not kind:
            raise _core.NotFound(f"no record with id {id}")
        return kind

    # -- links --------------------------------------------------------------
    def link(self, src: int, dst: int, type: str, /, **attrs: Any) -> int:
        """Links two records (customers, contacts, staff, ...); returns the link's id.

        >>> db = open()
        >>> a, b = db.add("contacts", name="Li Lei"), db.add("contacts", name="Han Meimei")
        >>> db.link(a, b, "knows", strength=0.8) > 0
        True
        """
        return self.add("links", src=int(src), dst=int(dst), type=type, **attrs)

    def unlink(self, src: int, dst: int, type: str | None = None) -> int:
        """Removes the links from src to dst (of one type, or all); returns how many."""
        links = self.find("links", src=int(src), dst=int(dst), **({"type": type} if type else {}))
        for link_id in links.index:
            self.delete("links", int(link_id))
        return len(links)

    # -- lookups ------------------------------------------------------------
    def find(self, kind: str, /, **criteria: Any) -> pd.DataFrame:
        """Records matching every criterion, as a DataFrame indexed by id.

        ``phone=`` matches whatever the formatting (a number found under
        no other form is also tried with and without its country code:
        "(415) 555-0123" finds "+1 415 555 0123"), ``email=`` ignores case,
        ``name=`` is a substring (any script), ``tag=`` a tag; any other
        field matches by equality, so ``find("orders", customer_id=7)`` gives
        a customer's orders.

        >>> db = open()
        >>> cid = db.add("customers", name="上海星海科技有限公司", phone="021-6552 1234")
        >>> db.find("customers", name="星海").index.tolist() == [cid]
        True
        """
        if not criteria:
            raise ValueError("find needs at least one criterion, e.g. phone=... or name=...")
        ids = None
        for field, value in criteria.items():
            found = self._core.find(kind, field, _criterion_text(value))
            ids = found if ids is None else np.intersect1d(ids, found)
        return self.frame(kind, ids=ids)

    def match(self, kind: str, /, **values: Iterable[Any]) -> pd.DataFrame:
        """For each of many phone numbers or e-mail addresses, the record it names.

        The bulk form of ``find`` for matching a call log or a mailing list
        against the store: one keyword, a phone or e-mail field, with a
        column of values, matched by the same rules as ``find``, in one call
        into the core. Returns a DataFrame aligned with the values (their
        index, if a Series): ``id``, the lowest matching id (<NA> for none),
        and ``matches``, how many records the value names.

        >>> db = open()
        >>> a = db.add("customers", name="A", phone="+86 138 0013 8000")
        >>> m = db.match("customers", phone=["138-0013-8000", "139 0000 0000"])
        >>> int(m["id"].iloc[0]) == a, m["matches"].tolist()
        (True, [1, 0])
        """
        if len(values) != 1:
            raise ValueError("match takes one keyword, e.g. phone=calls['number'] or email=...")
        (field, column), = values.items()
        column = column if isinstance(column, pd.Series) else pd.Series(list(column), dtype=object)
        texts = column.astype("string").astype(object).where(column.notna(), None).tolist()
        ids, counts = self._core.match(kind, field, texts)
        return pd.DataFrame({"id": pd.arrays.IntegerArray(ids, ids < 0), "matches": counts}, index=column.index)

    # -- frames ---------------------------------------------------------------
    def frame(self, kind: str, ids: Iterable[int] | None = None,
              columns: Iterable[str] | None = None) -> pd.DataFrame:
        """All records of a kind (or those with the given ids) as a DataFrame indexed by id.

        ``columns`` reads only those fields (in that order), which is much
        faster than reading every field of a large kind and selecting after.

        >>> db = open()
        >>> _ = db.add("products", sku="A-1", name="Tea", list_price=9.5)
        >>> db.frame("products")["name"].tolist()
        ['Tea']
        >>> db.frame("products", columns=["sku", "list_price"]).columns.tolist()
        ['sku', 'list_price']
        """
        wanted = None if ids is None else np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids,
                                                      dtype=np.int64)
        names = None if columns is None else [columns] if isinstance(columns, str) else list(columns)
        return _frame(kind, self._core.select(kind, wanted, names))

    def count(self, kind: str) -> int:
        """How many records of a kind the store holds."""
        return int(self._core.count(kind))

    def counts(self) -> pd.Series:
        """Records per kind."""
        return pd.Series({k: self.count(k) for k in _KINDS}, name="records")

    # -- bulk -------------------------------------------------------------------
    def import_frame(self, kind: str, df: pd.DataFrame, on_error: str = "raise",
                     progress: bool | None = None, *, mode: str = "insert",
                     key: "str | list[str] | None" = None) -> "np.ndarray | ImportResult":
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
        the store. So ``db.frame(kind)`` can be edited and written back.

        With ``on_error="raise"`` (the default) the import is all or nothing:
        a bad row raises :class:`crmcore.ValidationError` naming the row, the
        column and the reason, and the store is as it was. With
        ``on_error="skip"`` the good rows land and the bad ones are listed.
        Inserts return the new ids in row order (an :class:`ImportResult`
        with ``on_error="skip"``); upserts and updates an :class:`ImportResult`
        whose ``updated`` says which rows updated a record.

        >>> db = open()
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
        if mode == "insert":
            if key is not None:
                raise ValueError("key= names the records an upsert or update writes to; an insert adds new records")
            columns = _columns(kind, df)
            with _progress_bar(kind, progress) as report:
                ids, errors, interrupted, _ = self._core.insert(kind, columns, on_error, report)
            result = _import_result(ids, errors, on_error, df)
            _check_interrupted(interrupted, f"the import of {int((ids >= 0).sum())} {kind}", result)
            return result
        if df.index.name == "id" and "id" not in df.columns:
            df = df.reset_index()
        df = df.drop(columns=[c for c in ("created_at", "updated_at") if c in df.columns])
        keys = _upsert_key(df, key)
        with _progress_bar(kind, progress) as report:
            ids, errors, interrupted, updated = self._core.upsert(
                kind, _columns(kind, df), keys, mode == "upsert", on_error, report)
        result = _import_result(ids, errors, "skip", df)
        result.updated = updated.astype(bool)
        _check_interrupted(interrupted, f"the {mode} of {result.imported} {kind}", result)
        return result

    def delete_many(self, kind: str, ids: Iterable[int], dependants: str = "refuse") -> int:
        """Deletes many records in one transaction; returns how many were asked for.

        A record that other records still refer to (a customer with orders) is
        refused with ``dependants="refuse"`` (the default), and nothing is
        deleted; with ``dependants="delete"`` the records that refer to it go
        too, and theirs, recursively. Link records (contact roles, stage
        history, links) always go with their record. Every removed row has its
        audit entry, naming in ``cause_id`` the record whose deletion took it.

        >>> db = open()
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=10.0)
        >>> db.delete_many("customers", [c], dependants="delete"), db.count("orders")
        (1, 0)
        """
        if dependants not in ("refuse", "delete"):
            raise ValueError(f"dependants must be 'refuse' or 'delete', not {dependants!r}")
        wanted = np.asarray(list(ids) if not isinstance(ids, (np.ndarray, pd.Index, pd.Series)) else ids,
                            dtype=np.int64)
        _check_interrupted(self._core.remove_many(kind, wanted, dependants == "delete"),
                           f"the deletion of {len(wanted)} {kind}")
        return len(wanted)

    def import_csv(self, kind: str, path: str | os.PathLike, on_error: str = "raise", **read_csv_args: Any):
        """Imports a CSV file (read as text; the store converts and checks each value).

        Rows in errors are counted from 0 at the first data line.
        """
        read_csv_args.setdefault("dtype", str)
        read_csv_args.setdefault("keep_default_na", False)
        read_csv_args.setdefault("na_values", [""])
        return self.import_frame(kind, pd.read_csv(path, **read_csv_args), on_error=on_error)

    def import_json(self, kind: str, path: str | os.PathLike, on_error: str = "raise",
                    progress: bool | None = None) -> "np.ndarray | ImportResult":
        """Imports a JSON file holding a list of records (as written by :meth:`export_json`),
        or an object whose member ``kind`` is that list.

        The file is read and checked in C++ and imported like a DataFrame
        (all or nothing, or ``on_error="skip"``); rows count from 0 in the
        list. Ids, created_at and updated_at in the file are ignored: the
        store gives new ids, returned in the file's order.
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")
        with _progress_bar(kind, progress) as report:
            ids, errors, interrupted, _ = self._core.import_json(kind, os.fspath(path), on_error, report)
        result = _import_result(ids, errors, on_error)
        _check_interrupted(interrupted, f"the import of {int((ids >= 0).sum())} {kind}", result)
        return result

    def export_json(self, kind: str, path: str | os.PathLike) -> int:
        """Writes every record of a kind to a JSON file, one object per line in
        one list (times as ISO 8601 text, tags as a list, custom fields as an
        object); returns how many records it wrote."""
        return int(self._core.export_json(kind, os.fspath(path)))

    # -- the file -----------------------------------------------------------------
    def integrity_check(self) -> str:
        """'ok' when SQLite's integrity and foreign-key checks find nothing wrong."""
        return self._core.integrity_check()

    def schema_version(self) -> int:
        """The version of the file's layout; opening an older file brings it up to date."""
        return int(self._core.schema_version())

    def audit_log(self, limit: int = 100) -> pd.DataFrame:
        """The newest writes: when, what operation, which kind, how many rows, which ids.

        The rows one write gave or touched have the consecutive ids
        ``first_id`` to ``last_id`` (missing when no row landed), so an
        import's records are ``db.frame(kind).loc[first_id:last_id]``. A
        record removed because the record it belonged to was deleted (a
        customer's contact roles, links) has its own entry, with that
        record's id in ``cause_id``.

        >>> db = open()
        >>> ids = db.import_frame("customers", pd.DataFrame({"name": ["A", "B", "C"]}))
        >>> entry = db.audit_log().iloc[0]
        >>> (entry["op"], entry["rows"], entry["first_id"], entry["last_id"]) == ("insert", 3, ids[0], ids[-1])
        True
        """
        cols = {name: (values, valid) for name, values, valid in self._core.audit_log(limit)}
        df = pd.DataFrame({name: values for name, (values, _) in cols.items()}).set_index("seq")
        df["at"] = pd.to_datetime(df["at"], unit="ns")
        for name in ("first_id", "last_id", "cause_id"):
            ids, present = cols[name]
            df[name] = pd.arrays.IntegerArray(ids, ~present.astype(bool))
        return df[["at", "op", "kind", "rows", "first_id", "last_id", "cause_id"]]


def open(path: str | os.PathLike = ":memory:") -> Database:  # noqa: A001 - the contract name is crm.open
    """Opens (or creates) a crmcore store: an SQLite file, or ``":memory:"``.

    >>> with open(":memory:") as db:
    ...     db.count("customers")
    0
    """
    return Database(path)


# -- conversions between pandas and the core's columns ------------------------

def _record_columns(kind: str, fields: Mapping[str, Any]) -> list:
    """The core's columns for one record given as keyword fields.

    The same as ``_columns`` of a one-row DataFrame, made without pandas:
    building that DataFrame took about 350 µs of every ``db.add``.
    """
    out = []
    for name, value in fields.items():
        problems = None
        if name == "custom":
            value, problem = _custom_text(value)
            problems = None if problem is None else [(0, problem)]
        valid = None
        if _is_missing(value):
            value, valid = None, np.zeros(1, dtype=bool)
        if isinstance(value, (bool, np.bool_)):
            values = np.array([value], dtype=bool)  # a flag, which the core keeps apart from numbers
        elif isinstance(value, (int, np.integer)) and -2**63 <= value < 2**63:
            values = np.array([value], dtype=np.int64)
        elif isinstance(value, (float, np.floating)):
            values = np.array([value], dtype=np.float64)
        elif isinstance(value, (datetime.datetime, np.datetime64)):
            stamp = pd.Timestamp(value)
            if stamp.tz is not None:
                stamp = stamp.tz_convert("UTC").tz_localize(None)
            values = np.array([stamp.as_unit("ns").value], dtype="datetime64[ns]")
        else:  # text, a list of tags, and anything the core reads as text (a date, a Decimal, ...) or refuses
            values = np.empty(1, dtype=object)
            values[0] = value
        out.append((str(name), values, valid, problems))
    return out


def _custom_text(value: Any) -> "tuple[Any, str | None]":
    """Custom fields given as a dict (or list of pairs), as JSON text for the
    core, and the reason they cannot be, if so. The depth is checked before
    ``json.dumps`` sees the value: its recursion is the interpreter's stack."""
    if not isinstance(value, Mapping):
        return value, None  # text (checked by the core), or missing
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CUSTOM_DEPTH:
            return None, f"is nested more than {MAX_CUSTOM_DEPTH} levels deep (the limit for custom values)"
        if isinstance(item, Mapping):
            for key in item:
                if not isinstance(key, str):
                    return None, f"has the key {key!r}: custom field names must be text"
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_scalar), None
    except (TypeError, ValueError) as e:
        return None, f"cannot be written as JSON: {e}"


def _json_scalar(value: Any) -> Any:
    """A custom value that json cannot write itself: a date or time as ISO
    text (a declared time field keeps it in canonical form), a NumPy number
    as a Python one."""
    if isinstance(value, (datetime.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.tz is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _check_interrupted(interrupted: bool, what: str, result: Any = None) -> None:
    """Raises InterruptedAfterCommit when Ctrl-C came while a write committed."""
    if interrupted:
        exc = _core.InterruptedAfterCommit(f"interrupted while {what} committed: it was saved; do not run it again")
        exc.result = result
        raise exc


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating, np.datetime64)):
        return bool(pd.isna(value))
    return False


def _criterion_text(value: Any) -> str:
    if isinstance(value, (pd.Timestamp,)) or hasattr(value, "isoformat"):
        return pd.Timestamp(value).isoformat(sep=" ")
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _columns(kind: str, df: pd.DataFrame) -> list:
    """(name, values, valid, problems) for the core; no Python loop over rows
    but for custom fields given as dicts."""
    fields = _fields(kind)
    out = []
    for name in df.columns:
        s = df[name]
        if isinstance(s, pd.DataFrame):
            raise _core.ValidationError(f"{kind}: column {name!r} appears more than once")
        valid = s.notna().to_numpy()
        valid_or_none = None if valid.all() else valid
        problems = None
        dtype = s.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            s = s.astype(object)
            dtype = s.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            if getattr(dtype, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            values = s.astype("datetime64[ns]").to_numpy()
        elif pd.api.types.is_bool_dtype(dtype):
            values = s.to_numpy(dtype=bool, na_value=False)
        elif pd.api.types.is_integer_dtype(dtype):
            values = s.to_numpy(dtype=np.uint64 if dtype.kind == "u" else np.int64, na_value=0)
        elif pd.api.types.is_float_dtype(dtype):
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            if name == "custom":
                converted = s.map(_custom_text)
                s = converted.map(lambda pair: pair[0])
                reasons = converted.map(lambda pair: pair[1]).to_numpy(dtype=object)
                bad = np.flatnonzero(pd.notna(reasons))
                problems = [(int(row), reasons[row]) for row in bad] or None
            elif fields.get(name, {}).get("type") == "time":
                s = s.map(lambda t: t.isoformat() if hasattr(t, "isoformat") and not isinstance(t, str) else t)
            values = s.to_numpy(dtype=object)
        out.append((str(name), values, valid_or_none, problems))
    return out


def _frame(kind: str, columns: list) -> pd.DataFrame:
    fields = _fields(kind)
    data = {}
    index = None
    for name, values, valid in columns:
        missing = None if valid is None else ~valid.astype(bool)
        f = fields.get(name)
        ftype = f["type"] if f else ("time" if name in ("created_at", "updated_at") else None)
        if name == "id":
            index = pd.Index(values, name="id")
            continue
        if ftype == "time":
            if missing is not None:
                values[missing] = _NAT
            col = values.view("datetime64[ns]")
        elif ftype in ("integer", "ref", "anyref"):
            col = values if missing is None or (f and f["required"]) else pd.arrays.IntegerArray(values, missing)
        elif ftype == "bool":
            col = pd.arrays.BooleanArray(values.astype(bool), missing if missing is not None
                                         else np.zeros(len(values), dtype=bool))
        else:
            col = values
        data[name] = col
    return pd.DataFrame(data, index=index if index is not None else pd.Index([], name="id", dtype=np.int64))


def _python_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _upsert_key(df: pd.DataFrame, key: "str | list[str] | None") -> "list[str]":
    """The fields that name each row's record: as given, or the natural one."""
    if key is not None:
        return [key] if isinstance(key, str) else list(key)
    if "id" in df.columns:
        return ["id"]
    if "external_id" in df.columns:
        return ["external_source", "external_id"] if "external_source" in df.columns else ["external_id"]
    raise ValueError("an upsert or update needs key=, or an 'id' or 'external_id' column to name each row's record")


def _import_result(ids: np.ndarray, errors: list, on_error: str, rows: pd.DataFrame | None = None):
    """What an import returns: the ids, or with on_error="skip" an ImportResult
    whose errors carry the rejected rows' values when the rows are at hand."""
    if on_error == "raise":
        return ids
    errors_df = pd.DataFrame(errors, columns=["row", "field", "reason"]).set_index("row")
    if len(errors_df) and rows is not None:
        errors_df = errors_df.join(rows.reset_index(drop=True), how="left")
    return ImportResult(ids=ids, errors=errors_df)


class _progress_bar:
    """A tqdm bar for long imports, drawn once the core reports the size of
    the import (after its first chunk); nothing when tqdm is absent or the
    import is short, unless ``enabled`` says otherwise."""

    def __init__(self, kind: str, enabled: bool | None):
        self.kind, self.enabled = kind, enabled
        self.bar = None

    def __enter__(self):
        if self.enabled is False:
            return None

        def report(done: int, total: int) -> None:
            if self.bar is None:
                if self.enabled is None and total < _PROGRESS_MIN_ROWS:
                    return
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        from tqdm.auto import tqdm
                except ImportError:
                    self.enabled = False
                    return
                self.bar = tqdm(total=total, desc=f"import {self.kind}", unit="rows")
            self.bar.update(done - self.bar.n)
        return report

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
