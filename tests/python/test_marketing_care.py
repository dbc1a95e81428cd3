"""db.marketing and db.care against plain pandas, scipy and published dates."""
import datetime as dt

import chinese_calendar
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import crmcore as crm


@pytest.fixture
def shop():
    db = crm.open(":memory:")
    rng = np.random.default_rng(11)
    n = 120
    customers = pd.DataFrame({"name": [f"c{i}" for i in range(n)], "region": rng.choice(["East", "North"], n),
                              "tier": rng.choice(["gold", "silver", None], n),
                              "industry": rng.choice(["tea", "steel", "toys"], n)})
    ids = db.import_frame("customers", customers)
    db.add_tags("customers", ids[::3].tolist(), "vip")
    buyers = ids[: n // 2]
    orders = pd.DataFrame({"customer_id": rng.choice(buyers, 300),
                           "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, 300), "D"),
                           "amount": rng.gamma(2.0, 50.0, 300).round(2)})
    db.import_frame("orders", orders)
    db.ids_all = ids
    return db


# -- segments ---------------------------------------------------------------
def test_segment_matches_a_pandas_filter_over_fields_tags_and_scores(shop):
    db = shop
    db.marketing.save_segment("east vip buyers", [("region", "==", "East")], tag="vip",
                              scores=[("frequency", ">=", 2), ("rfm_segment", "!=", "no purchase")])
    c = db.frame("customers")
    rfm = db.rfm()
    want = c.index[(c.region == "East") & c.tags.map(lambda t: "vip" in t)
                   & (rfm.frequency.reindex(c.index) >= 2).to_numpy()]
    got = db.marketing.segment("east vip buyers")
    assert len(want) > 3 and sorted(got) == sorted(want)


def test_a_bad_segment_rule_is_refused_and_nothing_is_saved(shop):
    with pytest.raises(crm.ValidationError, match="regio"):
        shop.marketing.save_segment("bad", [("regio", "==", "East")])
    with pytest.raises(ValueError, match="unknown score 'loyalty'"):
        shop.marketing.save_segment("bad", scores=[("loyalty", ">", 1)])
    assert shop.count("segments") == 0
    with pytest.raises(KeyError, match="no segment 'bad'"):
        shop.marketing.segment("bad")


def test_refresh_segment_says_who_entered_and_left_and_keeps_the_tag(shop):
    db = shop
    db.marketing.save_segment("gold", tier="gold")
    first = db.marketing.refresh_segment("gold")
    gold = db.frame("customers").query("tier == 'gold'").index
    assert sorted(first.index) == sorted(gold) and set(first.change) == {"entered"}
    leaver, joiner = int(gold[0]), int(db.frame("customers").query("tier != 'gold'").index[0])
    db.update("customers", leaver, tier="silver")
    db.update("customers", joiner, tier="gold")
    second = db.marketing.refresh_segment("gold")
    assert second.loc[leaver, "change"] == "left" and second.loc[joiner, "change"] == "entered"
    assert (second.drop([leaver, joiner]).change == "stayed").all()
    tagged = db.find("customers", tag="segment:gold").index
    assert joiner in tagged and leaver not in tagged and len(tagged) == len(gold)


# -- campaign effect ----------------------------------------------------------
def _campaign(db, members, holdout, touch="2024-06-01"):
    camp = db.add("campaigns", name="Summer", started_at=touch)
    db.import_frame("campaign_members", pd.DataFrame({"campaign_id": camp, "customer_id": members,
                                                      "holdout": holdout}))
    return camp


def test_campaign_effect_against_holdout_matches_pandas_and_welch(shop):
    db = shop
    rng = np.random.default_rng(5)
    members = db.ids_all[:100]
    holdout = rng.random(100) < 0.4
    camp = _campaign(db, members, holdout)
    buy = rng.random(100) < np.where(holdout, 0.2, 0.5)
    after = pd.DataFrame({"customer_id": members[buy], "ordered_at": "2024-06-10",
                          "amount": rng.gamma(2.0, 40.0, buy.sum()).round(2)})
    late = pd.DataFrame({"customer_id": members[:5], "ordered_at": "2024-08-01", "amount": 999.0})  # after the window
    db.import_frame("orders", pd.concat([after, late]))
    got = db.marketing.campaign_effect(camp, days=30)
    assert got.attrs["control"] == "holdout"
    o = db.frame("orders")
    inside = o[(o.ordered_at >= "2024-06-01") & (o.ordered_at < "2024-07-01")]
    revenue = inside.groupby("customer_id").amount.sum().reindex(members, fill_value=0.0).to_numpy()
    converted = pd.Index(members).isin(inside.customer_id).astype(float)
    for row, values in (("conversion", converted), ("revenue_per_member", revenue)):
        t, c = values[~holdout], values[holdout]
        assert got.loc[row, "treated"] == pytest.approx(t.mean())
        assert got.loc[row, "control"] == pytest.approx(c.mean())
        ci = stats.ttest_ind(t, c, equal_var=False).confidence_interval(0.95)
        # A normal interval against Welch's t interval: equal up to the t/z quantile ratio.
        assert got.loc[row, "ci_low"] == pytest.approx(ci.low, rel=0.05, abs=0.01)
        assert got.loc[row, "ci_high"] == pytest.approx(ci.high, rel=0.05, abs=0.01)
    assert got.loc["conversion", "ci_low"] > 0  # a real effect is found


def test_matched_control_removes_the_bias_of_choosing_heavy_buyers():
    db = crm.open(":memory:")
    rng = np.random.default_rng(2)
    n = 2000
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)]}))
    heavy = rng.random(n) < 0.3
    prior = pd.DataFrame({"customer_id": ids[heavy], "ordered_at": "2024-05-15",
                          "amount": rng.uniform(100, 200, heavy.sum())})
    # After the start, heavy buyers buy more whether or not they are members: no campaign effect.
    buys = rng.random(n) < np.where(heavy, 0.6, 0.1)
    after = pd.DataFrame({"customer_id": ids[buys], "ordered_at": "2024-06-05", "amount": 50.0})
    db.import_frame("orders", pd.concat([prior, after]))
    chosen = ids[heavy][:300].tolist() + ids[~heavy][:100].tolist()  # the campaign picked mostly heavy buyers
    camp = _campaign(db, chosen, False)
    got = db.marketing.campaign_effect(camp, days=30)
    assert got.attrs["control"] == "matched"
    conv = got.loc["conversion"]
    assert conv.ci_low < 0 < conv.ci_high  # no effect, once the control has the members' mix
    naive = np.isin(ids[~np.isin(ids, chosen)], after.customer_id).mean()
    assert conv.treated - naive > 0.15  # what an unmatched comparison would have claimed


