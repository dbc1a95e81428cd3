"""A monthly bookings forecast with seasonality, for ``db.sales.bookings_forecast``.

The model is additive Holt-Winters exponential smoothing (level, trend and a
seasonal pattern, each updated by a smoothing weight), written out here in
a few lines of NumPy rather than taken from a package, so that what it does
can be read: the weights are the grid point with the least one-step-ahead
squared error, every grid point run at once as a column of arrays. The
backtest holds out the last months, fits on the rest, and compares the
forecast with the seasonal-naive one (each month as the same month a season
before), the baseline a seasonal model has to beat. The tests compare the
forecasts with statsmodels' ``ExponentialSmoothing`` on the same series.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._args import _count
from ._base import SalesPart

# The weights tried: level, trend, season. Zero trend weight keeps the
# initial slope; a season weight above one half chases noise in monthly data.
ALPHAS = np.linspace(0.05, 0.95, 19)
BETAS = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.3])
GAMMAS = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5])


def _smooth(y: np.ndarray, season: int, alpha: np.ndarray, beta: np.ndarray,
            gamma: np.ndarray) -> "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]":
    """Runs the recursions for each weight triple (arrays of one length G)
    over ``y``: the one-step errors (len(y) x G) and the final level, trend
    and last season's components (season x G)."""
    m, g = season, len(alpha)
    level = np.full(g, y[:m].mean())
    trend = np.full(g, (y[m:2 * m].mean() - y[:m].mean()) / m)
    seasonal = np.repeat((y[:m] - y[:m].mean())[:, None], g, axis=1)
    errors = np.empty((len(y), g))
    for t, value in enumerate(y):
        s = seasonal[t % m].copy()  # a row of the array, about to be overwritten
        errors[t] = value - (level + trend + s)
        # the season learns from what the level and trend before it left
        # unexplained (the error-correction form statsmodels uses too)
        seasonal[t % m] = gamma * (value - level - trend) + (1 - gamma) * s
        new_level = alpha * (value - s) + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    # rows in the order of the months that follow y
    seasonal = np.roll(seasonal, -(len(y) % m), axis=0)
    return errors, level, trend, seasonal


def holt_winters(series: "pd.Series | np.ndarray", horizon: int = 12, season: int = 12) -> pd.DataFrame:
    """Forecasts ``horizon`` steps of ``series`` (equally spaced values,
    oldest first, at least two seasons) with additive Holt-Winters, the
    weights chosen on the one-step errors. Returns ``forecast``, ``lower``
    and ``upper`` (a rough 95% band: 1.96 one-step error deviations times
    the square root of the step) per step; ``attrs["params"]`` has alpha,
    beta, gamma and the one-step ``rmse``. A series indexed by monthly
    periods gets the following months as its index.

    >>> y = pd.Series([10, 20, 30, 20] * 4, dtype=float)
    >>> holt_winters(y, horizon=4, season=4)["forecast"].round(3).tolist()
    [10.0, 20.0, 30.0, 20.0]
    """
    y = np.asarray(series, dtype=float)
    if len(y) < 2 * season or not np.isfinite(y).all():
        raise _core.ValidationError(f"a seasonal forecast needs at least {2 * season} finite values (two seasons), "
                                    f"got {len(y)}")
    a, b, c = (grid.ravel() for grid in np.meshgrid(ALPHAS, BETAS, GAMMAS, indexing="ij"))
    errors, level, trend, seasonal = _smooth(y, season, a, b, c)
    sse = (errors[season:] ** 2).sum(axis=0)  # the first season fits itself by construction
    best = int(np.argmin(sse))
    steps = np.arange(1, horizon + 1)
    forecast = level[best] + steps * trend[best] + seasonal[(steps - 1) % season, best]
    rmse = float(np.sqrt(sse[best] / max(1, len(y) - season)))
    band = 1.96 * rmse * np.sqrt(steps)
    index: Any = steps
    if isinstance(series, pd.Series) and isinstance(series.index, pd.PeriodIndex) and len(series):
        index = pd.period_range(series.index[-1] + 1, periods=horizon, freq=series.index.freq)
    out = pd.DataFrame({"forecast": forecast, "lower": forecast - band, "upper": forecast + band}, index=index)
    out.attrs["params"] = {"alpha": float(a[best]), "beta": float(b[best]), "gamma": float(c[best]), "rmse": rmse}
    return out


def seasonal_naive(series: "pd.Series | np.ndarray", horizon: int = 12, season: int = 12) -> np.ndarray:
    """Each of the next ``horizon`` values as the value one season before.

    >>> seasonal_naive(np.array([1.0, 2, 3, 4, 5, 6]), horizon=4, season=3).tolist()
    [4.0, 5.0, 6.0, 4.0]
    """
    y = np.asarray(series, dtype=float)
    return y[len(y) - season + np.arange(horizon) % season]


