"""Import of order lines into a PostgreSQL store: crmcore against raw COPY and pandas to_sql.

N order lines (order_id, product_id, quantity, unit_price, unit_cost) in one
DataFrame go to the same server four ways, each into a fresh schema:

- crmcore: ``db.import_frame("order_lines", df)`` on a ``postgresql://``
  store: every row validated in C++ (types, required fields, references),
  given an id from the store's sequence, loaded by binary COPY into a
  staging table and inserted from there, one audit entry;
- psycopg 3 ``COPY ... FROM STDIN (FORMAT BINARY)`` of the same frame
  (``write_row`` per row, types set: its documented fast path), into a table
  of the frame's columns with the same indexes and foreign keys as the
  store's ``order_lines`` ("raw COPY"), and into a bare table without them;
- pandas ``to_sql`` through SQLAlchemy (psycopg driver) into the same twin
  table, default method (executemany) and ``method="multi"``.

Each way is timed in wall seconds, the client's CPU seconds
(``time.process_time``) and the server's CPU seconds (its processes'
utime+stime from /proc, when the server runs on this machine). Every table is
then checked against the frame by the server (count, sums). Without --dsn a
throwaway server is started as the tests do (tests/python/pg_server.py), with
shared_buffers=256MB. Run:

    python benchmarks/bench_pg_import.py [--rows 1000000] [--repeat 3] [--to-sql-rows 100000]
"""
import argparse
import os
import pathlib
import sys
import time

import numpy as np
import pandas as pd
import psycopg

import crmcore as crm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from pg_server import PgServer  # noqa: E402

COLUMNS = ["order_id", "product_id", "quantity", "unit_price", "unit_cost"]
TYPES = ["int8", "int8", "float8", "float8", "float8"]


