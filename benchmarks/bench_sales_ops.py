"""Sales operations: the funnel, attainment, aging and the payments import,
crmcore against plain pandas (and against itself without the ledger's work).

- the funnel of 1,000,000 deals with 5,000,000 stage rows per owner and the
  month each deal was made (``funnel_frame``: what ``db.sales.funnel(by=
  "owner", period="month")`` runs, one C++ pass for every group, the stage
  text coded in C++) against pandas (first row, furthest step and last stage
  per deal by groupby, then counts per group and step);
- attainment of 1,780 targets (people and teams; months, quarters, the
  year) over the bookings of 1,000,000 deals, each person's team from the
  staff table: ``attainment_table`` given the bookings as typed columns
  (owner id, time, amount; no text), one C++ pass into a grid per owner and
  stretch of months, team targets credited to their members and read off
  it, against pandas as a competent user writes it on the same frame (sums
  per person and month, rolled to teams on that small table, each target's
  months listed and joined: no loop over targets);
- aging of 1,000,000 invoices with 1,000,000 payments: ``aging_sums``, what
  ``db.sales.aging`` runs (one C++ pass: status coded there, payments per
  invoice, sums per customer and bucket), against pandas written directly;
- importing payments into a store: allocated to invoices (the ledger rules
  sum each touched invoice, keep credit, check and set the status) against
  the same payments without an invoice.

With ``--store`` also attainment and aging end to end from one SQLite
file (``db.sales.attainment`` / ``db.sales.aging`` against pandas' read_sql
of the same file and the same computations): a second figure, reading
included. Every pandas answer is checked against crmcore's before its time
counts. Run:

    python benchmarks/bench_sales_ops.py [--deals 1000000] [--rows 5000000] [--invoices 1000000]
        [--payments 100000] [--repeat 3] [--store | --only-store]

Both sides get the same frames already in memory, with the column types
db.frame hands (times datetime64[ns], text str); best of --repeat, wall and
CPU seconds of this process beside each other, and the load average.
"""
import argparse

import numpy as np
import pandas as pd

import crmcore as crm
from crmcore.sales.funnel import DealKey, funnel_frame
from crmcore.sales.ledger import BUCKETS, aging_sums
from crmcore.sales.targets import attainment_table, target_period
from _timing import once, once_with_cpu

STAGES = pd.DataFrame({"name": ["lead", "qualified", "proposal", "negotiation", "won", "lost"],
                       "category": ["open"] * 4 + ["won", "lost"]})

START = pd.Timestamp("2024-01-01")


def won_deals(n, staff, rng):
    """Won deals' bookings as typed columns (owner id, time, amount: no
    text; each person's team from the staff table) and each staff
    member's team."""
    at = START + pd.to_timedelta(rng.integers(0, 366 * 86_400, n), "s")
    owner = rng.integers(1, staff + 1, n)
    events = as_stored(pd.DataFrame({"owner_id": owner, "at": at, "value": rng.gamma(2.0, 500.0, n).round(2)}))
    people = np.arange(1, staff + 1)
    return events, pd.Series((people % 20).astype(str), index=people, name="team", dtype="str")


def targets(staff):
    periods = ["2024"] + [f"2024-Q{q}" for q in range(1, 5)] + [f"2024-{m:02d}" for m in range(1, 13)]
    rows = [{"staff_id": s, "team": None, "period": p} for s in range(1, staff + 1) for p in periods[:12]]
    rows += [{"staff_id": None, "team": str(t), "period": p} for t in range(20) for p in periods]
    out = pd.DataFrame(rows).assign(metric="bookings", amount=100_000.0)
    out["staff_id"] = out["staff_id"].astype("Int64")
    return out.set_index(pd.RangeIndex(1, len(out) + 1))


def attainment_pandas(t, events, teams):
    """Sums per (person, month), rolled to teams on that small table; each
    target's months listed (a period parsed once) and joined to the sums."""
    month = events["at"].dt.to_period("M")
    person = events.groupby([events["owner_id"].rename("staff_id"), month.rename("month")])["value"].sum()
    person = person.reset_index()
    team = person.assign(team=person["staff_id"].map(teams)).groupby(["team", "month"])["value"].sum().reset_index()
    periods = pd.Series(t["period"].unique())
    first = pd.PeriodIndex([target_period(p).asfreq("M", "start") for p in periods])
    last = pd.PeriodIndex([target_period(p).asfreq("M", "end") for p in periods])
    span = pd.DataFrame({"period": periods, "first": first, "months": (last - first).map(lambda d: d.n) + 1})
    each = t.reset_index(names="target").merge(span, on="period")
    each = each.loc[each.index.repeat(each["months"])]
    each["month"] = each["first"] + each.groupby("target").cumcount().to_numpy()
    got = pd.Series(0.0, index=t.index)
    for column, sums in (("staff_id", person), ("team", team)):
        joined = each[each[column].notna()].merge(sums, on=[column, "month"], how="inner")
        got = got.add(joined.groupby("target")["value"].sum(), fill_value=0.0)
    return got.to_numpy()


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
    return as_stored(inv), as_stored(pay)


