"""Every benchmark still runs, at a toy size, with the checks it makes of its own results.

The figures in benchmarks/README.md come from these scripts at full size; a
script that no longer runs (or whose results no longer agree with the other
tool's) would leave them unreproducible. Nothing here is timed.
"""
import os
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("script, args, expected", [
    ("bench_import.py", ["--rows", "3000", "--customers", "2000", "--repeat", "1"], "sqlite3 executemany"),
    ("bench_clv.py", ["--customers", "2000", "--lifetimes-customers", "500"], "BetaGeoFitter.fit"),
    ("bench_scoring.py", ["--rows", "20000", "--customers", "2000", "--orders", "2000", "--products", "50",
                          "--repeat", "1"], "mlxtend"),
    ("bench_query.py", ["--customers", "3000", "--repeat", "1", "--probes", "3"], "pandas db.frame + mask"),
    ("bench_upsert.py", ["--rows", "3000", "--repeat", "1"], "executemany ON CONFLICT"),
    ("bench_sales.py", ["--deals", "3000", "--rows", "15000", "--repeat", "1"], "forecast by month x owner"),
    ("bench_sales_ops.py", ["--deals", "5000", "--invoices", "5000", "--payments", "2000", "--repeat", "1", "--store"],
     "allocated to invoices"),
    ("bench_service.py", ["--tickets", "3000", "--customers", "3000", "--orders", "30000", "--repeat", "1"],
     "first touch"),
    ("bench_stock.py", ["--movements", "20000", "--products", "500", "--repeat", "1"], "reorder list on a date"),
    ("bench_graph.py", ["--scale", "0.001", "--nx-scale", "0.001", "--crm", "300", "--k", "2"], "modularity"),
    ("bench_duplicates.py", ["--customers", "1500", "--big", "2000"], "splink (duckdb)"),
    ("bench_automation.py", ["--orders", "2000", "--repeat", "1"], '"ratio"'),
    ("bench_automation.py", ["--orders", "2000", "--repeat", "1", "--postgres"], '"engine": "postgresql"'),
    ("bench_access.py", ["--customers", "2000", "--staff", "20", "--repeat", "1"], "cached"),
    ("bench_pg_copy.py", ["--rows", "5000", "--repeat", "1"], "ratio crmcore / psycopg"),
    ("bench_graph_scale.py", ["--sizes", "20000", "--table-edges", "5000"], "same graph both ways"),
    ("bench_pg_import.py", ["--rows", "3000", "--repeat", "1", "--to-sql-rows", "0"], "crmcore / raw COPY"),
    ("bench_concurrent_writers.py", ["--writers", "3", "--batches", "2", "--rows", "200", "--updates", "2",
                                     "--customers", "20"], "all pass"),
])
def test_benchmark_runs_at_toy_size(script, args, expected):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout
