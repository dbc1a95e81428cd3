"""db.service: the ticket workflow in the write path, SLAs in business hours
(checked minute by minute against chinesecalendar in plain pandas, and by
hand across the 2024 National Day week), caller ID and the timeline."""
import datetime as dt

import chinese_calendar
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from old_store import downgrade
from crmcore.service import business_calendar
from crmcore.scoring._columns import times_ns


# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


@pytest.fixture
def db():
    d = crm.open(":memory:")
    d.cust = d.add("customers", name="Acme", phone="+86 138 0013 8000", owner="Li", tier="gold")
    d.agent = d.add("staff", name="Wang")
    return d


def _events(db):
    return db.frame("ticket_events")


# -- the workflow --------------------------------------------------------------
def test_an_illegal_move_is_refused_with_the_allowed_ones_and_changes_nothing(db):
    t = db.add("tickets", customer_id=db.cust, opened_at="2024-03-01")
    before, events = db.get("tickets", t), len(_events(db))
    with pytest.raises(crm.ValidationError, match="from 'new' to 'closed'.*assigned, in_progress, resolved"):
        db.update("tickets", t, status="closed", resolution="spam")
    assert db.get("tickets", t) == before and len(_events(db)) == events
    with pytest.raises(crm.ValidationError, match="not one of|allowed|choices|status"):
        db.update("tickets", t, status="done")
    with pytest.raises(crm.ValidationError, match="assignee_id"):
        db.update("tickets", t, status="assigned")
    with pytest.raises(crm.ValidationError, match="staff"):
        db.service.assign(t, 999_999)
    assert db.get("tickets", t) == before and len(_events(db)) == events


def test_every_move_leaves_history_and_resolve_reopen_keep_their_fields(db):
    t = db.add("tickets", customer_id=db.cust, opened_at="2024-03-01 08:00")
    db.service.assign(t, db.agent, at="2024-03-01 09:00")
    db.service.move(t, "in_progress", at="2024-03-01 10:00", by=db.agent)
    db.service.move(t, "resolved", reason="fixed", at="2024-03-02 10:00", by=db.agent)
    rec = db.get("tickets", t)
    assert rec["status"] == "resolved" and rec["resolved_at"] == pd.Timestamp("2024-03-02 10:00")
    assert rec["first_response_at"] == pd.Timestamp("2024-03-01 10:00")  # the first move to work
    db.service.move(t, "reopened", reason="came back", at="2024-03-05")
    rec = db.get("tickets", t)
    assert rec["resolved_at"] is None and rec["reopened"] == 1
    db.update("tickets", t, status="resolved", resolved_at="2024-03-06 12:00")  # db.update: same rules
    db.service.move(t, "closed", at="2024-03-07")
    db.service.move(t, "reopened", at="2024-03-08")
    ev = _events(db)
    assert ev.status.tolist() == ["new", "assigned", "in_progress", "resolved", "reopened", "resolved", "closed",
                                  "reopened"]
    assert ev.from_status.tolist()[1:] == ev.status.tolist()[:-1] and pd.isna(ev.from_status.iloc[0])
    assert ev.changed_at.iloc[5] == pd.Timestamp("2024-03-06 12:00")  # the resolution's own time
    assert ev.reason.iloc[3] == "fixed" and ev.by_id.iloc[3] == db.agent
    assert db.get("tickets", t)["reopened"] == 2


def test_imports_and_upserts_go_through_the_same_rules(db):
    frame = pd.DataFrame({"customer_id": db.cust, "opened_at": ["2024-01-01", "2024-01-02"],
                          "status": ["new", "resolved"], "resolved_at": [None, "2024-01-03"],
                          "external_id": ["a", "b"]})
    ids = db.import_frame("tickets", frame)
    ev = _events(db)
    assert ev.ticket_id.tolist() == list(ids) and ev.status.tolist() == ["new", "resolved"]
    assert ev.changed_at.tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-03")]
    bad = pd.DataFrame({"external_id": ["a", "b"], "status": ["in_progress", "in_progress"]})
    with pytest.raises(crm.ValidationError, match="from 'resolved' to 'in_progress'"):
        db.import_frame("tickets", bad, mode="upsert", key="external_id")
    assert db.frame("tickets").status.tolist() == ["new", "resolved"] and len(_events(db)) == 2


