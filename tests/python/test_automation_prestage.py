"""The tag and field actions of ``created`` rules land with an import's rows
(applied before the rows reach the file, not as an update per record): the
records end as a plain Python replay of the rules says, in rule order; the
import's one audit entry names each rule and carries the values it wrote,
which ``audit_check`` holds the records to; the rules watching those fields
still follow; and ``preview`` still agrees with what a run did."""
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

RULES = [
    dict(name="big", on="created", kind="orders", condition=[("amount", ">=", 500)],
         actions=[{"do": "tag", "add": ["big", "check"]}, {"do": "set", "field": "status", "value": "review"}]),
    dict(name="web", on="created", kind="orders", condition=[("channel", "==", "web")],
         actions=[{"do": "tag", "add": ["web"], "remove": ["check", "given"]}]),
    dict(name="huge", on="created", kind="orders", condition=[("amount", ">=", 900)],
         actions=[{"do": "set", "field": "status", "value": "hold"}, {"do": "tag", "remove": ["big"]}]),
    # Judged on the values the rows were given: the status the rules above set is not seen.
    dict(name="on review", on="created", kind="orders", condition=[("status", "==", "review")],
         actions=[{"do": "tag", "add": ["seen review"]}]),
]


def _replay(orders: pd.DataFrame, active: int = len(RULES)) -> tuple[list, list]:
    """The rules applied by hand, row by row, in the order they were added:
    each condition on the row as given, then the actions in order (the
    first ``active`` rules only)."""
    on = [r["name"] for r in RULES[:active]]
    tags_out, status_out = [], []
    for _, row in orders.iterrows():
        tags = list(row["tags"])
        status = given_status = None if pd.isna(row["status"]) else row["status"]
        if "big" in on and row["amount"] >= 500:
            tags += [t for t in ["big", "check"] if t not in tags]
            status = "review"
        if "web" in on and row["channel"] == "web":
            tags = [t for t in tags if t not in ("check", "given")]
            tags += [] if "web" in tags else ["web"]
        if "huge" in on and row["amount"] >= 900:
            status = "hold"
            tags = [t for t in tags if t != "big"]
        if "on review" in on and given_status == "review" and "seen review" not in tags:
            tags.append("seen review")
        tags_out.append(tags)
        status_out.append(status)
    return tags_out, status_out


def _orders(n: int, customer: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": customer, "ordered_at": pd.Timestamp("2024-03-01"),
        "amount": rng.integers(1, 1000, n).astype(float),
        "channel": rng.choice(["web", "store"], n),
        "status": rng.choice([None, "review", "open"], n),
        "tags": [["given"] if i % 3 == 0 else [] for i in range(n)]})


def test_actions_land_with_the_rows_as_a_replay_of_the_rules_says():
    db = crm.open()
    customer = db.add("customers", name="Acme")
    for r in RULES:
        db.automation.add_rule(**r)
    orders = _orders(300, customer)
    ids = db.import_frame("orders", orders)
    got = db.frame("orders").loc[ids]
    want_tags, want_status = _replay(orders)
    assert [sorted(t) for t in got["tags"]] == [sorted(t) for t in want_tags]
    assert [None if pd.isna(s) else s for s in got["status"]] == want_status
    # No update per record: the import's one entry says it all.
    log = db.audit_log(100)
    orders_log = log[log["kind"] == "orders"]
    assert orders_log["op"].tolist() == ["insert"]
    entry = orders_log.iloc[0]["changes"]
    rule_ids = dict(zip(db.frame("automation_rules")["name"], db.frame("automation_rules").index))
    big = entry["rules"][str(rule_ids["big"])]
    assert big["ids"] == [int(i) for i, a in zip(ids, orders["amount"]) if a >= 500]
    assert big["fields"] == ["status"] and big["tags_added"] == ["big", "check"]
    # Every record the rules changed has its values as given and as written.
    given_status = [None if pd.isna(s) else s for s in orders["status"]]
    changed = {int(i) for i, t, s, given_t, given_s in zip(ids, want_tags, want_status, orders["tags"], given_status)
               if t != given_t or s != given_s}
    assert set(map(int, entry["records"])) == changed
    assert db.audit_check().empty


