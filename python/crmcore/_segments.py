"""Evaluating a saved segment's rule with no more work than it names.

Fields and tags are one query on the store (bound values, its indexes).
Score conditions are then answered from the orders' columns, read once in
C++ (``_core.segment_orders``, without the GIL):

- ``frequency`` and ``monetary`` are each customer's own totals, so only
  the candidates' orders are read (through the customer index) unless the
  candidates are most of the customers, and the totals are summed in C++
  (``_core.purchase_totals``) as RFM sums them;
- the RFM scores (``r_score``, ``f_score``, ``m_score``, ``rfm_segment``)
  rank every buyer, so all orders are read once and scored by the RFM
  kernel, exactly as ``db.rfm()`` scores them;
- the other scores (lifecycle, lifetime value, ...) come from their
  analysis, computed once per evaluation.

What counts as a purchase is decided on the few distinct status labels read
(:func:`crmcore.scoring.order_meaning`), never per row in Python.

On a store (not a scoped handle) fields, tags and the orders' columns come
from the core's column cache (``crmcore/records/column_cache.hpp``): read
once, kept until the next committed write by anyone, so evaluating again on
an unchanged store reads no records. The first evaluation after a write
reads only what it needs, as before the cache (fields and tags by one
query, the candidates' orders through the customer index), since whole
columns cost more than that once; the cache is filled at the second use
(``ColumnCache::ready``), or at once where the narrow read would read every
order anyway (a ranked score, most customers candidates). A scoped handle
reads through its access rules every time (the cache is the store's, so it
is not used there).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _core, _query
from .scoring._status import PURCHASE, order_meaning
from .scoring.dimensions import NO_PURCHASE
from .scoring.rfm import segment as rfm_grid

#: Scores a segment rule may name, each a column of a per-customer analysis.
SCORES = {"rfm_segment": ("rfm", "segment"), "r_score": ("rfm", "r_score"), "f_score": ("rfm", "f_score"),
          "m_score": ("rfm", "m_score"), "monetary": ("rfm", "monetary"), "frequency": ("rfm", "frequency"),
          "lifecycle": ("lifecycle", "stage"), "lifetime_value": ("lifetime_value", "clv"),
          "p_alive": ("lifetime_value", "p_alive"), "health": ("health", "health")}
OPS: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    "==": lambda s, v: s == v, "!=": lambda s, v: s != v, "<": lambda s, v: s < v, "<=": lambda s, v: s <= v,
    ">": lambda s, v: s > v, ">=": lambda s, v: s >= v, "in": lambda s, v: s.isin(list(v)),
    "not in": lambda s, v: ~s.isin(list(v))}

_TOTALS = ("frequency", "monetary")  # a customer's own: read for the candidates only
_RANKED = ("r_score", "f_score", "m_score", "rfm_segment")  # ranks among all buyers: every order read
# A candidate read goes through the customer index, several times the cost of
# a row of the full scan: worth it while the candidates are a few of all.
_FEW = 4


def check(scores: list) -> None:
    """Refuses a rule naming an unknown score or operator, before any work,
    with the package's ValidationError (as an unknown field is refused)."""
    for score, op, _ in scores:
        if score not in SCORES:
            raise _core.ValidationError(f"segments, field 'scores': a segment rule names an unknown score {score!r} "
                                        f"(scores: {', '.join(SCORES)})")
        if op not in OPS:
            raise _core.ValidationError(f"segments, field 'scores': unknown operator {op!r} for {score!r} in a "
                                        f"segment rule (operators: {', '.join(OPS)})")


def evaluate(db: Any, rule: dict) -> pd.Index:
    """The ids (ascending) of the customers meeting `rule` now: its
    ``filters`` and ``criteria`` as in ``db.find``, then each (score, op,
    value) of its ``scores``."""
    scores = [tuple(s) for s in rule["scores"]]
    check(scores)
    filters = [tuple(f) for f in rule["filters"]] or None
    criteria = rule["criteria"]
    store = db._core
    cached = isinstance(store, _core.Store)
    if filters is None and not criteria:
        ids = store.cached_columns("customers", [])["id"] if cached else db.frame("customers", columns=[]).index
    else:
        # The cache answers what it holds (fields, tags) once it pays off; the store the rest.
        groups = _query.groups("customers", filters, criteria)
        found = None
        if cached and store.column_cache_ready("customers", _fields_named(groups)):
            found = store.cached_ids("customers", groups)
        ids = pd.Index(found if found is not None else db.ids("customers", filters, **criteria))
    ids = pd.Index(np.sort(np.asarray(ids, dtype=np.int64)))
    named = {score for score, _, _ in scores}
    columns = _order_scores(db, ids, named) if named & set(_TOTALS + _RANKED) and len(ids) else {}
    tables: dict = {}
    for score, op, value in scores:
        if score in columns:
            values = columns[score].reindex(ids)
        else:
            analysis, column = SCORES[score]
            if analysis not in tables:
                tables[analysis] = getattr(db, analysis)()
            values = tables[analysis][column].reindex(ids)
        ids = ids[OPS[op](values.astype(object) if values.dtype == "category" else values, value).to_numpy(bool)]
    return pd.Index(ids, name="customer_id")


