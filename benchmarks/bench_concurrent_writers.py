"""Concurrent writers: W processes write to one store at once, on PostgreSQL and on one SQLite file.

Each process imports its own --batches batches of --rows orders and, after
each batch, updates --updates customers that every process shares (a value
no other write sets, so each update is a change with an audit entry). They
start together (a barrier) and the clock runs until the last one ends.
SQLite's writers take turns by the file's write lock and wait up to the
store's busy timeout (10 s, sql::configure_connection); PostgreSQL's by the
store's advisory lock, with no timeout. A write that fails is counted and
printed, not retried.

Afterwards the store is checked: orders per writer equal what its imports
reported, one audit entry per update made, unique ids, the engine's
integrity check and the audit log's hash chain. Printed: wall, throughput,
errors, and each writer's CPU seconds summed. Without --dsn a throwaway
PostgreSQL server is started as the tests do (shared_buffers=256MB). Run:

    python benchmarks/bench_concurrent_writers.py [--writers 8] [--batches 10] [--rows 5000] [--updates 20]
"""
import argparse
import multiprocessing
import os
import pathlib
import sys
import tempfile
import time

import pandas as pd

import crmcore as crm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
from pg_server import PgServer  # noqa: E402


def writer(path, worker, customers, args, barrier):
    """Returns (orders landed, updates made, errors, CPU seconds)."""
    landed, updated, errors = 0, 0, []
    with crm.open(path) as db:
        frames = [pd.DataFrame({
            "customer_id": [customers[(worker * 7919 + b * 31 + i) % len(customers)] for i in range(args.rows)],
            "amount": [float(i % 500) + 0.5 for i in range(args.rows)],
            "ordered_at": pd.Timestamp("2026-01-01") + pd.to_timedelta([i % 365 for i in range(args.rows)], unit="D"),
            "channel": f"w{worker}"}) for b in range(args.batches)]
        barrier.wait()
        cpu = time.process_time()
        for b, frame in enumerate(frames):
            try:
                landed += int((db.import_frame("orders", frame, progress=False) > 0).sum())
            except crm.Error as e:
                errors.append(f"import: {e}")
            for u in range(args.updates):
                try:
                    db.update("customers", customers[(worker * 13 + b * args.updates + u) % len(customers)],
                              region=f"w{worker}b{b}u{u}")
                    updated += 1
                except crm.Error as e:
                    errors.append(f"update: {e}")
        return landed, updated, errors, time.process_time() - cpu


def run(path, args):
    with crm.open(path) as db:
        customers = [int(i) for i in db.import_frame(
            "customers", pd.DataFrame({"name": [f"shared {i}" for i in range(args.customers)]}), progress=False)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(args.writers + 1)
        with ctx.Pool(args.writers) as pool:
            pending = pool.starmap_async(writer, [(path, w, customers, args, barrier) for w in range(args.writers)],
                                         chunksize=1)
            barrier.wait()
            start = time.perf_counter()
            results = pending.get()
            wall = time.perf_counter() - start
    with crm.open(path) as db:
        orders = db.frame("orders", columns=["channel"])
        per_writer = orders.groupby("channel").size().reindex([f"w{w}" for w in range(args.writers)], fill_value=0)
        log = db.audit_log(limit=10_000_000)
        checks = {
            "orders per writer as reported": per_writer.tolist() == [r[0] for r in results],
            "ids unique": orders.index.is_unique,
            "one entry per update": int(((log["op"] == "update") & (log["kind"] == "customers")).sum())
            == sum(r[1] for r in results),
            "integrity_check ok": db.integrity_check() == "ok",
            "audit chain verifies": db.audit_check().empty,
        }
    return wall, results, checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--dsn", help="a URL of a PostgreSQL server to use (default: start a throwaway one)")
    args = ap.parse_args()
    server = None
    url = args.dsn
    if not url:
        server = PgServer({"shared_buffers": "256MB", "max_connections": "40"}).start()
        url = server.url
    out = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out["SQLite file"] = run(os.path.join(tmp, "shared.crm"), args)
        out["PostgreSQL"] = run(f"{url}&schema=bench_writers_{os.getpid()}", args)
    finally:
        if server:
            server.stop()
    rows = args.writers * args.batches * args.rows
    updates = args.writers * args.batches * args.updates
    print(f"{args.writers} writers x {args.batches} batches x {args.rows:,} orders + {args.updates} updates"
          f" per batch ({rows:,} orders, {updates:,} updates); load: {os.getloadavg()[0]:.1f}")
    print(f"{'':12s} {'wall s':>8s} {'orders/s':>10s} {'updates/s':>10s} {'writers CPU s':>13s} {'errors':>7s}  checks")
    for name, (wall, results, checks) in out.items():
        errors = [e for r in results for e in r[2]]
        landed, updated = sum(r[0] for r in results), sum(r[1] for r in results)
        failed = [k for k, ok in checks.items() if not ok]
        print(f"{name:12s} {wall:8.2f} {landed / wall:10,.0f} {updated / wall:10,.1f} {sum(r[3] for r in results):13.2f}"
              f" {len(errors):7d}  {'all pass' if not failed else 'FAILED: ' + ', '.join(failed)}")
        for e in sorted(set(errors))[:5]:
            print(f"    {e[:160]}")
        if failed:
            sys.exit(1)


if __name__ == "__main__":
    main()
