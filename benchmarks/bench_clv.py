"""crmcore.clv against lifetimes 0.11.3 on the same synthetic data, one process.

    PYTHONPATH=python python benchmarks/bench_clv.py [--customers 1000000]
        [--lifetimes-customers 100000] [--lifetimes-full]

Data: customers drawn from BG/NBD (daily CDNOW-like parameters r=0.24,
alpha=31 days, a=0.79, b=2.43), first purchase uniform over one year,
observed until day 730; every purchase time and a Gamma-Gamma spend
(p=6.25, q=3.74, v=15.44) is written out as a transaction row.

Timed: summary_data_from_transaction_data (with monetary value, freq="D"),
BetaGeoFitter.fit on the summary, GammaGammaFitter.fit on repeat buyers.
lifetimes runs on all customers with --lifetimes-full, otherwise on a random
subset of --lifetimes-customers customers; its time is then extrapolated
linearly (its cost per likelihood evaluation is linear in customers, and the
iteration count barely depends on the sample size) and marked "extrapolated".
"""
from __future__ import annotations

import os

# Both sides single-threaded, so that CPU time compares like with like on a shared machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import crmcore.clv as clv  # noqa: E402
from crmcore.clv.generate_data import beta_geometric_nbd_model  # noqa: E402


def synthetic_transactions(n_customers, seed=0):
    rng = np.random.default_rng(seed)
    first_day = rng.uniform(0, 365, n_customers)
    T = 730.0 - first_day
    sim = beta_geometric_nbd_model(T, 0.24, 31.0, 0.79, 2.43, size=n_customers, seed=seed + 1)
    x = sim["frequency"].to_numpy().astype(np.int64)
    t_x = sim["recency"].to_numpy()
    # Repeat purchases: the last at t_x, the others uniform before it (Poisson process given its count).
    owner = np.repeat(np.arange(n_customers), x)
    last = np.r_[0, np.cumsum(x)[:-1]] + x - 1  # position of each customer's last repeat
    offset = rng.uniform(0, 1, owner.size) * t_x[owner]
    has = x > 0
    offset[last[has]] = t_x[has]
    cust = np.concatenate([np.arange(n_customers), owner])
    day = np.concatenate([first_day, first_day[owner] + offset])
    # Gamma-Gamma spend: nu ~ Gamma(q, 1/v) per customer, each spend ~ Gamma(p, 1/nu).
    nu = rng.gamma(3.74, 1 / 15.44, n_customers)
    spend = rng.gamma(6.25, 1.0, cust.size) / nu[cust]
    order = rng.permutation(cust.size)
    base = np.datetime64("2022-01-01T00:00:00", "s")
    when = base + np.round(day[order] * 86400).astype("timedelta64[s]")
    return pd.DataFrame({"customer_id": cust[order], "date": when.astype("datetime64[ns]"),
                         "amount": np.round(spend[order], 2)})


class Seconds(tuple):
    """(wall, cpu) seconds; scaling applies to both."""

    def __mul__(self, k):
        return Seconds((self[0] * k, self[1] * k))