def seasonal_backtest(series: "pd.Series | np.ndarray", holdout: int = 12, season: int = 12) -> pd.DataFrame:
    """Holds out the last ``holdout`` values, forecasts them from the rest
    with :func:`holt_winters` and :func:`seasonal_naive`, and reports each
    one's ``mae``, ``rmse`` and ``mape`` (mean of |error| / actual over the
    values above zero) against what happened; ``attrs["forecasts"]`` has
    the held-out values and both forecasts.

    >>> y = pd.Series(np.tile([10.0, 20, 30, 20], 5) + np.arange(20))
    >>> seasonal_backtest(y, holdout=4, season=4)["mae"].round(2).to_dict()
    {'holt_winters': 0.25, 'seasonal_naive': 4.0}
    """
    y = np.asarray(series, dtype=float)
    train, actual = y[:-holdout], y[-holdout:]
    guesses = {"holt_winters": holt_winters(train, holdout, season)["forecast"].to_numpy(),
               "seasonal_naive": seasonal_naive(train, holdout, season)}
    rows = {}
    for name, guess in guesses.items():
        err = actual - guess
        positive = actual > 0
        rows[name] = {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err ** 2).mean())),
                      "mape": float(np.abs(err[positive] / actual[positive]).mean()) if positive.any() else np.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    index = series.index[-holdout:] if isinstance(series, pd.Series) else np.arange(len(y) - holdout, len(y))
    out.attrs["forecasts"] = pd.DataFrame({"actual": actual, **guesses}, index=index)
    return out


def monthly_bookings(won: pd.DataFrame, as_of: int) -> pd.Series:
    """The amount won per calendar month (``won``: closed_at, amount), from
    the first month with a win through the last month complete at
    ``as_of`` (nanoseconds); months without a win are 0.

    >>> w = pd.DataFrame({"closed_at": pd.to_datetime(["2024-01-05", "2024-03-02", "2024-04-09"]),
    ...                   "amount": [5.0, 7.0, 1.0]})
    >>> monthly_bookings(w, pd.Timestamp("2024-04-15").value).tolist()
    [5.0, 0.0, 7.0]
    """
    last = pd.Timestamp(as_of).to_period("M") - 1
    w = won[won["closed_at"].notna()]
    month = w["closed_at"].dt.to_period("M")
    keep = month <= last
    sums = w.loc[keep, "amount"].astype(float).fillna(0.0).groupby(month[keep]).sum()
    if sums.empty:
        return pd.Series(dtype=float, index=pd.PeriodIndex([], freq="M"), name="bookings")
    months = pd.period_range(sums.index.min(), last, freq="M")
    return sums.reindex(months, fill_value=0.0).rename("bookings").rename_axis("month")


class SeasonalMethods(SalesPart):
    """The bookings forecast's part of ``db.sales`` (mixed into :class:`crmcore.sales.SalesMethods`)."""

    def bookings_forecast(self, horizon: int = 12, holdout: int = 12, season: int = 12,
                          as_of: Any = None) -> pd.DataFrame:
        """Bookings (amount of deals won, by month closed) forecast for the
        ``horizon`` months after the last complete month before ``as_of``
        (default the end of the data), from the monthly history with its
        seasonality (:func:`holt_winters`): columns ``forecast``, ``lower``
        and ``upper``, one row per month. ``attrs["history"]`` is the monthly series,
        ``attrs["params"]`` the fitted weights, and ``attrs["backtest"]``
        the last ``holdout`` months forecast from the months before them
        against the seasonal-naive baseline (mae, rmse, mape per model;
        None when the history is too short for it). Needs two seasons of
        history (24 months), two plus the holdout for the backtest.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> for month in range(36):
        ...     d = db.add("deals", customer_id=c, stage="lead", amount=100.0 + 50 * (month % 12 == 11))
        ...     db.sales.move(d, "won", at=pd.Timestamp("2021-01-15") + pd.DateOffset(months=month))
        >>> f = db.sales.bookings_forecast(horizon=12, as_of="2024-01-01")
        >>> f["forecast"].round(1).tolist()[-2:], round(float(f.attrs["backtest"].loc["holt_winters", "mae"]), 1)
        ([100.0, 150.0], 0.0)
        """
        horizon = _count(horizon, "bookings_forecast", "horizon", low=1, high=1200)  # months: a century
        holdout = _count(holdout, "bookings_forecast", "holdout", low=0, high=1200)
        season = _count(season, "bookings_forecast", "season", low=1, high=1200)
        cut = self._as_of(as_of, where="bookings_forecast")
        deals = self._deals(None)
        history = monthly_bookings(deals.loc[deals.category == "won", ["closed_at", "amount"]], cut)
        out = holt_winters(history, horizon, season)
        enough = len(history) >= 2 * season + holdout
        out.attrs["history"] = history
        out.attrs["backtest"] = seasonal_backtest(history, holdout, season) if enough else None
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out
