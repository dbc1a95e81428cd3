"""Performance by dimension and cohort retention, against plain pandas."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm


@pytest.fixture(scope="module")
def db():
    d = crm.open(":memory:")
    crm.datasets.load(d, crm.datasets.synthetic(400, seed=5))
    return d


def bought(db):
    orders = db.frame("orders")
    return orders[~orders["status"].isin(["cancelled", "returned"])]


def reference_retention(orders, freq):
    period = orders["ordered_at"].dt.to_period(freq)
    first = period.groupby(orders["customer_id"]).transform("min")
    age = (period - first).map(lambda offset: offset.n)
    active = pd.DataFrame({"customer_id": orders["customer_id"], "cohort": first, "age": age}).drop_duplicates()
    counts = active.groupby(["cohort", "age"]).size().unstack(fill_value=0)
    return counts.div(counts[0], axis=0)


@pytest.mark.parametrize("freq", ["M", "Q"])
def test_cohort_retention_matches_pandas(db, freq):
    got = db.cohorts(freq)
    want = reference_retention(bought(db), freq)
    last = db.default_as_of() - pd.Timedelta(1, "ns")
    for cohort, row in want.iterrows():
        reached = (last.to_period(freq) - cohort).n
        mine = got.loc[cohort]
        np.testing.assert_allclose(mine.loc[:reached].to_numpy(float),
                                   row.reindex(range(reached + 1), fill_value=0).to_numpy(float), rtol=1e-12)
        assert mine.loc[reached + 1:].isna().all()
    assert got.attrs["sizes"].sum() == bought(db)["customer_id"].nunique()


def test_performance_by_channel_and_period_matches_pandas(db):
    orders = bought(db)
    got = db.performance("channel", freq="Q")
    orders = orders.assign(period=orders["ordered_at"].dt.to_period("Q"),
                           channel=orders["channel"].fillna("(none)"))
    want = orders.groupby(["channel", "period"]).agg(orders=("amount", "size"), revenue=("amount", "sum"),
                                                    customers=("customer_id", "nunique"))
    sold = got[got["orders"] > 0]
    assert sold.index.equals(want.index)
    np.testing.assert_allclose(sold["revenue"], want["revenue"], rtol=1e-12)
    assert sold["customers"].tolist() == want["customers"].tolist()
    share = want["revenue"] / want.groupby(level="period")["revenue"].transform("sum")
    np.testing.assert_allclose(sold["share"], share, rtol=1e-12)
    # A quarter without sales in a channel is a row of zeros, and the change is from the quarter before.
    per_channel = got.loc["app"]["revenue"]
    np.testing.assert_allclose(got.loc["app"]["change"].iloc[1:], per_channel.diff().iloc[1:])


def test_performance_profit_counts_costs_from_lines(db):
    total = db.profit()["profit"].sum()
    got = db.performance(["category", "location"])
    np.testing.assert_allclose(got["profit"].sum(), total, rtol=1e-9)
    np.testing.assert_allclose(got["share"].sum(), 1.0, rtol=1e-12)
