"""The access rules written plainly in Python, from the records read through the
unscoped handle: the reference the engine (crmcore/access, C++) is compared
with. It follows the rules as crmcore.access states them, in its own terms
(a record's ancestors and their owners), not the engine's (rights propagated
kind by kind), so that the two can disagree.
"""
from __future__ import annotations

import pandas as pd

OWNER = {"customers": "owner_id", "contacts": "owner_id", "deals": "owner_id", "tickets": "owner_id",
         "tasks": "assignee_id", "contracts": "owner_id", "invoices": "owner_id", "projects": "owner_id"}
PARENTS = {
    "deals": {"customer_id": "customers"},
    "tickets": {"customer_id": "customers", "contact_id": "contacts"},
    "tasks": {"customer_id": "customers", "contact_id": "contacts"},
    "customer_contacts": {"customer_id": "customers", "contact_id": "contacts"},
    "orders": {"customer_id": "customers"},
    "order_lines": {"order_id": "orders"},
    "payments": {"customer_id": "customers", "order_id": "orders", "invoice_id": "invoices"},
    "interactions": {"customer_id": "customers", "contact_id": "contacts"},
    "deal_stages": {"deal_id": "deals"},
    "surveys": {"customer_id": "customers", "contact_id": "contacts"},
    "campaign_members": {"customer_id": "customers", "contact_id": "contacts"},
    "deal_close_dates": {"deal_id": "deals"},
    "contracts": {"customer_id": "customers", "deal_id": "deals"},
    "invoices": {"customer_id": "customers"},
    "invoice_lines": {"invoice_id": "invoices"},
    "credit_applications": {"customer_id": "customers", "invoice_id": "invoices"},
    "projects": {"customer_id": "customers", "deal_id": "deals"},
    "milestones": {"project_id": "projects"},
    "ticket_events": {"ticket_id": "tickets"},
    "members": {"customer_id": "customers"},
    "points_ledger": {"member_id": "members"},
    "outbox": {"customer_id": "customers"},
}
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
