"""Projects, milestones, the agenda and tasks' schedules, for ``db.sales``.

A project (kind ``projects``) follows a won deal (the store refuses one for
a deal that is not won) or a contract; its milestones (``milestones``) have
a planned date, a done date and a status. The agenda puts a person's open
tasks, the milestones of their projects and their deals' expected closes on
one list. Tasks may carry a reminder (``remind_at``) and a recurrence
(``recurrence`` daily / weekly / monthly / yearly, every ``recur_every``,
until ``recur_until``); completing a recurring task makes its next
occurrence in the store's write path, however the task is completed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._args import _count, _record_id
from ..scoring._columns import as_of_timestamp, days_between, shifted, utc_now
from ._base import SalesPart


class ProjectMethods(SalesPart):
    """Projects' and the agenda's part of ``db.sales`` (mixed into
    :class:`crmcore.sales.SalesMethods`)."""


    def milestones(self, as_of: Any = None) -> pd.DataFrame:
        """Every milestone with its project and where it stands on ``as_of``
        (default the end of the data), one row each, columns ``project_id``, ``project``,
        ``owner_id`` (the project's), ``name``, ``planned_at``, ``done_at``,
        ``status``, ``overdue`` (not done or cancelled and planned before
        ``as_of``) and ``days_late`` (done: done - planned; open and
        overdue: ``as_of`` - planned; else NaN), ordered by plan.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> d = db.add("deals", customer_id=c, stage="won", closed_at="2024-01-05")
        >>> p = db.add("projects", name="Roll-out", deal_id=d, customer_id=c)
        >>> _ = db.add("milestones", project_id=p, name="kick-off", planned_at="2024-01-10", done_at="2024-01-12",
        ...            status="done")
        >>> _ = db.add("milestones", project_id=p, name="go-live", planned_at="2024-02-01")
        >>> db.sales.milestones(as_of="2024-02-11")[["name", "overdue", "days_late"]].values.tolist()
        [['kick-off', False, 2.0], ['go-live', True, 10.0]]
        """
        cut = pd.Timestamp(self._as_of(as_of, where="milestones"))
        m = self._db.frame("milestones", columns=["project_id", "name", "planned_at", "done_at", "status"])
        p = self._db.frame("projects", columns=["name", "owner_id"])
        m.insert(1, "project", m["project_id"].map(p["name"]))
        m.insert(2, "owner_id", m["project_id"].map(p["owner_id"]))
        is_open = ~m["status"].isin(["done", "cancelled"])
        m["overdue"] = is_open & (m["planned_at"] < cut)
        late = np.where(m["status"] == "done", days_between(m["done_at"], m["planned_at"]),
                        np.where(m["overdue"], days_between(cut, m["planned_at"]), np.nan))
        m["days_late"] = late.astype(float)
        m = m.sort_values(["planned_at"], kind="stable", na_position="last")
        m.attrs["as_of"] = cut
        return m

    def agenda(self, staff: "int | None" = None, start: Any = None, end: Any = None) -> pd.DataFrame:
        """What is due for ``staff`` (a staff id; None: everyone) up to
        ``end``: open tasks they are assigned, open milestones of projects
        they own and the expected closes of their open deals. ``start`` is
        the day the agenda is for (default today) and ``end`` its last time
        (default a week after ``start``). Each item's ``status``:
        ``overdue`` (due before ``start``'s day), ``today`` or ``upcoming``.
        Columns ``staff_id``, ``due``, ``status``, ``what`` (task, milestone
        or deal), ``id``, ``subject`` and ``customer_id``, by due time.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> wang, c = db.add("staff", name="Wang"), db.add("customers", name="Acme")
        >>> _ = db.add("tasks", subject="call back", due_at="2024-03-01 10:00", assignee_id=wang, customer_id=c)
        >>> _ = db.add("tasks", subject="send quote", due_at="2024-02-27", assignee_id=wang)
        >>> _ = db.add("deals", customer_id=c, name="Big one", stage="proposal", owner_id=wang,
        ...            expected_close="2024-03-05")
        >>> a = db.sales.agenda(wang, start="2024-03-01", end="2024-03-08")
        >>> a[["status", "what", "subject"]].values.tolist()
        [['overdue', 'task', 'send quote'], ['today', 'task', 'call back'], ['upcoming', 'deal', 'Big one']]
        """
        staff = None if staff is None else _record_id(staff, "agenda", "staff")
        day = (utc_now() if start is None else as_of_timestamp(start, "start", "agenda")).normalize()
        tomorrow = shifted(day, 1, "agenda", "start", "start")
        last = shifted(day, 7, "agenda", "start", "start") if end is None else as_of_timestamp(end, "end", "agenda")
        t = self._db.frame("tasks", columns=["subject", "due_at", "assignee_id", "customer_id", "done"])
        t = t[~t["done"].fillna(False).astype(bool)]
        tasks = pd.DataFrame({"staff_id": t["assignee_id"], "due": t["due_at"], "what": "task", "id": t.index,
                              "subject": t["subject"], "customer_id": t["customer_id"]})
        m = self.milestones(as_of=day)
        m = m[~m["status"].isin(["done", "cancelled"])]
        customers = self._db.frame("projects", columns=["customer_id"])["customer_id"]
        miles = pd.DataFrame({"staff_id": m["owner_id"], "due": m["planned_at"], "what": "milestone", "id": m.index,
                              "subject": m["project"].astype(str) + ": " + m["name"].astype(str),
                              "customer_id": m["project_id"].map(customers)})
        deals = self._deals(None)
        d = deals[deals["category"] == "open"]
        names = self._db.frame("deals", ids=d.index, columns=["name"])["name"] if len(d) else pd.Series(dtype=object)
        closes = pd.DataFrame({"staff_id": d["owner_id"], "due": d["expected_close"], "what": "deal", "id": d.index,
                               "subject": names.reindex(d.index), "customer_id": d["customer_id"]})
        parts = [x for x in (tasks, miles, closes) if len(x)]
        if not parts:
            # (The dtypes the items have when there are any.)
            return pd.DataFrame({"staff_id": pd.array([], dtype="Int64"), "due": np.array([], dtype="datetime64[ns]"),
                                 "status": pd.array([], dtype="str"), "what": pd.array([], dtype="str"),
                                 "id": np.array([], dtype=np.int64), "subject": pd.array([], dtype="str"),
                                 "customer_id": pd.array([], dtype="Int64")})
        items = pd.concat(parts, ignore_index=True)
        items = items[items["due"].notna() & (items["due"] <= last)]
        if staff is not None:
            items = items[items["staff_id"] == staff]
        status = np.select([items["due"] < day, items["due"] < tomorrow], ["overdue", "today"], "upcoming")
        items.insert(2, "status", status)
        items = items.sort_values(["due", "what", "id"], kind="stable").reset_index(drop=True)
        items.attrs["start"], items.attrs["end"] = day, last
        return items

    def without_next_step(self, as_of: Any = None, days: int = 30) -> pd.DataFrame:
        """Open deals with no next step on ``as_of`` (default the end of the
        data): no open task (not done) about their customer, and no
        interaction with the customer in the ``days`` days up to ``as_of``
        that names a ``next_step``. One row per deal, the largest first:
        ``customer_id``, ``owner_id``, ``stage``, ``amount`` and
        ``expected_close``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b, c = (db.add("customers", name=n) for n in ("A", "B", "C"))
        >>> deals = [db.add("deals", customer_id=x, stage="proposal", amount=v)
        ...          for x, v in ((a, 5.0), (b, 7.0), (c, 9.0))]
        >>> _ = db.add("tasks", subject="send quote", customer_id=a, due_at="2024-03-05")
        >>> _ = db.add("interactions", customer_id=b, channel="call", occurred_at="2024-02-25", next_step="demo")
        >>> db.sales.without_next_step(as_of="2024-03-01").index.tolist() == [deals[2]]
        True
        """
        days = _count(days, "without_next_step", "days")
        cut = pd.Timestamp(self._as_of(as_of, where="without_next_step"))
        deals = self._deals(None)
        open_ = deals[deals.category == "open"]
        tasks = self._db.frame("tasks", columns=["customer_id", "done"])
        planned = set(tasks.loc[~tasks["done"].fillna(False).astype(bool), "customer_id"].dropna())
        talks = self._db.frame("interactions", columns=["customer_id", "occurred_at", "next_step"])
        recent = talks[(talks.occurred_at <= cut) & (talks.occurred_at > shifted(cut, -days, "without_next_step", "days"))
                       & talks.next_step.fillna("").astype(str).str.strip().ne("")]
        planned |= set(recent["customer_id"].dropna())
        out = open_.loc[~open_.customer_id.isin(planned),
                        ["customer_id", "owner_id", "stage", "amount", "expected_close"]]
        out = out.sort_values("amount", ascending=False, kind="stable")
        out.attrs["as_of"] = cut
        return out

    def complete(self, task: int) -> "int | None":
        """Mark ``task`` done; returns the id of the next occurrence the store
        made for a recurring task (None for a one-off task, or once a
        series has ended). Any write of ``done=True`` does the same: this is
        a convenience. A monthly series keeps its day, a short month's last
        day standing in: Jan 31, Feb 29, Mar 31, ...

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> t = db.add("tasks", subject="rent", due_at="2024-01-31 09:00", recurrence="monthly")
        >>> nxt = db.sales.complete(t)
        >>> str(db.get("tasks", nxt)["due_at"]), str(db.get("tasks", db.sales.complete(nxt))["due_at"])
        ('2024-02-29 09:00:00', '2024-03-31 09:00:00')
        """
        self._db.update("tasks", task, done=True)
        nxt = self._db.get("tasks", task).get("next_task_id")
        return None if nxt is None or pd.isna(nxt) else int(nxt)

    def reminders(self, now: Any = None, since: Any = None, staff: "int | None" = None) -> pd.DataFrame:
        """The reminders due at ``now`` (default: the clock, since a
        reminder is for the moment it comes): open
        tasks whose ``remind_at`` has come (after ``since``, when given: the
        last time one looked, so that each reminder comes once), for
        ``staff`` (a staff id; None: everyone). Columns ``assignee_id``,
        ``team``, ``subject``, ``remind_at``, ``due_at``, ``customer_id``,
        by reminder time, indexed by task id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> t = db.add("tasks", subject="call Acme", due_at="2024-03-01 10:00", remind_at="2024-03-01 09:45")
        >>> db.sales.reminders(now="2024-03-01 09:50").index.tolist() == [t]
        True
        >>> db.sales.reminders(now="2024-03-01 09:40").empty
        True
        """
        staff = None if staff is None else _record_id(staff, "reminders", "staff")
        at = utc_now() if now is None else as_of_timestamp(now, "now", "reminders")
        since = None if since is None else as_of_timestamp(since, "since", "reminders")
        t = self._open_tasks()
        keep = t["remind_at"].notna() & (t["remind_at"] <= at)
        if since is not None:
            keep &= t["remind_at"] > since
        if staff is not None:
            keep &= t["assignee_id"] == staff
        out = t.loc[keep, ["assignee_id", "team", "subject", "remind_at", "due_at", "customer_id"]]
        return out.sort_values(["remind_at"], kind="stable")

    def due_tasks(self, as_of: Any = None, days: int = 7, by: "str | None" = None) -> pd.DataFrame:
        """Open tasks overdue on ``as_of`` or due in the ``days`` days after
        it (``as_of`` defaults to the clock, not to ``db.default_as_of()``:
        a work list of what is due now; a task's due day is a plan, not an
        event of the data): one row per task (``assignee_id``, ``team``,
        ``subject``, ``due_at``, ``status`` overdue / upcoming,
        ``days_overdue``), the most overdue first; with ``by`` ("owner", the
        assignee, or "team", the assignee's team) the counts per group
        instead: ``overdue``, ``upcoming`` and ``oldest_due``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> wang = db.add("staff", name="Wang", team="north")
        >>> _ = db.add("tasks", subject="quote", due_at="2024-02-27", assignee_id=wang)
        >>> _ = db.add("tasks", subject="visit", due_at="2024-03-04", assignee_id=wang)
        >>> db.sales.due_tasks(as_of="2024-03-01", by="team").loc["north", ["overdue", "upcoming"]].tolist()
        [1, 1]
        """
        if by not in (None, "owner", "team"):
            raise _core.ValidationError(f"by={by!r}: tasks are grouped by 'owner' or 'team'")
        days = _count(days, "due_tasks", "days")
        at = utc_now() if as_of is None else as_of_timestamp(as_of, where="due_tasks")
        t = self._open_tasks()
        t = t[t["due_at"].notna() & (t["due_at"] <= shifted(at, days, "due_tasks", "days"))].copy()
        t["status"] = np.where(t["due_at"] < at, "overdue", "upcoming")
        t["days_overdue"] = pd.Series(days_between(at, t["due_at"]), index=t.index).where(t["status"] == "overdue")
        if by is None:
            out = t[["assignee_id", "team", "subject", "due_at", "status", "days_overdue"]]
            return out.sort_values(["due_at"], kind="stable")
        key = t["assignee_id"] if by == "owner" else t["team"]
        out = pd.DataFrame({"overdue": (t["status"] == "overdue").groupby(key).sum().astype(int),
                            "upcoming": (t["status"] == "upcoming").groupby(key).sum().astype(int),
                            "oldest_due": t["due_at"].groupby(key).min()})
        out.index.name = by
        return out

    def _open_tasks(self) -> pd.DataFrame:
        """Tasks not done, with their assignee's team."""
        t = self._db.frame("tasks", columns=["subject", "due_at", "remind_at", "assignee_id", "customer_id", "done"])
        t = t[~t["done"].fillna(False).astype(bool)]
        t.insert(1, "team", self._db.frame("staff", columns=["team"])["team"].reindex(t["assignee_id"]).array)
        return t
