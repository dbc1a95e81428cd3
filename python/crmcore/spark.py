"""crmcore's customer analyses on Spark DataFrames (``pip install 'crmcore[spark]'``).

The functions take a Spark DataFrame of transactions (one row per purchase:
customer id, time, amount, ...) and return Spark DataFrames, one row per
customer. The per-customer work runs in crmcore's C++ kernels inside Spark:
the rows are hash-partitioned by customer, so every customer's purchases sit
in one partition, and each partition goes through the same kernel as the
in-process function (:func:`crmcore.scoring.rfm`, :func:`crmcore.scoring.profit`,
:func:`crmcore.scoring.profit_tiers`,
:func:`crmcore.clv.summary_data_from_transaction_data`) as Arrow batches
(``mapInArrow``), without a pandas round trip on the driver.

What depends on all customers at once is done the way Spark does it at
scale, and gives the single-process result:

- the quantile scores of RFM need only the bins' edges, the customers at
  ranks k (n-1) / bins of each order (the C++ kernel's rule): every
  partition sorts its own customers and sends a sample with their places,
  which brackets each edge within a few thousand customers; Spark counts
  the customers below each bracket and collects the few inside, the driver
  picks the edges, and every customer is scored where it is against them.
  No sort of all customers, and the scores of the in-process function,
  ties included;
- the ABC classes of :func:`profit` need only the customers where the
  share of profit before them crosses each cut-off: found the same way
  (each partition's sample carries the sums of profit before its sampled
  customers, so two of them bracket each crossing; one job sums the profit
  below the brackets and collects the customers inside), and every customer
  is classed where it is. No sort of all customers;
- the ranks of :func:`profit_tiers` are every customer's place in the
  whole order, which only a full order gives: they (and its classes and
  cumulative shares) come from a distributed sort, with the profit before
  each customer summed per partition and offset by the partitions before it;
- the lifetime-value fits (:func:`fit_clv`) read a customer only through
  (frequency, recency, T) (and Gamma-Gamma through (frequency, mean spend)),
  so Spark counts the distinct tuples and the driver fits on those counts as
  weights: the same likelihood as one row per customer, in a collect whose
  size is the number of distinct tuples (thousands for whole days or weeks),
  not the number of customers, and the same parameters as the in-process fit.
  Predictions (:func:`predict_clv`) run per partition with the fitted models;
- product affinity (:func:`product_affinity`) mines each partition of
  orders with the C++ kernel, counts the candidates it found in every
  partition, and makes the rules of the exact totals with the same kernel.

Times are Spark ``timestamp`` columns (read as UTC), ``timestamp_ntz``
(a wall time without a zone, as Spark reads a Parquet file written by pandas
or pyarrow with naive times: read as a UTC time, whatever the session's time
zone, as the in-process functions read naive times) or ``date`` columns. Missing
customer ids, times or amounts are refused with a
:class:`crmcore.ValidationError` naming the column and a customer, as the
in-process functions refuse them.

The examples of the functions run against a local Spark session named
``spark`` (``tests/python/test_spark.py`` runs them in one).
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from ._args import _integer, _invalid
from ._core import ValidationError
from ._spark_edges import (_ID, _S, _SBEFORE, _SEXP, _SPART, _SPOS, _SSIZE, _STOTAL, _abc_classes, _finite,
                           _order_keys, _sample_count, _samples, _scores, _spark)

__all__ = ["clv_summary", "fit_clv", "predict_clv", "product_affinity", "profit", "profit_tiers", "rfm"]

_NS_PER_MICRO = 1_000
_MICROS_PER_DAY = 86_400 * 10**6
# The column names used between the stages; the user's names come back at the end.
_T, _V, _P = "_crm_t", "_crm_v", "_crm_product"
_POS, _PID, _IDX, _BEFORE = "_crm_pos", "_crm_pid", "_crm_idx", "_crm_before"


@contextlib.contextmanager
def _arrow_udfs():
    """pyspark checks the pandas version whenever an Arrow UDF is declared and
    warns about pandas 3; crmcore's UDFs exchange Arrow batches and never use
    pyspark's pandas conversions, so that warning does not apply here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


def _micros(sdf, name: str, where: str):
    """The column ``name`` as int64 microseconds since the epoch: a timestamp
    as its UTC instant, a wall time (timestamp_ntz) as that time in UTC, a
    date as its midnight (UTC)."""
    F, T = _spark()
    col = _column(sdf, name, where)
    kind = sdf.schema[name].dataType
    if isinstance(kind, T.DateType):
        return F.unix_date(col).cast("long") * _MICROS_PER_DAY
    if isinstance(kind, T.TimestampType):
        return F.unix_micros(col)
    if isinstance(kind, T.TimestampNTZType):
        # A wall time without a zone (what Spark reads from a Parquet timestamp
        # that pandas or pyarrow wrote without one) is read as UTC, as the
        # in-process functions read a naive time. Built from its fields: a cast
        # to timestamp would read it in the session's time zone instead.
        seconds = (F.hour(col) * 3600 + F.minute(col) * 60).cast("long")
        return (F.unix_date(F.to_date(col)).cast("long") * _MICROS_PER_DAY + seconds * 10**6
                + (F.extract(F.lit("SECOND"), col) * 10**6).cast("long"))
    raise _invalid(where, name, f"must be a Spark timestamp or date column, got {kind.simpleString()}")


