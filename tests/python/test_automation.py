"""Automation rules (db.automation): checked against a plain pandas
re-evaluation of the same rules over the same records, and by hand-made cases."""
import json

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import cli

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


def _shop(db, n_orders=300, seed=7):
    rng = np.random.default_rng(seed)
    staff = [db.add("staff", name=f"rep {i}") for i in range(3)]
    customers = db.import_frame("customers", pd.DataFrame({
        "name": [f"c{i}" for i in range(40)], "email": [f"c{i}@example.com" if i % 5 else None for i in range(40)],
        "region": rng.choice(["East", "West", "North"], 40)}))
    orders = pd.DataFrame({
        "customer_id": rng.choice(customers, n_orders), "ordered_at": pd.Timestamp("2025-01-01")
        + pd.to_timedelta(rng.integers(0, 300, n_orders), unit="D"),
        "amount": rng.integers(1, 2000, n_orders).astype(float), "channel": rng.choice(["web", "store", "phone"], n_orders),
        "staff_id": rng.choice(staff + [None], n_orders)})
    return staff, customers, orders


def test_import_runs_created_rules_in_bulk_as_pandas_says(tmp_path):
    db = crm.open(tmp_path / "a.crm")
    staff, customers, orders = _shop(db)
    big = db.automation.add_rule("big web", on="created", kind="orders",
                                 condition=[("amount", ">=", 1000), ("channel", "==", "web")],
                                 actions=[{"do": "tag", "add": ["big"]},
                                          {"do": "task", "subject": "Thank {channel} buyer", "due_days": 2}])
    either = db.automation.add_rule("store or phone", on="created", kind="orders",
                                    condition=[[("channel", "==", "store")], [("amount", "<", 50)]],
                                    actions=[{"do": "message", "subject": "Thanks", "body": "order of {amount}"}])
    ids = db.import_frame("orders", orders)

    # The reference: the same conditions, evaluated by pandas on the rows imported.
    ref = orders.assign(id=ids)
    want_big = ref[(ref["amount"] >= 1000) & (ref["channel"] == "web")]
    want_msg = ref[(ref["channel"] == "store") | (ref["amount"] < 50)]
    got = db.frame("orders")
    tagged = got.index[got["tags"].map(lambda t: "big" in t)]
    assert sorted(tagged) == sorted(want_big["id"])
    tasks = db.frame("tasks")
    assert len(tasks) == len(want_big)
    # Each task is about the order's customer, for its owner (staff_id).
    by_customer = want_big.sort_values("id")
    assert tasks["customer_id"].tolist() == by_customer["customer_id"].tolist()
    assert tasks["assignee_id"].astype("Float64").tolist() == pd.Series(
        by_customer["staff_id"].tolist(), dtype="Float64").tolist()
    assert set(tasks["subject"]) == {"Thank web buyer"}
    box = db.automation.outbox().sort_values("record_id")
    assert box["record_id"].tolist() == sorted(want_msg["id"])
    emails = db.frame("customers")["email"]
    want_to = emails.reindex(want_msg.sort_values("id")["customer_id"]).tolist()
    assert box["to_address"].tolist() == want_to
    assert (box["status"] == np.where(pd.isna(want_to), "failed", "queued")).all()
    assert box["body"].tolist()[0].startswith("order of ")
    # Every action's audit entry names its rule.
    log = db.audit_log(1000)
    assert set(log.loc[log["kind"] == "tasks", "cause_id"]) == {big}
    assert set(log.loc[log["kind"] == "outbox", "cause_id"]) == {either}
    # The tags landed with the insert: no update per order, and the import's
    # one entry names the rule, the orders it tagged and each one's tags.
    assert log[(log["kind"] == "orders") & (log["op"] == "update")].empty
    entry = log[(log["kind"] == "orders") & (log["op"] == "insert")].iloc[0]
    assert entry["changes"]["rules"] == {str(big): {"ids": sorted(want_big["id"]), "fields": [],
                                                     "tags_added": ["big"], "tags_removed": []}}
    # (tags as the file stores them, as an update's entry shows them)
    assert entry["changes"]["records"] == {str(i): {"tags": [None, "\x1fbig"]} for i in want_big["id"]}
    assert db.audit_check().empty