def test_rows_skipped_on_error_leave_the_others_acted_on_by_their_own_verdicts():
    db = crm.open()
    customer = db.add("customers", name="Acme")
    for r in RULES[:2]:
        db.automation.add_rule(**r)
    orders = _orders(40, customer)
    orders.loc[[0, 7, 30], "customer_id"] = 10**9  # no such customer: these rows do not land
    result = db.import_frame("orders", orders, on_error="skip")
    ids = result.ids
    assert sorted(result.errors.index) == [0, 7, 30]
    landed = [i for i in range(40) if i not in (0, 7, 30)]
    got = db.frame("orders").loc[[ids[i] for i in landed]]
    want_tags, want_status = _replay(orders.loc[landed], active=2)
    assert [sorted(t) for t in got["tags"]] == [sorted(t) for t in want_tags]
    assert db.audit_check().empty


def test_audit_check_finds_a_value_a_rule_wrote_changed_behind_the_store(tmp_path):
    path = tmp_path / "shop.crm"
    db = crm.open(path)
    customer = db.add("customers", name="Acme")
    db.automation.add_rule(**RULES[0])
    orders = _orders(20, customer)
    ids = db.import_frame("orders", orders)
    target = int(ids[int(np.flatnonzero((orders["amount"] >= 500) & (orders["status"] != "review"))[0])])
    db.close()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE orders SET status = 'paid' WHERE id = ?", (target,))
    db = crm.open(path)
    problems = db.audit_check()
    assert len(problems) == 1
    assert f"orders {target}, field 'status'" in problems["reason"].iloc[0]


def test_changed_rules_follow_the_fields_and_tags_set_with_the_insert():
    db = crm.open()
    customer = db.add("customers", name="Acme")
    db.automation.add_rule(**RULES[0])
    on_status = db.automation.add_rule("status watch", on="changed", kind="orders", field="status",
                                       condition=[("status", "==", "review")],
                                       actions=[{"do": "task", "subject": "Review {channel} order"}])
    on_tags = db.automation.add_rule("tag watch", on="changed", kind="orders", field="tags",
                                     actions=[{"do": "tag", "add": ["retagged"]}])
    orders = _orders(60, customer)
    ids = np.asarray(db.import_frame("orders", orders))
    big = ids[(orders["amount"] >= 500).to_numpy()]
    # status: set to review where it was not review already
    moved = ids[((orders["amount"] >= 500) & (orders["status"] != "review")).to_numpy()]
    tasks = db.frame("tasks")
    assert len(tasks) == len(moved) and set(tasks["subject"]) <= {"Review web order", "Review store order"}
    tagged = db.frame("orders").loc[ids, "tags"]
    assert sorted(ids[tagged.map(lambda t: "retagged" in t).to_numpy()]) == sorted(big)
    # The follow-up tags are updates of their own, each naming its rule.
    log = db.audit_log(1000)
    updates = log[(log["kind"] == "orders") & (log["op"] == "update")]
    assert set(updates["cause_id"]) == {on_tags} and sorted(updates["first_id"]) == sorted(big)
    assert set(log.loc[log["kind"] == "tasks", "cause_id"]) == {on_status}
    assert db.audit_check().empty


@pytest.mark.parametrize("rule", ["on review", "status watch"])
def test_preview_agrees_with_the_run_on_fields_set_with_the_insert(rule):
    db = crm.open()
    customer = db.add("customers", name="Acme")
    start = pd.Timestamp.now() - pd.Timedelta(seconds=1)
    for r in RULES:
        db.automation.add_rule(**r)
    db.automation.add_rule("status watch", on="changed", kind="orders", field="status",
                           condition=[("status", "==", "review")], actions=[{"do": "tag", "add": ["watched"]}])
    orders = _orders(80, customer)
    ids = np.asarray(db.import_frame("orders", orders))
    end = pd.Timestamp.now() + pd.Timedelta(seconds=1)
    tag = {"on review": "seen review", "status watch": "watched"}[rule]
    tags = db.frame("orders").loc[ids, "tags"]
    acted = sorted(ids[tags.map(lambda t: tag in t).to_numpy()])
    preview = db.automation.preview(rule, start, end)
    assert sorted(preview["record_id"]) == acted
    assert len(acted) > 0