def test_a_store_of_version_6_gets_statuses_from_its_ticket_times(tmp_path):
    path = str(tmp_path / "old.crm")
    with crm.open(path) as db:
        done = db.add("tickets", opened_at="2024-01-01", resolved_at="2024-01-02")
        busy = db.add("tickets", opened_at="2024-01-01", first_response_at="2024-01-01 10:00")
        fresh = db.add("tickets", opened_at="2024-01-01")
    downgrade(path, 6)
    with crm.open(path) as db:
        assert db.integrity_check() == "ok"
        assert db.frame("tickets").status.to_dict() == {done: "resolved", busy: "in_progress", fresh: "new"}
        db.service.move(busy, "resolved")
        assert _events(db).status.tolist() == ["resolved"]


# -- business hours and SLAs ---------------------------------------------------
def _reference_hours(start_local: pd.Timestamp, end_local: pd.Timestamp) -> float:
    """Working minutes between two local times, counted one by one in pandas
    with chinesecalendar's is_workday and 9:00-18:00 opening."""
    if end_local <= start_local:
        return 0.0
    minutes = pd.date_range(start_local, end_local, freq="min", inclusive="left")
    days = pd.Series(minutes.normalize()).drop_duplicates()
    working = {d: chinese_calendar.is_workday(d.date()) for d in days}
    open_day = np.array([working[d] for d in minutes.normalize()])
    hour = minutes.hour + minutes.minute / 60
    return float(((hour >= 9) & (hour < 18) & open_day).sum()) / 60


def test_business_hours_match_a_minute_by_minute_count_in_pandas():
    cal = business_calendar()
    rng = np.random.default_rng(7)
    base = pd.Timestamp("2024-09-20")
    starts = [base + pd.Timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 150, 40)]
    ends = [s + pd.Timedelta(minutes=int(m)) for s, m in zip(starts, rng.integers(0, 60 * 24 * 20, 40))]
    got = cal.hours_between(times_ns(pd.Series(starts).dt.tz_localize("Asia/Shanghai")),
                            times_ns(pd.Series(ends).dt.tz_localize("Asia/Shanghai")))
    want = [_reference_hours(s, e) for s, e in zip(starts, ends)]
    np.testing.assert_allclose(got, want, atol=1e-9)
    # The due time is the first minute by which the reference count reaches the target.
    hours = rng.integers(1, 60, 40).astype(float)
    due = pd.Series(cal.add_hours(times_ns(pd.Series(starts).dt.tz_localize("Asia/Shanghai")), hours)
                    .view("datetime64[ns]")).dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    for s, h, d in zip(starts, hours, due):
        assert _reference_hours(s, d) == h and _reference_hours(s, d - pd.Timedelta(minutes=1)) < h


def test_published_holiday_arrangements_are_followed():
    # State Council notices: Spring Festival 2024 off 10-17 Feb, make-up Sun 4 and Sun 18 Feb;
    # National Day 2025 off 1-8 Oct, make-up Sun 28 Sep and Sat 11 Oct.
    cal = business_calendar()
    days = lambda *ds: np.array([(dt.date(*d) - dt.date(1970, 1, 1)).days for d in ds])  # noqa: E731
    assert not cal.is_working_day(days(*[(2024, 2, d) for d in range(10, 18)])).any()
    assert cal.is_working_day(days((2024, 2, 4), (2024, 2, 18), (2024, 2, 19), (2025, 9, 28), (2025, 10, 11))).all()
    assert not cal.is_working_day(days(*[(2025, 10, d) for d in range(1, 9)])).any()


def test_friday_five_pm_before_the_national_day_week_by_hand(db):
    db.service.set_sla("high", 2, 24)
    t = db.add("tickets", customer_id=db.cust, severity="high", opened_at="2024-09-27 17:00+08:00")
    db.service.move(t, "in_progress", at="2024-09-29 09:30+08:00")  # Sunday, a make-up working day
    row = db.service.sla(as_of="2024-10-08 10:00+08:00").loc[t]
    # 1 h on Friday, Saturday off, 1 h on Sunday: first response due Sun 29 Sep 10:00, answered at 9:30.
    assert row.first_response_due == pd.Timestamp("2024-09-29 10:00+08:00").tz_convert(None)
    assert row.first_response_hours == 1.5 and not row.first_response_breached
    # 1 + 9 (Sun) + 9 (Mon) = 19 by Monday's close; 1-7 Oct off; 5 more on Tue 8 Oct -> 14:00.
    assert row.resolution_due == pd.Timestamp("2024-10-08 14:00+08:00").tz_convert(None)
    # At 10:00 on 8 Oct: 20 of 24 h used (more than 80 %), 4 left: at risk, not breached.
    assert row.resolution_hours == 20 and row.remaining_hours == 4 and row.at_risk and not row.breached
    db.service.set_sla("high", 1, 24)  # 1 h: due at Friday's close, 18:00, not at the next opening
    assert db.service.sla(as_of="2024-10-08").loc[t].first_response_due == pd.Timestamp("2024-09-27 10:00")


