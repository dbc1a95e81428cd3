"""Dates given as arguments other than ``as_of`` (a window's ``start`` and
``end``, ``since``, ``until``, ``now``, a report's period) go through the same
parser as ``as_of`` (scoring._columns.as_of_ns): text that is not a date,
NaT, or a date outside the times the store keeps is refused with a
ValidationError naming the function and the argument, where pandas raised a
bare error or compared NaT as false; a tz-aware date is read as UTC."""
import pandas as pd
import pytest

import crmcore as crm


@pytest.fixture(scope="module")
def db():
    db = crm.open()
    c = db.add("customers", name="Ann", birthday="1990-03-01")
    p = db.add("customers", name="Group")
    db.link(c, p, "subsidiary_of")
    db.add("orders", customer_id=c, ordered_at="2024-01-02", amount=10.0)
    db.add("tasks", subject="call", due_at="2024-03-01 10:00", remind_at="2024-03-01 09:45")
    program = db.members.add_program("club")
    db.members.join(program, [c], at="2024-01-01")
    return db


CALLS = {
    ("reminders", "now"): lambda db, v: db.sales.reminders(now=v),
    ("reminders", "since"): lambda db, v: db.sales.reminders(now="2024-03-02", since=v),
    ("earn", "until"): lambda db, v: db.members.earn("club", until=v),
    ("commissions", "start"): lambda db, v: db.partners.commissions(start=v),
    ("commissions", "end"): lambda db, v: db.partners.commissions(end=v),
    ("greetings", "start"): lambda db, v: db.care.greetings(v, "2024-03-01"),
    ("greetings", "end"): lambda db, v: db.care.greetings("2024-01-01", v),
    ("hierarchy_rollup", "since"): lambda db, v: db.hierarchy_rollup(since=v),
    ("hierarchy_rollup", "until"): lambda db, v: db.hierarchy_rollup(until=v),
    ("report_7p", "period"): lambda db, v: db.report_7p(period=(v, "2024-06-01")),
}
BAD = {"out of range": "1500-01-01", "not a date": "soon", "NaT": pd.NaT}


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("where, field", CALLS.keys(), ids=[f"{w}.{f}" for w, f in CALLS])
def test_a_bad_date_argument_is_refused_naming_function_and_argument(db, where, field, bad):
    with pytest.raises(crm.ValidationError) as e:
        CALLS[where, field](db, bad)
    assert (e.value.kind, e.value.field) == (where, field)
    assert where in str(e.value) and field in str(e.value)


def test_a_tz_aware_date_is_read_as_utc(db):
    assert db.sales.reminders(now="2024-03-01 10:50+01:00").index.tolist() == \
        db.sales.reminders(now="2024-03-01 09:50").index.tolist() != []
    assert db.sales.reminders(now="2024-03-02", since="2024-03-01 10:50+01:00").empty
    assert len(db.sales.reminders(now="2024-03-02", since="2024-03-01 10:40+01:00")) == 1


def _made(call):
    """Runs a generator of data on a fresh store."""
    return lambda v: call(crm.open(), v)


GENERATOR_DATES = {
    ("synthetic", "start"): lambda v: crm.datasets.synthetic(50, start=v),
    ("synthetic", "end"): lambda v: crm.datasets.synthetic(50, start="2024-01-01", end=v),
    ("sales_team", "end"): _made(lambda db, v: crm.datasets.sales_team(db, end=v, months=3, customers=5)),
    ("distributor", "start"): _made(lambda db, v: crm.datasets.distributor(db, start=v, days=10, customers=5)),
    ("business_calendar", "holidays[1]"): lambda v: crm.service.business_calendar(holidays=["2024-10-01", v]),
    ("business_calendar", "workdays[0]"): lambda v: crm.service.business_calendar(holidays=[], workdays=[v]),
}


@pytest.mark.parametrize("bad", [*BAD.values(), 5], ids=[*BAD.keys(), "a bare number"])
@pytest.mark.parametrize("where, field", GENERATOR_DATES.keys(), ids=[f"{w}.{f}" for w, f in GENERATOR_DATES])
def test_generators_and_holiday_lists_read_dates_as_every_argument_does(where, field, bad):
    """The data generators' start and end and the service calendar's
    holiday lists went to pd.Timestamp / pd.to_datetime unchecked: a bare
    DateParseError, OutOfBoundsDatetime, NaT taken as a day, or 5 read as
    1970-01-01."""
    with pytest.raises(crm.ValidationError) as e:
        GENERATOR_DATES[where, field](bad)
    assert (e.value.kind, e.value.field) == (where, field), str(e.value)


def test_a_holiday_is_the_day_it_names_in_its_own_zone():
    start = pd.Series(pd.to_datetime(["2024-10-01 10:00+08:00"]))
    end = pd.Series(pd.to_datetime(["2024-10-02 10:00+08:00"]))
    from crmcore.scoring._columns import times_ns
    for holiday in ("2024-10-01", pd.Timestamp("2024-10-01 00:00+08:00")):
        cal = crm.service.business_calendar(holidays=[holiday], workdays=[])
        assert cal.hours_between(times_ns(start), times_ns(end)).tolist() == [1.0]  # the 2nd, 9:00 to 10:00
