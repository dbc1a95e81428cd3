"""Arguments at the edges of what the store can hold: a date beyond the
times the store keeps, a day span or count that is NaN, infinite, a
boolean, fractional or too large. Each is refused with a ValidationError
naming the argument (and, for dates, the range), never a bare pandas
OutOfBoundsDatetime / OutOfBoundsTimedelta, a ValueError from int(nan), or
pybind11's "incompatible function arguments"."""
import datetime

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

_FAR_DATES = ["0001-01-01", datetime.date(1, 1, 1), datetime.datetime(9999, 12, 31),
              np.datetime64("0001-01-01"), pd.Timestamp("1600-01-01"), "1677-09-21"]


@pytest.fixture(scope="module")
def db():
    db = crm.open()
    c = db.add("customers", name="Acme")
    db.add("invoices", customer_id=c, amount=100.0, issued_at="2024-01-01", due_at="2024-01-31")
    db.add("orders", customer_id=c, ordered_at="2024-01-05", amount=10.0)
    return db


def _as_of_calls(db):
    """Every kind of analysis that takes ``as_of`` (sales, service,
    marketing, scoring, stock, members, care, similarity)."""
    return {
        "sales.aging": lambda a: db.sales.aging(as_of=a),
        "sales.dso": lambda a: db.sales.dso(as_of=a),
        "sales.renewals_due": lambda a: db.sales.renewals_due(as_of=a),
        "sales.open_invoices": lambda a: db.sales.open_invoices(as_of=a),
        "sales.forecast": lambda a: db.sales.forecast(as_of=a),
        "service.sla": lambda a: db.service.sla(as_of=a),
        "marketing.campaigns": lambda a: db.marketing.campaigns(as_of=a),
        "marketing.portrait": lambda a: db.marketing.portrait(as_of=a),
        "rfm": lambda a: db.rfm(as_of=a),
        "churn_risk": lambda a: db.churn_risk(as_of=a),
        "stock.days_of_cover": lambda a: db.stock.days_of_cover(as_of=a),
        "care.not_contacted": lambda a: db.care.not_contacted(as_of=a),
        "similar_customers": lambda a: db.similar_customers(db.ids("customers")[0], as_of=a),
    }


@pytest.mark.parametrize("name", list(_as_of_calls(None)))
@pytest.mark.parametrize("when", _FAR_DATES, ids=repr)
def test_as_of_beyond_the_stored_times_is_refused_with_the_range(db, name, when):
    with pytest.raises(crm.ValidationError, match=r"as_of .*outside the dates the store keeps \(1677-09-22 to 2262-04-11\)"):
        _as_of_calls(db)[name](when)


def test_as_of_at_the_edges_of_the_range_is_kept(db):
    assert len(db.sales.aging(as_of="1677-09-22")) == 0
    assert db.sales.aging(as_of=datetime.date(2262, 4, 11)).loc[db.ids("customers")[0], "total"] == 100.0