def test_sla_against_pandas_with_tier_policies(db):
    db.service.set_sla("high", 2, 16)
    db.service.set_sla("high", 1, 8, tier="gold")
    db.service.set_sla("low", 8, 40)
    plain = db.add("customers", name="Plain")
    rng = np.random.default_rng(3)
    opened = pd.Timestamp("2025-01-20 00:00+08:00") + pd.to_timedelta(rng.integers(0, 60 * 24 * 30, 30), "min")
    rows = pd.DataFrame({"customer_id": rng.choice([db.cust, plain], 30), "severity": rng.choice(["high", "low"], 30),
                         "opened_at": opened})
    resolved = opened + pd.to_timedelta(rng.integers(30, 60 * 24 * 12, 30), "min")
    rows["resolved_at"] = np.where(rng.random(30) < 0.5, resolved, pd.NaT)
    rows["status"] = np.where(rows.resolved_at.notna(), "resolved", "new")
    ids = db.import_frame("tickets", rows)
    as_of = pd.Timestamp("2025-02-28 12:00+08:00")
    got = db.service.sla(as_of=as_of).loc[ids]
    local = lambda s: pd.to_datetime(s, utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)  # noqa: E731
    end = local(rows.resolved_at).fillna(as_of.tz_localize(None))
    want_hours = [_reference_hours(s, e) for s, e in zip(local(rows.opened_at), end)]
    target = np.where(rows.severity == "low", 40, np.where(rows.customer_id == db.cust, 8, 16))
    np.testing.assert_allclose(got.resolution_hours, want_hours, atol=1e-9)
    assert (got.resolution_breached.to_numpy() == (np.array(want_hours) > target)).all()
    assert set(db.service.breached(as_of=as_of).index) == set(got.index[got.breached & (rows.status == "new").to_numpy()])


# -- complaints, satisfaction, caller ID, timeline ----------------------------
def test_repeat_complaints_by_hand(db):
    other = db.add("customers", name="B")
    for c, cat, day in [(db.cust, "billing", "2024-03-01"), (db.cust, "billing", "2024-03-20"),
                        (db.cust, "billing", "2024-04-10"), (db.cust, "delivery", "2024-03-02"),
                        (other, "billing", "2024-03-01"), (other, "billing", "2024-05-01")]:
        db.add("tickets", customer_id=c, category=cat, opened_at=day)
    out = db.service.repeat_complaints(within_days=30)
    assert out.index.tolist() == [(db.cust, "billing")] and out.tickets.tolist() == [3]


def test_caller_finds_the_customer_from_any_format_and_through_a_contact(db):
    p1 = db.add("products", sku="A", name="A")
    p2 = db.add("products", sku="B", name="B")
    o1 = db.add("orders", customer_id=db.cust, ordered_at="2024-01-01", amount=10.0)
    o2 = db.add("orders", customer_id=db.cust, ordered_at="2024-02-01", amount=20.0)
    for o, p, price in [(o1, p1, 5.0), (o1, p2, 7.0), (o2, p1, 4.5)]:
        db.add("order_lines", order_id=o, product_id=p, quantity=1.0, unit_price=price)
    db.add("interactions", customer_id=db.cust, channel="call", occurred_at="2024-02-03", summary="late")
    db.add("interactions", customer_id=db.cust, channel="visit", occurred_at="2024-01-03", summary="hi")
    t = db.add("tickets", customer_id=db.cust, opened_at="2024-02-04")
    done = db.add("tickets", customer_id=db.cust, opened_at="2024-02-04", status="resolved")
    for phone in ("13800138000", "+86-138-0013-8000", "(138) 0013 8000"):
        view = db.service.caller(phone)
        assert view.customer["id"] == db.cust
    assert view.open_tickets.index.tolist() == [t] and done not in view.open_tickets.index
    assert view.recent_orders.index.tolist() == [o2, o1] and view.owner == "Li"
    assert view.last_interaction["summary"] == "late"
    assert view.last_prices.unit_price.to_dict() == {p1: 4.5, p2: 7.0}
    person = db.add("contacts", name="Zhao", phone="139 1111 2222")
    db.add("customer_contacts", customer_id=db.cust, contact_id=person)
    assert db.service.caller("13911112222").customer["id"] == db.cust
    assert db.service.caller("100").customer is None