# -- prospects ----------------------------------------------------------------
def test_prospects_by_hand():
    db = crm.open(":memory:")
    tea = [db.add("customers", name=f"t{i}", industry="tea", region="East") for i in range(3)]
    steel = db.add("customers", name="s", industry="steel", region="East")
    p_tea = db.add("customers", name="new tea", industry="tea", region="North")
    p_none = db.add("customers", name="new", industry="glass")
    prod = [db.add("products", sku=s, name=s) for s in ("A", "B")]
    for c in tea[:2]:  # two of the three tea customers bought, product A twice as often
        o = db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=1.0)
        db.add("order_lines", order_id=o, product_id=prod[0], quantity=1.0, unit_price=1.0)
    o = db.add("orders", customer_id=tea[0], ordered_at="2024-01-02", amount=1.0)
    db.add("order_lines", order_id=o, product_id=prod[1], quantity=1.0, unit_price=1.0)
    out = db.marketing.prospects(by=["industry"])
    # new tea: 2 of the 3 other tea customers bought; new glass: no one to compare with.
    assert out.loc[p_tea, "score"] == pytest.approx(2 / 3) and out.loc[p_none, "score"] == 0
    assert out.loc[p_tea, "products"] == prod and out.loc[p_tea, "lookalikes"] == 2
    assert tea[2] in out.index and steel in out.index and tea[0] not in out.index
    assert out.score.iloc[0] == out.loc[p_tea, "score"] and "industry=tea" in out.loc[p_tea, "reasons"][0]


