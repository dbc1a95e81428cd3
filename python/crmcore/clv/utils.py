"""Transaction-log summaries for the lifetime-value models, with lifetimes' API.

The per-customer work (distinct periods, first and last period, spend per
period) runs in C++ over columns (``crmcore._core.clv.summarize_periods``):
customer ids are factorized once, dates floored to their period start by
integer arithmetic for fixed-length periods (D, W, h, min, s) and by pandas'
vectorized ``to_period`` otherwise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._args import _integer, _invalid, _number
from .._core import clv as _k
from ..scoring._columns import as_of_ns
from .fitters import ConvergenceError

__all__ = ["summary_data_from_transaction_data", "calibration_and_holdout_data", "expected_cumulative_transactions",
           "summary_from_store", "ConvergenceError"]

_NAT = np.iinfo(np.int64).min
_DAY = 86_400 * 10**9
# Fixed-length periods: (length in ns, a period start in ns since the epoch).
# Weekly periods are pandas' default W-SUN, which start on Mondays (1970-01-05).
_FIXED_PERIODS = {
    "D": (_DAY, 0),
    "W": (7 * _DAY, 4 * _DAY),
    "W-SUN": (7 * _DAY, 4 * _DAY),
    "h": (3600 * 10**9, 0),
    "H": (3600 * 10**9, 0),
    "min": (60 * 10**9, 0),
    "T": (60 * 10**9, 0),
    "s": (10**9, 0),
    "S": (10**9, 0),
}


def _to_ns(values, datetime_format=None):
    """Datetimes as int64 ns since the epoch (NaT = int64 min); tz-aware values
    keep their wall-clock time, as pandas' to_period does."""
    dt = pd.to_datetime(values, format=datetime_format)
    if isinstance(dt, pd.Timestamp):
        dt = pd.DatetimeIndex([dt])
    dt = pd.DatetimeIndex(dt)
    if dt.tz is not None:
        dt = dt.tz_localize(None)
    return dt.as_unit("ns").asi8.copy()


def _end_ns(value, where, field, datetime_format=None):
    """An end of observation or calibration as int64 ns, through the one
    date parser (:func:`~crmcore.scoring._columns.as_of_ns`): garbage, NaT,
    a bare number or a date outside the store's years is refused naming
    ``where`` and ``field``. Text is read in ``datetime_format`` when given,
    as the transactions' dates; a zoned time keeps its wall-clock time, as
    theirs do (``_to_ns``)."""
    if isinstance(value, str) and datetime_format is not None:
        try:
            value = pd.to_datetime(value, format=datetime_format)
        except (ValueError, TypeError) as e:
            raise _invalid(where, field, f"{value!r} is not a date in datetime_format {datetime_format!r}: {e}") from None
    elif isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            pass  # as_of_ns says why, naming the argument
    if getattr(value, "tzinfo", None) is not None and value is not pd.NaT:
        value = pd.Timestamp(value).tz_localize(None)
    ns = as_of_ns(value, field, where)
    if ns is None:
        raise _invalid(where, field, "is missing: give a date")
    return ns


def _period_start(ns, freq):
    """Start (ns) of the period of each timestamp, NaT kept."""
    if freq in _FIXED_PERIODS:
        length, offset = _FIXED_PERIODS[freq]
        return _k.floor_to_period(ns, length, offset)
    idx = pd.DatetimeIndex(ns.view("datetime64[ns]")).to_period(freq).to_timestamp()
    return idx.as_unit("ns").asi8.copy()


_MONTH_NS = 2_629_746 * 10**9  # numpy's average month (30.436875 days)


def _unit_ns(freq):
    """Length of one time unit, as lifetimes divides by np.timedelta64(1, freq):
    calendar units (M, Y) count average months and years; anchored weeks
    (W-MON, ...) count 7 days and quarters 3 average months."""
    base = freq.split("-")[0]
    special = {"W": 7 * _DAY, "Q": 3 * _MONTH_NS, "QE": 3 * _MONTH_NS, "QS": 3 * _MONTH_NS,
               "ME": _MONTH_NS, "MS": _MONTH_NS, "YE": 12 * _MONTH_NS, "YS": 12 * _MONTH_NS}
    if base in special:
        return float(special[base])
    unit = {"H": "h", "T": "m", "min": "m", "S": "s"}.get(freq, freq)
    return float(np.timedelta64(1, unit).astype("timedelta64[ns]").astype(np.int64))