def test_timeline_has_every_kind_in_time_order(db):
    c = db.cust
    camp = db.add("campaigns", name="Spring", started_at="2024-01-05")
    db.add("campaign_members", campaign_id=camp, customer_id=c, responded_at="2024-01-07", response="coupon")
    db.add("orders", customer_id=c, ordered_at="2024-01-10", amount=99.0, status="paid", staff_id=db.agent)
    db.add("payments", customer_id=c, paid_at="2024-01-11", amount=99.0, method="card")
    db.add("interactions", customer_id=c, channel="note", occurred_at="2024-01-02", summary="likes tea")
    deal = db.add("deals", customer_id=c, name="Big", stage="lead", stage_changed_at="2024-01-03")
    db.sales.move(deal, "won", at="2024-01-12", by=db.agent)
    t = db.add("tickets", customer_id=c, subject="broken", opened_at="2024-01-13")
    db.service.move(t, "in_progress", at="2024-01-14", by=db.agent)
    db.add("orders", customer_id=db.add("customers", name="Other"), ordered_at="2024-01-09", amount=1.0)
    tl = db.service.timeline(c)
    assert tl.time.is_monotonic_increasing
    assert tl.kind.tolist() == ["note", "deal_stage", "campaign_touch", "campaign_response", "order", "payment",
                                "deal_stage", "ticket", "ticket_status"]
    assert tl.summary.iloc[-1] == "ticket %d: new → in_progress" % t and tl.who.iloc[-1] == "Wang"
    assert tl.summary.iloc[4] == "order 99.00 (paid)" and tl.who.iloc[4] == "Wang"
    with pytest.raises(crm.NotFound):
        db.service.timeline(123_456)


def test_tickets_written_without_a_status_take_the_one_their_times_say(db):
    rows = pd.DataFrame({"opened_at": ["2024-01-01"] * 3, "first_response_at": [None, "2024-01-02", "2024-01-02"],
                         "resolved_at": [None, None, "2024-01-03"]})
    ids = db.import_frame("tickets", rows)
    t = db.frame("tickets").loc[ids]
    assert t.status.tolist() == ["new", "in_progress", "resolved"]
    assert t.first_response_at.tolist()[1:] == [pd.Timestamp("2024-01-02")] * 2  # kept as written
    assert _events(db).status.tolist() == ["new", "in_progress", "resolved"]
    explicit = db.add("tickets", opened_at="2024-01-01", resolved_at="2024-01-03", status="new")
    assert db.get("tickets", explicit)["status"] == "new"  # a given status stands


def test_price_changes_against_a_loop_over_the_lines(db):
    rng = np.random.default_rng(1)
    other = db.add("customers", name="B")
    products = [db.add("products", sku=s, name=s) for s in "XYZ"]
    for i in range(40):
        o = db.add("orders", customer_id=[db.cust, other][i % 2], ordered_at=pd.Timestamp("2024-01-01") +
                   pd.Timedelta(days=i), amount=1.0)
        for p in rng.choice(products, 2, replace=False):
            db.add("order_lines", order_id=o, product_id=int(p), quantity=1.0,
                   unit_price=float(rng.choice([10.0, 10.5, 12.0, 8.0])))
    got = db.service.price_changes(threshold=0.1)
    orders, lines = db.frame("orders"), db.frame("order_lines")
    last, want = {}, []
    for line_id, row in lines.iterrows():  # lines were written in time order
        key = (orders.customer_id[row.order_id], row.product_id)
        if key in last and abs(row.unit_price / last[key] - 1) > 0.1:
            want.append(line_id)
        last[key] = row.unit_price
    assert sorted(got.index) == sorted(want) and len(want) > 5
    assert set(db.service.price_changes(db.cust).index) == set(got.index[got.customer_id == db.cust])


