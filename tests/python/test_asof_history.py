"""The sales reports, service.satisfaction and partners.performance take deals and
tickets as they stood at ``as_of`` from the histories the store keeps in the data's time
(deal_stages, deal_close_dates, ticket_events), not as they are now (issue
13). The point lies between two changes of each record; the reference is
plain pandas over the plan the store was built from (never over crmcore's
own frames), with the seeded pipeline's categories and probabilities
written out by hand."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

T = pd.Timestamp
POINT = T("2024-03-01")
CATEGORY = {"won": "won", "lost": "lost"}
PROBABILITY = {"lead": 0.10, "qualified": 0.25, "proposal": 0.50, "negotiation": 0.75, "won": 1.0, "lost": 0.0}

# deal: amount, owner (0/1), [(stage, at)] from its start, [(expected close, written at)]
PLAN = {
    "moved on": (100.0, 0, [("lead", "2024-01-02"), ("proposal", "2024-02-01"), ("negotiation", "2024-03-10")],
                 [("2024-04-10", "2024-01-02")]),
    "won, reopened": (200.0, 1, [("lead", "2024-01-05"), ("won", "2024-02-10"), ("negotiation", "2024-03-05")],
                      [("2024-02-15", "2024-01-05")]),
    "pushed": (300.0, 0, [("lead", "2024-01-10"), ("qualified", "2024-02-05")],
               [("2024-03-10", "2024-01-10"), ("2024-05-20", "2024-03-08")]),
    "lost later": (400.0, 1, [("lead", "2024-01-15"), ("lost", "2024-04-01")], [("2024-03-25", "2024-01-15")]),
    "won before": (500.0, 0, [("lead", "2024-01-03"), ("won", "2024-01-25")], [("2024-01-31", "2024-01-03")]),
    "lost before": (600.0, 1, [("lead", "2024-01-04"), ("lost", "2024-02-20")], [("2024-02-28", "2024-01-04")]),
    "won, then lost": (700.0, 0, [("lead", "2024-01-06"), ("won", "2024-02-12"), ("lost", "2024-03-20")],
                       [("2024-02-20", "2024-01-06")]),
    "started later": (800.0, 1, [("lead", "2024-03-03"), ("won", "2024-03-30")], [("2024-03-31", "2024-03-03")]),
}


@pytest.fixture(scope="module")
def deals_db():
    db = crm.open(":memory:")
    c = db.add("customers", name="Acme")
    owners = [db.add("staff", name=n, role="sales") for n in ("Li", "Wu")]
    ids = {}
    for name, (amount, owner, moves, closes) in PLAN.items():
        (first, start), *later = moves
        d = db.add("deals", customer_id=c, stage=first, amount=amount, owner_id=owners[owner],
                   stage_changed_at=start, expected_close=closes[0][0], close_changed_at=closes[0][1])
        # The moves and the pushes in the order they happened.
        events = [(T(at), "stage", stage) for stage, at in later] + [(T(at), "close", day) for day, at in closes[1:]]
        for at, what, value in sorted(events):
            if what == "stage":
                db.sales.move(d, value, at=at)
            else:
                db.update("deals", d, expected_close=value, close_changed_at=at)
        ids[name] = d
    db.ids_by_name, db.owners = ids, owners
    return db


def reference(db, point):
    """Each deal begun by ``point`` as it stood then, from PLAN alone."""
    rows = []
    for name, (amount, owner, moves, closes) in PLAN.items():
        seen = [(stage, T(at)) for stage, at in moves if T(at) <= point]
        if not seen:
            continue
        stage, moved = seen[-1]
        close = [T(day) for day, at in closes if T(at) <= point][-1]
        category = CATEGORY.get(stage, "open")
        rows.append({"deal": db.ids_by_name[name], "owner": db.owners[owner], "amount": amount, "stage": stage,
                     "category": category, "probability": PROBABILITY[stage], "expected_close": close,
                     "closed_at": moved if category != "open" else pd.NaT, "first": T(moves[0][1])})
    return pd.DataFrame(rows).set_index("deal")


def test_the_point_lies_between_two_changes_of_each_changed_deal(deals_db):
    ref = reference(deals_db, POINT)
    assert ref.loc[deals_db.ids_by_name["moved on"], "stage"] == "proposal"      # negotiation came after
    assert ref.loc[deals_db.ids_by_name["won, reopened"], "category"] == "won"   # reopened after
    assert ref.loc[deals_db.ids_by_name["pushed"], "expected_close"] == T("2024-03-10")
    assert deals_db.ids_by_name["started later"] not in ref.index


def test_forecast_at_a_point_between_two_changes(deals_db):
    ref = reference(deals_db, POINT)
    keep = ref[ref["category"] != "lost"]
    is_open = keep["category"] == "open"
    period = keep["expected_close"].where(is_open, keep["closed_at"]).dt.to_period("M")
    amount = keep["amount"]
    want = pd.DataFrame({
        "won": amount.where(~is_open, 0.0).groupby(period).sum(),
        "open_deals": is_open.groupby(period).sum(),
        "pipeline": amount.where(is_open, 0.0).groupby(period).sum(),
        "weighted": (amount * keep["probability"]).where(is_open, 0.0).groupby(period).sum(),
        "commit": amount.where(is_open & (keep["probability"] >= 0.75), 0.0).groupby(period).sum(),
        "best_case": amount.where(is_open & (keep["probability"] >= 0.5), 0.0).groupby(period).sum(),
    })
    got = deals_db.sales.forecast(by=None, as_of=POINT)
    assert got.index.astype(str).tolist() == want.index.astype(str).tolist()
    for col in want:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), err_msg=col)


def test_win_rate_cycle_and_velocity_at_a_point_between_two_changes(deals_db):
    db = deals_db
    ref = reference(db, POINT)
    closed = ref[ref["category"] != "open"]
    counts = closed.groupby("owner")["category"].value_counts().unstack(fill_value=0)
    rates = db.sales.win_rate(by="owner", as_of=POINT)
    assert rates["won"].to_dict() == counts["won"].to_dict() and rates["lost"].to_dict() == counts["lost"].to_dict()
    days = (closed["closed_at"] - closed["first"]) / pd.Timedelta(days=1)
    cycle = db.sales.cycle_length(as_of=POINT)
    assert cycle.attrs["deals"].sort_index().to_dict() == days.sort_index().to_dict()
    won = closed[closed["category"] == "won"]
    n_open = int((ref["category"] == "open").sum())
    rate = len(won) / len(closed)
    got = db.sales.velocity(as_of=POINT).loc["all"]
    np.testing.assert_allclose(got[["open_deals", "avg_won", "win_rate", "cycle_days", "velocity"]].astype(float),
                               [n_open, won["amount"].mean(), rate, days.mean(),
                                n_open * won["amount"].mean() * rate / days.mean()])


def test_a_deal_with_its_own_probability_keeps_it_while_its_stage_stands(deals_db):
    """The deal's own probability is today's: it holds at a point where the
    deal was in the same stage, and the stage's default where it was not."""
    db = crm.open(":memory:")
    c = db.add("customers", name="Acme")
    same = db.add("deals", customer_id=c, stage="proposal", probability=0.3, amount=10.0,
                  stage_changed_at="2024-01-01", expected_close="2024-03-20", close_changed_at="2024-01-01")
    moved = db.add("deals", customer_id=c, stage="lead", amount=10.0, stage_changed_at="2024-01-01",
                   expected_close="2024-03-20", close_changed_at="2024-01-01")
    db.sales.move(moved, "proposal", at="2024-03-05")
    db.update("deals", moved, probability=0.9)
    db.add("deals", customer_id=c, stage="lead", amount=1.0, stage_changed_at="2024-04-01")  # ends the data later
    got = db.sales.forecast(by=None, as_of=POINT).loc["2024-03"]
    assert got["weighted"] == pytest.approx(10.0 * 0.3 + 10.0 * PROBABILITY["lead"])
    assert db.get("deals", same)["probability"] == 0.3


