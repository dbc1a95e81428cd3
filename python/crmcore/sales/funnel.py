"""The stage funnel of every group at once, for ``db.sales.funnel``.

:func:`funnel_frame` hands the deals and their stage history, as the store
gives them (ids, times, the stage as text), to one C++ pass
(``_core.funnel_groups``): the stage text is coded there against the
pipeline's stage names (:func:`crmcore.sales._text.text_codes`), each
deal's group made from its key and the period of its first stage row, and
the furthest step, last stage and amounts of every deal summed per group
and step. Python only builds the frame from the counts.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from ..scoring._columns import times_ns
from ._text import text_codes

#: The period words (and pandas aliases) the kernel groups by itself, as
#: its codes (scoring's Period: year 0, quarter 1, month 2).
KERNEL_PERIODS = {"Y": 0, "Q": 1, "M": 2}
_CATEGORY = {"open": 0, "won": 1, "lost": 2}
NAT = np.iinfo(np.int64).min


class DealKey:
    """The group key of each deal for the kernel: int64 ``values``, a
    ``present`` mask (a deal whose key is missing is left out), the index
    ``name`` and ``labels`` (None: the values are the labels, as owner ids
    are; else ``labels[value]``)."""

    def __init__(self, values: np.ndarray, present: np.ndarray, name: str, labels: Any = None):
        self.values = np.ascontiguousarray(values, dtype=np.int64)
        self.present = np.ascontiguousarray(present, dtype=np.uint8)
        self.name, self.labels = name, labels

    @classmethod
    def through(cls, ref: pd.Series, table: pd.Series, name: str) -> "DealKey":
        """The key of each deal read through a reference: ``ref`` the deals'
        customer or owner ids, ``table`` that record's value (a customer's
        source, a staff member's team) indexed by its id. The table is coded
        once (sorted, so codes sort as labels) and each deal looks its code up
        by id in NumPy: no per-deal text."""
        codes, labels = pd.factorize(table, sort=True)
        ids = np.asarray(table.index, dtype=np.int64)
        ref_ids = ref.to_numpy(dtype=np.int64, na_value=-1)
        if len(ids) and ids.min() >= 0 and ids.max() < 4 * (len(ids) + len(ref_ids)) + 1024:
            lookup = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
            lookup[ids] = codes
            inside = (ref_ids >= 0) & (ref_ids < len(lookup))
            code = np.where(inside, lookup[np.where(inside, ref_ids, 0)], -1)
        else:
            code = pd.Series(codes, index=ids).reindex(ref_ids).fillna(-1).to_numpy(dtype=np.int64)
        return cls(np.maximum(code, 0), code >= 0, name, pd.Index(labels))

    def index(self, values: np.ndarray) -> pd.Index:
        labels = values if self.labels is None else self.labels.take(values)
        return pd.Index(labels, name=self.name)


def funnel_frame(deals: pd.DataFrame, history: pd.DataFrame, stages: pd.DataFrame, as_of: int,
                 key: "DealKey | None" = None, period: "str | None" = None,
                 created: "pd.Series | None" = None) -> pd.DataFrame:
    """The funnel of :meth:`SalesMethods.funnel` for every group of ``key``
    and the ``period`` of each deal's first stage row ("Y", "Q" or "M";
    another pandas alias needs ``created``, each deal's period, given),
    from ``deals`` (indexed by id; column amount), their ``history``
    (deal_id, stage, changed_at; rows of other deals are ignored) and the
    pipeline's ``stages`` in order (name, category). Without key and period
    one funnel indexed by ``stage``; else the group levels (``created``,
    then the key's name) lead a MultiIndex. ``attrs``: ``lost`` (an int, or
    a Series per group), ``by`` (the group levels, when grouped) and
    ``first_read`` (the earliest stage change counted, ns, or None).

    >>> deals = pd.DataFrame({"amount": [10.0, 5.0]}, index=[1, 2])
    >>> h = pd.DataFrame({"deal_id": [1, 1, 2], "stage": ["lead", "won", "lead"],
    ...                   "changed_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01"])})
    >>> s = pd.DataFrame({"name": ["lead", "won", "lost"], "category": ["open", "won", "lost"]})
    >>> f = funnel_frame(deals, h, s, pd.Timestamp("2024-12-31").value, period="Q")
    >>> f["deals"].tolist(), f.index.get_level_values("created").astype(str).tolist()
    ([1, 1, 1, 0], ['2024Q1', '2024Q1', '2024Q2', '2024Q2'])
    """
    names = stages["name"].astype(str).tolist()
    category = stages["category"].map(_CATEGORY)
    if category.isna().any():
        raise _core.ValidationError(f"sales.funnel: a stage's category is none of {', '.join(_CATEGORY)}")
    steps = [n for n, c in zip(names, stages["category"]) if c != "lost"]
    step = [steps.index(n) if c != "lost" else -1 for n, c in zip(names, stages["category"])]
    ids = np.asarray(deals.index, dtype=np.int64)
    levels: "list[str]" = []
    freq = None
    if period is not None and created is None:
        freq = KERNEL_PERIODS[period]
        levels.append("created")
    elif created is not None:  # another alias: its periods coded here and folded into the key
        pcode, plabels = pd.factorize(created.reindex(deals.index), sort=True)
        width = 1 if key is None else max(len(key.labels) if key.labels is not None else int(key.values.max(initial=0)) + 1, 1)
        inner = np.zeros(len(ids), dtype=np.int64) if key is None else key.values
        present = (pcode >= 0) & (True if key is None else key.present.astype(bool))
        folded = DealKey(np.maximum(pcode, 0) * width + inner, present, "created", None)
        out = funnel_frame(deals, history, stages, as_of, folded)
        return _unfold(out, plabels, width, key)
    if key is not None:
        levels.append(key.name)
    r = _core.funnel_groups(
        ids, None if key is None else (key.values, key.present), deals["amount"].to_numpy(dtype=float, na_value=np.nan),
        history["deal_id"].to_numpy(dtype=np.int64), text_codes(history["stage"], names),
        times_ns(history["changed_at"]), step, category.to_numpy(dtype=np.int8), len(steps),
        -1 if freq is None else freq, int(as_of))
    groups: "list[pd.Index]" = []
    if freq is not None:
        alias = next(a for a, c in KERNEL_PERIODS.items() if c == freq)
        groups.append(pd.Index(pd.PeriodIndex.from_ordinals(r["period"], freq=alias), name="created"))
    if key is not None:
        groups.append(key.index(r["key"]))
    if not groups and not len(r["lost"]):  # no deal at all: the one funnel, empty
        r = {**r, "reached": np.zeros((1, len(steps)), dtype=np.int64), "amount": np.zeros((1, len(steps))),
             "open": np.zeros((1, len(steps)), dtype=np.int64), "lost": np.zeros(1, dtype=np.int64)}
    out = _table(r["reached"], r["amount"], r["open"], steps)
    first = None if r["first_read"] == NAT else int(r["first_read"])
    if not groups:
        out = out.set_index(pd.Index(steps, name="stage"))
        out.attrs["lost"] = int(r["lost"][0]) if len(r["lost"]) else 0
    else:
        n = len(r["lost"])
        arrays = [np.repeat(g.to_numpy(), len(steps)) if n else g.to_numpy()[:0] for g in groups]
        out.index = pd.MultiIndex.from_arrays([*arrays, np.tile(np.asarray(steps, dtype=object), n)],
                                              names=[*levels, "stage"])
        gi = groups[0] if len(groups) == 1 else pd.MultiIndex.from_arrays([g.to_numpy() for g in groups], names=levels)
        out.attrs["lost"] = pd.Series(r["lost"], index=gi, name="lost", dtype=np.int64)
        out.attrs["by"] = levels
    out.attrs["first_read"] = first
    return out


def _table(reached: np.ndarray, amount: np.ndarray, standing: np.ndarray, steps: "list[str]") -> pd.DataFrame:
    """The funnel's columns from groups x steps counts, every group at once."""
    deals = reached.astype(float)
    before = np.concatenate([np.full((len(deals), 1), np.nan), deals[:, :-1]], axis=1)
    after = np.concatenate([deals[:, 1:], np.full((len(deals), 1), np.nan)], axis=1)
    conversion = np.divide(deals, before, out=np.full(deals.shape, np.nan), where=before > 0)
    to_next = np.divide(after, deals, out=np.full(deals.shape, np.nan), where=deals > 0)
    return pd.DataFrame({"deals": reached.ravel(), "amount": amount.ravel(), "conversion": conversion.ravel(),
                         "to_next": to_next.ravel(), "open": standing.ravel()})


def _unfold(out: pd.DataFrame, periods: Any, width: int, key: "DealKey | None") -> pd.DataFrame:
    """A funnel grouped by a folded key (period code x width + key) with the
    period and the key as levels of their own again."""
    folded = out.index.get_level_values("created").to_numpy(dtype=np.int64)
    created = pd.Index(periods).take(folded // width)
    arrays = [created] + ([] if key is None else [key.index(folded % width)])
    levels = ["created"] + ([] if key is None else [key.name])
    out.index = pd.MultiIndex.from_arrays([*arrays, out.index.get_level_values("stage")], names=[*levels, "stage"])
    lost = out.attrs["lost"]
    lk = lost.index.to_numpy(dtype=np.int64)
    lost_index = pd.MultiIndex.from_arrays([pd.Index(periods).take(lk // width), key.index(lk % width)],
                                           names=levels) if key is not None else pd.Index(
        pd.Index(periods).take(lk), name="created")
    out.attrs["lost"] = pd.Series(lost.to_numpy(), index=lost_index, name="lost", dtype=np.int64)
    out.attrs["by"] = levels
    return out