def as_stored(frame):
    """``frame`` with the column types db.frame hands: times as datetime64[ns]
    (pandas 3 makes microseconds from Timestamp arithmetic), text as str."""
    for c in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c].dtype):
            frame[c] = frame[c].astype("datetime64[ns]")
        elif frame[c].dtype == object:
            frame[c] = frame[c].astype("str")
    return frame


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


def timed(fn, repeat):
    """`fn`'s last result, and the best wall and the best CPU seconds (this
    process's) of `repeat` calls: on a shared machine CPU is the steadier."""
    out, walls, cpus = None, [], []
    for _ in range(repeat):
        box = []
        wall, cpu = once_with_cpu(lambda: box.append(fn()))
        out = box[0]
        walls.append(wall), cpus.append(cpu)
    return out, min(walls), min(cpus)


def report(name, ours, theirs, repeat):
    (_, wall, cpu), (_, p_wall, p_cpu) = ours, theirs
    print(f"{name} (best of {repeat}; wall / CPU)")
    print(f"  crmcore   {wall:8.3f} s  {cpu:8.3f} s")
    print(f"  pandas    {p_wall:8.3f} s  {p_cpu:8.3f} s   crmcore is {p_wall / wall:5.1f}x faster "
          f"({p_cpu / max(cpu, 1e-9):5.1f}x in CPU)")


def stage_history(deals, rows, staff, rng):
    """Deals and their stage rows as db.frame hands them: each deal walks the
    stages forward from its first row (a few are lost), rows in time order."""
    per = rng.multinomial(rows - deals, np.full(deals, 1 / deals)) + 1       # every deal has a first row
    deal = np.repeat(np.arange(1, deals + 1), per)
    pos = np.arange(rows) - np.repeat(np.cumsum(per) - per, per)           # row number within its deal
    start = START.value + rng.integers(0, 366 * 86_400, deals) * 10**9
    at = np.repeat(start, per) + pos * rng.integers(1, 20 * 86_400, rows) * 10**9
    step = np.minimum(pos, 4)
    lost = np.repeat(rng.random(deals) < 0.15, per) & (pos == np.repeat(per, per) - 1) & (pos > 0)
    names = np.asarray(STAGES["name"], dtype=object)
    stage = np.where(lost, "lost", names[step])
    history = pd.DataFrame({"deal_id": deal, "stage": pd.array(stage, dtype="str"),
                            "changed_at": pd.to_datetime(at)})
    owner = pd.array(rng.integers(1, staff + 1, deals), dtype="Int64")
    frame = pd.DataFrame({"amount": rng.gamma(2.0, 500.0, deals).round(2), "owner_id": owner},
                         index=pd.RangeIndex(1, deals + 1))
    return frame, history


def funnel_crmcore(deals, history, as_of):
    key = DealKey(deals["owner_id"].to_numpy(dtype=np.int64, na_value=0), deals["owner_id"].notna(), "owner")
    return funnel_frame(deals, history, STAGES, as_of, key, "M")


def funnel_pandas(deals, history, as_of):
    """Per owner and month made: deals reaching each step, their amounts, who stands where, who is lost."""
    steps = STAGES["name"][STAGES["category"] != "lost"].tolist()
    category = dict(zip(STAGES["name"], STAGES["category"]))
    created = history.groupby("deal_id")["changed_at"].min().dt.to_period("M")
    seen = history[history["changed_at"] <= pd.Timestamp(as_of)]
    furthest = seen["stage"].map({s: i for i, s in enumerate(steps)}).groupby(seen["deal_id"]).max()
    # Each deal's latest row by idxmax (ten times faster than sorting 5M rows; it keeps the first of
    # two rows at one instant where crmcore keeps the later: this data has no such ties, and the
    # answers are checked equal).
    last = seen.loc[seen.groupby("deal_id")["changed_at"].idxmax(), ["deal_id", "stage"]].set_index("deal_id")["stage"]
    d = pd.DataFrame({"created": created.reindex(deals.index), "owner": deals["owner_id"],
                      "amount": deals["amount"].fillna(0.0), "furthest": furthest.reindex(deals.index),
                      "last": last.reindex(deals.index)}).dropna(subset=["created", "owner"])
    keys = ["created", "owner"]
    groups = d.groupby(keys).size().index
    got = d.dropna(subset=["furthest"]).groupby(keys + ["furthest"])["amount"].agg(["size", "sum"])
    reached = got["size"].unstack(fill_value=0).reindex(index=groups, columns=range(len(steps)), fill_value=0)
    amount = got["sum"].unstack(fill_value=0.0).reindex(index=groups, columns=range(len(steps)), fill_value=0.0)
    now = d["last"].map(category)
    standing = d[now == "open"].groupby(keys + ["last"]).size().unstack(fill_value=0)
    standing = standing.reindex(index=groups, columns=steps, fill_value=0)
    lost = (now == "lost").groupby([d["created"], d["owner"]]).sum().reindex(groups, fill_value=0)
    cum = lambda f: f.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1].to_numpy().ravel()  # noqa: E731
    return pd.DataFrame({"deals": cum(reached), "amount": cum(amount), "open": standing.to_numpy().ravel()}), lost


