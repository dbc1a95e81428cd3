"""One rule for time and status (issue 13, item 1).

Every analysis defaults ``as_of`` to the same point (the end of the data),
reads nothing after it, reports the point and window in ``result.attrs``,
and counts the same orders as purchases (statuses in any language). The
references here are plain pandas on the stored orders, with the statuses
written out by hand, not crmcore's table.
"""
import doctest

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import scoring
from crmcore.scoring import _status

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

DAY = pd.Timedelta(days=1)
# The reference's own reading of the statuses used below.
NOT_PURCHASE = {"cancelled", "returned", "已取消", "退货", "已退货", "Refunded", "void"}


def reference_purchases(db, as_of):
    orders = db.frame("orders")
    return orders[~orders["status"].isin(NOT_PURCHASE) & (orders["ordered_at"] <= as_of)]


@pytest.fixture(scope="module")
def store(backend):
    """The synthetic store, with some orders relabelled in Chinese and other spellings."""
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(400, seed=7))
    orders = db.frame("orders", columns=["status"])
    relabel = {"cancelled": ["已取消", "void"], "returned": ["退货", "已退货", "Refunded"], "completed": ["已完成"]}
    for old, new in relabel.items():
        ids = orders.index[orders["status"] == old][: 3 * len(new)]
        for k, oid in enumerate(ids):
            db.update("orders", int(oid), status=new[k % len(new)])
    return db


# ---------------------------------------------------------------- the status table


def test_status_table_reads_labels_in_any_language_and_spelling():
    labels = ["completed", "Completed ", "已完成", "pending", None, "something else", "cancelled", "CANCELED",
              "已取消", "作废", "void", "returned", "退货", "已退货", "退貨", "refunded", "Refunded"]
    assert _status.order_meaning(labels).tolist() == ["purchase"] * 6 + ["cancelled"] * 5 + ["returned"] * 6
    stages = ["won", "Closed_Won", "closed-won", "已成交", "lost", "Closed Lost", "丢单", "proposal", "洽谈", None]
    assert _status.deal_outcome(stages).tolist() == ["won"] * 4 + ["lost"] * 3 + ["open"] * 3
    assert doctest.testmod(_status, extraglobs={"pd": pd}).failed == 0


def test_a_label_added_to_the_table_changes_every_analysis():
    db = crm.open(":memory:")
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    db.link(a, b, "subsidiary_of")
    db.add("orders", customer_id=a, ordered_at="2024-01-02", amount=10.0, cost=1.0)
    db.add("orders", customer_id=a, ordered_at="2024-01-03", amount=20.0, cost=1.0, status="storno")
    assert db.rfm().loc[a, "monetary"] == 30.0
    scoring.ORDER_STATUS["storno"] = "cancelled"
    try:
        assert db.rfm().loc[a, "monetary"] == 10.0
        assert db.profit().loc[a, "revenue"] == 10.0
        assert db.hierarchy_rollup().loc[b, "total"] == 10.0
        assert db.classify().loc[a, "purchases"] == 1
    finally:
        del scoring.ORDER_STATUS["storno"]


# ---------------------------------------------------------------- the traps of issue 13


def test_cancelled_in_chinese_is_not_a_purchase_in_rfm():
    db = crm.open(":memory:")
    c = db.add("customers", name="Wang")
    db.add("orders", customer_id=c, ordered_at="2024-05-01", amount=100.0)
    db.add("orders", customer_id=c, ordered_at="2024-05-02", amount=900.0, status="已取消")
    db.add("orders", customer_id=c, ordered_at="2024-05-03", amount=50.0, status="退货")
    got = db.rfm()
    assert got.loc[c, "frequency"] == 1 and got.loc[c, "monetary"] == 100.0
    assert got.attrs["excluded_orders"] == {"cancelled": 1, "returned": 1}
    # as_of is still the end of the data: the cancelled and returned orders happened.
    assert got.attrs["as_of"] == pd.Timestamp("2024-05-04")


