"""db.marketing.campaign_effect(by=...): the effect per segment, against
plain pandas and scipy per segment."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import crmcore as crm

T0 = pd.Timestamp("2024-03-01")


def _campaign(db, members, holdout, start="2024-06-01"):
    camp = db.add("campaigns", name="Summer", started_at=start)
    db.import_frame("campaign_members", pd.DataFrame({"campaign_id": camp, "customer_id": members,
                                                      "holdout": holdout}))
    return camp


def test_holdout_effect_per_region_against_scipy():
    db = crm.open(":memory:")
    rng = np.random.default_rng(21)
    n = 600
    region = rng.choice(["East", "North", "South"], n)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)], "region": region}))
    holdout = rng.random(n) < 0.35
    camp = _campaign(db, ids, holdout)
    # The campaign works in the East only.
    p = np.where(holdout, 0.2, np.where(region == "East", 0.6, 0.2))
    buy = rng.random(n) < p
    db.import_frame("orders", pd.DataFrame({"customer_id": ids[buy], "ordered_at": "2024-06-10",
                                            "amount": rng.gamma(2.0, 40.0, buy.sum()).round(2)}))
    got = db.marketing.campaign_effect(camp, by="region")
    assert got.attrs["control"] == "holdout"
    assert got.index.get_level_values("segment").unique().tolist() == ["East", "North", "South"]
    o = db.frame("orders")
    revenue = o.groupby("customer_id").amount.sum().reindex(ids, fill_value=0.0).to_numpy()
    for name in ("East", "North", "South"):
        here = region == name
        for row, values in (("conversion", buy.astype(float)), ("revenue_per_member", revenue)):
            t, c = values[here & ~holdout], values[here & holdout]
            r = got.loc[(name, row)]
            assert r.treated == pytest.approx(t.mean()) and r.control == pytest.approx(c.mean())
            assert (r.treated_n, r.control_n) == (len(t), len(c))
            ci = stats.ttest_ind(t, c, equal_var=False).confidence_interval(0.95)
            assert r.ci_low == pytest.approx(ci.low, rel=0.05, abs=0.01)
            assert r.ci_high == pytest.approx(ci.high, rel=0.05, abs=0.01)
    assert got.loc[("East", "conversion"), "ci_low"] > 0
    assert got.loc[("North", "conversion"), "ci_low"] < 0 < got.loc[("North", "conversion"), "ci_high"]


def test_matched_effect_per_saved_segment_against_post_stratified_pandas():
    """Members chosen mostly among heavy buyers, a real effect for gold
    customers only: per segment, the matched control's mean is the
    post-stratified mean (each spend band's control mean weighted by the
    segment's members' share of that band), computed here in pandas."""
    db = crm.open(":memory:")
    rng = np.random.default_rng(8)
    n = 3000
    tier = rng.choice(["gold", "silver"], n)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)], "tier": tier}))
    heavy = rng.random(n) < 0.3
    spend = rng.uniform(100, 200, n)
    db.import_frame("orders", pd.DataFrame({"customer_id": ids[heavy], "ordered_at": "2024-05-15",
                                            "amount": spend[heavy]}))
    member = (heavy & (rng.random(n) < 0.5)) | (~heavy & (rng.random(n) < 0.1))
    camp = _campaign(db, ids[member], False)
    p = np.where(heavy, 0.5, 0.1) + np.where(member & (tier == "gold"), 0.25, 0.0)
    buy = rng.random(n) < p
    db.import_frame("orders", pd.DataFrame({"customer_id": ids[buy], "ordered_at": "2024-06-05", "amount": 50.0}))
    db.marketing.save_segment("gold", tier="gold")
    db.marketing.save_segment("silver", tier="silver")
    got = db.marketing.campaign_effect(camp, by=["gold", "silver"])
    assert got.attrs["control"] == "matched"
    # Spend bands as pandas sees them: none, or the quartile of prior spend.
    prior = pd.Series(np.where(heavy, spend, 0.0), index=ids)
    edges = np.quantile(prior[prior > 0], [0.25, 0.5, 0.75])
    band = pd.Series(np.where(prior > 0, 1 + np.searchsorted(edges, prior, side="right"), 0), index=ids)
    bought = pd.Series(buy.astype(float), index=ids)
    for name in ("gold", "silver"):
        here = pd.Series(tier == name, index=ids)
        treated = ids[here.to_numpy() & member]
        control = ids[here.to_numpy() & ~member]
        share = band[treated].value_counts(normalize=True)
        post = (bought[control].groupby(band[control]).mean() * share).sum()
        r = got.loc[(name, "conversion")]
        assert r.treated == pytest.approx(bought[treated].mean())
        assert r.control == pytest.approx(post)
    assert got.loc[("gold", "conversion"), "ci_low"] > 0.1
    assert got.loc[("silver", "conversion"), "ci_low"] < 0 < got.loc[("silver", "conversion"), "ci_high"]


def test_by_a_score_and_bad_groupings():
    db = crm.open(":memory:")
    ids = db.import_frame("customers", pd.DataFrame({"name": ["a", "b", "c", "d"]}))
    db.import_frame("orders", pd.DataFrame({"customer_id": ids[:2], "ordered_at": "2024-01-01", "amount": 5.0}))
    camp = _campaign(db, ids, [False, True, False, True])
    got = db.marketing.campaign_effect(camp, by="lifecycle")
    stages = db.lifecycle().stage
    assert set(got.index.get_level_values("segment")) == set(stages.astype(str))
    with pytest.raises(crm.NotFound, match="no column 'no_such_field'"):
        db.marketing.campaign_effect(camp, by="no_such_field")
    with pytest.raises(KeyError, match="no segment 'nope'"):
        db.marketing.campaign_effect(camp, by=["nope"])


def test_campaign_table_per_customer_segment_against_pandas():
    db = crm.open(":memory:")
    rng = np.random.default_rng(4)
    n = 300
    tier = rng.choice(["gold", "silver", None], n)
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(n)], "tier": tier}))
    camps = [db.add("campaigns", name=f"k{i}", started_at=f"2024-0{i + 3}-01", budget=b)
             for i, b in enumerate((600.0, 900.0))]
    for k in camps:
        who = rng.choice(ids, 120, replace=False)
        db.import_frame("campaign_members", pd.DataFrame({"campaign_id": k, "customer_id": who,
                                                          "responded": rng.random(120) < 0.3,
                                                          "holdout": rng.random(120) < 0.2}))
    db.import_frame("orders", pd.DataFrame({"customer_id": rng.choice(ids, 400), "amount": rng.gamma(2.0, 30.0, 400),
                                            "ordered_at": T0 + pd.to_timedelta(rng.integers(0, 120, 400), "D")}))
    got = db.marketing.campaigns(days=30, by="tier")
    # Plain pandas: each treated member's window, budget shared equally among them.
    m = db.frame("campaign_members")
    m = m[~m.holdout.astype(bool)].copy()
    c, o = db.frame("campaigns"), db.frame("orders")
    m["start"] = m.campaign_id.map(c.started_at)
    pairs = m.reset_index().merge(o, on="customer_id", how="left")
    inside = (pairs.ordered_at >= pairs.start) & (pairs.ordered_at < pairs.start + pd.Timedelta(days=30))
    revenue = pairs.amount.where(inside, 0.0).groupby(pairs["id"]).sum().reindex(m.index)
    m["revenue"], m["converted"] = revenue, revenue > 0
    m["share"] = m.campaign_id.map(c.budget / m.groupby("campaign_id").size())
    m["tier"] = m.customer_id.map(db.frame("customers").tier)
    want = m.dropna(subset=["tier"]).groupby("tier").agg(members=("revenue", "size"), revenue=("revenue", "sum"),
                                                         converted=("converted", "sum"), budget=("share", "sum"),
                                                         responded=("responded", "sum"))
    assert got.index.tolist() == ["gold", "silver"]
    for col in ("members", "converted", "responded"):
        assert got[col].tolist() == want[col].astype(int).tolist()
    np.testing.assert_allclose(got.revenue, want.revenue)
    np.testing.assert_allclose(got.budget, want.budget)
    np.testing.assert_allclose(got.roi, (want.revenue - want.budget) / want.budget)
    np.testing.assert_allclose(got.cost_per_acquisition, want.budget / want.converted)
    assert db.marketing.campaigns(by="name").index.tolist() == ["k0", "k1"]  # a campaign field still groups campaigns
