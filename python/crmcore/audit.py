"""Who changed what, and a person's data: the audit log with its hash chain,
the acting user, and the rights to see and to erase what is kept about a person.

Every write through crmcore leaves an audit entry naming the actor (see
:attr:`AuditMethods.actor`), what changed (old and new values of an update's
fields, every value of a removed row; an insert names its range of ids) and
when. Each entry's hash covers its content and the hash before it, so
:meth:`AuditMethods.audit_check` finds any entry added, changed or removed by
another program.
"""
from __future__ import annotations

import getpass
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _core
from ._args import _integer, _record_id, _record_ids
from ._convert import object_array, text_array

__all__ = ["AuditMethods", "default_actor"]

_PEOPLE = ("customers", "contacts")


def default_actor() -> str:
    """The actor of a store opened without one: the operating-system user, as ``os:<name>``."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "os:unknown"


def _plain(value: Any) -> Any:
    """A value JSON can hold: times as ISO text, missing values as None."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def _records(df: pd.DataFrame) -> list:
    out = []
    for record_id, row in df.iterrows():
        values: dict[str, Any] = {"id": int(record_id)}
        values.update({name: _plain(v) for name, v in row.items()})
        if values.get("custom"):
            values["custom"] = json.loads(values["custom"])
        out.append(values)
    return out



def _mask(present: Any, n: int) -> np.ndarray:
    """Which of `n` values are there: the core's mask, or all when it gave none."""
    return np.ones(n, dtype=bool) if present is None else np.asarray(present).astype(bool)

