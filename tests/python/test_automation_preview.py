"""``db.automation.preview`` for every trigger, against expectations worked
out by hand from a short history: the record's values at each moment come
from the audit log, so a record that met the condition then and does not
now (or the other way round) is judged as it was."""
import time

import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

TAG = [{"do": "tag", "add": ["x"]}]


def _mark():
    """A moment between two writes (the audit log's times are the writes' own)."""
    time.sleep(0.002)
    at = pd.Timestamp.now()
    time.sleep(0.002)
    return at


@pytest.fixture()
def history():
    db = crm.open()
    start = _mark()
    a = db.add("customers", name="A", region="East", status="new")
    b = db.add("customers", name="B", region="West", status="new")
    c = db.add("customers", name="C", region="East", status="new")
    t = {"start": start}
    db.update("customers", a, status="vip")      # A: vip while East: meets
    db.update("customers", b, status="vip")      # B: vip but West
    t["a1"] = _mark()
    db.update("customers", c, status="vip")      # C: vip while East: meets, though West now
    t["c"] = _mark()
    db.update("customers", c, region="West")     # not a status change
    db.update("customers", a, status="new")
    t["a_new"] = _mark()
    db.update("customers", a, status="vip")      # A meets again
    db.update("customers", a, status="vip")      # the same value: no change
    t["a2"] = _mark()
    d = db.add("customers", name="D", region="East", status="vip")  # created vip: no change of status
    t["end"] = _mark()
    return db, dict(a=a, b=b, c=c, d=d), t


def _got(p):
    return list(zip(p["record_id"], p["at"]))


def test_changed_rule_is_tried_on_the_audited_changes_as_the_record_was(history):
    db, ids, t = history
    rule = {"on": "changed", "kind": "customers", "field": "status",
            "condition": [("status", "==", "vip"), ("region", "==", "East")], "actions": TAG}
    p = db.automation.preview(rule, t["start"], t["end"])
    # By hand: A at its first vip, C at its vip (East then), A at its second vip.
    assert p["record_id"].tolist() == [ids["a"], ids["c"], ids["a"]]
    assert p["at"].iloc[0] < t["a1"] < p["at"].iloc[1] < t["c"] < t["a_new"] < p["at"].iloc[2] < t["a2"]
    # The window keeps only the changes inside it.
    assert db.automation.preview(rule, t["a1"], t["a_new"])["record_id"].tolist() == [ids["c"]]
    # Judged on today's values instead, C (West now) would be left out: the history decides.
    assert db.get("customers", ids["c"])["region"] == "West"
    # A rule without condition acts on every real change, B's included, A's repeat not.
    every = db.automation.preview({**rule, "condition": None}, t["start"], t["end"])
    assert sorted(every["record_id"].tolist()) == sorted([ids["a"], ids["b"], ids["c"], ids["a"], ids["a"]])
    # Nothing was written by trying.
    assert db.count("tasks") == 0 and all("x" not in tags for tags in db.frame("customers")["tags"])


def test_score_rule_is_tried_on_the_crossings_of_given_scores(history):
    db, ids, t = history
    a, b, c = ids["a"], ids["b"], ids["c"]
    day = pd.Timedelta(days=1)
    now = t["end"]
    scores = pd.DataFrame({"record_id": [a, a, a, a, b, c, c],
                           "at": [now + day, now + 2 * day, now + 3 * day, now + 4 * day, now + day, now + day,
                                  now + 2 * day],
                           "value": [0.6, 0.7, 0.2, 0.9, 0.95, 0.4, 0.5]})
    rule = {"on": "score", "kind": "customers", "field": "churn", "threshold": 0.5,
            "condition": [("region", "==", "East")], "actions": TAG}
    p = db.automation.preview(rule, now, now + 10 * day, scores=scores)
    # By hand: A crosses at +1 (first value) and +4 (from 0.2); B is West; C is West by then.
    assert _got(p) == [(a, now + day), (a, now + 4 * day)]
    # A window that starts after A's first crossing: the value before the window still counts.
    assert _got(db.automation.preview(rule, now + 1.5 * day, now + 10 * day, scores=scores)) == [(a, now + 4 * day)]