def store_figures(deals, staff, invoices, repeat, rng):
    """Attainment and aging end to end from one SQLite file: crmcore's
    ``db.sales.attainment`` / ``db.sales.aging`` (the store's columns into
    the same kernels) against pandas reading the same file with
    ``read_sql`` (the won deals joined to their pipeline's stages in SQL,
    times as stored, int64 ns) and computing the same reports; each answer
    checked equal. The first call of each (cold: nothing cached in the
    process) and the best of ``repeat`` are both printed."""
    import shutil
    import sqlite3
    import tempfile
    from pathlib import Path
    folder = tempfile.mkdtemp(prefix="bench_sales_store_")
    path = str(Path(folder) / "sales.crm")
    db = crm.open(path)
    people = db.import_frame("staff", pd.DataFrame({"name": [f"s{i}" for i in range(staff)],
                                                    "team": [str(i % 20) for i in range(1, staff + 1)]}))
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(max(1, deals // 10))]}))
    closed = START + pd.to_timedelta(rng.integers(0, 366 * 86_400, deals), "s")
    db.import_frame("deals", pd.DataFrame({"customer_id": rng.choice(customers, deals), "stage": "won",
                                           "owner_id": rng.choice(people, deals), "closed_at": closed,
                                           "amount": rng.gamma(2.0, 500.0, deals).round(2)}))
    t = targets(staff)
    t["staff_id"] = pd.array([people[s - 1] if pd.notna(s) else pd.NA for s in t["staff_id"]], dtype="Int64")
    db.import_frame("targets", t.reset_index(drop=True))
    issued = START + pd.to_timedelta(rng.integers(0, 366, invoices), "D")
    inv_ids = db.import_frame("invoices", pd.DataFrame({
        "customer_id": rng.choice(customers, invoices), "issued_at": issued, "due_at": issued + pd.Timedelta(days=30),
        "amount": rng.integers(100, 10_000, invoices).astype(float)}))
    amounts = db.frame("invoices", columns=["amount"])["amount"].to_numpy()
    paying = rng.random(invoices) < 0.6
    db.import_frame("payments", pd.DataFrame({
        "customer_id": db.frame("invoices", columns=["customer_id"])["customer_id"].to_numpy()[paying],
        "invoice_id": np.asarray(inv_ids)[paying],
        "paid_at": issued[paying] + pd.to_timedelta(rng.integers(0, 120, int(paying.sum())), "D"),
        "amount": amounts[paying] * rng.choice([0.3, 0.5, 1.0], int(paying.sum()))}))
    db.close()

    # crmcore's first call on a freshly opened file reads the columns into the
    # store's column cache; later calls on the open store read nothing.
    def ours_attainment(store):
        return store.sales.attainment(as_of="2024-09-15")["actual"].to_numpy()

    def theirs_attainment():
        with sqlite3.connect(path) as con:
            won = pd.read_sql("SELECT d.owner_id, d.closed_at, d.amount AS value FROM deals d JOIN pipeline_stages s"
                              " ON s.pipeline_id = d.pipeline_id AND s.name = d.stage WHERE s.category = 'won'", con)
            team = pd.read_sql("SELECT id, team FROM staff", con, index_col="id")["team"]
            tt = pd.read_sql("SELECT id, staff_id, team, period, metric, amount FROM targets ORDER BY id", con,
                             index_col="id")
        won["at"] = pd.to_datetime(won.pop("closed_at"), unit="ns")
        tt["staff_id"] = tt["staff_id"].astype("Int64")
        return attainment_pandas(tt, won, team)

    def ours_aging(store):
        return store.sales.aging(as_of="2024-10-01")[list(BUCKETS)]

    def theirs_aging():
        with sqlite3.connect(path) as con:
            inv = pd.read_sql("SELECT id, customer_id, issued_at, due_at, amount, status FROM invoices", con,
                              index_col="id")
            pay = pd.read_sql("SELECT invoice_id, paid_at, amount - COALESCE(credit, 0) AS amount FROM payments"
                              " WHERE invoice_id IS NOT NULL", con)
        for frame, columns in ((inv, ("issued_at", "due_at")), (pay, ("paid_at",))):
            for c in columns:
                frame[c] = pd.to_datetime(frame[c], unit="ns")
        return aging_pandas(inv, pay, pd.Timestamp("2024-10-01").value)

    for name, ours, theirs, check in (
            (f"attainment from the store, {len(t):,} targets over {deals:,} won deals", ours_attainment,
             theirs_attainment, lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9)),
            (f"aging from the store, {invoices:,} invoices and {int(paying.sum()):,} payments", ours_aging,
             theirs_aging, lambda a, b: np.testing.assert_allclose(a.to_numpy(), b.reindex(a.index).to_numpy(),
                                                                   rtol=1e-9))):
        def cold():
            with crm.open(path) as store:
                return ours(store)
        first = timed(cold, repeat)
        them = timed(theirs, repeat)
        check(first[0], them[0])
        report(f"{name}, from the file each time (crmcore: open, first call; pandas: read_sql, compute)", first,
               them, repeat)
        with crm.open(path) as store:
            ours(store)
            warm = timed(lambda: ours(store), repeat)
        check(warm[0], them[0])
        report(f"{name}, crmcore again on the open store (columns cached) vs the same pandas", warm, them, repeat)
    shutil.rmtree(folder)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=None, help="stage rows of the funnel's deals (default 5 per deal)")
    ap.add_argument("--staff", type=int, default=120)
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--payments", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", action="store_true", help="also attainment and aging end to end from a SQLite file "
                    "(crmcore's reports against pandas' read_sql of the same file), --deals and --invoices in it")
    ap.add_argument("--only-store", action="store_true", help="only the figures from the store")
    args = ap.parse_args()
    if args.only_store:
        print("load:", open("/proc/loadavg").read().split()[:3])
        store_figures(args.deals, args.staff, args.invoices, args.repeat, np.random.default_rng(1))
        return
    rng = np.random.default_rng(0)
    print("load:", open("/proc/loadavg").read().split()[:3])
    print("pandas gets the frames already in memory, as db.frame hands them (stage text as str, times as "
          "datetime64[ns]); so does crmcore")

    deals, history = stage_history(args.deals, args.rows or 5 * args.deals, args.staff, rng)
    cut = pd.Timestamp("2024-10-01").value
    ours = timed(lambda: funnel_crmcore(deals, history, cut), args.repeat)
    theirs = timed(lambda: funnel_pandas(deals, history, cut), args.repeat)
    want, lost = theirs[0]
    got = ours[0]
    assert len(got) == len(want)
    np.testing.assert_array_equal(got["deals"].to_numpy(), want["deals"].to_numpy())
    np.testing.assert_array_equal(got["open"].to_numpy(), want["open"].to_numpy())
    np.testing.assert_allclose(got["amount"].to_numpy(), want["amount"].to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(got.attrs["lost"].to_numpy(), lost.to_numpy())
    report(f"funnel per owner and month, {args.deals:,} deals, {len(history):,} stage rows "
           f"({len(got.attrs['lost']):,} groups)", ours, theirs, args.repeat)
    deals = history = None  # (frees them before the next figures; `del` would leave the lambdas above an undefined name to pyflakes)

    (events, teams), t = won_deals(args.deals, args.staff, rng), targets(args.staff)
    cut = pd.Timestamp("2024-09-15").value
    ours = timed(lambda: attainment_table(t, {"bookings": events}, cut, teams=teams), args.repeat)
    theirs = timed(lambda: attainment_pandas(t, events, teams), args.repeat)
    np.testing.assert_allclose(ours[0]["actual"].to_numpy(), theirs[0], rtol=1e-9)
    report(f"attainment, {len(t):,} targets over {args.deals:,} won deals", ours, theirs, args.repeat)

    inv, pay = invoices_and_payments(args.invoices, args.invoices, rng)
    cut = pd.Timestamp("2024-10-01").value
    ours = timed(lambda: aging_crmcore(inv, pay, cut), args.repeat)
    theirs = timed(lambda: aging_pandas(inv, pay, cut), args.repeat)
    np.testing.assert_allclose(ours[0].to_numpy(), theirs[0].reindex(ours[0].index).to_numpy(), rtol=1e-9)
    report(f"aging, {args.invoices:,} invoices and payments", ours, theirs, args.repeat)

    if args.store:
        store_figures(args.deals, args.staff, args.invoices, args.repeat, rng)
    plain, allocated, paid = payments_import(args.payments, rng)
    print(f"payments import, {args.payments:,} rows ({paid:,} invoices paid in full by it)")
    print(f"  without invoice         {plain:8.3f} s")
    print(f"  allocated to invoices   {allocated:8.3f} s   {allocated / plain:5.2f}x the time")


if __name__ == "__main__":
    main()
