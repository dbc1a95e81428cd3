"""crmcore.spark against the same analyses written without crmcore (Spark SQL,
pandas UDFs, lifetimes), on the same local Spark session and the same
generated transactions.

    PYTHONPATH=python python benchmarks/bench_spark.py [--rows 200000] [--customers 20000]
        [--partitions 4] [--master local[2]] [--cache memory|disk|none] [--driver-memory 2g]
        [--analyses summary,rfm,fit,predict,profit,tiers,affinity]

Data: --rows purchases of --customers customers (ids dense integers),
timestamps over two years (each customer's
between a start and an end of their own), spend in cents; generated with numpy in chunks of
--chunk rows into one Parquet file (never all rows in pandas at once). Spark
reads it and, with --cache memory or disk, repartitions and caches it first;
with --cache none every analysis reads the Parquet file again (both methods
alike), which is what lets 100M rows run with a driver of a few GB.

Timed, each end to end to a collected Arrow table (or fitted models), wall
seconds and CPU seconds of this Python process, of Spark's JVM and of the
Python workers the JVM starts (psutil, the process tree polled each second):

- summary: the lifetime-value summary (frequency, recency, T,
  monetary_value; freq="D"), crmcore.spark.clv_summary against Spark SQL;
- rfm: crmcore.spark.rfm against Spark SQL (group-by, then the quantile
  scores by row_number over a window ordered over all customers);
- fit: BG/NBD and Gamma-Gamma on each method's summary (materialized before,
  untimed): crmcore.spark.fit_clv against Spark SQL counts of the distinct
  tuples fitted by lifetimes with the counts as weights;
- predict: crmcore.spark.predict_clv against a pandas UDF (mapInPandas)
  calling lifetimes with crmcore's fitted parameters.
- profit: crmcore.spark.profit (totals and ABC classes; the purchases carry
  a cost of 50%..110% of the amount, by customer) against Spark SQL (a
  group-by, then the positive profit before each customer from a window
  ordered over all customers);
- tiers: crmcore.spark.profit_tiers (the last year's profit, rank, super /
  VIP / normal) against Spark SQL (a group-by and row_number over all
  customers);
- affinity: crmcore.spark.product_affinity (pairs, min_support 0.005) on
  generated order lines (2/7 as many orders as purchases, 1..6 products of
  1,000, Zipf-like) against Spark SQL (products' and pairs' basket counts by
  a self-join on the order, both directions of each frequent pair).

The results are compared (the summaries and RFM exactly or to 1e-9; fit_clv
against crmcore's in-process fit on one row per customer to 1e-9, and
lifetimes' parameters reported beside it) and each analysis is printed as it
finishes. Only small sizes belong on a shared machine.
"""
from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

_DAY = 86_400 * 10**6  # microseconds
ANALYSES = ("summary", "rfm", "fit", "predict", "profit", "tiers", "affinity")


