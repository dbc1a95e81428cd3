"""The edges of the scoring and lifetime-value API (issue 8, item 14).

Totals beyond the range of a double (two orders of 1e308) must not fail a
whole analysis: the rule of crmcore.scoring.TotalOverflowWarning holds on every
analysis that sums amounts, and everyone else's numbers are those a plain
pandas computation gives without the bad customer. Parameters that make no
sense are refused with crm.ValidationError naming the function and parameter,
never a pybind11 TypeError or a silently meaningless result.
"""
import doctest
import warnings

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
import crmcore._args
from crmcore import scoring
from crmcore.clv import (
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    calibration_and_holdout_data,
    expected_cumulative_transactions,
    summary_data_from_transaction_data,
)
from crmcore.clv.fitters import _DEMO_BGBB, _demo_rfm, _demo_spend
from crmcore.scoring import TotalOverflowWarning

HUGE = 1e308


# ---------------------------------------------------------------- a store with one overflowing customer


@pytest.fixture(scope="module")
def store():
    """Customers A (two orders of 1e308), B, C, D; A is a subsidiary of D; staff S1 sold A's
    orders, S2 the rest; a product bought 1e308 times; a customer E with two deals of 1e308."""
    db = crm.open(":memory:")
    ids = {n: db.add("customers", name=n) for n in "ABCDE"}
    db.link(ids["A"], ids["D"], "subsidiary_of")
    s1, s2 = db.add("staff", name="S1"), db.add("staff", name="S2")
    rows = [("A", "2024-01-01", HUGE, 1.0, s1), ("A", "2024-01-02", HUGE, 1.0, s1),
            ("B", "2023-03-01", 30.0, 10.0, s2), ("B", "2024-02-01", 50.0, 20.0, s2),
            ("C", "2024-03-01", 80.0, 60.0, s2), ("D", "2023-06-01", 20.0, 5.0, s2),
            ("D", "2024-04-01", 25.0, 5.0, s2)]
    orders = pd.DataFrame(rows, columns=["who", "ordered_at", "amount", "cost", "staff_id"])
    orders["customer_id"] = orders["who"].map(ids)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    db.import_frame("orders", orders.drop(columns="who"))
    tea, cup = db.add("products", sku="T", name="Tea", unit_cost=1.0), db.add("products", sku="C", name="Cup")
    order_ids = db.frame("orders", columns=["customer_id"]).index
    for oid in order_ids[:2]:
        db.add("order_lines", order_id=int(oid), product_id=tea, quantity=HUGE, unit_price=1.0)  # each line a number (a larger one is refused)
    db.add("order_lines", order_id=int(order_ids[2]), product_id=cup, quantity=2.0, unit_price=15.0, unit_cost=4.0)
    # The deals entered negotiation in the data's time (their stage history sets the end of the data).
    for _ in range(2):
        db.add("deals", customer_id=ids["E"], stage="negotiation", amount=HUGE, expected_close="2024-06-01",
               stage_changed_at="2024-04-01")
    db.add("deals", customer_id=ids["B"], stage="negotiation", amount=70.0, expected_close="2024-06-01",
           stage_changed_at="2024-04-01")
    orders["customer_id"] = orders["customer_id"].astype(np.int64)
    return db, ids, (s1, s2), (tea, cup), orders


def call(db, name, **kwargs):
    with pytest.warns(TotalOverflowWarning) as caught:
        out = getattr(db, name)(**kwargs)
    assert len(caught) == 1, [str(w.message) for w in caught]
    return out, str(caught[0].message)


def test_rfm_reports_the_overflowed_total_and_scores_the_rest_as_pandas(store):
    db, ids, _, _, orders = store
    out, message = call(db, "rfm")
    a = ids["A"]
    assert f"monetary of customer_id {a}" in message and message.startswith("rfm:")
    assert out.attrs["overflow"] == {"monetary": [a]}
    assert out.loc[a, "monetary"] == np.inf and out.loc[a, "m_score"] == 5  # beyond every finite total
    others = orders[orders["customer_id"] != a].groupby("customer_id")["amount"].sum()
    buyers = out[out["frequency"] > 0]
    assert buyers["monetary"].drop(a).to_dict() == others.to_dict()


