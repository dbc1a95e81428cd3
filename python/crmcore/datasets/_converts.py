"""Prospects who buy late: the part of the synthetic CRM that a prospect
backtest (``db.marketing.backtest_prospects``) can be judged on.

Some prospects (customers who had planned no purchase) place a first
order in the last 180 days of the period (the last half of a shorter one), more often when they resemble the
customers who buy (the buyer share of their region and of their source
among those acquired before that cut) and much more often when a customer
they are linked with (referred by, subsidiary, partner, supplier) had
bought by then. Drawn from a generator of its own (seed, 12) so every other
value stays what the seed made; the orders are appended after the others
(positions of earlier rows unchanged), each with one line and one payment.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import _vocab as V
from ._draws import _cents, _choose, _frame

#: Days before the end of the period from which late first orders come:
#: the window ``backtest_prospects`` looks at by default (180 days).
WINDOW_DAYS = 180.0


def _linked_buyer(links: pd.DataFrame, buyer: np.ndarray) -> np.ndarray:
    """Per customer position: linked to a buyer through a customer-to-customer link."""
    between = links[(links.src_kind == "customers") & (links.dst_kind == "customers")]
    src, dst = between.src.to_numpy(np.int64), between.dst.to_numpy(np.int64)
    out = np.zeros(len(buyer), dtype=bool)
    out[src[buyer[dst]]] = True
    out[dst[buyer[src]]] = True
    return out


def _share(values: np.ndarray, bought: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Each row's buyer share among the rows of `among` with its value."""
    codes, inverse = np.unique(values.astype(str), return_inverse=True)
    total = np.bincount(inverse[among], minlength=len(codes))
    hits = np.bincount(inverse[among], weights=bought[among], minlength=len(codes))
    share = hits / np.maximum(total, 1)
    return share[inverse]


def late_buyers(gen) -> None:
    """Adds the late first orders to `gen` (a ``_Generator`` after its links,
    before the customers' status is derived) and notes them in its truth
    (``converted_at``; ``prospect`` stays the plan drawn before: a prospect
    buys only if converted_at is set)."""
    rng = np.random.default_rng([gen.seed, 12])
    n = gen.n
    window = min(WINDOW_DAYS, gen.span / 2)  # a short period keeps half of it before the cut
    cut = gen.span - window
    cust = gen.frames["customers"]
    before = np.zeros(n, dtype=bool)
    early = gen.order_time < cut
    before[gen.order_cust[early]] = True
    # Who could convert: the prospects (planned no purchase) there at the cut;
    # customers who left for good before the period stay gone.
    candidates = gen.prospect & (gen.acquired < cut)
    there = gen.acquired < cut
    look_alike = (_share(cust["region"].to_numpy(), before, there) +
                  _share(cust["source"].to_numpy(), before, there)) / 2
    logit = -2.5 + 10.0 * (look_alike - look_alike[there].mean()) + 3.5 * _linked_buyer(gen.frames["links"], before)
    converts = np.flatnonzero(candidates & (rng.random(n) < 1 / (1 + np.exp(-logit))))
    gen.truth["converted_at"] = pd.Series(pd.NaT, index=gen.truth.index, dtype="datetime64[ns]")
    if not len(converts):
        return
    when = cut + rng.uniform(0.02, 0.98, len(converts)) * window
    order_of = len(gen.frames["orders"]) + np.arange(len(converts))
    product = rng.integers(0, len(gen.frames["products"]), len(converts))
    qty = rng.integers(1, 4, len(converts))
    price_c = _cents(gen.price[product])
    cost_c = _cents(gen.unit_cost[product])
    amount_c = qty * price_c
    orders = _frame({
        "customer_id": converts.astype(np.int64),
        "ordered_at": gen.time(when),
        "amount": amount_c / 100.0,
        "cost": qty * cost_c / 100.0,
        "channel": np.where(gen.org[converts], "sales_rep", "online_store").astype(object),
        "location": _choose([c[1] for c in V.CITIES], gen.city[converts]),
        "status": np.full(len(converts), "completed", dtype=object),
        "staff_id": np.where(gen.org[converts], gen.owner[converts], -1).astype(np.int64),
    })
    lines = _frame({"order_id": order_of.astype(np.int64), "product_id": product.astype(np.int64),
                    "quantity": qty.astype(float), "unit_price": price_c / 100.0, "unit_cost": cost_c / 100.0})
    paid = _frame({"customer_id": converts.astype(np.int64), "order_id": order_of.astype(np.int64),
                   "paid_at": gen.time(np.minimum(when + 0.01, gen.span - 1e-6)), "amount": amount_c / 100.0,
                   "method": np.full(len(converts), "alipay", dtype=object)})
    for kind, extra in (("orders", orders), ("order_lines", lines), ("payments", paid)):
        gen.frames[kind] = pd.concat([gen.frames[kind], extra.astype(gen.frames[kind].dtypes.to_dict())],
                                     ignore_index=True)
    # What the customers' status and tiers are derived from.
    gen.order_cust = np.concatenate([gen.order_cust, converts])
    gen.order_time = np.concatenate([gen.order_time, when])
    gen.order_amount_c = np.concatenate([gen.order_amount_c, amount_c.astype(np.int64)])
    gen.order_count = gen.order_count + np.bincount(converts, minlength=n)
    gen.last_order = np.fmax(gen.last_order, pd.Series(when, index=converts).reindex(range(n)).to_numpy())
    gen.truth.loc[gen.truth.index[converts], "converted_at"] = gen.time(when)
