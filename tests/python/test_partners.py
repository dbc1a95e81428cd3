"""Suppliers and partners: scorecards and commissions on hand-worked cases."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


@pytest.fixture
def db():
    with crm.open(":memory:") as store:
        yield store


def test_supplier_scorecard_by_hand(db):
    s = db.add("customers", name="Tea Co", kind="organization", is_supplier=True)
    t = db.add("customers", name="Cup Co", kind="organization", is_supplier=True, is_partner=True)
    loc = db.add("locations", name="North")
    a = db.add("products", sku="A", name="a", supplier_id=s)
    b = db.add("products", sku="B", name="b", supplier_id=s)
    c = db.add("products", sku="C", name="c", supplier_id=t)

    def line(supplier, product, ordered, expected, quantity, cost, receipts=()):
        po = db.add("purchase_orders", supplier_id=supplier, location_id=loc, ordered_at=ordered, expected_at=expected)
        ln = db.add("purchase_lines", purchase_order_id=po, product_id=product, quantity=quantity, unit_cost=cost)
        for q, at in receipts:
            db.stock.receive(ln, q, at=at)

    line(s, a, "2025-01-01", "2025-01-10", 10, 2.0, [(10, "2025-01-09")])           # on time, 8 days
    line(s, a, "2025-02-01", "2025-02-05", 10, 2.2, [(6, "2025-02-07"), (4, "2025-02-12")])  # late, 11 days, +10%
    line(s, b, "2025-03-01", "2025-03-20", 5, 1.0)                                 # nothing came: late
    line(s, b, "2025-04-02", "2025-04-30", 10, 1.0)                                # not due yet on Apr 15
    line(t, c, "2025-01-05", "2025-01-08", 4, 3.0, [(4, "2025-01-08 15:00")])      # on its day: on time
    for product, day in [(a, "2025-02-15"), (a, "2025-03-01"), (c, "2025-03-02"), (b, "2025-05-01")]:
        db.add("tickets", product_id=product, opened_at=day, category="quality")
    db.add("tickets", opened_at="2025-02-01", category="other")  # about no product: nobody's complaint

    card = db.partners.supplier_scorecard(period="Q", as_of="2025-04-15").set_index(["supplier", "period"])
    q1 = card.loc[("Tea Co", pd.Period("2025Q1"))]
    assert (q1["lines"], q1["ordered"], q1["received"]) == (3, 25.0, 20.0)
    assert q1["on_time"] == pytest.approx(1 / 3)
    assert q1["fill_rate"] == pytest.approx(20 / 25)
    assert q1["lead_time_days"] == pytest.approx(9.5)
    assert q1["lead_time_std"] == pytest.approx(np.std([8.0, 11.0], ddof=1))
    assert q1["price_change"] == pytest.approx(0.1) and q1["price_increases"] == 1
    assert q1["complaints"] == 2 and q1["complaints_per_1000"] == pytest.approx(2000 / 20)
    q2 = card.loc[("Tea Co", pd.Period("2025Q2"))]
    assert np.isnan(q2["on_time"]) and np.isnan(q2["fill_rate"])  # nothing due yet
    assert q2["price_change"] == 0.0 and q2["price_increases"] == 0
    assert q2["complaints"] == 1 and np.isnan(q2["complaints_per_1000"])
    cup = card.loc[("Cup Co", pd.Period("2025Q1"))]
    assert (cup["on_time"], cup["fill_rate"], cup["complaints"]) == (1.0, 1.0, 1)
    assert cup["lead_time_days"] == pytest.approx(3 + 15 / 24)
    # Judged on the day PO3 fell due, it was not yet late.
    early = db.partners.supplier_scorecard(period="Q", as_of="2025-03-19").set_index(["supplier", "period"])
    assert early.loc[("Tea Co", pd.Period("2025Q1")), "fill_rate"] == pytest.approx(1.0)
    assert sorted(db.partners.suppliers()["name"]) == ["Cup Co", "Tea Co"]
    assert db.partners.partners()["name"].tolist() == ["Cup Co"]


@pytest.fixture
def sales(db):
    p1 = db.add("customers", name="Reseller One", is_partner=True)
    p2 = db.add("customers", name="Reseller Two", is_partner=True)
    buyer = db.add("customers", name="Buyer", partner_id=p1)
    tea = db.add("products", sku="TEA", name="Tea", category="drinks")
    cup = db.add("products", sku="CUP", name="Cup", category="ware")
    rules = dict(
        everyone=db.add("commission_rules", rate=0.02),
        ware=db.add("commission_rules", category="ware", rate=0.04),
        rule_p1=db.add("commission_rules", partner_id=p1, rate=0.05, valid_from="2025-01-01", valid_until="2025-03-01"),
        rule_p1_drinks=db.add("commission_rules", partner_id=p1, category="drinks", rate=0.08, basis="payment"))
    o1 = db.add("orders", customer_id=buyer, partner_id=p1, ordered_at="2025-01-10", amount=200.0)
    db.add("order_lines", order_id=o1, product_id=tea, quantity=2, unit_price=50.0)
    db.add("order_lines", order_id=o1, product_id=cup, quantity=1, unit_price=100.0)
    db.add("payments", customer_id=buyer, order_id=o1, paid_at="2025-02-01", amount=150.0)
    o2 = db.add("orders", customer_id=buyer, partner_id=p1, ordered_at="2025-03-05", amount=300.0)
    db.add("order_lines", order_id=o2, product_id=cup, quantity=1, unit_price=200.0)
    db.add("order_lines", order_id=o2, product_id=tea, quantity=1, unit_price=100.0)  # paid on payment: none yet
    o3 = db.add("orders", customer_id=buyer, partner_id=p2, ordered_at="2025-01-15", amount=300.0)  # no lines
    db.add("orders", customer_id=buyer, ordered_at="2025-01-16", amount=999.0)  # no partner
    return dict(p1=p1, p2=p2, o1=o1, o2=o2, o3=o3, tea=tea, cup=cup, **rules)


def test_commissions_take_the_most_specific_rule_in_force(db, sales):
    s = sales
    got = db.partners.commissions()
    expected = [
        (s["p1"], s["o1"], "ware", s["rule_p1"], "order", pd.Timestamp("2025-01-10"), 100.0, 0.05, 5.0),
        (s["p1"], s["o1"], "drinks", s["rule_p1_drinks"], "payment", pd.Timestamp("2025-02-01"), 75.0, 0.08, 6.0),
        (s["p1"], s["o2"], "ware", s["ware"], "order", pd.Timestamp("2025-03-05"), 200.0, 0.04, 8.0),
        (s["p2"], s["o3"], None, s["everyone"], "order", pd.Timestamp("2025-01-15"), 300.0, 0.02, 6.0)]
    cols = ["partner_id", "order_id", "category", "rule_id", "basis", "date", "base", "rate", "commission"]
    rows = [tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
            for r in got[cols].itertuples(index=False)]
    assert [r[:6] for r in rows] == [e[:6] for e in expected]
    np.testing.assert_allclose([r[6:] for r in rows], [e[6:] for e in expected])
    st = db.partners.statements(period="M")
    assert st[["partner", "orders"]].values.tolist() == [["Reseller One", 1], ["Reseller One", 1],
                                                         ["Reseller One", 1], ["Reseller Two", 1]]
    assert st["commission"].tolist() == pytest.approx([5.0, 6.0, 8.0, 6.0])
    assert db.partners.statement(s["p1"], "2025-02-01", "2025-04-01")["commission"].sum() == pytest.approx(14.0)


def test_overlapping_commission_rules_are_refused(db, sales):
    s = sales
    before = db.frame("commission_rules")
    for fields in [dict(partner_id=s["p1"], rate=0.07, valid_from="2025-02-01", valid_until="2025-04-01"),
                   dict(partner_id=s["p1"], category="drinks", rate=0.01, valid_from="2030-01-01"),
                   dict(rate=0.03, valid_until="2020-01-01")]:
        with pytest.raises(crm.ValidationError, match="overlaps rule") as e:
            db.add("commission_rules", **fields)
        assert e.value.field == "valid_from"
    with pytest.raises(crm.ValidationError, match="ends after it begins"):
        db.add("commission_rules", partner_id=s["p2"], rate=0.1, valid_from="2025-02-01", valid_until="2025-01-01")
    with pytest.raises(crm.ValidationError, match="overlaps rule"):
        db.update("commission_rules", s["rule_p1"], valid_until=None)  # now open-ended: still fine alone...
        db.add("commission_rules", partner_id=s["p1"], rate=0.07, valid_from="2026-01-01")
    changed = db.frame("commission_rules")
    assert len(changed) == len(before)
    # Back to back is no overlap: the period ends where the next begins.
    db.update("commission_rules", s["rule_p1"], valid_until="2025-03-01")
    db.add("commission_rules", partner_id=s["p1"], rate=0.07, valid_from="2025-03-01")
    got = db.partners.commissions()
    assert got.loc[got["order_id"] == s["o2"], "rate"].tolist() == [0.07]


def test_partner_performance_by_hand(db, sales):
    s = sales
    db.update("orders", s["o1"], cost=120.0)
    won = db.add("deals", customer_id=db.add("customers", name="X"), stage="won", partner_id=s["p1"],
                 closed_at="2025-01-20", amount=10.0)
    db.add("deals", customer_id=db.get("deals", won)["customer_id"], stage="lost", partner_id=s["p1"],
           closed_at="2025-02-20")
    db.add("deals", customer_id=db.get("deals", won)["customer_id"], stage="lead", partner_id=s["p1"])
    got = db.partners.performance(period="Q").set_index(["partner_id", "period"])
    q1 = got.loc[(s["p1"], pd.Period("2025Q1"))]
    assert (q1["orders"], q1["revenue"], q1["margin"]) == (2, 500.0, 80.0)
    assert (q1["won"], q1["lost"], q1["win_rate"]) == (1, 1, 0.5)
    assert q1["customers_active"] == 1
    two = got.loc[(s["p2"], pd.Period("2025Q1"))]
    assert (two["orders"], two["revenue"], two["won"]) == (1, 300.0, 0)
    assert np.isnan(two["win_rate"])
    # The buyer was brought by partner one when it was created (now).
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).to_period("Q")
    assert got["customers_brought"].sum() == 1 and got.loc[(s["p1"], now), "customers_brought"] == 1
    assert list(got.columns) == ["orders", "revenue", "margin", "won", "lost", "customers_brought",
                                 "customers_active", "win_rate"]


def test_partner_performance_leaves_out_cancelled_and_returned_orders(db, sales):
    """One meaning of a purchase: an order cancelled (已取消) or returned
    brings its partner nothing, as it counts nothing in db.rfm."""
    s = sales
    before = db.partners.performance(period="Q").set_index(["partner_id", "period"])
    buyer = db.get("orders", s["o1"])["customer_id"]
    spent = db.rfm(as_of="2025-12-31").loc[buyer, "monetary"]
    for status in ("已取消", "returned"):
        db.add("orders", customer_id=buyer, partner_id=s["p1"], ordered_at="2025-02-10", amount=999.0, status=status)
    after = db.partners.performance(period="Q").set_index(["partner_id", "period"])
    pd.testing.assert_frame_equal(after, before)
    assert db.rfm(as_of="2025-12-31").loc[buyer, "monetary"] == spent  # the same rule in RFM
