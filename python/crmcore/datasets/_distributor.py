"""A season of a small distributor, written into a store through its write
path: three warehouses, a dozen suppliers and partners, purchase orders and
their receipts, sales orders shipped from stock (or not, when a warehouse ran
out), returns, counts, complaints, partner sales and commission rules.

The season is simulated a day at a time with whole-array operations (no loop
over rows), so that every movement respects the stock rules: a warehouse
that takes no backorders only ships what it holds.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..scoring._columns import as_of_timestamp, shifted

WAREHOUSES = [("Shanghai", False), ("Beijing", False), ("Guangzhou", True)]
CATEGORIES = ["tea", "coffee", "snacks", "ware"]
# Supplier name, mean lead time (days), share of an order delivered, complaints per 1000 units.
SUPPLIERS = [("Hangzhou Tea Garden", 6, 1.0, 1), ("Yunnan Coffee Co", 9, 0.95, 2),
             ("Fujian Snacks", 4, 0.9, 6), ("Jingdezhen Ware", 12, 1.0, 1), ("Anhui Leaf", 7, 0.85, 3),
             ("Pearl River Foods", 5, 1.0, 8), ("Xiamen Imports", 14, 0.8, 2)]
PARTNERS = ["North Reseller", "Coastal Agents", "Online Mall Shop", "Campus Store Group"]
HOURS = {"receipt": 8, "adjustment": 9, "return": 10, "transfer": 11, "shipment": 14}


def distributor(db: Any, seed: int = 0, start: str = "2025-01-01", days: int = 91, customers: int = 150,
                products: int = 40) -> dict:
    """Write a season of a small distributor into `db`; returns the ids made
    (locations, suppliers, partners, products, customers, orders).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> made = crm.datasets.distributor(db, seed=1, days=30, customers=20, products=8)
    >>> len(made["locations"]), len(made["suppliers"]) + len(made["partners"])
    (3, 12)
    >>> bool((db.stock.on_hand().query("location != 'Guangzhou'")["on_hand"] >= 0).all())
    True
    """
    rng = np.random.default_rng(seed)
    t0 = as_of_timestamp(start, "start", "distributor")
    shifted(t0, days + 60, "distributor", "start", "start")  # the season, its deliveries and payments fit the years kept
    with db.transaction():
        locations = np.array([db.add("locations", name=n, allows_backorders=b) for n, b in WAREHOUSES])
        suppliers = np.array([db.add("customers", name=n, kind="organization", is_supplier=True, tags=["supplier"],
                                     is_partner=(i == 0)) for i, (n, *_) in enumerate(SUPPLIERS)])
        partners = np.array([suppliers[0]] + [db.add("customers", name=n, kind="organization", is_partner=True)
                                              for n in PARTNERS])
        brought = rng.random(customers) < 0.4
        partner_of = np.where(brought, rng.choice(partners, customers), -1)
        cust = db.import_frame("customers", pd.DataFrame({
            "name": [f"Shop {i:03d}" for i in range(customers)], "kind": "organization",
            "region": rng.choice(["East", "North", "South"], customers),
            "partner_id": pd.Series(partner_of, dtype="Int64").where(brought)}))
        cust = np.asarray(cust)
        supplier_of = rng.integers(0, len(SUPPLIERS), products)
        cost = rng.uniform(2, 40, products).round(2)
        prod = np.asarray(db.import_frame("products", pd.DataFrame({
            "sku": [f"SKU-{i:04d}" for i in range(products)], "name": [f"Item {i}" for i in range(products)],
            "category": rng.choice(CATEGORIES, products), "supplier_id": suppliers[supplier_of],
            "unit_cost": cost, "list_price": (cost * rng.uniform(1.3, 1.9, products)).round(2),
            "reorder_point": rng.integers(10, 40, products).astype(float),
            "reorder_quantity": rng.integers(40, 120, products).astype(float)})))
        db.add("commission_rules", rate=0.03)
        db.add("commission_rules", category="ware", rate=0.05)
        db.add("commission_rules", partner_id=partners[1], rate=0.06, basis="payment")
        made = dict(locations=locations, suppliers=suppliers, partners=partners, products=prod, customers=cust)
        made["orders"] = _season(db, rng, t0, days, made, supplier_of, cost, partner_of)
    return made


def _of_season(db, made, field: str) -> np.ndarray:
    """A field of the season's own products, in their order (the store may hold others)."""
    ids = made["products"]
    return db.frame("products", ids=ids.tolist(), columns=[field])[field].reindex(ids).to_numpy()


