"""Upsert: re-importing an export whose rows are half known, half new.

A store holds N customers with external keys; an export of N rows arrives in
which half the keys exist (their phone changed, and for about 3 in 4 their
region) and half are new. Ways to write it, each into a fresh copy of the
same prepared file:

- crmcore's ``db.import_frame(..., mode="upsert")`` (validated, phones
  re-normalized, every update audited),
- Python's ``sqlite3`` ``executemany`` with ``INSERT ... ON CONFLICT DO
  UPDATE`` on the same key (no validation, lookups or audit),
- the same ``executemany`` plus the bookkeeping the store does besides the
  rows: each updated record's old and new values in an audit row, and the
  phone lookup table (the old phone out, the new one in); still no
  validation, normalization or hash chain,
- crmcore's plain insert of the same number of new rows, the yardstick the
  issue sets (goal: an upsert within 2x of it).

Then the export with the known rows' regions changed and their phones as
they were (real exports: most phones do not change), and the weekly case:
the first export imported again unchanged, each by crmcore's upsert and by
the same ``executemany``.

All of them write into the same file (the same tables and indexes) in one
transaction, with the store's settings (WAL, synchronous=NORMAL, 64 MiB cache).

Run:

    python benchmarks/bench_upsert.py [--rows 1000000] [--repeat 3]
"""
import argparse
import itertools
import os
import shutil
import sqlite3
import tempfile
import time

import numpy as np
import pandas as pd

import crmcore as crm
from _timing import once_with_cpu


def export(n, start, seed, phone_prefix="138"):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "external_source": "erp",
        "external_id": [f"C{i:08d}" for i in range(start, start + n)],
        "name": [f"customer {i}" for i in range(start, start + n)],
        "region": rng.choice(["East", "West", "North", "South"], n),
        "phone": [f"{phone_prefix}{i:08d}" for i in range(start, start + n)],
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.rows
    with tempfile.TemporaryDirectory() as workdir:
        base = os.path.join(workdir, "base.crm")
        exported = export(n, 0, seed=1)
        with crm.open(base) as db:
            db.import_frame("customers", exported, progress=False)
        # The first half known (a new region for about 3 in 4, a new phone for
        # each), the second half new.
        incoming = export(n, n // 2, seed=2, phone_prefix="139")
        # The weekly reality: the same, but the known rows keep their phones.
        same_phones = export(n, n // 2, seed=2)
        fresh_rows = export(n, 2 * n, seed=3)

        def fresh():
            path = os.path.join(workdir, "run.crm")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            shutil.copy(base, path)
            return path

        def crmcore_upsert(rows, count):
            with crm.open(fresh()) as db:
                seconds = once_with_cpu(lambda: db.import_frame("customers", rows, mode="upsert", progress=False))
                assert db.count("customers") == count
            return seconds

        def crmcore_insert():
            with crm.open(fresh()) as db:
                return once_with_cpu(lambda: db.import_frame("customers", fresh_rows, progress=False))

        def executemany_on_conflict(rows, count, bookkeeping=False):
            con = sqlite3.connect(fresh(), isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
                con.execute("PRAGMA " + pragma)
            next_id = con.execute("SELECT next FROM id_sequence").fetchone()[0]
            cols = ["external_source", "external_id", "name", "region", "phone"]

            def run():
                ids = list(range(next_id, next_id + len(rows)))
                now = time.time_ns()
                con.execute("BEGIN")
                if bookkeeping:  # the known rows' ids, and their old values into the audit rows
                    known = {key: (i, phone) for key, i, phone in con.execute(
                        "SELECT external_id, id, phone FROM customers WHERE external_source = 'erp'")}
                    keys = rows["external_id"].tolist()
                    ids = [known[key][0] if key in known else i for key, i in zip(keys, ids)]
                    # The old phones' lookup rows, by their key (the store's
                    # layout since schema 22 has no index by record).
                    old_points = [(known[key][1], known[key][0]) for key in keys if key in known]
                    updated = [(i, name, region, phone) for i, name, region, phone, new in zip(
                        ids, rows["name"].tolist(), rows["region"].tolist(), rows["phone"].tolist(),
                        (i >= next_id for i in ids)) if not new]
                    con.executemany(
                        "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows, changes) SELECT 0, 'update',"
                        " 'customers', id, id, 1, json_object('name', json_array(name, ?2), 'region',"
                        " json_array(region, ?3), 'phone', json_array(phone, ?4)) FROM customers WHERE id = ?1",
                        updated)
                # The conflict target must name the unique index's expression, or SQLite refuses it.
                con.executemany(
                    "INSERT INTO customers(id, external_source, external_id, name, region, phone, created_at,"
                    " updated_at) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(ifnull(external_source, ''), external_id)"
                    " WHERE external_id IS NOT NULL DO UPDATE SET name=excluded.name, region=excluded.region,"
                    " phone=excluded.phone, updated_at=excluded.updated_at",
                    zip(ids, *(rows[c].tolist() for c in cols), itertools.repeat(now), itertools.repeat(now)))
                if bookkeeping:
                    con.executemany("DELETE FROM contact_points WHERE value = ? AND record_id = ? AND field = 'phone'",
                                    old_points)
                    con.executemany("INSERT OR IGNORE INTO contact_points(value, record_id, field, kind)"
                                    " VALUES(?, ?, 'phone', 'customers')", zip(rows["phone"].tolist(), ids))
                    con.execute("UPDATE id_sequence SET next = ?", (next_id + len(rows),))
                con.execute("COMMIT")
            seconds = once_with_cpu(run)
            assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == count
            con.close()
            return seconds

        grown = n + n - n // 2
        results = {}
        for name, fn in (
                ("crmcore upsert", lambda: crmcore_upsert(incoming, grown)),
                ("crmcore insert (same rows, all new)", crmcore_insert),
                ("sqlite3 executemany ON CONFLICT", lambda: executemany_on_conflict(incoming, grown)),
                ("  + audit rows and phone lookups", lambda: executemany_on_conflict(incoming, grown, True)),
                ("crmcore upsert, phones unchanged", lambda: crmcore_upsert(same_phones, grown)),
                ("executemany ON CONFLICT, phones same", lambda: executemany_on_conflict(same_phones, grown)),
                ("crmcore upsert, export unchanged", lambda: crmcore_upsert(exported, n)),
                ("executemany ON CONFLICT, unchanged", lambda: executemany_on_conflict(exported, n))):
            runs = [fn() for _ in range(args.repeat)]
            results[name] = (min(wall for wall, _ in runs), min(cpu for _, cpu in runs))
        wall_upsert, cpu_upsert = results["crmcore upsert"]
        print(f"{n:,} rows, {n - n // 2:,} of them known: best of {args.repeat} (wall, and this process's CPU)")
        for name, (wall, cpu) in results.items():
            print(f"  {name:38s} wall {wall:8.3f} s ({wall / wall_upsert:5.2f}x)   "
                  f"CPU {cpu:8.3f} s ({cpu / cpu_upsert:5.2f}x crmcore upsert's)")


if __name__ == "__main__":
    main()
