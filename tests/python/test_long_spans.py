"""Spans between two times the store keeps (1677 to 2262) more than 292
years apart: as nanoseconds they leave int64, and the analyses that took
``as_of - <stored time>`` (or one stored time from another) that way wrapped
silently (rfm's recency, lifecycle's days, time_in_stage, slipped, ...
came out negative) or raised a bare OverflowError (not_contacted,
due_tasks, close_chance). Every such span now goes through one rule
(scoring._columns.days_between, scoring::days_between in the kernels),
checked here against Python's dates with a record of 1700 and as_of 2260."""
import datetime as dt
import inspect
import warnings

import pytest

import crmcore as crm
import test_empty_stores as analyses

AS_OF = "2260-01-01"
SPAN = (dt.date(2260, 1, 1) - dt.date(1700, 1, 1)).days  # 204535
WON_AFTER = (dt.date(2026, 6, 1) - dt.date(1700, 1, 1)).days  # the won deal's time in lead


@pytest.fixture(scope="module")
def db():
    db = crm.open()
    c = db.add("customers", name="Ann", owner="Li")
    li = db.add("staff", name="Li")
    db.add("orders", customer_id=c, ordered_at="1700-01-01", amount=10.0, cost=2.0)
    db.add("interactions", customer_id=c, staff_id=li, channel="call", occurred_at="1700-01-01")
    db.add("tasks", subject="call", due_at="1700-01-01", assignee_id=li)
    db.add("deals", customer_id=c, stage="lead", stage_changed_at="1700-01-01", expected_close="1700-02-01",
           amount=5.0)
    won = db.add("deals", customer_id=c, stage="lead", stage_changed_at="1700-01-01", amount=5.0)
    db.sales.move(won, "won", at="2026-06-01")  # (no change may be written far in the future)
    db.add("invoices", customer_id=c, issued_at="1700-01-01", due_at="1700-02-01", amount=10.0)
    project = db.add("projects", name="wall", owner_id=li)
    db.add("milestones", project_id=project, name="start", planned_at="1700-01-01")
    return db


def test_the_rule_against_python_dates():
    from crmcore.scoring._columns import days_between
    assert days_between(crm.scoring._columns.LAST_TIME, crm.scoring._columns.FIRST_TIME) == \
        pytest.approx((dt.datetime(2262, 4, 11, 23, 47, 15) - dt.datetime(1677, 9, 21, 0, 12, 44)).total_seconds() / 86400)
    assert days_between(crm.scoring._columns.FIRST_TIME, crm.scoring._columns.LAST_TIME) < -213_000


def test_days_since_a_record_of_1700_on_as_of_2260(db):
    assert db.care.not_contacted(30, as_of=AS_OF)["days_since"].tolist() == [SPAN]
    assert db.sales.due_tasks(as_of=AS_OF)["days_overdue"].tolist() == [SPAN]
    assert db.rfm(as_of=AS_OF)["recency"].tolist() == [SPAN]
    life = db.lifecycle(as_of=AS_OF)
    assert life[["tenure_days", "days_since"]].values.tolist() == [[SPAN, SPAN]]
    assert db.churn_risk(as_of=AS_OF)["days_since"].tolist() == [SPAN]
    assert db.loyalty(as_of=AS_OF)["tenure_days"].tolist() == [SPAN]
    assert db.sales.time_in_stage(as_of=AS_OF).loc["lead", "mean_days"] == (SPAN + WON_AFTER) / 2
    assert db.sales.slipped(as_of=AS_OF)["days_late"].tolist() == [SPAN - 31]
    assert db.sales.open_invoices(as_of=AS_OF)["days_overdue"].tolist() == [SPAN - 31]
    assert db.sales.milestones(as_of=AS_OF)["days_late"].tolist() == [SPAN]
    assert db.deal_quadrants(as_of=AS_OF)["days_to_close"].dropna().tolist() == [-(SPAN - 31)]
    assert db.sales.cycle_length(as_of=AS_OF)["mean_days"].tolist() == [WON_AFTER]


def test_every_analysis_runs_on_as_of_2260(db):
    for key in sorted(analyses.METHODS):
        space, name = key.split(".")
        f = getattr(db if space == "scoring" else getattr(db, space), name)
        kwargs = {"scoring.dimension": {"by": ["region"]}, "care.greetings": {"start": "2259-01-01", "end": AS_OF},
                  "scoring.lifecycle_flow": {"start": "1700-01-01", "end": AS_OF}}.get(key, {})
        if "as_of" in inspect.signature(f).parameters:
            kwargs["as_of"] = AS_OF
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f(**kwargs)
        except crm.ValidationError:
            pass  # a documented refusal (too little data to fit or forecast)
        except Exception as e:  # pragma: no cover - the failure's message
            if key == "scoring.lifetime_value" and "no customers to fit" in str(e):
                continue  # one customer of one purchase: nothing to fit, whatever the dates
            pytest.fail(f"{key}: {type(e).__name__}: {e}")