def _season(db, rng, t0, days, made, supplier_of, cost, partner_of) -> np.ndarray:
    """The season's movements, purchase orders and sales, a day at a time."""
    P, L = len(made["products"]), len(made["locations"])
    on_hand = rng.integers(20, 80, (P, L)).astype(float)
    moves = [pd.DataFrame({"type": "adjustment", "p": np.repeat(np.arange(P), L), "l": np.tile(np.arange(L), P),
                           "quantity": on_hand.ravel(), "unit_cost": np.repeat(cost, L), "day": 0,
                           "reason": "opening count"})]
    pending: list[dict] = []  # purchase lines not yet received: product, location, quantity, arrival day, ...
    po_rows: list[dict] = []
    sales: list[pd.DataFrame] = []
    popularity = rng.dirichlet(np.ones(P) * 0.7)
    reorder_point = _of_season(db, made, "reorder_point")
    for day in range(1, days):
        # Arrivals of what was ordered earlier.
        arrived = [x for x in pending if x["arrive"] == day]
        pending = [x for x in pending if x["arrive"] != day]
        for x in arrived:  # a handful a day: purchase lines, not movements
            if x["received"] > 0:
                on_hand[x["p"], x["l"]] += x["received"]
                moves.append(pd.DataFrame({"type": ["receipt"], "p": [x["p"]], "l": [x["l"]],
                                           "quantity": [x["received"]], "day": [day], "k": [x["k"]]}))
        # Demand: orders of 1-3 lines at a warehouse.
        n = rng.poisson(12)
        lines = pd.DataFrame({"order": np.repeat(np.arange(n), rng.integers(1, 4, n))})
        lines["p"] = rng.choice(P, len(lines), p=popularity)
        lines = lines.drop_duplicates(["order", "p"])
        where = rng.integers(0, L, n)
        lines["l"] = where[lines["order"]]
        lines["quantity"] = rng.integers(1, 6, len(lines)).astype(float)
        wanted = lines.groupby(["p", "l"])["quantity"].cumsum().to_numpy()
        held = on_hand[lines["p"], lines["l"]]
        backorders = np.array([b for _, b in WAREHOUSES])[lines["l"]]
        lines["shipped"] = (wanted <= held + 1e-9) | backorders
        ship = lines[lines["shipped"]]
        np.subtract.at(on_hand, (ship["p"].to_numpy(), ship["l"].to_numpy()), ship["quantity"].to_numpy())
        sales.append(lines.assign(day=day, customer=rng.choice(len(made["customers"]), n)[lines["order"]]))
        # Reorders once a week, for what is at or below its point across all warehouses.
        if day % 7 == 1:
            on_order = np.zeros(P)
            for x in pending:
                on_order[x["p"]] += x["quantity"]
            low = np.flatnonzero(on_hand.sum(axis=1) + on_order <= reorder_point)
            for p in low:  # one purchase line per product that ran low: a few a week
                s = supplier_of[p]
                _, lead, fill, _ = SUPPLIERS[s]
                q = float(rng.integers(60, 150))
                x = dict(k=len(po_rows), p=p, l=int(rng.integers(0, L)), quantity=q, ordered=day, lead=lead, supplier=s,
                         arrive=day + max(1, int(round(rng.normal(lead, lead / 3)))),
                         received=q if rng.random() < fill else float(np.floor(q * rng.uniform(0.5, 0.95))),
                         cost=round(cost[p] * rng.choice([1.0, 1.0, 1.05, 0.97]), 2))
                pending.append(x)
                po_rows.append(x)
    # Purchase orders and lines first (receipts name the lines).
    m = pd.concat(moves, ignore_index=True)
    m["line"] = np.nan
    if po_rows:
        pos = pd.DataFrame(po_rows)
        po_ids = db.import_frame("purchase_orders", pd.DataFrame({
            "supplier_id": made["suppliers"][pos["supplier"]], "location_id": made["locations"][pos["l"]],
            "ordered_at": t0 + pd.to_timedelta(pos["ordered"], "D"),
            "expected_at": t0 + pd.to_timedelta(pos["ordered"] + pos["lead"], "D")}))
        line_ids = np.asarray(db.import_frame("purchase_lines", pd.DataFrame({
            "purchase_order_id": np.asarray(po_ids), "product_id": made["products"][pos["p"]],
            "quantity": pos["quantity"], "unit_cost": pos["cost"]})))
        if "k" in m:
            known = m["k"].notna()
            m.loc[known, "line"] = line_ids[m.loc[known, "k"].astype(np.int64)]
    # Sales orders, their lines and the shipments.
    s = pd.concat(sales, ignore_index=True)
    s["key"] = s["day"] * 10_000 + s["order"]
    price = _of_season(db, made, "list_price")
    s["amount"] = s["quantity"] * price[s["p"]]
    s["cost"] = s["quantity"] * cost[s["p"]]
    orders = s.groupby("key").agg(day=("day", "first"), customer=("customer", "first"), l=("l", "first"),
                                  amount=("amount", "sum"), cost=("cost", "sum"))
    customer_ids = made["customers"][orders["customer"]]
    partner = partner_of[orders["customer"]]
    order_ids = np.asarray(db.import_frame("orders", pd.DataFrame({
        "customer_id": customer_ids, "ordered_at": t0 + pd.to_timedelta(orders["day"], "D") + pd.Timedelta(hours=12),
        "amount": orders["amount"].round(2), "cost": orders["cost"].round(2), "channel": "wholesale",
        "location": [WAREHOUSES[i][0] for i in orders["l"]],
        "partner_id": pd.Series(partner, dtype="Int64").where(partner >= 0).to_numpy()})))
    order_of = pd.Series(order_ids, index=orders.index)
    db.import_frame("order_lines", pd.DataFrame({
        "order_id": order_of[s["key"]].to_numpy(), "product_id": made["products"][s["p"]],
        "quantity": s["quantity"], "unit_price": price[s["p"]]}))
    paid = orders.sample(frac=0.8, random_state=int(rng.integers(1 << 31)))
    db.import_frame("payments", pd.DataFrame({
        "customer_id": made["customers"][paid["customer"]], "order_id": order_of[paid.index].to_numpy(),
        "paid_at": t0 + pd.to_timedelta(paid["day"] + rng.integers(3, 30, len(paid)), "D"),
        "amount": paid["amount"].round(2)}))
    shipped = s[s["shipped"]]
    m = pd.concat([m, pd.DataFrame({"type": "shipment", "p": shipped["p"], "l": shipped["l"],
                                    "quantity": shipped["quantity"], "day": shipped["day"],
                                    "order": order_of[shipped["key"]].to_numpy()})], ignore_index=True)
    m["moved_at"] = t0 + pd.to_timedelta(m["day"], "D") + pd.to_timedelta(m["type"].map(HOURS), "h")
    m = m.sort_values(["moved_at"], kind="stable")
    missing = pd.Series(np.nan, index=m.index)
    frame = pd.DataFrame({"type": m["type"].to_numpy(), "product_id": made["products"][m["p"].to_numpy()],
                          "location_id": made["locations"][m["l"].to_numpy()], "quantity": m["quantity"].to_numpy(),
                          "unit_cost": m.get("unit_cost", missing).to_numpy(), "moved_at": m["moved_at"].to_numpy(),
                          "reason": m.get("reason", missing).to_numpy(),
                          "purchase_line_id": pd.array(m["line"].to_numpy(), dtype="Int64"),
                          "order_id": pd.array(m.get("order", missing).to_numpy(), dtype="Int64")})
    db.import_frame("stock_movements", frame)
    # Deals the partners brought, closed during the season.
    with_partner = np.flatnonzero(partner_of >= 0)
    n = min(60, len(with_partner) * 2)
    if n:
        who = rng.choice(with_partner, n)
        db.import_frame("deals", pd.DataFrame({
            "customer_id": made["customers"][who], "partner_id": partner_of[who],
            "stage": rng.choice(["won", "lost"], n, p=[0.45, 0.55]), "amount": rng.gamma(2.0, 800.0, n).round(2),
            "closed_at": t0 + pd.to_timedelta(rng.integers(1, days, n), "D")}))
    # Complaints about products, more for the suppliers with worse quality.
    units = shipped.groupby("p")["quantity"].sum()
    rate = np.array([c for *_, c in SUPPLIERS])[supplier_of[units.index]] / 1000.0
    count = rng.poisson(units.to_numpy() * rate)
    complaints = np.repeat(units.index.to_numpy(), count)
    if len(complaints):
        db.import_frame("tickets", pd.DataFrame({
            "product_id": made["products"][complaints], "category": "quality",
            "opened_at": t0 + pd.to_timedelta(rng.integers(1, days, len(complaints)), "D"),
            "customer_id": rng.choice(made["customers"], len(complaints))}))
    return order_ids
