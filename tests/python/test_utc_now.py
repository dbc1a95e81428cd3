"""Every default "now" is UTC, as the store keeps its times. Some were the
machine's local wall clock: on a server fourteen hours east of Greenwich a
reminder due in an hour was shown as past, a task due in three hours was
overdue, and a member joined in the future. Each case runs with TZ set to
that far zone (Pacific/Kiritimati, UTC+14) and compares with UTC now."""
import time

import pandas as pd
import pytest

import crmcore as crm
from crmcore.automation import at_ns

HOUR = pd.Timedelta(hours=1)


@pytest.fixture
def far_east(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    assert time.localtime().tm_gmtoff == 14 * 3600  # the zone is known to this machine
    yield
    monkeypatch.undo()
    time.tzset()


def utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def near_utc_now(value) -> bool:
    return abs(pd.Timestamp(value) - utc()) < HOUR


def test_automation_now_is_utc(far_east):
    assert near_utc_now(pd.Timestamp(at_ns(None)))


def test_members_join_and_redeem_at_utc_now(far_east):
    db = crm.open()
    p = db.members.add_program("club", expiry_days=30)
    c = db.add("customers", name="Acme")
    (member,) = db.members.join(p, [c])
    assert near_utc_now(db.get("members", int(member))["joined_at"])
    db.add("points_ledger", member_id=int(member), at=utc() - 2 * HOUR, points=50.0, reason="adjust")
    entry = db.members.redeem(int(member), 10)
    assert near_utc_now(db.get("points_ledger", entry)["at"])


def test_reminders_and_due_tasks_use_utc_now(far_east):
    db = crm.open()
    wang = db.add("staff", name="Wang", team="north")
    now = utc()
    later = db.add("tasks", subject="call", due_at=now + 3 * HOUR, remind_at=now + HOUR, assignee_id=wang)
    assert later not in db.sales.reminders().index          # not yet: it reminds in an hour
    due = db.sales.due_tasks(by="team")
    assert due.loc["north", "overdue"] == 0 and due.loc["north", "upcoming"] == 1


def test_a_credit_is_applied_at_utc_now(far_east):
    db = crm.open()
    c = db.add("customers", name="Acme")
    now = utc()
    first = db.add("invoices", customer_id=c, amount=100.0, issued_at=now - 48 * HOUR, due_at=now + 240 * HOUR)
    db.add("payments", customer_id=c, invoice_id=first, amount=130.0, paid_at=now - 24 * HOUR,
           overpayment="credit")
    later = db.add("invoices", customer_id=c, amount=50.0, issued_at=now - 2 * HOUR, due_at=now + 240 * HOUR)
    applied = db.sales.apply_credit(later)
    assert near_utc_now(db.get("credit_applications", applied)["applied_at"])