# -- care ---------------------------------------------------------------------
PUBLISHED = {  # festival dates as published (and as chinesecalendar names the days off)
    "Spring Festival": ["2024-02-10", "2025-01-29", "2026-02-17"],
    "Dragon Boat Festival": ["2024-06-10", "2025-05-31", "2026-06-19"],
    "Mid-Autumn Festival": ["2024-09-17", "2025-10-06", "2026-09-25"],
}


def test_lunar_festivals_fall_on_the_published_dates():
    db = crm.open(":memory:")
    db.add("customers", name="Acme", kind="organization", owner="Li")
    out = db.care.greetings("2024-01-01", "2026-12-31", festivals=list(PUBLISHED))
    got = out.groupby("occasion").date.apply(list).to_dict()
    assert got == PUBLISHED
    for name, days in PUBLISHED.items():
        for day in days:
            off, holiday = chinese_calendar.get_holiday_detail(dt.date.fromisoformat(day))
            assert off and holiday.lower() == name.lower()


def test_birthdays_across_the_year_end_and_on_29_february():
    db = crm.open(":memory:")
    li = db.add("staff", name="Li")
    a = db.add("customers", name="Ann", birthday="1992-02-29", owner="Li")
    b = db.add("customers", name="Bo", birthday="1980-01-02", owner="Wu", preferred_channel="email")
    db.add("customers", name="Org", kind="organization", birthday="2000-01-01", owner="Li")  # firms have no birthday
    db.add("interactions", customer_id=a, staff_id=li, channel="message", occurred_at="2024-01-01")
    out = db.care.greetings("2024-12-30", "2025-03-01", festivals=[])
    assert out[["date", "id", "channel"]].values.tolist() == [["2025-01-02", b, "email"], ["2025-02-28", a, "message"]]
    leap = db.care.greetings("2028-02-28", "2028-03-01", festivals=[])
    assert leap.date.tolist() == ["2028-02-29"]
    assert db.care.greetings("2024-12-30", "2025-03-01", festivals=[], owner="Wu").id.tolist() == [b]
    with pytest.raises(ValueError, match="unknown festivals"):
        db.care.greetings("2025-01-01", "2025-01-02", festivals=["Halloween"])


def test_a_contact_is_greeted_on_the_owner_s_list_of_its_primary_customer():
    db = crm.open(":memory:")
    a = db.add("customers", name="Acme", kind="organization", owner="Li", preferred_channel="visit")
    b = db.add("customers", name="Bolt", kind="organization", owner="Wu", preferred_channel="email")
    zhao = db.add("contacts", name="Zhao", birthday="1985-02-12", phone="139 1111 2222")
    db.add("customer_contacts", customer_id=a, contact_id=zhao)
    db.add("customer_contacts", customer_id=b, contact_id=zhao, is_primary=True)
    out = db.care.greetings("2026-02-11", "2026-02-13", festivals=[])
    assert out[["kind", "id", "customer_id", "owner", "channel"]].values.tolist() == [
        ["contacts", zhao, b, "Wu", "email"]]
    assert db.care.greetings("2026-02-11", "2026-02-13", festivals=[], owner="Li").empty