class _Log:
    """A transaction log parsed once: customer codes, timestamps, spend."""

    def __init__(self, transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format):
        col = transactions[customer_id_col]
        # Nullable integer ids without missing values (the store's ref columns) count as integers.
        if pd.api.types.is_integer_dtype(col.dtype) and not col.hasnans:
            ids = col.to_numpy(dtype=np.int64)
        else:
            ids = col.to_numpy()
        lo = hi = 0
        if ids.dtype.kind in "iu" and len(ids):
            lo, hi = int(ids.min()), int(ids.max())
        if ids.dtype.kind in "iu" and len(ids) and hi - lo <= 2 * len(ids) + 1024:
            # Integer ids in a dense range (the usual CRM ids) are their own codes:
            # no hashing, and customers come out sorted.
            self.codes = (ids - lo).astype(np.int64, copy=False)
            self.uniques = pd.Index(np.arange(lo, hi + 1, dtype=ids.dtype), name=customer_id_col)
        else:
            codes, uniques = pd.factorize(transactions[customer_id_col], sort=True)
            self.codes = np.asarray(codes, dtype=np.int64)
            self.uniques = pd.Index(uniques, name=customer_id_col)
        self.ns = _to_ns(transactions[datetime_col], datetime_format)
        # Rows without a customer id fall out, as in a pandas group-by.
        missing = self.codes < 0
        if missing.any():
            self.ns[missing] = _NAT
            self.codes[missing] = 0
        self.spend = None
        if monetary_value_col:
            self.spend = np.asarray(transactions[monetary_value_col], dtype=float)

    def periods(self, freq, mask=None, end_ns=None):
        """summarize_periods over the rows in mask, up to the period starting at end_ns."""
        start = _period_start(self.ns, freq)
        if mask is not None:
            start = np.where(mask, start, _NAT)
        end = np.iinfo(np.int64).max if end_ns is None else int(end_ns)
        return _k.summarize_periods(self.codes, start, self.spend, len(self.uniques), end)


def _check_periods(where, freq, freq_multiplier):
    """A pandas frequency and a positive multiplier, refused with crmcore's error."""
    try:
        if freq not in _FIXED_PERIODS:
            pd.Timestamp("2000-01-01").to_period(freq)  # how _period_start reads it
    except (ValueError, TypeError, AttributeError):
        raise _invalid(where, "freq", f"{freq!r} is not a pandas frequency (e.g. 'D', 'W', 'M')") from None
    return _number(freq_multiplier, where, "freq_multiplier", low=0, low_open=True)


def _summary(log, freq, freq_multiplier, observation_end_ns, include_first_transaction, mask=None):
    obs_start = int(_period_start(np.array([observation_end_ns], dtype=np.int64), freq)[0])
    s = log.periods(freq, mask, obs_start)
    keep = s["n_periods"] > 0
    scale = _unit_ns(freq) * freq_multiplier
    first = s["first"][keep].astype(float)
    n_periods = s["n_periods"][keep].astype(float)
    out = pd.DataFrame(
        {
            "frequency": n_periods if include_first_transaction else n_periods - 1,
            "recency": (s["last"][keep] - s["first"][keep]).astype(float) / scale,
            "T": (obs_start - first) / scale,
        },
        index=log.uniques[keep],
    )
    if log.spend is not None:
        if include_first_transaction:
            out["monetary_value"] = s["spend_all"][keep] / n_periods
        else:
            repeat = n_periods - 1
            with np.errstate(invalid="ignore", divide="ignore"):
                out["monetary_value"] = np.where(repeat > 0, s["spend_repeat"][keep] / repeat, 0.0)
    return out


def _latest(log, where, datetime_col):
    """The latest transaction time, the default end of observation; a log
    without a dated transaction is refused naming the column (numpy raised a
    bare "zero-size array" ValueError)."""
    known = log.ns[log.ns != _NAT]
    if not len(known):
        raise _invalid(where, datetime_col, "has no dated transaction: nothing to summarise")
    return known.max()


