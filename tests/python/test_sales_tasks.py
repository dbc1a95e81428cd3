"""Reminders and recurring tasks (issue 11, part 6): the next occurrence of a
completed recurring task is made in the store's write path and follows
python-dateutil's rrule (a monthly series on the 31st keeps to each month's
last day); reminders and the overdue / upcoming lists against plain pandas."""

import numpy as np
import pandas as pd
import pytest
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

T = pd.Timestamp


def _rrule_dates(rule, every, start, n):
    """The first ``n`` occurrences by dateutil: a day the month lacks is its last day (the latest of
    days 28..day the month has: bymonthday with bysetpos=-1)."""
    days = {"bymonthday": list(range(min(start.day, 28), start.day + 1)), "bysetpos": -1}
    freq, extra = {"daily": (DAILY, {}), "weekly": (WEEKLY, {}), "monthly": (MONTHLY, days),
                   "yearly": (YEARLY, dict(days, bymonth=start.month))}[rule]
    return [T(x) for x in rrule(freq, interval=every, dtstart=start.to_pydatetime(), count=n, **extra)]


@pytest.mark.parametrize("rule", ["daily", "weekly", "monthly", "yearly"])
def test_completing_a_recurring_task_follows_rrule(rule):
    db = crm.open(":memory:")
    starts = ["2024-01-31 09:30", "2024-02-29", "2023-03-15 17:00", "2023-12-31 23:59", "2024-08-31 08:00",
              "1969-12-31 12:00", "2024-01-30"]
    for start in starts:
        for every in (1, 2, 5):
            t = db.add("tasks", subject=f"{rule} {start}", due_at=start, recurrence=rule, recur_every=every)
            got = [db.get("tasks", t)["due_at"]]
            for _ in range(13):
                t = db.sales.complete(t)
                got.append(db.get("tasks", t)["due_at"])
            assert got == _rrule_dates(rule, every, T(start), 14), (rule, start, every)


def test_month_end_by_hand():
    db = crm.open(":memory:")
    t = db.add("tasks", subject="rent", due_at="2023-01-31", recurrence="monthly")
    dues = [db.get("tasks", t)["due_at"]]
    for _ in range(3):
        t = db.sales.complete(t)
        dues.append(db.get("tasks", t)["due_at"])
    assert [d.strftime("%m-%d") for d in dues] == ["01-31", "02-28", "03-31", "04-30"]
    leap = db.add("tasks", subject="leap", due_at="2024-02-29", recurrence="yearly")
    assert db.get("tasks", db.sales.complete(leap))["due_at"] == T("2025-02-28")


def test_the_next_occurrence_copies_the_task_and_is_made_once():
    db = crm.open(":memory:")
    wang, acme = db.add("staff", name="Wang"), db.add("customers", name="Acme")
    t = db.add("tasks", subject="weekly call", due_at="2024-03-04 10:00", remind_at="2024-03-04 09:30",
               recurrence="weekly", assignee_id=wang, customer_id=acme, recur_until="2024-03-18 10:00")
    assert db.get("tasks", t)["series_start"] == T("2024-03-04 10:00")
    # The store keeps UTC (naive): compared with the UTC clock, not the local one.
    before = pd.Timestamp.now("UTC").tz_localize(None)
    db.update("tasks", t, done=True)            # a plain update does it, not only complete()
    after = pd.Timestamp.now("UTC").tz_localize(None)
    done = db.get("tasks", t)
    assert before.floor("s") - pd.Timedelta(seconds=1) <= done["done_at"] <= after.ceil("s") + pd.Timedelta(seconds=1)
    nxt = db.get("tasks", done["next_task_id"])
    assert (nxt["subject"], nxt["assignee_id"], nxt["customer_id"], nxt["due_at"], nxt["remind_at"]) == \
        ("weekly call", wang, acme, T("2024-03-11 10:00"), T("2024-03-11 09:30"))
    assert not nxt["done"] and nxt["recur_until"] == T("2024-03-18 10:00")
    db.update("tasks", t, done=False)
    assert pd.isna(db.get("tasks", t)["done_at"])
    n = db.count("tasks")
    db.update("tasks", t, done=True)            # reopened and completed again: no second occurrence
    assert db.count("tasks") == n
    last = db.sales.complete(done["next_task_id"])
    assert db.get("tasks", last)["due_at"] == T("2024-03-18 10:00")
    assert db.sales.complete(last) is None      # the next would be after recur_until
    given = db.add("tasks", subject="x", due_at="2024-01-01")
    db.update("tasks", given, done=True, done_at="2024-01-02")
    assert db.get("tasks", given)["done_at"] == T("2024-01-02")


