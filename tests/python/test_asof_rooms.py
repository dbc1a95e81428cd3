"""``as_of`` on the sales, service and partner analyses (issue 13, item 1).

Each builds a small store with events on both sides of a point and checks the
analysis at that point against plain pandas over the rows up to it (stage
categories and probabilities written out by hand, not read from crmcore), and
that the default point is ``db.default_as_of()``, reported on ``attrs``.
"""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

T = pd.Timestamp
POINT = T("2024-03-01")
# The seeded pipeline, as the reference reads it.
CATEGORY = {"won": "won", "lost": "lost"}
PROBABILITY = {"lead": 0.10, "qualified": 0.25, "proposal": 0.50, "negotiation": 0.75, "won": 1.0, "lost": 0.0}


@pytest.fixture(scope="module")
def deals_db(backend):
    """Deals started, moved and closed before and after POINT, two owners."""
    db = crm.open(":memory:")
    c = db.add("customers", name="Acme", region="north")
    owners = [db.add("staff", name=n, role="sales", team=t) for n, t in (("Li", "A"), ("Wu", "B"))]
    plan = [  # start, moves [(stage, at)], amount, expected close
        ("2024-01-02", [("won", "2024-01-20")], 100.0, "2024-01-31"),
        ("2024-01-05", [("proposal", "2024-01-10"), ("lost", "2024-02-10")], 200.0, "2024-02-28"),
        ("2024-01-10", [("negotiation", "2024-02-01"), ("won", "2024-03-15")], 300.0, "2024-03-10"),
        ("2024-02-01", [("proposal", "2024-02-15"), ("lost", "2024-04-01")], 400.0, "2024-03-20"),
        ("2024-02-10", [("qualified", "2024-02-20")], 500.0, "2024-04-15"),
        ("2024-02-15", [("won", "2024-02-25")], 600.0, "2024-02-25"),
        ("2024-03-05", [("won", "2024-03-25")], 700.0, "2024-03-30"),  # begun after the point
        ("2024-01-15", [("lost", "2024-05-05")], 800.0, "2024-04-30"),
    ]
    for k, (start, moves, amount, close) in enumerate(plan):
        d = db.add("deals", customer_id=c, stage="lead", amount=amount, expected_close=close,
                   stage_changed_at=start, owner_id=owners[k % 2])
        for stage, at in moves:
            db.sales.move(d, stage, at=at)
    return db


def reference_deals(db, point):
    """Every deal as it stood at ``point``: plain pandas over deal_stages."""
    deals = db.frame("deals")
    hist = db.frame("deal_stages")
    hist = hist[hist["changed_at"] <= point].sort_values("changed_at", kind="stable")
    stage = hist.groupby("deal_id")["stage"].last()
    out = deals.loc[deals.index.isin(stage.index), ["owner_id", "amount", "expected_close", "closed_at"]].copy()
    out["stage"] = stage.reindex(out.index)
    out["first"] = hist.groupby("deal_id")["changed_at"].min().reindex(out.index)
    out["category"] = out["stage"].map(CATEGORY).fillna("open")
    out["probability"] = out["stage"].map(PROBABILITY)
    out.loc[out["category"] == "open", "closed_at"] = pd.NaT
    return out


def test_win_rate_counts_the_closes_up_to_as_of(deals_db):
    db = deals_db
    ref = reference_deals(db, POINT)
    closed = ref[ref["category"] != "open"]
    got = db.sales.win_rate(by="owner", as_of=POINT)
    want = closed.groupby("owner_id")["category"].value_counts().unstack(fill_value=0)
    assert got["won"].to_dict() == want["won"].to_dict()
    assert got["lost"].to_dict() == want["lost"].to_dict()
    assert got.attrs["as_of"] == POINT
    late = db.sales.win_rate()
    assert late.attrs["as_of"] == db.default_as_of() == T("2024-05-06")
    assert int(late["won"].sum() + late["lost"].sum()) == 7  # the qualified deal is still open
    assert db.sales.win_rate(as_of=db.default_as_of()).equals(late)