# ticket: [(status, at)], satisfaction now
TICKETS = {
    "resolved, reopened later": ([("new", "2024-01-02"), ("in_progress", "2024-01-03"), ("resolved", "2024-01-10"),
                                  ("reopened", "2024-03-05"), ("resolved", "2024-03-09")], 2.0),
    "reopened before": ([("new", "2024-01-05"), ("resolved", "2024-01-08"), ("reopened", "2024-01-20"),
                         ("resolved", "2024-02-02")], 3.0),
    "resolved before": ([("new", "2024-02-01"), ("resolved", "2024-02-03")], 5.0),
    "resolved later": ([("new", "2024-02-10"), ("in_progress", "2024-02-11"), ("resolved", "2024-03-12")], 4.0),
    "closed before": ([("new", "2024-01-15"), ("resolved", "2024-01-16"), ("closed", "2024-01-30"),
                       ("reopened", "2024-03-02"), ("in_progress", "2024-03-03")], None),
}


def test_satisfaction_at_a_point_between_two_changes():
    db = crm.open(":memory:")
    ids = {}
    for name, (moves, score) in TICKETS.items():
        (_, opened), *later = moves
        t = db.add("tickets", category="billing" if len(name) % 2 else "delivery", opened_at=opened,
                   status_changed_at=opened)
        for status, at in later:
            db.service.move(t, status, at=at)
        if score is not None:
            db.update("tickets", t, satisfaction=score)
        ids[name] = t
    rows = []  # the reference: each ticket at POINT from TICKETS alone
    for name, (moves, score) in TICKETS.items():
        seen = [(s, T(at)) for s, at in moves if T(at) <= POINT]
        if seen[-1][0] not in ("resolved", "closed"):
            continue
        rows.append({"category": "billing" if len(name) % 2 else "delivery", "satisfaction": score,
                     "reopened": sum(s == "reopened" for s, _ in seen)})
    ref = pd.DataFrame(rows)
    g = ref.groupby("category")
    want = pd.DataFrame({"resolved": g.size(), "rated": g["satisfaction"].count(),
                         "mean": g["satisfaction"].mean(), "reopened_share": g["reopened"].apply(lambda r: (r > 0).mean())})
    got = db.service.satisfaction(by="category", as_of=POINT)
    assert len(ref) == 4 and got.index.tolist() == want.index.tolist()
    for col in want:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), err_msg=col)
    # Now: the closed one is open again, the late one is resolved.
    assert int(db.service.satisfaction(by="category", as_of="2024-12-31")["resolved"].sum()) == 4