class AuditMethods:
    """Methods that the store's Database gains for auditing and personal data."""

    _core: Any  # the Database's C++ store
    if TYPE_CHECKING:  # what the mixin uses of the Database it is part of
        def get(self, kind: str, id: int) -> Any: ...
        def ids(self, kind: str, /, filters: Any = None, **criteria: Any) -> Any: ...
        def frame(self, kind: str, ids: Any = None, columns: Any = None) -> pd.DataFrame: ...

    @property
    def actor(self) -> str:
        """Who the following writes are by, recorded in each audit entry: a
        staff id (set as an int, stored as ``staff:<id>``) or a script's own
        name. ``crm.open(path, actor=...)`` sets it; by default it is the
        operating-system user.

        >>> import crmcore as crm
        >>> db = crm.open(actor="nightly-import")
        >>> _ = db.add("customers", name="Acme")
        >>> db.audit_log()["actor"].iloc[0]
        'nightly-import'
        """
        return self._core.actor

    @actor.setter
    def actor(self, who: "int | str") -> None:
        if isinstance(who, (int, np.integer)) and not isinstance(who, bool):
            if self._core.kind_of(int(who)) != "staff":
                raise _core.NotFound(f"no staff record with id {int(who)}: an actor given as a number is a staff id")
            who = f"staff:{int(who)}"
        if not isinstance(who, str) or not who.strip():
            raise _core.ValidationError(f"an actor is a staff id or a non-empty name, not {who!r}")
        self._core.actor = who

    @property
    def readonly(self) -> bool:
        """Whether the store was opened with ``readonly=True`` (every write is refused)."""
        return bool(self._core.readonly)

    @property
    def foreign_objects(self) -> list:
        """Triggers and views in the file that crmcore did not create, as
        "trigger <name>" or "view <name>"; only a store opened with
        ``allow_foreign=True`` can have any (others refuse to open)."""
        return list(self._core.foreign_objects)

    def audit_log(self, limit: "int | None" = 100, *, about: "list[int] | None" = None) -> pd.DataFrame:
        """The newest writes (at most ``limit``, a whole number >= 0; None for
        every entry, as ``limit`` of :meth:`frame` and :meth:`find`): when, by
        whom, what operation, which kind, how many rows, which ids, and what
        changed.

        The rows one write gave or touched have the consecutive ids
        ``first_id`` to ``last_id`` (missing when no row landed), so an
        import's records are ``db.frame(kind).loc[first_id:last_id]``. A
        record removed because the record it belonged to was deleted (a
        customer's contact roles, links) has its own entry, with that
        record's id in ``cause_id``. ``changes`` is a dict: for an update
        ``{field: [old, new]}``, for a delete ``{"removed": {field: value}}``,
        for an erasure the entries whose values it took out; None for an
        insert (its ids say what it added), unless automation rules gave
        some of its rows tags or fields as they were written: then
        ``{"rules": {rule_id: {"ids", "fields", "tags_added",
        "tags_removed"}}, "records": {id: {field: [as given, as written]}}}``.
        A large upsert's updates (256 changed records or more in one go;
        not those a rule changed too) have one entry per run of up to
        4,096 records, ids ascending:
        ``rows`` records between ``first_id`` and ``last_id``, and
        ``changes`` is ``{"records": {id: {field: [old, new]}}}`` (ids as
        text, as JSON keys are). ``about`` keeps the entries about those
        records, such an entry narrowed to their part.

        >>> import crmcore as crm
        >>> db = crm.open(actor="docs")
        >>> ids = db.import_frame("customers", pd.DataFrame({"name": ["A", "B", "C"]}))
        >>> db.update("customers", ids[0], name="Ann")
        >>> entry = db.audit_log().iloc[0]
        >>> entry["op"], entry["actor"], entry["changes"]
        ('update', 'docs', {'name': ['A', 'Ann']})
        >>> first = db.audit_log().iloc[1]
        >>> (first["op"], first["rows"], first["first_id"], first["last_id"]) == ("insert", 3, ids[0], ids[-1])
        True
        """
        about_ids = None if about is None else _record_ids(list(about), "audit_log", "about").tolist()
        # The core reads -1 as "every entry"; a negative given is refused, as frame and find refuse it.
        wanted = -1 if limit is None else _integer(limit, "audit_log", "limit", low=0)
        df = self._audit_entries(wanted, about_ids)
        return df if about_ids is None else _listed_about(df, set(about_ids))

    def _audit_entries(self, limit: int, about_ids: "list[int] | None") -> pd.DataFrame:
        cols = {name: (values, valid) for name, values, valid in self._core.audit_log(limit, about_ids)}
        df = pd.DataFrame({name: values for name, (values, _) in cols.items()}).set_index("seq")
        df["at"] = pd.to_datetime(df["at"], unit="ns")
        for name in ("first_id", "last_id", "cause_id"):
            ids, present = cols[name]
            missing = ~_mask(present, len(ids))
            df[name] = pd.arrays.IntegerArray(ids, missing)
        # The core gives no mask when every value is there.
        texts, present = cols["changes"]
        df["changes"] = object_array(json.loads(text) if ok else None  # dicts, object with no entries too
                                     for text, ok in zip(texts, _mask(present, len(texts))))
        actors, present = cols["actor"]
        df["actor"] = text_array([actor if ok else None for actor, ok in zip(actors, _mask(present, len(actors)))])
        for name in ("op", "kind"):
            df[name] = text_array(df[name])
        return df[["at", "actor", "op", "kind", "rows", "first_id", "last_id", "cause_id", "changes"]]

    def audit_check(self) -> pd.DataFrame:
        """Walks the audit log's hash chain, and checks the records against
        it: one row per entry that another program added, changed or removed,
        and per record whose values are not what the log says crmcore last
        wrote (a field another program changed: the row names the entry that
        wrote the value, the kind, id, field and both values; a deleted record
        back in the file). Indexed by the entry's seq, with the reason; empty
        when the log and the records are as crmcore wrote them. Values an
        insert wrote and no update changed since are not in the log, so they
        are not checked. On a scoped handle, admins only.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> _ = db.add("customers", name="Acme")
        >>> db.audit_check().empty
        True
        """
        problems = self._core.audit_check()
        # Typed as with problems when there are none (pandas infers from values).
        return pd.DataFrame({"reason": text_array([reason for _, reason in problems])},
                            index=pd.Index(np.array([seq for seq, _ in problems], dtype=np.int64), name="seq"))

    # -- personal data ------------------------------------------------------------
    def _person_kind(self, id: int) -> str:
        kind = self._core.kind_of(_record_id(id, "people"))
        if kind not in _PEOPLE:
            raise _core.NotFound(f"no customer or contact with id {id}")
        return kind

    def export_person(self, id: int) -> str:
        """Everything stored about one person (the customer of kind person, or
        the contact, with this id), as JSON text: their record with its tags and custom fields,
        the records that refer to them (orders, interactions, tickets, contact
        roles, links, ...) by kind, and the audit entries about them. On a
        scoped handle, admins only (:class:`crmcore.PermissionDenied`).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> li = db.add("contacts", name="Li Lei", phone="+86 138 0013 8000", tags=["vip"])
        >>> data = json.loads(db.export_person(li))
        >>> data["record"]["name"], data["record"]["tags"], data["kind"]
        ('Li Lei', ['vip'], 'contacts')
        """
        if isinstance(self._core, _core.ScopedStore):
            # Everything about a person reaches records and audit entries that
            # no role but admin may read: a partial export would pass for whole.
            self._core.require_admin("export everything stored about a person")
        kind = self._person_kind(id)
        record = self.get(kind, _record_id(id, kind))
        if kind == "customers" and record.get("kind") == "organization":
            raise _core.ValidationError(f"customers (id {id}), field 'kind': is an organization, not a person")
        related: dict = {}
        for spec in _core.kinds():
            refs = [f["name"] for f in spec["fields"]
                    if (f["type"] == "ref" and f["ref_kind"] == kind) or f["type"] == "anyref"]
            if not refs:
                continue
            ids: set = set()
            for field in refs:
                ids.update(int(i) for i in self.ids(spec["name"], **{field: int(id)}))
            if ids:
                related[spec["name"]] = _records(self.frame(spec["name"], ids=sorted(ids)))
        about = [int(id)] + [r["id"] for rows in related.values() for r in rows]
        audit = self.audit_log(limit=None, about=about).reset_index()
        audit = _only_about(audit, about)
        entries = [{name: _plain(v) for name, v in row.items()} for row in audit.to_dict("records")]
        values = {name: _plain(v) for name, v in dict(record).items()}
        # The forms under which lookups find them (as the store keeps them).
        normalizers = {"phone": _core.normalize_phone, "email": _core.normalize_email}
        fields = next(spec["fields"] for spec in _core.kinds() if spec["name"] == kind)
        points = [{"field": f["name"], "value": normalizers[f["lookup"]](values[f["name"]])}
                  for f in fields if f["lookup"] in normalizers and values.get(f["name"])]
        return json.dumps({"kind": kind, "id": int(id), "record": values, "contact_points": points,
                           "related": related, "audit": entries}, ensure_ascii=False, default=str)

    def erase_person(self, id: int) -> dict:
        """Erases one person (a customer of kind person, or a contact) from the
        store, in one transaction: their record keeps its id (so orders and
        links still add up) but loses every value that said who they were;
        their contact points, tags and custom fields go; the free text of the
        records about them (interactions, tickets, surveys, tasks, deals) is
        cleared and their phone or e-mail is blanked wherever it is mentioned;
        the audit log keeps its entries but loses their old and new values
        (an import's entry listing what rules did to its rows, or a large
        upsert's run, loses only their records' part), and gains one entry
        saying that an erasure happened, which also vouches for the narrowed
        entries' new digests.

        Which audit entries lose values: those about one of their records
        (their own, and those of the records about them), and any entry
        holding their phone or e-mail in a stored form. Their name or address
        alone does not mark an entry about another record, as it marks no
        other record's text: a namesake's entries keep every value. Freed bytes are
        zeroed and the WAL is emptied, so none of their name, phone or e-mail
        remain in the file. Returns a dict:

        - ``records_changed``: how many records' values changed (theirs,
          those about them whose text was cleared or blanked, and every other
          record their phone or e-mail was blanked in), each once.
        - ``records``: the older count, kept as it was: the person, every
          record about them (changed or not: a link counts), and one per
          field *and form* their phone or e-mail was blanked in elsewhere (a
          note naming both their phone and e-mail counts twice). A count of
          matches, not of records: read ``records_changed`` for that.
        - ``audit_entries``: audit entries whose values were taken out or
          narrowed.
        - ``wal_truncated`` (False when another connection held the WAL;
          close it and call :meth:`vacuum` to finish) and ``vacuumed``
          (PostgreSQL: the changed tables were vacuumed).

        On a scoped handle, admins only.

        On PostgreSQL the same records and audit entries change, and the
        tables it changed are then vacuumed and analyzed (``vacuumed``): no
        row any client can read holds them, and the statistics' sampled
        values are renewed. A server keeps more than a file does, though:
        a vacuumed page keeps the old bytes in its free space until new rows
        overwrite them, a transaction open elsewhere keeps the old rows
        until it ends, and the WAL, its archive, replicas and backups keep
        them until they are recycled. ``VACUUM FULL`` of those tables (an
        admin's job: it locks them) writes files without them; the rest is
        the server's retention (docs/backends.md).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> li = db.add("contacts", name="Li Lei", phone="+86 138 0013 8000")
        >>> report = db.erase_person(li)
        >>> report["records_changed"], report["records"]
        (1, 1)
        >>> db.get("contacts", li)["name"], db.get("contacts", li)["phone"]
        ('(erased)', None)
        """
        return dict(self._core.erase_person(_record_id(id, "people")))


