"""A whole store from a SQLite file to a PostgreSQL schema: crm.copy against pandas.

The source store holds --customers customers and --orders orders (written by
crmcore, with their audit entries). Two ways onto the same server, each into
a fresh crmcore schema with the same tables, indexes and references:

- ``crm.copy(file, url)``: every table, binary COPY through crmcore's backend,
  one transaction, references checked once at the end;
- pandas: ``read_sql`` of each table that holds rows from the file, then
  ``to_sql(..., if_exists="append")`` through SQLAlchemy and psycopg (the
  route a pandas user takes), tables in reference order.

Both destinations are then checked by the server (row counts of every table
and the sum of order amounts equal the file's). Without --dsn a throwaway
server is started as the tests do (tests/python/pg_server.py). Needs
SQLAlchemy for the pandas side. Run:

    python benchmarks/bench_store_copy.py [--orders 1000000] [--customers 100000] [--dsn "host=... port=..."]
"""
import argparse
import os
import pathlib
import sqlite3
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import psycopg

import crmcore as crm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from pg_server import PgServer  # noqa: E402


def make_source(path, customers, orders, seed=1):
    rng = np.random.default_rng(seed)
    with crm.open(path) as db:
        cids = db.import_frame("customers", pd.DataFrame({
            "name": [f"Kunde {i}" for i in range(customers)],
            "region": rng.choice(["north", "south", "east", "west"], customers),
        }))
        db.import_frame("orders", pd.DataFrame({
            "customer_id": rng.choice(cids, orders),
            "ordered_at": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730 * 86400, orders), unit="s"),
            "amount": np.round(rng.gamma(2.0, 40.0, orders), 2),
        }))


def tables_with_rows(path):
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}
    con.close()
    return {n: c for n, c in out.items() if c and n != "id_sequence"}


def check(dsn, schema, counts, amount):
    with psycopg.connect(dsn) as c:
        for table, n in counts.items():
            if table == "meta":  # a PostgreSQL store adds its own key
                continue
            got = c.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
            assert got == n, (schema, table, got, n)
        total = c.execute(f"SELECT sum(amount) FROM {schema}.orders").fetchone()[0]
        assert abs(total - amount) < 1e-6 * abs(amount), (total, amount)


def with_pandas(path, url, sa_url, schema, counts):
    import sqlalchemy as sa
    sa_types = {"bigint": sa.BigInteger(), "double precision": sa.Float(), "text": sa.Text()}
    crm.open(url).close()  # the same layout as crm.copy gets
    engine = sa.create_engine(sa_url)
    with engine.begin() as c:  # the new store's seeds go, as crm.copy replaces them
        c.exec_driver_sql(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in ('pipelines', 'pipeline_stages', 'meta', 'value_labels'))} CASCADE")
    first = ["customers", "pipelines", "pipeline_stages"]
    order = first + [t for t in counts if t not in first]
    with sqlite3.connect(path) as src, engine.begin() as dst:
        for table in order:
            if table not in counts:
                continue
            frame = pd.read_sql(f"SELECT * FROM {table}", src)
            # Columns that are all None would go as text: name the server's types.
            types = dst.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %(s)s"
                " AND table_name = %(t)s", {"s": schema, "t": table}).fetchall()
            dtype = {c: sa_types[t] for c, t in types if c in frame.columns}
            frame.to_sql(table, dst, schema=schema, if_exists="append", index=False, chunksize=50_000, dtype=dtype)
    src.close()
    engine.dispose()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--dsn")
    args = p.parse_args()
    server = None
    if args.dsn:
        dsn = args.dsn
    else:
        server = PgServer().start()
        dsn = server.dsn
    base = server.url if server else "postgresql:///?" + dsn.replace(" ", "&")
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "shop.crm")
            make_source(path, args.customers, args.orders)
            counts = tables_with_rows(path)
            with sqlite3.connect(path) as con:
                amount = con.execute("SELECT sum(amount) FROM orders").fetchone()[0]
            con.close()
            size = os.path.getsize(path)

            t0, c0 = time.perf_counter(), time.process_time()
            report = crm.copy(path, f"{base}&schema=by_copy")
            t_copy, c_copy = time.perf_counter() - t0, time.process_time() - c0
            check(dsn, "by_copy", counts, amount)

            # SQLAlchemy wants the driver in the URL and the server's address as libpq does.
            sa_url = "postgresql+psycopg://" + base.split("://", 1)[1].split("&schema")[0]
            t0, c0 = time.perf_counter(), time.process_time()
            with_pandas(path, f"{base}&schema=by_pandas", sa_url, "by_pandas", counts)
            t_pd, c_pd = time.perf_counter() - t0, time.process_time() - c0
            check(dsn, "by_pandas", counts, amount)
    finally:
        if server:
            server.stop()
    print(f"store copy SQLite -> PostgreSQL: {args.orders:,} orders, {args.customers:,} customers, "
          f"{report['rows']:,} rows in {report['tables']} tables, file {size / 1e6:.0f} MB")
    print(f"  crm.copy:                {t_copy:7.2f} s wall, {c_copy:7.2f} s CPU (client)")
    print(f"  pandas read_sql+to_sql:  {t_pd:7.2f} s wall, {c_pd:7.2f} s CPU (client)  "
          f"({t_pd / t_copy:.1f}x crm.copy's wall time)")
    print("  load:", os.getloadavg())


if __name__ == "__main__":
    main()
