"""Consistency the store enforces, on every write path (add, update,
import_frame with on_error raise and skip, import_json, upserts that insert
and that update, mode="update"): a contact is primary at one customer at
most, a customer and a contact are linked once, an interaction's contact
works at its customer, no far-future dates, no negative amounts. Every
refusal names the row and field and leaves the store as it was."""
import json
import pathlib
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("store_handle")

TODAY = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


def _setup_links(db):
    c1, c2, c3 = (db.add("customers", name=name) for name in ("C1", "C2", "C3"))
    p1 = db.add("contacts", name="P1")
    db.add("customer_contacts", customer_id=c1, contact_id=p1, is_primary=True)
    return {"c1": c1, "c2": c2, "c3": c3, "p1": p1}


def _setup_customer(db):
    return {"c1": db.add("customers", name="C1")}


def _setup_order(db):
    ctx = _setup_customer(db)
    ctx["o1"] = db.add("orders", customer_id=ctx["c1"], ordered_at="2025-01-05", amount=10.0)
    return ctx


def _order(ctx, **change):
    return {"customer_id": ctx["c1"], "ordered_at": "2025-01-05", "amount": 10.0, **change}


# Each rule: kind, setup, a row that keeps it, a row that breaks it, and the field named.
RULES = {
    "same pair twice": ("customer_contacts", _setup_links,
                        lambda c: {"customer_id": c["c2"], "contact_id": c["p1"]},
                        lambda c: {"customer_id": c["c1"], "contact_id": c["p1"]}, "contact_id", "linked once"),
    "primary at two customers": ("customer_contacts", _setup_links,
                                 lambda c: {"customer_id": c["c2"], "contact_id": c["p1"], "is_primary": False},
                                 lambda c: {"customer_id": c["c3"], "contact_id": c["p1"], "is_primary": True},
                                 "is_primary", "primary at one customer at most"),
    "contact not at the customer": ("interactions", _setup_links,
                                    lambda c: {"customer_id": c["c1"], "contact_id": c["p1"], "channel": "call",
                                               "occurred_at": "2025-01-05"},
                                    lambda c: {"customer_id": c["c2"], "contact_id": c["p1"], "channel": "call",
                                               "occurred_at": "2025-01-05"},
                                    "contact_id", "not linked to customer"),
    "order next year": ("orders", _setup_customer,
                        lambda c: _order(c, ordered_at=str((TODAY + pd.Timedelta(days=300)).date())),
                        lambda c: _order(c, ordered_at=str((TODAY + pd.Timedelta(days=400)).date())),
                        "ordered_at", "more than 365 days after today"),
    "birthday tomorrow": ("contacts", lambda db: {},
                          lambda c: {"name": "P", "birthday": str(TODAY.date())},
                          lambda c: {"name": "P", "birthday": str((TODAY + pd.Timedelta(days=2)).date())},
                          "birthday", "in the future"),
    "negative amount": ("orders", _setup_customer, lambda c: _order(c, amount=0.0),
                        lambda c: _order(c, amount=-0.01), "amount", "negative"),
    "negative cost": ("orders", _setup_customer, lambda c: _order(c, cost=1.0),
                      lambda c: _order(c, cost=-1.0), "cost", "negative"),
    "negative payment": ("payments", _setup_customer,
                         lambda c: {"customer_id": c["c1"], "paid_at": "2025-01-05", "amount": 5.0},
                         lambda c: {"customer_id": c["c1"], "paid_at": "2025-01-05", "amount": -5.0},
                         "amount", "negative"),
    "negative price": ("products", lambda db: {}, lambda c: {"sku": "S1", "name": "Tea", "list_price": 9.5},
                       lambda c: {"sku": "S1", "name": "Tea", "list_price": -9.5}, "list_price", "negative"),
    "negative quantity": ("order_lines", _setup_order,
                          lambda c: {"order_id": c["o1"], "quantity": 2.0, "unit_price": 1.0},
                          lambda c: {"order_id": c["o1"], "quantity": -2.0, "unit_price": 1.0},
                          "quantity", "negative"),
}

