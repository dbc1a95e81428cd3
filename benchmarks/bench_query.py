"""Queries: conditions answered in the store against building the frame and filtering it in pandas.

One store of 1,000,000 customers (Chinese and Latin names, regions, industries,
statuses, owners, tags, a custom "level"), then:

- an indexed selective condition (a region about 1 in 10,000 customers
  have), with ``db.create_index``: ``db.ids`` (the ids, in the store),
  ``db.find`` (the DataFrame of the matches), Python's ``sqlite3`` on the same
  file and index, and pandas (``db.frame`` and a boolean mask; and the mask
  alone, on a frame already built);
- conditions no index serves (equality with membership, a substring, a
  custom key, tags): ``db.frame(kind, filters=...)`` against ``db.frame(kind)``
  and the same filter in pandas.

Every answer is checked against pandas' before it is timed. Run:

    python benchmarks/bench_query.py [--customers 1000000] [--repeat 3]
"""
import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time

import numpy as np
import pandas as pd

import crmcore as crm

REGIONS = ["East China", "North China", "South China", "Central China", "Northeast", "Northwest", "Southwest",
           "North America", "Europe", "Southeast Asia"]
RARE_REGION = "西藏"  # about 1 customer in 10,000
INDUSTRIES = ["technology", "trading", "electronics", "logistics", "food", "healthcare", "制造业", "retail",
              "media", "education", "energy", "apparel"]
STATUSES = ["active", "new", "inactive", "lost", "prospect"]
TAGS = ["vip", "b2b", "b2c", "newsletter", "price_sensitive", "重点客户", "partner", "churn_risk"]
BRANDS = ["华创", "瑞丰", "鼎盛", "恒通", "博远", "中科", "Summit", "Northwind", "Evergreen", "Atlas", "Horizon"]
WORDS = ["科技", "贸易", "电子", "物流", "Technologies", "Trading", "Foods", "Pharma"]


def customers(n, seed=0):
    rng = np.random.default_rng(seed)
    names = (pd.Series(rng.choice(BRANDS, n)) + pd.Series(rng.choice(WORDS, n)) + " " +
             pd.Series(np.arange(n)).astype(str))
    region = rng.choice(REGIONS, n).astype(object)
    region[rng.random(n) < 1e-4] = RARE_REGION
    region[rng.random(n) < 0.05] = None
    masks = rng.random((n, len(TAGS))) < 0.15
    tag_sets = [[TAGS[j] for j in np.flatnonzero(row)] for row in masks]
    levels = rng.integers(0, 10, n)
    custom = [{"level": int(v)} if v < 8 or v % 2 else {"level": int(v), "note": "重点"} for v in levels]
    for i in np.flatnonzero(rng.random(n) < 0.3):
        custom[i] = {}
    return pd.DataFrame({
        "name": names, "kind": rng.choice(["organization", "person"], n), "region": region,
        "industry": rng.choice(INDUSTRIES, n), "status": rng.choice(STATUSES, n),
        "owner": pd.Series(rng.integers(0, 300, n)).map(lambda i: f"staff {i}"),
        "tags": tag_sets, "custom": custom,
    })