def test_partner_performance_counts_the_deals_as_they_stood():
    """partners.performance took won and lost from the deals' stage today:
    a deal won before the point and lost after it was no win then, and
    one reopened after it was not counted at all."""
    db = crm.open(":memory:")
    p = db.add("customers", name="Reseller", is_partner=True)
    c = db.add("customers", name="Buyer", partner_id=p)
    plan = [[("won", "2024-02-10"), ("lost", "2024-03-20")],          # won then
            [("won", "2024-02-12"), ("negotiation", "2024-03-05")],   # won then, reopened later
            [("lost", "2024-02-20")], [("won", "2024-04-01")]]        # lost then; won later: open then
    for moves in plan:
        d = db.add("deals", customer_id=c, partner_id=p, stage="lead", stage_changed_at="2024-01-05")
        for stage, at in moves:
            db.sales.move(d, stage, at=at)
    ref = pd.DataFrame([(moves_then[-1][0], moves_then[-1][1]) for moves_then in
                        ([m for m in moves if T(m[1]) <= POINT] for moves in plan) if moves_then],
                       columns=["stage", "at"])
    got = db.partners.performance(period="Y", as_of=POINT)
    assert (got["won"].sum(), got["lost"].sum()) == ((ref["stage"] == "won").sum(), (ref["stage"] == "lost").sum())
    assert (got["won"].sum(), got["lost"].sum()) == (2, 1)


def test_deal_quadrants_and_summary_take_the_deals_as_they_stood(deals_db):
    """db.deal_quadrants and db.deal_summary read today's stage: a deal won
    before the point and reopened after it was open then, one moved on
    later was in its earlier stage. They list every deal: one begun later
    stays as it is (closed later: open then)."""
    db = deals_db
    ref = reference(db, POINT)
    later = db.ids_by_name["started later"]
    ref = pd.concat([ref, pd.DataFrame([{"amount": 800.0, "stage": "won", "category": "open", "probability": 1.0,
                                         "expected_close": T("2024-03-31")}], index=[later])])
    quad = db.deal_quadrants(as_of=POINT)
    assert sorted(quad.index) == sorted(ref.index)
    assert quad["stage"].to_dict() == ref["stage"].to_dict()
    assert quad["status"].to_dict() == ref["category"].to_dict()
    due = (ref["expected_close"] - POINT) / pd.Timedelta(days=1)
    is_open = ref["category"] == "open"
    np.testing.assert_allclose(quad.loc[ref.index[is_open], "days_to_close"], due[is_open])
    summary = db.deal_summary(as_of=POINT).iloc[0]
    assert (summary["open"], summary["won"], summary["lost"]) == tuple(
        int((ref["category"] == c).sum()) for c in ("open", "won", "lost"))
    assert summary["pipeline"] == ref.loc[is_open, "amount"].sum()
    assert summary["won_amount"] == ref.loc[ref["category"] == "won", "amount"].sum()
    assert summary["weighted_pipeline"] == pytest.approx((ref["amount"] * ref["probability"])[is_open].sum())
