"""RFM: recency, frequency, monetary value, their quantile scores and the
named segments of the R/F grid."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._args import _integer, _invalid
from ._columns import flag_overflow, resolve_as_of, stamp, timestamps, transactions

__all__ = ["DEFAULT_SEGMENTS", "rfm", "segment"]

# The common R/F grid on 1..5 scores: (name, (r_min, r_max), (f_min, f_max)).
# The first rule that holds names the cell, so "lost" (1, 1) is carved out of
# "hibernating" by coming first. Together the rules cover all 25 cells.
DEFAULT_SEGMENTS: tuple = (
    ("champions", (5, 5), (4, 5)),
    ("loyal", (3, 4), (4, 5)),
    ("potential loyalist", (4, 5), (2, 3)),
    ("new", (5, 5), (1, 1)),
    ("promising", (4, 4), (1, 1)),
    ("need attention", (3, 3), (3, 3)),
    ("about to sleep", (3, 3), (1, 2)),
    ("cannot lose", (1, 2), (5, 5)),
    ("at risk", (1, 2), (3, 4)),
    ("lost", (1, 1), (1, 1)),
    ("hibernating", (1, 2), (1, 2)),
)


def segment(r_score: Any, f_score: Any, bins: int = 5, segments: Sequence | None = None) -> pd.Categorical:
    """Names each (R, F) score pair by the first matching rule of ``segments``.

    ``segments`` is a sequence of ``(name, (r_min, r_max), (f_min, f_max))``
    with inclusive score ranges; cells no rule covers are named "other". The
    default grid is written for 5 bins: with another number of bins and no
    grid of your own, scores are first rescaled to 1..5 (ceil(score * 5 / bins)).

    ``r_score`` and ``f_score`` are the customers' R and F scores (1..``bins``).

    >>> list(segment([5, 1], [5, 1]))
    ['champions', 'lost']
    """
    bins = _integer(bins, "segment", "bins", low=1, high=100)
    r = np.asarray(r_score, dtype=np.int32)
    f = np.asarray(f_score, dtype=np.int32)
    if segments is None:
        segments = DEFAULT_SEGMENTS
        if bins != 5:
            r = -(-r * 5 // bins)
            f = -(-f * 5 // bins)
            bins = 5
    if len(r) and (min(r.min(), f.min()) < 1 or max(r.max(), f.max()) > bins):
        raise ValueError(f"scores must be between 1 and {bins}")
    names = list(dict.fromkeys(name for name, _, _ in segments))
    other = len(names)
    # A (bins+1)^2 lookup table filled from the rules, then one gather.
    table = np.full((bins + 1, bins + 1), other, dtype=np.int16)
    filled = np.zeros_like(table, dtype=bool)
    for name, (r_lo, r_hi), (f_lo, f_hi) in segments:
        cell = np.zeros_like(filled)
        cell[r_lo : r_hi + 1, f_lo : f_hi + 1] = True
        cell &= ~filled
        table[cell] = names.index(name)
        filled |= cell
    codes = table.ravel()[r * (bins + 1) + f]
    if (codes == other).any():
        names.append("other")
    return pd.Categorical.from_codes(codes, categories=names, validate=False)


def rfm(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    as_of: Any = None,
    bins: int = 5,
    segments: Sequence | None = None,
    ties: str = "first",
) -> pd.DataFrame:
    """Recency, frequency and monetary value per customer, scored 1..bins.

    Each row of ``tx`` is one purchase. Returns, indexed by customer id
    (ascending): ``recency`` (days, fractional, from the last purchase to
    ``as_of``), ``frequency`` (purchases), ``monetary`` (total amount),
    ``last_purchase``, ``r_score``, ``f_score``, ``m_score`` (1..bins, higher
    is better: recent, frequent, big spenders) and ``segment``.

    ``as_of`` defaults to the end of the data, midnight after the latest
    purchase (for whole-day dates one day after it, so the latest buyers have
    recency 1); purchases after ``as_of`` are ignored. The point and the
    window of purchases read are in ``result.attrs["as_of"]`` and
    ``result.attrs["window"]``.

    Scores are quantile bins of a rank. With ``ties="first"`` (default)
    customers are ranked from worst to best value and equal values by
    ascending customer id, then binned exactly like
    ``pd.qcut(values.rank(method="first"), bins, labels=False) + 1`` on a frame
    sorted by id: bins of equal size, equal values split deterministically.
    With ``ties="min"`` every customer of a run of equal values gets the score
    of the run's first (lowest-ranked) member, so equal values always share a
    score (bins may then be uneven). ``segments`` is the grid of
    :func:`segment`. A ``monetary`` total beyond the range of a double
    follows the rule of :class:`~crmcore.scoring.TotalOverflowWarning`.

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [10.0, 5.0, 40.0],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"])})
    >>> rfm(tx)[["recency", "frequency", "monetary"]].to_dict("index")[1]
    {'recency': 1.0, 'frequency': 2, 'monetary': 15.0}
    """
    return _rfm(tx, customer, date, amount, as_of, bins, segments, ties, "rfm")


def _rfm(tx, customer, date, amount, as_of, bins, segments, ties, analysis: str) -> pd.DataFrame:
    """:func:`rfm`, naming ``analysis`` (the caller) in its overflow warning."""
    bins = _integer(bins, analysis, "bins", low=1, high=100)
    if ties not in ("first", "min"):
        raise _invalid(analysis, "ties", f"must be 'first' or 'min', got {ties!r}")
    keys, ns, amt = transactions(tx, customer, date, amount)
    cut = resolve_as_of(as_of, ns, analysis)
    r = _core.rfm(keys.codes, ns, amt, cut, bins, ties)
    out = pd.DataFrame(
        {
            "recency": r["recency"],
            "frequency": r["frequency"],
            "monetary": r["monetary"],
            "last_purchase": timestamps(r["last"]),
            "r_score": r["r_score"],
            "f_score": r["f_score"],
            "m_score": r["m_score"],
        },
        index=keys.index(r["customer"]),
    )
    out["segment"] = segment(out["r_score"].to_numpy(), out["f_score"].to_numpy(), bins, segments)
    return flag_overflow(stamp(out, cut, ns), ["monetary"], analysis)
