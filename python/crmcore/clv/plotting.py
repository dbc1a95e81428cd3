"""The two matrix plots of ``lifetimes.plotting``, computed without Python loops.

matplotlib is imported when a plot is drawn, so crmcore.clv does not need it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_probability_alive_matrix", "plot_frequency_recency_matrix"]


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
    """P(alive) by frequency (columns) and recency (rows), as lifetimes draws it.

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
    """Expected purchases in the next T time units by frequency and recency, for
    customers of age max_recency (as lifetimes draws it).

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