def write_transactions(path: str, rows: int, customers: int, chunk: int, seed: int = 0) -> None:
    """Writes the purchases to one Parquet file, `chunk` rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A skewed number of purchases per customer (some buy often, most rarely),
    # the same weights for every chunk.
    first = np.random.default_rng(seed)
    weight = first.lognormal(0.0, 1.0, customers)
    p = weight / weight.sum()
    # Each customer buys between a start and an end of their own (they come and
    # they go, as the lifetime-value models assume), the same for every chunk.
    span = 2 * 365 * 86_400
    begin = first.integers(0, int(span * 0.8), customers)
    length = np.minimum(begin + first.exponential(365 * 86_400, customers).astype(np.int64) + 86_400, span) - begin
    writer = None
    for i, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        rng = np.random.default_rng([seed, i])
        cust = rng.choice(customers, n, p=p)
        seconds = begin[cust] + (rng.random(n) * length[cust]).astype(np.int64)
        when = np.datetime64("2022-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")
        # Marked UTC: Spark reads a Parquet timestamp without a zone as timestamp_ntz.
        amount = rng.integers(100, 20_000, n) / 100.0
        table = pa.table({"customer_id": cust.astype(np.int64),
                          "date": pa.array(when.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
                          "amount": amount,
                          # A margin of the customer's own (cost 50%..110% of the amount, so some lose
                          # money), from the id alone: the other columns' draws are unchanged.
                          "cost": np.round(amount * (0.5 + 0.6 * ((cust * 2_654_435_761) % 1000) / 1000), 2)})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def sql_summary(tx):
    """The lifetimes summary in Spark SQL only: periods are days; frequency
    counts the days with a purchase after the first, recency and T are ages in
    days (T up to the day of the latest purchase, found by one pass as
    crmcore.spark does), monetary_value the mean spend per repeat day (0
    without repeats)."""
    from pyspark.sql import functions as F

    day = F.floor(F.unix_micros("date") / F.lit(_DAY)).cast("long")
    end_day = tx.agg(F.max(day)).first()[0]
    daily = tx.where(day <= end_day).groupBy("customer_id", day.alias("day")).agg(F.sum("amount").alias("spend"))
    per = daily.groupBy("customer_id").agg(F.count(F.lit(1)).alias("n"), F.min("day").alias("first"),
                                           F.max("day").alias("last"), F.sum("spend").alias("all"),
                                           F.min_by("spend", "day").alias("first_spend"))
    repeat = F.col("n") - 1
    return per.select("customer_id", repeat.cast("double").alias("frequency"),
                      (F.col("last") - F.col("first")).cast("double").alias("recency"),
                      (F.lit(end_day) - F.col("first")).cast("double").alias("T"),
                      F.when(repeat > 0, (F.col("all") - F.col("first_spend")) / repeat).otherwise(0.0)
                      .alias("monetary_value"))


def sql_rfm(tx, bins: int = 5):
    """RFM in Spark SQL only: totals per customer up to midnight after the
    latest purchase, then each score from the customer's place in one window
    ordered over all customers (worst first, equal values by id), by the rule
    crmcore documents: max(1, ceil(position * bins / (n - 1))). The segment
    names are left out (a lookup in a 25-cell grid)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    t = F.unix_micros("date")
    latest = tx.agg(F.max(t)).first()[0]
    cut = latest - latest % _DAY + _DAY
    per = tx.groupBy("customer_id").agg(F.max(t).alias("last"), F.count(F.lit(1)).alias("frequency"),
                                        F.sum("amount").alias("monetary"))
    per = per.withColumn("recency", (F.lit(cut) - F.col("last")) / F.lit(float(_DAY)))
    n = per.count()
    for col, worst_first, name in (("recency", F.col("recency").desc(), "r_score"),
                                   ("frequency", F.col("frequency").asc(), "f_score"),
                                   ("monetary", F.col("monetary").asc(), "m_score")):
        pos = F.row_number().over(Window.orderBy(worst_first, F.col("customer_id"))) - 1
        score = F.greatest(F.lit(1), F.least(F.lit(bins), F.floor((pos * bins + (n - 2)) / F.lit(n - 1))))
        per = per.withColumn(name, score.cast("byte"))
    return per.select("customer_id", "recency", "frequency", "monetary",
                      F.timestamp_micros("last").alias("last_purchase"), "r_score", "f_score", "m_score")