def _listed_about(audit: pd.DataFrame, mine: set) -> pd.DataFrame:
    """A large upsert's entries (``{"records": {id: ...}}`` for a range of
    ids) narrowed to the records in ``mine`` (the core gives only those
    holding one of them)."""
    listed = (audit["op"] == "update") & (audit["first_id"] != audit["last_id"]).fillna(False)
    if not listed.any():
        return audit
    changes = audit["changes"].tolist()
    for i in np.flatnonzero(listed.to_numpy(bool)):
        if isinstance(changes[i], dict) and set(changes[i]) == {"records"}:
            changes[i] = {"records": {k: v for k, v in changes[i]["records"].items() if int(k) in mine}}
    out = audit.copy()
    out["changes"] = changes
    return out


def _only_about(audit: pd.DataFrame, about: list) -> pd.DataFrame:
    """The entries with an import's list of what rules did to its rows
    (``changes["rules"]`` and ``["records"]``, all the import's records)
    narrowed to the records in ``about``: the rest are other people's."""
    mine = set(about)
    out = audit.copy()

    def narrow(changes: Any) -> Any:
        if not isinstance(changes, dict) or "rules" not in changes:
            return changes  # (a large upsert's entries are narrowed by audit_log)
        rules = {rule: {**acted, "ids": [i for i in acted["ids"] if i in mine]}
                 for rule, acted in changes.get("rules", {}).items()}
        return {"rules": {rule: acted for rule, acted in rules.items() if acted["ids"]},
                "records": {i: c for i, c in changes["records"].items() if int(i) in mine}}

    out["changes"] = [narrow(c) for c in out["changes"]]
    return out

