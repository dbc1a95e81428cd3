"""db.lifetime_value() against lifetimes run by hand on the same stored orders."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

lifetimes = pytest.importorskip("lifetimes")


def test_lifetime_value_matches_lifetimes_on_the_stored_orders():
    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(1500, seed=3))
    orders = db.frame("orders")
    orders = orders[~orders["status"].isin(["cancelled", "returned"])]  # the synthetic statuses that are not sales
    orders = orders[["customer_id", "ordered_at", "amount"]].reset_index(drop=True)
    # The end of the data by hand: midnight after the latest order of any status.
    end = db.frame("orders")["ordered_at"].max().normalize() + pd.Timedelta(days=1)
    assert db.default_as_of() == end
    summary = lifetimes.utils.summary_data_from_transaction_data(
        orders, "customer_id", "ordered_at", "amount", freq="W", observation_period_end=end)
    f, r, T, m = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value"))
    bgf = lifetimes.BetaGeoFitter().fit(f, r, T)
    repeat = f > 0
    ggf = lifetimes.GammaGammaFitter().fit(f[repeat], m[repeat])

    everyone = db.lifetime_value(freq="W", horizon=26, months=6)
    assert everyone.index.equals(db.frame("customers", columns=[]).index)
    assert everyone.drop(index=summary.index).drop(columns="name").isna().all().all()  # no purchase: not modelled
    lv = everyone.loc[summary.index]
    np.testing.assert_allclose(lv[["frequency", "recency", "T"]].to_numpy(float), np.c_[f, r, T])
    np.testing.assert_allclose(lv["p_alive"], bgf.conditional_probability_alive(f, r, T), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lv["expected_purchases"],
                               bgf.conditional_expected_number_of_purchases_up_to_time(26, f, r, T), rtol=1e-4)
    rep = summary[repeat]  # lifetimes wants Series here
    clv = ggf.customer_lifetime_value(bgf, rep["frequency"], rep["recency"], rep["T"], rep["monetary_value"],
                                      time=6, freq="W")
    np.testing.assert_allclose(lv["clv"].to_numpy()[repeat], np.asarray(clv), rtol=1e-3)
    assert lv["clv"][~repeat].isna().all()
    assert lv.attrs["as_of"] == end and lv.index.name == "customer_id"
