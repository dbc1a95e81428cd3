"""What active automation rules cost an import: N orders imported into a
fresh store with no rules, then with 20 active rules on created orders
(the ratio of the two times is printed; the goal is at most 1.2).

    PYTHONPATH=python python benchmarks/bench_automation.py [--orders 1000000] [--repeat 3] [--postgres]

The 20 rules are of the kinds a shop uses: each a condition on the order
(amount ranges, channel, status) judged column by column on the import's own
rows, and a tag, a field set or (for the rare big orders) a task or an
outbox message for the matching ones; each matches a few percent of orders.
Each store is a file in a temporary folder; the best of --repeat runs counts.
Beside wall seconds it prints the import thread's CPU seconds: on a shared
machine the wall clock mostly measures the other processes, and the import
runs on one thread.

With --postgres the stores are fresh schemas of a PostgreSQL server (a
throwaway one started as the tests start theirs, or --dsn's), and the figures
are the client's CPU seconds (``time.process_time``) and the server's (its
processes' from /proc, bench_pg_import.Clock): there the server does most of
the work.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import crmcore as crm


def rules():
    out = []
    for i in range(16):  # tags on amount bands and channels
        low = 100 * i
        channel = ["web", "store", "phone", "app"][i % 4]
        out.append(dict(name=f"band {i}", on="created", kind="orders",
                        condition=[("amount", "between", (low, low + 20)), ("channel", "==", channel)],
                        actions=[{"do": "tag", "add": [f"band{i}"]}]))
    out.append(dict(name="set status", on="created", kind="orders", condition=[("amount", ">", 1950)],
                    actions=[{"do": "set", "field": "status", "value": "review"}]))
    out.append(dict(name="task big", on="created", kind="orders", condition=[("amount", ">", 1990)],
                    actions=[{"do": "task", "subject": "Thank the buyer of a {channel} order", "due_days": 2}]))
    out.append(dict(name="mail big", on="created", kind="orders", condition=[("amount", ">", 1995)],
                    actions=[{"do": "message", "subject": "Thank you", "body": "Your {channel} order"}]))
    out.append(dict(name="phone", on="created", kind="orders",
                    condition=[("channel", "==", "phone"), ("amount", "<", 20)],
                    actions=[{"do": "tag", "add": ["small phone"]}]))
    return out


def run(n: int, with_rules: bool, folder: Path, seed: int = 0, url: str | None = None, clock=None) -> tuple:
    rng = np.random.default_rng(seed)
    name = f"bench_{with_rules}_{time.monotonic_ns()}"
    db = crm.open(f"{url}&schema={name}" if url else folder / f"{name}.crm")
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(1000)],
                                                           "email": [f"c{i}@x.org" for i in range(1000)]}))
    if with_rules:
        for r in rules():
            db.automation.add_rule(**r)
    orders = pd.DataFrame({
        "customer_id": rng.choice(customers, n), "ordered_at": pd.Timestamp("2024-01-01")
        + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "amount": np.round(rng.uniform(1, 2000, n), 2), "channel": rng.choice(["web", "store", "phone", "app"], n)})
    if clock:
        clock.start()
        db.import_frame("orders", orders)
        took = clock.stop()  # wall, client CPU, server CPU
    else:
        start, cpu = time.perf_counter(), time.thread_time()
        db.import_frame("orders", orders)
        took = (time.perf_counter() - start, time.thread_time() - cpu)
    if with_rules:
        print(f"  actions: {db.count('tasks')} tasks, {db.count('outbox')} messages, "
              f"{int((db.frame('orders', columns=['tags'])['tags'].map(len) > 0).sum())} orders tagged")
    db.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="on a PostgreSQL server (a throwaway one)")
    parser.add_argument("--dsn", help="with --postgres: a URL of a running server to use instead")
    args = parser.parse_args()
    if args.postgres:
        return on_postgres(args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain = [run(args.orders, False, folder) for _ in range(args.repeat)]
        ruled = [run(args.orders, True, folder) for _ in range(args.repeat)]
    wall = min(t[0] for t in plain), min(t[0] for t in ruled)
    cpu = min(t[1] for t in plain), min(t[1] for t in ruled)
    print(json.dumps({"orders": args.orders, "rules": len(rules()), "plain_s": round(wall[0], 3),
                      "with_rules_s": round(wall[1], 3), "ratio": round(wall[1] / wall[0], 3),
                      "plain_cpu_s": round(cpu[0], 3), "with_rules_cpu_s": round(cpu[1], 3),
                      "cpu_ratio": round(cpu[1] / cpu[0], 3)}))


def on_postgres(args) -> None:
    import os
    import sys
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))  # (bench_pg_import finds the tests' pg_server itself)
    from bench_pg_import import Clock, start_server

    server, url, port = start_server(args.dsn)
    clock = Clock(port)
    try:
        plain = [run(args.orders, False, Path("."), url=url, clock=clock) for _ in range(args.repeat)]
        ruled = [run(args.orders, True, Path("."), url=url, clock=clock) for _ in range(args.repeat)]
    finally:
        if server:
            server.stop()
    # The best run by client + server CPU, the steadier figure under load.
    best = [min(runs, key=lambda t: t[1] + (t[2] or 0)) for runs in (plain, ruled)]
    total = [t[1] + (t[2] or 0) for t in best]
    print(json.dumps({"engine": "postgresql", "orders": args.orders, "rules": len(rules()),
                      "plain_s": round(best[0][0], 3), "with_rules_s": round(best[1][0], 3),
                      "plain_client_cpu_s": round(best[0][1], 3), "with_rules_client_cpu_s": round(best[1][1], 3),
                      "plain_server_cpu_s": best[0][2] and round(best[0][2], 3),
                      "with_rules_server_cpu_s": best[1][2] and round(best[1][2], 3),
                      "cpu_ratio": round(total[1] / total[0], 3), "wall_ratio": round(best[1][0] / best[0][0], 3),
                      "load": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
