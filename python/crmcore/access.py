"""Who sees what: the organisation, the management mode and the access rules.

The organisation is records of the store (``staff`` with a role, a team and a
manager; ``departments``; ``teams``; ``territories`` and their
``territory_members``), and so are the rules (``access_settings`` holds the
mode, ``access_shares`` the shares, ``access_field_rules`` the field rules).
``db.access.<TAB>`` reads and edits them; ``db.as_user(staff_id)`` (or
``crm.open(path, user=...)``) is a handle through which everything respects
them, enforced in the C++ core. The unscoped ``db`` is the administrators' and
scripts' handle: it sees and changes everything, as before.

The rules (the same in ``crmcore/access/access.hpp`` and, written plainly, in
``tests/python/access_model.py``):

* A record's **owners** are its owner (``owner_id`` of customers, contacts,
  deals and tickets; ``assignee_id`` of tasks) and its parents' owners (an
  order's customer, an order line's order, an interaction's customer or
  contact, ...).
* A user's **reach** is themselves, everyone below them in the ``manager_id``
  hierarchy, and the members of the teams they manage (directly or as
  manager of the team's department), and so on down.
* **centralized** (the default): everyone reads everything; a record is
  edited by those whose reach holds one of its owners, and by managers.
* **decentralized**: a record is read and edited only by those whose reach
  holds one of its owners.
* **matrix**: as decentralized, and also by the members of any territory the
  record (or its customer) lies in.
* **Shares** add to that: a record (with its children) or an owner's whole
  book, to a person or a team, to read or to edit.
* Roles: ``admin`` reads and edits everything; ``analyst`` reads everything
  and edits only what a share grants; ``manager``, ``sales`` and ``service``
  follow the mode.
* Which kinds are owned and which follow them comes from the kind table
  (``crmcore._core.access_rules()``): a kind with an ``owner_id`` (or
  ``assignee_id``) referring to staff is owned; a kind that refers to an owned
  kind, or to one that follows one, follows those records (purchase orders
  their supplier, stock movements their purchase line or order, ...). Kinds
  that are neither (staff, teams, campaigns, the rules themselves, ...) and
  the catalog (products) are read by all and edited by admins; a link is read
  when both its ends are, and edited by whoever edits its source.
* A deactivated staff member (``active=False``) gets no handle.
* A write must leave what it writes editable by the writer.
* **Field rules** hide a field of a kind from a role (``"*"``: every role but
  admin), or mask it (phones show their last four digits); a hidden field
  cannot be searched or sorted on.

A refused action raises :class:`crmcore.PermissionDenied` naming the record and
the rule; a record the user may not read is "not found", exactly as one that
does not exist.

>>> import crmcore as crm
>>> db = crm.open(":memory:", mode="decentralized")
>>> boss = db.add("staff", name="Wang Fang", role="manager")
>>> rep = db.add("staff", name="Li Lei", role="sales", manager_id=boss)
>>> other = db.add("staff", name="Zhao Min", role="sales")
>>> c = db.add("customers", name="Acme", owner_id=rep)
>>> [db.as_user(s).count("customers") for s in (boss, rep, other)]
[1, 1, 0]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

from . import _core
from ._args import _record_id, _record_ids

__all__ = ["AccessMethods", "AccessHandles", "MODES", "OWNER_FIELDS", "PermissionDenied"]

PermissionDenied = _core.PermissionDenied
MODES = ("centralized", "decentralized", "matrix")
#: The field that names each owned kind's owner (a staff id), as the core derives it from the
#: kind table (owner_id, or assignee_id for tasks).
OWNER_FIELDS = {kind: rule["owner"] for kind, rule in _core.access_rules().items() if rule["owner"]}


class AccessHandles:
    """The scoped handle and the ``db.access`` room (mixed into Database)."""

    if TYPE_CHECKING:  # what Database provides
        path: str
        _store: Any

        @property
        def _core(self) -> Any: ...

    @property
    def access(self) -> "AccessMethods":
        """The organisation and the access rules: ``db.access.<TAB>``."""
        return AccessMethods(self)

    @property
    def user(self) -> "int | None":
        """The staff id this handle acts for, or None for the unscoped (admin, script) handle."""
        store = self._core
        return int(store.user) if isinstance(store, _core.ScopedStore) else None

    def as_user(self, staff_id: int):
        """A handle on the same store through which staff member ``staff_id`` sees and changes
        only what the rules allow (enforced in the core).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="decentralized")
        >>> rep = db.add("staff", name="Li Lei")
        >>> _ = db.add("customers", name="Acme")          # no owner: admins only
        >>> db.as_user(rep).frame("customers").empty
        True
        """
        base = self._core
        if isinstance(base, _core.ScopedStore):
            raise _core.Error("as_user is called on the unscoped handle, not on a scoped one")
        scoped = object.__new__(type(self))
        # Nothing else of this handle is carried over: whatever it may have
        # cached was read without the rules.
        scoped.path = self.path
        scoped._store = _core.ScopedStore(base, _record_id(staff_id, "staff", "staff_id"))
        return scoped


class AccessMethods:
    """The organisation and the rules of one store, as DataFrames and edits.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> db.access.mode
    'centralized'
    """

    def __init__(self, db):
        self._db = db

    def __repr__(self) -> str:
        return f"<access of {self._db!r}: {self.mode} mode>"

    # -- the mode ---------------------------------------------------------
    @property
    def mode(self) -> str:
        """The management mode the store runs in: centralized, decentralized or matrix."""
        core = self._db._core
        if isinstance(core, _core.ScopedStore):
            return core.mode
        return _core.store_mode(core)

    def set_mode(self, mode: str) -> None:
        """Changes the management mode (admins only, through the write path, audited).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.access.set_mode("matrix"); db.access.mode
        'matrix'
        """
        mode = _core.parse_mode(str(mode))
        self._db.import_frame("access_settings", pd.DataFrame({"name": ["mode"], "value": [mode]}),
                              mode="upsert", key="name")

    def _open_with(self, mode: str) -> None:
        """crm.open(path, mode=...): sets the mode of a store that has none yet; a store that
        runs in another one says so (change it with set_mode)."""
        mode = _core.parse_mode(str(mode))
        settings = self._db.frame("access_settings")
        given = settings.loc[settings["name"] == "mode", "value"]
        if given.empty:
            self.set_mode(mode)
        elif given.iloc[0] != mode:
            raise _core.ValidationError(
                f"access_settings, field 'mode': the store runs in {given.iloc[0]} mode, not {mode}; "
                "change it with db.access.set_mode")

    # -- the organisation -------------------------------------------------
    def staff(self) -> pd.DataFrame:
        """Staff with their role, team and manager: indexed by staff id, columns
        name, role, team_id, manager_id, title and email.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("staff", name="Li Lei", role="sales")
        >>> db.access.staff()[["name", "role"]].values.tolist()
        [['Li Lei', 'sales']]
        """
        return self._db.frame("staff", columns=["name", "role", "team_id", "manager_id", "title", "email"])

    def departments(self) -> pd.DataFrame:
        """The departments and their managers: indexed by department id, columns
        name and manager_id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> boss = db.add("staff", name="Wang Fang", role="manager")
        >>> sales = db.access.add_department("Sales", manager=boss)
        >>> east = db.access.add_team("East", department=sales, manager=boss)
        >>> db.access.departments()["manager_id"].tolist() == [boss]
        True
        """
        return self._db.frame("departments", columns=["name", "manager_id"])

    def teams(self) -> pd.DataFrame:
        """The teams, their departments and managers: indexed by team id, columns
        name, department_id and manager_id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> boss = db.add("staff", name="Wang Fang", role="manager")
        >>> sales = db.access.add_department("Sales", manager=boss)
        >>> east = db.access.add_team("East", department=sales, manager=boss)
        >>> db.access.teams()["department_id"].tolist() == [sales]
        True
        """
        return self._db.frame("teams", columns=["name", "department_id", "manager_id"])

    def territories(self) -> pd.DataFrame:
        """The territories: cells of a grid of dimensions (region, product line, ...),
        indexed by territory id, columns name and dimension.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.access.add_territory("East", "region")
        >>> db.access.territories().values.tolist()
        [['East', 'region']]
        """
        return self._db.frame("territories", columns=["name", "dimension"])

    def territory_members(self) -> pd.DataFrame:
        """Who works (staff) and what lies (records) in each territory: columns
        territory_id and member_id (a staff or record id).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> east = db.access.add_territory("East", "region")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.access.assign(east, [c])
        >>> db.access.territory_members()["member_id"].tolist() == [c]
        True
        """
        return self._db.frame("territory_members", columns=["territory_id", "member_id"])

    def add_department(self, name: str, manager: "int | None" = None) -> int:
        """Adds a department named name, managed by the staff id manager (or
        nobody); returns its id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> boss = db.add("staff", name="Wang Fang", role="manager")
        >>> sales = db.access.add_department("Sales", manager=boss)
        >>> east = db.access.add_team("East", department=sales, manager=boss)
        >>> db.kind_of(sales)
        'departments'
        """
        return self._db.add("departments", name=name, manager_id=manager)

    def add_team(self, name: str, department: "int | None" = None, manager: "int | None" = None) -> int:
        """Adds a team named name (in a department, with a manager: their ids);
        returns its id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> boss = db.add("staff", name="Wang Fang", role="manager")
        >>> sales = db.access.add_department("Sales", manager=boss)
        >>> east = db.access.add_team("East", department=sales, manager=boss)
        >>> db.kind_of(east)
        'teams'
        """
        return self._db.add("teams", name=name, department_id=department, manager_id=manager)

    def add_territory(self, name: str, dimension: str) -> int:
        """Adds a territory, one cell (name) of a dimension ("East" of "region"); returns its id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.kind_of(db.access.add_territory("East", "region"))
        'territories'
        """
        return self._db.add("territories", name=name, dimension=dimension)

    def assign(self, territory: int, members: Iterable[int]) -> np.ndarray:
        """Puts members: staff (who then work it) or records (which then lie in it) in a territory.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="matrix")
        >>> east = db.access.add_territory("East", "region")
        >>> rep = db.add("staff", name="Li Lei"); c = db.add("customers", name="Acme")
        >>> _ = db.access.assign(east, [rep, c])
        >>> db.as_user(rep).count("customers")
        1
        """
        territory = _record_id(territory, "territory_members", "territory")
        ids = _record_ids(list(members), "territory_members", "members")
        return self._db.import_frame("territory_members",
                                     pd.DataFrame({"territory_id": [territory] * len(ids), "member_id": ids}))

    # -- the rules --------------------------------------------------------
    def shares(self) -> pd.DataFrame:
        """The shares, indexed by share id, columns record_id or owner_id (a whole
        book), staff_id or team_id (to whom), level (read or edit).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("staff", name="A"); b = db.add("staff", name="B")
        >>> _ = db.access.share(owner=a, to_staff=b, level="edit")
        >>> db.access.shares()["level"].tolist()
        ['edit']
        """
        return self._db.frame("access_shares", columns=["record_id", "owner_id", "staff_id", "team_id", "level"])

    def field_rules(self) -> pd.DataFrame:
        """The field rules, indexed by rule id, columns kind, field, role ("*": all
        but admin) and action (hide or mask).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.access.field_rule("orders", "cost", "sales")
        >>> db.access.field_rules().values.tolist()
        [['orders', 'cost', 'sales', 'hide']]
        """
        return self._db.frame("access_field_rules", columns=["kind", "field", "role", "action"])

    def settings(self) -> pd.DataFrame:
        """The access settings (the mode): columns name and value.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="decentralized")
        >>> "decentralized" in db.access.settings()["value"].tolist()
        True
        """
        return self._db.frame("access_settings", columns=["name", "value"])

    def share(self, record: "int | None" = None, *, owner: "int | None" = None, to_staff: "int | None" = None,
              to_team: "int | None" = None, level: str = "read") -> int:
        """Shares one record (and its children) or an owner's whole book with a person
        (to_staff) or a team (to_team), to read or to edit (level). Returns the share's id
        (delete it to take the share back).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="decentralized")
        >>> a = db.add("staff", name="A"); b = db.add("staff", name="B")
        >>> c = db.add("customers", name="Acme", owner_id=a)
        >>> _ = db.access.share(c, to_staff=b)
        >>> db.as_user(b).count("customers")
        1
        """
        if (record is None) == (owner is None):
            raise _core.ValidationError("access_shares: give a record or an owner (a whole book), one of them")
        if (to_staff is None) == (to_team is None):
            raise _core.ValidationError("access_shares: share with a person (to_staff) or a team (to_team)")
        return self._db.add("access_shares", record_id=record, owner_id=owner, staff_id=to_staff, team_id=to_team,
                            level=level)

    def field_rule(self, kind: str, field: str, role: str, action: str = "hide") -> int:
        """Hides a field of a kind from a role ("*": every role but admin), or masks it
        (``action="mask"``: phones show their last four digits, other text ``***``).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> rep = db.add("staff", name="Li Lei", role="sales")
        >>> _ = db.add("orders", customer_id=db.add("customers", name="Acme"), ordered_at="2025-01-05",
        ...            amount=100.0, cost=60.0)
        >>> _ = db.access.field_rule("orders", "cost", "sales")
        >>> bool(db.as_user(rep).frame("orders")["cost"].isna().all())
        True
        """
        if field not in {f["name"] for f in self._db._core.describe(kind)["fields"]}:
            raise _core.ValidationError(f"access_field_rules: {kind} has no field {field!r}")
        return self._db.add("access_field_rules", kind=kind, field=field, role=role, action=action)

    # -- owners -----------------------------------------------------------
    def reassign(self, from_staff: int, to_staff: int, kinds: "Iterable[str] | None" = None,
                 ids: "Iterable[int] | None" = None) -> dict:
        """Moves records from one owner (from_staff) to another (to_staff), of the kinds given
        (default all owned kinds), in one transaction, through the write path
        (validated, checked by the rules of a scoped handle, audited): the whole book by
        default (when someone leaves), or the records ``ids``. Returns how many of each kind.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("staff", name="A"); b = db.add("staff", name="B")
        >>> _ = db.add("customers", name="Acme", owner_id=a)
        >>> db.access.reassign(a, b)["customers"]
        1
        """
        from_staff = _record_id(from_staff, "reassign", "from_staff")
        to_staff = _record_id(to_staff, "reassign", "to_staff")
        wanted = None if ids is None else set(_record_ids(list(ids), "reassign", "ids").tolist())
        moved = {}
        with self._db.transaction():
            for kind in (OWNER_FIELDS if kinds is None else list(kinds)):
                field = OWNER_FIELDS.get(kind)
                if field is None:
                    raise _core.ValidationError(f"{kind} have no owner (owned kinds: {', '.join(OWNER_FIELDS)})")
                found = [int(i) for i in self._db.ids(kind, [(field, "==", from_staff)])]
                if wanted is not None:
                    found = [i for i in found if i in wanted]
                if found:
                    self._db.import_frame(kind, pd.DataFrame({"id": found, field: [to_staff] * len(found)}),
                                          mode="update", key="id")
                moved[kind] = len(found)
        return moved

    def migrate_owners(self) -> pd.DataFrame:
        """Sets ``owner_id`` of the customers that have only the old free-text ``owner``, by
        matching it with staff names (ignoring case and surrounding spaces), and returns
        what could not be matched (the columns of :meth:`owner_migration_report`). Opening a store made
        before owners were staff references does this once by itself; call it again after
        adding the missing staff. Admins only on a scoped handle.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("staff", name="Li Lei")
        >>> _ = db.add("customers", name="Acme", owner=" li lei ")
        >>> _ = db.add("customers", name="Beta", owner="Nobody At All")
        >>> db.access.migrate_owners()["reason"].tolist()
        ['no staff member has that name']
        """
        with self._db.transaction():  # the report and the owners change together
            self._db._core.migrate_owners()
        return self.owner_migration_report()

    def owner_migration_report(self) -> pd.DataFrame:
        """The free-text owners that the last owner migration could not match with a staff
        member, columns customer_id, owner (the text) and reason (no staff member has that name, or
        several do). Indexed by the report row's id; a row goes with its customer.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.access.owner_migration_report().empty
        True
        """
        return self._db.frame("owner_migration", columns=["customer_id", "owner", "reason"])

    # -- what a scoped handle sees ----------------------------------------
    def visible(self, kind: str) -> "np.ndarray | None":
        """The ids of ``kind`` this handle may read (None: all of them; the unscoped handle
        reads everything).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="decentralized")
        >>> a = db.add("staff", name="A"); b = db.add("staff", name="B")
        >>> c = db.add("customers", name="Acme", owner_id=a)
        >>> db.access.visible("customers") is None, db.as_user(b).access.visible("customers").tolist()
        (True, [])
        """
        core = self._db._core
        return core.readable(kind) if isinstance(core, _core.ScopedStore) else None

    def rights(self, kind: str, id: int) -> str:
        """What this handle may do with one record (its kind and id): "edit", "read"
        or "" (nothing, or no such record).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:", mode="decentralized")
        >>> a = db.add("staff", name="A"); b = db.add("staff", name="B")
        >>> c = db.add("customers", name="Acme", owner_id=a)
        >>> db.as_user(a).access.rights("customers", c), db.as_user(b).access.rights("customers", c)
        ('edit', '')
        """
        core = self._db._core
        if not isinstance(core, _core.ScopedStore):
            return "edit" if self._db.kind_of(_record_id(id, kind)) == kind else ""
        bits = int(core.rights(kind, _record_id(id, kind)))
        return "edit" if bits & 2 else "read" if bits & 1 else ""