def summary_data_from_transaction_data(transactions, customer_id_col, datetime_col, monetary_value_col=None,
                                       datetime_format=None, observation_period_end=None, freq="D",
                                       freq_multiplier=1, include_first_transaction=False):
    """Frequency, recency, T (and mean repeat spend) per customer from a transaction log.

    Same semantics and output as ``lifetimes.utils.summary_data_from_transaction_data``:
    transactions are grouped into periods of ``freq``; frequency counts the
    periods with a purchase after the first; recency is the age at the last
    such period and T the age at ``observation_period_end`` (default: the last
    transaction), both in units of ``freq`` divided by ``freq_multiplier``;
    ``monetary_value`` is the mean spend per repeat period (0 without repeats).
    The result is indexed by customer id (sorted), all columns float. Ages
    are differences of period starts divided by one ``freq``: months,
    quarters and years count numpy's average lengths (30.436875 days a
    month), anchored weeks (``"W-MON"``) 7 days, as lifetimes did on pandas 2
    (on pandas 3 lifetimes rejects ``freq="M"``).

    >>> tx = pd.DataFrame({"id": [1, 1, 2], "date": ["2024-01-01", "2024-01-05", "2024-01-03"]})
    >>> summary_data_from_transaction_data(tx, "id", "date").loc[1].tolist()
    [1.0, 4.0, 4.0]
    """
    freq_multiplier = _check_periods("summary_data_from_transaction_data", freq, freq_multiplier)
    log = _Log(transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format)
    if observation_period_end is None:
        end_ns = _latest(log, "summary_data_from_transaction_data", datetime_col)
    else:
        end_ns = _end_ns(observation_period_end, "summary_data_from_transaction_data", "observation_period_end",
                         datetime_format)
    return _summary(log, freq, freq_multiplier, end_ns, include_first_transaction)


def calibration_and_holdout_data(transactions, customer_id_col, datetime_col, calibration_period_end,
                                 observation_period_end=None, freq="D", freq_multiplier=1, datetime_format=None,
                                 monetary_value_col=None, include_first_transaction=False):
    """Split a transaction log at ``calibration_period_end``: the summary of the
    calibration period (columns suffixed ``_cal``) joined with the purchases in
    the holdout period (``frequency_holdout``, ``monetary_value_holdout``) and
    its length ``duration_holdout``, as ``lifetimes.utils.calibration_and_holdout_data``.

    >>> tx = pd.DataFrame({"id": [1, 1, 1, 2], "date": ["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-03"]})
    >>> calibration_and_holdout_data(tx, "id", "date", "2024-01-06").loc[1, "frequency_holdout"]
    np.float64(1.0)
    """
    freq_multiplier = _check_periods("calibration_and_holdout_data", freq, freq_multiplier)
    log = _Log(transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format)
    valid = log.ns != _NAT
    where = "calibration_and_holdout_data"
    cal_ns = _end_ns(calibration_period_end, where, "calibration_period_end", datetime_format)
    obs_ns = _latest(log, where, datetime_col) if observation_period_end is None else _end_ns(
        observation_period_end, where, "observation_period_end", datetime_format)

    in_cal = valid & (log.ns <= cal_ns)
    cal = _summary(log, freq, freq_multiplier, cal_ns, include_first_transaction, mask=in_cal)
    cal.columns = [c + "_cal" for c in cal.columns]

    in_hold = valid & (log.ns > cal_ns) & (log.ns <= obs_ns)
    if not in_hold.any():
        raise _invalid(
            "calibration_and_holdout_data", "calibration_period_end",
            "There is no data available. Check the `observation_period_end` and  `calibration_period_end` "
            "and confirm that values in `transactions` occur prior to those dates.")
    hold = log.periods(freq, in_hold)
    codes = log.uniques.get_indexer(cal.index)
    cal["frequency_holdout"] = hold["n_periods"][codes].astype(float)
    if log.spend is not None:
        # lifetimes averages the holdout spend over transactions, not periods.
        n = np.bincount(log.codes[in_hold], minlength=len(log.uniques)).astype(float)
        total = np.bincount(log.codes[in_hold], weights=log.spend[in_hold], minlength=len(log.uniques))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.where(n > 0, n, 1), 0.0)
        cal["monetary_value_holdout"] = mean[codes]
    obs_p = pd.Timestamp(obs_ns).to_period(freq)
    cal_p = pd.Timestamp(cal_ns).to_period(freq)
    cal["duration_holdout"] = float((obs_p - cal_p).n) / freq_multiplier
    return cal