def _fields_named(groups: list) -> list:
    """The columns the conditions `groups` (as ``_query.groups`` makes
    them: lists of (field, op, value)) read, each once; ids are always there."""
    names: list = []
    for group in groups:
        for condition in group:
            if condition[0] != "id" and condition[0] not in names:
                names.append(condition[0])
    return names


def _purchase_flags(labels: list) -> np.ndarray:
    return (order_meaning(pd.Series(labels, dtype=object)) == PURCHASE).astype(np.uint8)


def _amounts(cols: dict) -> np.ndarray:
    """The amounts read, or zeros when they were not asked for."""
    return cols["amount"] if len(cols["amount"]) == len(cols["customer"]) else np.zeros(len(cols["customer"]))


def _orders(db: Any, cand: "np.ndarray | None", times: bool, amounts: bool) -> dict:
    """The orders' customer, status code and labels (and amount, time), as
    ``_core.segment_orders`` gives them: from the column cache on a store
    (all orders: the kernels skip other customers' in one pass), else read
    under the handle's access rules, of the candidates only when they are few."""
    store = db._core
    few = cand is not None and len(cand) * _FEW <= db.count("customers")
    fields = ["customer_id", "status"] + (["amount"] if amounts else []) + (["ordered_at"] if times else [])
    # Reading every order into the cache costs less than reading them one by
    # one, so only a few candidates' orders are read apart, until the cache pays off.
    if not isinstance(store, _core.Store) or (few and not store.column_cache_ready("orders", fields)):
        return _core.segment_orders(store, cand if few else None, times, amounts)
    got = store.cached_columns("orders", fields)
    codes, labels = got["status"]
    at = np.empty(0, dtype=np.int64)
    if times:
        at, valid = got["ordered_at"]
        if valid is not None:  # a missing time as segment_orders gives it
            at = np.where(valid.astype(bool), at, np.iinfo(np.int64).min)
    return {"customer": got["customer_id"][0], "status": codes, "labels": list(labels), "ordered_at": at,
            "amount": got["amount"] if amounts else np.empty(0)}


def _order_scores(db: Any, ids: pd.Index, named: set) -> dict:
    """The order-based scores `named` of the customers `ids` (ascending), as
    Series indexed by them."""
    cand = ids.to_numpy(np.int64)
    if not named & set(_RANKED):
        # The default as_of is the end of the data, after every order: no time limit to read.
        cols = _orders(db, cand, False, "monetary" in named)
        frequency, monetary = _core.purchase_totals(cols["customer"], None, _amounts(cols), cols["status"],
                                                    _purchase_flags(cols["labels"]), cand, 0)
        totals = {"frequency": frequency, "monetary": monetary}
        return {name: pd.Series(totals[name], index=ids) for name in named & set(_TOTALS)}
    # Recency needs the times (and the end of the data), the M score the
    # amounts; frequency and F need neither, since every order is before
    # the end of the data. What is not read goes to the kernel as zeros and
    # its scores are not used.
    times = bool(named & {"r_score", "rfm_segment"})
    cols = _orders(db, None, times, bool(named & {"monetary", "m_score"}))
    customer, amount = cols["customer"], _amounts(cols)
    if times:
        at = cols["ordered_at"]
        latest = at[at != np.iinfo(np.int64).min].max() if len(at) else None
        cut = db._end_of_data(pd.DataFrame({"ordered_at": np.array([] if latest is None else [latest],
                                                                    dtype="datetime64[ns]")}))
    else:
        at, cut = np.zeros(len(customer), dtype=np.int64), 0
    flags = _purchase_flags(cols["labels"]).astype(bool)
    if not flags.all() or (len(at) and at.max() > cut):  # only then a masked copy of the columns
        keep = np.append(flags, True)[cols["status"]] & (at <= cut)
        customer, at, amount = customer[keep], at[keep], amount[keep]
    r = _core.rfm(customer, at, amount, cut, 5, "first")
    # Each candidate's row among the buyers (ascending ids), or none.
    pos = np.minimum(np.searchsorted(r["customer"], cand), max(len(r["customer"]) - 1, 0))
    bought = (r["customer"][pos] == cand) if len(r["customer"]) else np.zeros(len(cand), dtype=bool)
    fill = NO_PURCHASE["rfm"]

    def aligned(name: str) -> np.ndarray:
        values = r[name]
        out = np.full(len(cand), fill[name], dtype=values.dtype)
        out[bought] = values[pos[bought]]
        return out

    out = {name: pd.Series(aligned(name), index=ids) for name in named & {"frequency", "monetary", "r_score",
                                                                           "f_score", "m_score"}}
    if "rfm_segment" in named:
        # The grid names each (R, F) cell on its own, so the candidates' cells suffice.
        names = np.full(len(cand), fill["segment"], dtype=object)
        names[bought] = np.asarray(rfm_grid(r["r_score"][pos[bought]], r["f_score"][pos[bought]], 5), dtype=object)
        out["rfm_segment"] = pd.Series(names, index=ids)
    return out
