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
    with pytest.raises(crm.ValidationError, match=r"as_of\b.*outside the dates the store keeps \(1677-09-22 to 2262-04-11\)"):
        _as_of_calls(db)[name](when)


def test_as_of_at_the_edges_of_the_range_is_kept(db):
    assert len(db.sales.aging(as_of="1677-09-22")) == 0
    assert db.sales.aging(as_of=datetime.date(2262, 4, 11)).loc[db.ids("customers")[0], "total"] == 100.0


_BAD_COUNTS = [float("nan"), float("inf"), 2**63, 1.5, True, -1, "7", None]


def _count_calls(db):
    """Every count or span of days an analysis takes: (call, argument name)."""
    c = db.ids("customers")[0]
    return {
        "dso.days": lambda v: db.sales.dso(days=v),
        "renewals_due.within": lambda v: db.sales.renewals_due(within=v),
        "close_chance.horizon": lambda v: db.sales.close_chance(horizon=v),
        "close_chance.snapshots": lambda v: db.sales.close_chance(snapshots=v),
        "close_chance.step": lambda v: db.sales.close_chance(step=v),
        "bookings_forecast.horizon": lambda v: db.sales.bookings_forecast(horizon=v),
        "bookings_forecast.holdout": lambda v: db.sales.bookings_forecast(holdout=v),
        "bookings_forecast.season": lambda v: db.sales.bookings_forecast(season=v),
        "without_next_step.days": lambda v: db.sales.without_next_step(days=v),
        "due_tasks.days": lambda v: db.sales.due_tasks(days=v),
        "campaigns.days": lambda v: db.marketing.campaigns(days=v),
        "attribution.days": lambda v: db.marketing.attribution(days=v),
        "backtest_prospects.days": lambda v: db.marketing.backtest_prospects(days=v),
        "prospects.top": lambda v: db.marketing.prospects(top=v),
        "not_contacted.days": lambda v: db.care.not_contacted(days=v),
        "check_timeline.grace_days": lambda v: db.service.check_timeline(c, grace_days=v),
        "days_of_cover.window": lambda v: db.stock.days_of_cover(window=v),
        "add_program.expiry_days": lambda v: db.members.add_program("p", expiry_days=v),
        "add_rule.every_days": lambda v: db.automation.add_rule("r", on="schedule", kind="customers", actions=[],
                                                                every_days=v),
        "duplicates.max_typos": lambda v: db.duplicates("customers", max_typos=v),
        "repeat_complaints.within_days": lambda v: db.service.repeat_complaints(within_days=v),
        "repeat_complaints.min_tickets": lambda v: db.service.repeat_complaints(min_tickets=v),
        "caller.recent": lambda v: db.service.caller("13800138000", recent=v),
    }


_FRACTION_ALLOWED = {"campaigns.days", "attribution.days", "backtest_prospects.days", "not_contacted.days",
                     "check_timeline.grace_days", "repeat_complaints.within_days"}
_NONE_ALLOWED = {"add_program.expiry_days", "add_rule.every_days"}


@pytest.mark.parametrize("name", [
    "dso.days", "renewals_due.within", "close_chance.horizon", "close_chance.snapshots", "close_chance.step",
    "bookings_forecast.horizon", "bookings_forecast.holdout", "bookings_forecast.season", "without_next_step.days",
    "due_tasks.days", "campaigns.days", "attribution.days", "backtest_prospects.days", "prospects.top",
    "not_contacted.days", "check_timeline.grace_days", "days_of_cover.window", "add_program.expiry_days",
    "add_rule.every_days", "duplicates.max_typos", "repeat_complaints.within_days", "repeat_complaints.min_tickets",
    "caller.recent"])
@pytest.mark.parametrize("bad", _BAD_COUNTS, ids=repr)
def test_counts_and_day_spans_are_checked_by_name(db, name, bad):
    if (bad == 1.5 and name in _FRACTION_ALLOWED) or (bad is None and name in _NONE_ALLOWED):
        return  # a valid value for this argument
    argument = name.split(".")[1]
    with pytest.raises(crm.ValidationError, match=rf"field '{argument}': must be a"):
        _count_calls(db)[name](bad)


def test_whole_floats_pass_as_counts(db):
    assert db.sales.dso(days=90.0).equals(db.sales.dso(days=90))
    assert db.sales.renewals_due(within=np.int64(30)).empty