def _column(sdf, name: str, where: str):
    F, _ = _spark()
    if name not in sdf.columns:
        raise ValidationError(f"{where}: no column {name!r} (columns: {', '.join(sdf.columns)})")
    return F.col(name)


def _checked_latest(prepared, values: Sequence[str], where: str) -> int | None:
    """One pass over the prepared transactions: refuses a missing customer id,
    time or value (null, NaN or infinite: as the in-process functions, which
    name the row, this names the column and the smallest customer id with it)
    and returns the latest time in microseconds (None without rows)."""
    F, _ = _spark()
    bad = {_ID: F.col(_ID).isNull(), _T: F.col(_T).isNull()}
    for v in values:
        bad[v] = F.col(v).isNull() | F.isnan(v) | (F.abs(v) == float("inf"))
    aggs = [F.max(_T)]
    for cond in bad.values():
        aggs += [F.count_if(cond), F.min(F.when(cond, F.col(_ID)))]
    row = prepared.agg(*aggs).first()
    for k, name in enumerate(bad):
        if row[1 + 2 * k]:
            who = "" if name == _ID else f" of customer {row[2 + 2 * k]!r}"
            field = {_ID: "the customer id", _T: "its time"}.get(name, f"'{name}'")
            raise ValidationError(f"{where}: {row[1 + 2 * k]} transaction(s){who} miss {field} "
                                  f"(null{'' if name in (_ID, _T) else ', NaN or infinite'})")
    return row[0]


def _as_of_micros(as_of: Any, latest: int | None, where: str | None = None) -> int:
    """``as_of`` in microseconds: the given point, or the default of every
    in-process analysis, midnight after the latest purchase."""
    from .scoring._columns import as_of_ns, end_of_data

    given = as_of_ns(as_of, where=where)
    if given is None:
        end = None if latest is None else end_of_data(np.array([latest * _NS_PER_MICRO], dtype=np.int64))
        given = 0 if end is None else end
    return int(given) // _NS_PER_MICRO


def _frame(table) -> pd.DataFrame:
    """A partition's Arrow table as the frame the in-process functions take
    (its missing values were refused before, by :func:`_checked_latest`)."""
    frame = table.to_pandas()
    # A view of the nanoseconds as datetime64: pd.to_datetime of the integers
    # parses them one by one (a quarter of a worker's time in RFM).
    frame[_T] = (frame[_T].to_numpy(dtype=np.int64) * _NS_PER_MICRO).view("datetime64[ns]")
    return frame


def _per_customer(prepared, work: Callable[[Any], pd.DataFrame], fields: list, partitions: int | None):
    """Runs ``work`` (a partition's Arrow table -> a frame of one row per
    customer, column ``_ID`` plus ``fields``) on every partition of the
    transactions hash-partitioned by customer, so each customer is whole in
    one partition. ``fields`` are (name, Spark type) of the output beside the id."""
    _, T = _spark()
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = T.StructType([T.StructField(_ID, prepared.schema[_ID].dataType)] +
                          [T.StructField(n, t) for n, t in fields])
    arrow_schema = to_arrow_schema(schema)
    parts = prepared.repartition(partitions, _ID) if partitions else prepared.repartition(_ID)

    def run(batches: Iterator) -> Iterator:
        import pyarrow as pa

        whole = list(batches)  # the partition: its customers are whole only all together
        if not whole or not sum(b.num_rows for b in whole):
            return
        out = work(pa.Table.from_batches(whole))
        yield from pa.Table.from_pandas(out, schema=arrow_schema, preserve_index=False).to_batches()

    with _arrow_udfs():
        return parts.mapInArrow(run, schema)


def _prepare(tx, customer: str, date: str, values: Sequence[str], where: str):
    """The transactions as (_ID, _T in microseconds, value columns as doubles)."""
    cols = [_column(tx, customer, where).alias(_ID), _micros(tx, date, where).alias(_T)]
    cols += [_column(tx, v, where).cast("double").alias(v) for v in values]
    return tx.select(*cols)


def _ordered(frame, order: list, value: str | None = None):
    """``frame`` with each row's 0-based position ``_POS`` in the global order
    ``order`` (which must be total: end it with the id) and, given ``value``,
    ``_BEFORE``: the sum of ``value`` over every row before it.

    A distributed sort puts the rows in range partitions, numbered inside each
    partition (``monotonically_increasing_id`` holds the partition in its
    upper bits and the row's place in the lower 33); the counts and totals per
    partition (one row each) give every partition's offset. The numbered rows
    are checkpointed, so the offsets and the rows they are added to come from
    the same sort."""
    F, _ = _spark()
    from pyspark.sql import Window

    pid = F.spark_partition_id()
    local = F.monotonically_increasing_id() - F.shiftleft(pid.cast("long"), 33)
    numbered = frame.orderBy(*order).select("*", pid.alias(_PID), local.alias(_IDX)).localCheckpoint(eager=True)
    agg = [F.count(F.lit(1)).alias("n")] + ([F.sum(value).alias("s")] if value else [])
    totals = sorted(tuple(r) for r in numbered.groupBy(_PID).agg(*agg).collect())
    offsets, rows_before, sums_before = [], 0, []  # type: list[tuple], int, list[float]
    for t in totals:
        offsets.append((t[0], rows_before, math.fsum(sums_before)))
        rows_before += t[1]
        if value:
            sums_before.append(t[2])
    table = frame.sparkSession.createDataFrame(offsets, f"{_PID} int, _crm_rows long, _crm_sum double")
    out = numbered.join(F.broadcast(table), _PID).withColumn(_POS, F.col("_crm_rows") + F.col(_IDX))
    if value:
        # The rows' own partition before them, in their order (a window per sorted partition).
        inside = Window.partitionBy(_PID).orderBy(_IDX).rowsBetween(Window.unboundedPreceding, -1)
        out = out.withColumn(_BEFORE, F.col("_crm_sum") + F.coalesce(F.sum(value).over(inside), F.lit(0.0)))
    return out.drop(_PID, _IDX, "_crm_rows", "_crm_sum")


