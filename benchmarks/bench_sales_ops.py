"""Sales operations: attainment, aging and the payments import, crmcore
against plain pandas (and against itself without the ledger's work).

- attainment of 2,000 targets (people and teams; months, quarters, the
  year) over the bookings of 1,000,000 deals: ``attainment_table`` (one sort,
  binary searches) against pandas summing per person or team and month,
  then per quarter and year, then joining the targets;
- aging of 1,000,000 invoices with 1,000,000 payments: ``aging_sums``, what
  ``db.sales.aging`` runs (NumPy over columns: bincount per invoice, then per
  group and bucket; no C++ kernel of its own), against pandas written
  directly;
- importing payments into a store: allocated to invoices (the ledger rules
  sum each touched invoice, keep credit, check and set the status) against
  the same payments without an invoice.

Every pandas answer is checked against crmcore's before its time counts. Run:

    python benchmarks/bench_sales_ops.py [--deals 1000000] [--invoices 1000000] [--payments 100000] [--repeat 3]
"""
import argparse

import numpy as np
import pandas as pd

import crmcore as crm
from crmcore.sales.ledger import BUCKETS, aging_sums
from crmcore.sales.targets import attainment_table, target_period
from _timing import once, timed
from bench_sales import report

START = pd.Timestamp("2024-01-01")


def won_deals(n, staff, rng):
    at = START + pd.to_timedelta(rng.integers(0, 366 * 86_400, n), "s")
    owner = rng.integers(1, staff + 1, n)
    return pd.DataFrame({"metric": "bookings", "owner_id": owner, "team": (owner % 20).astype(str),
                         "at": at, "value": rng.gamma(2.0, 500.0, n).round(2)})


def targets(staff):
    periods = ["2024"] + [f"2024-Q{q}" for q in range(1, 5)] + [f"2024-{m:02d}" for m in range(1, 13)]
    rows = [{"staff_id": s, "team": None, "period": p} for s in range(1, staff + 1) for p in periods[:12]]
    rows += [{"staff_id": None, "team": str(t), "period": p} for t in range(20) for p in periods]
    out = pd.DataFrame(rows).assign(metric="bookings", amount=100_000.0)
    out["staff_id"] = out["staff_id"].astype("Int64")
    return out.set_index(pd.RangeIndex(1, len(out) + 1))


def attainment_pandas(t, events):
    """Sums per (person or team, month), rolled to quarters and years, looked up per target."""
    month = events["at"].dt.to_period("M")
    got = np.zeros(len(t))
    for column, key in (("staff_id", "owner_id"), ("team", "team")):
        sums = events.groupby([events[key], month])["value"].sum()
        by = {"M": sums}
        frame = sums.reset_index()
        for freq in ("Q", "Y"):
            by[freq] = frame.groupby([frame[key], frame["at"].dt.asfreq(freq)])["value"].sum()
        mine = t[column].notna()
        for i in np.flatnonzero(mine.to_numpy()):
            p = target_period(t["period"].iat[i])
            got[i] = by[p.freqstr[0]].get((t[column].iat[i], p), 0.0)
    return got


def invoices_and_payments(n, paying, rng):
    issued = START + pd.to_timedelta(rng.integers(0, 366, n), "D")
    inv = pd.DataFrame({"customer_id": rng.integers(1, n // 10 + 2, n), "issued_at": issued,
                        "due_at": issued + pd.Timedelta(days=30), "amount": rng.integers(100, 10_000, n).astype(float),
                        "status": rng.choice(["issued", "paid", "void"], n, p=[0.6, 0.37, 0.03])},
                       index=pd.RangeIndex(1, n + 1))
    which = rng.integers(1, n + 1, paying)
    pay = pd.DataFrame({"invoice_id": which, "paid_at": inv.issued_at.to_numpy()[which - 1]
                        + pd.to_timedelta(rng.integers(0, 120, paying), "D").to_numpy(),
                        "amount": inv.amount.to_numpy()[which - 1] * rng.choice([0.3, 0.5], paying)})
    return inv, pay


def aging_crmcore(inv, pay, as_of):
    return aging_sums(inv, pay, as_of, "customer_id")[list(BUCKETS)]


def aging_pandas(inv, pay, as_of):
    at = pd.Timestamp(as_of)
    paid = pay[pay.paid_at <= at].groupby("invoice_id").amount.sum()
    live = inv[(inv.issued_at <= at) & (inv.status != "void")]
    balance = live.amount - paid.reindex(live.index, fill_value=0.0)
    live = live.assign(balance=balance)[balance > 1e-9 * live.amount.clip(lower=1.0)]
    late = ((at - live.due_at).dt.total_seconds() / 86_400).clip(lower=0)
    bucket = pd.cut(late, [-1, 0, 30, 60, 90, np.inf], labels=list(BUCKETS))
    return live.groupby(["customer_id", bucket], observed=False).balance.sum().unstack(fill_value=0.0)


def payments_import(n, rng):
    """Seconds to import n payments allocated to invoices, and n without one, into fresh stores."""
    def store():
        db = crm.open(":memory:")
        cust = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(max(1, n // 10))]}))
        ic = rng.choice(cust, n)
        issued = START + pd.to_timedelta(rng.integers(0, 300, n), "D")
        ids = db.import_frame("invoices", pd.DataFrame({"customer_id": ic, "issued_at": issued,
                                                        "due_at": issued + pd.Timedelta(days=30),
                                                        "amount": rng.integers(100, 1000, n).astype(float)}))
        return db, ic, ids, issued
    db, ic, ids, issued = store()
    plain = once(lambda: db.import_frame("payments", pd.DataFrame({"customer_id": ic, "paid_at": issued,
                                                                   "amount": 10.0})))
    db, ic, ids, issued = store()
    amount = db.frame("invoices").amount.to_numpy() * rng.choice([0.5, 1.0], n)
    allocated = once(lambda: db.import_frame("payments", pd.DataFrame({
        "customer_id": ic, "invoice_id": ids, "paid_at": issued, "amount": amount})))
    paid = (db.frame("invoices").status == "paid").sum()
    return plain, allocated, int(paid)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--staff", type=int, default=120)
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--payments", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    events, t = won_deals(args.deals, args.staff, rng), targets(args.staff)
    cut = pd.Timestamp("2024-09-15").value
    ours = timed(lambda: attainment_table(t, events, cut), args.repeat)
    theirs = timed(lambda: attainment_pandas(t, events), args.repeat)
    np.testing.assert_allclose(ours[0]["actual"].to_numpy(), theirs[0], rtol=1e-9)
    report(f"attainment, {len(t):,} targets over {args.deals:,} won deals", ours, theirs, args.repeat)

    inv, pay = invoices_and_payments(args.invoices, args.invoices, rng)
    cut = pd.Timestamp("2024-10-01").value
    ours = timed(lambda: aging_crmcore(inv, pay, cut), args.repeat)
    theirs = timed(lambda: aging_pandas(inv, pay, cut), args.repeat)
    np.testing.assert_allclose(ours[0].to_numpy(), theirs[0].reindex(ours[0].index).to_numpy(), rtol=1e-9)
    report(f"aging, {args.invoices:,} invoices and payments", ours, theirs, args.repeat)

    plain, allocated, paid = payments_import(args.payments, rng)
    print(f"payments import, {args.payments:,} rows ({paid:,} invoices paid in full by it)")
    print(f"  without invoice         {plain:8.3f} s")
    print(f"  allocated to invoices   {allocated:8.3f} s   {allocated / plain:5.2f}x the time")


if __name__ == "__main__":
    main()