def test_hierarchy_rollup_leaves_out_returned_orders_as_profit_does():
    db = crm.open(":memory:")
    group, branch = db.add("customers", name="Group"), db.add("customers", name="Branch")
    db.link(branch, group, "subsidiary_of")
    for amount, status in ((100.0, "completed"), (40.0, "returned"), (30.0, "退货"), (20.0, "refunded")):
        db.add("orders", customer_id=branch, ordered_at="2024-02-01", amount=amount, cost=0.0, status=status)
    roll, prof = db.hierarchy_rollup(), db.profit()
    assert roll.loc[branch, "own"] == prof.loc[branch, "revenue"] == 100.0
    assert roll.loc[group, "total"] == 100.0
    assert roll.index.name == prof.index.name == "customer_id"


def test_classify_counts_the_referrals_made_up_to_as_of():
    """A referral made after as_of is not one yet (classify read the links
    valid today whatever its as_of)."""
    db = crm.open(":memory:")
    a, b, c = (db.add("customers", name=n) for n in "ABC")
    db.link(b, a, "referred_by", since="2024-06-01")
    db.link(c, a, "referred_by", since="2024-02-01", until="2024-09-01")
    for who in (a, b, c):
        db.add("orders", customer_id=who, ordered_at="2024-01-10", amount=10.0)
    db.add("orders", customer_id=a, ordered_at="2024-12-01", amount=10.0)
    # Counted by hand: links valid at each point (since <= t < until).
    for as_of, referred in (("2024-01-15", 0), ("2024-03-01", 1), ("2024-07-01", 2), (None, 1)):
        assert db.classify(as_of=as_of).loc[a, "referrals"] == referred, as_of
        assert db.referral_counts(as_of=as_of).get(a, 0) == referred, as_of


def test_product_affinity_does_not_mine_cancelled_or_returned_orders():
    db = crm.open(":memory:")
    c = db.add("customers", name="Li")
    tea, cup, pot = (db.add("products", sku=s, name=s) for s in ("TEA", "CUP", "POT"))
    baskets = [([tea], "completed"), ([tea, cup], "completed"), ([cup, pot], "已取消"), ([cup, pot], "returned"),
               ([cup, pot], "cancelled")]
    for items, status in baskets:
        oid = db.add("orders", customer_id=c, ordered_at="2024-03-01", amount=5.0, status=status)
        for p in items:
            db.add("order_lines", order_id=oid, product_id=p, quantity=1.0, unit_price=1.0)
    rules = db.product_affinity(min_support=0.1)
    # Only the two purchases are baskets: cup-pot never sold together, and tea is in both.
    assert rules.attrs["baskets"] == 2
    assert set(rules["antecedent"]) | set(rules["consequent"]) == {(tea,), (cup,)}
    assert db.product_profit().loc[cup, "lines"] == 1  # the same lines for the profit of products
    assert pot not in db.product_profit().index


def test_profit_tiers_are_not_wrecked_by_one_late_order():
    db = crm.open(":memory:")
    rng = np.random.default_rng(3)
    ids = [db.add("customers", name=f"C{i}") for i in range(200)]
    frame = pd.DataFrame({"customer_id": rng.choice(ids, 3000),
                          "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366, 3000), "D"),
                          "amount": rng.integers(10, 500, 3000).astype(float)})
    frame["cost"] = frame["amount"] * 0.6
    db.import_frame("orders", frame)
    before = db.profit_tiers()
    db.add("orders", customer_id=ids[0], ordered_at="2025-02-01", amount=50.0, cost=30.0)
    after = db.profit_tiers()
    n = len(after)
    counts = after["tier"].value_counts()
    # 1% super and 10% VIP of 200 customers, as before the late order (the year before as_of
    # still covers 2024 but February), not one super and no VIP on the late order's year.
    assert counts["super"] == np.ceil(0.01 * n) and counts["VIP"] == np.ceil(0.10 * n) - np.ceil(0.01 * n)
    assert counts.equals(before["tier"].value_counts())
    assert after.attrs["window"] == (pd.Timestamp("2024-02-02"), pd.Timestamp("2025-02-02"))
    # The window's profit, by pandas.
    orders = db.frame("orders")
    inside = orders[(orders["ordered_at"] > pd.Timestamp("2024-02-02")) & (orders["ordered_at"] <= pd.Timestamp("2025-02-02"))]
    want = (inside["amount"] - inside["cost"]).groupby(inside["customer_id"]).sum().reindex(after.index, fill_value=0.0)
    np.testing.assert_allclose(after["profit"], want, rtol=1e-12)