def test_changed_rule_fires_on_a_real_change_only():
    db = crm.open()
    c = db.add("customers", name="Acme", status="active")
    db.automation.add_rule("vip", on="changed", kind="customers", field="status",
                           condition=[("status", "==", "vip")], actions=[{"do": "tag", "add": ["vip"]},
                                                                         {"do": "set", "field": "source", "value": "vip desk"}])
    db.update("customers", c, region="East")  # another field: nothing
    assert db.get("customers", c)["tags"] == []
    db.update("customers", c, status="vip")
    rec = db.get("customers", c)
    assert rec["tags"] == ["vip"] and rec["source"] == "vip desk"
    db.update("customers", c, source=None, tags=[])
    db.update("customers", c, status="vip")  # the same value: no change, no action
    assert db.get("customers", c)["tags"] == []
    # A bulk update (import mode=update) is a change too.
    d = db.add("customers", name="Beta")
    db.import_frame("customers", pd.DataFrame({"id": [c, d], "status": ["x", "vip"]}), mode="update", key="id")
    assert db.get("customers", d)["tags"] == ["vip"] and db.get("customers", c)["tags"] == []


def test_rule_that_triggers_itself_is_stopped_and_the_write_undone():
    db = crm.open()
    c = db.add("customers", name="Acme")
    db.automation.add_rule("loop", on="created", kind="tasks", actions=[{"do": "task", "subject": "again"}])
    before = db.counts()
    with pytest.raises(crm.ValidationError, match="set each other off 8 times.*'loop'"):
        db.add("tasks", subject="first", customer_id=c)
    assert db.counts().equals(before)
    # Two rules feeding each other are stopped the same way.
    db.automation.enable("loop", False)
    db.automation.add_rule("ping", on="changed", kind="customers", field="status", condition=[("status", "==", "a")],
                           actions=[{"do": "set", "field": "status", "value": "b"}])
    db.automation.add_rule("pong", on="changed", kind="customers", field="status", condition=[("status", "==", "b")],
                           actions=[{"do": "set", "field": "status", "value": "a"}])
    with pytest.raises(crm.ValidationError, match="'ping', 'pong'|'pong', 'ping'|'ping'|'pong'"):
        db.update("customers", c, status="a")
    assert db.get("customers", c)["status"] is None


