"""Bulk import and phone lookup: crmcore against what a Python user would do instead.

Imports the same 1,000,000 order lines (a DataFrame) four ways into the same
schema, each into a fresh copy of one prepared store file:

- crmcore's ``db.import_frame`` (validated, all-or-nothing, audited),
- Python's ``sqlite3`` ``executemany`` fed from the DataFrame,
- ``DataFrame.to_sql``,
- a bare C++ prepared-statement insert loop (no validation at all),

then writes them to JSON and reads them back (crmcore against pandas), and
times phone lookups among 1,000,000 customers. Run:

    python benchmarks/bench_import.py [--rows 1000000] [--customers 1000000]
"""
import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time

import numpy as np
import pandas as pd

import crmcore as crm
from _timing import fresh_copy, once


def bench_native():
    """The yardstick module, built beside crmcore by scripts/setup.sh but not installed with it."""
    import importlib
    import subprocess
    import sys
    build = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "scripts", "build_dir.py")],
                           capture_output=True, text=True, check=True).stdout.strip()
    sys.path.insert(0, build)
    try:
        return importlib.import_module("crmcore_bench_native")
    finally:
        sys.path.remove(build)


def order_lines(n_rows, order_ids, product_ids, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "order_id": rng.choice(order_ids, n_rows),
        "product_id": rng.choice(product_ids, n_rows),
        "quantity": rng.integers(1, 10, n_rows).astype(np.float64),
        "unit_price": rng.gamma(2.0, 40.0, n_rows).round(2),
        "unit_cost": rng.gamma(2.0, 25.0, n_rows).round(2),
    })


def prepare(path, n_orders=100_000, n_products=2_000):
    with crm.open(path) as db:
        cids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(10_000)]}))
        rng = np.random.default_rng(1)
        pids = db.import_frame("products", pd.DataFrame({
            "sku": [f"SKU-{i}" for i in range(n_products)], "name": [f"product {i}" for i in range(n_products)]}))
        oids = db.import_frame("orders", pd.DataFrame({
            "customer_id": rng.choice(cids, n_orders), "ordered_at": pd.Timestamp("2024-01-01"),
            "amount": rng.gamma(2.0, 50.0, n_orders)}), progress=False)
        next_id = int(oids.max()) + 1
    return oids, pids, next_id


def sqlite_connection(path):
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
        con.execute("PRAGMA " + pragma)
    return con


def setup(rows, workdir):
    """The prepared store file (customers, products, orders), the order lines to import, and
    the id the store gives next."""
    base = os.path.join(workdir, "base.crm")
    oids, pids, next_id = prepare(base)
    return base, order_lines(rows, oids, pids), next_id


def run_import(base, df, next_id, workdir, repeat):
    """Seconds per method: the best of `repeat` runs, each into a fresh copy of one prepared file
    (``to_sql`` runs once: it takes a minute and is never close)."""
    rows = len(df)
    cols = ["order_id", "product_id", "quantity", "unit_price", "unit_cost"]

    def fresh():
        return fresh_copy(base, os.path.join(workdir, "run.crm"))

    def crmcore_import():
        with crm.open(fresh()) as db:
            seconds = once(lambda: db.import_frame("order_lines", df, progress=False))
            assert db.count("order_lines") == rows
        return seconds

    def raw_loop():
        path = fresh()
        columns = [(name, df[name].to_numpy()) for name in cols]
        return once(lambda: bench_native().raw_insert(path, "order_lines", columns, next_id))

    def executemany():
        con = sqlite_connection(fresh())

        def run():
            ids = np.arange(next_id, next_id + rows)
            values = zip(ids.tolist(), *(df[c].tolist() for c in cols))
            con.execute("BEGIN")
            con.executemany("INSERT INTO order_lines(id, order_id, product_id, quantity, unit_price, unit_cost,"
                            " created_at, updated_at) VALUES(?,?,?,?,?,?,0,0)", values)
            con.execute("COMMIT")
        seconds = once(run)
        con.close()
        return seconds

    def to_sql():
        con = sqlite_connection(fresh())
        out = df.assign(id=np.arange(next_id, next_id + rows), created_at=0, updated_at=0)
        seconds = once(lambda: out.to_sql("order_lines", con, if_exists="append", index=False,
                                           chunksize=100_000))
        con.close()
        return seconds

    methods = {"crmcore import_frame": crmcore_import, "raw C++ insert loop": raw_loop,
               "sqlite3 executemany": executemany}
    results = {name: min(fn() for _ in range(repeat)) for name, fn in methods.items()}
    results["DataFrame.to_sql"] = to_sql()
    return results


