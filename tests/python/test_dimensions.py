"""Business dimensions and coverage (issue 13, item 2).

``by=`` runs an analysis per group of a dimension, like
``groupby(by).apply(analysis)``; the references here are plain pandas on the
stored records, with the purchase statuses written out by hand.
"""
import json

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

NOT_PURCHASE = {"cancelled", "returned"}


@pytest.fixture(scope="module")
def db():
    d = crm.open(":memory:")
    data = crm.datasets.synthetic(500, seed=11)
    # A custom field on some customers, one of them nested.
    custom = [json.dumps({"tier": "gold" if i % 3 == 0 else "silver"}) if i % 4 else None
              for i in range(len(data["customers"]))]
    custom[1] = json.dumps({"tier": {"level": 2}})
    data["customers"]["custom"] = custom
    crm.datasets.load(d, data)
    return d


def purchases(db):
    orders = db.frame("orders")
    return orders[~orders["status"].isin(NOT_PURCHASE)]


def text(values):
    return values.astype(object).where(values.notna() & (values.astype(str).str.strip() != ""), "(none)")


def test_customer_dimensions_read_the_customer_and_its_owner(db):
    customers = db.frame("customers")
    staff = db.frame("staff")
    got = db.dimension(["region", "kind", "team", "custom.tier"])
    assert got.index.equals(customers.index) and got.index.name == "customer_id"
    assert got["region"].tolist() == text(customers["region"]).tolist()
    kind = customers["kind"].map({"organization": "B2B", "person": "B2C"})
    assert got["kind"].tolist() == kind.tolist()
    team_of = staff.drop_duplicates("name").set_index("name")["team"]
    assert got["team"].tolist() == text(customers["owner"].map(team_of)).tolist()
    tiers = customers["custom"].map(lambda c: json.loads(c).get("tier") if isinstance(c, str) else None)
    want = tiers.map(lambda v: json.dumps(v) if isinstance(v, dict) else v)
    assert got["custom.tier"].tolist() == text(want).tolist()
    assert got["custom.tier"].iloc[1] == '{"level": 2}' and (got["custom.tier"] == "(none)").any()


def test_the_main_value_of_an_order_dimension_is_where_most_was_spent(db):
    bought = purchases(db)
    spent = bought.groupby(["customer_id", "channel"])["amount"].sum().reset_index()
    spent = spent.sort_values(["customer_id", "amount", "channel"], ascending=[True, False, True])
    want = spent.drop_duplicates("customer_id").set_index("customer_id")["channel"]
    got = db.dimension("channel")["channel"]
    assert got.loc[want.index].to_dict() == want.to_dict()
    assert (got.drop(index=want.index) == "(none)").all()


def test_by_a_customer_dimension_scores_within_each_group(db):
    bought = purchases(db)
    region = text(db.frame("customers")["region"])
    got = db.rfm(by="region")
    assert got.index.names == ["region", "customer_id"]
    # Every customer once, in their own region.
    assert sorted(got.index.get_level_values("customer_id")) == sorted(region.index)
    assert (got.index.get_level_values("region") == region.reindex(got.index.get_level_values(1)).to_numpy()).all()
    for name, group in bought.groupby(bought["customer_id"].map(region)):
        agg = group.groupby("customer_id")["amount"].agg(["size", "sum"]).sort_index()
        mine = got.loc[name].loc[agg.index]
        assert mine["frequency"].tolist() == agg["size"].tolist()
        np.testing.assert_allclose(mine["monetary"], agg["sum"], rtol=1e-12)
        # Scores are quantiles of the region's buyers, as pandas bins them.
        want_m = pd.qcut(agg["sum"].rank(method="first"), 5, labels=False) + 1
        assert mine["m_score"].tolist() == want_m.tolist(), name
    silent = got[got["frequency"] == 0]
    assert (silent["segment"] == "no purchase").all() and len(silent) == len(region) - bought["customer_id"].nunique()


def test_by_an_order_dimension_splits_the_purchases(db):
    bought = purchases(db)
    got = db.profit(by="channel")
    assert got.index.names == ["channel", "customer_id"]
    buyers = got[got["orders"] > 0]
    per = buyers.groupby(level="channel")[["orders", "revenue"]].sum()
    want = bought.groupby(text(bought["channel"]))["amount"].agg(["size", "sum"])
    assert per["orders"].to_dict() == want["size"].to_dict()
    np.testing.assert_allclose(per["revenue"], want["sum"].reindex(per.index), rtol=1e-12)
    # A customer is in every channel they bought in; those who never bought are in "(none)".
    pairs = set(zip(text(bought["channel"]), bought["customer_id"]))
    assert set(buyers.index) == pairs
    never = db.frame("customers").index.difference(bought["customer_id"])
    assert set(got.loc["(none)"].index) >= set(never)
    # Shares and classes are of each channel's profit.
    for channel, part in buyers.groupby(level="channel"):
        positive = part["profit"].clip(lower=0)
        np.testing.assert_allclose(part["share"], positive / positive.sum(), rtol=1e-12)


