"""Stock: on hand on a date, days of cover, the reorder list and the
moving-average cost, crmcore's ledger kernels against a plain pandas ledger
on the same columns, in wall and in CPU seconds.

10,000,000 movements over 100,000 products and 3 locations by default. Both
sides get the movements as a store's frame gives them, already in memory
(codes for products and locations, as ``db.stock`` makes them), so what is
timed is the ledger, not reading SQLite. Every pandas answer is checked
against crmcore's before its time counts. Run:

    python benchmarks/bench_stock.py [--movements 10000000] [--products 100000] [--repeat 3]

With ``--store PATH`` it measures from a file store instead, end to end:
``db.stock.on_hand`` / ``reorder_list`` / ``days_of_cover`` (which read the
kept monthly balances and one month of movements) against pandas reading
the same store's movements (``db.frame``) and grouping them. The store is
made once through the write path (every location takes backorders, so the
import is not slowed by the never-below-zero check) and reused:

    python benchmarks/bench_stock.py --store /tmp/stock.crm --movements 1000000 [--as-of 2024-09-15T12:00]
"""
import argparse
import time

import numpy as np
import pandas as pd
from bench_sales import report  # the same lines as the sales benchmark

from crmcore import _core
from crmcore.stock import TYPES

NS_PER_DAY = 86_400 * 10**9

def timed(fn, repeat):
    """`fn`'s last result, the best and the median wall seconds of `repeat`
    calls, and the best CPU seconds (kept in `timed.cpu`): on the shared
    machine wall time follows the neighbours' load (at load 8 a run got 30%
    of a core), CPU time much less."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    timed.cpu = min(cpus)
    return out, min(walls), float(np.median(walls))


def compared(name, ours, theirs, repeat, cpu_ours):
    """The wall lines of `report`, then the CPU seconds of both sides."""
    report(name, ours, theirs, repeat)
    print(f"  CPU       crmcore {cpu_ours:7.3f} s  pandas {timed.cpu:7.3f} s   "
          f"crmcore is {timed.cpu / max(cpu_ours, 1e-9):5.1f}x faster")


def synthetic(movements, products, locations=3, seed=0):
    rng = np.random.default_rng(seed)
    type_code = rng.choice(len(TYPES), movements, p=[0.3, 0.5, 0.05, 0.05, 0.1]).astype(np.int8)
    location = rng.integers(0, locations, movements)
    to_location = np.where(type_code == TYPES.index("transfer"), (location + 1) % locations, -1)
    quantity = rng.integers(1, 20, movements).astype(np.float64)
    quantity[type_code == TYPES.index("adjustment")] *= rng.choice([-1.0, 1.0], (type_code == 3).sum())
    start = np.datetime64("2024-01-01", "ns").astype(np.int64)
    return pd.DataFrame({
        "type": type_code, "product": rng.integers(0, products, movements), "location": location,
        "to_location": to_location, "quantity": quantity,
        "unit_cost": np.where(type_code == 0, rng.uniform(1, 50, movements).round(2), np.nan),
        "at": start + rng.integers(0, 365 * NS_PER_DAY, movements)})


def args_of(m):
    return tuple(m[c].to_numpy() for c in ["type", "product", "location", "to_location", "quantity", "unit_cost",
                                            "at"])


def on_hand_pandas(m, as_of, locations):
    m = m[m["at"] <= as_of]
    out_of = (m["type"] == 1) | (m["type"] == 4)
    deltas = pd.concat([
        pd.DataFrame({"product": m["product"], "location": m["location"],
                      "q": np.where(out_of, -m["quantity"], m["quantity"])}),
        m.loc[m["type"] == 4, ["product", "to_location", "quantity"]].set_axis(["product", "location", "q"], axis=1)])
    return deltas.groupby(["product", "location"])["q"].sum()


def cover_days(on_hand, shipped, window):
    """days_of_cover's rule (crmcore/stock.py) on a cell's stock and what it shipped."""
    rate = shipped / window
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(on_hand > 0, on_hand / rate, np.where(rate > 0, 0.0, np.nan))


def cover_pandas(m, as_of, window):
    since = as_of - window * NS_PER_DAY
    on_hand = on_hand_pandas(m, as_of, None)
    s = m[(m["type"] == 1) & (m["at"] > since) & (m["at"] <= as_of)].groupby(["product", "location"])["quantity"].sum()
    shipped = s.reindex(on_hand.index, fill_value=0.0)
    return pd.Series(cover_days(on_hand.to_numpy(), shipped.to_numpy(), window), index=on_hand.index)


def cover_ours(args, as_of, window, products, locations):
    on_hand, shipped, seen = _core.stock_levels(*args, products, locations, as_of, as_of - window * NS_PER_DAY)
    cells = np.flatnonzero(seen)
    return cells, cover_days(on_hand[cells], shipped[cells], window)


def reorder_pandas(m, as_of, reorder_point, locations):
    total = on_hand_pandas(m, as_of, locations).groupby(level="product").sum()
    total = total.reindex(range(len(reorder_point)), fill_value=0.0)
    return np.flatnonzero(total.to_numpy() <= reorder_point)


def reorder_ours(args, as_of, reorder_point, locations):
    on_hand, _, _ = _core.stock_levels(*args, len(reorder_point), locations, as_of, as_of)
    return np.flatnonzero(on_hand.reshape(-1, locations).sum(axis=1) <= reorder_point)


def make_store(path, movements, products, locations=3, chunk=1_000_000):
    """A file store holding `movements` synthetic movements (bench_stock's
    own mix over a year), imported through the write path in chunks."""
    import crmcore as crm
    # A ledger grows in time order (back-dated movements are the exception),
    # so rows near in time are near in the file, as in a real store.
    m = synthetic(movements, products, locations).sort_values("at", kind="stable", ignore_index=True)
    with crm.open(path) as db:
        loc = db.import_frame("locations", pd.DataFrame({
            "name": [f"W{i}" for i in range(locations)], "allows_backorders": True}))
        prod = db.import_frame("products", pd.DataFrame({
            "sku": [f"P{i}" for i in range(products)], "name": [f"p{i}" for i in range(products)],
            "reorder_point": np.random.default_rng(1).integers(0, 40, products).astype(np.float64)}))
        loc, prod = np.asarray(loc), np.asarray(prod)
        frame = pd.DataFrame({
            "type": np.asarray(TYPES)[m["type"].to_numpy()], "product_id": prod[m["product"].to_numpy()],
            "location_id": loc[m["location"].to_numpy()],
            "to_location_id": pd.Series(loc[m["to_location"].clip(0)], dtype="Int64").where(m["to_location"] >= 0),
            "quantity": m["quantity"], "reason": np.where(m["type"] == 3, "count", None),
            "moved_at": m["at"].to_numpy().view("M8[ns]")})
        for start in range(0, len(frame), chunk):
            db.import_frame("stock_movements", frame.iloc[start:start + chunk])


def read_movements(db):
    """The movements' columns the ledger needs, read whole from the store."""
    return db.frame("stock_movements", columns=["type", "product_id", "location_id", "to_location_id", "quantity",
                                                "moved_at"])


