"""crmcore.spark against the same analysis written in plain PySpark SQL, on the
same local Spark session and the same generated transactions.

    PYTHONPATH=python python benchmarks/bench_spark.py [--rows 200000] [--customers 20000]
        [--partitions 4] [--master local[2]]

Data: --rows purchases of --customers customers (ids dense integers),
timestamps over two years, spend in cents; generated with numpy in chunks of
--chunk rows into one Parquet file (never all rows in pandas at once), which
Spark reads and caches. The file's bytes per row and this process's peak
memory are printed with the times.

Timed (each end to end, to a collected Arrow table, on a cached input):
the lifetime-value summary (frequency, recency, T, monetary_value; freq="D")
by crmcore.spark.clv_summary (C++ kernel per partition, Arrow batches) and by
Spark SQL (per customer and day, then per customer). Both results are
compared before the ratio is printed. Only small sizes belong on a shared
machine; the issue's 100M-row run wants a machine with memory for Spark's
cache (--driver-memory) or a real cluster.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def write_transactions(path: str, rows: int, customers: int, chunk: int, seed: int = 0) -> None:
    """Writes the purchases to one Parquet file, `chunk` rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A skewed number of purchases per customer (some buy often, most rarely),
    # the same weights for every chunk.
    weight = np.random.default_rng(seed).lognormal(0.0, 1.0, customers)
    p = weight / weight.sum()
    writer = None
    for i, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        rng = np.random.default_rng([seed, i])
        cust = rng.choice(customers, n, p=p)
        seconds = rng.integers(0, 2 * 365 * 86_400, n)
        when = np.datetime64("2022-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")
        # Marked UTC: Spark reads a Parquet timestamp without a zone as timestamp_ntz.
        table = pa.table({"customer_id": cust.astype(np.int64),
                          "date": pa.array(when.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
                          "amount": rng.integers(100, 20_000, n) / 100.0})
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

    day = F.floor(F.unix_micros("date") / F.lit(86_400 * 10**6)).cast("long")
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


def timed(make):
    start = time.perf_counter()
    table = make().toArrow()
    return time.perf_counter() - start, table.to_pandas().set_index("customer_id").sort_index()


def run(spark, rows: int, customers: int, partitions: int, chunk: int, folder: str) -> dict:
    """Times both summaries on one session; raises if they disagree."""
    from crmcore import spark as crm_spark

    path = os.path.join(folder, f"tx_{rows}.parquet")
    write_transactions(path, rows, customers, chunk)
    tx = spark.read.parquet(path).repartition(partitions).cache()
    assert tx.count() == rows
    t_crm, crm = timed(lambda: crm_spark.clv_summary(tx, "customer_id", "date", "amount", partitions=partitions))
    t_sql, sql = timed(lambda: sql_summary(tx))
    pd.testing.assert_index_equal(crm.index, sql.index)
    for col in ["frequency", "recency", "T"]:
        np.testing.assert_array_equal(crm[col].to_numpy(), sql[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(crm["monetary_value"].to_numpy(), sql["monetary_value"].to_numpy(), rtol=1e-9)
    tx.unpersist()
    return {"rows": rows, "customers": len(crm), "crmcore.spark": t_crm, "spark sql": t_sql,
            "parquet bytes per row": os.path.getsize(path) / rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="rows generated at a time")
    parser.add_argument("--driver-memory", default="2g")
    args = parser.parse_args()
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
    with tempfile.TemporaryDirectory() as folder:
        run(spark, min(args.rows, 2_000), min(args.customers, 200), args.partitions, args.chunk, folder)  # warm up
        r = run(spark, args.rows, args.customers, args.partitions, args.chunk, folder)
    spark.stop()
    print(f"lifetime-value summary, {r['rows']:,} transactions, {r['customers']:,} customers, {args.master}, "
          f"{args.partitions} partitions")
    print(f"  crmcore.spark.clv_summary   {r['crmcore.spark']:8.2f} s")
    print(f"  spark sql (same summary)    {r['spark sql']:8.2f} s")
    print(f"  ratio crmcore / spark sql   {r['crmcore.spark'] / r['spark sql']:8.2f}  (results identical)")
    print(f"  parquet {r['parquet bytes per row']:.1f} bytes/row; peak memory of this Python process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (Spark's JVM: --driver-memory "
          f"{args.driver_memory}); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