def test_category_shares_each_order_among_its_lines_and_keeps_the_totals(db):
    bought = purchases(db)
    lines = db.frame("order_lines")
    lines = lines[lines["order_id"].isin(bought.index)]
    category = text(lines["product_id"].map(db.frame("products")["category"]))
    revenue = lines["quantity"] * lines["unit_price"]
    share = revenue / revenue.groupby(lines["order_id"]).transform("sum")
    amount = share * bought["amount"].reindex(lines["order_id"]).to_numpy()
    want = amount.groupby(category).sum()
    unlined = bought[~bought.index.isin(lines["order_id"])]
    if len(unlined):
        want["(none)"] = want.get("(none)", 0.0) + unlined["amount"].sum()
    got = db.profit(by="category").groupby(level="category")["revenue"].sum()
    np.testing.assert_allclose(got.reindex(want.index), want, rtol=1e-9)
    np.testing.assert_allclose(got.sum(), bought["amount"].sum(), rtol=1e-12)


def test_tiers_per_region_make_the_vip_of_each_region(db):
    bought = purchases(db)
    orders = db.frame("orders")
    lines = db.frame("order_lines")
    # Costs as the store fills them: the order's own, else its lines' at the product's unit cost.
    unit = lines["unit_cost"].fillna(lines["product_id"].map(db.frame("products")["unit_cost"]))
    line_cost = (lines["quantity"] * unit).groupby(lines["order_id"]).sum()
    cost = bought["cost"].fillna(bought.index.to_series().map(line_cost)).fillna(0.0)
    end = db.default_as_of()
    inside = bought["ordered_at"] > end - pd.DateOffset(years=1)
    gain = (bought["amount"] - cost).where(inside, 0.0)
    region = text(db.frame("customers")["region"])
    tiers = db.profit_tiers(by="region", vip_top=0.2, super_top=0.05)
    assert len(orders) > len(bought)
    for name, part in tiers.groupby(level="region"):
        part = part.droplevel("region")
        mine = bought["customer_id"].map(region) == name
        profit = gain[mine].groupby(bought.loc[mine, "customer_id"]).sum()
        order = profit.sort_index().sort_values(ascending=False, kind="stable")  # equal profits: by id
        m = len(profit)
        rank = pd.Series(np.arange(1, m + 1), index=order.index)
        want_super = set(rank.index[(rank <= np.ceil(0.05 * m)) & (order > 0).to_numpy()])
        want_vip = set(rank.index[(rank <= np.ceil(0.2 * m)) & (order > 0).to_numpy()]) - want_super
        assert set(part.index[part["tier"] == "super"]) == want_super, name
        assert set(part.index[part["tier"] == "VIP"]) == want_vip, name
        np.testing.assert_allclose(part.loc[profit.index, "profit"], profit, rtol=1e-9, atol=1e-9)
        # Customers of the region who never bought rank after its buyers.
        assert sorted(part["rank"].tolist()) == list(range(1, len(part) + 1)), name
        assert (part.loc[part.index.difference(profit.index), "rank"] > m).all()


def test_product_and_staff_analyses_by_dimension(db):
    bought = purchases(db)
    lines = db.frame("order_lines")
    lines = lines[lines["order_id"].isin(bought.index)]
    got = db.product_profit(by="channel")
    assert got.index.names == ["channel", "product_id"]
    channel = text(bought["channel"]).reindex(lines["order_id"]).to_numpy()
    want = (lines["quantity"] * lines["unit_price"]).groupby([channel, lines["product_id"]]).sum()
    np.testing.assert_allclose(got["revenue"], want.reindex(got.index), rtol=1e-12)
    staff = db.staff_performance(by="kind")
    assert staff.index.names == ["kind", "staff_id"] and set(staff.index.get_level_values(0)) <= {"B2B", "B2C"}
    assert staff["name"].notna().all()


def test_every_customer_analysis_takes_by_and_keeps_its_index(db):
    customers = db.frame("customers", columns=[]).index
    for name in ("rfm", "profit", "profit_tiers", "classify", "lifecycle", "loyalty", "churn_risk", "health",
                 "satisfaction", "lifetime_value"):
        # One group needs a little penalty for BG/NBD to converge.
        out = getattr(db, name)(by="kind", **({"penalizer_coef": 0.01} if name == "lifetime_value" else {}))
        assert out.index.names == ["kind", "customer_id"], name
        assert sorted(out.index.get_level_values(1)) == sorted(customers), name
        assert out.attrs["by"] == ["kind"] and out.attrs["as_of"] == db.default_as_of(), name


