"""The crmcore demo: build a store from synthetic data and report what is in it.

    python -m crmcore.demo [--customers N] [--out FILE] [--seed S]

Generates a coherent synthetic CRM (see `crmcore.datasets.synthetic`), loads
it into an SQLite file (replaced if present), prints a short report and writes
it as demo_report.md next to the database.
"""
import argparse
import pathlib
import statistics
import sys
import time
import unicodedata

import numpy as np
import pandas as pd

import crmcore as crm
from crmcore import datasets

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


# -- plain-text tables that line up with Chinese text too -----------------------

def _width(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        # Small shares (PageRank, probabilities) keep their significant digits.
        return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:,.2f}"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    return str(value)


def table(df):
    """A DataFrame as a Markdown pipe table, numbers right-aligned, CJK-aware widths.

    >>> print(table(pd.DataFrame({"kind": ["orders"], "rows": [1200]})))
    | kind   |  rows |
    |--------|------:|
    | orders | 1,200 |
    """
    if df.index.name or isinstance(df.index, pd.MultiIndex):
        # Index values are labels (ids, years): no thousands separators.
        keys = list(df.index.names)
        df = df.reset_index()
        df[keys] = df[keys].astype(str)
    cols = [str(c) for c in df.columns]
    cells = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in df.columns]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(cols)]

    def line(values):
        out = []
        for v, w, right in zip(values, widths, numeric):
            pad = " " * (w - _width(v))
            out.append(pad + v if right else v + pad)
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if right else "-") for w, right in zip(widths, numeric)) + "|"
    return "\n".join([line(cols), rule] + [line(r) for r in cells])


# -- building -------------------------------------------------------------------

# (severity, first-response hours, resolution hours) for any tier.
DEMO_SLA = [("critical", 1, 8), ("high", 2, 16), ("medium", 4, 32), ("low", 8, 72)]