def test_not_contacted_against_pandas():
    db = crm.open(":memory:")
    li, wu = db.add("staff", name="Li"), db.add("staff", name="Wu")
    a, b, c = (db.add("customers", name=n, owner="Li") for n in "abc")
    db.add("interactions", customer_id=a, staff_id=li, channel="call", occurred_at="2024-02-20")
    db.add("interactions", customer_id=b, staff_id=li, channel="call", occurred_at="2023-12-01")
    db.add("interactions", customer_id=b, staff_id=wu, channel="call", occurred_at="2024-02-25")  # not the owner
    out = db.care.not_contacted(30, as_of="2024-03-01")
    assert out.index.tolist() == [c, b] and out.loc[b, "days_since"] == 91


def test_campaign_table_against_pandas(shop):
    db = shop
    rng = np.random.default_rng(9)
    ids = db.ids_all
    a = db.add("campaigns", name="A", channel="sms", started_at="2024-02-01", budget=500.0)
    b = db.add("campaigns", name="B", channel="sms", started_at="2024-03-01", budget=300.0)
    c = db.add("campaigns", name="C", channel="mail", started_at="2024-01-15")
    rows = []
    for camp in (a, b, c):
        who = rng.choice(ids, 40, replace=False)
        rows.append(pd.DataFrame({"campaign_id": camp, "customer_id": who, "responded": rng.random(40) < 0.3,
                                  "holdout": rng.random(40) < 0.2,
                                  "touched_at": np.where(rng.random(40) < 0.5, pd.Timestamp("2024-03-10"), pd.NaT)}))
    db.import_frame("campaign_members", pd.concat(rows, ignore_index=True))
    got = db.marketing.campaigns(days=21)
    m = db.frame("campaign_members")
    camps = db.frame("campaigns")
    m = m[~m.holdout.astype(bool)].assign(touch=lambda f: f.touched_at.fillna(f.campaign_id.map(camps.started_at)))
    o = db.frame("orders")
    pairs = m.reset_index().merge(o, on="customer_id", how="left")
    inside = pairs[(pairs.ordered_at >= pairs.touch) & (pairs.ordered_at < pairs.touch + pd.Timedelta(days=21))]
    per_member = inside.groupby("id").amount.agg(["sum", "size"]).reindex(m.index, fill_value=0)
    want = pd.DataFrame({"members": m.groupby("campaign_id").size(),
                         "responded": m.groupby("campaign_id").responded.sum(),
                         "converted": (per_member["size"] > 0).groupby(m.campaign_id).sum(),
                         "revenue": per_member["sum"].groupby(m.campaign_id).sum()})
    pd.testing.assert_frame_equal(got[want.columns].astype(float), want.astype(float), check_names=False)
    assert got.loc[a, "roi"] == pytest.approx((want.loc[a, "revenue"] - 500) / 500)
    assert got.loc[b, "cost_per_acquisition"] == pytest.approx(300 / want.loc[b, "converted"])
    assert got.loc[a, "response_rate"] == pytest.approx(want.loc[a, "responded"] / want.loc[a, "members"])
    assert got.loc[b, "conversion"] == pytest.approx(want.loc[b, "converted"] / want.loc[b, "members"])
    assert np.isnan(got.loc[c, "roi"])  # no budget, no return on it
    by = db.marketing.campaigns(days=21, by="channel")
    assert by.loc["sms", "members"] == want.loc[[a, b], "members"].sum() and by.loc["sms", "budget"] == 800