def lifetimes_fit(summary):
    """BG/NBD and Gamma-Gamma without crmcore: Spark SQL counts the distinct
    (frequency, recency, T) and (frequency, monetary_value) of repeat buyers,
    lifetimes fits them with the counts as weights."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from pyspark.sql import functions as F

    def counts(frame, cols):
        return frame.groupBy(*cols).agg(F.count(F.lit(1)).alias("n")).toPandas()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' and pyspark's notes on newer pandas/numpy
        trip = counts(summary, ["frequency", "recency", "T"])
        bg = BetaGeoFitter().fit(trip["frequency"], trip["recency"], trip["T"], weights=trip["n"].to_numpy())
        pairs = counts(summary.where("frequency > 0 AND monetary_value > 0"), ["frequency", "monetary_value"])
        gg = GammaGammaFitter().fit(pairs["frequency"], pairs["monetary_value"], weights=pairs["n"].to_numpy())
    return bg, gg


def lifetimes_predict(summary, bg_params: dict, gg_params: dict, t: float, months: int):
    """Predictions by a pandas UDF calling lifetimes with the given parameters."""
    schema = summary.schema.simpleString()[len("struct<"):-1] + \
        ",predicted_purchases double,p_alive double,expected_spend double,clv double"

    def run(frames):
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        bg, gg = BetaGeoFitter(), GammaGammaFitter()
        bg.params_, gg.params_ = pd.Series(bg_params), pd.Series(gg_params)
        bg.predict = bg.conditional_expected_number_of_purchases_up_to_time  # lifetimes' alias, set by its fit
        for f in frames:
            x, r, age, m = f["frequency"], f["recency"], f["T"], f["monetary_value"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f["predicted_purchases"] = np.asarray(bg.predict(t, x, r, age), dtype=float)
                f["p_alive"] = np.asarray(bg.conditional_probability_alive(x, r, age), dtype=float)
                f["expected_spend"] = np.asarray(gg.conditional_expected_average_profit(x, m), dtype=float)
                f["clv"] = np.asarray(gg.customer_lifetime_value(bg, x, r, age, m, time=months, freq="D"),
                                      dtype=float)
            yield f

    with warnings.catch_warnings():
        # pyspark's note on pandas 3, given when a pandas UDF is declared.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        return summary.mapInPandas(run, schema)


def write_lines(path: str, orders: int, products: int, chunk: int, seed: int = 0) -> int:
    """Writes order lines (order_id, product_id) of ``orders`` orders of 1 to 6
    products each (popular products much more often, Zipf-like; a product
    repeated in an order is kept once), every third order whose first product
    is 3 also holding product 11 (an affinity to find); returns the lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    weight = 1.0 / np.arange(1, products + 1) ** 1.1
    p = weight / weight.sum()
    writer, total = None, 0
    for i, start in enumerate(range(0, orders, chunk)):
        n = min(chunk, orders - start)
        rng = np.random.default_rng([seed, 1, i])
        size = rng.integers(1, 7, n)
        order = np.repeat(np.arange(start, start + n, dtype=np.int64), size)
        item = rng.choice(products, len(order), p=p).astype(np.int64)
        first = np.r_[0, np.cumsum(size)[:-1]]
        paired = order[first][(item[first] == 3) & (order[first] % 3 == 0)]
        frame = pd.DataFrame({"order_id": np.r_[order, paired],
                              "product_id": np.r_[item, np.full(len(paired), 11, dtype=np.int64)]})
        table = pa.Table.from_pandas(frame.drop_duplicates(), preserve_index=False)
        total += table.num_rows
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()
    return total


