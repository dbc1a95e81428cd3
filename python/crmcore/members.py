"""Membership programmes, grouped on ``db.members`` the way pandas groups ``.str``.

A programme (``membership_programs``) has tiers (``member_tiers``, entered
on points or spend over a window), members (``members``: a customer who
joined) and a points ledger (``points_ledger``): every earning, redemption
and expiry is an entry, so that a balance on any date is the sum of the
entries up to it. Balances, expiry (earned lots used oldest first) and tiers
are computed in the core over the ledger's columns.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import _core
from ._args import _count, _invalid, _number, _record_id, _record_ids
from ._query import _refuse as _refuse_value
from .automation import _ns, at_ns, write_lock
from .scoring._columns import as_of_timestamp, shifted, utc_now

_NO_EXPIRY = np.iinfo(np.int64).max
#: A tier's numeric settings (its thresholds and the window spend is counted over).
_TIER_NUMBERS = ("min_points", "min_spend", "window_days")


class MemberMethods:
    """Members, tiers and points: ``db.members.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> p = db.members.add_program("club", points_per_unit=1.0, tiers=[{"name": "silver", "min_points": 0},
    ...                                                                 {"name": "gold", "min_points": 1000}])
    >>> c = db.add("customers", name="Acme")
    >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=1200.0)
    >>> m = db.members.join(p, [c], at="2025-01-01")
    >>> db.members.earn(p).tolist(), db.members.balances(p, "2025-02-01").tolist()
    ([1200.0], [1200.0])
    >>> db.members.update_tiers(p, "2025-02-01")["tier"].tolist()
    ['gold']
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<members of {self._db!r}>"

    def add_program(self, name: str, *, points_per_unit: float = 1.0, expiry_days: int | None = 365,
                    tiers: Iterable[dict] = (), description: str | None = None) -> int:
        """Adds a programme and its tiers (dicts of ``name``, ``min_points``,
        ``min_spend``, ``window_days``, ``benefits``); returns its id. name,
        points_per_unit (points per unit of order amount), expiry_days (None:
        points never expire) and description are the programme's fields.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.members.add_program("club", tiers=[{"name": "gold", "min_points": 1000}]) > 0
        True
        """
        expiry_days = _count(expiry_days, "add_program", "expiry_days", low=1, none=True)
        points_per_unit = _number(points_per_unit, "add_program", "points_per_unit", low=0)
        tiers = [tiers] if isinstance(tiers, (str, bytes)) else list(tiers)
        for i, tier in enumerate(tiers):
            if not isinstance(tier, Mapping):
                raise _invalid("add_program", "tiers", f"each tier is a dict of name, min_points, min_spend, "
                                                       f"window_days, benefits; got {tier!r}")
            for key in _TIER_NUMBERS:  # NaN would be stored as missing: a threshold silently gone
                if key in tier:
                    _number(tier[key], "add_program", f"tiers[{i}].{key}", low=0, none=True)
        with self._db.transaction():
            pid = self._db.add("membership_programs", name=name, points_per_unit=points_per_unit,
                               expiry_days=expiry_days, description=description)
            for tier in tiers:
                self._db.add("member_tiers", program_id=pid, **tier)
        return pid

    def program(self, program: "int | str") -> int:
        """The id (an int) of a ``program`` given by id or name.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> db.members.program("club") == p
        True
        """
        if not isinstance(program, str):
            return _record_id(program, "membership_programs", "program")
        ids = self._db.ids("membership_programs", [("name", "==", program)])
        if len(ids) == 0:
            raise _core.NotFound(f"no membership programme named {program!r}")
        return int(ids[0])

    def join(self, program: "int | str", customers: Iterable[int], at: Any = None) -> np.ndarray:
        """Makes the customers members (one bulk write); returns the member ids.
        A customer already a member of the programme is refused. program is
        an id or name, customers their ids, at the joining date (default now).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> len(m)
        1
        """
        pid = self.program(program)
        ids = _record_ids(list(customers), "members", "customers")
        twice = pd.Index(ids)[pd.Index(ids).duplicated()]
        if len(twice):
            raise _refuse_value("members", "customer_id", f"customer {twice[0]} is given twice: a customer is a member"
                                                          " of a programme once")
        at = utc_now() if at is None else as_of_timestamp(at, "at", "join")
        # The check and the write under the store's write lock: two joins at
        # once must not both find a customer missing and both add it.
        with self._db.transaction():
            already = self._db.ids("members", [("program_id", "==", pid), ("customer_id", "in", ids.tolist())])
            if len(already):
                taken = self._db.frame("members", ids=already, columns=["customer_id"])["customer_id"].tolist()
                raise _refuse_value("members", "customer_id", f"customers {taken} are members of programme {pid} already")
            frame = pd.DataFrame({"program_id": pid, "customer_id": ids, "joined_at": at})
            return np.asarray(self._db.import_frame("members", frame), dtype=np.int64)

    def frame(self, program: "int | str") -> pd.DataFrame:
        """The members of ``program`` (id or name), indexed by member id, with columns
        program_id, customer_id, joined_at, tier, tier_changed_at,
        tier_reason, status and the common ones (tags, custom, ...).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> db.members.frame(p)["customer_id"].tolist() == [c]
        True
        """
        return self._db.frame("members", filters=[("program_id", "==", self.program(program))])

    def benefits(self, program: "int | str") -> pd.Series:
        """Each member's benefits (by member id): those of the tier the member
        holds now (see :meth:`update_tiers`); missing without a tier.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", tiers=[{"name": "silver", "min_points": 0, "benefits": "free delivery"}])
        >>> m = db.members.join(p, [db.add("customers", name="Acme")], at="2025-01-01")
        >>> _ = db.members.update_tiers(p, "2025-02-01")
        >>> db.members.benefits(p).tolist()
        ['free delivery']
        """
        pid = self.program(program)
        members = self.frame(pid)
        tiers = self._db.frame("member_tiers", filters=[("program_id", "==", pid)], columns=["name", "benefits"])
        by_name = pd.Series(tiers["benefits"].to_numpy(), index=tiers["name"].to_numpy())
        return pd.Series(by_name.reindex(members["tier"]).to_numpy(), index=members.index, name="benefits")

    def ledger(self, program: "int | str") -> pd.DataFrame:
        """The ledger entries of ``program`` (id or name), indexed by entry id, with columns
        member_id, at, points, reason, order_id, expires_at, rule_id, note and
        the common ones.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> db.members.ledger(p)[["points", "reason"]].values.tolist()
        [[100.0, 'earn']]
        """
        members = self._db.ids("members", [("program_id", "==", self.program(program))])
        return self._db.frame("points_ledger", filters=[("member_id", "in", list(members))])

    def earn(self, program: "int | str", until: Any = None) -> pd.Series:
        """Credits the orders of the customers of ``program``'s members (placed after they joined
        and up to ``until``) that the ledger has not credited yet, at the
        programme's points per unit, expiring after its expiry_days. Returns
        the points credited, by member. Running it again credits nothing twice.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> db.members.earn(p).tolist(), db.members.earn(p).tolist()
        ([100.0], [])
        """
        with write_lock(self._db):  # two earns at once would both find an order uncredited
            pid = self.program(program)
            prog = self._db.frame("membership_programs", ids=[pid]).iloc[0]
            members = self.frame(pid)
            if members.empty:
                return pd.Series(dtype="float64")
            orders = self._db.frame("orders", filters=[("customer_id", "in", members["customer_id"].tolist())],
                                    columns=["customer_id", "ordered_at", "amount"])
            credited = self.ledger(pid)["order_id"].dropna().astype("int64")
            orders = orders[~orders.index.isin(credited)]
            by_customer = pd.Series(members.index, index=members["customer_id"].to_numpy())
            orders = orders.assign(member_id=by_customer.reindex(orders["customer_id"]).to_numpy())
            joined = members["joined_at"].reindex(orders["member_id"]).to_numpy()
            keep = orders["ordered_at"].to_numpy() >= joined
            if until is not None:
                keep &= orders["ordered_at"].to_numpy() <= as_of_timestamp(until, "until", "earn").to_datetime64()
            orders = orders[keep]
            rate = float(prog["points_per_unit"]) if pd.notna(prog["points_per_unit"]) else 1.0
            amounts = orders["amount"].to_numpy(dtype=float)
            with np.errstate(over="ignore"):
                points = amounts * rate
            if not np.isfinite(points).all():  # the ledger would refuse its own row 0, which names no order
                at = int(np.flatnonzero(~np.isfinite(points))[0])
                oid = int(orders.index[at])
                error = _refuse_value("orders", "amount", f"order {oid}: its amount {amounts[at]:g} x the programme's "
                                      f"points_per_unit {rate:g} is more than a number holds; earn wrote nothing")
                error.record_id = oid
                raise error
            entries = pd.DataFrame({"member_id": orders["member_id"].to_numpy(), "at": orders["ordered_at"].to_numpy(),
                                    "points": points, "reason": "earn", "order_id": orders.index.to_numpy()})
            if pd.notna(prog["expiry_days"]):
                entries["expires_at"] = entries["at"] + pd.Timedelta(days=int(prog["expiry_days"]))
            if len(entries):
                self._db.import_frame("points_ledger", entries)
            return entries.groupby("member_id")["points"].sum()

    def balances(self, program: "int | str", as_of: Any = None) -> pd.Series:
        """Each member's points in ``program`` on ``as_of``: the sum of its
        entries up to then, computed in the core. Indexed by member id.
        ``as_of`` defaults to the clock, not to ``db.default_as_of()``: a
        balance is what a member can spend now, and points expire on the
        clock.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> db.members.balances(p, "2025-01-02").tolist(), db.members.balances(p, "2025-01-06").tolist()
        ([0.0], [100.0])
        """
        members, cols = self._columns(program)
        out = _core.points_balance(cols["member"], cols["at"], cols["points"], len(members), _now(as_of, "balances"))
        return pd.Series(out, index=members, name="points")

    def redeem(self, member: int, points: float, at: Any = None, note: str | None = None) -> int:
        """Takes ``points`` from a member's balance; a redemption above the
        balance on ``at`` is refused (ValidationError) and writes nothing.
        member is the member id, note a free text; returns the entry's id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> db.members.redeem(int(m[0]), 40, at="2025-01-10", note="gift") > 0
        True
        """
        if isinstance(points, (bool, np.bool_)) or not isinstance(points, numbers.Real) or not 0 < points < math.inf:
            raise _invalid("redeem", "points", f"a redemption takes a positive, finite number of points, not {points!r}")
        at = utc_now() if at is None else as_of_timestamp(at, "at", "redeem")
        with write_lock(self._db):  # two redemptions at once would both find the points there
            row = self._db.get("members", member)
            balance = float(self.balances(row["program_id"], at).get(member, 0.0))
            if points > balance + 1e-9:
                raise _refuse_value("points_ledger", "points", f"member {member} has {balance:g} points on "
                                                               f"{at:%Y-%m-%d}, fewer than the {points:g} asked")
            return self._db.add("points_ledger", member_id=member, at=at, points=-float(points), reason="redeem",
                                note=note)

    def expire(self, program: "int | str", as_of: Any = None) -> pd.Series:
        """Writes the expiry entries of ``program`` due by ``as_of``: what remains of each
        member's lots that expired, once redemptions and earlier expiries have
        used the oldest lots first (computed in the core). Returns them by member.
        ``as_of`` defaults to the clock: the entries written are dated then,
        and points expire on the day they do, whatever the data's end.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> _ = db.members.redeem(int(m[0]), 40, at="2025-01-10")
        >>> db.members.expire(p, "2025-03-01").tolist()
        [60.0]
        """
        with write_lock(self._db):  # two expiries at once would both expire the same lot
            members, cols = self._columns(program)
            now = _now(as_of, "expire")
            lost = pd.Series(_core.points_expiring(cols["member"], cols["at"], cols["points"], cols["expires_at"],
                                                   len(members), now), index=members)
            lost = lost[lost > 1e-9]
            if len(lost):
                self._db.import_frame("points_ledger", pd.DataFrame({
                    "member_id": lost.index.to_numpy(), "at": pd.Timestamp(now), "points": -lost.to_numpy(),
                    "reason": "expire"}))
            return lost

    def update_tiers(self, program: "int | str", as_of: Any = None) -> pd.DataFrame:
        """Puts each member of ``program`` in the highest tier, on ``as_of``, whose points (earned within
        the tier's window, or the balance when it has none) or spend (within
        the window) it reaches, and writes the changes with their reason.
        Returns a frame with columns member_id, tier, reason for the members
        whose tier changed. ``as_of`` defaults to the clock: the change is
        written now and dated now.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", tiers=[{"name": "gold", "min_points": 50}])
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> _ = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> db.members.update_tiers(p, "2025-02-01")["tier"].tolist()
        ['gold']
        """
        with write_lock(self._db):  # the tiers written are those of the ledger read
            pid = self.program(program)
            now = _now(as_of, "update_tiers")
            tiers = self._db.frame("member_tiers", filters=[("program_id", "==", pid)])
            members = self.frame(pid)
            if tiers.empty or members.empty:
                return pd.DataFrame(columns=["tier", "reason"])
            ledger = self.ledger(pid)
            orders = self._db.frame("orders", filters=[("customer_id", "in", members["customer_id"].tolist())],
                                    columns=["customer_id", "ordered_at", "amount"])
            member_of = pd.Series(members.index, index=members["customer_id"].to_numpy())
            best = np.full(len(members), -1)
            reasons = np.full(len(members), "", dtype=object)
            for position, (_, t) in enumerate(tiers.iterrows()):
                window = int(t["window_days"]) if pd.notna(t["window_days"]) else None
                start = (shifted(now, -window, "update_tiers", "window_days", f"tier {t['name']!r}: as_of").value
                         if window else np.iinfo(np.int64).min)
                for what, need in (("points", t["min_points"]), ("spend", t["min_spend"])):
                    if pd.isna(need):
                        continue
                    if what == "points":
                        at = _ns(ledger["at"])
                        rows = ledger[(at <= now) & ((at > start) if window else True)]
                        if window:
                            rows = rows[rows["points"] > 0]
                        have = rows.groupby("member_id")["points"].sum()
                    else:
                        at = _ns(orders["ordered_at"])
                        rows = orders[(at <= now) & (at > start)]
                        have = rows.groupby(member_of.reindex(rows["customer_id"]).to_numpy())["amount"].sum()
                    have = have.reindex(members.index, fill_value=0.0).to_numpy(dtype=float)
                    reached = _core.tier_of(have, np.array([float(need)])) >= 0
                    raise_to = reached & (position > best)
                    best[raise_to] = position
                    span = f" in {window} days" if window else ""
                    reasons[raise_to] = [f"{what} {v:g}{span} ≥ {float(need):g}" for v in have[raise_to]]
            names = tiers["name"].to_numpy()
            tier = np.where(best >= 0, names[np.maximum(best, 0)], None)
            changed = members["tier"].to_numpy(dtype=object) != tier
            changed &= ~(pd.isna(members["tier"]).to_numpy() & pd.isna(pd.Series(tier)).to_numpy())
            out = pd.DataFrame({"tier": tier[changed], "reason": reasons[changed]}, index=members.index[changed])
            if len(out):
                self._db.import_frame("members", pd.DataFrame({
                    "id": out.index.to_numpy(), "tier": out["tier"].to_numpy(), "tier_reason": out["reason"].to_numpy(),
                    "tier_changed_at": pd.Timestamp(now)}), mode="update", key="id")
            return out

    def report(self, program: "int | str", as_of: Any = None) -> dict:
        """The members analysis of ``program`` on ``as_of``: ``members`` and ``active``
        (members who ordered in the last 365 days), ``liability`` (points
        outstanding), ``redemption_rate`` (points redeemed over points
        earned), ``spend_by_tier`` (a Series) and ``as_of``. It is an
        analysis, so ``as_of`` defaults to ``db.default_as_of()``, the end of
        the data, as every analysis (on the clock, a store whose data ended
        a year ago had no active member).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> p = db.members.add_program("club", expiry_days=30)
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> m = db.members.join(p, [c], at="2025-01-01")
        >>> _ = db.members.earn(p)
        >>> db.members.report(p, "2025-02-01")["members"]
        1
        """
        pid = self.program(program)
        now = _now(self._db.default_as_of() if as_of is None else as_of, "report")
        members = self.frame(pid)
        ledger = self.ledger(pid)
        ledger = ledger[_ns(ledger["at"]) <= now]
        earned = ledger.loc[ledger["reason"] == "earn", "points"].sum()
        redeemed = 0.0 - ledger.loc[ledger["reason"] == "redeem", "points"].sum()  # (not -0.0)
        orders = self._db.frame("orders", filters=[("customer_id", "in", members["customer_id"].tolist())],
                                columns=["customer_id", "ordered_at", "amount"])
        orders = orders[_ns(orders["ordered_at"]) <= now]
        recent = orders[_ns(orders["ordered_at"]) > shifted(now, -365, "report", "as_of").value]  # active: bought in the year
        tier_of_customer = pd.Series(members["tier"].fillna("(none)").to_numpy(), index=members["customer_id"].to_numpy())
        spend = orders.groupby(tier_of_customer.reindex(orders["customer_id"]).to_numpy())["amount"].sum()
        return {"members": len(members), "active": int(members["customer_id"].isin(recent["customer_id"]).sum()),
                "liability": float(self.balances(pid, pd.Timestamp(now)).sum()),
                "redemption_rate": float(redeemed / earned) if earned > 0 else float("nan"),
                "spend_by_tier": spend, "as_of": pd.Timestamp(now)}

    def _columns(self, program: "int | str") -> tuple:
        """The member ids and the ledger as the kernels read it (member position, at, points, expires_at)."""
        pid = self.program(program)
        members = self._db.ids("members", [("program_id", "==", pid)])
        members = pd.Index(np.asarray(members, dtype=np.int64))
        ledger = self.ledger(pid)
        expires = ledger["expires_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        expires[ledger["expires_at"].isna().to_numpy()] = _NO_EXPIRY
        return members, {
            "member": members.get_indexer(ledger["member_id"]).astype(np.int64),
            "at": ledger["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            "points": ledger["points"].to_numpy(dtype=np.float64),
            "expires_at": expires,
        }


def _now(as_of: Any, where: str) -> int:
    return at_ns(as_of, "as_of", where)