def test_time_waiting_on_the_customer_pauses_the_resolution_clock_by_hand(db):
    db.service.set_sla("low", 8, 40)
    t = db.add("tickets", customer_id=db.cust, severity="low", opened_at="2024-03-04 09:00+08:00")  # Monday
    db.service.move(t, "in_progress", at="2024-03-04 10:00+08:00")
    db.service.move(t, "waiting", at="2024-03-04 12:00+08:00")
    db.service.move(t, "in_progress", at="2024-03-05 12:00+08:00")  # waited 6 h Monday + 3 h Tuesday
    row = db.service.sla(as_of="2024-03-06 09:00+08:00").loc[t]
    assert row.paused_hours == 9 and row.resolution_hours == 18 - 9
    # 40 + 9 working hours from Monday 9:00: Friday's close is 45, then 4 more -> Monday 11 March 13:00.
    assert row.resolution_due == pd.Timestamp("2024-03-11 13:00+08:00").tz_convert(None)
    plain = db.service.sla(as_of="2024-03-06 09:00+08:00", pause_waiting=False).loc[t]
    assert plain.resolution_hours == 18 and plain.resolution_due == pd.Timestamp("2024-03-08 13:00+08:00").tz_convert(None)
    during = db.service.sla(as_of="2024-03-05 10:00+08:00").loc[t]  # still waiting: 6 + 1 paused of 9 + 1
    assert during.paused_hours == 7 and during.resolution_hours == 3


def test_sla_as_of_a_past_moment_stops_the_clocks_there(db):
    db.service.set_sla("low", 8, 40)
    t = db.add("tickets", customer_id=db.cust, severity="low", opened_at="2024-03-04 09:00+08:00")
    db.service.move(t, "resolved", at="2024-03-06 10:00+08:00")
    later = db.add("tickets", customer_id=db.cust, severity="low", opened_at="2024-03-07 09:00+08:00")
    row = db.service.sla(as_of="2024-03-05 18:00+08:00")
    assert later not in row.index
    assert row.loc[t, "resolution_hours"] == 18 and row.loc[t, "remaining_hours"] == 22  # open then


def test_a_resolution_without_a_first_response_answers_the_ticket(db):
    db.service.set_sla("low", 8, 40)
    t = db.add("tickets", severity="low", opened_at="2024-03-04 09:00+08:00", resolved_at="2024-03-04 12:00+08:00")
    row = db.service.sla(as_of="2024-04-01").loc[t]
    assert row.first_response_hours == 3 and not row.breached and np.isnan(row.remaining_hours)


def test_at_risk_against_a_minute_by_minute_count(db):
    """Tickets opened over the two weeks before as_of against a 40-hour
    target: the open ones that used more than 80 % of it and not all of it
    are at risk (the reference counts working minutes in pandas)."""
    db.service.set_sla("low", 40, 40)
    rng = np.random.default_rng(12)
    n = 60
    as_of = pd.Timestamp("2025-02-28 12:00+08:00")
    opened = as_of - pd.to_timedelta(rng.integers(60, 14 * 24 * 60, n), "min")
    done = rng.random(n) < 0.3
    resolved = pd.Series(opened + ((as_of - opened) / 2).floor("min")).where(done)  # whole minutes, as counted
    ids = db.import_frame("tickets", pd.DataFrame({"customer_id": db.cust, "severity": "low", "opened_at": opened,
                                                   "resolved_at": resolved,
                                                   "status": np.where(done, "resolved", "new")}))
    local = lambda s: pd.to_datetime(s, utc=True).dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)  # noqa: E731
    end = local(resolved).fillna(as_of.tz_convert("Asia/Shanghai").tz_localize(None))
    hours = np.array([_reference_hours(s, e) for s, e in zip(local(pd.Series(opened)), end)])
    want = ~done & (hours > 0.8 * 40) & (hours <= 40)
    got = db.service.sla(as_of=as_of).loc[ids]
    np.testing.assert_allclose(got.resolution_hours, hours, atol=1e-9)
    assert want.sum() >= 3 and (got.at_risk.to_numpy() == want).all()
    listed = db.service.at_risk(as_of=as_of)
    assert sorted(listed.index) == sorted(ids[want]) and listed.remaining_hours.is_monotonic_increasing
    np.testing.assert_allclose(listed.remaining_hours, 40 - got.resolution_hours.loc[listed.index], atol=1e-9)