def ledger_from_store(db, as_of):
    """pandas' side from the store: the movements read whole, then grouped."""
    return ledger_of(read_movements(db), as_of)


def ledger_of(m, as_of):
    """Stock per (product_id, location_id) at as_of, a plain pandas ledger."""
    m = m[m["moved_at"] <= as_of]
    out_of = m["type"].isin(["shipment", "transfer"]).to_numpy()
    q = m["quantity"].to_numpy()
    t = m[m["type"] == "transfer"]
    deltas = pd.concat([
        pd.DataFrame({"product_id": m["product_id"], "location_id": m["location_id"], "q": np.where(out_of, -q, q)}),
        pd.DataFrame({"product_id": t["product_id"], "location_id": t["to_location_id"].astype(np.int64),
                      "q": t["quantity"]})])
    return deltas.groupby(["product_id", "location_id"])["q"].sum()


def from_store(args):
    import os

    import crmcore as crm
    if not os.path.exists(args.store):
        t = time.perf_counter()
        make_store(args.store, args.movements, args.products)
        print(f"made {args.store} in {time.perf_counter() - t:.1f} s")
    as_of = pd.Timestamp(args.as_of)
    with crm.open(args.store, readonly=True) as db:
        n = db.count("stock_movements")
        ours = timed(lambda: db.stock.on_hand(as_of=as_of), args.repeat)
        cpu = timed.cpu
        theirs = timed(lambda: ledger_from_store(db, as_of), args.repeat)
        got = ours[0].set_index(["product_id", "location_id"])["on_hand"]
        pd.testing.assert_series_equal(got, theirs[0], check_names=False, atol=1e-6)
        compared(f"from the store: on hand on a date, {n:,} movements", ours, theirs, args.repeat, cpu)

        ours = timed(lambda: db.stock.reorder_list(as_of=as_of), args.repeat)
        cpu = timed.cpu
        points = db.frame("products", columns=["reorder_point"])["reorder_point"]

        def reorder_pandas():
            total = ledger_from_store(db, as_of).groupby(level="product_id").sum().reindex(points.index,
                                                                                         fill_value=0.0)
            return total.index[total <= points].to_numpy()
        theirs = timed(reorder_pandas, args.repeat)
        np.testing.assert_array_equal(ours[0]["product_id"].to_numpy(), theirs[0])  # (nothing is on order)
        compared("from the store: reorder list on a date", ours, theirs, args.repeat, cpu)

        ours = timed(lambda: db.stock.days_of_cover(window=90, as_of=as_of), args.repeat)
        cpu = timed.cpu

        def cover_pandas():
            m = read_movements(db)
            on_hand = ledger_of(m, as_of)
            since = as_of - pd.Timedelta(days=90)
            s = m[(m["type"] == "shipment") & (m["moved_at"] > since) & (m["moved_at"] <= as_of)]
            shipped = s.groupby(["product_id", "location_id"])["quantity"].sum().reindex(on_hand.index,
                                                                                         fill_value=0.0)
            return pd.Series(cover_days(on_hand.to_numpy(), shipped.to_numpy(), 90), index=on_hand.index)
        theirs = timed(cover_pandas, args.repeat)
        got = ours[0].set_index(["product_id", "location_id"])["days_of_cover"]
        pd.testing.assert_series_equal(got, theirs[0], check_names=False, rtol=1e-9)
        compared("from the store: days of cover (90 days)", ours, theirs, args.repeat, cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movements", type=int, default=10_000_000)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", help="measure from this file store (made first when missing)")
    ap.add_argument("--as-of", default="2024-09-30",
                    help="the date of the --store run (late in a month the kept balances read the month's end)")
    args = ap.parse_args()
    if args.store:
        return from_store(args)
    L = 3
    m = synthetic(args.movements, args.products, L)
    cols = args_of(m)
    as_of = int(np.datetime64("2024-09-30", "ns").astype(np.int64))

    ours = timed(lambda: _core.stock_levels(*cols, args.products, L, as_of, as_of), args.repeat)
    cpu = timed.cpu
    theirs = timed(lambda: on_hand_pandas(m, as_of, L), args.repeat)
    on_hand, _, seen = ours[0]
    idx = theirs[0].index
    cell = idx.get_level_values(0).to_numpy() * L + idx.get_level_values(1).to_numpy()
    assert seen.sum() == len(cell)
    np.testing.assert_allclose(on_hand[cell], theirs[0].to_numpy(), rtol=0, atol=1e-6)
    compared(f"on hand on a date, {args.movements:,} movements, {args.products:,} products x {L} locations",
             ours, theirs, args.repeat, cpu)

    ours = timed(lambda: cover_ours(cols, as_of, 90, args.products, L), args.repeat)
    cpu = timed.cpu
    theirs = timed(lambda: cover_pandas(m, as_of, 90), args.repeat)
    idx = theirs[0].index
    np.testing.assert_array_equal(ours[0][0], idx.get_level_values(0).to_numpy() * L + idx.get_level_values(1).to_numpy())
    np.testing.assert_allclose(ours[0][1], theirs[0].to_numpy(), rtol=1e-12, atol=1e-9)
    compared("days of cover (stock on a date / shipped in the 90 days before)", ours, theirs, args.repeat, cpu)

    point = np.random.default_rng(1).integers(0, 40, args.products).astype(np.float64)
    ours = timed(lambda: reorder_ours(cols, as_of, point, L), args.repeat)
    cpu = timed.cpu
    theirs = timed(lambda: reorder_pandas(m, as_of, point, L), args.repeat)
    np.testing.assert_array_equal(ours[0], theirs[0])
    compared("reorder list on a date", ours, theirs, args.repeat, cpu)

    ours = timed(lambda: _core.stock_moving_average(*cols, args.products, as_of), args.repeat)
    cpu = timed.cpu
    # pandas has no running weighted average that resets on short stock; the
    # ledger sorted by time and a grouped cumulative sum is what it can do
    # (the on-hand part only), so it is timed but not compared as a whole.
    theirs = timed(lambda: m[m["at"] <= as_of].sort_values("at", kind="stable").groupby("product")["quantity"]
                   .cumsum(), args.repeat)
    compared("moving-average cost (pandas: the sorted ledger's running sum alone)", ours, theirs, args.repeat, cpu)


if __name__ == "__main__":
    main()
