"""A span added to or taken from ``as_of`` (or from another date argument,
or a stored date a rule moves) near the ends of the times the store keeps
(1677-09-22 to 2262-04-11): the result outside them is refused with a
ValidationError naming the function and the argument, where pandas raised a
bare OutOfBoundsDatetime or OverflowError; a span whose end is only a bound
(no record lies beyond 2262) is held there instead, and the analysis runs."""
import warnings

import pandas as pd
import pytest

import crmcore as crm

LATE, EARLY = "2262-04-10", "1677-09-25"


@pytest.fixture(scope="module")
def db():
    db = crm.open()
    c = db.add("customers", name="Ann", birthday="1990-03-01")
    staff = db.add("staff", name="Li")
    db.add("orders", customer_id=c, ordered_at="2024-01-01", amount=10.0)
    db.add("tasks", subject="call", due_at="2024-01-05", assignee_id=staff)
    db.add("tasks", subject="far off", due_at="2262-04-01", assignee_id=staff)
    d = db.add("deals", customer_id=c, stage="lead", stage_changed_at="2024-01-01")
    db.sales.move(d, "won", at="2024-02-01")
    db.add("deals", customer_id=c, stage="lead", stage_changed_at="2024-03-01")
    db.add("contracts", customer_id=c, value=5.0, ends_at="2024-12-31")
    db.add("invoices", customer_id=c, issued_at="2024-01-02", due_at="2024-02-01", amount=10.0)
    db.add("interactions", customer_id=c, channel="call", occurred_at="2024-01-03")
    loc, p = db.add("locations", name="North"), db.add("products", sku="TEA", name="Tea")
    db.stock.adjust(p, loc, 10, reason="count", at="2024-01-01")
    k = db.add("campaigns", name="late", started_at="2262-04-01")
    db.add("campaign_members", campaign_id=k, customer_id=c)
    program = db.members.add_program("club", tiers=[{"name": "gold", "min_spend": 5, "window_days": 365}])
    db.members.join(program, [c], at="2024-01-01")
    db.automation.add_rule("after due", on="date", kind="tasks", field="due_at", offset_days=60,
                           actions=[{"do": "tag", "add": ["late"]}])
    return db


CASES = {
    "renewals_due": (lambda db: db.sales.renewals_due(within=90, as_of=LATE), "renewals_due", "within"),
    "dso": (lambda db: db.sales.dso(days=90, as_of=EARLY), "dso", "days"),
    "due_tasks": (lambda db: db.sales.due_tasks(days=30, as_of=LATE), "due_tasks", "days"),
    "without_next_step": (lambda db: db.sales.without_next_step(days=30, as_of=EARLY), "without_next_step", "days"),
    "close_chance": (lambda db: db.sales.close_chance(as_of=EARLY), "close_chance", "horizon"),
    "agenda": (lambda db: db.sales.agenda(start=LATE), "agenda", "start"),
    "backtest_prospects": (lambda db: db.marketing.backtest_prospects(as_of=LATE), "backtest_prospects", "days"),
    "profit_tiers": (lambda db: db.profit_tiers(as_of=EARLY), "profit_tiers", "freq"),
    "days_of_cover": (lambda db: db.stock.days_of_cover(window=90, as_of=EARLY), "days_of_cover", "window"),
    "update_tiers": (lambda db: db.members.update_tiers("club", as_of=EARLY), "update_tiers", "window_days"),
    "members report": (lambda db: db.members.report("club", as_of=EARLY), "report", "as_of"),
    "run_due": (lambda db: db.automation.run_due(now=LATE), "run_due", "offset_days"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_span_past_the_store_s_times_is_refused_by_name(db, case):
    call, where, field = CASES[case]
    before = db.audit_log(limit=None).shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a forecast's few examples)
        with pytest.raises(crm.ValidationError) as info:
            call(db)
    assert (info.value.kind, info.value.field) == (where, field), str(info.value)
    assert "1677-09-22 to 2262-04-11" in str(info.value)
    assert db.audit_log(limit=None).shape == before  # nothing written


@pytest.mark.parametrize("call", [
    lambda db: db.sales.close_chance(as_of=LATE),  # its current snapshot's horizon ends past 2262: held there
    lambda db: db.marketing.portrait(as_of=LATE),  # ages of more than 292 years in nanoseconds
    lambda db: db.marketing.portrait(as_of=EARLY),
    lambda db: db.marketing.campaigns(days=36_525, as_of=LATE),  # touch + window past 2262: held there
    lambda db: db.marketing.campaign_effect(int(db.ids("campaigns")[0]), days=36_525),
], ids=["close_chance late", "portrait late", "portrait early", "campaigns late", "campaign_effect late"])
def test_a_span_whose_end_is_only_a_bound_runs(db, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert isinstance(call(db), pd.DataFrame)
