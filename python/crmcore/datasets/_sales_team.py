"""A sales team's books: three years of deals with a seasonal rhythm, and a
last quarter with targets, invoices, payments, credit, contracts, projects
and tasks, written into a store through its write path (``crm.datasets.sales_team``)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..scoring._columns import as_of_timestamp

#: Path of a deal through the default pipeline before it is won or lost.
STEPS = ["lead", "qualified", "proposal", "negotiation"]
# Deals closing per month, relative: a quiet Spring Festival (February), a
# busy year end (budgets spent in November and December).
MONTH_WEIGHT = np.array([1.0, 0.55, 1.0, 1.05, 1.0, 1.1, 0.9, 0.85, 1.05, 1.1, 1.35, 1.7])
TEAMS = {"north": ["Wang Lei", "Zhao Min", "Sun Hao"], "south": ["Li Na", "Chen Jie", "Zhou Yu"]}
#: Product lines (products.category) with their products' list prices and unit costs.
LINES = {"software": [("SW-1", "Analytics seat", 1200.0, 150.0), ("SW-2", "Reporting seat", 800.0, 90.0)],
         "hardware": [("HW-1", "Scanner", 2500.0, 1600.0), ("HW-2", "Terminal", 4200.0, 2900.0)]}


def sales_team(db: Any, seed: int = 0, end: str = "2025-03-31", months: int = 39, customers: int = 300,
               deals_per_month: int = 30) -> dict:
    """Write ``months`` months of a sales team's work up to ``end`` into
    ``db``: a director, two team leads and six reps (``reports_to`` links),
    customers, deals moving through the stages (about a third lost, some
    close dates slipping, December busiest), targets for the last quarter on
    several metrics, invoices with lines for the last year's wins, partial,
    late and missing payments, an overpayment kept as credit and spent,
    contracts, projects with milestones, interactions and tasks, among them
    a few recurring ones (each rep's weekly pipeline review, each lead's
    monthly forecast call, with a reminder), and the last quarter's orders
    of two product lines with a target per line (``product_category``,
    bookings) and per team and line. Returns the ids made (staff,
    customers, deals, invoices).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> made = crm.datasets.sales_team(db, seed=1, months=30, customers=30, deals_per_month=8)
    >>> len(made["staff"]), bool(db.sales.credits()["kept"].sum() > 0)
    (9, True)
    """
    rng = np.random.default_rng(seed)
    stop = as_of_timestamp(end, "end", "sales_team")
    first = (stop.to_period("M") - (months - 1)).start_time
    quarter = stop.to_period("Q")
    with db.transaction():
        staff = _staff(db)
        reps = staff[3:]
        cust = np.asarray(db.import_frame("customers", pd.DataFrame({
            "name": [f"Customer {i:03d}" for i in range(customers)], "kind": "organization",
            "region": rng.choice(["North", "South", "East"], customers),
            "source": rng.choice(["referral", "web", "event", "cold call"], customers, p=[0.3, 0.3, 0.2, 0.2]),
            "industry": rng.choice(["retail", "manufacturing", "logistics", "software"], customers)})))
        deals = _deals(db, rng, first, stop, reps, cust, deals_per_month)
        _targets(db, quarter, reps)
        _activities(db, rng, first, stop, reps, cust)
        invoices = _ledger(db, rng, stop, deals)
        _delivery(db, rng, stop, deals)
        # Drawn last, so the data above stays what it was for a given seed.
        _schedules(db, stop, staff)
        _product_lines(db, rng, quarter, stop, reps, cust)
    return {"staff": staff, "customers": cust, "deals": deals.index.to_numpy(), "invoices": invoices}


def _staff(db: Any) -> np.ndarray:
    director = db.add("staff", name="Liu Yang", title="sales director")
    ids = [director]
    for team, people in TEAMS.items():
        lead = db.add("staff", name=f"{team.title()} lead", team=team, title="team lead")
        db.link(lead, director, "reports_to")
        ids.append(lead)
    for (team, people), lead in zip(TEAMS.items(), ids[1:3]):
        for name in people:
            rep = db.add("staff", name=name, team=team, title="account manager")
            db.link(rep, lead, "reports_to")
            ids.append(rep)
    return np.array(ids)


def _deals(db: Any, rng: np.random.Generator, first: pd.Timestamp, stop: pd.Timestamp, reps: np.ndarray,
           cust: np.ndarray, per_month: int) -> pd.DataFrame:
    """Deals whose closes follow MONTH_WEIGHT, each moved stage by stage
    (one bulk update per step, so the store writes every history row)."""
    months = pd.period_range(first, stop.to_period("M") + 3, freq="M")   # the next quarter's closes are open
    count = rng.poisson(per_month * MONTH_WEIGHT[months.month - 1])
    close_month = np.repeat(np.arange(len(months)), count)
    n = len(close_month)
    close = (months[close_month].start_time + pd.to_timedelta(rng.integers(0, 28 * 24, n), "h")).to_numpy()
    steps = rng.integers(1, len(STEPS) + 1, n)           # open stages passed through before the end
    stay = rng.gamma(2.0, 9.0, (n, len(STEPS))).round(2)  # days in each stage
    days = np.where(np.arange(len(STEPS)) < steps[:, None], stay, 0.0)
    created = close - pd.to_timedelta(days.sum(axis=1), "D").to_numpy()
    won = rng.random(n) < np.where(steps == len(STEPS), 0.7, 0.35)
    # the deals still open at the end: those whose close lies past it
    still_open = close > stop.to_datetime64()
    amount = np.round(rng.lognormal(9.0, 0.6, n), -1)
    # a quarter of the open deals are expected before the end: late, their slip not yet written
    expected = np.where(still_open & (rng.random(n) < 0.25),
                        (stop - pd.to_timedelta(rng.integers(1, 20, n), "D")).to_numpy(), close)
    frame = pd.DataFrame({"customer_id": rng.choice(cust, n), "owner_id": rng.choice(reps, n), "stage": "lead",
                          "amount": amount, "name": [f"Deal {i}" for i in range(n)],
                          "stage_changed_at": created, "expected_close": expected,
                          "close_changed_at": created})
    ids = np.asarray(db.import_frame("deals", frame))
    at = created.copy()
    for k in range(1, len(STEPS)):
        at = at + pd.to_timedelta(days[:, k - 1], "D").to_numpy()
        moving = (steps > k) & (at <= stop.to_datetime64())
        if moving.any():
            db.import_frame("deals", pd.DataFrame({"id": ids[moving], "stage": STEPS[k],
                                                   "stage_changed_at": at[moving]}), mode="update")
    closing = ~still_open
    db.import_frame("deals", pd.DataFrame({"id": ids[closing], "stage": np.where(won, "won", "lost")[closing],
                                           "stage_changed_at": close[closing]}), mode="update")
    # a fifth of the open deals slipped: their close moved out a month, on a day before the end
    open_ids = ids[still_open]
    slip = open_ids[rng.random(len(open_ids)) < 0.2]
    if len(slip):
        moved = pd.Series(expected, index=ids)[slip] + pd.Timedelta(days=30)
        db.import_frame("deals", pd.DataFrame({"id": slip, "expected_close": moved.to_numpy(),
                                               "close_changed_at": stop - pd.Timedelta(days=10)}), mode="update")
    return db.frame("deals", ids=ids)


def _targets(db: Any, quarter: pd.Period, reps: np.ndarray) -> None:
    q = f"{quarter.year}-Q{quarter.quarter}"
    rows = []
    for rep in reps:
        rows += [{"staff_id": rep, "period": q, "metric": "bookings", "amount": 70_000.0},
                 {"staff_id": rep, "period": q, "metric": "activities", "amount": 20.0},
                 {"staff_id": rep, "period": q, "metric": "new_customers", "amount": 1.0}]
    for team in TEAMS:
        rows += [{"team": team, "period": q, "metric": "bookings", "amount": 200_000.0},
                 {"team": team, "period": q, "metric": "collected", "amount": 150_000.0},
                 {"team": team, "period": q, "metric": "deals_won", "amount": 20.0}]
    rows += [{"region": region, "period": q, "metric": "bookings", "amount": 130_000.0}
             for region in ("North", "South", "East")]
    for row in rows:
        db.add("targets", **row)


def _activities(db: Any, rng: np.random.Generator, first: pd.Timestamp, stop: pd.Timestamp, reps: np.ndarray,
                cust: np.ndarray) -> None:
    n = int((stop - first).days * 1.2)
    db.import_frame("interactions", pd.DataFrame({
        "customer_id": rng.choice(cust, n), "staff_id": rng.choice(reps, n),
        "channel": rng.choice(["call", "visit", "email", "meeting"], n, p=[0.4, 0.2, 0.3, 0.1]),
        "occurred_at": first + pd.to_timedelta(rng.uniform(0, (stop - first).days, n), "D")}))


def _ledger(db: Any, rng: np.random.Generator, stop: pd.Timestamp, deals: pd.DataFrame) -> np.ndarray:
    """An invoice for each deal won in the last year (its lines carry the
    amount, 13% VAT on goods, 6% on services), paid in full, in part, late
    or not at all; one customer overpays and spends the credit."""
    won = deals[(deals.stage == "won") & (deals.closed_at > stop - pd.DateOffset(years=1))]
    won = won.sort_values("closed_at")
    n = len(won)
    invoices = np.asarray(db.import_frame("invoices", pd.DataFrame({
        "customer_id": won.customer_id.to_numpy(), "deal_id": won.index.to_numpy(),
        "owner_id": won.owner_id.to_numpy(), "number": [f"INV-{i:05d}" for i in range(n)],
        "issued_at": won.closed_at.to_numpy(), "due_at": (won.closed_at + pd.Timedelta(days=30)).to_numpy()})))
    goods = np.round(won.amount.to_numpy() * 0.7 / 1.13, 2)
    services = np.round(won.amount.to_numpy() * 0.3 / 1.06, 2)
    db.import_frame("invoice_lines", pd.DataFrame({
        "invoice_id": np.concatenate([invoices, invoices]), "description": ["licences"] * n + ["services"] * n,
        "quantity": 1.0, "unit_price": np.concatenate([goods, services]), "tax_rate": [0.13] * n + [0.06] * n}))
    amount = db.frame("invoices", ids=invoices, columns=["amount"]).amount.to_numpy()
    fate = rng.choice(["on time", "late", "part", "none"], n, p=[0.55, 0.2, 0.15, 0.1])
    delay = np.where(fate == "late", rng.uniform(35, 100, n), rng.uniform(5, 30, n))
    paid_at = won.closed_at.to_numpy() + pd.to_timedelta(delay, "D").to_numpy()
    pays = (fate != "none") & (paid_at <= stop.to_datetime64())
    share = np.where(fate == "part", rng.choice([0.3, 0.5], n), 1.0)
    db.import_frame("payments", pd.DataFrame({
        "customer_id": won.customer_id.to_numpy()[pays], "invoice_id": invoices[pays], "paid_at": paid_at[pays],
        # in full to the last fraction of a cent; a part payment in whole cents
        "amount": np.where(share[pays] < 1, np.floor(amount[pays] * share[pays] * 100) / 100, amount[pays]),
        "method": "bank transfer"}))
    # a customer with two open invoices pays the first one 5,000 too much, and
    # the credit goes to the second
    open_ = db.sales.open_invoices(as_of=stop)
    open_ = open_[open_.balance > 1000]
    twice = open_.groupby("customer_id").filter(lambda g: len(g) >= 2)
    if len(twice):
        one = twice[twice.customer_id == twice.customer_id.iloc[0]]
        first, second = one.sort_values("issued_at").index[:2]
        db.add("payments", customer_id=int(open_.loc[first, "customer_id"]), invoice_id=int(first),
               paid_at=stop - pd.Timedelta(days=6), amount=float(open_.loc[first, "balance"]) + 5000.0,
               overpayment="credit", method="bank transfer")
        db.sales.apply_credit(int(second), at=stop - pd.Timedelta(days=5))
    return invoices


def _delivery(db: Any, rng: np.random.Generator, stop: pd.Timestamp, deals: pd.DataFrame) -> None:
    """Contracts for the last year's wins, projects with milestones for the
    largest of them, and the reps' tasks around the end of the quarter."""
    won = deals[(deals.stage == "won") & (deals.closed_at > stop - pd.DateOffset(years=1))]
    db.import_frame("contracts", pd.DataFrame({
        "customer_id": won.customer_id.to_numpy(), "deal_id": won.index.to_numpy(), "value": won.amount.to_numpy(),
        "owner_id": won.owner_id.to_numpy(), "started_at": won.closed_at.to_numpy(),
        "ends_at": (won.closed_at + pd.DateOffset(years=1)).to_numpy(),
        "renewal_at": (won.closed_at + pd.DateOffset(months=11)).to_numpy(), "name": "annual licence"}))
    big = won.nlargest(12, "amount")
    for deal, row in big.iterrows():
        p = db.add("projects", name=f"Roll-out {deal}", customer_id=int(row.customer_id), deal_id=int(deal),
                   owner_id=int(row.owner_id), started_at=row.closed_at, due_at=row.closed_at + pd.Timedelta(days=90))
        for k, name in enumerate(["kick-off", "pilot", "go-live"]):
            planned = row.closed_at + pd.Timedelta(days=10 + 35 * k)
            done = planned + pd.Timedelta(days=int(rng.integers(-3, 15)))
            if done <= stop and rng.random() < 0.8:
                db.add("milestones", project_id=p, name=name, planned_at=planned, done_at=done, status="done")
            else:
                db.add("milestones", project_id=p, name=name, planned_at=planned)
    reps = deals.owner_id.dropna().unique()
    n = 8 * len(reps)
    db.import_frame("tasks", pd.DataFrame({
        "subject": rng.choice(["call back", "send proposal", "book demo", "chase invoice"], n),
        "assignee_id": np.repeat(reps, 8), "customer_id": rng.choice(deals.customer_id.to_numpy(), n),
        "due_at": stop + pd.to_timedelta(rng.integers(-10, 15, n), "D"), "done": rng.random(n) < 0.3}))