def median_seconds(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pandas_level(df):
    return df["custom"].map(lambda c: json.loads(c).get("level") if isinstance(c, str) else None)


# Conditions no index serves, each with the same filter in pandas (on the frame db.frame returns).
FULL_SCANS = [
    ("industry == 制造业 and status in (active, new)",
     [("industry", "==", "制造业"), ("status", "in", ["active", "new"])],
     lambda df: (df["industry"] == "制造业") & df["status"].isin(["active", "new"])),
    ("name contains 科技",
     [("name", "contains", "科技")],
     lambda df: df["name"].str.contains("科技", regex=False)),
    ("custom.level >= 8",
     [("custom.level", ">=", 8)],
     lambda df: pandas_level(df) >= 8),
    ("tags all (vip, b2b)",
     [("tags", "all", ["vip", "b2b"])],
     lambda df: df["tags"].map(lambda t: "vip" in t and "b2b" in t).astype(bool)),
    ("region != East China or owner == staff 7",
     [[("region", "!=", "East China")], [("owner", "==", "staff 7")]],
     lambda df: (df["region"].notna() & (df["region"] != "East China")) | (df["owner"] == "staff 7")),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each whole-frame method; the median counts")
    parser.add_argument("--probes", type=int, default=200, help="runs of each indexed lookup; the median counts")
    args = parser.parse_args()
    n = args.customers
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "query.crm")
        df_in = customers(n)
        with crm.open(path) as db:
            start = time.perf_counter()
            db.import_frame("customers", df_in, progress=False)
            load = time.perf_counter() - start
            start = time.perf_counter()
            db.create_index("customers", "region")
            index_time = time.perf_counter() - start
            print(f"{n:,} customers imported in {load:.1f} s; index on region built in {index_time:.2f} s")

            frame = db.frame("customers")
            want = frame.index[frame["region"] == RARE_REGION]
            assert db.ids("customers", region=RARE_REGION).tolist() == want.tolist()
            assert "crm_idx_customers_region" in db.query_plan("customers", region=RARE_REGION)
            con = sqlite3.connect(path)
            sql = "SELECT id FROM customers WHERE region = ? ORDER BY id"
            assert [r[0] for r in con.execute(sql, (RARE_REGION,))] == want.tolist()
            selective = {
                "crmcore db.ids (in the store)": median_seconds(lambda: db.ids("customers", region=RARE_REGION),
                                                                args.probes),
                "crmcore db.find (DataFrame of matches)": median_seconds(
                    lambda: db.find("customers", region=RARE_REGION), max(args.probes // 4, 1)),
                "sqlite3 execute + fetchall (same index)": median_seconds(
                    lambda: con.execute(sql, (RARE_REGION,)).fetchall(), args.probes),
                "pandas mask on a frame already built": median_seconds(
                    lambda: frame.index[frame["region"] == RARE_REGION], max(args.repeat, 3)),
                "pandas db.frame + mask": median_seconds(
                    lambda: (lambda f: f.index[f["region"] == RARE_REGION])(db.frame("customers")), args.repeat),
            }
            con.close()
            ours = selective["crmcore db.ids (in the store)"]
            print(f"\nIndexed selective condition: region == {RARE_REGION} ({len(want)} of {n:,} customers)")
            print(f"{'method':<44}{'median':>12}{'time vs db.ids':>16}")
            for name, secs in selective.items():
                print(f"{name:<44}{secs * 1e6:>10.1f} us{secs / ours:>15.1f}x")

            print(f"\nConditions no index serves (whole frames of the matches; median of {args.repeat})")
            print(f"{'condition':<44}{'matches':>9}{'crmcore':>10}{'pandas':>10}{'pandas time':>13}"
                  f"{'ids':>9}{'mask':>9}")
            frame_time = median_seconds(lambda: db.frame("customers"), args.repeat)
            for label, filters, mask in FULL_SCANS:
                expected = frame.index[mask(frame).to_numpy()]
                got = db.frame("customers", filters=filters)
                assert got.index.equals(expected), label
                crm_time = median_seconds(lambda: db.frame("customers", filters=filters), args.repeat)
                mask_time = median_seconds(lambda: mask(frame), args.repeat)
                pandas_time = frame_time + mask_time  # db.frame, then the mask (and .loc, not counted)
                ids_time = median_seconds(lambda: db.ids("customers", filters), args.repeat)
                print(f"{label:<44}{len(expected):>9,}{crm_time:>9.2f}s{pandas_time:>9.2f}s"
                      f"{pandas_time / crm_time:>12.1f}x{ids_time:>8.2f}s{mask_time:>8.2f}s")
            print(f"(pandas = db.frame of every customer, {frame_time:.2f} s, plus the mask; ids = db.ids alone,"
                  " mask = the pandas mask alone on a frame already built)")


if __name__ == "__main__":
    main()