def test_escalation_counts_levels_and_is_all_or_none(db):
    a = db.add("tickets", customer_id=db.cust, opened_at="2024-03-01")
    b = db.add("tickets", customer_id=db.cust, opened_at="2024-03-01")
    db.service.escalate([a, b], at="2024-03-02 10:00")
    db.service.escalate(a, at="2024-03-03 10:00")
    t = db.frame("tickets", columns=["escalation", "escalated_at"])
    assert t.escalation.loc[[a, b]].tolist() == [2, 1]
    assert t.escalated_at.loc[a] == pd.Timestamp("2024-03-03 10:00")
    with pytest.raises(crm.NotFound):
        db.service.escalate([b, 999_999])
    assert db.get("tickets", b)["escalation"] == 1  # b was not escalated either


def test_satisfaction_against_pandas(db):
    other = db.add("staff", name="Zhao")
    rng = np.random.default_rng(5)
    n = 80
    opened = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 30 * 24, n), "h")
    done = rng.random(n) < 0.7
    db.import_frame("tickets", pd.DataFrame({
        "customer_id": db.cust, "assignee_id": rng.choice([db.agent, other], n), "opened_at": opened,
        "category": rng.choice(["billing", "delivery"], n),
        "resolved_at": pd.Series(opened + pd.Timedelta(days=2)).where(done),
        "status": np.where(done, "resolved", "assigned"),
        "satisfaction": pd.Series(rng.integers(1, 6, n).astype(float)).where(done & (rng.random(n) < 0.6)),
        "reopened": np.where(done & (rng.random(n) < 0.2), 1, 0)}))
    t = db.frame("tickets")
    r = t[t.resolved_at.notna()]
    for by in ("assignee_id", "category"):
        got = db.service.satisfaction(by=by)
        g = r.groupby(by)
        assert got.resolved.tolist() == g.size().tolist() and got.rated.tolist() == g.satisfaction.count().tolist()
        np.testing.assert_allclose(got["mean"], g.satisfaction.mean())
        np.testing.assert_allclose(got["median"], g.satisfaction.median())
        np.testing.assert_allclose(got.reopened_share, (r.reopened > 0).groupby(r[by]).mean())
        np.testing.assert_allclose(got.rating_rate, g.satisfaction.count() / g.size())


def test_one_sla_policy_per_severity_and_tier_on_every_write_path():
    """A second policy for the same pair was stored (by add, an import, or
    set_sla with a blank tier, stored as none), and sla() then failed with
    pandas' "cannot reindex on an axis with duplicate labels"."""
    db = crm.open()
    first = db.service.set_sla("high", 2, 16)
    gold = db.service.set_sla("high", 1, 8, tier="gold")
    for write in (lambda: db.add("sla_policies", severity="high", first_response_hours=3, resolution_hours=4),
                  lambda: db.import_frame("sla_policies", pd.DataFrame({
                      "severity": ["low", "high"], "tier": [None, "gold"], "first_response_hours": [1.0, 1.0],
                      "resolution_hours": [2.0, 2.0]})),
                  lambda: db.update("sla_policies", gold, tier=None)):
        with pytest.raises(crm.ValidationError, match=r"sla_policies.*field 'tier'.*policy \d+ is for high"):
            write()
    assert db.count("sla_policies") == 2
    # set_sla reads a blank tier as none, as the store does: it replaces the one for any tier.
    assert db.service.set_sla("high", 5, 6, tier="  ") == first
    assert db.frame("sla_policies").loc[first, "resolution_hours"] == 6.0
    db.add("tickets", severity="high", opened_at="2024-03-01 09:00+08:00")
    assert len(db.service.sla(as_of="2024-03-02")) == 1


@pytest.mark.parametrize("severity, tier", [(["high"], None), ("high", ["gold"]), (None, None)])
def test_set_sla_names_a_severity_or_tier_that_is_not_one(severity, tier):
    db = crm.open()
    with pytest.raises(crm.ValidationError, match="field '(severity|tier)'"):
        db.service.set_sla(severity, 1, 2, tier=tier)
    assert db.count("sla_policies") == 0