@pytest.mark.parametrize("mode", ["upsert", "update"])
@pytest.mark.parametrize("key", [["sku", "sku"], ("sku", "name", "sku")], ids=repr)
def test_a_key_naming_a_field_twice_is_refused_and_changes_nothing(mode, key):
    db = crm.open()
    p = db.add("products", sku="A1", name="x")
    rows = pd.DataFrame({"sku": ["A1", "B2"], "name": ["y", "z"]})
    with pytest.raises(crm.ValidationError, match=r"names 'sku' more than once"):
        db.import_frame("products", rows, mode=mode, key=key)
    with pytest.raises(crm.ValidationError, match=r"names 'sku' more than once"):
        db.check_frame("products", rows, mode=mode, key=key)
    assert db.frame("products")[["sku", "name"]].to_dict("records") == [{"sku": "A1", "name": "x"}]
    assert db.get("products", p)["name"] == "x"


@pytest.mark.parametrize("limit", [-1, -5, np.int64(-1)], ids=repr)
def test_audit_log_refuses_a_negative_limit_as_frame_does(limit):
    db = crm.open()
    db.add("customers", name="A")
    with pytest.raises(crm.ValidationError, match=r"field 'limit': must be an integer >= 0"):
        db.audit_log(limit)
    with pytest.raises(ValueError, match="limit"):
        db.frame("customers", limit=limit)


def test_audit_log_limit_none_is_every_entry_as_for_frame():
    db = crm.open()
    for name in "ABC":
        db.add("customers", name=name)
    assert len(db.audit_log(None)) == 3 == len(db.frame("customers", limit=None))
    assert len(db.audit_log(0)) == 0 and len(db.audit_log(2)) == 2


@pytest.mark.parametrize("when", ["0001-01-01", "2262-04-12", "9999-12-31 23:59"])
def test_a_date_text_out_of_range_is_refused_saying_so(when):
    db = crm.open()
    c = db.add("customers", name="A")
    with pytest.raises(crm.ValidationError, match=r"is outside the dates the store keeps \(1677-09-22 to 2262-04-11\)"):
        db.add("orders", customer_id=c, amount=1.0, ordered_at=when)
    assert db.count("orders") == 0


@pytest.mark.parametrize("when", [pd.Timestamp.min, pd.Timestamp.max, np.datetime64(pd.Timestamp.min.value, "ns"),
                                  "1677-09-21 00:12:43"], ids=repr)
def test_every_form_of_a_date_out_of_range_is_refused_like_the_text(when):
    db = crm.open()
    c = db.add("customers", name="A")
    with pytest.raises(crm.ValidationError, match=r"ordered_at.*outside the (dates|times) the store keeps"):
        db.add("orders", customer_id=c, amount=1.0, ordered_at=when)
    o = db.add("orders", customer_id=c, amount=1.0, ordered_at="2024-01-01")
    with pytest.raises(crm.ValidationError, match=r"ordered_at.*outside the (dates|times) the store keeps"):
        db.update("orders", o, ordered_at=when)
    with pytest.raises(crm.ValidationError, match=r"ordered_at.*outside the (dates|times) the store keeps"):
        db.import_frame("orders", pd.DataFrame({"customer_id": [c], "amount": [1.0], "ordered_at": [when]}))
    assert db.frame("orders")["ordered_at"].tolist() == [pd.Timestamp("2024-01-01")]


# Every report that groups by a period of time: room, method, argument.
_PERIOD_ARGS = [("sales", m, "period") for m in ("funnel", "time_in_stage", "win_rate", "cycle_length", "velocity",
                                                 "slipped", "forecast")] + \
    [("partners", m, "period") for m in ("supplier_scorecard", "performance", "statements")] + \
    [("partners", "commissions", "tier_period")]


def _period_calls(db):
    return {f"{method}.{arg}": (lambda v, room=room, method=method, arg=arg:
                                getattr(getattr(db, room), method)(**{arg: v}))
            for room, method, arg in _PERIOD_ARGS}


@pytest.mark.parametrize("name", list(_period_calls(None)))
@pytest.mark.parametrize("bad", ["x", "MS", "", 3, float("nan"), ["M"], None], ids=repr)
def test_a_period_that_is_not_one_is_refused_naming_the_argument(db, name, bad):
    """These were pandas' bare "Invalid frequency" ValueError or "Argument
    'freq' has incorrect type" TypeError (or "unhashable type" for a list),
    some only once there were rows to group."""
    argument = name.split(".")[1]
    if bad is None and argument == "period" and not name.startswith(("supplier_scorecard", "performance",
                                                                     "statements", "forecast")):
        return  # None: no grouping by period
    with pytest.raises(crm.ValidationError, match=rf"field '{argument}': must be a period"):
        _period_calls(db)[name](bad)