def sql_profit(tx, abc=(0.8, 0.95)):
    """Profit per customer up to midnight after the latest purchase and the
    ABC class in Spark SQL only: totals by one group-by, the positive profit
    before each customer from a window ordered over all customers (largest
    first, equal profits by id), classes by the rule crmcore documents."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per = tx.groupBy("customer_id").agg(F.count(F.lit(1)).alias("orders"), F.sum("amount").alias("revenue"),
                                        F.sum("cost").alias("cost"))
    per = per.withColumn("profit", F.col("revenue") - F.col("cost"))
    positive = F.when(F.col("profit") > 0, F.col("profit")).otherwise(0.0)
    total = per.agg(F.sum(positive)).first()[0]
    before = F.sum(positive).over(Window.orderBy(F.col("profit").desc(), F.col("customer_id"))
                                  .rowsBetween(Window.unboundedPreceding, -1))
    share_before = F.coalesce(before, F.lit(0.0)) / F.lit(total)
    cls = F.when(F.col("profit") <= 0, "C").when(share_before < abc[0] - 1e-12, "A") \
        .when(share_before < abc[1] - 1e-12, "B").otherwise("C")
    return per.select("customer_id", "orders", "revenue", "cost", "profit", (positive / F.lit(total)).alias("share"),
                      cls.alias("abc"))


def sql_tiers(tx, vip_top=0.10, super_top=0.01):
    """profit_tiers in Spark SQL only: each customer's profit in the year up to
    midnight after the latest purchase, rank from a window ordered over all
    customers, super and VIP by rank among customers with positive profit."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    t = F.unix_micros("date")
    latest = tx.agg(F.max(t)).first()[0]
    cut = latest - latest % _DAY + _DAY
    start = pd.Timestamp(cut * 1000) - pd.DateOffset(years=1)
    inside = (t > F.lit(start.value // 1000)) & (t <= F.lit(cut))
    per = tx.groupBy("customer_id").agg(F.sum(F.when(inside, F.col("amount") - F.col("cost"))
                                              .otherwise(0.0)).alias("profit"))
    n = per.count()
    rank = F.row_number().over(Window.orderBy(F.col("profit").desc(), F.col("customer_id")))
    per = per.withColumn("rank", rank)
    tier = F.when((F.col("profit") > 0) & (F.col("rank") <= math.ceil(super_top * n)), "super") \
        .when((F.col("profit") > 0) & (F.col("rank") <= math.ceil(vip_top * n)), "VIP").otherwise("normal")
    return per.select("customer_id", "profit", "rank", tier.alias("tier"))


def sql_affinity(lines, min_support: float):
    """Rules between pairs of products in Spark SQL only: baskets per product,
    pairs by a self-join on the order, both directions of each frequent pair."""
    from pyspark.sql import functions as F

    lines = lines.select("order_id", "product_id").distinct()
    baskets = lines.select("order_id").distinct().count()
    needed = max(1, math.ceil(min_support * baskets - 1e-9))
    single = lines.groupBy("product_id").agg(F.count(F.lit(1)).alias("n")).where(F.col("n") >= needed)
    a, b = lines.alias("a"), lines.alias("b")
    pairs = (a.join(b, (F.col("a.order_id") == F.col("b.order_id")) & (F.col("a.product_id") < F.col("b.product_id")))
             .groupBy(F.col("a.product_id").alias("x"), F.col("b.product_id").alias("y"))
             .agg(F.count(F.lit(1)).alias("n")).where(F.col("n") >= needed))
    nx, ny = single.select(F.col("product_id").alias("x"), F.col("n").alias("nx")), \
        single.select(F.col("product_id").alias("y"), F.col("n").alias("ny"))
    pairs = pairs.join(F.broadcast(nx), "x").join(F.broadcast(ny), "y")
    both = pairs.select(F.array("x").alias("antecedent"), F.array("y").alias("consequent"), "n",
                        F.col("nx").alias("na"), F.col("ny").alias("nc")).unionByName(
        pairs.select(F.array("y").alias("antecedent"), F.array("x").alias("consequent"), "n",
                     F.col("ny").alias("na"), F.col("nx").alias("nc")))
    N = F.lit(float(baskets))
    return both.select("antecedent", "consequent", (F.col("na") / N).alias("antecedent_support"),
                       (F.col("nc") / N).alias("consequent_support"), (F.col("n") / N).alias("support"),
                       (F.col("n") / F.col("na")).alias("confidence"),
                       (F.col("n") / F.col("na") / (F.col("nc") / N)).alias("lift"))


class Meter:
    """Wall and CPU seconds of one step: this process's CPU, the JVM's (the
    java child) and the Python workers' (the JVM's descendants). Spark ends
    idle workers at any time, so a thread polls the process tree every
    `every` seconds and keeps each process's last CPU figure: a worker that
    ended is still counted (less at most `every` seconds of its work). The
    polls' own CPU (a few ms each) is in this process's figure. psutil
    missing: wall and this process only."""

    def __init__(self, every: float = 1.0):
        import threading

        try:
            import psutil
        except ImportError:
            psutil = None
        self.psutil, self.every = psutil, every
        self.seen: dict = {}  # pid -> (which, CPU seconds at the last poll)
        self.lock = threading.Lock()
        if psutil is not None:
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while True:
            self._poll()
            time.sleep(self.every)

    def _poll(self):
        for p in self.psutil.Process().children(recursive=True):
            try:
                c, name = p.cpu_times(), p.name()
            except self.psutil.Error:
                continue
            with self.lock:
                self.seen[p.pid] = ("jvm" if "java" in name else "workers", c.user + c.system)

    def sample(self) -> dict:
        out = {"wall": time.perf_counter(), "python": time.process_time(), "jvm": np.nan, "workers": np.nan}
        if self.psutil is None:
            return out
        self._poll()
        with self.lock:
            for which in ("jvm", "workers"):
                out[which] = sum(cpu for w, cpu in self.seen.values() if w == which)
        return out

    def time(self, fn):
        before = self.sample()
        result = fn()
        after = self.sample()
        return result, {k: after[k] - before[k] for k in before}


def _sorted(table):
    return table.to_pandas().set_index("customer_id").sort_index()


def _check_summary(crm, sql):
    pd.testing.assert_index_equal(crm.index, sql.index)
    for col in ["frequency", "recency", "T"]:
        np.testing.assert_array_equal(crm[col].to_numpy(), sql[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(crm["monetary_value"].to_numpy(), sql["monetary_value"].to_numpy(), rtol=1e-9)


def _check_rfm(crm, sql) -> str:
    """Identical but for m_score where two totals are equal to 1e-12 and their
    sums' rounding (in a different order) put them the other way round."""
    pd.testing.assert_index_equal(crm.index, sql.index)
    for col in ["frequency", "r_score", "f_score"]:
        np.testing.assert_array_equal(crm[col].to_numpy(), sql[col].to_numpy(), err_msg=col)
    assert (crm["last_purchase"] == sql["last_purchase"]).all()
    np.testing.assert_allclose(crm["recency"].to_numpy(), sql["recency"].to_numpy(), rtol=1e-12)
    m = crm["monetary"].to_numpy()
    np.testing.assert_allclose(m, sql["monetary"].to_numpy(), rtol=1e-9)
    differ = crm["m_score"].to_numpy() != sql["m_score"].to_numpy()
    s = np.sort(m)
    near = np.abs(np.diff(s)) <= 1e-12 * np.abs(s[1:])
    close = np.zeros(len(s), dtype=bool)
    close[:-1] |= near
    close[1:] |= near
    assert np.isin(m[differ], s[close]).all(), "m_score differs beyond near-equal totals"
    return f"m_score differs for {differ.sum()} customers with near-equal totals"


def _check_profit(crm, sql, exact: list, label: str) -> str:
    """Same totals (to 1e-9) and the same ``exact`` columns; ``label`` (the
    class or tier) may differ only where profits are equal to 1e-9, summed in
    another order."""
    pd.testing.assert_index_equal(crm.index, sql.index)
    np.testing.assert_allclose(crm["profit"].to_numpy(), sql["profit"].to_numpy(), rtol=1e-9, atol=1e-6)
    for col in exact:
        np.testing.assert_array_equal(crm[col].to_numpy(), sql[col].to_numpy(), err_msg=col)
    differ = crm[label].to_numpy() != sql[label].to_numpy()
    ranks = "" if "rank" not in crm else f"; rank differs for {(crm['rank'] != sql['rank']).sum()}"
    assert differ.sum() <= max(2, 1e-4 * len(crm)), f"{label} differs for {differ.sum()} customers"
    return f"{label} identical but for {differ.sum()} customers{ranks}"


def _rules(table):
    frame = table.to_pandas()
    frame.index = pd.MultiIndex.from_arrays([frame.pop("antecedent").map(tuple), frame.pop("consequent").map(tuple)])
    return frame.sort_index()


def _section(results, analysis, t_a, t_b, checked, names, report):
    results.append((analysis, names, t_a, t_b, checked))
    if not report:
        return
    print(f"{analysis}: {names[0]} wall {t_a['wall']:.2f} s (CPU python {t_a['python']:.1f}, jvm {t_a['jvm']:.1f}, "
          f"workers {t_a['workers']:.1f}) | {names[1]} wall {t_b['wall']:.2f} s (CPU python {t_b['python']:.1f}, "
          f"jvm {t_b['jvm']:.1f}, workers {t_b['workers']:.1f}) | ratio {t_b['wall'] / t_a['wall']:.2f} | {checked}"
          f" | load {os.getloadavg()[0]:.1f}", flush=True)


def run(spark, rows: int, customers: int, partitions: int, chunk: int, folder: str, cache: str = "memory",
        analyses=ANALYSES, report=False) -> dict:
    """Times each analysis both ways on one session; raises if they disagree."""
    from pyspark import StorageLevel

    from crmcore import spark as crm_spark
    from crmcore.clv import BetaGeoFitter, GammaGammaFitter

    path = os.path.join(folder, f"tx_{rows}.parquet")
    meter, results, out = Meter(), [], {"rows": rows}
    _, t_gen = meter.time(lambda: write_transactions(path, rows, customers, chunk))
    out["parquet bytes per row"] = os.path.getsize(path) / rows
    tx = spark.read.parquet(path)
    if cache != "none":
        level = StorageLevel.MEMORY_AND_DISK if cache == "memory" else StorageLevel.DISK_ONLY
        tx = tx.repartition(partitions).persist(level)
        assert tx.count() == rows
    if report:
        print(f"{rows:,} rows written in {t_gen['wall']:.1f} s ({out['parquet bytes per row']:.1f} bytes/row), "
              f"cache {cache}", flush=True)
    args = (tx, "customer_id", "date", "amount")
    if "summary" in analyses:
        crm, t_crm = meter.time(lambda: _sorted(crm_spark.clv_summary(*args, partitions=partitions).toArrow()))
        sql, t_sql = meter.time(lambda: _sorted(sql_summary(tx).toArrow()))
        _check_summary(crm, sql)
        out["customers"] = len(crm)
        _section(results, "summary", t_crm, t_sql, "identical", ("crmcore.spark.clv_summary", "Spark SQL"), report)
    if "rfm" in analyses:
        crm, t_crm = meter.time(lambda: _sorted(crm_spark.rfm(*args, partitions=partitions).toArrow()))
        sql, t_sql = meter.time(lambda: _sorted(sql_rfm(tx).toArrow()))
        out["customers"] = len(crm)
        _section(results, "rfm", t_crm, t_sql, _check_rfm(crm, sql), ("crmcore.spark.rfm", "Spark SQL"), report)
    if "fit" in analyses or "predict" in analyses:
        crm_s = crm_spark.clv_summary(*args, partitions=partitions).localCheckpoint(eager=True)
        sql_s = sql_summary(tx).localCheckpoint(eager=True)
        (bgf, ggf), t_crm = meter.time(lambda: crm_spark.fit_clv(crm_s))
        (bg, gg), t_lt = meter.time(lambda: lifetimes_fit(sql_s))
        # The claim: the fit on counts is the in-process fit on one row per customer.
        s = _sorted(crm_s.toArrow())
        one = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
        one_gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        np.testing.assert_allclose(bgf.params_.to_numpy(), one.params_.to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(ggf.params_.to_numpy(), one_gg.params_.to_numpy(), rtol=1e-9)
        bg_keys, gg_keys = ["r", "alpha", "a", "b"], ["p", "q", "v"]
        dev = max(np.max(np.abs(bgf.params_[bg_keys].to_numpy() / bg.params_[bg_keys].to_numpy() - 1)),
                  np.max(np.abs(ggf.params_[gg_keys].to_numpy() / gg.params_[gg_keys].to_numpy() - 1)))
        out["customers"] = len(s)
        out["params"] = {who: {k: round(float(v), 6) for k, v in (b.params_[bg_keys].to_dict() |
                                                                  g.params_[gg_keys].to_dict()).items()}
                         for who, b, g in (("crmcore", bgf, ggf), ("lifetimes", bg, gg))}
        if "fit" in analyses:
            _section(results, "fit", t_crm, t_lt, f"= in-process fit to 1e-9; lifetimes' parameters within "
                     f"{dev:.1e} ({len(bgf.data):,} triples)", ("crmcore.spark.fit_clv", "Spark SQL + lifetimes"),
                     report)
        if "predict" in analyses:
            bgp, ggp = dict(bgf.params_[bg_keys]), dict(ggf.params_[gg_keys])
            crm, t_crm = meter.time(lambda: _sorted(crm_spark.predict_clv(crm_s, bgf, ggf, t=30, time=12).toArrow()))
            lt, t_lt = meter.time(lambda: _sorted(lifetimes_predict(sql_s, bgp, ggp, 30, 12).toArrow()))
            cols = ["predicted_purchases", "p_alive", "expected_spend", "clv"]
            worst = max(np.nanmax(np.abs(crm[c].to_numpy() / lt[c].to_numpy() - 1)) for c in cols)
            assert worst < 1e-6, worst
            _section(results, "predict", t_crm, t_lt, f"same parameters: predictions within {worst:.1e}",
                     ("crmcore.spark.predict_clv", "pandas UDF + lifetimes"), report)
        crm_s.unpersist()
        sql_s.unpersist()
    if "profit" in analyses:
        crm, t_crm = meter.time(lambda: _sorted(crm_spark.profit(*args, "cost", partitions=partitions).toArrow()))
        sql, t_sql = meter.time(lambda: _sorted(sql_profit(tx).toArrow()))
        _section(results, "profit", t_crm, t_sql, _check_profit(crm, sql, ["orders"], "abc"),
                 ("crmcore.spark.profit", "Spark SQL"), report)
    if "tiers" in analyses:
        crm, t_crm = meter.time(lambda: _sorted(crm_spark.profit_tiers(*args, "cost", partitions=partitions)
                                                .toArrow()))
        sql, t_sql = meter.time(lambda: _sorted(sql_tiers(tx).toArrow()))
        _section(results, "tiers", t_crm, t_sql, _check_profit(crm, sql, [], "tier"),
                 ("crmcore.spark.profit_tiers", "Spark SQL"), report)
    if "affinity" in analyses:
        lpath = os.path.join(folder, f"lines_{rows}.parquet")
        n_lines = write_lines(lpath, rows * 2 // 7, 1000, chunk)
        lines = spark.read.parquet(lpath)
        crm, t_crm = meter.time(lambda: _rules(crm_spark.product_affinity(lines, min_support=0.005, max_len=2,
                                                                          partitions=partitions).toArrow()))
        sql, t_sql = meter.time(lambda: _rules(sql_affinity(lines, 0.005).toArrow()))
        pd.testing.assert_index_equal(crm.index, sql.index)
        np.testing.assert_allclose(crm.to_numpy(), sql.to_numpy(), rtol=1e-12)
        _section(results, "affinity", t_crm, t_sql, f"identical {len(crm)} rules ({n_lines:,} lines)",
                 ("crmcore.spark.product_affinity", "Spark SQL self-join"), report)
    if cache != "none":
        tx.unpersist()
    out["results"] = results
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="rows generated at a time")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--cache", choices=["memory", "disk", "none"], default="memory")
    parser.add_argument("--analyses", default=",".join(ANALYSES))
    args = parser.parse_args()
    analyses = args.analyses.split(",")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark's note on pandas 3, printed when its modules load (crmcore.spark exchanges Arrow, not pandas).
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(args.master).appName("bench_spark")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(args.partitions))
             .config("spark.driver.memory", args.driver_memory)
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"{args.master}, {args.partitions} partitions, driver memory {args.driver_memory}; "
          f"load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        run(spark, min(args.rows, 20_000), min(args.customers, 2_000), args.partitions, args.chunk, folder,
            args.cache, analyses)  # warm up
        print("measured:", flush=True)
        r = run(spark, args.rows, args.customers, args.partitions, args.chunk, folder, args.cache, analyses, True)
    spark.stop()
    print(f"{r['rows']:,} transactions, {r.get('customers', 0):,} customers; fitted {r.get('params')}")
    print(f"peak memory of this Python process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          f"(its children, the JVM among them: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} "
          f"MB); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
