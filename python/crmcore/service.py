"""Customer service, grouped on ``db.service``: the ticket workflow, SLAs in
business hours, escalation, repeat complaints, satisfaction, the caller-ID
view and the customer timeline.

The workflow itself lives in the store's write path (C++, ticket_rules.cpp):
any write of a ticket's status, by these methods, ``db.update`` or an import,
is checked against the workflow and leaves a ``ticket_events`` row, so the
methods here are conveniences, not the only way in.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from . import _core, _holidays
from ._args import _INT64_MAX, _count, _days, _invalid, _number, _record_ids
from .scoring._columns import as_of_ns, as_of_timestamp, stamp, times_ns

#: The workflow's statuses in order; a ticket is open until resolved.
STATUSES = ("new", "assigned", "in_progress", "waiting", "resolved", "closed", "reopened")
OPEN = ("new", "assigned", "in_progress", "waiting", "reopened")
_NO_TIME = np.iinfo(np.int64).min


def business_calendar(open: str = "09:00", close: str = "18:00", utc_offset: float = 8,  # noqa: A002
                      holidays: Any = None, workdays: Any = None) -> "_core.BusinessCalendar":
    """The working time SLAs are counted in: weekdays from `open` to `close`
    local time (UTC+`utc_offset` hours), less China's public holidays, plus
    the weekends those holidays make working days (from the
    ``chinesecalendar`` package; pass `holidays` / `workdays`, sequences of
    dates, to use others). Beyond the years the package covers, only
    weekends are skipped.

    >>> cal = business_calendar()
    >>> start = pd.Series(pd.to_datetime(["2024-09-27 17:00+08:00"]))  # Friday before National Day
    >>> end = pd.Series(pd.to_datetime(["2024-10-08 10:00+08:00"]))
    >>> cal.hours_between(times_ns(start), times_ns(end)).tolist()  # 1 + 9 (Sun 29, made a workday) + 9 + 1
    [20.0]
    """
    if holidays is None and workdays is None:
        off, work, _ = _holidays.china_days()
    else:
        off = _holidays.day_numbers(_days_of(holidays, "holidays"))
        work = _holidays.day_numbers(_days_of(workdays, "workdays"))
    # (A zone is less than a day from UTC; NaN made int() raise a bare ValueError.)
    utc_offset = _number(utc_offset, "business_calendar", "utc_offset", low=-24, high=24, low_open=True, high_open=True)
    return _core.BusinessCalendar(int(round(utc_offset * 3600)), _seconds(open), _seconds(close), off, work)


def _days_of(dates: Any, field: str) -> list:
    """The days of a list of dates given to :func:`business_calendar`, each
    read by the one date parser (text that is no date, NaT, a bare number
    or a date beyond the store's years is refused naming ``field[i]``); a
    zoned date is the day it names in its own zone."""
    if dates is None:
        return []
    listed = [dates] if isinstance(dates, (str, bytes)) or not hasattr(dates, "__iter__") else list(dates)
    for i, day in enumerate(listed):
        as_of_timestamp(day, f"{field}[{i}]", "business_calendar")
    return [pd.Timestamp(day).date() for day in listed]


def _seconds(hhmm: str) -> int:
    t = pd.Timedelta(hhmm + ":00" if hhmm.count(":") == 1 else hhmm)
    return int(t.total_seconds())


def _calendar(calendar: Any) -> "_core.BusinessCalendar":
    """The business calendar an SLA report counts in: the default one, or
    the one given, which must be one (from :func:`business_calendar`)."""
    if calendar is None:
        return business_calendar()
    if not isinstance(calendar, _core.BusinessCalendar):
        raise _invalid("sla", "calendar", f"must be a business_calendar(...), got {calendar!r}")
    return calendar


@dataclasses.dataclass
class Caller:
    """What the caller-ID view shows about the customer behind a phone number."""

    customer: "dict | None"
    contact: "dict | None"
    owner: Any
    open_tickets: pd.DataFrame
    recent_orders: pd.DataFrame
    last_interaction: "dict | None"
    last_prices: pd.DataFrame

    def __repr__(self) -> str:
        name = self.customer["name"] if self.customer else "unknown caller"
        return (f"<Caller {name!r}: owner {self.owner!r}, {len(self.open_tickets)} open tickets, "
                f"{len(self.recent_orders)} recent orders, {len(self.last_prices)} products priced>")


class ServiceMethods:
    """The service side of a store: ``db.service.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> agent = db.add("staff", name="Wang")
    >>> t = db.add("tickets", customer_id=db.add("customers", name="Acme"), opened_at="2024-03-01")
    >>> db.service.assign(t, agent); db.service.move(t, "resolved")
    >>> db.frame("ticket_events")["status"].tolist()
    ['new', 'assigned', 'resolved']
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<service of {self._db!r}>"

    # -- the workflow ------------------------------------------------------
    def move(self, ticket: int, status: str, reason: str | None = None, at: Any = None,
             by: int | None = None, **fields: Any) -> None:
        """Move `ticket` to `status` (one of :data:`STATUSES`); the store
        checks the move against the workflow (new → assigned → in_progress
        → waiting → resolved → closed, reopened from resolved or closed) and
        refuses others with ValidationError naming the allowed ones. It
        writes the ticket_events row (from, to, when, by whom, why), sets
        first_response_at on the first move to work, resolved_at on
        resolved, and counts a reopening. Other ticket fields (resolution,
        satisfaction, ...) may be written with it. `reason` is the why of
        the event, `at` when (default now) and `by` the staff id who moved it.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> t = db.add("tickets", opened_at="2024-03-01")
        >>> db.service.move(t, "in_progress", at="2024-03-01 10:00")
        >>> str(db.get("tickets", t)["first_response_at"])
        '2024-03-01 10:00:00'
        """
        self._db.update("tickets", ticket, status=status, status_reason=reason, status_changed_at=at,
                        status_changed_by=by, **fields)

    def assign(self, ticket: int, staff: int, at: Any = None, by: int | None = None) -> None:
        """Give `ticket` to the staff member `staff` and move it to assigned
        (a ticket already at work keeps its status and changes hands). A
        staff id that does not exist is refused and nothing changes. `at`
        is when (default now), `by` the staff id who assigned it.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> t = db.add("tickets", opened_at="2024-03-01")
        >>> db.service.assign(t, db.add("staff", name="Li"))
        >>> db.get("tickets", t)["status"]
        'assigned'
        """
        status = self._db.get("tickets", ticket)["status"]
        if status in ("new", "reopened", None):
            self._db.update("tickets", ticket, assignee_id=staff, status="assigned", status_changed_at=at,
                            status_changed_by=by)
        else:
            self._db.update("tickets", ticket, assignee_id=staff)

    def escalate(self, tickets: Any, at: Any = None) -> None:
        """Raise the escalation level of each ticket in `tickets` (an id or
        ids) by one and note when (`at`, default now); the level is what a
        manager's view sorts by. Escalating every breached ticket:
        ``db.service.escalate(db.service.breached().index)``. All or none
        are escalated.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> t = db.add("tickets", opened_at="2024-03-01")
        >>> db.service.escalate(t); db.service.escalate([t])
        >>> db.get("tickets", t)["escalation"]
        2
        """
        ids = _record_ids([tickets] if np.ndim(tickets) == 0 else tickets, "escalate", "tickets")
        when = pd.Timestamp.now("UTC") if at is None else at
        with self._db.transaction():
            for tid in ids.tolist():
                level = self._db.get("tickets", tid)["escalation"]
                self._db.update("tickets", tid, escalation=(level or 0) + 1, escalated_at=when)

    # -- SLA ---------------------------------------------------------------
    def set_sla(self, severity: str, first_response_hours: float, resolution_hours: float,
                tier: str | None = None) -> int:
        """Set the SLA targets, in business hours (`first_response_hours`,
        `resolution_hours`), for tickets of `severity`
        from customers of `tier` (None: any tier without a policy of its
        own); replaces an existing policy for the same pair. Returns its id.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.service.set_sla("high", 2, 16); _ = db.service.set_sla("high", 1, 8, tier="gold")
        >>> db.frame("sla_policies").fillna({"tier": "any"})[["severity", "tier", "resolution_hours"]].values.tolist()
        [['high', 'any', 16.0], ['high', 'gold', 8.0]]
        """
        if not isinstance(severity, str):
            raise _invalid("set_sla", "severity", f"must be a severity (low, medium, high, critical), got {severity!r}")
        if tier is not None and not isinstance(tier, str):
            raise _invalid("set_sla", "tier", f"must be a customer tier (a text) or None for any, got {tier!r}")
        if tier is not None and not tier.strip():
            tier = None  # a blank tier is stored as none: the policy for any tier
        policies = self._db.frame("sla_policies")
        same = policies[(policies.severity == severity) & (policies.tier.isna() if tier is None
                                                           else policies.tier == tier)]
        values = {"first_response_hours": _number(first_response_hours, "set_sla", "first_response_hours", low=0),
                  "resolution_hours": _number(resolution_hours, "set_sla", "resolution_hours", low=0)}
        if len(same):
            self._db.update("sla_policies", int(same.index[0]), **values)
            return int(same.index[0])
        return self._db.add("sla_policies", severity=severity, tier=tier, **values)

    def sla(self, as_of: Any = None, at_risk: float = 0.8, calendar: Any = None,
            pause_waiting: bool = True) -> pd.DataFrame:
        """Every ticket with an SLA policy against its targets, in business
        hours (:func:`business_calendar`, or `calendar`). Columns:
        customer_id, severity, tier, status, assignee_id, opened_at,
        first_response_due, resolution_due, first_response_hours and
        resolution_hours (business hours taken so far, or until `as_of` for
        what is still pending; with `pause_waiting`, less the paused_hours
        the ticket spent waiting on the customer, which also move the
        resolution due time out), first_response_breached,
        resolution_breached, breached (either), remaining_hours (to the
        resolution target, open tickets) and at_risk (open, not breached,
        with more than `at_risk` of the resolution target used). The policy
        for the ticket's severity and its customer's tier wins over the one
        for the severity and no tier. `as_of` defaults to the clock, not to
        ``db.default_as_of()``: this is a work list of who is breaching now,
        and an open ticket's clock runs whether or not anything was written
        since (reported in ``attrs["as_of"]``). Computed in C++ over the
        columns.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.service.set_sla("high", 1, 16)
        >>> t = db.add("tickets", severity="high", opened_at="2024-09-27 17:00+08:00")
        >>> row = db.service.sla(as_of="2024-10-08 10:00+08:00").loc[t]
        >>> str(row.resolution_due), float(row.resolution_hours), bool(row.breached)
        ('2024-09-30 07:00:00', 20.0, True)
        """
        at_risk = _number(at_risk, "sla", "at_risk", low=0, high=1)
        cal = _calendar(calendar)
        cut = int(as_of_ns(pd.Timestamp.now("UTC") if as_of is None else as_of, where="sla"))  # type: ignore[arg-type]
        t = self._tickets_with_policy()
        t = t[times_ns(t.opened_at) <= cut]  # not yet opened at as_of
        opened = times_ns(t.opened_at)
        first = times_ns(t.first_response_at)
        resolved = times_ns(t.resolved_at)
        out = t[["customer_id", "severity", "tier", "status", "assignee_id", "opened_at"]].copy()
        # What happened after as_of has not happened yet: the clocks stop at as_of.
        end = np.where((resolved == _NO_TIME) | (resolved > cut), cut, resolved)
        # A ticket resolved without a recorded first response was answered by its resolution.
        first_end = np.where((first == _NO_TIME) | (first > cut), end, first)
        paused = self._waiting_hours(t.index, cal, cut) if pause_waiting else np.zeros(len(t))
        target = t.resolution_target.to_numpy(np.float64)
        first_due = cal.add_hours(opened, t.first_response_target.to_numpy(np.float64))
        due = cal.add_hours(opened, target + paused)  # a pause moves the target out by its length
        out["first_response_due"] = first_due.view("datetime64[ns]")
        out["resolution_due"] = due.view("datetime64[ns]")
        out["first_response_hours"] = cal.hours_between(opened, first_end)
        out["paused_hours"] = paused
        out["resolution_hours"] = cal.hours_between(opened, end) - paused
        out["first_response_breached"] = out.first_response_hours > t.first_response_target
        out["resolution_breached"] = out.resolution_hours > t.resolution_target
        out["breached"] = out.first_response_breached | out.resolution_breached
        is_open = out.status.isin(OPEN).to_numpy() | ((resolved != _NO_TIME) & (resolved > cut))
        remaining = target - out.resolution_hours.to_numpy()
        out["remaining_hours"] = np.where(is_open, remaining, np.nan)
        used = out.resolution_hours / t.resolution_target
        out["at_risk"] = is_open & ~out.breached.to_numpy() & (used > at_risk).to_numpy()
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def breached(self, as_of: Any = None, calendar: Any = None) -> pd.DataFrame:
        """The open tickets past a target (see :meth:`sla`), the longest
        over first: the rows of :meth:`sla` (indexed by ticket id, columns
        customer_id, severity, tier, status, assignee_id, opened_at, the due
        times, hours used, the breached flags, remaining_hours, at_risk).
        ``as_of`` defaults to the clock, as in :meth:`sla` (a work list of
        now); ``calendar`` is that of :meth:`sla`.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.service.set_sla("low", 8, 40)
        >>> t = db.add("tickets", severity="low", opened_at="2024-03-01 09:00+08:00")
        >>> db.service.breached(as_of="2024-03-04 09:00+08:00").index.tolist() == [t]
        True
        """
        _calendar(calendar)
        s = self.sla(as_of, calendar=calendar)
        s = s[s.breached & s.status.isin(OPEN)]
        return s.sort_values("remaining_hours", kind="stable")

    def at_risk(self, as_of: Any = None, share: float = 0.8, calendar: Any = None) -> pd.DataFrame:
        """The open tickets not yet breached that have used more than `share`
        of their resolution target, the least time left first: the rows and
        columns of :meth:`sla` (remaining_hours among them). ``as_of`` and
        ``calendar`` are those of :meth:`sla`.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.service.set_sla("low", 10, 10)
        >>> t = db.add("tickets", severity="low", opened_at="2024-03-01 09:00+08:00")  # a Friday
        >>> db.service.at_risk(as_of="2024-03-04 09:30+08:00")["remaining_hours"].tolist()
        [0.5]
        """
        share = _number(share, "at_risk", "share", low=0, high=1)
        _calendar(calendar)
        s = self.sla(as_of, at_risk=share, calendar=calendar)
        return s[s.at_risk].sort_values("remaining_hours", kind="stable")

    def _waiting_hours(self, tickets: pd.Index, cal: Any, cut: int) -> np.ndarray:
        """Business hours each ticket spent in "waiting" up to `cut`, from
        its ticket_events (a stay lasts until the ticket's next event)."""
        ev = self._db.frame("ticket_events", columns=["ticket_id", "status", "changed_at"])
        ev = ev[ev.ticket_id.isin(tickets)].rename_axis("event").sort_values(["ticket_id", "changed_at", "event"],
                                                                             kind="stable")
        start = times_ns(ev.changed_at)
        after = ev.groupby("ticket_id").changed_at.shift(-1)
        end = np.minimum(np.where(after.isna().to_numpy(), cut, times_ns(after)), cut)
        stay = (ev.status == "waiting").to_numpy() & (start < cut)
        hours = cal.hours_between(start[stay], end[stay])
        return pd.Series(hours).groupby(ev.ticket_id.to_numpy()[stay]).sum().reindex(tickets, fill_value=0.0).to_numpy()

    def _tickets_with_policy(self) -> pd.DataFrame:
        t = self._db.frame("tickets")
        tier = self._db.frame("customers", columns=["tier"])["tier"]
        t["tier"] = tier.reindex(t.customer_id).array  # (map of no tickets kept their Int64 dtype)
        # One policy per pair; a file written before the store refused a
        # second one may hold two: the later one is the one set_sla set.
        p = self._db.frame("sla_policies").sort_index().drop_duplicates(["severity", "tier"], keep="last")
        exact = p[p.tier.notna()].set_index(["severity", "tier"])
        generic = p[p.tier.isna()].set_index("severity")
        for name, column in (("first_response_target", "first_response_hours"),
                             ("resolution_target", "resolution_hours")):
            keys = pd.MultiIndex.from_arrays([t.severity, t.tier])
            own = pd.Series(exact[column].reindex(keys).to_numpy(), index=t.index)
            t[name] = own.fillna(t.severity.map(generic[column]))
        return t[t.resolution_target.notna() | t.first_response_target.notna()]

    # -- complaints and satisfaction ---------------------------------------
    def repeat_complaints(self, within_days: float = 30, min_tickets: int = 2) -> pd.DataFrame:
        """Customers who complained about the same category again: per
        customer and category, the tickets opened within `within_days` of
        the previous one of the same pair, kept where a run of such tickets
        reaches `min_tickets`. Columns: tickets (in the longest run), first
        and last opened_at, reopened (their reopenings).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> for day in ("2024-03-01", "2024-03-10", "2024-06-01"):
        ...     _ = db.add("tickets", customer_id=c, category="billing", opened_at=day)
        >>> db.service.repeat_complaints()["tickets"].tolist()
        [2]
        """
        within_days = _days(within_days, "repeat_complaints", "within_days")
        min_tickets = _count(min_tickets, "repeat_complaints", "min_tickets", low=1, high=_INT64_MAX)
        t = self._db.frame("tickets", columns=["customer_id", "category", "opened_at", "reopened"])
        t = t.dropna(subset=["customer_id", "category"]).sort_values(["customer_id", "category", "opened_at"],
                                                                     kind="stable")
        gap = t.groupby(["customer_id", "category"]).opened_at.diff()
        new_run = gap.isna() | (gap > pd.Timedelta(days=within_days))
        t["run"] = new_run.cumsum()
        runs = t.groupby(["customer_id", "category", "run"]).agg(
            tickets=("opened_at", "size"), first=("opened_at", "min"), last=("opened_at", "max"),
            reopened=("reopened", "sum"))
        runs = runs[runs.tickets >= min_tickets].sort_values("tickets", ascending=False, kind="stable")
        runs = runs.reset_index("run", drop=True)
        return runs[~runs.index.duplicated()].sort_index()

    def satisfaction(self, by: str = "assignee_id", as_of: Any = None) -> pd.DataFrame:
        """Satisfaction after resolution, per `by` (a ticket field: assignee_id,
        category, severity, ...), over the tickets resolved up to `as_of`
        (default ``db.default_as_of()``, the end of the data; reported in
        ``attrs["as_of"]``): resolved tickets, rated (with a satisfaction
        score), rating_rate, mean and median satisfaction, reopened share:
        one row per value of `by`, columns resolved, rated, rating_rate,
        mean, median and reopened_share. The tickets are taken as they stood
        at ``as_of`` from their events: one resolved then and reopened
        later counts as resolved, one reopened later counts those reopenings
        out. The satisfaction score is today's: the store keeps no dated
        history of it (the audit log dates a write by the clock, and an
        imported history is all dated by its import).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("tickets", category="billing", opened_at="2024-03-01")
        >>> db.service.move(a, "resolved", satisfaction=4.0)
        >>> float(db.service.satisfaction(by="category").loc["billing", "mean"])
        4.0
        >>> len(db.service.satisfaction(as_of="2024-03-01"))    # resolved today, not by then
        0
        """
        fields = [f["name"] for f in self._db._core.describe("tickets")["fields"]]
        if not isinstance(by, str) or by not in fields:
            raise _invalid("satisfaction", "by", f"must be a field of tickets ({', '.join(fields)}), got {by!r}")
        cut = self._db._as_of(as_of, where="satisfaction")
        t = self._tickets_at(cut)
        t = t[t.resolved_at.notna() & (times_ns(t.resolved_at) <= cut)]
        g = t.groupby(by)
        out = pd.DataFrame({"resolved": g.size(), "rated": g.satisfaction.count()})
        out["rating_rate"] = out.rated / out.resolved
        out["mean"] = g.satisfaction.mean()
        out["median"] = g.satisfaction.median()
        out["reopened_share"] = g.reopened.apply(lambda r: (r.fillna(0) > 0).mean()).astype(float)  # (no groups: Int64)
        return stamp(out, cut)

    def _tickets_at(self, cut: int) -> pd.DataFrame:
        """The tickets as they stood at ``cut`` (ns), from their events (the
        store writes one per status change, in the data's time): a ticket
        that moved later was resolved then when its last event up to
        ``cut`` resolved or closed it, at the time of its last resolve up
        to then (or of that event); it had been reopened as often as now
        less the reopenings after ``cut``. A ticket that did not move later
        is as it is now."""
        t = self._db.frame("tickets")
        if cut >= self._db.default_as_of().value:
            return t  # no event is dated after the end of the data
        events = self._db.frame("ticket_events", columns=["ticket_id", "status", "changed_at"])
        at = times_ns(events.changed_at)
        moved = t.index.isin(events.ticket_id[at > cut])
        if not moved.any():
            return t
        t = t.copy()
        before = events[at <= cut].sort_values("changed_at", kind="stable")
        last = before.drop_duplicates("ticket_id", keep="last").set_index("ticket_id").reindex(t.index[moved])
        resolves = before[before.status == "resolved"].drop_duplicates("ticket_id", keep="last")
        resolved = resolves.set_index("ticket_id").changed_at.reindex(t.index[moved]).fillna(last.changed_at)
        done = last.status.isin(["resolved", "closed"]).to_numpy(dtype=bool)
        t.loc[moved, "resolved_at"] = resolved.where(done, pd.NaT).to_numpy()
        reopened_later = events[(at > cut) & (events.status == "reopened").to_numpy()].ticket_id.value_counts()
        t.loc[moved, "reopened"] = (t.reopened[moved].fillna(0)
                                    - reopened_later.reindex(t.index[moved]).fillna(0).to_numpy()).clip(lower=0)
        return t

    # -- caller ID and timeline --------------------------------------------
    def caller(self, phone: str, recent: int = 5) -> Caller:
        """Who is calling: the customer behind `phone` (any format; a
        contact's number finds the customer the contact works at), with its
        open tickets, `recent` latest orders, owner, last interaction and the
        last price paid for each product (from order lines).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme", phone="+86 138 0013 8000", owner="Li")
        >>> _ = db.add("tickets", customer_id=c, opened_at="2024-03-01")
        >>> view = db.service.caller("138-0013-8000")
        >>> view.customer["name"], len(view.open_tickets), view.owner
        ('Acme', 1, 'Li')
        """
        recent = _count(recent, "caller", "recent", high=_INT64_MAX)
        db = self._db
        found = db.find("customers", phone=phone)
        contact = None
        if found.empty:
            contacts = db.find("contacts", phone=phone)
            if not contacts.empty:
                contact = db.get("contacts", int(contacts.index[0]))
                links = db.find("customer_contacts", contact_id=int(contacts.index[0]))
                if not links.empty:
                    found = db.frame("customers", ids=[int(links.sort_values("is_primary").customer_id.iloc[-1])])
        if found.empty:
            empty = pd.DataFrame()
            return Caller(None, contact, None, empty, empty, None, empty)
        cid = int(found.index[0])
        customer = db.get("customers", cid)
        tickets = db.find("tickets", customer_id=cid)
        open_tickets = tickets[tickets.status.isin(OPEN)] if len(tickets) else tickets
        orders = db.find("orders", customer_id=cid, order_by="-ordered_at")
        talks = db.find("interactions", customer_id=cid, order_by="-occurred_at", limit=1)
        last = db.get("interactions", int(talks.index[0])) if len(talks) else None
        prices = pd.DataFrame(columns=["unit_price", "ordered_at", "order_id"])
        if len(orders):
            lines = db.find("order_lines", order_id=orders.index.tolist())
            if len(lines):
                lines = lines.assign(ordered_at=lines.order_id.map(orders.ordered_at))
                lines = lines.sort_values(["ordered_at"], kind="stable").dropna(subset=["product_id"])
                prices = lines.groupby("product_id")[["unit_price", "ordered_at", "order_id"]].last()
        return Caller(customer, contact, customer.get("owner"), open_tickets, orders.head(recent), last, prices)

    def price_changes(self, customer: int | None = None, threshold: float = 0.1) -> pd.DataFrame:
        """Prices that moved: each order line whose unit price differs by more
        than `threshold` (a share) from the previous price of the same
        product to the same customer, so that a quote can be checked
        against what the customer was told last time. Columns: customer_id,
        product_id, order_id, ordered_at, unit_price, previous_price,
        change (a share); for one customer or all.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c, p = db.add("customers", name="Acme"), db.add("products", sku="T1", name="Tea")
        >>> for day, price in (("2024-01-01", 10.0), ("2024-02-01", 10.5), ("2024-03-01", 13.0)):
        ...     o = db.add("orders", customer_id=c, ordered_at=day, amount=price)
        ...     _ = db.add("order_lines", order_id=o, product_id=p, quantity=1.0, unit_price=price)
        >>> db.service.price_changes(c)[["previous_price", "unit_price"]].values.tolist()
        [[10.5, 13.0]]
        """
        threshold = _number(threshold, "price_changes", "threshold", low=0)
        db = self._db
        orders = db.frame("orders", columns=["customer_id", "ordered_at"]) if customer is None \
            else db.find("orders", customer_id=customer)[["customer_id", "ordered_at"]]
        lines = db.frame("order_lines", columns=["order_id", "product_id", "unit_price"])
        lines = lines[lines.order_id.isin(orders.index) & lines.product_id.notna()]
        lines = lines.join(orders, on="order_id").sort_values(["ordered_at", "order_id"], kind="stable")
        lines["previous_price"] = lines.groupby(["customer_id", "product_id"]).unit_price.shift()
        lines["change"] = lines.unit_price / lines.previous_price - 1
        moved = lines[lines.change.abs() > threshold]
        return moved[["customer_id", "product_id", "order_id", "ordered_at", "unit_price", "previous_price", "change"]]

    def check_timeline(self, customer: int | None = None, as_of: Any = None, grace_days: float = 0.0,
                       threshold: float = 0.1) -> pd.DataFrame:
        """The consistency checks of the record of contact, so the next
        conversation agrees with the last one; for one customer or all.
        One row per finding: check, customer_id, kind and id (the record),
        time, detail. The checks:

        - ``contact_not_linked``: an interaction with a contact who was not
          tied to the customer when it happened (the customer_contacts row
          or works_at link began later, had ended, or was removed since;
          the store refuses a contact with no tie at write time, but ties
          change afterwards).
        - ``next_contact_missed``: an interaction set ``next_contact_at``
          and the date (plus `grace_days`) passed before `as_of` (default
          the clock: a promised call is missed when its day has passed, not
          when the data ends) with no later interaction (notes do not
          count), or with only a late one.
        - ``price_changed``: an order line whose unit price differs by more
          than `threshold` from the previous price of the product to the
          customer (:meth:`price_changes`).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("interactions", customer_id=c, channel="call", occurred_at="2024-03-01",
        ...            next_contact_at="2024-03-08")
        >>> db.service.check_timeline(c, as_of="2024-04-01")[["check", "detail"]].values.tolist()
        [['next_contact_missed', 'next contact promised by 2024-03-08, none since']]
        """
        threshold = _number(threshold, "check_timeline", "threshold", low=0)
        from ._timeline import timeline_checks

        grace_days = _days(grace_days, "check_timeline", "grace_days")
        return timeline_checks(self._db, customer, as_of, grace_days, threshold)

    def timeline_view(self, customer: int) -> Any:
        """:meth:`timeline` for reading: in Jupyter a table per day, newest
        first, coloured by kind (its latest 200 events); as text, one line
        per event. The events are in its ``frame``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2024-03-02 10:30", amount=120.0)
        >>> print(db.service.timeline_view(c))
        Acme: 1 events
        2024-03-02 10:30  order             order 120.00 (no status)
        """
        from ._timeline import TimelineView

        return TimelineView(self._db.get("customers", customer)["name"], self.timeline(customer))

    def timeline(self, customer: int) -> pd.DataFrame:
        """Every event about `customer` in time order: orders, payments,
        interactions (notes are interactions on the "note" channel), tickets
        opened and their status changes, deal stage changes and campaign
        touches and responses. Columns: time, kind, id (the record the event
        is about), summary (one line), who (the staff member, by name, when
        known).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2024-03-02", amount=120.0)
        >>> _ = db.add("interactions", customer_id=c, channel="call", occurred_at="2024-03-01", summary="asked for a quote")
        >>> db.service.timeline(c)[["kind", "summary"]].values.tolist()
        [['interaction', 'call: asked for a quote'], ['order', 'order 120.00 (no status)']]
        """
        from ._timeline import customer_events

        return customer_events(self._db, customer)