def _schedules(db: Any, stop: pd.Timestamp, staff: np.ndarray) -> None:
    """Recurring tasks: each rep's weekly pipeline review (Monday 09:00,
    reminded an hour before) and each team lead's monthly forecast call
    (reminded the day before), the next ones due after ``stop``."""
    monday = (stop + pd.offsets.Week(weekday=0)).normalize() + pd.Timedelta(hours=9)
    rows = [{"subject": "pipeline review", "assignee_id": int(rep), "due_at": monday,
             "remind_at": monday - pd.Timedelta(hours=1), "recurrence": "weekly", "recur_every": 1}
            for rep in staff[3:]]
    call = (stop + pd.offsets.MonthBegin(1)).normalize() + pd.Timedelta(hours=10)
    rows += [{"subject": "forecast call", "assignee_id": int(lead), "due_at": call,
              "remind_at": call - pd.Timedelta(days=1), "recurrence": "monthly", "recur_every": 1}
             for lead in staff[1:3]]
    db.import_frame("tasks", pd.DataFrame(rows))


def _product_lines(db: Any, rng: np.random.Generator, quarter: pd.Period, stop: pd.Timestamp,
                   reps: np.ndarray, cust: np.ndarray) -> None:
    """The last quarter's orders of the product lines (one to three lines
    each, sold by a rep) and targets per line and per team and line."""
    made = {}
    for category, items in LINES.items():
        for code, name, list_price, unit_cost in items:
            made[code] = (db.add("products", sku=code, name=name, category=category, list_price=list_price,
                                 unit_cost=unit_cost), list_price, unit_cost)
    start = quarter.start_time
    n = 40
    at = start + pd.to_timedelta(rng.uniform(0, (min(stop, quarter.end_time) - start).days, n), "D")
    per = rng.integers(1, 4, n)
    sku = rng.choice(list(made), int(per.sum()))
    qty = rng.integers(1, 6, len(sku)).astype(float)
    price, cost = np.array([made[s][1] for s in sku]), np.array([made[s][2] for s in sku])
    owner = np.repeat(np.arange(n), per)  # an order's amount and cost are its lines' sums
    orders = np.asarray(db.import_frame("orders", pd.DataFrame({
        "customer_id": rng.choice(cust, n), "staff_id": rng.choice(reps, n), "ordered_at": at, "status": "paid",
        "amount": np.bincount(owner, qty * price, n), "cost": np.bincount(owner, qty * cost, n)})))
    db.import_frame("order_lines", pd.DataFrame({
        "order_id": orders[owner], "product_id": [made[s][0] for s in sku], "quantity": qty,
        "unit_price": price, "unit_cost": cost}))
    q = f"{quarter.year}-Q{quarter.quarter}"
    for category, goal in (("software", 120_000.0), ("hardware", 250_000.0)):
        db.add("targets", product_category=category, period=q, metric="bookings", amount=goal)
        for team in TEAMS:
            db.add("targets", product_category=category, team=team, period=q, metric="bookings", amount=goal / 2)