@pytest.mark.parametrize("name", list(_period_calls(None)))
def test_period_words_and_pandas_aliases_pass(db, name):
    for good in ("M", "Q", "2M", "W"):
        _period_calls(db)[name](good)
    if name.startswith(("funnel", "time_in_stage")):
        _period_calls(db)[name]("quarter")


# Every date a room takes besides as_of: (room, method, argument, the other arguments it needs).
_DATE_ARGS = [("sales", "agenda", "start", {}), ("sales", "agenda", "end", {"start": "2024-01-01"}),
              ("sales", "reminders", "now", {}), ("sales", "reminders", "since", {"now": "2024-06-01"}),
              ("partners", "commissions", "start", {}), ("partners", "commissions", "end", {}),
              ("partners", "statement", "start", {"partner": 1, "end": "2025-01-01"}),
              ("partners", "statement", "end", {"partner": 1, "start": "2024-01-01"}),
              ("members", "earn", "until", {"program": "club"}),
              ("care", "greetings", "start", {"end": "2024-12-31"}), ("care", "greetings", "end", {"start": "2024-01-01"}),
              ("hierarchy_rollup", None, "since", {}), ("hierarchy_rollup", None, "until", {})]


def _date_call(db, room, method, argument, others):
    fn = getattr(db, room) if method is None else getattr(getattr(db, room), method)
    return lambda v: fn(**{**others, argument: v})


@pytest.fixture(scope="module")
def dated():
    db = crm.open()
    c = db.add("customers", name="Acme")
    rep = db.add("staff", name="Rep")
    db.add("orders", customer_id=c, ordered_at="2024-01-05", amount=10.0)
    db.add("tasks", subject="call", due_at="2024-03-01", remind_at="2024-02-28 09:00", assignee_id=rep)
    db.members.join(db.members.add_program("club"), [c], at="2024-01-01")
    return db


@pytest.mark.parametrize("room, method, argument, others", _DATE_ARGS, ids=lambda v: str(v) if isinstance(v, str) else "")
@pytest.mark.parametrize("bad", ["not a date", [1], float("nan"), "3000-01-01", "1600-01-01"], ids=repr)
def test_every_date_argument_is_checked_as_as_of_is(dated, room, method, argument, others, bad):
    """These went to pd.Timestamp unchecked: a bare DateParseError,
    OutOfBoundsDatetime, TypeError or (NaN) AttributeError, or NaN taken as
    no bound at all."""
    with pytest.raises(crm.ValidationError, match=rf"\b{argument}\b"):
        _date_call(dated, room, method, argument, others)(bad)


@pytest.mark.parametrize("room, method, argument, others", _DATE_ARGS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_a_zoned_date_argument_is_the_same_instant_in_utc(dated, room, method, argument, others):
    """A timezone-aware date is the instant it names (stored times are UTC):
    before, comparing it with the stored times failed (tz-naive vs tz-aware)."""
    if method == "earn":
        return  # it writes: test_earn_until_zoned_is_the_instant_it_names
    call = _date_call(dated, room, method, argument, others)
    late = argument in ("end", "until", "now")
    naive = "2024-12-31 16:00" if late else "2023-12-31 16:00"
    zoned = pd.Timestamp(naive).tz_localize("UTC").tz_convert("Asia/Shanghai")
    a, b = call(naive), call(zoned)
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        pd.testing.assert_series_equal(a, b)


def test_greetings_with_the_end_before_the_start_names_both():
    db = crm.open()
    with pytest.raises(crm.ValidationError, match="greetings.*end 2024-01-01 is before start 2024-02-01"):
        db.care.greetings("2024-02-01", "2024-01-01")


def test_earn_until_zoned_is_the_instant_it_names():
    db = crm.open()
    c = db.add("customers", name="Acme")
    db.add("orders", customer_id=c, ordered_at="2024-01-05", amount=10.0)
    club = db.members.add_program("club")
    db.members.join(club, [c], at="2024-01-01")
    # 07:00 at UTC+8 is 23:00 the day before in UTC: before the order.
    assert db.members.earn(club, until=pd.Timestamp("2024-01-05 07:00", tz="Asia/Shanghai")).empty
    assert db.members.earn(club, until=pd.Timestamp("2024-01-05 09:00", tz="Asia/Shanghai")).tolist() == [10.0]


# Shares, thresholds and weights the rooms take: (room, method, argument, whether above 1 is allowed).
_NUMBER_ARGS = [("service", "sla", "at_risk", False), ("service", "at_risk", "share", False),
                ("service", "price_changes", "threshold", True), ("service", "check_timeline", "threshold", True),
                ("care", "call_list", "min_risk", False), ("sales", "forecast", "commit", False),
                ("sales", "forecast", "best_case", False), ("sales", "close_chance", "prior", True),
                ("marketing", "prospects", "decay", False)]


@pytest.mark.parametrize("room, method, argument, above_one", _NUMBER_ARGS,
                         ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5, 1.5, "x", [0.5], True, None], ids=repr)