@pytest.mark.parametrize("rule, field, reason", [
    (dict(condition=[("nope", "==", 1)]), "condition", "not a field of orders"),
    (dict(kind="widgets"), "record_kind", "no record kind 'widgets'"),
    (dict(actions=[{"do": "set", "field": "colour", "value": 1}]), "actions", "'colour' is not a field of orders"),
    (dict(actions=[{"do": "launch"}]), "actions", "one of task, tag"),
    (dict(actions=[{"do": "task", "subject": "for {nobody}"}]), "actions", "{nobody}"),
    (dict(on="changed"), "field", "names the field"),
    (dict(kind="automation_runs"), "record_kind", "do not act on"),
    # Found only when acting, these would undo every import of orders (or earn nothing):
    (dict(actions=[{"do": "set", "field": "amount", "value": "abc"}]), "actions", "orders.amount"),
    (dict(actions=[{"do": "set", "field": "ordered_at", "value": "not a date"}]), "actions", "orders.ordered_at"),
    (dict(actions=[{"do": "assign", "to": 999}]), "actions", "staff, which has no record 999"),
    (dict(actions=[{"do": "points", "program": "nowhere"}]), "actions", "no membership programme 'nowhere'"),
    (dict(on="score", kind="customers", field="churn"), "threshold", "names the threshold"),
    # Texts and tags an action writes, checked as the records they land in
    # check them: else every write that sets the rule off is refused, or a
    # list, number or null is kept as its JSON spelling, a due date dropped.
    (dict(actions=[{"do": "tag", "add": [["x", "y"]]}]), "actions", "each tag in \"add\" is a text"),
    (dict(actions=[{"do": "tag", "add": ["ok", 5]}]), "actions", "is a text, not 5"),
    (dict(actions=[{"do": "tag", "add": [None]}]), "actions", "is a text, not null"),
    (dict(actions=[{"do": "tag", "remove": [{"a": 1}]}]), "actions", "each tag in \"remove\" is a text"),
    (dict(actions=[{"do": "tag", "add": ["a\x00b"]}]), "actions", "NUL byte"),
    (dict(actions=[{"do": "tag", "add": ["line\nbreak"]}]), "actions", "control character"),
    (dict(actions=[{"do": "tag", "add": "x\x1fy"}]), "actions", "control character"),
    (dict(actions=[{"do": "task", "subject": "a\x00b"}]), "actions", "NUL byte"),
    (dict(actions=[{"do": "task", "subject": 5}]), "actions", "\"subject\" is a text, not 5"),
    (dict(actions=[{"do": "message", "subject": "hi", "body": "x\x00"}]), "actions", "\"body\" 'x\\x00' holds a NUL"),
    (dict(actions=[{"do": "message", "subject": ["hi"], "body": "x"}]), "actions", "is a text, not [\"hi\"]"),
    (dict(actions=[{"do": "task", "subject": "s", "due_days": "3"}]), "actions", "due_days"),
    (dict(actions=[{"do": "task", "subject": "s", "due_days": True}]), "actions", "due_days"),
    (dict(actions=[{"do": "task", "subject": "s", "due_days": 1e6}]), "actions", "due_days"),
    (dict(actions=[{"do": "task", "subject": "s", "due_days": -36526}]), "actions", "due_days"),
    (dict(actions=[{"do": "task", "subject": "s", "due_days": 2**63}]), "actions", "due_days"),
])
def test_bad_rules_are_refused_and_nothing_is_written(rule, field, reason):
    db = crm.open()
    args = dict(name="r", on="created", kind="orders", actions=[{"do": "tag", "add": ["x"]}])
    args.update(rule)
    with pytest.raises(crm.ValidationError) as e:
        db.automation.add_rule(**args)
    assert e.value.field == field and reason in str(e.value)
    assert db.count("automation_rules") == 0


def test_a_failing_action_undoes_the_write_that_set_it_off():
    db = crm.open()
    c = db.add("customers", name="Acme")
    rep = db.add("staff", name="rep")
    db.automation.add_rule("to the rep", on="created", kind="orders", actions=[{"do": "assign", "to": rep}])
    db.delete("staff", rep)  # the rule was good when written; its staff record went since
    with pytest.raises(crm.ValidationError, match="staff_id"):
        db.add("orders", customer_id=c, ordered_at="2025-01-01", amount=5.0)
    with pytest.raises(crm.ValidationError, match="staff_id"):
        db.import_frame("orders", pd.DataFrame({"customer_id": [c, c], "ordered_at": "2025-01-01", "amount": 5.0}))
    assert db.count("orders") == 0


def test_a_rule_whose_staff_record_went_can_be_switched_off_but_not_on():
    db = crm.open()
    rep = db.add("staff", name="rep")
    db.automation.add_rule("to the rep", on="created", kind="orders", actions=[{"do": "assign", "to": rep}])
    db.delete("staff", rep)
    db.automation.enable("to the rep", active=False)
    c = db.add("customers", name="Acme")
    db.add("orders", customer_id=c, ordered_at="2025-01-01", amount=5.0)  # the rule is off: nothing fails
    with pytest.raises(crm.ValidationError, match="no record"):
        db.automation.enable("to the rep")
    assert db.automation.rules()["active"].tolist() == [False]


def test_dry_run_leaves_no_action_behind():
    db = crm.open()
    c = db.add("customers", name="Acme")
    db.automation.add_rule("t", on="created", kind="orders", actions=[{"do": "task", "subject": "x"}])
    db.check_frame("orders", pd.DataFrame({"customer_id": [c], "ordered_at": ["2025-01-01"], "amount": [3.0]}))
    assert db.count("tasks") == 0 and db.count("orders") == 0