def test_deal_quadrants_measure_urgency_from_the_data_not_the_clock():
    db = crm.open(":memory:")
    c = db.add("customers", name="Zhao")
    db.add("orders", customer_id=c, ordered_at="2019-12-31", amount=10.0)  # the data ends in 2019
    dates = ["2020-01-10", "2020-01-15", "2020-05-01", "2020-09-01"]
    for amount, due in zip([5000.0, 10.0, 8000.0, 20.0], dates):
        # The deals entered their stage in the data's time, not today.
        db.add("deals", customer_id=c, stage="negotiation", amount=amount, expected_close=due,
               stage_changed_at="2019-12-01")
    q = db.deal_quadrants()
    assert q.attrs["as_of"] == db.default_as_of() == pd.Timestamp("2020-01-01")
    assert q["quadrant"].astype(str).tolist() == ["do first", "quick win", "plan", "later"]
    assert q["days_to_close"].tolist() == [9.0, 14.0, 121.0, 244.0]
    # The pure function has no clock either: without a closed deal it asks for as_of.
    with pytest.raises(crm.ValidationError, match="as_of"):
        scoring.deal_quadrants(db.frame("deals"))


def test_deal_closed_after_as_of_was_open_then():
    deals = pd.DataFrame({"amount": [100.0, 100.0], "stage": ["won", "lost"],
                          "expected_close": pd.to_datetime(["2024-02-01", "2024-02-01"]),
                          "closed_at": pd.to_datetime(["2024-03-01", "2024-01-05"])})
    q = scoring.deal_quadrants(deals, as_of="2024-01-20")
    assert q["status"].tolist() == ["open", "lost"]
    assert scoring.deal_quadrants(deals)["status"].tolist() == ["won", "lost"]  # as_of: after the last close


def test_the_default_point_is_midnight_after_the_latest_activity():
    db = crm.open(":memory:")
    c = db.add("customers", name="Sun")
    db.add("orders", customer_id=c, ordered_at="2024-03-05 14:30", amount=1.0, status="cancelled")
    assert db.default_as_of() == pd.Timestamp("2024-03-06")
    d = db.add("deals", customer_id=c, stage="lost", closed_at="2024-04-01 09:00")
    assert db.default_as_of() == pd.Timestamp("2024-04-02")
    db.add("deal_stages", deal_id=d, stage="negotiation", changed_at="2024-04-03 23:59")
    assert db.default_as_of() == pd.Timestamp("2024-04-04")