PATHS = ["add", "update", "import_raise", "import_skip", "import_json", "upsert_insert", "upsert_update",
         "update_frame", "check_frame"]


def _snapshot(db):
    return {kind: db.frame(kind) for kind in db.counts().index}


def _assert_unchanged(db, before):
    for kind, frame in before.items():
        pd.testing.assert_frame_equal(db.frame(kind), frame, obj=kind)


def _changed_part(good, bad):
    """The fields of `bad` that differ from `good`: what an update sets."""
    return {k: v for k, v in bad.items() if good.get(k) != v}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_on_every_write_path(rule, path, tmp_path):
    kind, setup, good_row, bad_row, field, reason = RULES[rule]
    db = crm.open()
    ctx = setup(db)
    good, bad = good_row(ctx), bad_row(ctx)
    if path in ("update", "upsert_update", "update_frame"):
        rid = db.add(kind, **good, external_id="K")
    before = _snapshot(db)
    if path == "check_frame":  # a dry run finds the same problem and writes nothing
        report = db.check_frame(kind, pd.DataFrame([bad]))
        assert report[["row", "field"]].values.tolist() == [[0, field]] and reason in report["reason"].iloc[0]
        _assert_unchanged(db, before)
        return
    if path == "import_skip":
        result = db.import_frame(kind, pd.DataFrame([good, bad]) if kind != "products"
                                 else pd.DataFrame([{**good, "sku": "S0"}, bad]), on_error="skip")
        assert result.errors.index.tolist() == [1] and result.errors["field"].tolist() == [field]
        assert reason in result.errors["reason"].iloc[0]
        assert result.ids[0] >= 0 and result.ids[1] == -1
        assert db.count(kind) == len(before[kind]) + 1
        return
    with pytest.raises(crm.ValidationError) as refused:
        if path == "add":
            db.add(kind, **bad)
        elif path == "update":
            db.update(kind, rid, **_changed_part(good, bad))
        elif path == "import_raise":
            db.import_frame(kind, pd.DataFrame([bad]))
        elif path == "import_json":
            file = tmp_path / "rows.json"
            file.write_text(json.dumps([bad]), encoding="utf-8")
            db.import_json(kind, file)
        elif path == "upsert_insert":
            db.import_frame(kind, pd.DataFrame([{**bad, "external_id": "NEW"}]), mode="upsert")
        elif path == "upsert_update":
            db.import_frame(kind, pd.DataFrame([{**_changed_part(good, bad), "external_id": "K"}]), mode="upsert")
        elif path == "update_frame":
            db.import_frame(kind, pd.DataFrame([{**_changed_part(good, bad), "id": rid}]), mode="update")
    message = str(refused.value)
    assert f"field '{field}'" in message and reason in message, message
    if path not in ("add", "update"):
        assert "row 0" in message
    _assert_unchanged(db, before)
    # The row that keeps the rule lands on the same path.
    if path == "add":
        db.add(kind, **good)
    elif path == "import_raise":
        db.import_frame(kind, pd.DataFrame([good]))


@pytest.mark.parametrize("path", ["add", "import", "upsert"])
def test_an_interaction_without_a_customer_may_be_with_any_contact(path):
    db = crm.open()
    p = db.add("contacts", name="P")
    row = {"contact_id": p, "channel": "call", "occurred_at": "2025-01-05"}
    if path == "add":
        db.add("interactions", **row)
    elif path == "import":
        db.import_frame("interactions", pd.DataFrame([row]))
    else:
        db.import_frame("interactions", pd.DataFrame([{**row, "external_id": "I"}]), mode="upsert")
    assert db.count("interactions") == 1


def test_the_interaction_rule_reads_the_stored_half_of_a_partial_update():
    db = crm.open()
    ctx = _setup_links(db)
    i = db.add("interactions", contact_id=ctx["p1"], channel="call", occurred_at="2025-01-05")
    with pytest.raises(crm.ValidationError, match=f"contact {ctx['p1']} is not linked to customer {ctx['c2']}"):
        db.update("interactions", i, customer_id=ctx["c2"])  # its stored contact works at c1 only
    db.update("interactions", i, customer_id=ctx["c1"])
    p2 = db.add("contacts", name="P2")
    with pytest.raises(crm.ValidationError, match="not linked"):
        db.import_frame("interactions", pd.DataFrame({"id": [i], "contact_id": [p2]}), mode="update")
    db.update("interactions", i, customer_id=None, contact_id=p2)