def test_cycle_length_reads_the_closes_up_to_as_of(deals_db):
    db = deals_db
    ref = reference_deals(db, POINT)
    closed = ref[ref["category"] != "open"]
    days = (closed["closed_at"] - closed["first"]) / pd.Timedelta(days=1)
    got = db.sales.cycle_length(as_of=POINT)
    assert got.attrs["deals"].sort_index().to_dict() == days.sort_index().to_dict()
    assert got.iloc[0].tolist() == [len(days), days.mean(), days.median()]
    assert got.attrs["as_of"] == POINT
    assert db.sales.cycle_length().attrs["as_of"] == db.default_as_of()
    assert len(db.sales.cycle_length().attrs["deals"]) == 7


def test_velocity_is_the_pipeline_as_it_stood(deals_db):
    db = deals_db
    ref = reference_deals(db, POINT)
    closed = ref[ref["category"] != "open"]
    won = closed[closed["category"] == "won"]
    cycle = ((closed["closed_at"] - closed["first"]) / pd.Timedelta(days=1)).mean()
    rate = len(won) / len(closed)
    n_open = int((ref["category"] == "open").sum())
    got = db.sales.velocity(as_of=POINT).loc["all"]
    assert got["open_deals"] == n_open == 4
    np.testing.assert_allclose(got[["avg_won", "win_rate", "cycle_days", "velocity"]].astype(float),
                               [won["amount"].mean(), rate, cycle, n_open * won["amount"].mean() * rate / cycle])
    assert db.sales.velocity(as_of=POINT).attrs["as_of"] == POINT
    assert db.sales.velocity().attrs["as_of"] == db.default_as_of()
    assert db.sales.velocity().loc["all", "open_deals"] == 1


def test_forecast_takes_each_deal_in_the_stage_it_was_in(deals_db):
    db = deals_db
    ref = reference_deals(db, POINT)
    keep = ref[ref["category"] != "lost"].copy()
    keep["when"] = keep["expected_close"].where(keep["category"] == "open", keep["closed_at"])
    keep["period"] = keep["when"].dt.to_period("M")
    is_open = keep["category"] == "open"
    amount = keep["amount"]
    want = pd.DataFrame({
        "won": amount.where(~is_open, 0.0).groupby(keep["period"]).sum(),
        "open_deals": is_open.groupby(keep["period"]).sum(),
        "pipeline": amount.where(is_open, 0.0).groupby(keep["period"]).sum(),
        "weighted": (amount * keep["probability"]).where(is_open, 0.0).groupby(keep["period"]).sum(),
        "commit": amount.where(is_open & (keep["probability"] >= 0.75), 0.0).groupby(keep["period"]).sum(),
    })
    got = db.sales.forecast(by=None, as_of=POINT)
    assert got.attrs["as_of"] == POINT
    assert got.index.astype(str).tolist() == want.index.astype(str).tolist()
    for col in want:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), err_msg=col)
    # The deal won on 2024-03-15 was in negotiation then: committed, not won.
    assert got.loc["2024-03", "commit"] == 300.0 and got.loc["2024-03", "won"] == 0.0
    assert db.sales.forecast(by=None).attrs["as_of"] == db.default_as_of()
    assert db.sales.forecast(by=None).loc["2024-03", "won"] == 1000.0


def test_satisfaction_reads_the_tickets_resolved_up_to_as_of():
    db = crm.open(":memory:")
    for k, (opened, resolved, score) in enumerate([("2024-01-02", "2024-01-05", 5.0), ("2024-01-10", "2024-02-20", 3.0),
                                                   ("2024-02-01", "2024-03-10", 1.0), ("2024-02-15", None, None),
                                                   ("2024-02-20", "2024-02-25", None)]):
        t = db.add("tickets", category="billing" if k % 2 else "delivery", opened_at=opened)
        if resolved is not None:
            db.service.move(t, "resolved", at=resolved, **({} if score is None else {"satisfaction": score}))
    tickets = db.frame("tickets")
    done = tickets[tickets["resolved_at"] <= POINT]
    got = db.service.satisfaction(by="category", as_of=POINT)
    g = done.groupby("category")
    assert got["resolved"].to_dict() == g.size().to_dict()
    assert got["rated"].to_dict() == g["satisfaction"].count().to_dict()
    pd.testing.assert_series_equal(got["mean"], g["satisfaction"].mean(), check_names=False)
    assert got.attrs["as_of"] == POINT
    late = db.service.satisfaction(by="category")
    assert late.attrs["as_of"] == db.default_as_of() == T("2024-03-11")
    assert int(late["resolved"].sum()) == 4