def test_the_default_point_reads_every_dated_event_and_the_graph_uses_it():
    """Interactions, tickets, payments and links' dates move the end of the
    data; a planned end (a link's until after today) does not; the graph
    analyses default to that point, not to the clock."""
    db = crm.open(":memory:")
    c, d = db.add("customers", name="Sun"), db.add("customers", name="Moon")
    wang, li = db.add("staff", name="Wang"), db.add("contacts", name="Li Lei")
    db.add("orders", customer_id=c, ordered_at="2024-03-05", amount=1.0)
    db.add("interactions", contact_id=li, staff_id=wang, channel="meeting", occurred_at="2024-04-01")
    assert db.default_as_of() == pd.Timestamp("2024-04-02")
    db.add("payments", customer_id=c, amount=1.0, paid_at="2024-04-10 08:00")
    assert db.default_as_of() == pd.Timestamp("2024-04-11")
    db.add("tickets", customer_id=c, opened_at="2024-04-20")
    assert db.default_as_of() == pd.Timestamp("2024-04-21")
    # A referral dated after every order is in the graph at the default point.
    db.link(d, c, "referred_by", since="2024-05-01")
    assert db.default_as_of() == pd.Timestamp("2024-05-02")
    assert db.referrals().loc[c, "referrals"] == 1 == db.classify().loc[c, "referrals"]
    assert db.graph().num_edges == 1
    # A tie planned to end years from now has not ended: it does not move the point.
    db.link(li, d, "works_at", since="2024-05-01", until=pd.Timestamp.now() + pd.Timedelta(days=900))
    assert db.default_as_of() == pd.Timestamp("2024-05-02")
    assert db.connected_customers(c).empty and db.shared_contacts(c, d).empty
    # An ended tie ends the data when it is the latest event.
    db.link(li, c, "works_at", since="2024-01-01", until="2024-06-30")
    assert db.default_as_of() == pd.Timestamp("2024-07-01")
    assert db.connected_customers(as_of="2024-06-01")["shared"].tolist() == [1]
    assert db.connected_customers().empty  # at the end of the data Li no longer works with Sun
    # Strength decays from the end of the data (91 days after the meeting), not from today.
    strength = db.relationship_strength()
    assert strength.attrs["as_of"] == db.default_as_of() == db.graph().attrs["as_of"]
    assert strength["score"].tolist() == pytest.approx([0.5 ** (91 / 90)], rel=1e-12)


def test_the_kept_end_of_the_data_follows_every_write_and_rollback():
    """The end of the data is kept between analyses until a write: a write,
    a rolled-back write and a handle that cannot read the audit log each see
    the point of the data they can read."""
    db = crm.open(":memory:")
    c = db.add("customers", name="Sun")
    db.add("orders", customer_id=c, ordered_at="2024-03-05", amount=1.0)
    assert db.default_as_of() == pd.Timestamp("2024-03-06") == db.rfm().attrs["as_of"]
    db.add("interactions", customer_id=c, channel="call", occurred_at="2024-04-01")
    assert db.default_as_of() == pd.Timestamp("2024-04-02")
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.add("payments", customer_id=c, amount=1.0, paid_at="2024-05-01")
            assert db.default_as_of() == pd.Timestamp("2024-05-02")
            raise RuntimeError("undo")
    assert db.default_as_of() == pd.Timestamp("2024-04-02")
    db.update("customers", c, name="Sun Li")  # a write that dates nothing leaves the point
    assert db.default_as_of() == pd.Timestamp("2024-04-02")
    staff = db.add("staff", name="Wang", role="admin")
    assert db.as_user(staff).default_as_of() == pd.Timestamp("2024-04-02")


# ---------------------------------------------------------------- every analysis agrees


def run_all(db, as_of=None):
    kw = {} if as_of is None else {"as_of": as_of}
    some = int(db.frame("customers", columns=[]).index[0])
    return {
        "rfm": db.rfm(**kw), "profit": db.profit(**kw), "profit_by_period": db.profit_by_period("Q", **kw),
        "profit_tiers": db.profit_tiers(**kw), "product_profit": db.product_profit(**kw),
        "staff_performance": db.staff_performance(**kw), "classify": db.classify(**kw),
        "lifecycle": db.lifecycle(**kw), "deal_quadrants": db.deal_quadrants(**kw),
        "deal_summary": db.deal_summary(**kw), "satisfaction": db.satisfaction(**kw), "loyalty": db.loyalty(**kw),
        "churn_risk": db.churn_risk(**kw), "health": db.health(**kw),
        # A small penalty keeps the fit on a short early history converging; this test is about time.
        "lifetime_value": db.lifetime_value(penalizer_coef=0.001, **kw),
        "product_affinity": db.product_affinity(min_support=0.005, **kw), "hierarchy_rollup": db.hierarchy_rollup(**kw),
        "cross_sell": db.cross_sell(some, **kw), "cross_sell_by": db.cross_sell(some, by="channel", **kw),
        "similar_customers": db.similar_customers(some, **kw), "dimension": db.dimension(["region", "channel"], **kw),
        "sales.funnel": db.sales.funnel(**kw), "marketing.campaigns": db.marketing.campaigns(**kw),
        "sales.win_rate": db.sales.win_rate(**kw), "sales.cycle_length": db.sales.cycle_length(**kw),
        "sales.velocity": db.sales.velocity(**kw), "sales.forecast": db.sales.forecast(by=None, **kw),
        "service.satisfaction": db.service.satisfaction(**kw), "partners.performance": db.partners.performance(**kw),
        "partners.commissions": db.partners.commissions(**kw),
        # The graph analyses describe the same moment (they defaulted to the clock).
        "graph": db.graph(**kw), "referrals": db.referrals(**kw),
        "connected_customers": db.connected_customers(**kw), "shared_contacts": db.shared_contacts(some, some + 1, **kw),
        "relationship_strength": db.relationship_strength(channel_weight=dict.fromkeys(CHANNELS, 1.0), **kw),
    }