def test_rows_of_one_write_that_break_a_rule_together():
    db = crm.open()
    c1, c2 = db.add("customers", name="C1"), db.add("customers", name="C2")
    p = db.add("contacts", name="P")
    both = pd.DataFrame({"customer_id": [c1, c2], "contact_id": [p, p], "is_primary": [True, True]})
    with pytest.raises(crm.ValidationError, match="row 1, field 'is_primary'"):
        db.import_frame("customer_contacts", both)
    assert db.count("customer_contacts") == 0
    result = db.import_frame("customer_contacts", both, on_error="skip")
    assert result.errors.index.tolist() == [1] and db.count("customer_contacts") == 1
    # An upsert making the same contact primary at two customers at once.
    db.add("customer_contacts", customer_id=c2, contact_id=p, external_id="L2")
    flip = pd.DataFrame({"external_id": ["L2"], "is_primary": [True]})
    with pytest.raises(crm.ValidationError, match="primary at one customer at most"):
        db.import_frame("customer_contacts", flip, mode="upsert")
    links = db.frame("customer_contacts")
    assert links.groupby("contact_id")["is_primary"].sum().max() == 1


def test_a_contact_may_be_primary_again_after_the_first_is_unset():
    db = crm.open()
    ctx = _setup_links(db)
    first = int(db.find("customer_contacts", contact_id=ctx["p1"]).index[0])
    second = db.add("customer_contacts", customer_id=ctx["c2"], contact_id=ctx["p1"])
    with db.transaction():
        db.update("customer_contacts", first, is_primary=False)
        db.update("customer_contacts", second, is_primary=True)
    assert db.frame("customer_contacts")["is_primary"].tolist() == [False, True]


def test_an_older_file_that_breaks_the_rules_is_settled_when_opened(tmp_path):
    # A file of schema version 1 (tests/data), given what older crmcore let
    # through: a customer and a contact linked twice, a contact primary at
    # two customers.
    path = tmp_path / "old.crm"
    shutil.copy(pathlib.Path(__file__).resolve().parents[1] / "data" / "store_v1.crm", path)
    con = sqlite3.connect(path)
    (next_id,) = con.execute("SELECT next FROM id_sequence").fetchone()
    c1, c2 = [row[0] for row in con.execute("SELECT id FROM customers ORDER BY id")]
    p, first, again, other = next_id, next_id + 1, next_id + 2, next_id + 3
    con.execute("INSERT INTO contacts(id, name, created_at, updated_at) VALUES(?, 'P', 0, 0)", (p,))
    con.executemany("INSERT INTO customer_contacts(id, customer_id, contact_id, role, is_primary, created_at,"
                    " updated_at) VALUES(?, ?, ?, ?, ?, 0, 0)",
                    [(first, c1, p, "decision_maker", 1), (again, c1, p, "executor", 0), (other, c2, p, None, 1)])
    con.execute("UPDATE id_sequence SET next = ?", (next_id + 4,))
    con.commit()
    con.close()
    with crm.open(path) as db:
        assert db.schema_version() == crm.open().schema_version() and db.integrity_check() == "ok"
        links = db.frame("customer_contacts")
        assert links.index.tolist() == [first, other]  # the later copy of the pair went
        assert links["is_primary"].tolist() == [True, False]  # the later primary stopped being one
        log = db.audit_log()
        settled = log[log["kind"] == "customer_contacts"][["op", "first_id"]].values.tolist()
        assert sorted(settled) == [["delete", again], ["update", other]]
        assert db.get("customers", db.add("customers", name="X", kind="个人"))["kind"] == "person"