def server_cpu(port):
    """CPU seconds the PostgreSQL server on `port` has used: its postmaster's
    own and reaped children's, plus its live processes' (None if not local)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(pid)] = (cmd, fields)
    master = next((pid for pid, (cmd, _) in stats.items()
                   if cmd[0].endswith(b"postgres") and str(port).encode() in cmd), None)
    if master is None:
        return None
    total = sum(int(x) for x in stats[master][1][11:15])
    total += sum(int(f[11]) + int(f[12]) for _, f in stats.values() if int(f[1]) == master)
    return total / tick


class Clock:
    """Wall, client CPU and server CPU between start() and stop()."""

    def __init__(self, port):
        self.port = port

    def start(self):
        self.server = server_cpu(self.port)
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self):
        server = server_cpu(self.port)
        return (time.perf_counter() - self.wall, time.process_time() - self.cpu,
                None if server is None or self.server is None else server - self.server)


def start_server(url=None):
    """(server, url, port): `url`'s server (None to stop), or a throwaway one
    started as the tests start theirs (stop it when done)."""
    if url:
        return None, url, int(url.split("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[1])
    server = PgServer({"shared_buffers": "256MB"}).start()
    return server, server.url, server.port


def store(url, schema, n, seed):
    """A fresh store schema with the customers, orders and products the lines refer to."""
    db = crm.open(f"{url}&schema={schema}")
    rng = np.random.default_rng(seed)
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(max(n // 100, 10))]}),
                                progress=False)
    orders = db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(customers, max(n // 10, 10)),
        "ordered_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, max(n // 10, 10)), unit="D"),
        "amount": 1.0}), progress=False)
    products = db.import_frame("products", pd.DataFrame({"sku": [f"SKU-{i:05d}" for i in range(5000)],
                                                         "name": [f"product {i}" for i in range(5000)]}),
                               progress=False)
    return db, np.asarray(orders), np.asarray(products)


def lines(n, orders, products, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "order_id": rng.choice(orders, n),
        "product_id": rng.choice(products, n),
        "quantity": rng.integers(1, 6, n).astype(np.float64),
        "unit_price": np.round(rng.gamma(2.0, 20.0, n), 2),
        "unit_cost": np.round(rng.gamma(2.0, 10.0, n), 2),
    })


def twin(conn, schema, table, bare=False):
    """A table of the frame's columns; unless bare, with the store's indexes and references."""
    conn.execute(f"CREATE TABLE {schema}.{table} (order_id bigint NOT NULL, product_id bigint,"
                 " quantity double precision NOT NULL, unit_price double precision NOT NULL,"
                 " unit_cost double precision)")
    if not bare:
        conn.execute(f"ALTER TABLE {schema}.{table} ADD FOREIGN KEY (order_id) REFERENCES {schema}.orders(id),"
                     f" ADD FOREIGN KEY (product_id) REFERENCES {schema}.products(id);"
                     f"CREATE INDEX ON {schema}.{table}(order_id); CREATE INDEX ON {schema}.{table}(product_id)")


def check(dsn, table, df):
    with psycopg.connect(dsn) as c:
        count, orders, price = c.execute(f"SELECT count(*), sum(order_id), sum(quantity * unit_price) FROM {table}").fetchone()
    assert count == len(df), (table, count, len(df))
    assert int(orders) == int(df["order_id"].sum()), table
    expected = float((df["quantity"] * df["unit_price"]).sum())
    assert abs(price - expected) <= 1e-9 * abs(expected), (table, price, expected)


def run_crmcore(url, dsn, clock, n, seed, schema):
    db, orders, products = store(url, schema, n, seed)
    df = lines(n, orders, products, seed)
    clock.start()
    ids = db.import_frame("order_lines", df, progress=False)
    took = clock.stop()
    assert len(ids) == n and (ids > 0).all()
    check(dsn, f"{schema}.order_lines", df)
    db.close()
    return took


def run_psycopg(url, dsn, clock, n, seed, schema, bare):
    db, orders, products = store(url, schema, n, seed)
    db.close()
    df = lines(n, orders, products, seed)
    with psycopg.connect(dsn, autocommit=True) as c:
        twin(c, schema, "raw_lines", bare)
    clock.start()
    with psycopg.connect(dsn) as c:
        with c.cursor() as cur, cur.copy(f"COPY {schema}.raw_lines ({', '.join(COLUMNS)}) FROM STDIN"
                                         " (FORMAT BINARY)") as copy:
            copy.set_types(TYPES)
            for row in zip(*(df[col].tolist() for col in COLUMNS)):
                copy.write_row(row)
        c.commit()
        took = clock.stop()  # before the connection's process ends
    check(dsn, f"{schema}.raw_lines", df)
    return took


def run_to_sql(url, dsn, clock, n, seed, schema, method):
    from sqlalchemy import create_engine  # the bench extra (requirements-bench.txt)

    db, orders, products = store(url, schema, n, seed)
    db.close()
    df = lines(n, orders, products, seed)
    with psycopg.connect(dsn, autocommit=True) as c:
        twin(c, schema, "raw_lines")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        clock.start()
        df.to_sql("raw_lines", conn, schema=schema, if_exists="append", index=False, method=method,
                  chunksize=1000 if method == "multi" else None)
        conn.commit()
        took = clock.stop()
    engine.dispose()
    check(dsn, f"{schema}.raw_lines", df)
    return took


def best(runs):
    """The run with the least client+server CPU (the figure that counts on a busy machine)."""
    return min(runs, key=lambda t: t[1] + (t[2] or 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--to-sql-rows", type=int, default=100_000,
                    help="rows for pandas to_sql (0: skip); its time is scaled to --rows")
    ap.add_argument("--dsn", help="a URL of a server to use (default: start a throwaway one)")
    args = ap.parse_args()
    server, url, port = start_server(args.dsn)
    dsn = url.split("?")[0]
    clock = Clock(port)
    results = {}
    pid = os.getpid()
    try:
        results["crmcore import_frame"] = best([run_crmcore(url, dsn, clock, args.rows, r, f"bi_c{pid}_{r}")
                                                for r in range(args.repeat)])
        results["psycopg COPY binary (same indexes+refs)"] = best(
            [run_psycopg(url, dsn, clock, args.rows, r, f"bi_p{pid}_{r}", False) for r in range(args.repeat)])
        results["psycopg COPY binary (bare table)"] = best(
            [run_psycopg(url, dsn, clock, args.rows, r, f"bi_b{pid}_{r}", True) for r in range(args.repeat)])
        if args.to_sql_rows:
            scale = args.rows / args.to_sql_rows
            for method in (None, "multi"):
                w, c, s = run_to_sql(url, dsn, clock, args.to_sql_rows, 0, f"bi_s{pid}_{method or 'default'}", method)
                results[f"pandas to_sql method={method} (x{scale:g} of {args.to_sql_rows:,})"] = (
                    w * scale, c * scale, None if s is None else s * scale)
    finally:
        if server:
            server.stop()
    print(f"rows: {args.rows:,} (best CPU of {args.repeat}); load: {os.getloadavg()[0]:.1f}")
    print(f"{'':45s} {'wall s':>8s} {'client CPU':>10s} {'server CPU':>10s}")
    for name, (w, c, s) in results.items():
        print(f"{name:45s} {w:8.2f} {c:10.2f} {'' if s is None else f'{s:10.2f}'}")
    ours, raw = results["crmcore import_frame"], results["psycopg COPY binary (same indexes+refs)"]
    if ours[2] is not None and raw[2] is not None:
        print(f"crmcore / raw COPY, client+server CPU: {(ours[1] + ours[2]) / (raw[1] + raw[2]):.2f}x;"
              f" wall: {ours[0] / raw[0]:.2f}x")


if __name__ == "__main__":
    main()