CHANNELS = ["meeting", "visit", "call", "message", "email", "note", "wechat", "phone", None]


def reference_links(db, point, kind="links"):
    """The links (or customer contacts) valid at ``point``: since <= point < until, a missing bound open."""
    links = db.frame(kind)
    return links[~(links["since"] > point) & ~(links["until"] <= point)]


CUSTOMER_ANALYSES = ["rfm", "profit", "profit_tiers", "classify", "lifecycle", "deal_summary", "satisfaction",
                     "loyalty", "churn_risk", "health", "lifetime_value", "hierarchy_rollup", "dimension"]


@pytest.mark.parametrize("as_of", [None, "2025-03-31"])
def test_every_analysis_agrees_on_the_point_the_purchases_and_the_revenue(store, as_of):
    db = store
    point = db.default_as_of() if as_of is None else pd.Timestamp(as_of)
    out = run_all(db, as_of)
    bought = reference_purchases(db, point)
    count = bought.groupby("customer_id").size()
    revenue = bought.groupby("customer_id")["amount"].sum()
    # One point, reported by every analysis that reads a period of time.
    for name, result in out.items():
        if name not in ("graph", "connected_customers"):
            assert result.attrs["as_of"] == point, name
            assert result.attrs["window"][1] == point, name
    for name in ("graph", "connected_customers"):
        assert out[name].attrs["as_of"] == out[name].attrs["window"][1] == point, name
    customers = db.frame("customers", columns=["name"])
    for name in CUSTOMER_ANALYSES:
        # One index and one coverage: every stored customer, by id, with the name.
        assert out[name].index.name == "customer_id", name
        assert out[name].index.equals(customers.index), name
        if name not in ("hierarchy_rollup", "dimension"):
            assert out[name]["name"].equals(customers["name"]), name
    # The same purchases, counted and summed the same way.
    buyers, silent = count.index, customers.index.difference(count.index)
    assert out["rfm"]["frequency"].loc[buyers].to_dict() == count.to_dict()
    np.testing.assert_allclose(out["rfm"]["monetary"].loc[buyers], revenue, rtol=1e-12)
    assert out["profit"]["orders"].loc[buyers].to_dict() == count.to_dict()
    np.testing.assert_allclose(out["profit"]["revenue"].loc[buyers], revenue, rtol=1e-12)
    per = out["profit_by_period"].groupby(level=0)[["orders", "revenue"]].sum()
    assert per["orders"].to_dict() == count.to_dict()
    np.testing.assert_allclose(per["revenue"], revenue, rtol=1e-12)
    for name in ("rfm", "profit", "classify", "lifecycle", "loyalty", "churn_risk"):
        counted = "frequency" if name == "rfm" else "orders" if name == "profit" else "purchases"
        assert (out[name].loc[silent, counted] == 0).all(), name  # no purchase: zero, not missing
    for name in ("classify", "lifecycle"):
        assert out[name]["purchases"].loc[buyers].to_dict() == count.to_dict(), name
        np.testing.assert_allclose(out[name]["amount"].loc[buyers], revenue, rtol=1e-12)
    for name in ("loyalty", "churn_risk"):
        assert out[name]["purchases"].loc[buyers].to_dict() == count.to_dict(), name
    own = out["hierarchy_rollup"]["own"]
    np.testing.assert_allclose(own[own.index.isin(revenue.index)], revenue, rtol=1e-12)
    assert (own[~own.index.isin(revenue.index)] == 0).all()
    for name in ("lifetime_value", "health"):
        assert out[name].loc[silent].drop(columns="name").isna().all().all(), name
        assert out[name].loc[buyers].drop(columns="name").notna().any(axis=1).all(), name
    staffed = bought.dropna(subset=["staff_id"])
    assert out["staff_performance"]["orders"].sum() == len(staffed)
    sat = out["satisfaction"].dropna(subset=["complaint_rate"])
    np.testing.assert_allclose(sat["complaint_rate"], sat["tickets"] / count.reindex(sat.index), rtol=1e-15)
    # The lines of the same purchases for products, baskets and cross-selling.
    lines = db.frame("order_lines")
    lines = lines[lines["order_id"].isin(bought.index)]
    assert out["product_profit"]["lines"].sum() == lines["product_id"].notna().sum()
    assert out["product_affinity"].attrs["baskets"] == lines.loc[lines["product_id"].notna(), "order_id"].nunique()
    _, graph_bought = db._purchase_graph(as_of)
    pairs = set(zip(bought.loc[lines["order_id"], "customer_id"], lines["product_id"]))
    assert set(zip(graph_bought["customer_id"], graph_bought["product_id"])) == {p for p in pairs if pd.notna(p[1])}
    # The graph of the same moment: its links, referrals and interactions.
    links = reference_links(db, point)
    assert out["graph"].num_edges == len(links)
    referred = links[links["type"] == "referred_by"].groupby("dst").size()
    assert out["referrals"]["referrals"][lambda r: r > 0].to_dict() == referred.to_dict()
    assert out["classify"]["referrals"][lambda r: r > 0].to_dict() == referred[referred.index.isin(customers.index)].to_dict()
    talks = db.frame("interactions")
    talks = talks[(talks["occurred_at"] <= point) & talks["channel"].isin(CHANNELS) & talks["staff_id"].notna()]
    assert out["relationship_strength"]["interactions"].sum() == talks["contact_id"].notna().sum() + \
        talks["customer_id"].notna().sum()
    assert out["relationship_strength"]["last"].max() == talks["occurred_at"].max()
    ties = reference_links(db, point, "customer_contacts")
    works = links[(links["type"] == "works_at") & links["dst"].isin(customers.index)
                  & links["src"].isin(db.frame("contacts", columns=[]).index)]
    pairs = pd.concat([ties[["customer_id", "contact_id"]],
                       works.rename(columns={"dst": "customer_id", "src": "contact_id"})[["customer_id", "contact_id"]]])
    pairs = pairs.drop_duplicates()
    shared = pairs.merge(pairs, on="contact_id").query("customer_id_x < customer_id_y")
    assert out["connected_customers"]["shared"].sum() == len(shared)
    # The deals closed by then, as the pipeline reports count them.
    deals = db.frame("deals")
    closed = deals[deals["stage"].isin(["won", "lost"]) & (deals["closed_at"] <= point)]
    rates = out["sales.win_rate"]
    assert (int(rates["won"].sum()), int(rates["lost"].sum())) == \
        (int((closed["stage"] == "won").sum()), int((closed["stage"] == "lost").sum()))
    assert out["sales.velocity"].loc["all", "win_rate"] == rates["win_rate"].iloc[0]
    assert out["sales.forecast"]["won"].sum() == pytest.approx(closed.loc[closed["stage"] == "won", "amount"].sum())
    assert len(out["sales.cycle_length"].attrs["deals"]) <= len(closed)
    tickets = db.frame("tickets")
    assert out["service.satisfaction"]["resolved"].sum() == (tickets["resolved_at"] <= point).sum()
    sold = db.frame("orders")
    sold = sold[sold["ordered_at"] <= point].dropna(subset=["partner_id"])
    assert out["partners.performance"]["orders"].sum() == len(sold)
    assert (out["partners.commissions"]["date"] <= point).all()
    # Every analysis that reads orders says how many it left out, and they agree.
    everything = db.frame("orders")
    everything = everything[everything["ordered_at"] <= point]
    excluded = everything["status"].isin(NOT_PURCHASE)
    for name in ("rfm", "profit", "classify", "lifetime_value", "hierarchy_rollup", "product_affinity"):
        assert sum(out[name].attrs["excluded_orders"].values()) == excluded.sum(), name


