"""The access rules written plainly in Python, from the records read through the
unscoped handle: the reference the engine (crmcore/access, C++) is compared
with. It follows the rules as crmcore.access states them, in its own terms
(a record's ancestors and their owners), not the engine's (rights propagated
kind by kind), so that the two can disagree.
"""
from __future__ import annotations

import pandas as pd

from crmcore import _core

# Read from the kind table as the rules state them (crmcore.access), not from
# the engine's derived rules: an owned kind names its owner in owner_id (or,
# lacking one, assignee_id) referring to staff; a kind follows every kind it
# refers to that is owned or follows one (its own kind aside); catalogs
# (products), links, territory memberships and shares follow nothing.
_SPECIAL = {"links", "territory_members", "access_shares"}
_KINDS = {k["name"]: k for k in _core.kinds() if not k["catalog"] and k["name"] not in _SPECIAL}


def _staff_ref(kind, name):
    return any(f["name"] == name and f["type"] == "ref" and f["ref_kind"] == "staff" for f in _KINDS[kind]["fields"])


OWNER = {}
for _name in _KINDS:
    for _field in ("owner_id", "assignee_id"):
        if _staff_ref(_name, _field):
            OWNER[_name] = _field
            break
PARENTS: dict = {}
_grew = True
while _grew:
    _grew = False
    for _name, _kind in _KINDS.items():
        for _f in _kind["fields"]:
            _to = _f["ref_kind"]
            if _f["type"] != "ref" or _to == _name or not (_to in OWNER or _to in PARENTS):
                continue
            if _f["name"] not in PARENTS.setdefault(_name, {}):
                PARENTS[_name][_f["name"]] = _to
                _grew = True
RULED = set(OWNER) | set(PARENTS)


def _value(row, name):
    v = row.get(name)
    return None if v is None or pd.isna(v) else int(v)


class Model:
    """The rules over one store's records, read once (make another after changes)."""

    def __init__(self, db):
        settings = db.frame("access_settings")
        mode = settings.loc[settings["name"] == "mode", "value"]
        self.mode = mode.iloc[0] if len(mode) else "centralized"

        def rows(kind, fields):
            frame = db.frame(kind, columns=fields)
            return {int(i): {f: _value(r, f) if f not in ("role", "level") else r[f] for f in fields}
                    for i, r in zip(frame.index, frame.to_dict("records"))}

        self.staff = rows("staff", ["role", "team_id", "manager_id"])
        self.teams = rows("teams", ["department_id", "manager_id"])
        self.departments = rows("departments", ["manager_id"])
        self.cells = list(rows("territory_members", ["territory_id", "member_id"]).values())
        self.shares = list(rows("access_shares", ["record_id", "owner_id", "staff_id", "team_id", "level"]).values())
        self.records = {}
        for kind in RULED:
            fields = ([OWNER[kind]] if kind in OWNER else []) + list(PARENTS.get(kind, {}))
            self.records[kind] = rows(kind, fields)
        self.records["links"] = rows("links", ["src", "dst"])
        self.records["territory_members"] = {i: c for i, c in enumerate(self.cells)}
        self.cell_ids = rows("territory_members", ["member_id"])
        self.share_ids = rows("access_shares", ["record_id", "owner_id", "staff_id", "team_id"])
        self._reach = {}

    def role(self, user):
        r = self.staff[user]["role"]
        return "sales" if r is None or pd.isna(r) else r

    def reach(self, user):
        """The user, and everyone they manage: reports, members of managed teams and of the
        teams of managed departments, and so on down."""
        if user in self._reach:
            return self._reach[user]
        seen, todo = {user}, [user]
        while todo:
            x = todo.pop()
            managed = {t for t, v in self.teams.items() if v["manager_id"] == x}
            depts = {d for d, v in self.departments.items() if v["manager_id"] == x}
            managed |= {t for t, v in self.teams.items() if v["department_id"] in depts}
            below = {s for s, v in self.staff.items() if v["manager_id"] == x or v["team_id"] in managed}
            for y in below - seen:
                seen.add(y)
                todo.append(y)
        self._reach[user] = seen
        return seen

    def ancestors(self, kind, rid):
        """(kind, id) of the record and of every record above it through its parents."""
        out, todo = [], [(kind, rid)]
        while todo:
            k, i = todo.pop()
            out.append((k, i))
            row = self.records[k].get(i)
            if row is None:
                continue
            for field, parent_kind in PARENTS.get(k, {}).items():
                if row[field] is not None:
                    todo.append((parent_kind, row[field]))
        return out

    def rights(self, kind, rid, user):
        """{"read", "edit"}, a part of it, or nothing."""
        role = self.role(user)
        if role == "admin":
            return {"read", "edit"}
        if kind == "links":
            row = self.records["links"][rid]
            src, dst = self.rights_any(row["src"], user), self.rights_any(row["dst"], user)
            out = set()
            if "read" in src and "read" in dst:
                out.add("read")
            if "edit" in src and "read" in dst:
                out.add("edit")
            return out
        sees_all = self.mode == "centralized" or role == "analyst"
        if kind == "territory_members":  # read where its member is
            return {"read"} if sees_all or "read" in self.rights_any(self.cell_ids[rid]["member_id"], user) else set()
        if kind == "access_shares":  # read by its recipients and the owner of the shared book
            share = self.share_ids[rid]
            team = self.staff[user]["team_id"]
            mine = user in (share["staff_id"], share["owner_id"]) or (team is not None and share["team_id"] == team)
            return {"read"} if sees_all or mine else set()
        if kind not in RULED:
            return {"read"}
        return self.rights_of(self.ancestors(kind, rid), user)

    def rights_of(self, ancestors, user, new_owner_of_first=None):
        role = self.role(user)
        if role == "admin":
            return {"read", "edit"}
        owners = set()
        for k, i in ancestors:
            if k in OWNER and i in self.records[k]:
                o = self.records[k][i][OWNER[k]]
                if o is not None:
                    owners.add(o)
        if new_owner_of_first is not None:
            owners.add(new_owner_of_first)
        ids = {i for _, i in ancestors}
        out = set()
        if owners & self.reach(user):
            out |= {"read", "edit"}
        if self.mode == "matrix":
            mine = {c["territory_id"] for c in self.cells if c["member_id"] == user}
            if any(c["territory_id"] in mine and c["member_id"] in ids for c in self.cells):
                out |= {"read", "edit"}
        team = self.staff[user]["team_id"]
        for share in self.shares:
            if share["staff_id"] != user and (team is None or share["team_id"] != team):
                continue
            if share["record_id"] in ids or share["owner_id"] in owners:
                out |= {"read", "edit"} if share["level"] == "edit" else {"read"}
        if self.mode == "centralized":
            out.add("read")
            if role == "manager":
                out.add("edit")
        if role == "analyst":
            out.add("read")
        return out

    def rights_any(self, rid, user):
        for kind in RULED:
            if rid in self.records[kind]:
                return self.rights(kind, rid, user)
        return {"read", "edit"} if self.role(user) == "admin" else {"read"}

    def may_create(self, kind, values, user):
        """Whether ``user`` may add a record of ``kind`` with these owner and parent values."""
        if self.role(user) == "admin":
            return True
        if kind not in RULED:
            return False
        ancestors = [(kind, -1)]
        for field, parent_kind in PARENTS.get(kind, {}).items():
            if values.get(field) is not None:
                ancestors += self.ancestors(parent_kind, values[field])
        return "edit" in self.rights_of(ancestors, user, values.get(OWNER.get(kind, ""), None))
