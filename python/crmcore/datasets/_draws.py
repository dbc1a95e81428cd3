"""Small vectorized draws and layouts that the synthetic CRM's generators
share (NumPy only, no loop over rows)."""
import numpy as np
import pandas as pd

__all__ = ["_cents", "_choose", "_draw", "_draw_many", "_frame", "_pick_from_lists", "_pick_in_group",
           "_rank_in_group", "_weights"]


def _weights(values):
    w = np.asarray(values, dtype=float)
    return w / w.sum()


def _draw(rng, n, weights):
    """Category codes 0..k-1 with the given relative weights."""
    cdf = np.cumsum(_weights(weights))
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _draw_many(rng, n, weights, bits=20):
    """Like _draw for many categories: a gather from a 2**bits-slot table, not a binary search.

    Each category gets slots in proportion to its weight (at least one), so
    probabilities are exact to about 2**-bits.
    """
    w = _weights(weights)
    slots = np.maximum(np.round(w * (1 << bits)).astype(np.int64), 1)
    table = np.repeat(np.arange(len(w)), slots)
    return table[rng.integers(0, len(table), n)]


def _frame(columns):
    # copy=False keeps each column its own block: consolidating millions of
    # rows into 2-D blocks would copy everything once more for nothing.
    return pd.DataFrame(columns, copy=False)


def _rank_in_group(counts):
    """For rows laid out group after group, each row's rank in its group."""
    starts = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(starts, counts)


def _pick_in_group(rng, cand_keys, query_keys):
    """For each query key, a random candidate position with the same key (-1 if none)."""
    order = np.argsort(cand_keys, kind="stable")
    sorted_keys = cand_keys[order]
    lo = np.searchsorted(sorted_keys, query_keys, side="left")
    hi = np.searchsorted(sorted_keys, query_keys, side="right")
    size = hi - lo
    pick = lo + np.floor(rng.random(len(query_keys)) * size).astype(np.int64)
    out = np.full(len(query_keys), -1, dtype=np.int64)
    ok = size > 0
    out[ok] = order[pick[ok]]
    return out


def _pick_from_lists(rng, starts, counts, rows):
    """A random member of each row's list (lists laid out by starts/counts; -1 if empty)."""
    c = counts[rows]
    pick = starts[rows] + np.floor(rng.random(len(rows)) * c).astype(np.int64)
    return np.where(c > 0, pick, -1)


def _choose(words, codes):
    return np.asarray(words, dtype=object)[codes]


def _cents(x):
    return np.round(np.asarray(x) * 100).astype(np.int64)