def timed(fn, *args, repeat=1, **kwargs):
    """Result and median (wall, CPU) seconds of `repeat` calls: the machine is
    shared, so wall time moves with the neighbours' load and CPU time less."""
    walls, cpus = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            out = fn(*args, **kwargs)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    return out, Seconds((float(np.median(walls)), float(np.median(cpus))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lifetimes-customers", type=int, default=100_000)
    ap.add_argument("--lifetimes-full", action="store_true")
    args = ap.parse_args()
    import lifetimes
    import lifetimes.utils as lu

    n = args.customers
    tx, t_gen = timed(synthetic_transactions, n)
    print(f"{n:,} customers, {len(tx):,} transactions (generated in {t_gen[0]:.1f} s)")
    sub_n = n if args.lifetimes_full else min(n, args.lifetimes_customers)
    keep = np.random.default_rng(9).choice(n, sub_n, replace=False)
    tx_sub = tx[tx["customer_id"].isin(keep)]
    scale = n / sub_n
    tag = "" if sub_n == n else f" (extrapolated x{scale:g} from {sub_n:,} customers)"
    rows = []

    # 1. Transaction log -> per-customer summary.
    # One observation end for both: lifetimes' sample may end on an earlier day than the whole log.
    end = tx["date"].max()
    ours, t_ours = timed(clv.summary_data_from_transaction_data, tx, "customer_id", "date", "amount",
                         observation_period_end=end, repeat=5)
    theirs, t_theirs = timed(lu.summary_data_from_transaction_data, tx_sub, "customer_id", "date", "amount",
                             observation_period_end=end)
    same = ours.loc[theirs.index]
    assert np.allclose(same.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-6), "summaries differ"
    rows.append(("summary_data_from_transaction_data", len(tx), t_ours, t_theirs * scale, tag))

    # 2. BG/NBD on every customer.
    f, r, T = (ours[c].to_numpy() for c in ("frequency", "recency", "T"))
    bgf, t_ours = timed(clv.BetaGeoFitter().fit, f, r, T, repeat=5)
    s = theirs
    lbgf, t_theirs = timed(lifetimes.BetaGeoFitter().fit, s["frequency"].to_numpy(), s["recency"].to_numpy(),
                           s["T"].to_numpy())
    print("BG/NBD crmcore  :", bgf.params_.round(4).to_dict())
    print("BG/NBD lifetimes:", lbgf.params_.round(4).to_dict(), "" if sub_n == n else "(on its sample)")
    rows.append(("BetaGeoFitter.fit", n, t_ours, t_theirs * scale, tag))

    # 3. Gamma-Gamma on repeat buyers.
    rep = ours[ours["frequency"] > 0]
    srep = theirs[theirs["frequency"] > 0]
    ggf, t_ours = timed(clv.GammaGammaFitter().fit, rep["frequency"].to_numpy(), rep["monetary_value"].to_numpy(),
                        repeat=5)
    lggf, t_theirs = timed(lifetimes.GammaGammaFitter().fit, srep["frequency"].to_numpy(),
                           srep["monetary_value"].to_numpy())
    print("Gamma-Gamma crmcore  :", ggf.params_.round(4).to_dict())
    print("Gamma-Gamma lifetimes:", lggf.params_.round(4).to_dict(), "" if sub_n == n else "(on its sample)")
    rows.append(("GammaGammaFitter.fit", len(rep), t_ours, t_theirs * (len(rep) / max(len(srep), 1)), tag))

    # 4. Predictions for every customer (lifetimes at crmcore's parameters).
    twin = lifetimes.BetaGeoFitter()
    twin.params_ = bgf.params_
    _, t_ours = timed(bgf.conditional_expected_number_of_purchases_up_to_time, 30.0, f, r, T, repeat=5)
    idx = np.isin(ours.index.to_numpy(), keep)
    _, t_theirs = timed(twin.conditional_expected_number_of_purchases_up_to_time, 30.0, f[idx], r[idx], T[idx])
    rows.append(("conditional_expected_number_of_purchases", n, t_ours, t_theirs * scale, tag))

    print()
    print("crmcore: median of 5 runs; lifetimes: one run; seconds as wall / CPU")
    print(f"{'operation':<42} {'rows':>10} {'crmcore s':>14} {'lifetimes s':>14} {'ratio wall/CPU':>16}")
    for name, size, a, b, note in rows:
        print(f"{name:<42} {size:>10,} {a[0]:>6.3f} / {a[1]:.3f} {b[0]:>6.2f} / {b[1]:.2f}"
              f" {b[0] / a[0]:>7.0f}x / {b[1] / a[1]:.0f}x{note}")


if __name__ == "__main__":
    main()