def test_profit_leaves_the_overflowed_customer_out_of_shares_and_classes(store):
    db, ids, _, _, orders = store
    out, message = call(db, "profit")
    a = ids["A"]
    assert out.attrs["overflow"] == {"revenue": [a], "profit": [a]}
    assert out.loc[a, "revenue"] == np.inf and out.loc[a, "cost"] == 2.0
    assert np.isnan(out.loc[a, "share"]) and pd.isna(out.loc[a, "abc"]) and np.isnan(out.loc[a, "margin"])
    rest = orders[orders["customer_id"] != a].assign(profit=lambda d: d["amount"] - d["cost"])
    gain = rest.groupby("customer_id")["profit"].sum()
    np.testing.assert_allclose(out["share"].reindex(gain.index), gain / gain[gain > 0].sum(), rtol=1e-15)
    assert out["abc"].drop(a).notna().all()


def test_profit_by_period_and_tiers(store):
    db, ids, _, _, _ = store
    a = ids["A"]
    per, message = call(db, "profit_by_period")
    assert per.attrs["overflow"]["revenue"] == [(a, pd.Period("2024", "Y"))]
    tiers, message = call(db, "profit_tiers")
    assert message.startswith("profit_tiers:")
    assert tiers.attrs["overflow"] == {"profit": [a]}
    assert pd.isna(tiers.loc[a, "tier"]) and pd.isna(tiers.loc[a, "abc"])
    finite = tiers.drop(a)
    positive = finite["profit"].clip(lower=0)
    np.testing.assert_allclose(finite["contribution"], positive / positive.sum(), rtol=1e-15)


def test_staff_performance_margin_index_is_over_the_other_staff(store):
    db, _, (s1, s2), _, orders = store
    out, _ = call(db, "staff_performance")
    assert out.attrs["overflow"] == {"revenue": [s1], "profit": [s1]}
    mine = orders[orders["staff_id"] == s2]
    margin = (mine["amount"] - mine["cost"]).sum() / mine["amount"].sum()
    # The only other seller is the whole finite market: an index of exactly 1, not NaN for everyone.
    assert out.loc[s2, "margin"] == pytest.approx(margin, rel=1e-15)
    assert out.loc[s2, "margin_index"] == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("name", ["classify", "lifecycle"])
def test_rhythm_based_analyses_report_the_amount(store, name):
    db, ids, _, _, orders = store
    out, message = call(db, name)
    a = ids["A"]
    assert message.startswith(name + ":") and out.attrs["overflow"] == {"amount": [a]}
    others = orders[orders["customer_id"] != a].groupby("customer_id")["amount"].sum()
    assert out["amount"].reindex(others.index).to_dict() == others.to_dict()


def test_health_ranks_the_overflowed_spend_highest(store):
    db, ids, _, _, _ = store
    out, message = call(db, "health")
    assert message.startswith("health:") and out.attrs["overflow"] == {"monetary": [ids["A"]]}
    assert out.loc[ids["A"], "value"] == 1.0
    bought = out.index.isin(db.frame("orders")["customer_id"])
    assert out.loc[bought, "health"].between(0, 100).all() and out.loc[~bought, "health"].isna().all()


def test_deal_summary_and_hierarchy_rollup(store):
    db, ids, _, _, orders = store
    deals, _ = call(db, "deal_summary", as_of="2024-05-01")
    # Without a probability a deal weighs 0, so only the pipeline overflows.
    assert deals.attrs["overflow"] == {"pipeline": [ids["E"]]}
    assert deals.loc[ids["B"], "pipeline"] == 70.0
    tree, _ = call(db, "hierarchy_rollup")
    # The parent's total holds the subsidiary's: it overflows with it.
    assert tree.attrs["overflow"] == {"own": [ids["A"]], "total": [ids["A"], ids["D"]]}
    assert tree.loc[ids["C"], "total"] == 80.0