def test_playbook_action_starts_the_playbooks_rules():
    db = crm.open()
    # The steps first: a rule starting a playbook with none is refused.
    db.automation.add_rule("step 1", on="playbook", kind="customers", playbook="onboarding",
                           actions=[{"do": "tag", "add": ["onboarding"]}])
    db.automation.add_rule("step 2", on="playbook", kind="customers", playbook="onboarding",
                           condition=[("email", "not null")], actions=[{"do": "message", "subject": "Hi {name}"}])
    db.automation.add_rule("start", on="created", kind="customers", condition=[("region", "==", "East")],
                           actions=[{"do": "playbook", "name": "onboarding"}])
    ids = db.import_frame("customers", pd.DataFrame({"name": ["a", "b", "c"], "region": ["East", "West", "East"],
                                                     "email": ["a@x.org", "b@x.org", None]}))
    tags = db.frame("customers")["tags"]
    assert [("onboarding" in t) for t in tags] == [True, False, True]
    assert db.automation.outbox()["to_address"].tolist() == ["a@x.org"]
    assert db.automation.outbox()["subject"].tolist() == ["Hi a"]
    assert ids[0] in db.automation.outbox()["record_id"].tolist()


def test_birthdays_run_once_per_year_and_the_cli_runs_them(tmp_path):
    path = tmp_path / "b.crm"
    db = crm.open(path)
    born = {"Li": "1990-03-02", "Leap": "1992-02-29", "Wang": "1985-07-09"}
    ids = {n: db.add("contacts", name=n, email=f"{n}@x.org", birthday=d) for n, d in born.items()}
    db.automation.install_playbook("birthdays")
    assert len(db.automation.run_due("2025-02-27 08:00")) == 0  # the first run looks back one day only
    # The next covers the time since: 28 February stands for the 29th in 2025.
    first = db.automation.run_due("2025-03-02 08:00")
    assert sorted(first["record_id"]) == sorted([ids["Li"], ids["Leap"]])
    assert sorted(first["occasion"].dt.strftime("%m-%d")) == ["02-28", "03-02"]
    assert len(db.automation.run_due("2025-03-02 09:00")) == 0
    db.close()
    assert cli.main(["run-due", str(path), "--now", "2025-07-09 10:00", "--json"]) == 0
    db = crm.open(path)
    box = db.automation.outbox()
    assert sorted(box["subject"]) == ["Happy birthday, Leap!", "Happy birthday, Li!", "Happy birthday, Wang!"]
    # Run again for the same moment: nothing twice.
    assert len(db.automation.run_due("2025-07-09 10:00")) == 0
    # Next year's: the leap-day birthday falls on 28 February of 2026.
    got = db.automation.run_due("2026-03-03 00:00")
    assert sorted(got["record_id"]) == sorted([ids["Leap"], ids["Li"]])
    assert sorted(got["occasion"].dt.strftime("%m-%d")) == ["02-28", "03-02"]