def test_nothing_after_as_of_is_read(store):
    early = run_all(store, "2024-06-30")
    late_orders = store.frame("orders")
    assert (late_orders["ordered_at"] > pd.Timestamp("2024-06-30")).any()
    assert early["rfm"]["last_purchase"].max() <= pd.Timestamp("2024-06-30")
    assert early["profit"]["last_purchase"].max() <= pd.Timestamp("2024-06-30")
    assert early["profit_by_period"].index.get_level_values("period").max() == pd.Period("2024Q2", "Q")
    assert early["lifetime_value"]["T"].max() <= (pd.Timestamp("2024-07-01") - late_orders["ordered_at"].min()) / DAY


@pytest.mark.parametrize("times", [["2024-03-01", "2024-01-05", "2024-02-01"], ["2024-03-01", None, "2024-01-05"],
                                   ["2025-06-01", "2024-02-01"], ["2025-06-01", None], [None], []])
def test_the_window_starts_at_the_first_time_read(times):
    """attrs["window"] starts at the earliest time up to as_of, missing times
    (NaT) and later ones not read; None when nothing was read."""
    from crmcore.scoring._columns import stamp

    ns = pd.to_datetime(pd.Series(times, dtype=object)).to_numpy(dtype="datetime64[ns]").view(np.int64)
    as_of = pd.Timestamp("2024-12-31")
    read = [pd.Timestamp(t) for t in times if t is not None and pd.Timestamp(t) <= as_of]
    out = stamp(pd.DataFrame(), as_of.value, ns)
    assert out.attrs["window"] == (min(read) if read else None, as_of)