def test_a_person_s_export_keeps_only_their_part_of_the_import_s_entry():
    db = crm.open()
    db.automation.add_rule("note", on="created", kind="customers", condition=[("region", "==", "East")],
                           actions=[{"do": "set", "field": "source", "value": "east desk"},
                                    {"do": "tag", "add": ["east"]}])
    ids = db.import_frame("customers", pd.DataFrame({"name": ["Li", "Wu", "Ma"], "kind": "person",
                                                     "region": ["East", "East", "West"],
                                                     "source": ["fair", "friend of Li", None]}))
    entry = db.audit_log(5).query("op == 'insert' and kind == 'customers'").iloc[0]["changes"]
    assert set(entry["records"]) == {str(ids[0]), str(ids[1])}  # the whole import's entry
    exported = json.loads(db.export_person(int(ids[0])))
    inserts = [e for e in exported["audit"] if e["op"] == "insert"]
    assert len(inserts) == 1
    changes = inserts[0]["changes"]
    # Only Li's part: Wu's old value ("friend of Li") is Wu's, not Li's.
    assert changes["records"] == {str(ids[0]): {"source": ["fair", "east desk"], "tags": [None, "\x1feast"]}}
    assert [acted["ids"] for acted in changes["rules"].values()] == [[int(ids[0])]]
    assert "friend of Li" not in json.dumps(exported)


def test_erasing_a_person_keeps_the_rules_record_of_the_others_in_their_import(tmp_path):
    path = tmp_path / "s.crm"
    db = crm.open(path)
    db.automation.add_rule("note", on="created", kind="customers", condition=[("region", "==", "East")],
                           actions=[{"do": "set", "field": "source", "value": "east desk"},
                                    {"do": "tag", "add": ["east"]}])
    db.automation.add_rule("big", on="created", kind="orders", condition=[("amount", ">=", 100)],
                           actions=[{"do": "tag", "add": ["big"]}])
    li, wu = db.import_frame("customers", pd.DataFrame({
        "name": ["Li Lei", "Wu Fang"], "kind": "person", "region": "East", "email": ["li.lei@example.com", None]}))
    orders = db.import_frame("orders", pd.DataFrame({"customer_id": [li, wu, wu], "amount": [150.0, 200.0, 5.0],
                                                      "ordered_at": "2025-03-01"}))
    before = {e["kind"]: e["changes"] for _, e in db.audit_log(10).query("op == 'insert'").iterrows()}
    rule_ids = {str(r): n for r, n in zip(db.frame("automation_rules").index, db.frame("automation_rules")["name"])}

    db.erase_person(li)

    log = db.audit_log(20)
    after = {e["kind"]: e["changes"] for _, e in log.query("op == 'insert'").iterrows()}
    # Wu's part of both imports' entries stays as it was; Li's part is gone.
    for kind, mine, theirs in (("customers", [li], [wu]), ("orders", [orders[0]], orders[1:2])):
        want = {"rules": {r: {**acted, "ids": [i for i in acted["ids"] if i not in mine]}
                          for r, acted in before[kind]["rules"].items() if set(acted["ids"]) - set(mine)},
                "records": {i: c for i, c in before[kind]["records"].items() if int(i) not in mine}}
        assert after[kind] == want, kind
        assert [i for acted in after[kind]["rules"].values() for i in acted["ids"]] == list(theirs)
    assert set(rule_ids[r] for r in after["orders"]["rules"]) == {"big"}
    assert "Li Lei" not in json.dumps(after) and "li.lei" not in json.dumps(after)
    assert db.audit_check().empty
    # What the erasure entry says is chained: the kept part altered behind the store is found.
    db.close()
    con = sqlite3.connect(path)
    seq, text = con.execute("SELECT seq, changes FROM audit_log WHERE op = 'insert' AND kind = 'orders'").fetchone()
    con.execute("UPDATE audit_log SET changes = ? WHERE seq = ?", (text.replace('"big"', '"huge"'), seq))
    con.commit()
    con.close()
    problems = crm.open(path).audit_check()
    assert seq in set(problems.index) and problems["reason"].str.contains("altered").any()