def test_a_failing_group_is_named(db):
    with pytest.raises(Exception) as caught:
        db.lifetime_value(by="kind")  # a group does not converge without a penalty
    assert any("in the group kind='" in note for note in getattr(caught.value, "__notes__", [])), caught.value


def test_unknown_dimensions_are_refused_by_name(db):
    with pytest.raises(crm.ValidationError, match="'planet' is not a dimension"):
        db.rfm(by="planet")
    with pytest.raises(crm.ValidationError, match="twice"):
        db.profit(by=["region", "region"])
    with pytest.raises(crm.ValidationError, match="names no dimension"):
        db.dimension([])


# -- deals and the hierarchy by dimension ---------------------------------------

def reference_do_first(db, dimension):
    """Plain pandas: a deal is "do first" when it is open, due within 30 days
    of the point (or overdue) and worth at least the median open amount of
    its customer's group."""
    whole = db.deal_quadrants()
    deals = db.frame("deals")
    group = db.dimension(dimension)[dimension].reindex(deals["customer_id"].to_numpy()).to_numpy()
    frame = pd.DataFrame({"group": group, "status": whole["status"].to_numpy(),
                          "amount": deals["amount"].to_numpy(), "days": whole["days_to_close"].to_numpy()},
                         index=deals.index)
    open_ = frame["status"] == "open"
    median = frame[open_].groupby("group")["amount"].median()
    important = open_ & (frame["amount"] >= frame["group"].map(median))
    return frame.assign(do_first=important & (frame["days"] <= 30.0))


def test_deal_quadrants_by_a_customer_dimension_ranks_importance_within_the_group(db):
    want = reference_do_first(db, "region")
    got = db.deal_quadrants(by="region")
    assert got.index.names == ["region", "id"] and got.attrs["by"] == ["region"]
    assert sorted(got.index.get_level_values("id")) == sorted(want.index)
    flat = got.reset_index(level="region")
    assert (flat["region"] == want["group"].reindex(flat.index)).all()
    assert ((flat["quadrant"] == "do first") == want["do_first"].reindex(flat.index)).all()
    # The groups' medians differ from the store's, so some deal changes quadrant.
    assert (db.deal_quadrants()["quadrant"].reindex(flat.index) != flat["quadrant"]).any()


def test_deal_summary_by_a_customer_dimension_covers_every_customer_once(db):
    want = reference_do_first(db, "kind")
    deals = db.frame("deals")
    got = db.deal_summary(by="kind")
    assert got.index.names == ["kind", "customer_id"]
    customers = db.frame("customers", columns=[]).index
    assert sorted(got.index.get_level_values("customer_id")) == sorted(customers)
    flat = got.reset_index(level="kind")
    do_first = want["do_first"].groupby(deals["customer_id"]).sum().reindex(customers, fill_value=0)
    np.testing.assert_array_equal(flat["do_first"].reindex(customers), do_first)
    counts = want["status"].groupby(deals["customer_id"]).value_counts().unstack(fill_value=0)
    for status in ("open", "won", "lost"):
        np.testing.assert_array_equal(flat[status].reindex(customers),
                                      counts[status].reindex(customers, fill_value=0))


def test_deals_refuse_order_dimensions_by_name(db):
    for analysis in (db.deal_summary, db.deal_quadrants):
        with pytest.raises(crm.ValidationError, match="'channel' describes an order"):
            analysis(by="channel")


def test_hierarchy_rollup_by_channel_rolls_each_channel_up_the_tree(db):
    got = db.hierarchy_rollup(by="channel")
    assert got.index.names == ["channel", "customer_id"]
    bought = purchases(db)
    bought = bought[bought["ordered_at"] <= db.default_as_of()]
    channel = text(bought["channel"])
    links = db.frame("links")
    parent = links[links["type"] == "subsidiary_of"].set_index("src")["dst"]
    customers = db.frame("customers", columns=[]).index
    for value in channel.unique():
        own = bought[channel == value].groupby("customer_id")["amount"].sum().reindex(customers, fill_value=0.0)
        total = own.copy()
        for child in customers:  # plain walk up the tree: each purchase counts for every ancestor
            node = child
            while node in parent.index:
                node = parent[node]
                total[node] += own[child]
        part = got.xs(value, level="channel")
        np.testing.assert_allclose(part["own"].reindex(customers), own, rtol=1e-12)
        np.testing.assert_allclose(part["total"].reindex(customers), total, rtol=1e-12)
    assert got.attrs["by"] == ["channel"] and got.attrs["as_of"] == db.default_as_of()


