"""The record store: `crm.open(path)` and the `Database` it returns.

Records of every kind live in one SQLite file (or in memory). Bulk paths cross
into C++ as NumPy columns; there is no Python loop over rows. Here are the
records one at a time, lookups, frames and merges; imports and other bulk
work are in _bulk.py, backups and the file's checks in _file.py.
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import _convert, _core, _query
from ._convert import _KINDS, _NAT, _field_name, _frame, _python_value, _record_columns, object_array, text_array
from ._args import _record_id
from ._bulk import BulkMethods, ImportResult, _check_interrupted
from ._file import FileMethods, restore
from .access import AccessHandles
from .audit import AuditMethods, default_actor
from .duplicates import DuplicateMethods
from .relationships import GraphMethods
from .similarity import SimilarityMethods
from .automation import AutomationMethods
from .care import CareMethods
from .marketing import MarketingMethods
from .members import MemberMethods
from .partners import PartnerMethods
from .sales import SalesMethods
from .schema import SchemaMethods
from .scoring import ScoringMethods
from .service import ServiceMethods
from .stock import StockMethods

__all__ = ["Database", "ImportResult", "Record", "open", "restore"]

# The deepest custom-field nesting a store takes (the README names crm.store.MAX_CUSTOM_DEPTH).
MAX_CUSTOM_DEPTH = _convert.MAX_CUSTOM_DEPTH




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


class Database(GraphMethods, SimilarityMethods, ScoringMethods, DuplicateMethods, SchemaMethods, AuditMethods,
               AccessHandles, BulkMethods, FileMethods):
    """A crmcore store. Make one with :func:`crmcore.open`.

    >>> db = open(":memory:")
    >>> cid = db.add("customers", name="Acme", kind="organization", phone="+86 138 0013 8000")
    >>> db.find("customers", phone="138-0013-8000").index.tolist() == [cid]
    True
    """

    def __init__(self, path: str | os.PathLike = ":memory:", *, actor: "int | str | None" = None,
                 readonly: bool = False, allow_foreign: bool = False, create: bool = True):
        path = os.fspath(path)
        self._store = _core.Store(path, readonly, allow_foreign, create)
        # A server's password stays out of reprs, messages and reports.
        self.path = re.sub(r"^(postgres(?:ql)?://[^/@:]*:)[^/@]*@", r"\1***@", path)
        self.actor = default_actor() if actor is None else actor

    # -- life cycle -------------------------------------------------------
    def close(self) -> None:
        """Closes the file; the Database cannot be used afterwards. Returns None.

        >>> db = open()
        >>> db.close()
        """
        self._store = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<crmcore.Database {self.path!r}>"

    @property
    def sales(self) -> SalesMethods:
        """Pipelines, stage moves and sales analyses: ``db.sales.<TAB>``."""
        return SalesMethods(self)

    @property
    def automation(self) -> AutomationMethods:
        """Rules that act, their runs, the outbox and playbooks: ``db.automation.<TAB>``."""
        return AutomationMethods(self)

    @property
    def members(self) -> MemberMethods:
        """Membership programmes, tiers and the points ledger: ``db.members.<TAB>``."""
        return MemberMethods(self)

    @property
    def service(self) -> ServiceMethods:
        """Tickets, SLAs, caller ID and the customer timeline: ``db.service.<TAB>``."""
        return ServiceMethods(self)

    @property
    def marketing(self) -> MarketingMethods:
        """Segments, campaign effect and prospects: ``db.marketing.<TAB>``."""
        return MarketingMethods(self)

    @property
    def care(self) -> CareMethods:
        """Greetings for birthdays and festivals, owners' neglected customers: ``db.care.<TAB>``."""
        return CareMethods(self)

    @property
    def stock(self) -> StockMethods:
        """Purchasing, stock movements, levels and valuation: ``db.stock.<TAB>``."""
        return StockMethods(self)

    @property
    def partners(self) -> PartnerMethods:
        """Suppliers, partners, supplier scorecards and commissions: ``db.partners.<TAB>``."""
        return PartnerMethods(self)

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
        """Adds one record of a kind, with the given fields, and returns its id.

        >>> db = open()
        >>> db.add("customers", name="王芳", phone="139 1234 5678", tags=["vip"]) > 0
        True
        """
        ids, _, interrupted, _ = self._core.insert(kind, _record_columns(kind, fields), "raise", None)
        _check_interrupted(interrupted, f"the {kind} record (id {int(ids[0])})", int(ids[0]))
        return int(ids[0])

    def get(self, kind: str, id: int) -> Record:
        """One record of a kind by its id, as a :class:`Record` (a dict with an
        HTML view) holding "id", every field of the kind, "tags" (a list) and
        "custom" (a dict).

        >>> db = open()
        >>> cid = db.add("customers", name="Acme", tags=["vip"])
        >>> record = db.get("customers", cid)
        >>> record["name"], record["tags"]
        ('Acme', ['vip'])
        """
        df = self.frame(kind, ids=[_record_id(id, kind)])
        row = df.iloc[0]
        values: dict[str, Any] = {"id": int(df.index[0])}
        for name, value in row.items():
            values[name] = _python_value(value)
        values["tags"] = list(values.get("tags") or [])
        values["custom"] = json.loads(values["custom"]) if values.get("custom") else {}
        return Record(kind, values, self)

    def update(self, kind: str, id: int, /, **fields: Any) -> None:
        """Sets the given fields of the record of a kind with this id (None clears
        a field); returns None.

        >>> db = open()
        >>> cid = db.add("customers", name="Acme")
        >>> db.update("customers", cid, name="Acme Ltd")
        >>> db.get("customers", cid)["name"]
        'Acme Ltd'
        """
        _check_interrupted(self._core.update(kind, _record_id(id, kind), _record_columns(kind, fields)),
                           f"the update of {kind} {id}")

    def delete(self, kind: str, id: int) -> None:
        """Deletes one record. Records still referring to it must go first; its
        link records (contact roles, stage history, campaign memberships,
        links) go with it, each named in the audit log. kind and id name the
        record; returns None.

        >>> db = open()
        >>> cid = db.add("customers", name="Acme")
        >>> db.delete("customers", cid)
        >>> db.count("customers")
        0
        """
        _check_interrupted(self._core.remove(kind, _record_id(id, kind)), f"the deletion of {kind} {id}")

    def kind_of(self, id: int) -> str:
        """The kind of the record with this id (ids are unique across kinds), as a str.

        >>> db = open()
        >>> db.kind_of(db.add("contacts", name="Li Lei"))
        'contacts'
        """
        kind = self._core.kind_of(_record_id(id, "kind_of"))
        if not kind:
            raise _core.NotFound(f"no record with id {id}")
        return kind

    # -- links --------------------------------------------------------------
    def link(self, src: int, dst: int, type: str, /, **attrs: Any) -> int:
        """Links two records (customers, contacts, staff, ...), src to dst, with a
        type and optional attrs (strength, ...); returns the link's id.

        >>> db = open()
        >>> a, b = db.add("contacts", name="Li Lei"), db.add("contacts", name="Han Meimei")
        >>> db.link(a, b, "knows", strength=0.8) > 0
        True
        """
        return self.add("links", src=_record_id(src, "links", "src"), dst=_record_id(dst, "links", "dst"), type=type, **attrs)

    def unlink(self, src: int, dst: int, type: str | None = None) -> int:
        """Removes the links from src to dst (of one type, or all when type is
        None); returns how many were removed.

        >>> db = open()
        >>> a, b = db.add("contacts", name="Li Lei"), db.add("contacts", name="Han Meimei")
        >>> _ = db.link(a, b, "knows")
        >>> db.unlink(a, b, "knows")
        1
        """
        criteria: dict[str, Any] = {"src": _record_id(src, "links", "src"), "dst": _record_id(dst, "links", "dst")}
        if type:
            criteria["type"] = type
        links = self.find("links", **criteria)
        for link_id in links.index:
            self.delete("links", int(link_id))
        return len(links)

    # -- lookups ------------------------------------------------------------
    def find(self, kind: str, /, filters: Any = None, *, order_by: Any = None, limit: int | None = None,
             offset: int | None = None, **criteria: Any) -> pd.DataFrame:
        """Records matching every criterion, as a DataFrame indexed by id.

        Keyword criteria: ``phone=`` matches whatever the formatting (a
        number found under no other form is also tried with and without its
        country code: "(415) 555-0123" finds "+1 415 555 0123"), ``email=``
        ignores case, ``name=`` is a substring (any script, ASCII letters in
        either case), ``tag=`` a tag, ``role=`` a role of the record
        (customers: ``"supplier"``, ``"partner"``, its ``is_<role>`` flag);
        any other field matches by equality,
        so ``find("orders", customer_id=7)`` gives a customer's orders. A
        list means any of its values, None a missing value.

        ``filters`` are conditions in the form of ``pandas.read_parquet`` /
        pyarrow (see :meth:`ids` for every operator), ANDed with the
        keywords; ``order_by`` names fields ("-amount" for descending),
        ``limit`` and ``offset`` take a slice of the result.

        >>> db = open()
        >>> cid = db.add("customers", name="上海星海科技有限公司", phone="021-6552 1234")
        >>> db.find("customers", name="星海").index.tolist() == [cid]
        True
        >>> _ = db.import_frame("orders", pd.DataFrame({"customer_id": cid, "amount": [50.0, 900.0, 1200.0],
        ...     "ordered_at": ["2025-01-05", "2025-02-01", "2025-03-18"], "status": ["paid", "paid", "refunded"]}))
        >>> db.find("orders", [("amount", ">=", 100), ("ordered_at", "<", "2025-03-01")])["amount"].tolist()
        [900.0]
        >>> db.find("orders", status=["paid", "shipped"], order_by="-amount", limit=1)["amount"].tolist()
        [900.0]
        """
        if filters is None and not criteria:
            raise ValueError("find needs at least one criterion, e.g. phone=... or name=..., or filters=[...]")
        limit, offset = _query.window(limit, offset, "find")
        return _frame(kind, self._core.select_query(kind, _query.groups(kind, filters, criteria),
                                                    _query.order(kind, order_by), limit, offset))

    def ids(self, kind: str, /, filters: Any = None, *, order_by: Any = None, limit: int | None = None,
            offset: int | None = None, **criteria: Any) -> np.ndarray:
        """The ids of the records that satisfy ``filters`` and the keyword
        criteria of :meth:`find`, as a NumPy array (nothing else is read).

        ``filters`` take the form of ``pandas.read_parquet`` and pyarrow: a
        tuple ``(field, op, value)``; a list of tuples that must all hold; or
        a list of such lists, any of which must hold. Fields are the kind's
        fields, ``id``, ``created_at``, ``updated_at``, ``tags`` and
        ``"custom.<key>"`` (``"custom.a.b"`` for a nested key). Operators:

        - ``==`` (or ``=``), ``!=``, ``<``, ``<=``, ``>``, ``>=``, and
          ``between`` with ``(low, high)``, both ends included: values are
          read as the field's type, so ``"2025-01-05"`` is a date for a time
          field; text compares by code point, case as given.
        - ``in`` and ``not in`` with a list.
        - ``is null`` and ``not null``; ``("f", "==", None)`` is ``is null``,
          ``("f", "!=", None)`` is ``not null``, and None in an ``in`` list
          matches a missing value. Any other condition is false where the
          field is missing (``!=`` and ``not in`` too, as in SQL and pyarrow).
        - ``contains`` and ``startswith`` (case as given), ``icontains`` and
          ``istartswith`` (ASCII letters in either case; other scripts, such
          as Chinese, compare exactly), with a text or a list of them (any).
        - tags: ``any``, ``all`` and ``none`` with a tag or a list of them;
          ``is null`` for no tags.

        Phone and e-mail fields compare after normalization, as ``find``
        does (``==``, ``!=``, ``in``, ``not in``). Custom values have no
        declared type: 3 matches the number 3, not the text "3", and ``<``
        compares numbers with numbers and text with text. Unknown fields,
        operators and values that do not convert raise
        :class:`crmcore.ValidationError` naming the field. Values are always
        bound, never pasted into SQL. A selective condition on a field with
        an index (:meth:`create_index`) reads only the matching records.

        >>> db = open()
        >>> a = db.add("customers", name="Acme", region="华东", tags=["vip", "b2b"], custom={"level": 3})
        >>> b = db.add("customers", name="Bolt", region="华北", tags=["b2b"])
        >>> db.ids("customers", [("tags", "all", ["vip", "b2b"])]).tolist() == [a]
        True
        >>> db.ids("customers", [[("custom.level", ">=", 2)], [("region", "==", "华北")]]).tolist() == [a, b]
        True
        >>> db.ids("customers", region=None).tolist()
        []
        """
        limit, offset = _query.window(limit, offset, "ids")
        return self._core.query(kind, _query.groups(kind, filters, criteria), _query.order(kind, order_by),
                                limit, offset)

    def query_plan(self, kind: str, /, filters: Any = None, *, order_by: Any = None, **criteria: Any) -> str:
        """How SQLite runs the query of :meth:`ids` with these conditions: one
        step a line, "SEARCH ... USING INDEX" where an index serves one.

        >>> db = open()
        >>> db.create_index("customers", "region")
        True
        >>> "crm_idx_customers_region" in db.query_plan("customers", region="华东")
        True
        """
        return self._core.query_plan(kind, _query.groups(kind, filters, criteria), _query.order(kind, order_by),
                                     -1, 0)

    def create_index(self, kind: str, field: str) -> bool:
        """Indexes a field, so that a selective condition on it (``==``,
        ``in``, ranges, ``startswith``) reads only the matching records
        instead of all of them. Returns False when the field is indexed
        already: references, unique fields, phone, e-mail and tags are from
        the start. The index is kept in the file (``crm_idx_<kind>_<field>``);
        building it reads every record of the kind once.

        >>> db = open()
        >>> db.create_index("orders", "status"), db.create_index("orders", "status")
        (True, False)
        >>> "status" in db.indexes("orders")
        True
        """
        return bool(self._core.create_index(kind, field))

    def drop_index(self, kind: str, field: str) -> bool:
        """Removes the index on a field of a kind made by :meth:`create_index`;
        returns True, or False when there was none.

        >>> db = open()
        >>> _ = db.create_index("customers", "region")
        >>> db.drop_index("customers", "region"), db.drop_index("customers", "region")
        (True, False)
        """
        return bool(self._core.drop_index(kind, field))

    def indexes(self, kind: str) -> list:
        """The fields of a kind that conditions look up by an index, as a list of names.

        >>> db = open()
        >>> _ = db.create_index("customers", "region")
        >>> "region" in db.indexes("customers")
        True
        """
        return list(self._core.indexes(kind))

    def match(self, kind: str, /, **values: Iterable[Any]) -> pd.DataFrame:
        """For each of many phone numbers or e-mail addresses, the record of a kind it names.

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
        # Text as it is (pyarrow strings would refuse a lone surrogate before
        # the core says it names nothing), numbers as their text.
        missing = column.isna().to_numpy()
        texts = [None if gone else v if isinstance(v, str) else str(v)
                 for v, gone in zip(column.to_numpy(dtype=object), missing)]
        ids, counts = self._core.match(kind, field, texts)
        return pd.DataFrame({"id": pd.arrays.IntegerArray(ids, ids < 0), "matches": counts}, index=column.index)

    # -- frames ---------------------------------------------------------------
    def frame(self, kind: str, ids: Iterable[int] | None = None, columns: Iterable[str] | None = None,
              filters: Any = None, *, order_by: Any = None, limit: int | None = None,
              offset: int | None = None) -> pd.DataFrame:
        """All records of a kind (or those with the given ids) as a DataFrame indexed by id.

        ``columns`` reads only those fields (in that order), which is much
        faster than reading every field of a large kind and selecting after.
        ``filters``, ``order_by``, ``limit`` and ``offset`` select records as
        :meth:`ids` does, in the store, so that only those are read; with
        them, ``ids`` is one more condition (ids not in the store are left
        out rather than refused).

        >>> db = open()
        >>> _ = db.add("products", sku="A-1", name="Tea", list_price=9.5)
        >>> _ = db.add("products", sku="B-2", name="Green tea", list_price=30.0)
        >>> db.frame("products")["name"].tolist()
        ['Tea', 'Green tea']
        >>> db.frame("products", columns=["sku", "list_price"]).columns.tolist()
        ['sku', 'list_price']
        >>> db.frame("products", filters=[("list_price", "between", (10, 50))], columns=["sku"])["sku"].tolist()
        ['B-2']
        """
        names = None if columns is None else [_field_name(c) for c in ([columns] if isinstance(columns, str)
                                                                         else columns)]
        if filters is not None or order_by is not None or limit is not None or offset is not None:
            limit, offset = _query.window(limit, offset, "frame")
            return _frame(kind, self._core.select_query(kind, _query.groups(kind, filters, {}, ids),
                                                        _query.order(kind, order_by), limit, offset, names))
        wanted = None if ids is None else np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids,
                                                      dtype=np.int64)
        return _frame(kind, self._core.select(kind, wanted, names))

    def count(self, kind: str) -> int:
        """How many records of a kind the store holds, as an int.

        >>> db = open()
        >>> _ = db.add("customers", name="Acme")
        >>> db.count("customers")
        1
        """
        return int(self._core.count(kind))

    def counts(self) -> pd.Series:
        """Records per kind: a Series indexed by kind, named "records".

        >>> db = open()
        >>> _ = db.add("customers", name="Acme")
        >>> int(db.counts()["customers"])
        1
        """
        return pd.Series({k: self.count(k) for k in _KINDS}, name="records")

    def merge(self, kind: str, keep: int, others: Iterable[int], prefer: "Mapping[str, int] | None" = None) -> int:
        """Folds duplicate records into one, in one transaction; returns the merge's number.

        Every reference to ``others`` in every kind (orders, contact roles,
        links, deals, tickets, interactions, campaign members, ...) moves to
        ``keep``; a link record that would then repeat one of keep's (the same
        contact twice) or join keep to itself goes. Keep's empty fields take
        the others' values (the first in ``others`` that has one), phones,
        e-mails, tags and custom fields are united (keep's custom value wins a
        conflict), and ``prefer`` maps a field to the record whose value it
        takes. A reference of keep's own kind (a partner, a manager) that
        would then name keep itself or one of the others is cleared. The
        others are then deleted. Each change is in the audit log,
        and :meth:`unmerge` undoes the whole merge.

        >>> db = open()
        >>> a = db.add("customers", name="星海科技", phone="138 0013 8000", tags=["vip"])
        >>> b = db.add("customers", name="星海科技有限公司", phone="+86 139 1234 5678", region="华东")
        >>> _ = db.add("orders", customer_id=b, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.merge("customers", a, [b])
        >>> db.get("customers", a)["region"], db.find("orders", customer_id=a)["amount"].tolist()
        ('华东', [100.0])
        >>> db.unmerge(m); db.find("orders", customer_id=b)["amount"].tolist()
        [100.0]
        """
        merge_id, interrupted = self._core.merge(
            kind, _record_id(keep, kind, "keep"), [_record_id(i, kind, "others") for i in others],
            [(str(f), _record_id(i, kind, f"prefer[{f!r}]")) for f, i in (prefer or {}).items()])
        _check_interrupted(interrupted, f"the merge into {kind} {keep}", int(merge_id))
        return int(merge_id)

    def unmerge(self, merge: int) -> None:
        """Undoes a merge (see :meth:`merge`): the merged records come back with
        their ids and values, references that still point at the kept record
        return to them, and the kept record's fields are as before the merge.
        merge is the id :meth:`merge` returned; returns None.

        >>> db = open()
        >>> a, b = db.add("customers", name="Acme"), db.add("customers", name="ACME")
        >>> db.unmerge(db.merge("customers", a, [b]))
        >>> db.count("customers")
        2
        """
        _check_interrupted(self._core.unmerge(_record_id(merge, "merges", "merge")), f"undoing merge {merge}")

    def merges(self) -> pd.DataFrame:
        """Every merge, one row each, indexed by merge id, with columns at (when),
        kind, keep_id, merged_ids (a list) and undone_at (NaT while in force).

        >>> db = open()
        >>> a, b = db.add("customers", name="Acme"), db.add("customers", name="ACME")
        >>> _ = db.merge("customers", a, [b])
        >>> db.merges()[["kind", "keep_id", "merged_ids"]].values.tolist() == [["customers", a, [b]]]
        True
        """
        cols = {name: (values, valid) for name, values, valid in self._core.merges()}
        df = pd.DataFrame({name: values for name, (values, _) in cols.items()}).set_index("merge")
        df["at"] = pd.to_datetime(df["at"], unit="ns")
        undone, present = cols["undone_at"]
        df["undone_at"] = pd.to_datetime(np.where(present.astype(bool), undone, _NAT) if len(undone) else undone,
                                          unit="ns")
        # Typed as with merges when there are none (pandas infers from values).
        df["merged_ids"] = object_array([int(i) for i in text.split(",")] for text in df["merged_ids"])
        df["kind"] = text_array(df["kind"])
        return df[["at", "kind", "keep_id", "merged_ids", "undone_at"]]



def open(path: str | os.PathLike = ":memory:", *, actor: "int | str | None" = None,  # noqa: A001 - crm.open
         readonly: bool = False, allow_foreign: bool = False, mode: "str | None" = None,
         user: "int | None" = None, create: bool = True) -> Database:
    """Opens (or creates) a crmcore store: an SQLite file, ``":memory:"``, or
    a PostgreSQL URL.

    ``"postgresql://user@host:port/db?schema=crm_a"`` keeps the store in
    that schema of the server (default ``public``), so one server holds many
    stores; the schema is made on the first open. A crmcore built without
    libpq says so (crm.StorageError naming libpq-dev). Everything runs on
    PostgreSQL as on a file (docs/backends.md says how, and where the two
    differ: erasure's bytes, backups as a copy into a file).

    A new file, and its -wal and -shm beside it, is readable by its owner
    only. ``actor`` names who the writes are by in the audit log (a staff id
    or a script's name; see :attr:`Database.actor`). ``readonly=True``
    refuses every write and leaves the file as it is; a file this process
    may not write (a backup kept chmod 444) is read that way only: a plain
    open of it is refused (crm.StorageError naming the file, "write-protected
    ... open it with readonly=True"), where SQLite would fall back to reading
    without a word and leave -wal and -shm beside it. A file carrying
    triggers or views that crmcore did not create is refused, unless
    ``allow_foreign=True``, which opens it and lists them in
    :attr:`Database.foreign_objects`. ``mode`` (centralized, the default;
    decentralized; matrix) is the management mode of a new store (see
    crmcore.access); ``user`` gives the handle of that staff member
    (``db.as_user``) instead of the unscoped one. ``create=False`` opens
    only a store that exists: a missing file, or a schema holding no store,
    is refused (crm.StorageError, "no store at ...") and nothing is made.

    >>> with open(":memory:") as db:
    ...     db.count("customers")
    0
    """
    db = Database(path, actor=actor, readonly=readonly, allow_foreign=allow_foreign, create=create)
    if mode is not None:
        db.access._open_with(mode)
    return db if user is None else db.as_user(user)


