"""The seasonal bookings forecast (issue 11, part 2): Holt-Winters checked
step by step against statsmodels' ExponentialSmoothing with the same
weights, a backtest against the seasonal-naive baseline and statsmodels'
own fit, and the monthly bookings read from the store against pandas."""

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore.sales.seasonal import _smooth, holt_winters, monthly_bookings, seasonal_backtest, seasonal_naive


def _series(n=60, seed=0, noise=40.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 1000 + 5 * t + 200 * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def test_the_recursions_match_statsmodels_with_the_same_weights():
    """Same start, same weights: the one-step errors agree to rounding, and so do the forecasts one to eleven
    months ahead. Twelve ahead statsmodels reuses the seasonal from before the last update (its forecast
    fills step m from s[nobs - 1]); ours takes the latest, as the textbook formula does."""
    holtwinters = pytest.importorskip("statsmodels.tsa.holtwinters")
    y, m = _series(), 12
    errors, level, trend, season = _smooth(y, m, np.array([0.3]), np.array([0.1]), np.array([0.2]))
    model = holtwinters.ExponentialSmoothing(
        y, trend="add", seasonal="add", seasonal_periods=m, initialization_method="known",
        initial_level=y[:m].mean(), initial_trend=(y[m:2 * m].mean() - y[:m].mean()) / m,
        initial_seasonal=y[:m] - y[:m].mean())
    fit = model.fit(smoothing_level=0.3, smoothing_trend=0.1, smoothing_seasonal=0.2, optimized=False)
    np.testing.assert_allclose(errors[:, 0], fit.resid, atol=1e-9)
    steps = np.arange(1, m + 1)
    ours = level[0] + steps * trend[0] + season[(steps - 1) % m, 0]
    np.testing.assert_allclose(ours[:-1], fit.forecast(m)[:-1], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_backtest_beats_seasonal_naive_and_is_near_statsmodels_fit(seed):
    holtwinters = pytest.importorskip("statsmodels.tsa.holtwinters")
    y = _series(seed=seed)
    bt = seasonal_backtest(y, holdout=12, season=12)
    assert bt.loc["holt_winters", "mae"] < 0.8 * bt.loc["seasonal_naive", "mae"]
    theirs = holtwinters.ExponentialSmoothing(y[:-12], trend="add", seasonal="add", seasonal_periods=12).fit()
    their_mae = np.abs(theirs.forecast(12) - y[-12:]).mean()
    print(f"seed {seed}: MAE ours {bt.loc['holt_winters', 'mae']:.1f}, statsmodels {their_mae:.1f}, "
          f"seasonal naive {bt.loc['seasonal_naive', 'mae']:.1f}")
    assert bt.loc["holt_winters", "mae"] < 1.2 * their_mae
    f = bt.attrs["forecasts"]
    assert f["actual"].tolist() == y[-12:].tolist() and f["seasonal_naive"].tolist() == y[-24:-12].tolist()


def test_by_hand():
    assert seasonal_naive(np.arange(1.0, 8.0), horizon=5, season=3).tolist() == [5.0, 6.0, 7.0, 5.0, 6.0]
    flat = holt_winters(np.tile([3.0, 1.0, 2.0], 4), horizon=4, season=3)
    assert flat["forecast"].round(9).tolist() == [3.0, 1.0, 2.0, 3.0]
    assert flat.attrs["params"]["rmse"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(crm.ValidationError, match="at least 24 finite values"):
        holt_winters(np.ones(23))
    won = pd.DataFrame({"closed_at": pd.to_datetime(["2023-11-30 23:00", "2024-01-31 00:00", "2024-02-10 00:00", None]),
                        "amount": [1.0, 2.0, 4.0, 8.0]})
    got = monthly_bookings(won, pd.Timestamp("2024-02-29").value)             # February is not complete
    assert got.index.astype(str).tolist() == ["2023-11", "2023-12", "2024-01"] and got.tolist() == [1.0, 0.0, 2.0]


def test_the_bookings_forecast_from_the_store():
    """Four years of won deals with a December peak, a lost deal and an open one: the history is the won
    amount per month (pandas), the forecast is holt_winters of it, and December comes out on top."""
    rng = np.random.default_rng(4)
    db = crm.open(":memory:")
    c = db.add("customers", name="Acme")
    n = 400
    months = pd.period_range("2020-01", "2023-12", freq="M")
    when = [months[i].start_time + pd.Timedelta(days=int(rng.integers(0, 28))) for i in rng.integers(0, 48, n)]
    amount = np.round(rng.gamma(2.0, 50.0, n) * np.array([1.8 if w.month == 12 else 1.0 for w in when]), 2)
    ids = db.import_frame("deals", pd.DataFrame({"customer_id": c, "stage": "lead", "amount": amount}))
    for d, at, outcome in zip(ids, when, rng.choice(["won", "won", "lost"], n)):
        db.sales.move(int(d), outcome, at=at)
    db.add("deals", customer_id=c, stage="lead", amount=1e6)
    f = db.sales.bookings_forecast(horizon=12, as_of="2024-01-10")
    deals = db.frame("deals")
    won = deals[deals.stage == "won"]
    want = won.amount.groupby(won.closed_at.dt.to_period("M")).sum().reindex(months, fill_value=0.0)
    np.testing.assert_allclose(f.attrs["history"].to_numpy(), want.to_numpy())
    pd.testing.assert_frame_equal(f, holt_winters(want, 12, 12))
    assert f.index[0] == pd.Period("2024-01", "M") and f["forecast"].idxmax() == pd.Period("2024-12", "M")
    assert (f["lower"] < f["forecast"]).all() and (f["forecast"] < f["upper"]).all()
    bt = f.attrs["backtest"]
    print(bt)
    assert list(bt.index) == ["holt_winters", "seasonal_naive"] and bt["mae"].notna().all()
    assert db.sales.bookings_forecast(as_of="2022-06-01").attrs["backtest"] is None      # 29 months: no backtest