def test_shares_and_thresholds_are_checked_by_name(db, room, method, argument, above_one, bad):
    """NaN was taken silently (every comparison false: an empty list, no
    commit); text or a list failed inside pandas ("Invalid comparison",
    "Lengths must match") or pybind11 ("incompatible function arguments")."""
    if bad == 1.5 and above_one:
        return  # a valid value for this argument
    with pytest.raises(crm.ValidationError, match=rf"field '{argument}': must be a number"):
        getattr(getattr(db, room), method)(**{argument: bad})


@pytest.mark.parametrize("call, argument", [
    (lambda db, v: db.service.satisfaction(by=v), "by"),
    (lambda db, v: db.sales.aging(by=v), "by"),
    (lambda db, v: db.sales.dso(by=v), "by"),
    (lambda db, v: db.service.sla(calendar=v), "calendar"),
    (lambda db, v: db.service.breached(calendar=v), "calendar"),
    (lambda db, v: db.service.at_risk(calendar=v), "calendar"),
])
@pytest.mark.parametrize("bad", ["nope", ["customer"], 5, float("nan")], ids=repr)
def test_groupings_and_calendars_that_are_not_one_are_refused_by_name(db, call, argument, bad):
    """These were a bare KeyError (satisfaction's by), "unhashable type:
    'list'" (aging, dso) or an AttributeError of the calendar."""
    with pytest.raises(crm.ValidationError, match=rf"field '{argument}'"):
        call(db, bad)


_BARE_NUMBERS = [5, 1_700_000_000, 1.7e12, True, np.int64(5), np.float64(5.0), np.bool_(False)]


@pytest.mark.parametrize("bad", _BARE_NUMBERS, ids=repr)
def test_a_bare_number_is_no_date_for_as_of(db, bad):
    """pandas reads 5 as 1970-01-01 plus 5 nanoseconds (epoch seconds as
    nanoseconds: a known defect class); a stored time refuses a number, and
    so does every date argument, saying what to give instead."""
    tx = pd.DataFrame({"customer": [1], "date": pd.to_datetime(["2024-01-01"]), "amount": [1.0]})
    calls = {**_as_of_calls(db), "graph": lambda a: db.graph(as_of=a),
             "scoring.rfm": lambda a: crm.scoring.rfm(tx, "customer", "date", "amount", as_of=a)}
    for name, call in calls.items():
        with pytest.raises(crm.ValidationError, match=r"as_of.*bare number.*pd\.Timestamp"):
            call(bad)


@pytest.mark.parametrize("room, method, argument, others", _DATE_ARGS, ids=lambda v: str(v) if isinstance(v, str) else "")
@pytest.mark.parametrize("bad", _BARE_NUMBERS[:4], ids=repr)
def test_a_bare_number_is_no_date_for_any_date_argument(dated, room, method, argument, others, bad):
    with pytest.raises(crm.ValidationError, match=rf"\b{argument}\b.*bare number"):
        _date_call(dated, room, method, argument, others)(bad)