def test_a_pipelines_own_won_and_lost_stages_mean_won_and_lost_in_every_deal_analysis():
    """A stage's meaning comes from the store's pipelines first: a deal at a
    custom stage "signed" (category won) was "closed" with no win in
    deal_quadrants and deal_summary while db.sales counted it won."""
    db = crm.open(":memory:")
    p = db.add("pipelines", name="renewals")
    for i, (name, category) in enumerate([("talk", "open"), ("signed", "won"), ("dropped", "lost")]):
        db.add("pipeline_stages", pipeline_id=p, name=name, position=i, category=category)
    c = db.add("customers", name="A")
    won, lost, talking = (db.add("deals", customer_id=c, pipeline_id=p, stage="talk", amount=10.0,
                                 stage_changed_at="2024-01-01") for _ in range(3))
    db.sales.move(won, "signed", at="2024-02-01")
    db.sales.move(lost, "dropped", at="2024-02-02")
    db.add("deals", customer_id=c, stage="won", amount=5.0, closed_at="2024-01-15")  # the default pipeline
    q = db.deal_quadrants()
    assert q.loc[[won, lost, talking], "status"].tolist() == ["won", "lost", "open"]
    summary = db.deal_summary().loc[c]
    assert (summary["won"], summary["lost"], summary["open"]) == (2, 1, 1)
    rates = db.sales.win_rate()
    assert (rates["won"].sum(), rates["lost"].sum()) == (summary["won"], summary["lost"])