def test_prospect_backtest_auc_matches_scipy_and_beats_guessing():
    db = crm.open(":memory:")
    rng = np.random.default_rng(4)
    n = 600
    industry = rng.choice(["tea", "steel", "toys", "glass"], n)
    region = rng.choice(["East", "North", "South"], n)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)], "industry": industry,
                                                     "region": region}))
    # Buying depends on the industry (and a little on the region), before and after the cut alike.
    p = pd.Series(industry).map({"tea": 0.5, "steel": 0.1, "toys": 0.3, "glass": 0.05}).to_numpy()
    p = p * np.where(region == "East", 1.3, 1.0)
    early, late = rng.random(n) < p * 0.5, rng.random(n) < p * 0.5
    db.import_frame("orders", pd.concat([
        pd.DataFrame({"customer_id": ids[early], "ordered_at": "2024-01-10", "amount": 1.0}),
        pd.DataFrame({"customer_id": ids[late & ~early], "ordered_at": "2024-04-10", "amount": 1.0})]))
    out = db.marketing.backtest_prospects("2024-03-01", days=90, by=["industry", "region"])
    scored = db.marketing.prospects(by=["industry", "region"], as_of="2024-03-01")
    converted = scored.index.isin(ids[late & ~early])
    u = stats.mannwhitneyu(scored.score[converted], scored.score[~converted]).statistic
    assert out.auc == pytest.approx(u / (converted.sum() * (~converted).sum()))
    assert out.prospects == (~early).sum() and out.converted == (late & ~early).sum()
    assert out.auc > 0.6 and out.baseline_auc > 0.6  # both see the industry; guessing would be 0.5


def test_call_list_by_hand():
    db = crm.open(":memory:")
    regular, gone, fresh, never = (db.add("customers", name=n, owner="Li") for n in ("regular", "gone", "fresh", "never"))
    for day in pd.date_range("2024-01-01", periods=6, freq="10D"):  # every 10 days until 20 Feb, then silence
        db.add("orders", customer_id=regular, ordered_at=day, amount=5.0)
    db.add("orders", customer_id=gone, ordered_at="2022-01-01", amount=5.0)
    db.add("orders", customer_id=gone, ordered_at="2022-02-01", amount=5.0)
    db.add("orders", customer_id=fresh, ordered_at="2024-03-10", amount=5.0)
    out = db.care.call_list(as_of="2024-03-15")
    stages = db.lifecycle(as_of="2024-03-15").stage.astype(str)
    assert stages[regular] == "at risk" and stages[gone] == "churned" and stages[never] == "prospect"
    assert out.index.tolist() == [regular]


def test_customer_anniversaries_from_the_first_order():
    db = crm.open(":memory:")
    a = db.add("customers", name="A", kind="organization", owner="Li")
    db.add("orders", customer_id=a, ordered_at="2022-05-03 15:00", amount=1.0)
    db.add("orders", customer_id=a, ordered_at="2023-01-01", amount=1.0)
    out = db.care.greetings("2022-01-01", "2024-12-31", festivals=[])
    assert out[["date", "occasion", "id"]].values.tolist() == [["2023-05-03", "customer anniversary", a],
                                                               ["2024-05-03", "customer anniversary", a]]
    assert db.care.greetings("2022-01-01", "2024-12-31", festivals=[], anniversaries=False).empty


def test_portrait_tags_by_hand_and_spend_quartiles_against_pandas(shop):
    db = shop
    a = int(db.ids_all[0])
    db.update("customers", a, birthday="1984-03-02")
    li = db.add("staff", name="Li")
    for channel in ("call", "visit", "visit", "note", "note", "note"):
        db.add("interactions", customer_id=a, staff_id=li, channel=channel, occurred_at="2024-01-05")
    out = db.marketing.portrait(as_of="2024-05-01")
    mine = out[out.customer_id == a].set_index("tag").reason
    assert "age:40s" in mine and mine["age:40s"] == "born 1984-03-02, 40 years"
    assert mine["channel:visit"] == "most used in interactions"  # notes are no channel
    spend = db.frame("orders").groupby("customer_id").amount.sum()
    spend = spend[spend.index.isin(db.frame("customers").index)]
    q = spend.rank(pct=True)
    top = set(q.index[q > 0.75])
    tagged = set(out.customer_id[out.tag == "spend:top 25%"])
    assert tagged == top and len(top) == round(len(spend) / 4)
    none = set(out.customer_id[out.tag == "spend:none"])
    assert none == set(db.ids_all) - set(spend.index)