def _rename(frame, customer: str):
    return frame.withColumnRenamed(_ID, customer)


def rfm(tx, customer: str = "customer_id", date: str = "date", amount: str = "amount", as_of: Any = None,
        bins: int = 5, segments: Sequence | None = None, ties: str = "first", partitions: int | None = None):
    """Recency, frequency and monetary value per customer, scored 1..bins, on Spark.

    The result of :func:`crmcore.scoring.rfm` as a Spark DataFrame: one row
    per customer with ``customer`` (the id), ``recency`` (days from the last
    purchase to ``as_of``), ``frequency``, ``monetary``, ``last_purchase``
    (timestamp), ``r_score``, ``f_score``, ``m_score`` and ``segment`` (the
    name of :func:`crmcore.scoring.segment`'s grid). ``tx`` has one row per
    purchase; ``customer``, ``date`` and ``amount`` name its columns.
    ``as_of`` defaults to midnight (UTC) after the latest purchase; later
    purchases are ignored. The scores rank all customers, with the same
    ``bins`` and ``ties`` rules as in process (the bins' edges are found
    exactly without sorting all customers; see the module's notes). ``partitions``
    sets how many partitions the transactions are hashed into (default:
    ``spark.sql.shuffle.partitions``).

    >>> import pyarrow as pa
    >>> tx = spark.createDataFrame(pa.table({"customer_id": [1, 1, 2],
    ...     "date": pa.array(pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"])),
    ...     "amount": [10.0, 5.0, 40.0]}))
    >>> [(r.customer_id, r.recency, r.r_score, r.segment) for r in rfm(tx).orderBy("customer_id").collect()]
    [(1, 1.0, 5, 'champions'), (2, 30.0, 1, 'lost')]
    """
    from .scoring import rfm as _in_process, segment

    F, T = _spark()
    bins = _integer(bins, "rfm", "bins", low=1, high=100)
    if ties not in ("first", "min"):
        raise _invalid("rfm", "ties", f"must be 'first' or 'min', got {ties!r}")
    prepared = _prepare(tx, customer, date, [amount], "rfm")
    # Without as_of nothing is left out: each partition runs to its own end,
    # and the one point of all (midnight after the latest purchase) is
    # found afterwards from the partitions' latest purchases.
    given = None if as_of is None else pd.Timestamp(_as_of_micros(as_of, None, "rfm") * _NS_PER_MICRO)
    keys = ["_crm_rk", "_crm_fk", "_crm_mk"]
    count = _sample_count()

    def work(table):
        # Missing values are refused by the driver's check when this fails (below).
        if (table.column(_ID).null_count or table.column(_T).null_count
                or not np.isfinite(table.column(amount).to_numpy(zero_copy_only=False)).all()):
            raise ValueError("rfm: a transaction misses its customer, time or amount")
        frame = _frame(table)
        with warnings.catch_warnings():
            # An overflowed total is reported as inf in the result, as in process.
            warnings.simplefilter("ignore")
            r = _in_process(frame, _ID, _T, amount, as_of=given)
        last = r["last_purchase"].to_numpy().astype("datetime64[ns]").view(np.int64) // _NS_PER_MICRO
        out = pd.DataFrame({_ID: r.index.to_numpy(), "frequency": r["frequency"].to_numpy(dtype=np.int64),
                            "monetary": r["monetary"].to_numpy(), "last": last,
                            # The scores' orders as int64 keys, so Spark compares them exactly as the
                            # kernel: recency (cut - last in days) orders as the last purchase, whose
                            # microseconds stay distinct as days.
                            "_crm_rk": last, "_crm_fk": _order_keys(r["frequency"].to_numpy(dtype=float), True),
                            "_crm_mk": _order_keys(r["monetary"].to_numpy(), True)})
        return _samples(out, keys, count)

    fields = [("frequency", T.LongType()), ("monetary", T.DoubleType()), ("last", T.LongType())] + \
        [(k, T.LongType()) for k in keys] + [(_S, T.IntegerType()), (_SPART, T.IntegerType()),
                                             (_SPOS, T.LongType()), (_SSIZE, T.LongType())]
    try:
        base = _per_customer(prepared, work, fields, partitions).localCheckpoint(eager=True)
    except Exception:
        _checked_latest(prepared, [amount], "rfm")  # names the column and a customer
        raise
    got = base.where(F.col(_S) >= 0).select(_S, _SPART, _SPOS, _SSIZE, _ID, *keys).toArrow()
    customers = base.where(F.col(_S) < 0)
    if given is None:
        # The latest purchase is the last sample of some partition in the order of last purchases.
        latest = got.column("_crm_rk").to_numpy()[got.column(_S).to_numpy() == 0]
        cut = _as_of_micros(None, int(latest.max()) if len(latest) else None)
    else:
        cut = _as_of_micros(as_of, None, "rfm")
    cut_ns = F.lit(cut * _NS_PER_MICRO)
    customers = customers.withColumn(
        "recency", (cut_ns - F.col("last") * _NS_PER_MICRO).cast("double") / F.lit(float(_MICROS_PER_DAY * 1000)))
    out = _scores(customers, got, {"_crm_rk": "r_score", "_crm_fk": "f_score", "_crm_mk": "m_score"}, bins, ties)
    # The segment grid is small ((bins+1)^2 cells): crmcore names every cell once, Spark looks it up.
    r_grid, f_grid = np.meshgrid(np.arange(1, bins + 1), np.arange(1, bins + 1), indexing="ij")
    names = segment(r_grid.ravel(), f_grid.ravel(), bins, segments)
    cells = F.create_map(*[x for r, f, s in zip(r_grid.ravel(), f_grid.ravel(), names)
                           for x in (F.lit(int(r) * (bins + 1) + int(f)), F.lit(str(s)))])
    out = out.withColumn("segment", cells[F.col("r_score").cast("int") * (bins + 1) + F.col("f_score")])
    out = out.select(_ID, "recency", "frequency", "monetary", F.timestamp_micros("last").alias("last_purchase"),
                     "r_score", "f_score", "m_score", "segment")
    return _rename(out, customer)


