"""The bins' edges and classes of crmcore's Spark analyses, found without a
sort of all customers (see :mod:`crmcore.spark`'s notes).

Every partition sorts its own customers and sends a few of them with their
places (and, for the ABC classes, the sums before them); the driver brackets
each edge between two sampled customers, one Spark job counts (or sums) the
customers below each bracket and collects the few inside, and the driver
picks the edge among them. Rows are then scored where they are.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd

_ID = "_crm_id"  # the customer id column between the stages (as in crmcore.spark)


def _spark():
    """pyspark's functions and types modules, or a clear ImportError."""
    try:
        from pyspark.sql import functions, types
    except ImportError as e:
        raise ImportError("crmcore.spark needs PySpark: pip install 'crmcore[spark]' "
                          "(and a Java runtime, 17 or later)") from e
    return functions, types



# Rows of each partition sampled per score column to bracket the bins' edges:
# an edge is then found among at most about 2 * customers / _SAMPLES rows.
_SAMPLES = 1024


def _sample_count() -> int:
    """_SAMPLES as the driver sees it, for the workers' closures: a worker
    imports this module afresh, so a value set on the driver (the tests' small
    samples) reaches it only as an argument."""
    return _SAMPLES


def _order_keys(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """int64 keys that sort like crmcore's scoring order of ``values`` (the C++
    kernel's ``ordered_bits``): worst first, -0.0 equal to 0.0, NaN worst of all."""
    v = (np.asarray(values, dtype=float) if higher_is_better else -np.asarray(values, dtype=float)) + 0.0
    u = v.view(np.uint64)
    top = np.uint64(1 << 63)
    bits = np.where(u & top, ~u, u | top)
    bits[np.isnan(v)] = 0
    return (bits ^ top).view(np.int64)  # unsigned order as signed int64 order


def _edge_before_row(key: str, edge: tuple, whole: bool = True):
    """Spark's test that ``edge`` (key, id) comes before a row in the
    (key, id) order (``whole`` False: by key alone)."""
    F, _ = _spark()
    if not whole:
        return F.lit(edge[0]) < F.col(key)
    return (F.lit(edge[0]) < F.col(key)) | ((F.lit(edge[0]) == F.col(key)) & (F.lit(edge[1]) < F.col(_ID)))


def _row_before(key: str, bound: tuple):
    """Spark's test that a row comes before ``bound`` (key, id)."""
    F, _ = _spark()
    return (F.col(key) < F.lit(bound[0])) | ((F.col(key) == F.lit(bound[0])) & (F.col(_ID) < F.lit(bound[1])))


def _ids(column) -> Any:
    """A column of customer ids as int64 numpy (integer ids) or a list (text)."""
    import pyarrow as pa

    return column.to_numpy() if pa.types.is_integer(column.type) else column.to_pylist()


def _sorted_pairs(keys: np.ndarray, ids: Any) -> np.ndarray:
    """The order of the (key, id) pairs; ids ascending as Spark and pandas
    order them (numbers by value, text by code point)."""
    if isinstance(ids, np.ndarray):
        return np.lexsort((ids, keys))
    return np.array(sorted(range(len(ids)), key=lambda i: (int(keys[i]), ids[i])), dtype=np.int64)


_S, _SPART, _SPOS, _SSIZE = "_crm_s", "_crm_part", "_crm_pos", "_crm_size"
_SBEFORE, _STOTAL, _SEXP = "_crm_sbefore", "_crm_stotal", "_crm_sexp"


def _samples(frame: pd.DataFrame, keys: list[str], count: int, value: str | None = None) -> pd.DataFrame:
    """Rows to append to a partition's per-customer ``frame``: for each key
    column c (in ``_S``) every g-th customer of the partition in the (key, id)
    order and its last (g = customers / ``count``), with its place ``_SPOS``
    among the partition's ``_SSIZE`` customers, the key in the column's own
    place and the partition in ``_SPART``. The customers' own rows get ``_S`` -1.

    Given ``value`` (the ABC classes), a sampled row also keeps its value and
    carries ``_SBEFORE``, the sum of the positive finite values of the
    partition's customers before it in the order, and ``_STOTAL``, the
    (exactly rounded) sum of them all, both scaled by 2 ** -``_SEXP`` (the
    partition's largest positive value's exponent) so that they cannot
    overflow."""
    from pyspark import TaskContext

    context = TaskContext.get()
    if context is None:  # mapInArrow runs in a task: there is always one
        raise RuntimeError("rfm: the sample of a partition ran outside a Spark task")
    m = len(frame)
    step = max(1, m // count)
    picked = np.unique(np.r_[np.arange(step - 1, m, step), m - 1]) if m else np.zeros(0, dtype=np.int64)
    ids = frame[_ID].to_numpy()
    sums = [_SBEFORE, _STOTAL, _SEXP] if value else []
    parts = [frame.assign(**{_S: -1, _SPART: 0, _SPOS: 0, _SSIZE: 0}, **{c: 0 for c in sums})]
    for c, name in enumerate(keys):
        order = _sorted_pairs(frame[name].to_numpy(), ids if ids.dtype.kind in "iu" else ids.tolist())
        rows = frame.iloc[order[picked]].copy()
        rows[[n for n in frame.columns if n not in (_ID, name, value)]] = 0
        extra = {}
        if value:
            v, exponent = _positive_scaled(frame[value].to_numpy())
            ordered = v[order]
            before = np.r_[0.0, np.cumsum(ordered)[:-1]] if m else ordered
            extra = {_SBEFORE: before[picked], _STOTAL: math.fsum(v), _SEXP: exponent}
        parts.append(rows.assign(**{_S: c, _SPART: context.partitionId(), _SPOS: picked, _SSIZE: m}, **extra))
    return pd.concat(parts, ignore_index=True)


def _positive_scaled(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The positive finite ``values`` scaled by 2 ** -e (0 for the others) and
    e, the exponent of the largest of them (0 without any), as the C++ Pareto
    kernel scales them: their sum cannot overflow, and shares are unchanged."""
    good = np.isfinite(values) & (values > 0)
    exponent = math.frexp(float(values[good].max()))[1] if good.any() else 0
    return np.where(good, np.ldexp(np.where(good, values, 0.0), -exponent), 0.0), exponent


def _edges(rows, got, keys: list[str], bins: int) -> tuple[int, dict]:
    """The number of customers of ``rows`` and, for each column of ``keys``,
    the rows (key, id) at ranks k (n-1) // bins, k = 1..bins-1, of the (key,
    id) order: the last row of each bin but the last, as the C++ kernel finds
    them. ``got`` is the Arrow table of the samples of :func:`_samples`.

    Exact without sorting all rows: every partition sorted its own rows and
    sent every g-th of them with its place; for a sampled row x the driver
    knows from them, within g per partition, how many rows come before x, so
    two sampled rows bracket each edge. One Spark job then counts the rows
    before the lower one exactly and collects the few inside the bracket, and
    the driver picks the edge among them."""
    F, _ = _spark()
    c_all = got.column(_S).to_numpy()
    part_all = got.column(_SPART).to_numpy()
    pos_all, size_all = got.column(_SPOS).to_numpy(), got.column(_SSIZE).to_numpy()
    k_all = np.choose(c_all, [got.column(name).to_numpy() for name in keys]) if len(c_all) else c_all
    id_all = _ids(got.column(_ID))
    first = c_all == 0
    n = int(sum(dict(zip(part_all[first].tolist(), size_all[first].tolist())).values()))
    if n < 2:
        return n, {name: [] for name in keys}
    ranks = [k * (n - 1) // bins for k in range(1, bins)]
    brackets = {}  # (column, edge) -> (lower, upper) sampled rows, None for unbounded
    for c, name in enumerate(keys):
        mine = np.flatnonzero(c_all == c)
        ids = id_all[mine] if isinstance(id_all, np.ndarray) else [id_all[i] for i in mine]
        order = mine[_sorted_pairs(k_all[mine], ids)]
        below = np.zeros(len(order), dtype=np.int64)  # rows surely before each sampled row
        upto = np.zeros(len(order), dtype=np.int64)  # rows possibly before it
        for p in np.unique(part_all[order]):
            idx = np.flatnonzero(part_all[order] == p)  # p's samples, in the global order
            pos, size = pos_all[order][idx], size_all[order][idx][0]
            t = np.searchsorted(idx, np.arange(len(order)), side="left")  # p's samples before each
            below += np.where(t > 0, pos[np.maximum(t - 1, 0)] + 1, 0)
            upto += np.where(t < len(idx), pos[np.minimum(t, len(idx) - 1)], size)
        sampled = [(int(k_all[i]), id_all[i].item() if isinstance(id_all, np.ndarray) else id_all[i])
                   for i in order]
        for e, r in enumerate(ranks):
            low = int(np.searchsorted(upto, r, side="right")) - 1  # last with surely <= r rows before it
            high = int(np.searchsorted(below, r + 1, side="left"))  # first with surely > r rows before it
            brackets[c, e] = (sampled[low] if low >= 0 else None, sampled[high] if high < len(sampled) else None)
    if not ranks:
        return n, {name: [] for name in keys}
    inside = []
    for (c, _e), (lo, hi) in brackets.items():
        cond = F.lit(True)
        if lo is not None:
            cond = cond & ~_row_before(keys[c], lo)
        if hi is not None:
            cond = cond & _row_before(keys[c], hi)
        inside.append(cond)
    # One job: the exact count below each bracket and the rows inside any.
    counted = rows.agg(*[F.count_if(_row_before(keys[c], lo) if lo is not None else F.lit(False)).alias(f"n{c}_{e}")
                         for (c, e), (lo, _) in brackets.items()],
                       F.collect_list(F.when(functools.reduce(lambda a, b: a | b, inside),
                                             F.struct(_ID, *keys))).alias("near")).first()
    counts, near = counted, counted["near"]
    edges: dict = {name: [] for name in keys}
    for (c, e), (lo, hi) in brackets.items():
        name = keys[c]
        pairs = [(row[name], row[_ID]) for row in near
                 if (lo is None or lo <= (row[name], row[_ID])) and (hi is None or (row[name], row[_ID]) < hi)]
        pairs.sort()
        at = ranks[e] - counts[f"n{c}_{e}"]
        if not 0 <= at < len(pairs):  # cannot happen: the bracket's bounds are proven above
            raise RuntimeError(f"rfm: the edge of rank {ranks[e]} of {name} fell outside its bracket")
        edges[name].append(pairs[at])
    return n, edges


def _scores(base, got, keys: dict, bins: int, ties: str):
    """``base`` with the 1..bins score of each key column (name -> score name),
    as crmcore's C++ kernel gives it: 1 + the number of bin edges before the
    row in the (key, id) order (``ties="min"``: edges of a smaller key only),
    pandas' qcut of the rank. The edges come from :func:`_edges` (``got``: the
    samples); each row is scored where it is, against them."""
    F, _ = _spark()
    n, edges = _edges(base, got, list(keys), bins)
    out = base
    for key, name in keys.items():
        if n < 2 or bins == 1:
            score = F.lit(1)
        else:
            score = functools.reduce(lambda a, b: a + b, [
                _edge_before_row(key, edge, ties == "first").cast("int") for edge in edges[key]], F.lit(1))
        out = out.withColumn(name, score.cast("byte"))
    return out


def _abc_bounds(got, key: str, value: str) -> tuple[list, np.ndarray, np.ndarray, int, float]:
    """From the samples of :func:`_samples` (one key column, with ``value``'s
    sums): the sampled rows (key, id, value) in the global (key, id) order, the
    lowest and highest the sum before each can be (of the positive finite
    values of every customer before it, all partitions), the exponent e of the
    largest positive value and their total, both sums and total scaled by
    2 ** -e as the C++ kernel scales them."""
    part = got.column(_SPART).to_numpy()
    exp_p = got.column(_SEXP).to_numpy()
    total_p = got.column(_STOTAL).to_numpy()
    positive = total_p > 0
    exponent = int(exp_p[positive].max()) if positive.any() else 0
    # Every partition's sums in the common scale (a power of two: exact but for underflow).
    scale = np.ldexp(1.0, (exp_p - exponent).astype(np.int64))
    total = math.fsum(dict(zip(part.tolist(), (total_p * scale).tolist())).values())
    ids = _ids(got.column(_ID))
    keys = got.column(key).to_numpy()
    order = _sorted_pairs(keys, ids)
    before = (got.column(_SBEFORE).to_numpy() * scale)[order]
    v = np.where(np.isfinite(got.column(value).to_numpy()) & (got.column(value).to_numpy() > 0),
                 got.column(value).to_numpy(), 0.0)
    own = (np.ldexp(v, -exponent))[order]  # a sample's own scaled value
    low, high = np.zeros(len(order)), np.zeros(len(order))
    part_o = part[order]
    for p in np.unique(part_o):
        idx = np.flatnonzero(part_o == p)  # p's samples, in the global order
        t = np.searchsorted(idx, np.arange(len(order)), side="left")  # p's samples before each
        # At least p's rows up to its last sample before; at most those before its next one.
        low += np.where(t > 0, (before + own)[idx][np.maximum(t - 1, 0)], 0.0)
        whole = total_p[order][idx][0] * scale[order][idx][0]
        high += np.where(t < len(idx), before[idx][np.minimum(t, len(idx) - 1)], whole)
    rows = [(int(keys[i]), ids[i].item() if isinstance(ids, np.ndarray) else ids[i], float(v[i])) for i in order]
    return rows, low, high, exponent, total


def _abc_boundaries(rows, got, key: str, value: str, cutoffs: list) -> tuple[int, float, list]:
    """The scale exponent, the total and, for each ABC cut-off c, the first
    customer (key, id) in the (key, id) order with a positive value whose
    share before it (the positive values of everyone before, over the total)
    reaches c - 1e-12, as the C++ kernel tests it; None where there is none.
    A customer's class is then the number of these at or before it.

    Found as the bins' edges are (:func:`_edges`): two sampled customers
    bracket each boundary by the bounds of the sums before them, one Spark job
    sums the values below each bracket and collects the rows inside, and the
    driver walks them in order."""
    F, _ = _spark()
    sampled, low, high, exponent, total = _abc_bounds(got, key, value)
    if total <= 0:
        return exponent, total, [None] * len(cutoffs)
    brackets = []
    slack = 1e-9  # the bounds are float sums: keep clear of their rounding
    for c in cutoffs:
        limit = c - 1e-12
        surely_below = np.flatnonzero(high * (1 + slack) / total < limit)
        surely_above = np.flatnonzero(low * (1 - slack) / total >= limit)
        lo = sampled[surely_below[-1]][:2] if len(surely_below) else None
        hi = sampled[surely_above[0]][:2] if len(surely_above) else None
        brackets.append((lo, hi))
    scaled = F.when(_finite(value) & (F.col(value) > 0), F.col(value) * F.lit(math.ldexp(1.0, -exponent)))
    inside = []
    for lo, hi in brackets:
        cond = F.lit(True)
        if lo is not None:
            cond = cond & ~_row_before(key, lo)
        if hi is not None:
            cond = cond & ~_edge_before_row(key, hi)
        inside.append(cond)
    # One job: the sum below each bracket and the rows inside any.
    counted = rows.agg(*[F.sum(F.when(_row_before(key, lo), scaled) if lo is not None else F.lit(0.0)).alias(f"s{j}")
                         for j, (lo, _) in enumerate(brackets)],
                       F.collect_list(F.when(functools.reduce(lambda a, b: a | b, inside),
                                             F.struct(key, _ID, scaled.alias("v")))).alias("near")).first()
    near = sorted((row[key], row[_ID], row["v"] or 0.0) for row in counted["near"])
    found: list = []
    for j, (c, (lo, hi)) in enumerate(zip(cutoffs, brackets)):
        before = counted[f"s{j}"] or 0.0
        edge = None
        for k, i, v in near:
            if (lo is not None and (k, i) < lo) or (hi is not None and (k, i) > hi):
                continue
            if v > 0 and before / total >= c - 1e-12:
                edge = (k, i)
                break
            before += v
        found.append(edge)
    return exponent, total, found


def _finite(value: str):
    F, _ = _spark()
    return ~F.isnan(value) & (F.abs(value) != float("inf"))


def _abc_classes(rows, got, key: str, value: str, cutoffs: list):
    """``rows`` (one per customer, with the order ``key`` of :func:`_samples`)
    with ``_crm_share`` (the share of the total positive ``value``) and
    ``_crm_abc``, the ABC classes of crmcore's Pareto kernel without a sort of
    all customers: a customer with a positive value is in the class of the
    number of boundaries (:func:`_abc_boundaries`) at or before it, one
    without in the last, one whose value is not finite in none."""
    F, _ = _spark()
    exponent, total, found = _abc_boundaries(rows, got, key, value, cutoffs)
    labels = [chr(ord("A") + i) for i in range(len(cutoffs) + 1)]
    passed = functools.reduce(lambda a, b: a + b, [(~_row_before(key, edge)).cast("int")
                                                    for edge in found if edge is not None], F.lit(0))
    cells = F.create_map(*[x for i, label in enumerate(labels) for x in (F.lit(i), F.lit(label))])
    finite, positive = _finite(value), F.col(value) > 0
    cls = F.when(~finite, F.lit(None)).when(positive, cells[passed]).otherwise(F.lit(labels[-1]))
    scaled = F.col(value) * F.lit(math.ldexp(1.0, -exponent))
    share = (F.when(~finite, F.lit(float("nan"))).when(positive & F.lit(total > 0), scaled / F.lit(total or 1.0))
             .otherwise(F.lit(0.0)))
    return rows.select("*", share.alias("_crm_share"), cls.alias("_crm_abc"))