@pytest.fixture(scope="module")
def partner_db(backend):
    db = crm.open(":memory:")
    p = db.add("customers", name="Reseller", is_partner=True)
    db.partner = p
    db.add("commission_rules", partner_id=p, rate=0.10)
    db.add("commission_rules", partner_id=p, rate=0.20, basis="payment", category="tools")
    hammer = db.add("products", sku="H", name="Hammer", category="tools")
    for when, amount in (("2024-01-10", 100.0), ("2024-02-20", 250.0), ("2024-03-05", 400.0)):
        c = db.add("customers", name="Buyer " + when, partner_id=p)
        o = db.add("orders", customer_id=c, partner_id=p, ordered_at=when, amount=amount, cost=amount / 2)
        db.add("orders", customer_id=c, partner_id=p, ordered_at="2024-02-25", amount=10.0, cost=4.0) \
            if when == "2024-01-10" else None
        if when != "2024-01-10":
            db.add("order_lines", order_id=o, product_id=hammer, quantity=1, unit_price=amount)
            db.add("payments", customer_id=c, order_id=o, paid_at=T(when) + pd.Timedelta(days=5), amount=amount)
    for closed, stage in (("2024-02-01", "won"), ("2024-03-20", "lost")):
        d = db.add("deals", customer_id=p, partner_id=p, stage="lead", stage_changed_at="2024-01-01")
        db.sales.move(d, stage, at=closed)
    return db


def test_partner_performance_counts_what_came_up_to_as_of(partner_db):
    db = partner_db
    orders = db.frame("orders")
    orders = orders[orders["ordered_at"] <= POINT]
    got = db.partners.performance(period="M", as_of=POINT)
    assert got.attrs["as_of"] == POINT
    assert int(got["orders"].sum()) == len(orders) == 3
    assert got["revenue"].sum() == orders["amount"].sum()
    assert got["margin"].sum() == (orders["amount"] - orders["cost"]).sum()
    # Customers active in a month: those the partner brought, ordering then (up to the point).
    assert int(got["customers_active"].sum()) == orders.assign(m=orders["ordered_at"].dt.to_period("M")) \
        .groupby("m")["customer_id"].nunique().sum() == 3
    assert (int(got["won"].sum()), int(got["lost"].sum())) == (1, 0)
    late = db.partners.performance(period="M")
    assert late.attrs["as_of"] == db.default_as_of() == T("2024-03-21")
    assert (int(late["orders"].sum()), int(late["won"].sum()), int(late["lost"].sum())) == (4, 1, 1)


def test_commissions_pay_only_on_what_happened_up_to_as_of(partner_db):
    db = partner_db
    got = db.partners.commissions(as_of=POINT)
    assert got.attrs["as_of"] == POINT
    everything = db.partners.commissions(as_of="2099-01-01")
    want = everything[everything["date"] <= POINT]
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_like=False)
    # By hand: 10% of the orders of 100 and 10 (no lines: the order rule); the
    # tools line of 250 pays 20% on its payment of 2024-02-25; the order of
    # 2024-03-05 and its payment come after the point.
    assert sorted(got["commission"].round(6).tolist()) == [1.0, 10.0, 50.0]
    assert db.partners.commissions().attrs["as_of"] == db.default_as_of()
    assert len(db.partners.commissions()) == 4


def test_an_issued_invoice_is_an_event_of_the_default_point():
    """The default point read orders and payments but not invoices, so the
    default commissions dropped the pay on an invoice issued after the last
    order. A draft, a void invoice or one dated ahead of today has not
    happened."""
    db = crm.open(":memory:")
    c = db.add("customers", name="Buyer")
    db.add("orders", customer_id=c, ordered_at="2024-01-10", amount=10.0)
    assert db.default_as_of() == T("2024-01-11")
    db.add("invoices", customer_id=c, issued_at="2024-02-01", due_at="2024-03-01", amount=10.0, status="draft")
    db.add("invoices", customer_id=c, issued_at="2024-02-02", due_at="2024-03-01", amount=10.0, status="void")
    ahead = pd.Timestamp.now().normalize() + pd.Timedelta(days=30)
    db.add("invoices", customer_id=c, issued_at=ahead, due_at=ahead + pd.Timedelta(days=30), amount=10.0)
    assert db.default_as_of() == T("2024-01-11")
    db.add("invoices", customer_id=c, issued_at="2024-01-20 15:00", due_at="2024-02-20", amount=10.0)
    assert db.default_as_of() == T("2024-01-21")