def test_sales_funnel_by_a_customer_dimension_counts_each_groups_funnel(db):
    """db.sales.funnel (which took in db.pipeline): per region, the deals that reached each stage (a deal reaches every
    stage of its history and its current one; lost is an exit, not a stage)
    and those standing open there, counted in plain pandas."""
    deals, history = db.frame("deals"), db.frame("deal_stages")
    region = text(db.frame("customers")["region"]).reindex(deals["customer_id"]).to_numpy()
    got = db.sales.funnel(by="region")
    assert got.index.names == ["region", "stage"] and got.attrs["by"] == ["region"]
    reached = pd.concat([history[["deal_id", "stage"]],
                         pd.DataFrame({"deal_id": deals.index, "stage": deals["stage"].to_numpy()})])
    reached = reached[reached["stage"] != "lost"].drop_duplicates()
    reached["region"] = pd.Series(region, index=deals.index).reindex(reached["deal_id"]).to_numpy()
    reached["amount"] = deals["amount"].fillna(0.0).reindex(reached["deal_id"]).to_numpy()
    checked = 0
    for value, mine in reached.groupby("region"):
        funnel = got.xs(value, level="region")
        want = mine.groupby("stage").agg(deals=("deal_id", "size"), amount=("amount", "sum"))
        # The funnel lists every step of the pipeline, those no deal reached at 0.
        assert set(want.index) <= set(funnel.index), value
        assert funnel["deals"].to_dict() == want["deals"].reindex(funnel.index, fill_value=0).to_dict(), value
        np.testing.assert_allclose(funnel["amount"], want["amount"].reindex(funnel.index, fill_value=0.0), rtol=1e-12)
        in_region = deals[region == value]
        open_now = in_region[~in_region["stage"].isin(["won", "lost"])]["stage"].value_counts()
        assert funnel["open"].to_dict() == open_now.reindex(funnel.index, fill_value=0).to_dict(), value
        assert got.attrs["lost"][value] == (in_region["stage"] == "lost").sum()
        checked += len(funnel)
    assert checked > 10
    assert got["deals"].xs("won", level="stage").sum() == db.sales.funnel().loc["won", "deals"]
    with pytest.raises(crm.ValidationError, match="'channel' describes an order"):
        db.sales.funnel(by="channel")


def test_campaigns_compare_members_with_the_others_overall_and_within_each_group(db):
    """db.marketing.campaigns took in db.campaign_effect (7P promotion): each
    campaign's treated members against the customers who were not, in the
    campaign's window (start to 30 days after its end); by kind, each
    group's members against the group's others, the incremental revenue
    summed over the campaigns; all counted in plain pandas on the purchases."""
    got = db.marketing.campaigns()
    by_kind = db.marketing.campaigns(by="kind")
    assert by_kind.index.name == "segment" and set(by_kind.index) == {"B2B", "B2C"}
    kind = db.frame("customers")["kind"].map({"organization": "B2B", "person": "B2C"})
    bought = purchases(db)
    members = db.frame("campaign_members")
    members = members[~members["holdout"].fillna(False).astype(bool)]
    incremental = {"B2B": 0.0, "B2C": 0.0}
    checked = 0
    for cid, c in db.frame("campaigns").iterrows():
        end = c["ended_at"] if pd.notna(c["ended_at"]) else c["started_at"]
        stop = max(end, c["started_at"]) + pd.Timedelta(days=30)
        window = bought[(bought["ordered_at"] >= c["started_at"]) & (bought["ordered_at"] < stop)]
        spent = window.groupby("customer_id")["amount"].sum()
        mine = pd.Index(members.loc[members["campaign_id"] == cid, "customer_id"].dropna().unique())
        others = kind.index.difference(mine)
        row = got.loc[cid]
        assert row["members"] == len(mine)
        per_member = spent.reindex(mine, fill_value=0).sum() / len(mine)
        per_other = spent.reindex(others, fill_value=0).sum() / len(others)
        assert row["revenue_per_member"] == pytest.approx(per_member)
        assert row["revenue_per_other"] == pytest.approx(per_other)
        assert row["incremental_revenue"] == pytest.approx((per_member - per_other) * len(mine))
        for group in incremental:
            people = kind.index[kind == group]
            in_group, rest = mine.intersection(people), people.difference(mine)
            if len(in_group):
                incremental[group] += spent.reindex(in_group, fill_value=0).sum() - \
                    spent.reindex(rest, fill_value=0).sum() / len(rest) * len(in_group)
                checked += 1
    assert checked > 5
    np.testing.assert_allclose(by_kind["incremental_revenue"].loc[list(incremental)], list(incremental.values()),
                               rtol=1e-9)
    assert by_kind["members"].sum() == got["members"].sum()
    with pytest.raises(AttributeError):
        db.campaign_effect  # the old name is gone (one way to do each thing)
