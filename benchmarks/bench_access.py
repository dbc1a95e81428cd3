"""A scoped frame against the unscoped one: what enforcing access costs on reads.

    PYTHONPATH=python python benchmarks/bench_access.py [--customers 1000000] [--staff 200] [--repeat 3]

Data: N customers with a name, phone, e-mail, region and an owner among S
staff in teams of ten under managers. Timed (best of --repeat): the
unscoped ``db.frame("customers")``; the same frame through ``db.as_user``
for a sales rep (sees one owner's book), a team manager (sees ten) and
a director (everyone reports to them: sees all, through the visible-id
set) in decentralized mode, and for a rep in centralized mode (sees everything);
the first scoped call of a handle (visibility computed) and a repeated one
(cached) separately. Prints each time and its ratio to the unscoped frame;
the goal is a ratio within 1.3 for the cached case.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

import crmcore as crm
from _timing import timed


def build(n: int, staff: int, mode: str):
    db = crm.open(":memory:", mode=mode)
    director = db.add("staff", name="Director", role="sales")
    managers = [db.add("staff", name=f"M{i}", role="manager", manager_id=director)
                for i in range(max(1, staff // 10))]
    reps = db.import_frame("staff", pd.DataFrame({
        "name": [f"R{i}" for i in range(staff)], "role": "sales",
        "manager_id": [managers[i % len(managers)] for i in range(staff)]}))
    rng = np.random.default_rng(0)
    db.import_frame("customers", pd.DataFrame({
        "name": [f"Customer {i}" for i in range(n)],
        "phone": [f"+86 138 {i // 10000:04d} {i % 10000:04d}" for i in range(n)],
        "email": [f"c{i}@example.cn" for i in range(n)],
        "region": rng.choice(["East", "West", "North", "South"], n),
        "owner_id": rng.choice(reps, n)}))
    return db, int(director), int(managers[0]), int(reps[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--staff", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.customers:,} customers, {args.staff} reps")
    for mode in ("decentralized", "centralized"):
        db, director, manager, rep = build(args.customers, args.staff, mode)
        base = timed(lambda: db.frame("customers"), args.repeat)[1]
        print(f"{mode}: unscoped frame {base * 1e3:9.1f} ms")
        for who, user in (("rep", rep), ("manager", manager), ("director", director)):
            first = timed(lambda: db.as_user(user).frame("customers"), 1)[1]
            scoped = db.as_user(user)
            scoped.frame("customers")
            cached = timed(lambda: scoped.frame("customers"), args.repeat)[1]
            rows = len(scoped.frame("customers", columns=[]))
            print(f"  {who:8s} sees {rows:>9,}: first {first * 1e3:9.1f} ms ({first / base:4.2f}x), "
                  f"cached {cached * 1e3:9.1f} ms ({cached / base:4.2f}x)")


if __name__ == "__main__":
    main()