def test_product_profit_reports_the_product(store):
    db, _, _, (tea, cup), _ = store
    out, message = call(db, "product_profit")
    assert out.attrs["overflow"] == {"quantity": [tea], "revenue": [tea], "cost": [tea], "profit": [tea]}
    assert out.loc[cup, "profit"] == 22.0 and out.loc[cup, "share"] == 1.0 and out.loc[cup, "abc"] == "A"


def test_lifetime_value_fits_gamma_gamma_without_the_overflowed_spend():
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(300, seed=3))
    bad = db.add("customers", name="Typo")
    for day in ("2024-01-01", "2024-02-01", "2024-02-02", "2024-03-01"):
        db.add("orders", customer_id=bad, ordered_at=day, amount=HUGE)
    end = db.frame("orders", columns=["ordered_at"])["ordered_at"].max()
    out, message = call(db, "lifetime_value", as_of=end)
    assert out.attrs["overflow"] == {"monetary_value": [bad]}
    assert np.isnan(out.loc[bad, "clv"]) and np.isnan(out.loc[bad, "expected_spend"])
    repeat = (out["frequency"] > 0) & (out.index != bad)
    ggf = GammaGammaFitter().fit(out.loc[repeat, "frequency"], out.loc[repeat, "monetary_value"])
    np.testing.assert_allclose(out.attrs["ggf"].params_, ggf.params_, rtol=1e-12)
    assert np.isfinite(out.loc[repeat, "clv"]).all()


def test_finite_values_whose_total_overflows_keep_their_shares():
    # No single total overflows; their sum does. Shares are those of the values / 1e308.
    tx = pd.DataFrame({"customer_id": [1, 2, 3], "date": pd.to_datetime(["2024-01-01"] * 3),
                       "amount": [HUGE, HUGE, 1e307], "cost": [0.0, 0.0, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scoring.profit(tx)
    np.testing.assert_allclose(out["share"], [1 / 2.1, 1 / 2.1, 0.1 / 2.1], rtol=1e-15)
    assert out["abc"].tolist() == ["A", "A", "C"]
    staff = scoring.staff_performance(pd.DataFrame({"staff_id": [1, 2], "amount": [HUGE, HUGE],
                                                    "cost": [0.5 * HUGE, 0.25 * HUGE]}))
    # Overall margin (0.5 + 0.75) / 2 = 0.625.
    np.testing.assert_allclose(staff["margin_index"], [0.5 / 0.625, 0.75 / 0.625], rtol=1e-15)


def test_three_overflowing_orders_stay_inf_not_nan():
    tx = pd.DataFrame({"customer_id": [1, 1, 1, 2], "date": pd.to_datetime(["2024-01-01"] * 4),
                       "amount": [HUGE, HUGE, HUGE, 1.0], "cost": [HUGE, HUGE, HUGE, 0.0]})
    with pytest.warns(TotalOverflowWarning):
        r = scoring.rfm(tx)
    assert r.loc[1, "monetary"] == np.inf
    with pytest.warns(TotalOverflowWarning):
        p = scoring.profit(tx)
    # inf revenue - inf cost has no value: NaN, ranked last, no class.
    assert p.loc[1, "revenue"] == p.loc[1, "cost"] == np.inf and np.isnan(p.loc[1, "profit"])
    assert p.loc[2, "share"] == 1.0
    with pytest.warns(TotalOverflowWarning):
        rh = scoring.rhythm(tx)
    assert rh.loc[1, "amount"] == np.inf


# ---------------------------------------------------------------- parameters


TX = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3],
                   "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05", "2024-03-01", "2024-02-02"]),
                   "amount": [10.0, 20.0, 5.0, 7.0, 9.0], "cost": [1.0] * 5, "staff_id": [1, 1, 2, 2, 2]})
