"""crmcore.scoring against plain pandas / NumPy computations written here
independently, brute force, SciPy and mlxtend."""
import doctest
import importlib
import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import crmcore as crm
import crmcore._core as core
from crmcore import scoring

# The submodules (their names are shadowed by the functions scoring exports).
MODULES = [importlib.import_module(f"crmcore.scoring.{name}")
           for name in ("rfm", "profit", "lifecycle", "health", "affinity", "store")]

DAY = pd.Timedelta(days=1)


def make_tx(n=3000, customers=300, seed=1, start="2022-01-01", days=900):
    """Transactions with many ties: whole-day dates and whole-dollar amounts."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(1, customers + 1, n) * 7  # gaps in the ids
    date = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    amount = rng.integers(1, 40, n).astype(float)
    cost = np.round(amount * rng.uniform(0.3, 0.9, n), 2)
    return pd.DataFrame({"customer_id": cust, "date": date, "amount": amount, "cost": cost})


# -- references ---------------------------------------------------------------

def reference_rfm(tx, as_of=None, bins=5):
    if as_of is not None:
        tx = tx[tx["date"] <= as_of]
    g = tx.groupby("customer_id").agg(last=("date", "max"), frequency=("date", "size"),
                                      monetary=("amount", "sum")).sort_index()
    as_of = tx["date"].max() + DAY if as_of is None else pd.Timestamp(as_of)
    g["recency"] = (as_of - g["last"]) / DAY
    # Frame sorted by id, so rank(method="first") breaks ties by ascending id.
    g["r_score"] = pd.qcut((-g["recency"]).rank(method="first"), bins, labels=False) + 1
    g["f_score"] = pd.qcut(g["frequency"].rank(method="first"), bins, labels=False) + 1
    g["m_score"] = pd.qcut(g["monetary"].rank(method="first"), bins, labels=False) + 1
    return g


SEGMENT_PATTERNS = {  # the R/F grid as it is usually written: regexes on "RF"
    r"11": "lost",
    r"[1-2][1-2]": "hibernating",
    r"[1-2][3-4]": "at risk",
    r"[1-2]5": "cannot lose",
    r"3[1-2]": "about to sleep",
    r"33": "need attention",
    r"[3-4][4-5]": "loyal",
    r"41": "promising",
    r"51": "new",
    r"[4-5][2-3]": "potential loyalist",
    r"5[4-5]": "champions",
}


def reference_segments(r, f):
    rf = pd.Series(r).astype(str) + pd.Series(f).astype(str)
    out = pd.Series(index=rf.index, dtype=object)
    for pattern, name in SEGMENT_PATTERNS.items():
        hit = rf.str.fullmatch(pattern) & out.isna()
        out[hit] = name
    return out


# -- RFM ------------------------------------------------------------------

@pytest.mark.parametrize("bins", [5, 3, 10])
def test_rfm_matches_pandas_groupby_and_qcut_with_ties(bins):
    tx = make_tx()
    got = scoring.rfm(tx, bins=bins)
    want = reference_rfm(tx, bins=bins)
    assert got.index.tolist() == want.index.tolist()
    assert got.index.name == "customer_id"
    np.testing.assert_allclose(got["recency"], want["recency"])
    np.testing.assert_array_equal(got["frequency"], want["frequency"])
    np.testing.assert_allclose(got["monetary"], want["monetary"])
    for col in ("r_score", "f_score", "m_score"):
        np.testing.assert_array_equal(got[col], want[col], err_msg=col)
    assert got["frequency"].duplicated().any() and got["recency"].duplicated().any()  # ties were exercised
    assert got.attrs["as_of"] == tx["date"].max() + DAY


def test_rfm_scores_for_fewer_customers_than_bins_match_qcut():
    tx = make_tx(n=12, customers=4, seed=3)
    got = scoring.rfm(tx, bins=5)
    want = reference_rfm(tx, bins=5)
    np.testing.assert_array_equal(got["m_score"], want["m_score"])


def test_rfm_ties_min_gives_equal_values_one_score():
    tx = make_tx(seed=2)
    got = scoring.rfm(tx, ties="min")
    first = reference_rfm(tx)
    for value, score in (("recency", "r_score"), ("frequency", "f_score"), ("monetary", "m_score")):
        want = first[score].groupby(first[value]).transform("min")
        np.testing.assert_array_equal(got[score], want, err_msg=score)
        assert got.groupby(value)[score].nunique().max() == 1


def test_rfm_as_of_ignores_later_purchases():
    tx = make_tx()
    as_of = pd.Timestamp("2023-03-15")
    got = scoring.rfm(tx, as_of=as_of)
    want = reference_rfm(tx, as_of=as_of)
    assert got.index.tolist() == want.index.tolist()
    np.testing.assert_allclose(got["recency"], want["recency"])
    np.testing.assert_array_equal(got["r_score"], want["r_score"])


def test_rfm_segments_follow_the_usual_grid():
    tx = make_tx()
    got = scoring.rfm(tx)
    want = reference_segments(got["r_score"].to_numpy(), got["f_score"].to_numpy())
    assert got["segment"].astype(str).tolist() == want.tolist()
    every_cell = scoring.segment(np.repeat(np.arange(1, 6), 5), np.tile(np.arange(1, 6), 5))
    assert "other" not in every_cell.categories
    assert every_cell.astype(str).tolist() == reference_segments(np.repeat(np.arange(1, 6), 5),
                                                                 np.tile(np.arange(1, 6), 5)).tolist()


def test_rfm_custom_segments_and_uncovered_cells():
    grid = [("best", (5, 5), (5, 5)), ("worst", (1, 1), (1, 1))]
    names = scoring.segment([5, 1, 3], [5, 1, 3], segments=grid)
    assert names.tolist() == ["best", "worst", "other"]


def test_rfm_sparse_and_text_ids_give_the_same_scores():
    tx = make_tx()
    dense = scoring.rfm(tx)
    sparse = scoring.rfm(tx.assign(customer_id=tx["customer_id"] * 10**12 + 5))
    text = scoring.rfm(tx.assign(customer_id="C" + tx["customer_id"].astype(str).str.zfill(6)))
    np.testing.assert_array_equal(sparse["m_score"], dense["m_score"])
    assert sparse.index.tolist() == (dense.index * 10**12 + 5).tolist()
    assert text.index.tolist() == ["C" + str(i).zfill(6) for i in dense.index]
    np.testing.assert_array_equal(text["r_score"], dense["r_score"])


def test_rfm_hashed_ids_at_scale_match_pandas():
    rng = np.random.default_rng(9)
    n = 200_000
    ids = rng.integers(0, 2**62, 5000)[rng.integers(0, 5000, n)]
    tx = pd.DataFrame({"customer_id": ids, "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 10**6, n), unit="s"), "amount": rng.gamma(2.0, 10.0, n)})
    got = scoring.rfm(tx)
    want = reference_rfm(tx)
    assert got.index.tolist() == want.index.tolist()
    np.testing.assert_allclose(got["monetary"], want["monetary"], rtol=1e-12)
    np.testing.assert_array_equal(got["r_score"], want["r_score"])


def test_rfm_rejects_missing_values_naming_the_row():
    tx = make_tx(n=20)
    tx.loc[7, "amount"] = np.nan
    with pytest.raises(crm.ValidationError, match="row 7.*amount"):
        scoring.rfm(tx)
    tx = make_tx(n=20)
    tx["date"] = tx["date"].astype("datetime64[ns]")
    tx.loc[3, "date"] = pd.NaT
    with pytest.raises(crm.ValidationError, match="row 3.*date"):
        scoring.rfm(tx)
    with pytest.raises(crm.ValidationError, match="no amount column"):
        scoring.rfm(make_tx(n=5), amount="dollars")


def test_rfm_accepts_other_datetime_units_and_time_zones():
    tx = make_tx(n=200)
    want = scoring.rfm(tx)
    seconds = scoring.rfm(tx.assign(date=tx["date"].astype("datetime64[s]")))
    aware = scoring.rfm(tx.assign(date=tx["date"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")))
    pd.testing.assert_frame_equal(seconds, want)
    np.testing.assert_array_equal(aware["r_score"], want["r_score"])


# -- profitability ------------------------------------------------------------

def reference_profit_by_period(tx, freq):
    t = tx.assign(period=tx["date"].dt.to_period(freq), profit=tx["amount"] - tx["cost"])
    g = t.groupby(["customer_id", "period"]).agg(orders=("amount", "size"), revenue=("amount", "sum"),
                                                 cost=("cost", "sum"), profit=("profit", "sum"))
    last = t["period"].max()
    rows = []
    for cid, first in t.groupby("customer_id")["period"].min().items():
        span = pd.period_range(first, last, freq=freq)
        part = g.loc[cid].reindex(span, fill_value=0)
        part["change"] = part["profit"].diff()
        part.index = pd.MultiIndex.from_product([[cid], span], names=["customer_id", "period"])
        rows.append(part)
    return pd.concat(rows)


@pytest.mark.parametrize("freq", ["Y", "Q", "M"])
def test_profit_by_period_matches_pandas(freq):
    tx = make_tx(n=800, customers=60)
    got = scoring.profit_by_period(tx, freq=freq)
    want = reference_profit_by_period(tx, freq)
    assert got.index.equals(want.index)
    np.testing.assert_array_equal(got["orders"], want["orders"])
    for col in ("revenue", "cost", "profit", "change"):
        np.testing.assert_allclose(got[col], want[col], atol=1e-9, err_msg=col)


def test_profit_totals_match_pandas():
    tx = make_tx()
    got = scoring.profit(tx)
    g = tx.assign(p=tx["amount"] - tx["cost"]).groupby("customer_id").agg(
        revenue=("amount", "sum"), profit=("p", "sum"), first=("date", "min"), n=("date", "size"))
    np.testing.assert_allclose(got["profit"], g["profit"])
    np.testing.assert_allclose(got["margin"], g["profit"] / g["revenue"])
    np.testing.assert_array_equal(got["orders"], g["n"])
    assert (got["first_purchase"] == g["first"]).all()


def reference_pareto(values, cutoffs=(0.8, 0.95)):
    s = pd.Series(values).sort_index()
    order = sorted(s.index, key=lambda i: (-s[i], i))
    total = s[s > 0].sum()
    before, cls = 0.0, {}
    for i in order:
        v = s[i]
        if v <= 0:
            cls[i] = "ABC"[len(cutoffs)]
        else:
            k = 0
            while k < len(cutoffs) and before / total >= cutoffs[k] - 1e-12:
                k += 1
            cls[i] = "ABC"[k]
            before += v
    return pd.Series(cls).sort_index()


@pytest.mark.parametrize("period", [None, "2023"])
def test_profit_tiers_by_last_year_contribution(period):
    tx = make_tx(n=2000, customers=150, seed=5)
    got = scoring.profit_tiers(tx, freq="Y", period=period, vip_top=0.2, super_top=0.05)
    as_of = tx["date"].max() + DAY  # whole-day dates: the end of the data is the day after the last
    if period is None:  # the year before as_of
        start, end = as_of - pd.DateOffset(years=1), as_of
        last_year = tx[(tx["date"] > start) & (tx["date"] <= end)]
    else:
        start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-01-01") - pd.Timedelta(1, "ns")
        last_year = tx[tx["date"].dt.year == 2023]
    p = (last_year["amount"] - last_year["cost"]).groupby(last_year["customer_id"]).sum()
    seen = tx.loc[tx["date"] <= end, "customer_id"].unique()
    p = p.reindex(np.sort(seen), fill_value=0.0)  # everyone seen so far, zero if silent last year
    assert got.attrs["as_of"] == as_of and got.attrs["window"] == (start, end)
    assert got.attrs["period"] == (None if period is None else pd.Period(period, "Y"))
    assert got.index.tolist() == p.index.tolist()
    np.testing.assert_allclose(got["profit"], p)
    np.testing.assert_allclose(got["contribution"], p.clip(lower=0) / p[p > 0].sum())
    assert got["abc"].astype(str).tolist() == reference_pareto(p).tolist()
    a = got[got["abc"] == "A"]
    assert a["profit"].sum() / p[p > 0].sum() >= 0.8 > (a["profit"].sum() - a["profit"].min()) / p[p > 0].sum()
    ranked = p.sort_values(ascending=False, kind="stable")
    n = len(p)
    assert set(got.index[got["tier"] == "super"]) == set(ranked.index[: int(np.ceil(0.05 * n))])
    assert set(got.index[got["tier"] != "normal"]) == set(ranked.index[: int(np.ceil(0.2 * n))])


def test_product_profit_and_staff_performance_match_pandas():
    rng = np.random.default_rng(4)
    lines = pd.DataFrame({"product_id": rng.choice(["SKU-A", "SKU-B", "SKU-C", "SKU-D"], 500),
                          "quantity": rng.integers(1, 5, 500).astype(float),
                          "unit_price": rng.uniform(5, 50, 500)})
    lines["unit_cost"] = np.where(rng.random(500) < 0.2, np.nan, lines["unit_price"] * rng.uniform(0.4, 0.9, 500))
    products = pd.DataFrame({"unit_cost": [3.0, 4.0, 5.0, 6.0]}, index=["SKU-A", "SKU-B", "SKU-C", "SKU-D"])
    got = scoring.product_profit(lines, products=products)
    cost = lines["unit_cost"].fillna(lines["product_id"].map(products["unit_cost"]))
    g = lines.assign(rev=lines.quantity * lines.unit_price, cst=lines.quantity * cost).groupby("product_id")
    want = g[["rev", "cst"]].sum()
    np.testing.assert_allclose(got["revenue"], want["rev"])
    np.testing.assert_allclose(got["margin"], (want["rev"] - want["cst"]) / want["rev"])

    orders = pd.DataFrame({"staff_id": rng.choice([11, 12, 13, None], 400), "amount": rng.uniform(10, 100, 400)})
    orders["cost"] = orders["amount"] * np.where(orders["staff_id"] == 12, 0.9, 0.5)
    perf = scoring.staff_performance(orders)
    sold = orders.dropna(subset=["staff_id"]).astype({"staff_id": int})
    g = sold.groupby("staff_id").agg(rev=("amount", "sum"), cst=("cost", "sum"))
    margin = (g.rev - g.cst) / g.rev
    overall = (g.rev - g.cst).sum() / g.rev.sum()
    np.testing.assert_allclose(perf["weighted_sales"], g.rev * margin / overall)
    assert perf.loc[12, "rank"] == 3  # the low-margin seller ranks last


# -- classification and lifecycle -------------------------------------------

def reference_rhythm(tx, as_of):
    rows = {}
    for cid, part in tx.groupby("customer_id"):
        d = np.sort(part["date"].to_numpy())
        gaps = np.diff(d) / np.timedelta64(1, "D")
        mean = gaps.mean() if len(gaps) else np.nan
        cv = gaps.std() / mean if len(gaps) >= 2 and mean > 0 else np.nan
        rows[cid] = dict(purchases=len(d), mean_gap=mean, cv_gap=cv, days_since=(as_of - d[-1]) / np.timedelta64(1, "D"),
                         tenure_days=(as_of - d[0]) / np.timedelta64(1, "D"))
    return pd.DataFrame.from_dict(rows, orient="index")


def test_classify_matches_a_plain_computation():
    tx = make_tx(n=1500, customers=400, seed=6)
    as_of = tx["date"].max() + DAY
    got = scoring.classify(tx, regular_min_purchases=4, regular_max_cv=0.75, active_days=180,
                           referrals=pd.DataFrame({"referred": [14, 21, 28], "referrer": [7, 7, 35]}))
    want = reference_rhythm(tx, as_of.to_datetime64())
    np.testing.assert_allclose(got["mean_gap"], want["mean_gap"])
    np.testing.assert_allclose(got["cv_gap"], want["cv_gap"])
    kind = np.where(want.purchases == 1, "one-time",
                    np.where((want.purchases >= 4) & (want.cv_gap <= 0.75), "regular", "occasional"))
    assert got["buyer_type"].astype(str).tolist() == kind.tolist()
    assert set(kind) == {"one-time", "occasional", "regular"}
    np.testing.assert_array_equal(got["active"], want["days_since"] <= 180)
    np.testing.assert_array_equal(got["repurchases"], want["purchases"] - 1)
    assert got.loc[7, "referrals"] == 2 and got.loc[35, "referrals"] == 1 and got["referrals"].sum() == 3


def test_classify_validity_needs_a_purchase_and_contact_data():
    tx = make_tx(n=50, customers=5)
    customers = pd.DataFrame({"phone": ["1", None, "", None, "5", None], "email": [None, "b@x", None, None, None, None]},
                             index=[7, 14, 21, 28, 35, 999])
    got = scoring.classify(tx, customers=customers)
    bought = set(tx["customer_id"])
    reachable = {7, 14, 35}
    assert got.loc[999, "purchases"] == 0
    assert {i for i in got.index if got.loc[i, "valid"]} == bought & reachable


def reference_stage(row, new_days=90, churn_days=365, factor=2.0, single_days=180, loyal_n=4, loyal_days=365):
    if row.purchases == 0:
        return "prospect"
    if row.days_since > churn_days:
        return "churned"
    if (row.purchases >= 2 and row.days_since > factor * row.mean_gap) or (row.purchases == 1 and row.days_since > single_days):
        return "at risk"
    if row.tenure_days <= new_days:
        return "new"
    if row.purchases >= loyal_n and row.tenure_days >= loyal_days:
        return "loyal"
    return "active"


def test_lifecycle_stages_follow_the_rules_and_explain_themselves():
    tx = make_tx(n=1200, customers=500, seed=8, days=1000)
    as_of = tx["date"].max() + DAY
    everyone = pd.Index(sorted(set(tx["customer_id"]) | {1, 2, 3}))
    got = scoring.lifecycle(tx, customers=everyone)
    want = reference_rhythm(tx, as_of.to_datetime64()).reindex(everyone)
    want["purchases"] = want["purchases"].fillna(0)
    stages = [reference_stage(r) for r in want.itertuples()]
    assert got["stage"].astype(str).tolist() == stages
    assert set(stages) == set(scoring.STAGES)
    churned = got[got["stage"] == "churned"].iloc[0]
    assert churned["reason"] == f"no purchase for {round(churned['days_since'])} days (> 365)"
    assert (got.loc[[1, 2, 3], "reason"] == "no purchase yet").all()
    assert got["reason"].str.len().min() > 0


def test_deal_quadrants():
    deals = pd.DataFrame({"amount": [500.0, 500.0, 10.0, 10.0, 900.0, 50.0],
                          "stage": ["negotiating", "potential", "negotiating", "potential", "Won", "lost"],
                          "expected_close": pd.to_datetime(["2024-01-05", "2024-05-01", "2023-12-20", "2024-09-01",
                                                            "2024-01-02", None])})
    got = scoring.deal_quadrants(deals, as_of="2024-01-01", important_amount=100)
    assert got["status"].tolist() == ["open"] * 4 + ["won", "lost"]
    assert got["quadrant"].astype(object).where(got["quadrant"].notna(), None).tolist() == [
        "do first", "plan", "quick win", "later", None, None]
    assert got.loc[2, "days_to_close"] == -12


def test_deal_summary_matches_pandas():
    rng = np.random.default_rng(14)
    n = 300
    deals = pd.DataFrame({"customer_id": rng.integers(1, 40, n), "amount": rng.uniform(10, 1000, n).round(2),
                          "stage": rng.choice(["potential", "proposal", "won", "lost"], n),
                          "probability": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
                          "expected_close": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(-30, 90, n), "D")})
    got = scoring.deal_summary(deals, as_of="2024-01-01", important_amount=500, urgent_days=30)
    d = deals.assign(open=deals.stage.isin(["potential", "proposal"]))
    g = d.groupby("customer_id")
    np.testing.assert_array_equal(got["open"], g["open"].sum())
    np.testing.assert_allclose(got["pipeline"], g.apply(lambda x: x.amount[x.open].sum(), include_groups=False))
    np.testing.assert_allclose(got["weighted_pipeline"], g.apply(
        lambda x: (x.amount * x.probability.fillna(0))[x.open].sum(), include_groups=False))
    urgent_big = d.open & (d.amount >= 500) & (d.expected_close <= pd.Timestamp("2024-01-31"))
    np.testing.assert_array_equal(got["do_first"], urgent_big.groupby(d.customer_id).sum())
    won, lost = g["stage"].apply(lambda s: (s == "won").sum()), g["stage"].apply(lambda s: (s == "lost").sum())
    np.testing.assert_allclose(got["win_rate"], (won / (won + lost)).where(won + lost > 0))


# -- satisfaction, loyalty, churn, health ----------------------------------

def make_service(seed=3):
    rng = np.random.default_rng(seed)
    n = 400
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
    first = opened + pd.to_timedelta(rng.exponential(5, n), unit="h")
    resolved = first + pd.to_timedelta(rng.exponential(30, n), unit="h")
    tickets = pd.DataFrame({"customer_id": rng.integers(1, 40, n) * 7, "opened_at": opened,
                            "first_response_at": first.where(rng.random(n) > 0.1),
                            "resolved_at": resolved.where(rng.random(n) > 0.2),
                            "reopened": rng.integers(0, 3, n) * (rng.random(n) < 0.3),
                            "satisfaction": rng.integers(1, 6, n).astype(float)})
    surveys = pd.DataFrame({"customer_id": rng.integers(1, 60, 300) * 7, "csat": rng.integers(1, 6, 300).astype(float),
                            "nps": rng.integers(0, 11, 300)})
    return tickets, surveys


def test_satisfaction_matches_pandas():
    tickets, surveys = make_service()
    purchases = pd.Series(np.arange(1, 60) % 5 + 1, index=np.arange(1, 60) * 7)
    got = scoring.satisfaction(tickets, surveys, purchases=purchases)
    t = tickets.assign(resp=(tickets.first_response_at - tickets.opened_at) / pd.Timedelta(hours=1),
                       res=(tickets.resolved_at - tickets.opened_at) / pd.Timedelta(hours=1),
                       re=tickets.reopened > 0)
    g = t.groupby("customer_id")
    idx = g.size().index
    np.testing.assert_allclose(got.loc[idx, "response_hours"], g["resp"].median())
    np.testing.assert_allclose(got.loc[idx, "resolution_hours_mean"], g["res"].mean())
    np.testing.assert_allclose(got.loc[idx, "reopen_rate"], g["re"].mean())
    np.testing.assert_allclose(got.loc[idx, "complaint_rate"], g.size() / purchases.reindex(idx))
    s = surveys.groupby("customer_id")
    nps = s["nps"].apply(lambda v: 100 * ((v >= 9).mean() - (v <= 6).mean()))
    np.testing.assert_allclose(got.loc[nps.index, "nps"], nps)
    np.testing.assert_allclose(got.loc[nps.index, "csat"], s["csat"].mean())
    overall = 100 * ((surveys.nps >= 9).mean() - (surveys.nps <= 6).mean())
    assert got.attrs["nps"] == pytest.approx(overall)
    assert len(got) == len(set(tickets.customer_id) | set(surveys.customer_id))


def test_gamma_cdf_matches_scipy():
    x = np.array([0.0, 1e-3, 0.5, 1.0, 3.0, 10.0, 50.0, 400.0])
    for shape in (0.3, 1.0, 2.5, 40.0, 400.0):
        for scale in (0.2, 1.0, 7.0):
            np.testing.assert_allclose(core.gamma_cdf(x, shape, scale), scipy.stats.gamma.cdf(x, shape, scale=scale),
                                       rtol=1e-10, atol=1e-14)


def test_churn_risk_is_the_gamma_cdf_of_the_shrunk_rhythm():
    tx = make_tx(n=2000, customers=200, seed=11)
    as_of = pd.Timestamp("2024-09-01")
    got = scoring.churn_risk(tx, as_of=as_of, prior_weight=2.0)
    r = reference_rhythm(tx, as_of.to_datetime64())
    prior_mean = r.mean_gap[r.mean_gap > 0].median()
    prior_cv = r.cv_gap[r.cv_gap > 0].median()
    gaps = (r.purchases - 1).astype(float)
    mean = np.where(gaps > 0, (gaps * r.mean_gap + 2 * prior_mean) / (gaps + 2), prior_mean)
    cvn = np.where(r.cv_gap.isna(), 0, gaps)
    cv2 = (cvn * r.cv_gap.fillna(0) ** 2 + 2 * prior_cv**2) / (cvn + 2)
    shape = np.minimum(1 / cv2, 400)
    want = scipy.stats.gamma.cdf(r.days_since, shape, scale=mean / shape)
    np.testing.assert_allclose(got["rhythm_risk"], want, rtol=1e-9, atol=1e-12)
    alive = pd.Series(0.25, index=got.index[:10])
    mixed = scoring.churn_risk(tx, as_of=as_of, prior_weight=2.0, p_alive=alive, alive_weight=0.4)
    np.testing.assert_allclose(mixed["churn_risk"][:10], 0.6 * want[:10] + 0.4 * 0.75)
    np.testing.assert_allclose(mixed["churn_risk"][10:], want[10:])


def test_loyalty_components():
    tx = make_tx(n=600, customers=100, seed=12)
    got = scoring.loyalty(tx, tenure_full_days=365)
    r = reference_rhythm(tx, (tx["date"].max() + DAY).to_datetime64())
    regularity = np.where(r.purchases == 1, 0, np.where(r.cv_gap.isna(), 0.5, 1 / (1 + r.cv_gap)))
    want = (np.minimum(r.tenure_days / 365, 1) + regularity + (1 - 1 / r.purchases)) / 3
    np.testing.assert_allclose(got["loyalty"], want)


def test_health_is_the_weighted_mean_of_its_shown_components():
    tx = make_tx(n=3000, customers=60, seed=13)
    tickets, surveys = make_service()
    weights = {"retention": 2, "loyalty": 1, "value": 1, "satisfaction": 1, "service": 0.5}
    got = scoring.health(tx, tickets=tickets, surveys=surveys, weights=weights)
    comp = got[list(weights)]
    w = pd.Series(weights)
    want = 100 * (comp * w).sum(axis=1) / comp.notna().mul(w).sum(axis=1)
    np.testing.assert_allclose(got["health"], want)
    np.testing.assert_allclose(got[[c + "_points" for c in weights]].sum(axis=1), got["health"])
    assert comp["satisfaction"].isna().any() and comp["satisfaction"].notna().any()
    # value is the spend percentile; retention is 1 - churn risk
    spend = tx.groupby("customer_id")["amount"].sum()
    rank = spend.rank(method="first")
    np.testing.assert_allclose(got["value"], np.ceil((rank - 1) * 100 / (len(rank) - 1)).clip(lower=1).sub(1) / 99)
    np.testing.assert_allclose(got["retention"], 1 - scoring.churn_risk(tx)["churn_risk"])


# -- product affinity ------------------------------------------------------

def make_baskets(seed=0, orders=400, products=12):
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.ones(products) * 0.7)
    rows = []
    for o in range(orders):
        k = rng.integers(1, 6)
        items = rng.choice(products, size=k, replace=True, p=popularity)  # repeats happen
        if 2 in items and rng.random() < 0.7:
            items = np.append(items, 5)  # a real affinity: 2 -> 5
        rows += [(1000 + o, 100 + int(i)) for i in items]
    return pd.DataFrame(rows, columns=["order_id", "product_id"])


def brute_force_itemsets(lines, min_support):
    baskets = [frozenset(g) for _, g in lines.groupby("order_id")["product_id"]]
    items = sorted(set().union(*baskets))
    found = {}
    for k in range(1, len(items) + 1):
        hit = False
        for combo in itertools.combinations(items, k):
            c = sum(1 for b in baskets if b.issuperset(combo))
            if c >= min_support * len(baskets) - 1e-9:
                found[combo] = c
                hit = True
        if not hit:
            break
    return found, len(baskets)


def test_frequent_itemsets_match_brute_force():
    lines = make_baskets()
    got = scoring.frequent_itemsets(lines, min_support=0.03)
    want, n = brute_force_itemsets(lines, 0.03)
    assert dict(zip(got["itemset"], got["count"])) == want
    assert got.attrs["baskets"] == n
    assert got["size"].max() >= 3
    np.testing.assert_allclose(got["support"], got["count"] / n)


def test_affinity_matches_mlxtend():
    from mlxtend.frequent_patterns import apriori, association_rules

    lines = make_baskets(seed=1)
    onehot = pd.crosstab(lines["order_id"], lines["product_id"]).gt(0)
    ref_sets = apriori(onehot, min_support=0.04, use_colnames=True)
    ref_rules = association_rules(ref_sets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.1)
    got_sets = scoring.frequent_itemsets(lines, min_support=0.04)
    assert dict(zip(map(frozenset, got_sets["itemset"]), got_sets["support"])) == pytest.approx(
        dict(zip(ref_sets["itemsets"], ref_sets["support"])))
    got = scoring.product_affinity(lines, min_support=0.04, min_confidence=0.1)
    key = lambda a, c: (frozenset(a), frozenset(c))  # noqa: E731
    mine = {key(a, c): (s, conf, lift) for a, c, s, conf, lift in
            got[["antecedent", "consequent", "support", "confidence", "lift"]].itertuples(index=False)}
    theirs = {key(a, c): (s, conf, lift) for a, c, s, conf, lift in
              ref_rules[["antecedents", "consequents", "support", "confidence", "lift"]].itertuples(index=False)}
    assert mine.keys() == theirs.keys() and len(mine) > 10
    for k in mine:
        np.testing.assert_allclose(mine[k], theirs[k], rtol=1e-12)
    planted = got[(got["antecedent"] == (102,)) & (got["consequent"] == (105,))]
    assert len(planted) == 1 and planted["lift"].iloc[0] > 1.5
    assert got["lift"].is_monotonic_decreasing


def test_affinity_max_len_and_bad_support():
    lines = make_baskets()
    assert scoring.frequent_itemsets(lines, min_support=0.03, max_len=2)["size"].max() == 2
    with pytest.raises(ValueError, match="min_support"):
        scoring.frequent_itemsets(lines, min_support=0)


# -- the store ---------------------------------------------------------------

@pytest.fixture()
def db():
    tx = make_tx(n=600, customers=40, seed=21)
    with crm.open(":memory:") as d:
        ids = d.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(42)],
                                                        "phone": [f"1380013{i:04d}" if i % 3 else None for i in range(42)]}))
        staff = d.import_frame("staff", pd.DataFrame({"name": ["Ann", "Bo"], "team": ["north", "south"]}))
        cust = ids[(tx["customer_id"] // 7 - 1).to_numpy()]
        status = np.where(np.arange(len(tx)) % 25 == 0, "cancelled", "paid")
        orders = pd.DataFrame({"customer_id": cust, "ordered_at": tx["date"], "amount": tx["amount"],
                               "cost": tx["cost"].where(np.arange(len(tx)) % 10 != 0), "status": status,
                               "staff_id": staff[np.arange(len(tx)) % 2]})
        oid = d.import_frame("orders", orders)
        products = d.import_frame("products", pd.DataFrame({"sku": ["A", "B", "C"], "name": ["a", "b", "c"],
                                                            "unit_cost": [1.0, 2.0, 3.0]}))
        lines = pd.DataFrame({"order_id": np.repeat(oid, 2), "product_id": products[np.arange(2 * len(oid)) % 3],
                              "quantity": 1.0, "unit_price": np.tile([4.0, 6.0], len(oid))})
        d.import_frame("order_lines", lines)
        d.link(int(ids[1]), int(ids[0]), "referred_by")
        d.link(int(ids[2]), int(ids[0]), "referred_by")
        tickets, surveys = make_service()
        d.import_frame("surveys", surveys.assign(customer_id=ids[(surveys.customer_id // 7 - 1) % 40],
                                                 responded_at=pd.Timestamp("2024-03-01")))
        d.import_frame("tickets", tickets.assign(customer_id=ids[(tickets.customer_id // 7 - 1) % 40]))
        d.test_ids = ids
        yield d


def test_store_rfm_matches_pandas_on_the_stored_orders(db):
    orders = db.frame("orders")
    paid = orders[orders["status"] != "cancelled"].rename(columns={"ordered_at": "date"})
    want = reference_rfm(paid)
    everyone = db.rfm()
    assert everyone.index.tolist() == db.frame("customers").index.tolist()
    got = everyone.loc[want.index]
    for col in ("recency", "frequency", "monetary", "r_score", "f_score", "m_score"):
        np.testing.assert_allclose(got[col], want[col], err_msg=col)
    # Customers who never bought: their stated values, and the buyers' scores untouched by them.
    silent = everyone.drop(index=want.index)
    assert len(silent) == 2 and (silent[["frequency", "r_score", "f_score", "m_score"]] == 0).all().all()
    assert (silent["segment"] == "no purchase").all() and silent["recency"].isna().all()
    assert everyone["name"].tolist() == db.frame("customers")["name"].tolist()


def test_store_profit_fills_costs_from_lines(db):
    orders = db.frame("orders")
    paid = orders[orders["status"] != "cancelled"]
    lines = db.frame("order_lines")
    unit = lines["product_id"].map(db.frame("products")["unit_cost"])
    line_cost = (lines["quantity"] * unit).groupby(lines["order_id"]).sum()
    cost = paid["cost"].fillna(paid.index.to_series().map(line_cost))
    want = (paid["amount"] - cost).groupby(paid["customer_id"]).sum()
    got = db.profit()
    np.testing.assert_allclose(got.loc[want.index, "profit"], want)
    silent = got.drop(index=want.index)
    assert (silent["orders"] == 0).all() and (silent["profit"] == 0).all() and (silent["abc"] == "C").all()
    per = db.profit_by_period("Q")
    np.testing.assert_allclose(per["profit"].groupby(level=0).sum(), want)
    tiers = db.profit_tiers()
    assert set(tiers["abc"].astype(str)) <= {"A", "B", "C"}
    staff = db.staff_performance()
    assert staff["name"].tolist() == ["Ann", "Bo"]
    np.testing.assert_allclose(staff["profit"].sum(), want.sum())
    prod = db.product_profit()
    rev = (lines["quantity"] * lines["unit_price"]).groupby(lines["product_id"]).sum()
    cst = (lines["quantity"] * unit).groupby(lines["product_id"]).sum()
    np.testing.assert_allclose(prod["margin"], (rev - cst) / rev)
    assert prod["sku"].tolist() == ["A", "B", "C"]


def test_store_classification_lifecycle_and_service(db):
    ids = db.test_ids
    got = db.classify()
    assert got.loc[ids[0], "referrals"] == 2 and got["referrals"].sum() == 2
    assert got.loc[ids[40], "purchases"] == 0 and not got.loc[ids[40], "valid"]
    phones = db.frame("customers")["phone"].notna()
    assert (got["valid"] == (phones & (got["purchases"] > 0))).all()
    stages = db.lifecycle()
    assert stages.loc[[ids[40], ids[41]], "stage"].astype(str).tolist() == ["prospect", "prospect"]
    sat = db.satisfaction()
    surveys = db.frame("surveys")
    s = surveys.groupby("customer_id")["nps"]
    np.testing.assert_allclose(sat.loc[s.size().index, "nps"],
                               s.apply(lambda v: 100 * ((v >= 9).mean() - (v <= 6).mean())))
    h = db.health()
    assert h["health"].drop(index=[ids[40], ids[41]]).between(0, 100).all() and h["satisfaction"].notna().any()
    assert len(db.loyalty()) == len(db.churn_risk()) == 42
    assert (db.loyalty().loc[[ids[40], ids[41]], "loyalty"] == 0).all()
    assert db.churn_risk().loc[[ids[40], ids[41]], "churn_risk"].isna().all()


def test_store_affinity_and_deals(db):
    rules = db.product_affinity(min_support=0.1)
    assert len(rules) > 0
    cid = int(db.test_ids[0])
    did = db.add("deals", customer_id=cid, stage="negotiation", amount=100.0, expected_close="2024-01-05")
    got = db.deal_quadrants(as_of="2024-01-01")
    assert got.loc[did, "quadrant"] == "do first" and got.loc[did, "customer_id"] == cid
    summary = db.deal_summary(as_of="2024-01-01")
    assert len(summary) == 42 and summary.loc[cid, "do_first"] == 1 and summary["pipeline"].sum() == 100.0


def test_docstring_examples():
    for module in [scoring, *MODULES]:
        result = doctest.testmod(module, extraglobs={"pd": pd, "np": np})
        assert result.failed == 0, module.__name__