@pytest.mark.parametrize("model", ["first", "last"])
def test_attribution_against_a_loop_over_orders(shop, model):
    db = shop
    rng = np.random.default_rng(13)
    ids = db.ids_all
    camps = [db.add("campaigns", name=f"k{i}", started_at=f"2024-0{i + 1}-15", budget=100.0) for i in range(4)]
    rows = [pd.DataFrame({"campaign_id": k, "customer_id": rng.choice(ids, 50, replace=False),
                          "holdout": rng.random(50) < 0.1,
                          "touched_at": np.where(rng.random(50) < 0.3,
                                                 pd.Timestamp("2024-01-15") + pd.Timedelta(days=30 * i + 3), pd.NaT)})
            for i, k in enumerate(camps)]
    db.import_frame("campaign_members", pd.concat(rows, ignore_index=True))
    got = db.marketing.attribution(days=20, model=model)
    m, c, o = db.frame("campaign_members"), db.frame("campaigns"), db.frame("orders")
    m = m[~m.holdout.astype(bool)]
    touch = m.touched_at.fillna(m.campaign_id.map(c.started_at))
    want = {}
    for oid, order in o.iterrows():
        mine = touch[(m.customer_id == order.customer_id) & (touch <= order.ordered_at) &
                     (order.ordered_at - touch <= pd.Timedelta(days=20))]
        if len(mine):
            pick = mine.sort_values(kind="stable").index[-1 if model == "last" else 0]
            want[oid] = m.campaign_id[pick]
    credited = got.attrs["orders"]
    assert credited.campaign_id.to_dict() == want and len(want) > 10
    revenue = o.amount[list(want)].groupby(pd.Series(want)).sum()
    pd.testing.assert_series_equal(got.revenue, revenue, check_names=False, check_index_type=False)


def test_segment_rules_over_lifetime_value_and_health_match_the_analyses():
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(300, seed=4))
    lv, health = db.lifetime_value(), db.health()
    cut = float(lv.clv.median())
    db.marketing.save_segment("valuable and healthy", scores=[("lifetime_value", ">", cut), ("health", ">=", 50)])
    want = lv.index[(lv.clv > cut).to_numpy() & (health.health.reindex(lv.index) >= 50).to_numpy()]
    got = db.marketing.segment("valuable and healthy")
    assert sorted(got) == sorted(want) and 0 < len(got) < len(lv)
    db.marketing.save_segment("likely alive", scores=[("p_alive", ">", 0.5)])
    assert sorted(db.marketing.segment("likely alive")) == sorted(lv.index[(lv.p_alive > 0.5).to_numpy()])


def test_cancelled_and_returned_orders_are_no_campaign_outcome():
    """One rule for status in marketing too: campaigns, campaign_effect and
    attribution counted a cancelled (已取消) or returned order as a
    conversion with revenue; and campaigns() describes as_of."""
    db = crm.open(":memory:")
    camp = db.add("campaigns", name="Spring", started_at="2024-03-01", budget=10.0)
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    for c in (a, b):
        db.add("campaign_members", campaign_id=camp, customer_id=c, holdout=c == b)
    db.add("orders", customer_id=a, ordered_at="2024-03-05", amount=40.0, status="已取消")
    db.add("orders", customer_id=a, ordered_at="2024-03-06", amount=60.0, status="returned")
    row = db.marketing.campaigns().loc[camp]
    assert row["converted"] == 0 and row["revenue"] == 0.0 and row["revenue_per_member"] == 0.0
    assert db.marketing.campaign_effect(camp).loc["conversion", "treated"] == 0.0
    assert db.marketing.attribution().empty or db.marketing.attribution()["revenue"].sum() == 0.0
    db.add("orders", customer_id=a, ordered_at="2024-03-07", amount=25.0)
    assert db.marketing.campaigns().loc[camp, "revenue"] == 25.0
    early = db.marketing.campaigns(as_of="2024-03-06")
    assert early.loc[camp, "revenue"] == 0.0 and early.attrs["as_of"] == pd.Timestamp("2024-03-06")
    assert db.marketing.campaigns(as_of="2024-02-01").empty  # not started yet