LINES = pd.DataFrame({"order_id": [1, 1, 2, 2, 3], "product_id": [10, 20, 10, 20, 10]})
DEALS = pd.DataFrame({"customer_id": [1, 2], "amount": [100.0, 50.0], "stage": ["negotiating", "won"],
                      "expected_close": pd.to_datetime(["2024-01-10", "2024-02-01"])})
SURVEYS = pd.DataFrame({"customer_id": [1], "nps": [9]})


@pytest.fixture(scope="module")
def fitted():
    return {"bg": BetaGeoFitter().fit(*_demo_rfm()), "pareto": ParetoNBDFitter().fit(*_demo_rfm()),
            "gg": GammaGammaFitter().fit(*_demo_spend()), "bb": BetaGeoBetaBinomFitter().fit(*_DEMO_BGBB)}


BAD_SCORING = [
    ("rfm bins negative", lambda: scoring.rfm(TX, bins=-1), "bins"),
    ("rfm bins beyond a C int", lambda: scoring.rfm(TX, bins=2**40), "bins"),
    ("rfm bins fractional", lambda: scoring.rfm(TX, bins=2.5), "bins"),
    ("rfm bins text", lambda: scoring.rfm(TX, bins="5"), "bins"),
    ("rfm bins float", lambda: scoring.rfm(TX, bins=5.0), "bins"),
    ("rfm bins bool", lambda: scoring.rfm(TX, bins=True), "bins"),
    ("rfm ties", lambda: scoring.rfm(TX, ties="dense"), "ties"),
    ("rfm as_of text", lambda: scoring.rfm(TX, as_of="not a date"), "as_of"),
    ("rfm as_of NaT", lambda: scoring.rfm(TX, as_of=pd.NaT), "as_of"),
    ("segment bins", lambda: scoring.segment([1], [1], bins=0), "bins"),
    ("profit abc not a list", lambda: scoring.profit(TX, abc=0.8), "abc"),
    ("profit abc above 1", lambda: scoring.profit(TX, abc=(0.8, 1.5)), "abc"),
    ("profit abc decreasing", lambda: scoring.profit(TX, abc=(0.9, 0.8)), "abc"),
    ("profit_by_period freq", lambda: scoring.profit_by_period(TX, freq="W"), "freq"),
    ("profit_tiers vip_top", lambda: scoring.profit_tiers(TX, vip_top=-1), "vip_top"),
    ("profit_tiers super above vip", lambda: scoring.profit_tiers(TX, vip_top=0.1, super_top=0.5), "super_top"),
    ("profit_tiers period", lambda: scoring.profit_tiers(TX, period="xx"), "period"),
    ("product_profit abc", lambda: scoring.product_profit(LINES.assign(quantity=1.0, unit_price=1.0), abc=(0,)),
     "abc"),
    ("classify purchases", lambda: scoring.classify(TX, regular_min_purchases=-1), "regular_min_purchases"),
    ("classify cv", lambda: scoring.classify(TX, regular_max_cv=-0.5), "regular_max_cv"),
    ("classify active_days", lambda: scoring.classify(TX, active_days=-5), "active_days"),
    ("lifecycle churn_days", lambda: scoring.lifecycle(TX, churn_days=-1), "churn_days"),
    ("lifecycle factor", lambda: scoring.lifecycle(TX, at_risk_factor=0), "at_risk_factor"),
    ("lifecycle loyal_purchases", lambda: scoring.lifecycle(TX, loyal_purchases=1.5), "loyal_purchases"),
    ("deal_quadrants urgent_days", lambda: scoring.deal_quadrants(DEALS, urgent_days=-1), "urgent_days"),
    ("deal_quadrants amount", lambda: scoring.deal_quadrants(DEALS, important_amount=np.nan), "important_amount"),
    ("satisfaction promoter", lambda: scoring.satisfaction(surveys=SURVEYS, promoter_min=20), "promoter_min"),
    ("satisfaction overlap", lambda: scoring.satisfaction(surveys=SURVEYS, promoter_min=6, detractor_max=6),
     "promoter_min"),
    ("loyalty tenure", lambda: scoring.loyalty(TX, tenure_full_days=0), "tenure_full_days"),
    ("loyalty weight name", lambda: scoring.loyalty(TX, weights={"tenure": 1}), "weights"),
    ("churn prior_weight", lambda: scoring.churn_risk(TX, prior_weight=-1), "prior_weight"),
    ("churn alive_weight", lambda: scoring.churn_risk(TX, alive_weight=2), "alive_weight"),
    ("health weight", lambda: scoring.health(TX, weights={"value": -1}), "weights"),
    ("affinity support 0", lambda: scoring.product_affinity(LINES, min_support=0), "min_support"),
    ("affinity support 2", lambda: scoring.product_affinity(LINES, min_support=2), "min_support"),
    ("affinity max_len negative", lambda: scoring.product_affinity(LINES, max_len=-1), "max_len"),
    ("affinity max_len beyond a C int", lambda: scoring.product_affinity(LINES, max_len=2**40), "max_len"),
    ("affinity confidence", lambda: scoring.product_affinity(LINES, min_confidence=1.5), "min_confidence"),
    ("itemsets max_len", lambda: scoring.frequent_itemsets(LINES, max_len=0), "max_len"),
]