def run_json(base, df, workdir):
    """Seconds to write the order lines to JSON and to import them back:
    crmcore's export_json / import_json against what a pandas user would
    write (the frame's to_json; read_json then import_frame)."""
    rows = len(df)
    source = os.path.join(workdir, "json-source.crm")
    shutil.copy(base, source)
    ours_path, theirs_path = os.path.join(workdir, "ours.json"), os.path.join(workdir, "theirs.json")
    results = {}
    with crm.open(source) as db:
        db.import_frame("order_lines", df, progress=False)
        results["export: crmcore export_json"] = once(lambda: db.export_json("order_lines", ours_path))
        results["export: db.frame + to_json"] = once(lambda: db.frame("order_lines").reset_index().to_json(
            theirs_path, orient="records", date_format="iso"))
    for name, path, load in (("import: crmcore import_json", ours_path, None),
                             ("import: read_json + import_frame", theirs_path, pd.read_json)):
        target = os.path.join(workdir, "json-target.crm")
        shutil.copy(base, target)
        with crm.open(target) as db:
            if load is None:
                results[name] = once(lambda: db.import_json("order_lines", path, progress=False))
            else:
                columns = ["order_id", "product_id", "quantity", "unit_price", "unit_cost"]
                results[name] = once(lambda: db.import_frame("order_lines", load(path)[columns], progress=False))
            assert db.count("order_lines") == rows
    return results


def run_lookup(n_customers, workdir, probes=2000):
    path = os.path.join(workdir, "customers.crm")
    rng = np.random.default_rng(2)
    numbers = rng.choice(10**8, n_customers, replace=False) + 13_000_000_000 - 13_000_000_000 % 10**8
    phones = pd.Series(numbers).astype(str)
    df = pd.DataFrame({"name": "customer " + pd.Series(np.arange(n_customers)).astype(str),
                       "phone": "+86 " + phones.str[:3] + " " + phones.str[3:7] + " " + phones.str[7:]})
    with crm.open(path) as db:
        load = once(lambda: db.import_frame("customers", df, progress=False))
        picks = rng.choice(n_customers, probes)
        typed = [f"{p[:3]}-{p[3:7]}-{p[7:]}" for p in phones.iloc[picks]]
        core_times, frame_times = [], []
        for t in typed:
            start = time.perf_counter()
            ids = db._core.find_phone("customers", t)
            core_times.append(time.perf_counter() - start)
            assert len(ids) == 1
        for t in typed[:500]:
            start = time.perf_counter()
            found = db.find("customers", phone=t)
            frame_times.append(time.perf_counter() - start)
            assert len(found) == 1
        # What a pandas user would do: normalize once, then a boolean mask per lookup.
        digits = df["phone"].str.replace(r"\D", "", regex=True).str.removeprefix("86")
        pandas_times = []
        for t in typed[:50]:
            start = time.perf_counter()
            hit = df[digits == t.replace("-", "")]
            pandas_times.append(time.perf_counter() - start)
            assert len(hit) == 1
    return load, statistics.median(core_times), statistics.median(frame_times), statistics.median(pandas_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per import method; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        base, df, next_id = setup(args.rows, workdir)
        results = run_import(base, df, next_id, workdir, args.repeat)
        ours = results["crmcore import_frame"]
        print(f"\nImport of {args.rows:,} order lines (same DataFrame, same schema, fresh file each;"
              f" best of {args.repeat}, to_sql one run)")
        print(f"{'method':<24}{'seconds':>9}{'rows/s':>14}{'time vs crmcore':>17}")
        for name, secs in results.items():
            print(f"{name:<24}{secs:>9.2f}{args.rows / secs:>14,.0f}{secs / ours:>16.2f}x")
        json_results = run_json(base, df, workdir)
        print(f"\nJSON of the same {args.rows:,} order lines (one run each)")
        for kind in ("export", "import"):
            (ours_name, ours_s), (theirs_name, theirs_s) = [(n, v) for n, v in json_results.items()
                                                             if n.startswith(kind)]
            print(f"  {ours_name:<36}{ours_s:>7.2f} s")
            print(f"  {theirs_name:<36}{theirs_s:>7.2f} s  ({theirs_s / ours_s:.1f}x crmcore's time)")
        load, core, frame, pandas_median = run_lookup(args.customers, workdir)
        print(f"\nPhone lookup among {args.customers:,} customers (import of them: {load:.1f} s)")
        print(f"  store lookup (ids), median     {core * 1e6:8.1f} us")
        print(f"  db.find -> DataFrame, median   {frame * 1e6:8.1f} us")
        print(f"  pandas boolean mask, median    {pandas_median * 1e6:8.1f} us  ({pandas_median / core:,.0f}x the store)")


if __name__ == "__main__":
    main()
