"""Scoring: crmcore against what a Python user would do instead, same data, one run.

- RFM on 10,000,000 transactions of 1,000,000 customers: ``crm.scoring.rfm``
  (recency, frequency, monetary, 1-5 scores, segments) against the idiomatic
  pandas ``groupby().agg()`` + ``qcut(rank(method="first"))`` and DuckDB SQL
  (GROUP BY + NTILE window functions, result fetched as a DataFrame);
- product affinity (frequent itemsets and association rules) on order lines
  against mlxtend's ``apriori`` + ``association_rules`` (the one-hot basket
  matrix mlxtend needs is built outside its timing).

Every contender's answer is checked against crmcore's before its time counts.
Run:

    python benchmarks/bench_scoring.py [--rows 10000000] [--customers 1000000] [--repeat 3] [--only rfm]
"""
import argparse

import numpy as np
import pandas as pd

import crmcore as crm
from _timing import timed


def transactions(rows, customers, seed=0):
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01", "ns").astype(np.int64)
    return pd.DataFrame({
        "customer_id": rng.integers(1, customers + 1, rows),
        "date": pd.to_datetime(start + rng.integers(0, 3 * 365 * 86_400, rows) * 10**9),
        "amount": rng.gamma(2.0, 30.0, rows).round(2),
    })


def rfm_pandas(tx):
    g = tx.groupby("customer_id").agg(last=("date", "max"), frequency=("date", "size"), monetary=("amount", "sum"))
    as_of = tx["date"].max() + pd.Timedelta(days=1)
    g["recency"] = (as_of - g["last"]) / pd.Timedelta(days=1)
    g["r_score"] = pd.qcut((-g["recency"]).rank(method="first"), 5, labels=False) + 1
    g["f_score"] = pd.qcut(g["frequency"].rank(method="first"), 5, labels=False) + 1
    g["m_score"] = pd.qcut(g["monetary"].rank(method="first"), 5, labels=False) + 1
    return g


RFM_SQL = """
with g as (
  select customer_id, max(date) as last, count(*) as frequency, sum(amount) as monetary
  from tx group by customer_id),
r as (
  select *, date_diff('second', last, (select max(date) from tx) + interval 1 day) / 86400.0 as recency from g)
select customer_id, recency, frequency, monetary,
       ntile(5) over (order by recency desc, customer_id) as r_score,
       ntile(5) over (order by frequency, customer_id) as f_score,
       ntile(5) over (order by monetary, customer_id) as m_score
from r order by customer_id
"""


def bench_rfm(rows, customers, repeat):
    import duckdb

    tx = transactions(rows, customers)
    # The references measure recency from one day after the latest purchase; crmcore is
    # given that point (its own default is midnight after the latest purchase).
    as_of = tx["date"].max() + pd.Timedelta(days=1)
    ours, best, med = timed(lambda: crm.scoring.rfm(tx, as_of=as_of), repeat)
    theirs, p_best, p_med = timed(lambda: rfm_pandas(tx), repeat)
    assert (theirs.index == ours.index).all()
    np.testing.assert_allclose(theirs["monetary"], ours["monetary"], rtol=1e-9)
    for col in ("r_score", "f_score", "m_score"):
        np.testing.assert_array_equal(theirs[col], ours[col])
    con = duckdb.connect()
    con.register("tx", tx)
    duck, d_best, d_med = timed(lambda: con.execute(RFM_SQL).df(), repeat)
    np.testing.assert_allclose(duck["monetary"], ours["monetary"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(duck["recency"], ours["recency"].to_numpy(), rtol=1e-9)
    # NTILE puts the remainder in the first tiles, qcut spreads it: same ranks,
    # bins that can differ by one row at their edges.
    agree = (duck["f_score"].to_numpy() == ours["f_score"].to_numpy()).mean()
    print(f"RFM, {rows:,} transactions, {customers:,} customers (best / median of {repeat})")
    print(f"  crmcore          {best:8.3f} s  {med:8.3f} s")
    print(f"  pandas           {p_best:8.3f} s  {p_med:8.3f} s   crmcore is {p_best / best:5.1f}x faster")
    print(f"  DuckDB           {d_best:8.3f} s  {d_med:8.3f} s   crmcore is {d_best / best:5.1f}x faster"
          f"   (NTILE vs qcut bins agree on {agree:.2%})")
    return {"crmcore": best, "pandas": p_best, "duckdb": d_best}


def order_lines(orders, products, seed=1):
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(products, 0.3))
    per_order = rng.integers(1, 8, orders)
    order_id = np.repeat(np.arange(orders), per_order)
    product_id = rng.choice(products, size=len(order_id), p=popularity)
    return pd.DataFrame({"order_id": order_id, "product_id": product_id})


def bench_affinity(orders, products, min_support, repeat):
    from mlxtend.frequent_patterns import apriori, association_rules

    lines = order_lines(orders, products)
    onehot = pd.crosstab(lines["order_id"], lines["product_id"]).gt(0)

    def mlxtend_rules():
        sets = apriori(onehot, min_support=min_support, use_colnames=True)
        return sets, association_rules(sets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.0)

    def crmcore_rules():
        return crm.scoring.product_affinity(lines, min_support=min_support)

    ours, best, med = timed(crmcore_rules, repeat)
    (sets, theirs), m_best, m_med = timed(mlxtend_rules, repeat)
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    mine = dict(zip(zip(map(frozenset, ours["antecedent"]), map(frozenset, ours["consequent"])), ours["lift"]))
    ref = dict(zip(zip(theirs["antecedents"], theirs["consequents"]), theirs["lift"]))
    assert mine.keys() == ref.keys()
    assert max(abs(mine[k] - ref[k]) for k in mine) < 1e-9
    print(f"Affinity, {len(lines):,} order lines, {orders:,} orders, {products} products, min_support {min_support}:"
          f" {len(sets):,} itemsets (largest {sets['itemsets'].map(len).max()}), {len(ours):,} rules")
    print(f"  crmcore          {best:8.3f} s  {med:8.3f} s")
    print(f"  mlxtend          {m_best:8.3f} s  {m_med:8.3f} s   crmcore is {m_best / best:5.1f}x faster")
    return {"crmcore": best, "mlxtend": m_best}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--products", type=int, default=300)
    ap.add_argument("--min-support", type=float, default=0.002)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["rfm", "affinity"], help="run one of the two comparisons")
    args = ap.parse_args()
    if args.only != "affinity":
        bench_rfm(args.rows, args.customers, args.repeat)
    if args.only != "rfm":
        bench_affinity(args.orders, args.products, args.min_support, args.repeat)


if __name__ == "__main__":
    main()