BAD_CLV = [
    ("BG penalizer", lambda f: BetaGeoFitter(penalizer_coef=-1).fit(*_demo_rfm()), "penalizer_coef"),
    ("BG tol", lambda f: BetaGeoFitter().fit(*_demo_rfm(), tol=-1), "tol"),
    ("BG all T zero", lambda f: BetaGeoFitter().fit([0, 0], [0.0, 0.0], [0.0, 0.0]), "T'"),
    ("BG negative horizon", lambda f: f["bg"].conditional_expected_number_of_purchases_up_to_time(-5, 1, 2.0, 5.0),
     "'t'"),
    ("BG nan horizon", lambda f: f["bg"].expected_number_of_purchases_up_to_time(np.nan), "'t'"),
    ("MBG negative t", lambda f: ModifiedBetaGeoFitter().fit(*_demo_rfm()).expected_number_of_purchases_up_to_time(
        [1.0, -1.0]), "'t'"),
    ("BG P(n) n", lambda f: f["bg"].probability_of_n_purchases_up_to_time(5, -1), "'n'"),
    ("BG P(n) t", lambda f: f["bg"].probability_of_n_purchases_up_to_time(-1, 1), "'t'"),
    ("BG alive matrix", lambda f: f["bg"].conditional_probability_alive_matrix(-3, 5), "max_frequency"),
    ("BG simulate", lambda f: f["bg"].generate_new_data(size=-1), "size"),
    ("Pareto maxiter", lambda f: ParetoNBDFitter().fit(*_demo_rfm(), maxiter=-1), "maxiter"),
    ("Pareto maxiter beyond a C int", lambda f: ParetoNBDFitter().fit(*_demo_rfm(), maxiter=2**40), "maxiter"),
    ("Pareto iterative_fitting", lambda f: ParetoNBDFitter().fit(*_demo_rfm(), iterative_fitting=-1),
     "iterative_fitting"),
    ("Pareto horizon", lambda f: f["pareto"].expected_number_of_purchases_up_to_time(-1.0), "'t'"),
    ("Pareto P(n)", lambda f: f["pareto"].conditional_probability_of_n_purchases_up_to_time(1.5, 5.0, 1, 2.0, 7.0),
     "'n'"),
    ("GG time", lambda f: f["gg"].customer_lifetime_value(f["bg"], [1], [2.0], [5.0], [10.0], time=-1), "time"),
    ("GG time fractional", lambda f: f["gg"].customer_lifetime_value(f["bg"], [1], [2.0], [5.0], [10.0], time=2.5),
     "time"),
    ("GG discount", lambda f: f["gg"].customer_lifetime_value(f["bg"], [1], [2.0], [5.0], [10.0],
                                                              discount_rate=-0.5), "discount_rate"),
    ("GG freq", lambda f: f["gg"].customer_lifetime_value(f["bg"], [1], [2.0], [5.0], [10.0], freq="Y"), "freq"),
    ("BB n", lambda f: f["bb"].expected_number_of_transactions_in_first_n_periods(-1), "'n'"),
    ("BB n beyond a C int", lambda f: f["bb"].expected_number_of_transactions_in_first_n_periods(2**40), "'n'"),
    ("BB m negative", lambda f: f["bb"].conditional_expected_number_of_purchases_up_to_time(-1, 2, 3, 6),
     "m_periods_in_future"),
    ("BB m fractional", lambda f: f["bb"].conditional_probability_alive(2.5, 2, 3, 6), "m_periods_in_future"),
    ("summary freq", lambda f: summary_data_from_transaction_data(TX, "customer_id", "date", freq="bogus"), "freq"),
    ("summary multiplier", lambda f: summary_data_from_transaction_data(TX, "customer_id", "date",
                                                                        freq_multiplier=0), "freq_multiplier"),
    ("holdout multiplier", lambda f: calibration_and_holdout_data(TX, "customer_id", "date", "2024-01-20",
                                                                  freq_multiplier=-1), "freq_multiplier"),
    ("tracking multiplier", lambda f: expected_cumulative_transactions(f["bg"], TX, "date", "customer_id", 10,
                                                                       freq_multiplier=1.5), "freq_multiplier"),
    ("tracking t", lambda f: expected_cumulative_transactions(f["bg"], TX, "date", "customer_id", -3), "'t'"),
]

