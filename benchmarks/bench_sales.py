"""Sales: the stage funnel and the forecast, crmcore against plain pandas on
the same columns, one run each.

1,000,000 deals with 5,000,000 stage-history rows by default. Both sides get
the frames a store would hand them (``db.frame("deal_stages")``,
``db.frame("deals")``) already in memory, so what is timed is the report, not
reading SQLite. Every pandas answer is checked against crmcore's before its
time counts. Run:

    python benchmarks/bench_sales.py [--deals 1000000] [--rows 5000000] [--repeat 3]
"""
import argparse

import numpy as np
import pandas as pd

from crmcore.sales import forecast_table, funnel_table
from _timing import timed

STEPS = ["lead", "qualified", "proposal", "negotiation", "won"]
STAGES = STEPS + ["lost"]


def synthetic(deals, rows, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(1, deals + 1, dtype=np.int64)
    history = pd.DataFrame({"deal_id": rng.integers(1, deals + 1, rows),
                            "stage": pd.Categorical.from_codes(rng.integers(0, len(STAGES), rows), STAGES)})
    history["stage"] = history["stage"].astype(object)  # what db.frame gives: text, not categories
    category = rng.choice(np.array(["open", "won", "lost"], dtype=object), deals, p=[0.6, 0.25, 0.15])
    start = np.datetime64("2024-01-01", "ns").astype(np.int64)
    when = pd.to_datetime(start + rng.integers(0, 365, deals) * 86_400 * 10**9)
    frame = pd.DataFrame({"category": category, "amount": rng.gamma(2.0, 500.0, deals).round(2),
                          "probability": rng.choice([0.1, 0.25, 0.5, 0.75, 0.9], deals),
                          "owner": rng.integers(1, 201, deals), "expected_close": when,
                          "closed_at": when.where(category != "open")}, index=ids)
    return ids, history, frame


def funnel_pandas(history, ids, steps):
    step = history["stage"].map({s: i for i, s in enumerate(steps)})
    furthest = step.groupby(history["deal_id"]).max()
    furthest = furthest[furthest.index.isin(ids)].dropna().astype(int)
    reached = furthest.value_counts().reindex(range(len(steps)), fill_value=0)[::-1].cumsum()[::-1]
    out = pd.DataFrame({"deals": reached.to_numpy()}, index=pd.Index(steps, name="stage"))
    out["to_next"] = out["deals"].shift(-1) / out["deals"].where(out["deals"] > 0)
    return out


def forecast_pandas(deals, period, by):
    d = deals[deals["category"] != "lost"]
    is_open = d["category"] == "open"
    a = d["amount"].fillna(0.0)
    p = d["probability"]
    d = pd.DataFrame({"period": d["expected_close"].where(is_open, d["closed_at"]).dt.to_period(period),
                      by: d[by], "won": a.where(~is_open, 0.0), "open_deals": is_open.astype(int),
                      "pipeline": a.where(is_open, 0.0), "weighted": (a * p).where(is_open, 0.0),
                      "commit": a.where(is_open & (p >= 0.75), 0.0), "best_case": a.where(is_open & (p >= 0.5), 0.0)})
    return d.groupby(["period", by]).sum()


def report(name, ours, theirs, repeat):
    (_, best, med), (_, p_best, p_med) = ours, theirs
    print(f"{name} (best / median of {repeat})")
    print(f"  crmcore   {best:8.3f} s  {med:8.3f} s")
    print(f"  pandas    {p_best:8.3f} s  {p_med:8.3f} s   crmcore is {p_best / best:5.1f}x faster")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ids, history, deals = synthetic(args.deals, args.rows)

    ours = timed(lambda: funnel_table(history, ids, STEPS), args.repeat)
    theirs = timed(lambda: funnel_pandas(history, ids, STEPS), args.repeat)
    pd.testing.assert_frame_equal(ours[0], theirs[0], check_dtype=False)
    report(f"funnel, {args.deals:,} deals, {args.rows:,} stage rows", ours, theirs, args.repeat)

    ours = timed(lambda: forecast_table(deals, "M", "owner"), args.repeat)
    theirs = timed(lambda: forecast_pandas(deals, "M", "owner"), args.repeat)
    assert ours[0].index.equals(theirs[0].index)
    np.testing.assert_allclose(ours[0].to_numpy(dtype=float), theirs[0][ours[0].columns].to_numpy(dtype=float),
                               rtol=1e-9)
    report(f"forecast by month x owner, {args.deals:,} deals", ours, theirs, args.repeat)


if __name__ == "__main__":
    main()