def test_cli_run_due_with_a_time_it_cannot_read_says_so(tmp_path, capsys):
    # A ValidationError raised in Python (no row or field on it) crashed the
    # command line's error report with an AttributeError and a traceback.
    path = tmp_path / "c.crm"
    crm.open(path).close()
    assert cli.main(["run-due", str(path), "--now", "yesterday", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and "'yesterday' is not a date" in report["error"]


def test_date_rule_with_offset_and_schedule():
    db = crm.open()
    c = db.add("customers", name="Acme")
    t1 = db.add("tasks", subject="call", due_at="2025-05-10", customer_id=c)
    db.add("tasks", subject="done", due_at="2025-05-10", customer_id=c, done=True)
    db.automation.add_rule("overdue", on="date", kind="tasks", field="due_at", offset_days=1,
                           condition=[[("done", "is null")], [("done", "==", False)]],
                           actions=[{"do": "tag", "add": ["overdue"]}])
    db.update("automation_rules", db.automation.rule("overdue"), last_run_at="2025-05-01")
    got = db.automation.run_due("2025-05-12")
    assert got["record_id"].tolist() == [t1]
    db.automation.add_rule("weekly", on="schedule", kind="customers", every_days=7,
                           actions=[{"do": "tag", "add": ["reviewed"]}])
    assert len(db.automation.run_due("2025-05-12")) == 1
    assert len(db.automation.run_due("2025-05-15")) == 0
    assert len(db.automation.run_due("2025-05-19")) == 1


def test_score_rules_fire_on_crossing_upward():
    db = crm.open()
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    rule = db.automation.add_rule("risk", on="score", kind="customers", field="churn", threshold=0.5,
                                  actions=[{"do": "task", "subject": "Call {name}"}])
    steps = [{a: 0.6, b: 0.1}, {a: 0.7, b: 0.2}, {a: 0.3, b: 0.9}, {a: 0.8, b: 0.95}]
    fired = [sorted(db.automation.scored("churn", pd.Series(s))["record_id"]) for s in steps]
    # Plain re-evaluation: fire when the value is at or above and the last one was below (or none).
    want, last = [], {}
    for s in steps:
        want.append(sorted(k for k, v in s.items() if v >= 0.5 and not last.get(k, 0) >= 0.5))
        last.update(s)
    assert fired == want == [[a], [], [b], [a]]
    assert db.frame("tasks")["subject"].tolist() == ["Call A", "Call B", "Call A"]
    assert set(db.audit_log(100).query("kind == 'tasks'")["cause_id"]) == {rule}


def test_preview_tries_a_rule_on_history_without_writing():
    db = crm.open()
    _, customers, orders = _shop(db, n_orders=80)
    ids = db.import_frame("orders", orders)
    counts = db.counts()
    rule = {"name": "big", "on": "created", "kind": "orders", "condition": [("amount", ">", 1500)],
            "actions": [{"do": "tag", "add": ["big"]}]}
    p = db.automation.preview(rule, pd.Timestamp.now() - pd.Timedelta(hours=1), pd.Timestamp.now())
    assert sorted(p["record_id"]) == sorted(ids[orders["amount"].to_numpy() > 1500])
    assert db.counts().equals(counts)
    deal = db.add("deals", customer_id=int(customers[0]), stage="lead")
    db.sales.move(deal, "won", at="2025-02-01")
    p = db.automation.preview({"on": "changed", "kind": "deals", "field": "stage", "condition": [("stage", "==", "won")],
                               "actions": [{"do": "tag", "add": ["w"]}]}, "2025-01-01", "2025-03-01")
    assert p["record_id"].tolist() == [deal]


def test_lifecycle_playbooks_act_on_stage_changes():
    db = crm.open()
    c_new, c_loyal, c_gone = (db.add("customers", name=n, email=f"{n}@x.org") for n in ("new", "loyal", "gone"))
    orders = [(c_new, "2025-06-01")] + [(c_loyal, f"2024-{m:02d}-01") for m in (1, 4, 7, 10)] + \
        [(c_loyal, "2025-05-20"), (c_gone, "2023-01-05")]
    db.import_frame("orders", pd.DataFrame({"customer_id": [o[0] for o in orders],
                                            "ordered_at": [o[1] for o in orders], "amount": 10.0}))
    for name in ("welcome", "loyal care", "win-back"):
        db.automation.install_playbook(name)
    stages = db.automation.apply_lifecycle(as_of="2025-06-10")
    tags = db.frame("customers")["tags"]
    for cid, tag in ((c_new, "new customer"), (c_loyal, "loyal"), (c_gone, "win-back")):
        assert (tag in tags[cid]) == (stages[cid] in {"new customer": ["new"], "loyal": ["loyal"],
                                                     "win-back": ["at risk", "churned"]}[tag])
    assert stages[c_new] == "new" and stages[c_loyal] == "loyal" and stages[c_gone] == "churned"
    subjects = set(db.frame("tasks")["subject"])
    assert "Welcome call to new" in subjects and any(s.startswith("Call gone") for s in subjects)
    # Applying the same stages again changes nothing, so nothing acts again.
    n_tasks = db.count("tasks")
    db.automation.apply_lifecycle(as_of="2025-06-10")
    assert db.count("tasks") == n_tasks
    # The follow-up comes 14 days after the new customer was created.
    created = db.get("customers", c_new)["created_at"]
    db.update("automation_rules", db.automation.rule("welcome: follow up"), last_run_at=created)
    got = db.automation.run_due(created + pd.Timedelta(days=15))
    assert got["record_id"].tolist() == [c_new]


def test_assign_set_and_tag_removal_act_as_pandas_says_and_name_their_rule():
    db = crm.open()
    staff = [db.add("staff", name=f"rep {i}") for i in range(2)]
    customers = db.import_frame("customers", pd.DataFrame({
        "name": [f"c{i}" for i in range(12)], "region": ["East", "West", "North"] * 4,
        "tags": [["lead", "cold"] if i % 2 else ["lead"] for i in range(12)]}))
    east = db.automation.add_rule("east to rep 1", on="changed", kind="customers", field="status",
                                  condition=[("status", "==", "active"), ("region", "==", "East")],
                                  actions=[{"do": "assign", "to": staff[1]},
                                           {"do": "tag", "remove": ["lead", "nope"], "add": ["client"]}])
    west = db.automation.add_rule("west tier", on="changed", kind="customers", field="status",
                                  condition=[("status", "==", "active"), ("region", "!=", "East")],
                                  actions=[{"do": "set", "field": "tier", "value": "standard"}])
    chosen = customers[::2]
    db.import_frame("customers", pd.DataFrame({"id": chosen, "status": "active"}), mode="update", key="id")
    got = db.frame("customers")
    # The reference: the same conditions by pandas over the records changed.
    ref = got.loc[chosen]
    want_east = ref.index[ref["region"] == "East"]
    want_west = ref.index[ref["region"] != "East"]
    assert sorted(got.index[got["owner_id"] == staff[1]]) == sorted(want_east)
    for cid in want_east:
        assert "lead" not in got.loc[cid, "tags"] and "client" in got.loc[cid, "tags"]
    assert sorted(got.index[got["tier"] == "standard"]) == sorted(want_west)
    untouched = got.drop(index=list(want_east) + list(want_west))
    assert untouched["owner_id"].isna().all() and untouched["tier"].isna().all()
    assert all("lead" in t for t in untouched["tags"])
    log = db.audit_log(1000)
    caused = log[log["cause_id"].notna()]
    assert set(caused.loc[caused["cause_id"] == east, "first_id"]) == set(want_east)
    assert set(caused.loc[caused["cause_id"] == west, "first_id"]) == set(want_west)


def test_run_due_passes_over_a_rule_deleted_or_switched_off_while_it_ran(monkeypatch):
    # Each rule is read again under the write lock before it runs: one another
    # scheduler deleted or switched off meanwhile does not act (a deleted one
    # raised NotFound and stopped the rest).
    db = crm.open()
    db.add("contacts", name="Li", birthday="1990-03-02")
    greet = [{"do": "tag", "add": ["greeted"]}]
    for name in ("gone", "off", "kept"):
        db.automation.add_rule(name, on="date", kind="contacts", field="birthday", annual=True, actions=greet)
    listed = db.automation.rules()
    monkeypatch.setattr(type(db.automation), "rules", lambda self: listed)  # as read before the others' writes
    db.delete("automation_rules", db.automation.rule("gone"))
    db.automation.enable("off", False)
    done = db.automation.run_due("2025-03-02 09:00")
    assert done["rule_id"].tolist() == [db.automation.rule("kept")]


def test_task_due_days_up_to_a_century_and_fractional_keep_their_due_time():
    db = crm.open()
    c = db.add("customers", name="Acme")
    for i, days in enumerate((1.5, 36525, -36525)):
        db.automation.add_rule(f"due {i}", on="created", kind="orders",
                               actions=[{"do": "task", "subject": f"s{i}", "due_days": days}])
    before = pd.Timestamp.now("UTC").tz_localize(None)
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=5.0)
    tasks = db.frame("tasks").set_index("subject")["due_at"]
    assert tasks.notna().all()
    for i, days in enumerate((1.5, 36525, -36525)):
        assert abs(tasks[f"s{i}"] - before - pd.Timedelta(days=days)) < pd.Timedelta(minutes=5)

