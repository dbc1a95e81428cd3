"""Each work list's default point is the one its docstring names (issue 13).

A list of who is due now (SLA breaches, people not called, tasks, reminders,
missed promises, points and tiers) runs on the clock; an analysis of the
history, and the lists built from one (the call list reads the lifecycle),
describe the end of the data, ``db.default_as_of()``; stock stands on every
movement recorded. The store's data ends in mid 2024 and the plans reach
into 2025, so that the clock (the session runs later) and the end of the
data give different lists: each default must be the named one and not the
other."""
import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def db(backend):
    db = crm.open(":memory:")
    li = db.add("staff", name="Li", team="north")
    ann = db.add("customers", name="Ann", owner="Li")
    bob = db.add("customers", name="Bob", owner="Li")
    for day in ("2024-01-01", "2024-01-11", "2024-01-21", "2024-01-31"):
        db.add("orders", customer_id=ann, ordered_at=day, amount=5.0)
    db.add("orders", customer_id=bob, ordered_at="2024-05-05", amount=100.0)
    db.add("interactions", customer_id=bob, staff_id=li, channel="call", occurred_at="2024-05-20",
           next_contact_at="2025-01-15")
    db.service.set_sla("high", 1, 16)
    db.add("tickets", customer_id=bob, severity="high", opened_at="2024-06-01 10:00")
    db.add("tasks", subject="quote", due_at="2025-06-01", remind_at="2025-05-31", assignee_id=li)
    db.add("contracts", customer_id=bob, value=900.0, started_at="2024-01-01", ends_at="2024-08-01")
    db.add("invoices", customer_id=bob, issued_at="2024-05-06", due_at="2024-06-05", amount=100.0)
    where = db.add("locations", name="North")
    tea = db.add("products", sku="TEA", name="Tea", reorder_point=5, reorder_quantity=20)
    db.stock.adjust(tea, where, 3, reason="count", at="2024-05-01")
    club = db.members.add_program("club", expiry_days=30)
    db.members.join(club, [ann, bob], at="2024-01-01")
    db.members.earn(club)
    db.club = club
    return db


def test_the_data_ends_before_the_clock(db):
    assert db.default_as_of() == pd.Timestamp("2024-06-02")  # the ticket of 2024-06-01
    assert pd.Timestamp.now() - db.default_as_of() > 365 * DAY


def clock():
    return pd.Timestamp.now()


def near_the_clock(t):
    return abs(pd.Timestamp(t).tz_localize(None) - clock()) < DAY  # (UTC or local: hours apart at most)


def test_sla_lists_run_on_the_clock(db):
    sla = db.service.sla()
    assert near_the_clock(sla.attrs["as_of"])
    assert len(db.service.breached()) == 1                          # days past its 16 business hours
    assert len(db.service.breached(as_of=db.default_as_of())) == 0  # at the data's end: not yet


def test_care_not_contacted_runs_on_the_clock_and_the_call_list_on_the_data(db):
    late = db.care.not_contacted(days=90)
    bob = late.index[late["name"] == "Bob"]
    assert len(bob) == 1 and late.loc[bob[0], "days_since"] > 365
    assert "Bob" not in db.care.not_contacted(days=90, as_of=db.default_as_of())["name"].tolist()
    calls = db.care.call_list()
    assert calls.equals(db.care.call_list(as_of=db.default_as_of())) and calls["name"].tolist() == ["Ann", "Bob"]
    assert db.care.call_list(as_of=clock()).empty  # on the clock both are long churned: past a call


def test_tasks_reminders_and_promises_run_on_the_clock(db):
    assert db.sales.due_tasks()["status"].tolist() == ["overdue"]
    assert db.sales.due_tasks(as_of=db.default_as_of()).empty
    assert len(db.sales.reminders()) == 1 and db.sales.reminders(now=db.default_as_of()).empty
    missed = db.service.check_timeline()
    assert "next_contact_missed" in missed["check"].tolist()
    assert "next_contact_missed" not in db.service.check_timeline(as_of=db.default_as_of())["check"].tolist()


def test_members_points_run_on_the_clock_and_the_report_on_the_data(db):
    report = db.members.report(db.club)
    assert report["as_of"] == db.default_as_of() and report["active"] == 2
    assert db.members.report(db.club, clock())["active"] == 0


def test_points_expire_on_the_clock():
    """The points earned in 2024 (30 days' expiry) had not expired at the
    data's end; on the clock they have, and the entries are dated now (which
    moves the data's end: that is why this store is its own)."""
    db = crm.open(":memory:")
    ann = db.add("customers", name="Ann")
    db.add("orders", customer_id=ann, ordered_at="2024-05-05", amount=100.0)
    club = db.members.add_program("club", expiry_days=30)
    db.members.join(club, [ann], at="2024-05-01")
    db.members.earn(club)
    assert db.members.balances(club, db.default_as_of()).tolist() == [100.0]
    assert db.members.expire(club).tolist() == [100.0]
    assert db.members.ledger(club).query("reason == 'expire'")["at"].map(near_the_clock).all()
    assert db.members.balances(club).tolist() == [0.0]


def test_stock_stands_on_every_movement_and_the_ledger_on_the_data(db):
    assert db.stock.on_hand().equals(db.stock.on_hand(as_of="2262-01-01"))
    assert db.stock.reorder_list()["on_hand"].tolist() == [3.0]
    due = db.sales.renewals_due()
    assert due.equals(db.sales.renewals_due(as_of=db.default_as_of())) and due["days_left"].tolist() == [60.0]
    assert db.sales.open_invoices().equals(db.sales.open_invoices(as_of=db.default_as_of()))
