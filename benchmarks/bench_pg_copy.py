"""Bulk load into PostgreSQL: crmcore's binary COPY against psycopg's, from the same DataFrame.

N order lines (customer int8, amount float8, sku text) go into an empty
table, each way into its own table on the same server:

- crmcore's backend (libpq, binary COPY built in C++; ``_core.pg_bulk_load``),
- psycopg 3's ``cursor.copy(... FORMAT BINARY)`` with ``write_row`` per row and
  the column types set (its documented fast path from Python rows).

Both tables are then checked against the frame (row count, sums) by the
server itself. Without --dsn a throwaway server is started as the tests do
(tests/python/pg_server.py). Run:

    python benchmarks/bench_pg_copy.py [--rows 1000000] [--repeat 3] [--dsn "host=... port=..."]
"""
import argparse
import pathlib
import sys
import time

import numpy as np
import pandas as pd
import psycopg

from crmcore import _core

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from pg_server import PgServer  # noqa: E402


def frame(n, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer": rng.integers(1, n // 10 + 2, n, dtype=np.int64),
        "amount": np.round(rng.gamma(2.0, 40.0, n), 2),
        "sku": [f"SKU-{k % 5000:05d}" for k in range(n)],
    })


def fresh(dsn, table):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {table}")
        c.execute(f"CREATE TABLE {table} (customer int8, amount float8, sku text)")


def load_crmcore(dsn, table, df):
    return _core.pg_bulk_load(dsn, table, ["customer", "amount", "sku"],
                              [df["customer"].to_numpy(), df["amount"].to_numpy(), df["sku"].tolist()])


def load_psycopg(dsn, table, df):
    with psycopg.connect(dsn) as c, c.cursor() as cur:
        with cur.copy(f"COPY {table} (customer, amount, sku) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "float8", "text"])
            for row in zip(df["customer"].tolist(), df["amount"].tolist(), df["sku"].tolist()):
                copy.write_row(row)
    return len(df)


def check(dsn, table, df):
    with psycopg.connect(dsn) as c:
        count, customers, amount = c.execute(f"SELECT count(*), sum(customer), sum(amount) FROM {table}").fetchone()
    assert count == len(df), (table, count)
    assert int(customers) == int(df["customer"].sum()), table
    assert abs(amount - df["amount"].sum()) <= 1e-9 * abs(df["amount"].sum()), table


def timed(fn, dsn, table, df, repeat):
    best = float("inf")
    for _ in range(repeat):
        fresh(dsn, table)
        t0 = time.perf_counter()
        fn(dsn, table, df)
        best = min(best, time.perf_counter() - t0)
    check(dsn, table, df)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dsn", help="a server to use (default: start a throwaway one)")
    args = ap.parse_args()
    server = None
    dsn = args.dsn
    if not dsn:
        server = PgServer().start()
        dsn = server.dsn
    try:
        df = frame(args.rows)
        ours = timed(load_crmcore, dsn, "bench_crmcore", df, args.repeat)
        theirs = timed(load_psycopg, dsn, "bench_psycopg", df, args.repeat)
    finally:
        if server:
            server.stop()
    print(f"rows: {args.rows:,} (best of {args.repeat})")
    print(f"crmcore binary COPY  {ours:8.3f} s  {args.rows / ours:12,.0f} rows/s")
    print(f"psycopg COPY binary  {theirs:8.3f} s  {args.rows / theirs:12,.0f} rows/s")
    print(f"ratio crmcore / psycopg: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