def _pareto(base, value: str, cutoffs: list):
    """``base`` with the columns of crmcore's Pareto kernel over ``value``:
    ``_crm_rank`` (1 = largest; equal values by ascending id; +inf first,
    -inf and then NaN last), ``_crm_share`` of the total positive value,
    ``_crm_cum_share`` (this customer and all ranked above) and ``_crm_abc``
    (the first class whose cut-off the share *before* the customer has not
    reached, so the customer who crosses 80% is still an A; none for a value
    that is not finite). The share before each customer is summed over a
    distributed sort (:func:`_ordered`)."""
    F, _ = _spark()
    finite = _finite(value)
    top = base.where(finite & (F.col(value) > 0)).agg(F.max(value)).first()[0]
    # As the C++ kernel: positive values scaled by a power of two so that their
    # total cannot overflow (shares are unchanged by it).
    exponent = math.frexp(top)[1] if top else 0
    scaled = F.when(finite & (F.col(value) > 0), F.col(value) * F.lit(math.ldexp(1.0, -exponent))).otherwise(0.0)
    base = base.withColumn(_V, scaled)
    total = math.fsum(r[1] for r in base.groupBy(F.spark_partition_id()).agg(F.sum(_V)).collect())
    order = [F.when(F.isnan(value), 1).otherwise(0), F.col(value).desc(), F.col(_ID)]
    ranked = _ordered(base, order, _V)
    share_before = F.col(_BEFORE) / F.lit(total) if total > 0 else F.lit(0.0)
    labels = [chr(ord("A") + i) for i in range(len(cutoffs) + 1)]
    cls = F.lit(labels[-1])
    for c, label in reversed(list(zip(cutoffs, labels))):
        # The same tolerance as the kernel: an exact 0.8 is not read as 0.8000000001.
        cls = F.when(share_before < c - 1e-12, F.lit(label)).otherwise(cls)
    cls = F.when(~finite, F.lit(None)).when(F.col(_V) > 0, cls).otherwise(F.lit(labels[-1]))
    nan = F.lit(float("nan"))
    share = F.when(~finite, nan).otherwise(F.col(_V) / F.lit(total) if total > 0 else F.lit(0.0))
    cum = F.when(~finite, nan).otherwise((F.col(_BEFORE) + F.col(_V)) / F.lit(total) if total > 0 else F.lit(0.0))
    return ranked.select("*", (F.col(_POS) + 1).alias("_crm_rank"), share.alias("_crm_share"),
                         cum.alias("_crm_cum_share"), cls.alias("_crm_abc"))


_KEY = "_crm_pk"