def test_score_rule_without_scores_uses_the_values_scored_noted():
    db = crm.open()
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    db.automation.add_rule("risk", on="score", kind="customers", field="churn", threshold=0.5, actions=TAG)
    base = pd.Timestamp.now() + pd.Timedelta(days=1)
    steps = [{a: 0.6, b: 0.1}, {a: 0.3, b: 0.9}, {a: 0.8, b: 0.95}]
    for i, s in enumerate(steps):
        db.automation.scored("churn", pd.Series(s), now=base + pd.Timedelta(days=i))
    p = db.automation.preview({"on": "score", "kind": "customers", "field": "churn", "threshold": 0.5,
                               "actions": TAG}, base, base + pd.Timedelta(days=5))
    # The same threshold: exactly what scored() did (A at 0 and 2, B at 1).
    want = [(a, base), (b, base + pd.Timedelta(days=1)), (a, base + pd.Timedelta(days=2))]
    assert _got(p) == want


def test_schedule_rule_runs_at_the_start_and_every_few_days_on_the_records_then(history):
    db, ids, t = history
    rule = {"on": "schedule", "kind": "customers", "every_days": 7, "condition": [("status", "==", "vip")],
            "actions": TAG}
    start = t["a1"]
    p = db.automation.preview(rule, start, start + pd.Timedelta(days=20))
    week = pd.Timedelta(days=7)
    # By hand: at the start A and B are vip (C not yet, D not created);
    # a week on and after, A, B, C and D are.
    later = [ids["a"], ids["b"], ids["c"], ids["d"]]
    want = [(ids["a"], start), (ids["b"], start)] + [(i, start + week) for i in later] + \
        [(i, start + 2 * week) for i in later]
    assert _got(p) == want


def test_created_rule_is_judged_on_the_values_the_record_was_created_with(history):
    db, ids, t = history
    rule = {"on": "created", "kind": "customers", "condition": [("region", "==", "East")], "actions": TAG}
    p = db.automation.preview(rule, t["start"], t["end"])
    assert p["record_id"].tolist() == [ids["a"], ids["c"], ids["d"]]  # C was East when created


def test_holidays_playbook_greets_on_the_care_calendar_s_festivals_once():
    db = crm.open()
    ann = db.add("customers", name="Ann", kind="person", email="ann@example.com")
    db.add("customers", name="Acme", kind="organization", email="info@acme.example")
    db.automation.install_playbook("holidays")
    # By hand: National Day is 1 October; Mid-Autumn 2025 is 6 October (lunar 8/15).
    first = db.automation.run_due("2025-10-01 09:00")
    assert first["record_id"].tolist() == [ann]
    assert first["occasion"].tolist() == [pd.Timestamp("2025-10-01")]
    assert len(db.automation.run_due("2025-10-01 18:00")) == 0
    assert len(db.automation.run_due("2025-10-05 09:00")) == 0
    assert db.automation.run_due("2025-10-06 09:00")["occasion"].tolist() == [pd.Timestamp("2025-10-06")]
    assert db.automation.outbox()["to_address"].tolist() == ["ann@example.com"] * 2
    # Tried on history: Ann did not exist in 2025 (created today), so nothing then;
    # over the coming year, one greeting on each of the five main festivals.
    assert len(db.automation.preview("care: festival greeting", "2025-09-01", "2025-10-31")) == 0
    now = pd.Timestamp.now()
    p = db.automation.preview("care: festival greeting", now, now + pd.Timedelta(days=365))
    assert len(p) == 5 and set(p["record_id"]) == {ann} and p["at"].is_unique


def test_a_long_missed_run_notes_each_year_s_birthday_and_greets_once():
    db = crm.open()
    li = db.add("contacts", name="Li", email="li@example.com", birthday="1990-03-02")
    db.automation.install_playbook("birthdays")
    assert len(db.automation.run_due("2024-03-01")) == 0
    got = db.automation.run_due("2026-03-05")
    assert got["record_id"].tolist() == [li] * 3
    assert got["occasion"].dt.year.tolist() == [2024, 2025, 2026]
    assert len(db.automation.outbox()) == 1
    assert len(db.automation.run_due("2026-03-06")) == 0