BAD_STORE = [
    ("lifetime_value horizon 0", {"horizon": 0}, "horizon"),
    ("lifetime_value horizon negative", {"horizon": -1}, "horizon"),
    ("lifetime_value months", {"months": -1}, "months"),
    ("lifetime_value discount", {"discount_rate": -0.5}, "discount_rate"),
    ("lifetime_value penalizer", {"penalizer_coef": -1}, "penalizer_coef"),
    ("lifetime_value freq", {"freq": "Y"}, "freq"),
]


@pytest.mark.parametrize("case,fn,field", BAD_SCORING, ids=[c[0] for c in BAD_SCORING])
def test_scoring_refuses_nonsense_parameters(case, fn, field):
    with pytest.raises(crm.ValidationError, match=field):
        fn()


@pytest.mark.parametrize("case,fn,field", BAD_CLV, ids=[c[0] for c in BAD_CLV])
def test_clv_refuses_nonsense_parameters(fitted, case, fn, field):
    # ValidationError is a ValueError, which is what lifetimes raises: notebooks catching it still work.
    with pytest.raises(crm.ValidationError, match=field):
        fn(fitted)


@pytest.mark.parametrize("case,kwargs,field", BAD_STORE, ids=[c[0] for c in BAD_STORE])
def test_store_analyses_refuse_nonsense_parameters(case, kwargs, field):
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(100, seed=2))
    with pytest.raises(crm.ValidationError, match=f"lifetime_value, field '{field}'"):
        db.lifetime_value(**kwargs)


def test_numpy_scalars_and_whole_period_counts_are_accepted(fitted):
    assert scoring.rfm(TX, bins=np.int64(3))["r_score"].max() == 3
    assert scoring.profit_tiers(TX, vip_top=np.float32(0.5))["tier"].notna().all()
    bb = fitted["bb"]
    assert bb.conditional_expected_number_of_purchases_up_to_time(5.0, 2, 3, 6) > 0
    assert len(fitted["bg"].conditional_probability_alive_matrix(0, 3)) == 4  # 0 is 0, not "the default"


def test_args_docstring_examples():
    assert doctest.testmod(crmcore._args).failed == 0