def test_a_bad_as_of_names_the_function_and_the_argument(db):
    """Every as_of refusal names the function (``kind``) and the argument
    (``field``), as the newer date arguments' did: the older callers named
    only the argument, which does not say which call of a notebook cell
    was wrong."""
    tx = pd.DataFrame({"customer": [1], "date": pd.to_datetime(["2024-01-01"]), "amount": [1.0]})
    program = db.members.add_program("edges club")
    calls = {**_as_of_calls(db), "graph": lambda a: db.graph(as_of=a),
             "lifetime_value": lambda a: db.lifetime_value(as_of=a),
             "profit_tiers": lambda a: db.profit_tiers(as_of=a),
             "deal_summary": lambda a: db.deal_summary(as_of=a),
             "funnel": lambda a: db.sales.funnel(as_of=a), "velocity": lambda a: db.sales.velocity(as_of=a),
             "on_hand": lambda a: db.stock.on_hand(as_of=a),
             "balances": lambda a: db.members.balances(program, as_of=a),
             "referrals": lambda a: db.referrals(as_of=a),
             "scoring.rfm": lambda a: crm.scoring.rfm(tx, "customer", "date", "amount", as_of=a),
             "scoring.lifecycle": lambda a: crm.scoring.lifecycle(tx, "customer", "date", "amount", as_of=a),
             "scoring.profit_by_period": lambda a: crm.scoring.profit_by_period(tx, "customer", "date", "amount",
                                                                                "amount", as_of=a),
             "scoring.churn_risk": lambda a: crm.scoring.churn_risk(tx, "customer", "date", as_of=a),
             "scoring.loyalty": lambda a: crm.scoring.loyalty(tx, "customer", "date", as_of=a)}
    for name, call in calls.items():
        with pytest.raises(crm.ValidationError) as e:
            call("soon")
        assert (e.value.kind, e.value.field) == (name.split(".")[-1], "as_of"), name


def _setting_calls(db):
    """Every numeric setting a room's configuration call writes: (function,
    argument) -> (call, the kind it writes)."""
    c = db.ids("customers")[0]
    product = db.add("products", name="edge widget", sku="EDGE-1")
    location = db.add("locations", name="edge store")
    supplier = db.add("customers", name="edge supplier", kind="organization", is_supplier=True)
    po = db.add("purchase_orders", supplier_id=supplier, location_id=location, ordered_at="2024-01-01")
    line = db.add("purchase_lines", purchase_order_id=po, product_id=product, quantity=5.0, unit_cost=2.0)
    program = db.members.add_program("edge settings club")
    member = int(db.members.join(program, [c], at="2024-01-01")[0])
    return {
        ("add_program", "points_per_unit"): (lambda v: db.members.add_program("p", points_per_unit=v),
                                             "membership_programs"),
        ("add_program", "tiers[0].min_points"): (lambda v: db.members.add_program("t", tiers=[
            {"name": "gold", "min_points": v}]), "membership_programs"),
        ("add_program", "tiers[1].min_spend"): (lambda v: db.members.add_program("s", tiers=[
            {"name": "silver", "min_points": 0}, {"name": "gold", "min_spend": v}]), "membership_programs"),
        ("add_program", "tiers[0].window_days"): (lambda v: db.members.add_program("w", tiers=[
            {"name": "gold", "min_spend": 10, "window_days": v}]), "membership_programs"),
        ("set_sla", "first_response_hours"): (lambda v: db.service.set_sla("high", v, 8), "sla_policies"),
        ("set_sla", "resolution_hours"): (lambda v: db.service.set_sla("high", 1, v), "sla_policies"),
        ("business_calendar", "utc_offset"): (lambda v: crm.service.business_calendar(utc_offset=v), None),
        ("redeem", "points"): (lambda v: db.members.redeem(member, v), "points_ledger"),
        ("receive", "unit_cost"): (lambda v: db.stock.receive(line, 1.0, unit_cost=v), "stock_movements"),
        ("adjust", "unit_cost"): (lambda v: db.stock.adjust(product, location, 2.0, "count", unit_cost=v),
                                  "stock_movements"),
        ("add_rule", "threshold"): (lambda v: db.automation.add_rule(
            "edge", on="score", kind="customers", field="churn_risk", threshold=v,
            actions=[{"do": "tag", "add": ["x"]}]), "automation_rules"),
    }


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float64("nan")], ids=repr)
def test_a_setting_that_is_nan_or_infinite_is_refused_by_name(bad):
    """NaN given to a room's configuration call was stored as missing and
    its default used (points_per_unit=NaN earned 1 point per unit): every
    numeric setting refuses NaN and infinities naming the function and the
    argument, and writes nothing."""
    db = crm.open()
    db.add("customers", name="Acme")
    for (where, field), (call, kind) in _setting_calls(db).items():
        before = None if kind is None else len(db.frame(kind))
        with pytest.raises(crm.ValidationError) as e:
            call(bad)
        assert (e.value.kind, e.value.field) == (where, field), (where, field, str(e.value))
        assert kind is None or len(db.frame(kind)) == before, (where, field)