def test_the_synthetic_data_set_keeps_every_rule():
    data = crm.datasets.synthetic(3_000, seed=11)
    db = crm.open()
    crm.datasets.load(db, data)  # one transaction: any refusal would raise
    links = db.frame("customer_contacts")
    assert not links.duplicated(["customer_id", "contact_id"]).any()
    assert links.groupby("contact_id")["is_primary"].sum().max() == 1
    inter = db.frame("interactions").dropna(subset=["customer_id", "contact_id"])
    pairs = set(zip(links["customer_id"], links["contact_id"]))
    assert all((c, p) in pairs for c, p in zip(inter["customer_id"], inter["contact_id"]))
    for kind, column in (("orders", "amount"), ("orders", "cost"), ("payments", "amount"),
                         ("order_lines", "quantity"), ("products", "list_price")):
        assert (db.frame(kind)[column].dropna() >= 0).all(), (kind, column)
    assert (db.frame("contacts")["birthday"].dropna() <= pd.Timestamp.now()).all()
    assert db.frame("orders")["ordered_at"].max() <= pd.Timestamp.now() + pd.Timedelta(days=365)
    assert np.isfinite(db.frame("orders")["amount"]).all()


def test_a_large_interaction_import_refuses_exactly_the_unlinked_rows():
    # Past a thousand rows the check reads the links once (LinkCache): the
    # same rows must be refused as a row-by-row reference finds.
    rng = np.random.default_rng(5)
    db = crm.open()
    customers = db.import_frame("customers", pd.DataFrame({"name": [f"C{i}" for i in range(50)]}))
    contacts = db.import_frame("contacts", pd.DataFrame({"name": [f"P{i}" for i in range(80)]}))
    links = pd.DataFrame({"customer_id": rng.choice(customers, 400), "contact_id": rng.choice(contacts, 400)})
    links = links.drop_duplicates().reset_index(drop=True)
    db.import_frame("customer_contacts", links)
    n = 6000
    inter = pd.DataFrame({"customer_id": pd.array(rng.choice(customers, n), dtype="Int64"),
                          "contact_id": pd.array(rng.choice(contacts, n), dtype="Int64"),
                          "channel": "call", "occurred_at": "2025-01-05"})
    inter.loc[rng.random(n) < 0.2, "customer_id"] = pd.NA
    inter.loc[rng.random(n) < 0.1, "contact_id"] = pd.NA
    pairs = set(zip(links["customer_id"], links["contact_id"]))
    bad = [i for i, (c, p) in enumerate(zip(inter["customer_id"], inter["contact_id"]))
           if not pd.isna(c) and not pd.isna(p) and (int(c), int(p)) not in pairs]
    assert 1000 < len(bad) < n - 1000
    result = db.import_frame("interactions", inter, on_error="skip")
    assert result.errors.index.tolist() == bad and set(result.errors["field"]) == {"contact_id"}
    assert db.count("interactions") == n - len(bad)


def test_merging_contacts_keeps_the_rules_and_unmerge_restores_them():
    db = crm.open()
    c1, c2, c3 = (db.add("customers", name=name) for name in ("C1", "C2", "C3"))
    keep, dup = db.add("contacts", name="Li Lei"), db.add("contacts", name="李雷")
    db.add("customer_contacts", customer_id=c1, contact_id=keep, is_primary=True, role="buyer")
    db.add("customer_contacts", customer_id=c2, contact_id=dup, is_primary=True)   # a second primary
    db.add("customer_contacts", customer_id=c1, contact_id=dup, role="payer")       # the pair again
    db.add("customer_contacts", customer_id=c3, contact_id=dup)
    db.add("interactions", customer_id=c2, contact_id=dup, channel="call", occurred_at="2025-01-05")
    before = {kind: db.frame(kind).drop(columns="updated_at") for kind in ("customer_contacts", "interactions")}
    merge = db.merge("contacts", keep, [dup])
    links = db.frame("customer_contacts")
    assert sorted(zip(links["customer_id"], links["contact_id"], links["is_primary"].fillna(False))) == [
        (c1, keep, True), (c2, keep, False), (c3, keep, False)]
    assert db.frame("interactions")["contact_id"].tolist() == [keep]  # c2 still links the merged contact
    db.unmerge(merge)
    for kind, frame in before.items():
        pd.testing.assert_frame_equal(db.frame(kind).drop(columns="updated_at"), frame, check_like=True, obj=kind)
    assert db.integrity_check() == "ok"