def build(path, customers=20_000, seed=0):
    """Generates the data and loads it into a fresh store at `path`.

    Returns (db, data, ids, timings in seconds).

    >>> db, data, ids, took = build(":memory:", customers=300)
    >>> db.count("customers")
    300
    """
    if str(path) != ":memory:":
        for suffix in ("", "-wal", "-shm", "-journal"):
            pathlib.Path(f"{path}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    data = datasets.synthetic(customers, seed=seed)
    t1 = time.perf_counter()
    db = crm.open(path)
    ids = datasets.load(db, data, progress=None)
    # The targets a service desk would set (business hours): without a
    # policy db.service.sla() has nothing to measure a ticket against.
    for severity, first, resolve in DEMO_SLA:
        db.service.set_sla(severity, first, resolve)
    db.service.set_sla("critical", 0.5, 4, tier="gold")
    t2 = time.perf_counter()
    return db, data, ids, {"generate": t1 - t0, "load": t2 - t1}


# -- the report -------------------------------------------------------------------

def _messy(e164):
    """A Chinese mobile number typed the way people do: 0086, dashes, full-width digits."""
    n = e164[3:]
    return f"0086 {n[:3]}-{n[3:7]}-{n[7:].translate(FULL_WIDTH)}"


def _busiest_phone(customers, orders):
    """The phone number (as stored) of the customer with the most orders, or None."""
    with_phone = customers.phone.dropna()
    if with_phone.empty:
        return None
    per_customer = orders.groupby("customer_id").size().reindex(with_phone.index, fill_value=0)
    return with_phone[per_customer.idxmax()].split(";")[0]


def _lookup_section(db, query, orders):
    times = []
    for _ in range(25):
        t = time.perf_counter()
        found = db.find("customers", phone=query)
        times.append(time.perf_counter() - t)
    took = f"{statistics.median(times) * 1e6:,.0f} µs (median of 25)"
    lines = ["## Looking a customer up by phone\n"]
    if len(found) == 0:
        lines.append(f"Typed: `{query}` -> 0 matches in {took}\n")
        lines.append("**Not found** - the store's phone normalization missed this format.")
        return "\n".join(lines)
    cid = int(found.index[0])
    rec = db.get("customers", cid)
    lines.append(f"Typed: `{query}` (stored as `{rec['phone']}`) -> {len(found)} match(es) in {took}\n")
    lines.append(f"**{rec['name']}** ({rec['kind']}, {rec.get('region') or '-'}), "
                 f"status {rec.get('status') or '-'}, owner {rec.get('owner') or '-'}, "
                 f"email {rec.get('email') or '-'}\n")
    mine = orders[orders.customer_id == cid].sort_values("ordered_at", ascending=False).head(5)
    lines.append("Recent orders:\n")
    lines.append(table(mine[["ordered_at", "amount", "channel", "location", "status"]].rename_axis("order")))
    talks = db.find("interactions", customer_id=cid).sort_values("occurred_at", ascending=False).head(5)
    lines.append("\nRecent interactions:\n")
    lines.append(table(talks[["occurred_at", "channel", "direction", "summary", "outcome"]].rename_axis("id")))
    return "\n".join(lines)


def _nps(scores):
    scores = np.asarray(scores)
    return 100.0 * ((scores >= 9).mean() - (scores <= 6).mean()) if len(scores) else float("nan")


def report(db, data, ids, timings, path):
    """The demo report as Markdown text: :func:`store_report` with a word on
    how the data was made, looking up a mobile number typed the messy way."""
    rows = int(db.counts().sum())
    intro = (f"Database `{path}`: {rows:,} records from {db.count('customers'):,} synthetic customers "
             f"(seed {data.seed}). Generated in {timings['generate']:.2f} s, loaded in "
             f"{timings['load']:.2f} s ({rows / max(timings['load'], 1e-9):,.0f} records/s).")
    mobile = data.truth.phone_e164.str.match(r"^\+861[3-9]\d{9}$").to_numpy()
    per_customer = db.frame("orders", columns=["customer_id"]).groupby("customer_id").size()
    counts = per_customer.reindex(ids["customers"], fill_value=0).to_numpy()
    pos = int(np.argmax(np.where(mobile, counts, -1)))
    return store_report(db, title="# crmcore demo report", intro=intro, phone=_messy(data.truth.phone_e164[pos]))


def store_report(db, title="# crmcore report", intro=None, phone=None):
    """A Markdown report of what a store holds (what ``crmcore report`` prints).

    Sections whose records the store lacks are left out. The phone lookup
    types ``phone``, by default the number of the customer with the most orders.

    >>> db = crm.open()
    >>> _ = db.add("customers", name="Acme", phone="+86 138 0013 8000")
    >>> print(store_report(db).splitlines()[2])
    Store `:memory:`: 8 records, 1 customers.
    """
    counts = db.counts()
    customers = db.frame("customers")
    orders = db.frame("orders")
    sold = crm.scoring.purchases(orders)  # the shared status table: cancelled and returned are not sales
    rows = int(counts.sum())
    if intro is None:
        intro = f"Store `{db.path}`: {rows:,} records, {len(customers):,} customers."
    out = [title + "\n", intro + "\n", "## Records per kind\n",
           table(counts.rename("records").rename_axis("kind").to_frame())]
    if len(customers):
        out += ["\n## Customers by kind and status\n",
                table(pd.crosstab(customers.kind.fillna("-"), customers.status.fillna("-"))
                      .rename_axis(None, axis=1))]

    if len(sold):
        year = sold.ordered_at.dt.year.rename("year")
        by_channel = sold.assign(channel=sold.channel.fillna("-")).pivot_table(
            index=year, columns="channel", values="amount", aggfunc="sum", fill_value=0.0)
        by_channel["total"] = by_channel.sum(axis=1)
        out += ["\n## Revenue by year and channel (purchases: cancelled and returned orders left out)\n",
                table(by_channel.rename_axis(None, axis=1).round(0).astype(np.int64))]

        per = sold.groupby("customer_id").agg(orders=("amount", "size"), revenue=("amount", "sum"),
                                               cost=("cost", "sum"), last_order=("ordered_at", "max"))
        top = per.nlargest(10, "revenue").join(customers[["name", "kind", "region"]])
        top["margin %"] = 100.0 * (1 - top.cost / top.revenue)
        out += ["\n## Top 10 customers by revenue\n",
                table(top[["name", "kind", "region", "orders", "revenue", "margin %", "last_order"]]
                      .rename_axis("id"))]

    lines = db.frame("order_lines")
    lines = lines[lines.order_id.isin(sold.index)]
    if len(lines):
        category = lines.product_id.map(db.frame("products").category).rename("category")
        value = lines.quantity * lines.unit_price
        by_cat = pd.DataFrame({"units": lines.quantity, "revenue": value,
                               "cost": lines.quantity * lines.unit_cost}).groupby(category).sum()
        by_cat["margin %"] = 100.0 * (1 - by_cat.cost / by_cat.revenue)
        out += ["\n## Product categories: what sells, what earns\n",
                table(by_cat.sort_values("revenue", ascending=False)[["units", "revenue", "margin %"]]
                      .astype({"units": np.int64}))]

    phone = phone if phone is not None else _busiest_phone(customers, orders)
    if phone is not None:
        out += ["\n" + _lookup_section(db, phone, orders)]

    tickets = db.frame("tickets")
    surveys = db.frame("surveys")
    if len(tickets) or len(surveys):
        out.append("\n## Service: tickets and surveys\n")
    if len(tickets):
        hours = pd.Timedelta(hours=1)
        tk = tickets.assign(first=(tickets.first_response_at - tickets.opened_at) / hours,
                            resolve=(tickets.resolved_at - tickets.opened_at) / hours)
        by_sev = tk.groupby("severity").agg(tickets=("severity", "size"),
                                            open=("resolved_at", lambda s: int(s.isna().sum())),
                                            first_response_h=("first", "median"),
                                            resolution_h=("resolve", "median"),
                                            satisfaction=("satisfaction", "mean"),
                                            reopened=("reopened", lambda s: int((s > 0).sum())))
        by_sev = by_sev.reindex([s for s in ("critical", "high", "medium", "low") if s in by_sev.index])
        out.append(table(by_sev))
        sla = db.service.sla(as_of=db.default_as_of())
        if len(sla):
            out.append(f"\nSLA in business hours as of {sla.attrs['as_of']:%Y-%m-%d} ({len(sla):,} tickets under "
                       f"a policy): {sla.breached.mean():.0%} breached (first response "
                       f"{sla.first_response_breached.mean():.0%}, resolution {sla.resolution_breached.mean():.0%}); "
                       f"{int(sla.at_risk.sum())} open tickets at risk.")
    if len(surveys):
        out.append(f"\n{len(surveys):,} survey responses: mean CSAT {surveys.csat.mean():.2f} / 5, "
                   f"NPS {_nps(surveys.nps.dropna()):+.0f}.")

    deals = db.frame("deals")
    if len(deals):
        pipe = deals.groupby("stage").agg(deals=("stage", "size"), amount=("amount", "sum"))
        pipe = pipe.reindex([s for s in ("lead", "qualified", "proposal", "negotiation", "won", "lost")
                             if s in pipe.index])
        closed = deals.stage.isin(["won", "lost"])
        win = (deals.stage == "won").sum() / max(closed.sum(), 1)
        out += ["\n## Sales pipeline\n", table(pipe), f"\nWin rate of closed deals: {100 * win:.1f} %."]

    members = db.frame("campaign_members")
    if len(members):
        campaigns = db.frame("campaigns")
        channel = members.campaign_id.map(campaigns.channel).rename("channel")
        promo = pd.DataFrame({"members": 1, "responded": members.responded.astype(bool),
                              "purchased": members.response == "purchased"}).groupby(channel).sum()
        promo.insert(0, "campaigns", campaigns.groupby("channel").size())
        promo["response %"] = 100.0 * promo.responded / promo.members
        promo["budget"] = campaigns.groupby("channel").budget.sum()
        out += ["\n## Campaigns by channel\n", table(promo.sort_values("response %", ascending=False))]

    scoring = getattr(crm, "scoring", None)
    if hasattr(scoring, "rfm") and len(sold):
        tx = sold[["customer_id", "ordered_at", "amount"]]
        rfm = scoring.rfm(tx, customer="customer_id", date="ordered_at", amount="amount")
        seg = rfm["segment"].value_counts().rename("customers").rename_axis("segment").to_frame()
        out += ["\n## RFM segments\n", table(seg)]
    if hasattr(db, "graph") and counts.get("links", 0):
        g = db.graph()
        pr = g.pagerank(damping=0.85).nlargest(10)
        names = pd.concat([db.frame(k)["name"] for k in ("customers", "contacts", "staff")])
        top_nodes = pd.DataFrame({"kind": [db.kind_of(int(i)) for i in pr.index],
                                  "name": names.reindex(pr.index).to_numpy(),
                                  "pagerank": pr.to_numpy()}, index=pr.index.rename("id"))
        out += ["\n## Most central records in the relationship graph (PageRank)\n", table(top_nodes)]
    return "\n".join(out) + "\n"


def main(argv=None):
    """Entry point of ``python -m crmcore.demo``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m crmcore.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000, help="how many customers (default 20000)")
    parser.add_argument("--out", default="demo.crm", help="the SQLite file to (re)create (default demo.crm)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    path = pathlib.Path(args.out)
    db, data, ids, timings = build(path, args.customers, args.seed)
    with db:
        text = report(db, data, ids, timings, path)
    report_path = path.parent / "demo_report.md"
    report_path.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    sys.stdout.write(f"\n(report written to {report_path})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
