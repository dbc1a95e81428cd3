"""The pictures of ``lifetimes.plotting``, with its names and arguments: the
frequency / recency and P(alive) matrices, period transactions, calibration
against holdout, the history of P(alive), cumulative and incremental
transactions. Each returns the axes it drew on.

matplotlib is imported when a plot is drawn, so crmcore.clv does not need it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_calibration_purchases_vs_holdout_purchases", "plot_cumulative_transactions",
           "plot_frequency_recency_matrix", "plot_history_alive", "plot_incremental_transactions",
           "plot_period_transactions", "plot_probability_alive_matrix"]


def _grid(model, max_frequency, max_recency):
    max_frequency = max_frequency or int(model.data["frequency"].max())
    max_recency = max_recency or int(model.data["T"].max())
    rec, freq = np.meshgrid(np.arange(max_recency + 1), np.arange(max_frequency + 1), indexing="ij")
    return max_frequency, max_recency, freq, rec


def _draw(Z, title, xlabel, ylabel, ax, **kwargs):
    import matplotlib.pyplot as plt

    if ax is None:
        ax = plt.subplot(111)
    interpolation = kwargs.pop("interpolation", "none")
    # The matrix is often far taller than wide (recency in weeks or days
    # against a few purchases): square cells made it a thin strip.
    kwargs.setdefault("aspect", "auto")
    image = ax.imshow(Z, interpolation=interpolation, **kwargs)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.figure.colorbar(image, ax=ax)
    return ax


def plot_probability_alive_matrix(model, max_frequency=None, max_recency=None,
                                  title="Probability Customer is Alive,\nby Frequency and Recency of a Customer",
                                  xlabel="Customer's Historical Frequency", ylabel="Customer's Recency", ax=None,
                                  **kwargs):
    """P(alive) by frequency (columns) and recency (rows), as lifetimes draws it,
    for customers of frequency 0..``max_frequency`` and recency
    0..``max_recency`` (default: the largest of the fitted data).
    ``model`` is a fitted BetaGeoFitter (or another of crmcore.clv's models); ``title``, ``xlabel`` and ``ylabel`` label the picture, drawn on ``ax`` (a new figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> m = BetaGeoFitter().fit([1, 0, 3, 2], [2.0, 0.0, 5.0, 4.0], [6.0, 4.0, 7.0, 6.0])
    >>> plot_probability_alive_matrix(m).get_title().startswith("Probability")
    True
    """
    Z = model.conditional_probability_alive_matrix(max_frequency=max_frequency, max_recency=max_recency)
    return _draw(Z, title, xlabel, ylabel, ax, **kwargs)


def plot_frequency_recency_matrix(model, T=1, max_frequency=None, max_recency=None, title=None,
                                  xlabel="Customer's Historical Frequency", ylabel="Customer's Recency", ax=None,
                                  **kwargs):
    """Expected purchases in the next ``T`` time units by frequency and recency, for
    customers of age ``max_recency`` (as lifetimes draws it), over frequency
    0..``max_frequency`` (default: the largest of the fitted data).
    ``model`` is a fitted BetaGeoFitter (or another of crmcore.clv's models); ``title``, ``xlabel`` and ``ylabel`` label the picture, drawn on ``ax`` (a new figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> m = BetaGeoFitter().fit([1, 0, 3, 2], [2.0, 0.0, 5.0, 4.0], [6.0, 4.0, 7.0, 6.0])
    >>> plot_frequency_recency_matrix(m, T=2).get_xlabel()
    "Customer's Historical Frequency"
    """
    max_frequency, max_recency, freq, rec = _grid(model, max_frequency, max_recency)
    Z = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(
        T, freq.ravel(), rec.ravel(), np.full(freq.size, float(max_recency))), dtype=float).reshape(freq.shape)
    if title is None:
        title = ("Expected Number of Future Purchases for {} Unit{} of Time,".format(T, "s"[T == 1:])
                 + "\nby Frequency and Recency of a Customer")
    return _draw(Z, title, xlabel, ylabel, ax, **kwargs)


def _new_axes(ax):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))[1] if ax is None else ax


def plot_period_transactions(model, max_frequency=7, title="Frequency of Repeat Transactions",
                             xlabel="Number of Calibration Period Transactions", ylabel="Customers", ax=None,
                             **kwargs):
    """Customers by number of repeat purchases (0 to ``max_frequency`` - 1):
    the fitted data beside what the model expects.

    lifetimes simulates a new cohort for the model's bars; where the model
    gives P(X(T) = x) (BG/NBD and its modified form) the bars here are its
    exact expectation, the sum over the fitted customers of P(x repeat
    purchases by their own T), so they do not change from run to run. Other
    models are simulated (seed 0) as lifetimes does. ``model`` is a fitted BetaGeoFitter (or another of crmcore.clv's models); ``title``, ``xlabel`` and ``ylabel`` label the picture, drawn on ``ax`` (a new figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(30.0, 0.25, 4.0, 0.8, 2.4, size=500, seed=1)
    >>> m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    >>> ax = plot_period_transactions(m)
    >>> len(ax.patches), [t.get_text() for t in ax.get_legend().get_texts()]
    (14, ['Actual', 'Model'])
    """
    ax = _new_axes(ax)
    counts = np.arange(max_frequency)
    freq = model.data["frequency"].to_numpy()
    actual = np.array([(freq == x).sum() for x in counts], dtype=float)
    if hasattr(model, "probability_of_n_purchases_up_to_time"):
        T = model.data["T"].to_numpy(dtype=float)
        expected = np.array([np.sum(model.probability_of_n_purchases_up_to_time(T, np.full(len(T), x)))
                             for x in counts])
    else:
        simulated = model.generate_new_data(size=len(freq), seed=0)["frequency"].to_numpy()
        expected = np.array([(simulated == x).sum() for x in counts], dtype=float)
    table = pd.DataFrame({"Actual": actual, "Model": expected}, index=counts)
    table.plot(kind="bar", ax=ax, rot=0, **kwargs)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_calibration_purchases_vs_holdout_purchases(model, calibration_holdout_matrix, kind="frequency_cal", n=7,
                                                    ax=None, **kwargs):
    """Mean purchases in the holdout period against the model's prediction,
    for customers grouped by ``kind``: "frequency_cal" (purchases in the
    calibration period), "recency_cal", "T_cal" or
    "time_since_last_purchase" (T_cal - recency_cal); the first ``n``
    groups. ``calibration_holdout_matrix`` is the output of
    :func:`crmcore.clv.utils.calibration_and_holdout_data`; ``model`` is
    fitted on its calibration columns and drawing happens on ``ax`` (a new
    figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> cal = pd.DataFrame({"frequency_cal": [0, 1, 2, 1], "recency_cal": [0.0, 3.0, 5.0, 2.0],
    ...                     "T_cal": [6.0, 6.0, 6.0, 6.0], "frequency_holdout": [0, 1, 1, 0],
    ...                     "duration_holdout": [4.0] * 4})
    >>> m = BetaGeoFitter().fit(cal["frequency_cal"], cal["recency_cal"], cal["T_cal"])
    >>> ax = plot_calibration_purchases_vs_holdout_purchases(m, cal)
    >>> [line.get_label() for line in ax.get_lines()]
    ['frequency_holdout', 'model_predictions']
    """
    ax = _new_axes(ax)
    summary = calibration_holdout_matrix.copy()
    duration = float(summary["duration_holdout"].iloc[0])
    summary["model_predictions"] = model.conditional_expected_number_of_purchases_up_to_time(
        duration, summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
    if kind == "time_since_last_purchase":
        summary[kind] = summary["T_cal"] - summary["recency_cal"]
        xlabel = "Time since user made last purchase"
    else:
        xlabel = {"frequency_cal": "Purchases in calibration period"}.get(kind, kind)
    means = summary.groupby(kind)[["frequency_holdout", "model_predictions"]].mean().iloc[:n]
    means.plot(ax=ax, marker="o", **kwargs)
    ax.set_title("Actual Purchases in Holdout Period vs Predicted Purchases")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Average of Purchases in Holdout Period")
    return ax


def plot_history_alive(model, t, transactions, datetime_col, freq="D", start_date=None, ax=None, **kwargs):
    """P(alive) of one customer over time: from their first purchase (or
    ``start_date``) for ``t`` periods of ``freq``, read from their
    ``transactions`` (a frame of that customer's purchases), with a dashed
    line at each purchase. ``datetime_col`` names the date column; ``model``
    is a fitted BetaGeoFitter; drawn on ``ax`` (a new figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(30.0, 0.25, 4.0, 0.8, 2.4, size=500, seed=1)
    >>> m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    >>> one = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-09", "2024-01-20"])})
    >>> ax = plot_history_alive(m, 40, one, "date")
    >>> ax.get_lines()[0].get_ydata()[0], len(ax.get_lines())
    (np.float64(1.0), 4)
    """
    ax = _new_axes(ax)
    when = pd.to_datetime(transactions[datetime_col]).dt.to_period(freq)
    start = pd.Period(start_date, freq=freq) if start_date is not None else when.min()
    periods = pd.period_range(start, periods=int(t), freq=freq)
    bought = np.sort(np.unique((when - start).map(lambda offset: offset.n).to_numpy(dtype=float)))
    ages = np.arange(len(periods), dtype=float)
    # At each age: repeat purchases so far, the age at the last one, and the time since the first.
    seen = np.searchsorted(bought, ages, side="right")
    first = bought[0] if len(bought) else 0.0
    frequency = np.maximum(seen - 1, 0).astype(float)
    recency = np.where(seen > 0, bought[np.maximum(seen - 1, 0)] - first, 0.0)
    age = np.maximum(ages - first, 0.0)
    alive = np.asarray(model.conditional_probability_alive(frequency, recency, age), dtype=float)
    alive[ages < first] = np.nan
    ax.plot(periods.to_timestamp(), alive, label="P_alive", **kwargs)
    for k, b in enumerate(bought):
        if b < len(periods):
            ax.axvline(periods[int(b)].to_timestamp(), color="grey", ls="--", lw=1,
                       label="purchases" if k == 0 else "_nolegend_")
    ax.set_title("History of P_alive")
    ax.set_ylabel("P_alive")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left")
    return ax


def _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
              set_index_date, title, xlabel, ylabel, ax, incremental, **kwargs):
    from .utils import expected_cumulative_transactions

    ax = _new_axes(ax)
    table = expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t,
                                             datetime_format=datetime_format, freq=freq,
                                             set_index_date=set_index_date)
    if incremental:
        table = table.diff().fillna(table.iloc[:1])
    table.plot(ax=ax, **kwargs)
    cut = table.index[min(int(t_cal), len(table) - 1)] if set_index_date else t_cal
    ax.axvline(cut, color="red", ls="--", label="calibration period end")
    ax.legend()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal,
                                 datetime_format=None, freq="D", set_index_date=False,
                                 title="Tracking Cumulative Transactions", xlabel="day",
                                 ylabel="Cumulative Transactions", ax=None, **kwargs):
    """Actual and model-expected cumulative repeat transactions of the whole
    cohort over ``t`` periods from the first purchase
    (:func:`crmcore.clv.utils.expected_cumulative_transactions`), with the end
    of the calibration period (``t_cal``) marked. ``transactions`` has one
    row per purchase with ``customer_id_col`` and ``datetime_col`` (text
    read with ``datetime_format`` when given); ``freq`` is the period;
    ``set_index_date`` puts dates instead of period numbers on the x axis.
    ``model`` is a fitted BetaGeoFitter (or another of crmcore.clv's models); ``title``, ``xlabel`` and ``ylabel`` label the picture, drawn on ``ax`` (a new figure when None).

    >>> from crmcore.clv import BetaGeoFitter
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(30.0, 0.25, 4.0, 0.8, 2.4, size=500, seed=1)
    >>> m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    >>> tx = pd.DataFrame({"id": [1, 1, 2, 2, 3], "date": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-09", "2024-01-03", "2024-01-04", "2024-01-05"])})
    >>> ax = plot_cumulative_transactions(m, tx, "date", "id", 10, 5)
    >>> [line.get_label() for line in ax.get_lines()]
    ['actual', 'predicted', 'calibration period end']
    """
    return _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
                     set_index_date, title, xlabel, ylabel, ax, False, **kwargs)


def plot_incremental_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal,
                                  datetime_format=None, freq="D", set_index_date=False,
                                  title="Tracking Daily Transactions", xlabel="day", ylabel="Transactions",
                                  ax=None, **kwargs):
    """As :func:`plot_cumulative_transactions` (same parameters), period by
    period: the repeat transactions of each period, actual and expected.

    >>> from crmcore.clv import BetaGeoFitter
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(30.0, 0.25, 4.0, 0.8, 2.4, size=500, seed=1)
    >>> m = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    >>> tx = pd.DataFrame({"id": [1, 1, 2, 2, 3], "date": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-09", "2024-01-03", "2024-01-04", "2024-01-05"])})
    >>> ax = plot_incremental_transactions(m, tx, "date", "id", 10, 5)
    >>> ax.get_lines()[0].get_ydata().sum()
    np.float64(2.0)
    """
    return _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
                     set_index_date, title, xlabel, ylabel, ax, True, **kwargs)