def test_campaign_effect_and_attribution_read_up_to_as_of():
    db = crm.open(":memory:")
    camp = db.add("campaigns", name="Spring", started_at="2024-03-01")
    a = db.add("customers", name="A")
    db.add("campaign_members", campaign_id=camp, customer_id=a)
    db.add("orders", customer_id=a, ordered_at="2024-03-05", amount=40.0)
    db.add("orders", customer_id=a, ordered_at="2024-03-20", amount=60.0)
    early = db.marketing.attribution(as_of="2024-03-10")
    assert early.loc[camp, "revenue"] == 40.0 and early.attrs["as_of"] == pd.Timestamp("2024-03-10")
    assert db.marketing.attribution().loc[camp, "revenue"] == 100.0
    effect = db.marketing.campaign_effect(camp, as_of="2024-03-10")
    assert effect.loc["revenue_per_member", "treated"] == 40.0
    assert db.marketing.campaign_effect(camp).attrs["as_of"] == db.default_as_of() == pd.Timestamp("2024-03-21")
def test_promotion_against_each_member_s_own_baseline_in_pandas():
    """The 7P promotion figures of db.marketing.campaigns: members' revenue in
    the window (start to `days` after the end) against the same members in
    an equally long window just before, and against non-members, recounted
    in plain pandas over the stored purchases."""
    db = crm.open(":memory:")
    rng = np.random.default_rng(17)
    n = 200
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)]}))
    camp = db.add("campaigns", name="Autumn", started_at="2024-09-01", ended_at="2024-09-10", budget=800.0)
    members = rng.choice(ids, 60, replace=False)
    db.import_frame("campaign_members", pd.DataFrame({"campaign_id": camp, "customer_id": members,
                                                      "responded": rng.random(60) < 0.4}))
    db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(ids, 900), "amount": rng.gamma(2.0, 40.0, 900).round(2),
        "status": rng.choice(np.array(["paid", "cancelled"], dtype=object), 900, p=[0.9, 0.1]),
        "ordered_at": pd.Timestamp("2024-07-01") + pd.to_timedelta(rng.integers(0, 150 * 24, 900), "h")}))
    got = db.marketing.campaigns(days=20).loc[camp]
    o = db.frame("orders")
    o = o[o.status != "cancelled"]
    start, stop = pd.Timestamp("2024-09-01"), pd.Timestamp("2024-09-10") + pd.Timedelta(days=20)
    inside = o[(o.ordered_at >= start) & (o.ordered_at < stop)]
    before = o[(o.ordered_at >= start - (stop - start)) & (o.ordered_at < start)]
    member = pd.Index(members)
    per_member = inside[inside.customer_id.isin(member)].amount.sum() / len(member)
    per_other = inside[~inside.customer_id.isin(member)].amount.sum() / (n - len(member))
    assert got.before_per_member == pytest.approx(before[before.customer_id.isin(member)].amount.sum() / len(member))
    assert got.revenue_per_member == pytest.approx(per_member) and got.revenue_per_other == pytest.approx(per_other)
    assert got.lift == pytest.approx(per_member / per_other)
    assert got.incremental_revenue == pytest.approx((per_member - per_other) * len(member))
    assert got.return_on_budget == pytest.approx((per_member - per_other) * len(member) / 800.0)


def test_an_unknown_segment_or_playbook_is_the_package_not_found():
    """These were bare KeyErrors (and a list as a playbook name "unhashable
    type"); NotFound is still a KeyError."""
    db = crm.open()
    with pytest.raises(crm.NotFound, match="no segment 'nope'"):
        db.marketing.refresh_segment("nope")
    with pytest.raises(crm.NotFound, match="no segment 'nope'"):
        db.marketing.campaigns(by=["nope"])
    for name in ("nope", ["welcome"]):
        with pytest.raises(crm.NotFound, match="no playbook"):
            db.automation.install_playbook(name)
    assert db.count("automation_rules") == 0
