"""Membership (db.members): balances against a pandas ledger, expiry against
a hand-checked oldest-first case, tiers against thresholds worked by hand."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


def _programme(db, n_customers=12, n_orders=120, seed=3):
    rng = np.random.default_rng(seed)
    pid = db.members.add_program("club", points_per_unit=2.0, expiry_days=180, tiers=[
        {"name": "silver", "min_points": 0}, {"name": "gold", "min_points": 3000, "window_days": 365},
        {"name": "black", "min_spend": 20000}])
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n_customers)]}))
    db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(customers, n_orders),
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, n_orders), unit="D"),
        "amount": rng.integers(10, 1500, n_orders).astype(float)}))
    members = db.members.join(pid, customers[: n_customers - 2], at="2024-01-01")
    return pid, customers, members


def test_balances_equal_the_pandas_ledger_on_any_date():
    db = crm.open()
    pid, _, members = _programme(db)
    db.members.earn(pid, until="2024-12-31")
    rng = np.random.default_rng(1)
    for m in members[:5]:
        bal = db.members.balances(pid, "2025-01-01")[m]
        if bal > 10:
            db.members.redeem(int(m), float(rng.integers(1, int(bal))), at="2025-01-02")
    db.members.expire(pid, as_of="2025-03-01")
    db.members.earn(pid)  # the rest of the orders; nothing credited twice
    ledger = db.members.ledger(pid)
    assert ledger["order_id"].dropna().is_unique
    for day in ["2024-03-01", "2024-12-31", "2025-01-02", "2025-03-01", "2026-01-01"]:
        want = (ledger[ledger["at"] <= pd.Timestamp(day)].groupby("member_id")["points"].sum()
                .reindex(members, fill_value=0.0))
        got = db.members.balances(pid, day)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-9)
    # Points come from orders at the programme's rate.
    orders = db.frame("orders")
    earned = ledger[ledger["reason"] == "earn"].set_index("order_id")["points"]
    np.testing.assert_allclose(earned.to_numpy(), 2.0 * orders.loc[earned.index.astype("int64"), "amount"].to_numpy())


def test_expiry_uses_the_oldest_lots_first():
    # Hand-checked: lots of 100 (expires 1 Mar) and 50 (expires 1 Jun); 120
    # redeemed in February use all of the first lot and 20 of the second.
    member = np.array([0, 0, 0, 1], dtype=np.int64)
    at = pd.to_datetime(["2025-01-01", "2025-01-15", "2025-02-01", "2025-01-01"]).as_unit("ns").astype("int64").to_numpy()
    points = np.array([100.0, 50.0, -120.0, 30.0])
    expires = pd.to_datetime(["2025-03-01", "2025-06-01", "2262-01-01", "2025-02-01"]).as_unit("ns").astype("int64").to_numpy()
    on = lambda day: _core.points_expiring(member, at, points, expires, 2, pd.Timestamp(day).value).tolist()  # noqa: E731
    assert on("2025-03-02") == [0.0, 30.0]
    assert on("2025-06-02") == [30.0, 30.0]
    assert on("2025-01-20") == [0.0, 0.0]
    db = crm.open()
    pid = db.members.add_program("p", expiry_days=30)
    c = db.add("customers", name="A")
    m = int(db.members.join(pid, [c], at="2025-01-01")[0])
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
    db.add("orders", customer_id=c, ordered_at="2025-01-25", amount=40.0)
    db.members.earn(pid)
    db.members.redeem(m, 30, at="2025-01-26")
    assert db.members.expire(pid, as_of="2025-02-10").tolist() == [70.0]  # the first lot's rest
    assert db.members.expire(pid, as_of="2025-02-10").empty  # written once
    assert db.members.balances(pid, "2025-02-10").tolist() == [40.0]
    assert db.members.expire(pid, as_of="2025-03-01").tolist() == [40.0]
    assert db.members.balances(pid, "2025-03-01").tolist() == [0.0]


def test_redemption_above_the_balance_is_refused_and_changes_nothing():
    db = crm.open()
    pid = db.members.add_program("p")
    c = db.add("customers", name="A")
    m = int(db.members.join(pid, [c], at="2025-01-01")[0])
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=10.0)
    db.members.earn(pid)
    before = len(db.members.ledger(pid))
    with pytest.raises(crm.ValidationError, match="has 10 points.*fewer than the 11"):
        db.members.redeem(m, 11, at="2025-02-01")
    with pytest.raises(crm.ValidationError, match="positive"):
        db.members.redeem(m, -5)
    assert len(db.members.ledger(pid)) == before
    with pytest.raises(crm.ValidationError, match="members of programme"):
        db.members.join(pid, [c])


def test_tiers_follow_points_and_spend_with_reasons():
    db = crm.open()
    pid, customers, members = _programme(db)
    db.members.earn(pid)
    as_of = pd.Timestamp("2025-06-01")
    changed = db.members.update_tiers(pid, as_of)
    # By hand: points earned in the last 365 days, spend ever; the highest tier reached.
    ledger = db.members.ledger(pid)
    window = ledger[(ledger["at"] > as_of - pd.Timedelta(days=365)) & (ledger["at"] <= as_of) & (ledger["points"] > 0)]
    points = window.groupby("member_id")["points"].sum().reindex(members, fill_value=0)
    frame = db.members.frame(pid)
    orders = db.frame("orders")
    spend = orders[orders["ordered_at"] <= as_of].groupby("customer_id")["amount"].sum()
    spend = spend.reindex(frame["customer_id"]).fillna(0).to_numpy()
    want = np.where(spend >= 20000, "black", np.where(points.to_numpy() >= 3000, "gold", "silver"))
    assert frame["tier"].tolist() == want.tolist()
    assert len(changed) == len(members) and changed["reason"].str.len().gt(0).all()
    assert db.members.update_tiers(pid, as_of).empty  # nothing changes twice
    report = db.members.report(pid, as_of)
    assert report["members"] == len(members)
    assert report["liability"] == pytest.approx(db.members.balances(pid, as_of).sum())
    assert report["spend_by_tier"].sum() == pytest.approx(orders[orders["ordered_at"] <= as_of].query(
        "customer_id in @frame.customer_id")["amount"].sum())


def test_points_earned_in_the_write_path_by_a_rule_equal_pandas():
    db = crm.open()
    pid = db.members.add_program("club", points_per_unit=0.5, expiry_days=90)
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(6)]}))
    joined = pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01", "2025-01-15"])
    members = np.concatenate([db.members.join(pid, [c], at=j) for c, j in zip(customers[:4], joined)])
    rule = db.automation.add_rule("points", on="created", kind="orders", condition=[("status", "!=", "cancelled")],
                                  actions=[{"do": "points", "program": "club"}])
    rng = np.random.default_rng(9)
    orders = pd.DataFrame({"customer_id": rng.choice(customers, 60),
                           "ordered_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 120, 60), unit="D"),
                           "amount": rng.integers(1, 500, 60).astype(float),
                           "status": rng.choice(["paid", "cancelled"], 60, p=[0.8, 0.2])})
    ids = db.import_frame("orders", orders)
    # Reference: plain pandas over the same rows.
    ref = orders.assign(order_id=ids).merge(pd.DataFrame({"customer_id": customers[:4], "member_id": members,
                                                          "joined_at": joined}), on="customer_id")
    ref = ref[(ref["ordered_at"] >= ref["joined_at"]) & (ref["status"] != "cancelled")].sort_values("order_id")
    ledger = db.members.ledger(pid).sort_values("order_id")
    assert ledger["order_id"].astype("int64").tolist() == ref["order_id"].tolist()
    assert ledger["member_id"].tolist() == ref["member_id"].tolist()
    np.testing.assert_allclose(ledger["points"], ref["amount"] * 0.5)
    assert (ledger["expires_at"] - ledger["at"] == pd.Timedelta(days=90)).all()
    assert set(ledger["rule_id"]) == {rule}
    assert db.members.earn(pid).sum() == pytest.approx(
        orders.assign(order_id=ids).merge(ref[["order_id"]], how="left", indicator=True)
        .query("_merge == 'left_only' and customer_id in @customers[:4]")
        .pipe(lambda o: o[o["ordered_at"] >= pd.Series(joined, index=customers[:4]).reindex(o["customer_id"]).to_numpy()])
        ["amount"].sum() * 0.5)  # earn() credits only what the rule did not (the cancelled orders)
    with pytest.raises(crm.ValidationError, match="from orders or payments"):
        db.automation.add_rule("bad", on="created", kind="customers", actions=[{"do": "points", "program": "club"}])


def test_report_counts_active_members_and_the_redemption_rate_as_pandas_does():
    db = crm.open()
    pid, customers, members = _programme(db)
    db.members.earn(pid)
    as_of = pd.Timestamp("2025-03-01")
    balances = db.members.balances(pid, as_of)
    spent = {int(m): float(balances[m]) // 3 for m in members[:4] if balances[m] >= 3}
    for m, points in spent.items():
        db.members.redeem(m, points, at="2025-02-15")
    report = db.members.report(pid, as_of)
    # Reference: plain pandas over the orders and the ledger.
    orders = db.frame("orders")
    frame = db.members.frame(pid)
    recent = orders[(orders["ordered_at"] <= as_of) & (orders["ordered_at"] > as_of - pd.Timedelta(days=365))]
    assert report["active"] == int(frame["customer_id"].isin(recent["customer_id"]).sum())
    ledger = db.members.ledger(pid)
    ledger = ledger[ledger["at"] <= as_of]
    earned = ledger.loc[ledger["reason"] == "earn", "points"].sum()
    assert report["redemption_rate"] == pytest.approx(sum(spent.values()) / earned)


def test_benefits_are_those_of_the_tier_each_member_holds():
    db = crm.open()
    pid = db.members.add_program("club", tiers=[{"name": "silver", "min_points": 0, "benefits": "free delivery"},
                                                {"name": "gold", "min_points": 1000, "benefits": "10% off, a gift"}])
    c = db.import_frame("customers", pd.DataFrame({"name": ["a", "b", "c"]}))
    db.import_frame("orders", pd.DataFrame({"customer_id": c[:2], "ordered_at": "2025-01-05",
                                            "amount": [1500.0, 20.0]}))
    m = db.members.join(pid, c, at="2025-01-01")
    db.members.earn(pid)
    db.members.update_tiers(pid, "2025-02-01")
    # By hand: 1500 points is gold, 20 and 0 are silver.
    assert db.members.benefits(pid).loc[list(m)].tolist() == ["10% off, a gift", "free delivery", "free delivery"]


def test_a_customer_given_twice_to_join_is_refused_and_nothing_is_written():
    """The check for customers already in the programme looked only at the
    store, not at the list: [c, c] made the customer a member twice (and
    earn then credited each order to both)."""
    db = crm.open()
    club = db.members.add_program("club")
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    with pytest.raises(crm.ValidationError, match=rf"field 'customer_id'.*customer {b} is given twice"):
        db.members.join(club, [a, b, b])
    assert db.count("members") == 0
    db.members.join(club, [a, b])
    assert sorted(db.members.frame(club)["customer_id"]) == [a, b]


@pytest.mark.parametrize("points", [True, "5", [5], None])
def test_redeem_takes_a_number_of_points(points):
    """True redeemed 1 point; text or a list was a bare TypeError."""
    db = crm.open()
    club = db.members.add_program("club")
    c = db.add("customers", name="A")
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
    member = int(db.members.join(club, [c], at="2025-01-01")[0])
    db.members.earn(club)
    with pytest.raises(crm.ValidationError, match="field 'points'"):
        db.members.redeem(member, points, at="2025-01-10")
    assert db.members.ledger(club)["reason"].tolist() == ["earn"]


@pytest.mark.parametrize("tiers", [["gold"], [None], "gold", [{"name": "gold"}, 5]], ids=repr)
def test_a_tier_that_is_not_a_dict_is_refused_naming_tiers(tiers):
    """A text or None was a bare TypeError ("argument after ** must be a mapping")."""
    db = crm.open()
    with pytest.raises(crm.ValidationError, match="field 'tiers'"):
        db.members.add_program("club", tiers=tiers)
    assert db.count("membership_programs") == 0 and db.count("member_tiers") == 0


def test_points_past_what_a_number_holds_are_refused_naming_the_order():
    """An order's amount x points_per_unit (up to 1e9) can pass 1.8e308:
    earn wrote nothing but said "points_ledger row 0, field 'points': inf",
    a row of a frame the user never saw; it names the order now."""
    db = crm.open()
    c = db.add("customers", name="A")
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=5.0)
    big = db.add("orders", customer_id=c, ordered_at="2025-01-06", amount=1e300)
    p = db.members.add_program("club", points_per_unit=1e9)
    db.members.join(p, [c], at="2025-01-01")
    with pytest.raises(crm.ValidationError, match=rf"order {big}.*points_per_unit.*more than a number holds") as e:
        db.members.earn(p)
    assert (e.value.kind, e.value.field, e.value.record_id) == ("orders", "amount", big)
    assert db.count("points_ledger") == 0