def summary_from_store(db, monetary=True, **kwargs):
    """The per-customer summary of a crmcore store's orders (customer_id,
    ordered_at, amount), indexed by customer record id; keyword arguments as
    :func:`summary_data_from_transaction_data` (freq, observation_period_end, ...).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> c = db.add("customers", name="Acme")
    >>> _ = db.import_frame("orders", pd.DataFrame({"customer_id": [c, c], "amount": [5.0, 7.0],
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08"])}))
    >>> summary_from_store(db).loc[c].tolist()
    [1.0, 7.0, 7.0, 7.0]
    """
    orders = db.frame("orders", columns=["customer_id", "ordered_at", "amount"])
    return summary_data_from_transaction_data(orders, "customer_id", "ordered_at",
                                              "amount" if monetary else None, **kwargs)


def expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t, datetime_format=None,
                                     freq="D", freq_multiplier=1, set_index_date=False):
    """Actual and model-predicted cumulative repeat transactions of the whole
    cohort, period by period over t periods of ``freq`` from the first
    transaction (lifetimes' tracking plot data), as
    ``lifetimes.utils.expected_cumulative_transactions``.

    Repeat transactions count distinct (customer, period) pairs after each
    customer's first period; the prediction sums E[X(age)] over the customers
    who started before each period. Vectorized over periods and cohorts.

    >>> from crmcore.clv import BetaGeoFitter
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(39.0, 0.25, 4.4, 0.8, 2.4, size=2000, seed=1)
    >>> m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    >>> tx = pd.DataFrame({"id": [1, 1, 2, 2, 3], "date": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-09", "2024-01-03", "2024-01-04", "2024-01-05"])})
    >>> expected_cumulative_transactions(m, tx, "date", "id", 10)["actual"].iloc[-1]
    np.int64(2)
    """
    _check_periods("expected_cumulative_transactions", freq, 1)
    # The multiplier is a step through the periods here, so a whole number.
    freq_multiplier = _integer(freq_multiplier, "expected_cumulative_transactions", "freq_multiplier", low=1)
    t = _integer(t, "expected_cumulative_transactions", "t", low=1)
    log = _Log(transactions, customer_id_col, datetime_col, None, datetime_format)
    valid = log.ns != _NAT
    start = pd.Timestamp(log.ns[valid].min())
    date_periods = pd.date_range(start, periods=t + 1, freq=freq).to_period(freq)
    end_ordinal = start.to_period(freq).ordinal + t
    ordinal = pd.DatetimeIndex(log.ns.view("datetime64[ns]")).to_period(freq).asi8
    keep = valid & (ordinal <= end_ordinal)
    codes, ordinal = log.codes[keep], ordinal[keep]
    # Distinct (customer, period) pairs; a customer's first period is its minimum.
    base = ordinal.min()
    span = int(ordinal.max() - base) + 1
    pairs = np.unique(codes * span + (ordinal - base))
    pair_code, pair_period = pairs // span, pairs % span + base
    first = np.full(len(log.uniques), np.iinfo(np.int64).max)
    np.minimum.at(first, pair_code, pair_period)
    is_first = pair_period == first[pair_code]
    first_periods, first_counts = np.unique(pair_period[is_first], return_counts=True)

    # Predictions at every freq_multiplier-th period after the start.
    eval_at = date_periods.asi8[freq_multiplier::freq_multiplier]
    age = (eval_at[:, None] - first_periods[None, :]).astype(float)
    started = age > 0
    expected = np.zeros(age.shape)
    if started.any():
        expected[started] = np.asarray(
            model.expected_number_of_purchases_up_to_time(age[started] / freq_multiplier), dtype=float)
    predicted = (expected * first_counts[None, :]).sum(axis=1)

    repeat_periods = pair_period[~is_first]
    counts = pd.Series(np.bincount(repeat_periods - base, minlength=span), index=np.arange(base, base + span))
    tracked = counts.reindex(date_periods.asi8, fill_value=0).to_numpy()
    n_points = t // freq_multiplier
    actual = np.cumsum(tracked)[freq_multiplier - 1:n_points * freq_multiplier:freq_multiplier]
    index = date_periods[freq_multiplier - 1:-1:freq_multiplier] if set_index_date else range(0, n_points)
    return pd.DataFrame({"actual": actual, "predicted": predicted[:n_points]}, index=index)