def test_moving_a_recurring_task_moves_its_series():
    db = crm.open(":memory:")
    t = db.add("tasks", subject="report", due_at="2024-01-31", recurrence="monthly")
    db.update("tasks", t, due_at="2024-02-15")
    assert db.get("tasks", t)["series_start"] == T("2024-02-15")
    assert db.get("tasks", db.sales.complete(t))["due_at"] == T("2024-03-15")
    plain = db.add("tasks", subject="later", due_at="2024-05-31")
    db.update("tasks", plain, recurrence="monthly")
    assert db.get("tasks", db.sales.complete(plain))["due_at"] == T("2024-06-30")


def test_bad_schedules_are_refused_and_change_nothing():
    db = crm.open(":memory:")
    t = db.add("tasks", subject="one-off", due_at="2024-01-01")
    n, log = db.count("tasks"), len(db.audit_log())
    with pytest.raises(crm.ValidationError, match="needs its due_at") as e:
        db.add("tasks", subject="no date", recurrence="daily")
    assert e.value.field == "due_at"
    with pytest.raises(crm.ValidationError, match="recurrence"):
        db.add("tasks", subject="typo", due_at="2024-01-01", recurrence="fortnightly")
    with pytest.raises(crm.ValidationError, match="recur_every"):
        db.add("tasks", subject="zero", due_at="2024-01-01", recurrence="daily", recur_every=0)
    with pytest.raises(crm.ValidationError, match="needs its due_at"):
        db.update("tasks", t, recurrence="weekly", due_at=None)
    assert db.count("tasks") == n and len(db.audit_log()) == log
    # an import that completes several recurring tasks makes their next ones in the same write, or none
    ids = db.import_frame("tasks", pd.DataFrame({"subject": ["a", "b"], "due_at": pd.to_datetime(["2024-01-01"] * 2),
                                                 "recurrence": ["daily", "weekly"]}))
    db.import_frame("tasks", pd.DataFrame({"id": ids, "done": [True, True]}), mode="update", key="id")
    frame = db.frame("tasks")
    assert frame.loc[ids, "next_task_id"].notna().all()
    assert frame.loc[frame.loc[ids, "next_task_id"].astype(int), "due_at"].tolist() == [T("2024-01-02"), T("2024-01-08")]
    assert db.audit_check().empty


def test_reminders_and_due_lists_against_pandas():
    rng = np.random.default_rng(3)
    db = crm.open(":memory:")
    staff = [db.add("staff", name=f"s{i}", team="ab"[i % 2]) for i in range(4)]
    n = 300
    due = T("2024-03-01") + pd.to_timedelta(rng.integers(-20 * 24, 20 * 24, n), "h")
    remind = due - pd.to_timedelta(rng.integers(0, 72, n), "h")
    db.import_frame("tasks", pd.DataFrame({
        "subject": [f"t{i}" for i in range(n)], "due_at": due.where(rng.random(n) > 0.1),
        "remind_at": remind.where(rng.random(n) > 0.3),
        "assignee_id": pd.array(np.where(rng.random(n) < 0.1, pd.NA, rng.choice(staff, n)), dtype="Int64"),
        "done": rng.random(n) < 0.3}))
    now, since = T("2024-03-01 12:00"), T("2024-02-22")
    tasks = db.frame("tasks")
    team = tasks.assignee_id.map(db.frame("staff").team)
    open_ = ~tasks.done.fillna(False).astype(bool)
    want = tasks[open_ & (tasks.remind_at <= now) & (tasks.remind_at > since)].sort_values("remind_at", kind="stable")
    got = db.sales.reminders(now=now, since=since)
    assert got.index.tolist() == want.index.tolist() and len(got) > 10
    assert db.sales.reminders(now=now, staff=staff[0]).index.tolist() == \
        tasks[open_ & (tasks.remind_at <= now) & (tasks.assignee_id == staff[0])].sort_values(
            "remind_at", kind="stable").index.tolist()
    listed = db.sales.due_tasks(as_of=now, days=5)
    window = tasks[open_ & (tasks.due_at <= now + pd.Timedelta(days=5))]
    assert sorted(listed.index) == sorted(window.index)
    assert (listed.status == "overdue").sum() == (window.due_at < now).sum()
    for by, key in (("owner", window.assignee_id), ("team", team[window.index])):
        counts = db.sales.due_tasks(as_of=now, days=5, by=by)
        plain = pd.DataFrame({"overdue": (window.due_at < now).groupby(key).sum(),
                              "upcoming": (window.due_at >= now).groupby(key).sum()})
        assert counts[["overdue", "upcoming"]].to_dict() == plain.astype(int).to_dict(), by
        assert (counts.oldest_due == window.due_at.groupby(key).min()).all()
    with pytest.raises(crm.ValidationError, match="owner"):
        db.sales.due_tasks(by="region")