def profit(tx, customer: str = "customer_id", date: str = "date", amount: str = "amount", cost: str = "cost",
           abc: Sequence[float] = (0.8, 0.95), as_of: Any = None, partitions: int | None = None):
    """Each customer's profit contribution and Pareto (ABC) class, on Spark.

    The result of :func:`crmcore.scoring.profit` as a Spark DataFrame: one row
    per customer with ``orders``, ``revenue``, ``cost``, ``profit``,
    ``margin``, ``first_purchase``, ``last_purchase`` (timestamps), ``share``
    of the total positive profit and ``abc`` ("A" = the top customers making
    the first ``abc[0]`` of profit, "B" up to ``abc[1]``, "C" the rest and
    everyone without positive profit; missing for a total that overflowed).
    ``tx`` has one row per purchase; ``customer``, ``date``, ``amount`` and
    ``cost`` name its columns; ``as_of`` and ``partitions`` as in :func:`rfm`.
    Totals per customer are summed in C++ per partition; the classes are found
    without sorting all customers (see the module's notes), with equal
    profits ordered by id as in process. The profit before a customer at a
    cut-off is summed in another order than in process, so a share within
    rounding of a cut-off could be classed differently.

    >>> import pyarrow as pa
    >>> tx = spark.createDataFrame(pa.table({"customer_id": [1, 1, 2],
    ...     "date": pa.array(pd.to_datetime(["2024-01-01"] * 3)),
    ...     "amount": [10.0, 20.0, 5.0], "cost": [6.0, 12.0, 1.0]}))
    >>> [(r.customer_id, r.profit, r.share, r.abc) for r in profit(tx).orderBy("customer_id").collect()]
    [(1, 12.0, 0.75, 'A'), (2, 4.0, 0.25, 'A')]
    """
    from .scoring import profit as _in_process
    from .scoring.profit import _cutoffs

    F, T = _spark()
    cutoffs = _cutoffs("profit", abc)
    prepared = _prepare(tx, customer, date, [amount, cost], "profit")
    cut = _as_of_micros(as_of, _checked_latest(prepared, [amount, cost], "profit"), "profit")
    cut_ts = pd.Timestamp(cut * _NS_PER_MICRO)
    count = _sample_count()

    def work(table):
        frame = _frame(table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflowed totals are reported as inf, as in process
            p = _in_process(frame, _ID, _T, amount, cost, as_of=cut_ts)
        micros = {k: p[f"{k}_purchase"].to_numpy().astype("datetime64[ns]").view(np.int64) // _NS_PER_MICRO
                  for k in ("first", "last")}
        profits = p["profit"].to_numpy()
        out = pd.DataFrame({_ID: p.index.to_numpy(), "orders": p["orders"].to_numpy(dtype=np.int64),
                            "revenue": p["revenue"].to_numpy(), "cost": p["cost"].to_numpy(),
                            "profit": profits, "margin": p["margin"].to_numpy(),
                            "first": micros["first"], "last": micros["last"],
                            # The Pareto order as an int64 key: largest first, NaN last.
                            _KEY: ~_order_keys(profits, True)})
        return _samples(out, [_KEY], count, "profit")

    fields = [("orders", T.LongType()), ("revenue", T.DoubleType()), ("cost", T.DoubleType()),
              ("profit", T.DoubleType()), ("margin", T.DoubleType()), ("first", T.LongType()),
              ("last", T.LongType()), (_KEY, T.LongType()), (_S, T.IntegerType()), (_SPART, T.IntegerType()),
              (_SPOS, T.LongType()), (_SSIZE, T.LongType()), (_SBEFORE, T.DoubleType()),
              (_STOTAL, T.DoubleType()), (_SEXP, T.IntegerType())]
    base = _per_customer(prepared, work, fields, partitions).localCheckpoint(eager=True)
    got = base.where(F.col(_S) >= 0).select(_ID, _KEY, "profit", _SPART, _SPOS, _SSIZE, _SBEFORE, _STOTAL,
                                            _SEXP).toArrow()
    ranked = _abc_classes(base.where(F.col(_S) < 0), got, _KEY, "profit", cutoffs)
    out = ranked.select(_ID, "orders", "revenue", "cost", "profit", "margin",
                        F.timestamp_micros("first").alias("first_purchase"),
                        F.timestamp_micros("last").alias("last_purchase"), F.col("_crm_share").alias("share"),
                        F.col("_crm_abc").alias("abc"))
    return _rename(out, customer)


def profit_tiers(tx, customer: str = "customer_id", date: str = "date", amount: str = "amount", cost: str = "cost",
                 freq: str = "Y", period: Any = None, abc: Sequence[float] = (0.8, 0.95), vip_top: float = 0.10,
                 super_top: float = 0.01, as_of: Any = None, partitions: int | None = None):
    """Tiers every customer by the profit of the last year (or quarter, month:
    ``freq``) before ``as_of``, on Spark.

    The result of :func:`crmcore.scoring.profit_tiers` as a Spark DataFrame:
    one row per customer who bought up to the end of the window, with
    ``profit`` in the window (0 when silent in it), ``contribution`` (share of
    the window's total positive profit), ``cum_contribution``, ``rank`` (1 =
    largest; equal profits by ascending id), ``abc`` and ``tier`` ("super"
    for the top ``super_top`` of customers, "VIP" for the rest of the top
    ``vip_top``, "normal" otherwise; only positive profits are super or VIP).
    ``freq``, ``period``, ``abc``, ``vip_top``, ``super_top`` and ``as_of``
    as there; ``partitions`` as in :func:`rfm`. The window's profit per
    customer is summed in C++ per partition, the ranks and shares over a
    distributed sort.

    >>> import pyarrow as pa
    >>> tx = spark.createDataFrame(pa.table({"customer_id": [1, 2, 3],
    ...     "date": pa.array(pd.to_datetime(["2024-01-01"] * 3)),
    ...     "amount": [100.0, 20.0, 5.0], "cost": [20.0, 10.0, 4.0]}))
    >>> [r.tier for r in profit_tiers(tx, vip_top=0.5, super_top=0.2).orderBy("customer_id").collect()]
    ['super', 'VIP', 'normal']
    """
    from .scoring import profit_tiers as _in_process
    from .scoring.profit import _cutoffs

    F, T = _spark()
    cutoffs = _cutoffs("profit_tiers", abc)
    prepared = _prepare(tx, customer, date, [amount, cost], "profit_tiers")
    cut_ts = pd.Timestamp(_as_of_micros(as_of, _checked_latest(prepared, [amount, cost], "profit_tiers"), "profit_tiers")
                          * _NS_PER_MICRO)

    def window_profit(frame):
        return _in_process(frame, _ID, _T, amount, cost, freq=freq, period=period, abc=cutoffs, vip_top=vip_top,
                           super_top=super_top, as_of=cut_ts)

    # The arguments (freq, period, vip_top, ...) are checked here, on one made-up row, not on the workers.
    window_profit(pd.DataFrame({_ID: [0], _T: [cut_ts], amount: [0.0], cost: [0.0]}))

    def work(table):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an overflowed profit is reported as inf, as in process
            p = window_profit(_frame(table))
        return pd.DataFrame({_ID: p.index.to_numpy(), "profit": p["profit"].to_numpy()})

    base = _per_customer(prepared, work, [("profit", T.DoubleType())], partitions).localCheckpoint(eager=True)
    n = base.count()
    ranked = _pareto(base, "profit", cutoffs)
    rank, positive = F.col("_crm_rank"), F.col("profit") > 0
    tier = (F.when(~_finite("profit"), F.lit(None))
            .when(positive & (rank <= math.ceil(super_top * n)), F.lit("super"))
            .when(positive & (rank <= math.ceil(vip_top * n)), F.lit("VIP")).otherwise(F.lit("normal")))
    out = ranked.select(_ID, "profit", F.col("_crm_share").alias("contribution"),
                        F.col("_crm_cum_share").alias("cum_contribution"), rank.alias("rank"),
                        F.col("_crm_abc").alias("abc"), tier.alias("tier"))
    return _rename(out, customer)


def clv_summary(tx, customer: str = "customer_id", date: str = "date", amount: str | None = None,
                observation_period_end: Any = None, freq: str = "D", freq_multiplier: float = 1,
                include_first_transaction: bool = False, partitions: int | None = None):
    """Frequency, recency, T (and mean repeat spend) per customer, on Spark.

    The result of :func:`crmcore.clv.summary_data_from_transaction_data` (the
    lifetimes summary) as a Spark DataFrame: one row per customer with
    ``frequency``, ``recency``, ``T`` and, given ``amount``,
    ``monetary_value``; the same ``freq``, ``freq_multiplier`` and
    ``include_first_transaction``. ``observation_period_end`` defaults to the
    latest transaction. Each partition's customers are summarized by the C++
    kernel; ``partitions`` as in :func:`rfm`.

    >>> import pyarrow as pa
    >>> tx = spark.createDataFrame(pa.table({"id": [1, 1, 2],
    ...     "date": pa.array(pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-03"]))}))
    >>> clv_summary(tx, "id", "date").orderBy("id").first()
    Row(id=1, frequency=1.0, recency=4.0, T=4.0)
    """
    from .clv import summary_data_from_transaction_data
    from .clv.utils import _check_periods, _to_ns

    _, T = _spark()
    _check_periods("clv_summary", freq, freq_multiplier)
    values = [amount] if amount else []
    prepared = _prepare(tx, customer, date, values, "clv_summary")
    latest = _checked_latest(prepared, values, "clv_summary")
    if observation_period_end is None:
        end = pd.Timestamp(0 if latest is None else latest * _NS_PER_MICRO)
    else:
        end = pd.Timestamp(int(_to_ns([observation_period_end])[0]))

    def work(table):
        frame = _frame(table)
        s = summary_data_from_transaction_data(frame, _ID, _T, amount, observation_period_end=end, freq=freq,
                                               freq_multiplier=freq_multiplier,
                                               include_first_transaction=include_first_transaction)
        s.index.name = _ID
        return s.reset_index()

    fields = [(n, T.DoubleType()) for n in ["frequency", "recency", "T"] + (["monetary_value"] if amount else [])]
    return _rename(_per_customer(prepared, work, fields, partitions), customer)


def _distinct(summary, columns: list, where=None):
    """The distinct tuples of ``columns`` with their counts, sorted (so a fit
    reads them in one order whatever the partitions), as numpy arrays."""
    F, _ = _spark()
    frame = summary if where is None else summary.where(where)
    table = frame.groupBy(*columns).agg(F.count(F.lit(1)).alias("_crm_n")).toArrow()
    data = {c: table.column(c).to_numpy() for c in columns + ["_crm_n"]}
    order = np.lexsort([data[c] for c in reversed(columns)])
    return [data[c][order] for c in columns], data["_crm_n"][order].astype(float)


def fit_clv(summary, model: Any = None, spend_model: Any = None, penalizer_coef: float = 0.0):
    """Fits a transaction model and (given ``monetary_value``) Gamma-Gamma on a
    Spark summary of :func:`clv_summary`; returns the two fitted crmcore
    models ``(model, spend_model)`` (``spend_model`` None without spend).

    ``model`` is an unfitted :class:`crmcore.clv.BetaGeoFitter` (default),
    ``ModifiedBetaGeoFitter`` or ``ParetoNBDFitter``; ``spend_model`` a
    :class:`crmcore.clv.GammaGammaFitter` (default). The likelihoods depend on
    a customer only through (frequency, recency, T) and Gamma-Gamma's through
    (frequency, monetary_value) of repeat buyers (those with a positive mean
    spend: the model has no zero spend), so Spark counts the distinct
    tuples and the driver fits on them with the counts as weights: the whole
    population, not a sample, and the parameters of the in-process fit on one
    row per customer. The collect is as large as the number of distinct
    tuples: whole time units bound the triples (CDNOW's 23,570 customers are
    4,681 triples in weeks, 11,104 in days), while spend is continuous, so
    Gamma-Gamma's pairs are about one per repeat buyer.

    >>> import pyarrow as pa
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(39.0, 0.25, 4.4, 0.8, 2.4, size=500, seed=1)
    >>> s = spark.createDataFrame(pa.Table.from_pandas(d[["frequency", "recency", "T"]].round(0)))
    >>> bgf, _ = fit_clv(s)
    >>> list(bgf.params_.index)
    ['r', 'alpha', 'a', 'b']
    """
    from .clv import BetaGeoFitter, GammaGammaFitter

    F, _ = _spark()
    model = BetaGeoFitter(penalizer_coef=penalizer_coef) if model is None else model
    (x, tx, T_), weights = _distinct(summary, ["frequency", "recency", "T"])
    model.fit(x, tx, T_, weights=weights)
    if "monetary_value" not in summary.columns:
        return model, None
    spend_model = GammaGammaFitter(penalizer_coef=penalizer_coef) if spend_model is None else spend_model
    repeat = (F.col("frequency") > 0) & (F.col("monetary_value") > 0)
    (x, m), weights = _distinct(summary, ["frequency", "monetary_value"], repeat)
    spend_model.fit(x, m, weights=weights)
    return model, spend_model


def predict_clv(summary, model: Any, spend_model: Any = None, t: float = 30, time: int = 12,
                discount_rate: float = 0.01, freq: str = "D"):
    """Predictions of fitted lifetime-value models for every customer of a Spark summary.

    Adds to ``summary`` (from :func:`clv_summary`): ``predicted_purchases``
    (expected repeat purchases in the next ``t`` time units), ``p_alive``
    and, given ``spend_model`` and ``monetary_value``, ``expected_spend``
    (Gamma-Gamma's expected mean spend) and ``clv`` (value of the next
    ``time`` months discounted at ``discount_rate`` a month; ``freq`` is the
    summary's time unit). The crmcore models (e.g. from :func:`fit_clv`)
    travel to the workers and predict each partition in C++.

    >>> import pyarrow as pa
    >>> from crmcore.clv.generate_data import beta_geometric_nbd_model
    >>> d = beta_geometric_nbd_model(39.0, 0.25, 4.4, 0.8, 2.4, size=500, seed=1)
    >>> s = spark.createDataFrame(pa.Table.from_pandas(d[["frequency", "recency", "T"]].round(0)))
    >>> bgf, _ = fit_clv(s)
    >>> predict_clv(s, bgf, t=10).where("frequency = 0").first().p_alive
    1.0
    """
    _, T = _spark()
    spend = spend_model is not None and "monetary_value" in summary.columns
    added = ["predicted_purchases", "p_alive"] + (["expected_spend", "clv"] if spend else [])
    schema = T.StructType(list(summary.schema.fields) + [T.StructField(n, T.DoubleType()) for n in added])

    def predict(f, r, age, m):
        cols = [np.asarray(model.predict(t, f, r, age), dtype=float),
                np.asarray(model.conditional_probability_alive(f, r, age), dtype=float).reshape(-1)]
        if spend:
            cols.append(np.asarray(spend_model.conditional_expected_average_profit(f, m), dtype=float))
            cols.append(spend_model.customer_lifetime_value(model, f, r, age, m, time=time,
                                                            discount_rate=discount_rate, freq=freq).to_numpy())
        return cols

    # Bad arguments (t, freq, an unfitted model) are refused here, on one made-up
    # customer, rather than later on the workers.
    predict(np.zeros(1), np.zeros(1), np.ones(1), np.ones(1))

    def run(batches: Iterator) -> Iterator:
        import pyarrow as pa

        for b in batches:
            f, r, age = (b.column(c).to_numpy(zero_copy_only=False).astype(float)
                         for c in ("frequency", "recency", "T"))
            m = b.column("monetary_value").to_numpy(zero_copy_only=False).astype(float) if spend else None
            yield pa.RecordBatch.from_arrays(b.columns + [pa.array(c) for c in predict(f, r, age, m)],
                                             names=list(b.schema.names) + added)

    with _arrow_udfs():
        return summary.mapInArrow(run, schema)


def _basket_codes(table, order: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A partition's lines as (basket code, product id) with each basket's
    lines whole in it, and the number of baskets."""
    codes, uniques = pd.factorize(table.column(order).to_pandas())
    return codes.astype(np.int64), table.column(_P).to_numpy().astype(np.int64), len(uniques)


def _count_itemsets(basket: np.ndarray, item: np.ndarray, n_baskets: int, candidates: list) -> np.ndarray:
    """How many baskets hold every product of each candidate itemset: one
    bitset of baskets per candidate product, ANDed per itemset (the kernel's
    method, on the few candidates the first pass found)."""
    wanted = np.unique(np.concatenate([np.asarray(c, dtype=np.int64) for c in candidates]))
    keep = np.isin(item, wanted)
    row = np.searchsorted(wanted, item[keep])
    b = basket[keep]
    bits = np.zeros((len(wanted), (n_baskets + 63) // 64), dtype=np.uint64)
    np.bitwise_or.at(bits, (row, b >> 6), np.left_shift(np.uint64(1), (b & 63).astype(np.uint64)))
    counts = np.empty(len(candidates), dtype=np.int64)
    for k, c in enumerate(candidates):
        rows = np.searchsorted(wanted, np.asarray(c, dtype=np.int64))
        acc = np.bitwise_and.reduce(bits[rows], axis=0)
        counts[k] = int(np.bitwise_count(acc).sum())
    return counts


def product_affinity(lines, order: str = "order_id", product: str = "product_id", min_support: float = 0.01,
                     min_confidence: float = 0.0, max_len: int | None = None, partitions: int | None = None):
    """Products bought together (association rules between itemsets), on Spark.

    The result of :func:`crmcore.scoring.product_affinity` as a Spark
    DataFrame, one rule per row: ``antecedent`` and ``consequent`` (arrays
    of product ids, ascending), ``antecedent_support``,
    ``consequent_support``, ``support``, ``confidence`` and ``lift``.
    ``lines`` has one row per product in an order (``order`` and
    ``product`` name its columns; product ids are integers, lines without
    one are left out as in process); ``min_support``, ``min_confidence``
    and ``max_len`` as there, ``partitions`` as in :func:`rfm`.

    Exact, in two passes over the orders hash-partitioned by order id (so a
    basket is whole in one partition; the SON algorithm): crmcore's C++
    kernel mines each partition at the global count threshold scaled to the
    partition (an itemset frequent overall is frequent in at least one
    partition), the candidates are counted in every partition and summed,
    and the driver makes the rules of the itemsets that pass with the same
    kernel: the same rules and numbers as in one process.

    >>> import pyarrow as pa
    >>> lines = spark.createDataFrame(pa.table({"order_id": [1, 1, 2, 2, 3], "product_id": [10, 20, 10, 20, 10]}))
    >>> [(r.antecedent, r.consequent, r.confidence) for r in product_affinity(lines, min_support=0.5).collect()]
    [([20], [10], 1.0), ([10], [20], 0.6666666666666666)]
    """
    from . import _core
    from ._args import _number
    from .scoring.affinity import rules_frame

    F, T = _spark()
    support = _number(min_support, "product_affinity", "min_support", low=0, high=1, low_open=True)
    confidence = _number(min_confidence, "product_affinity", "min_confidence", low=0, high=1)
    longest = 0 if max_len is None else _integer(max_len, "product_affinity", "max_len", low=1, high=1000)
    prod = _column(lines, product, "product_affinity")
    if not isinstance(lines.schema[product].dataType, T.IntegralType):
        raise _invalid("product_affinity", product,
                       f"must hold integer product ids, got {lines.schema[product].dataType.simpleString()}")
    known = lines.select(_column(lines, order, "product_affinity").alias(_ID), prod.cast("long").alias(_P))
    known = known.where(F.col(_P).isNotNull())
    missing = known.where(F.col(_ID).isNull()).count()
    if missing:
        raise ValidationError(f"product_affinity: {missing} line(s) miss the order id '{order}'")
    baskets = known.select(_ID).distinct().count()
    # The kernel's own threshold over all baskets; each partition is mined at
    # the same share of its baskets (never more than it needs).
    needed = max(1, math.ceil(support * baskets - 1e-9))
    parts = (known.repartition(partitions, _ID) if partitions else known.repartition(_ID)).localCheckpoint(eager=True)
    found_schema = T.StructType([T.StructField("items", T.ArrayType(T.LongType()))])

    def mine(batches: Iterator) -> Iterator:
        import pyarrow as pa

        whole = [b for b in batches if b.num_rows]
        if not whole:
            return
        basket, item, n = _basket_codes(pa.Table.from_batches(whole), _ID)
        r = _core.affinity(basket, item, needed / baskets, longest, float("inf"))
        flat, offset = r["item"].tolist(), r["offset"].tolist()
        sets = [flat[a:b] for a, b in zip(offset[:-1], offset[1:])]
        yield pa.RecordBatch.from_pydict({"items": sets}, schema=pa.schema([("items", pa.list_(pa.int64()))]))

    with _arrow_udfs():
        candidates = sorted({tuple(r["items"]) for r in parts.mapInArrow(mine, found_schema).collect()})
    itemsets: list = []
    if candidates:
        count_schema = T.StructType([T.StructField("k", T.LongType()), T.StructField("n", T.LongType())])

        def count(batches: Iterator) -> Iterator:
            import pyarrow as pa

            whole = [b for b in batches if b.num_rows]
            if not whole:
                return
            basket, item, n = _basket_codes(pa.Table.from_batches(whole), _ID)
            yield pa.RecordBatch.from_pydict({"k": np.arange(len(candidates), dtype=np.int64),
                                              "n": _count_itemsets(basket, item, n, candidates)})

        with _arrow_udfs():
            totals = parts.mapInArrow(count, count_schema).groupBy("k").agg(F.sum("n").alias("n")).collect()
        itemsets = sorted(((candidates[r["k"]], r["n"]) for r in totals if r["n"] >= needed),
                          key=lambda s: (len(s[0]), s[0]))
    flat = np.array([i for s, _ in itemsets for i in s], dtype=np.int64)
    offset = np.cumsum([0] + [len(s) for s, _ in itemsets]).astype(np.int64)
    counts = np.array([n for _, n in itemsets], dtype=np.int64)
    rules = rules_frame(_core.affinity_rules(flat, offset, counts, baskets, confidence))
    schema = T.StructType([T.StructField(side, T.ArrayType(T.LongType())) for side in ("antecedent", "consequent")] +
                          [T.StructField(c, T.DoubleType()) for c in
                           ("antecedent_support", "consequent_support", "support", "confidence", "lift")])
    rows = [(list(a), list(c), *values) for a, c, *values in rules.itertuples(index=False, name=None)]
    return lines.sparkSession.createDataFrame(rows, schema)
