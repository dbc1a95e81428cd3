"""The store's public schema (db.schema), its allowed values and labels,
declared custom fields (checked on every write path), indexes, and tags added
and removed in bulk. References: the kind table as the core lists it, the
file itself read with Python's sqlite3, and plain-Python reimplementations."""
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

pytestmark = pytest.mark.usefixtures("backend", "store_handle")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}


# -- db.schema ------------------------------------------------------------------

def test_schema_lists_every_field_of_the_kind_table_with_its_type():
    db = crm.open()
    every = db.schema()
    for kind in _core.kinds():
        s = db.schema(kind["name"])
        pd.testing.assert_frame_equal(every.loc[kind["name"]], s)
        fields = s[s["origin"] == "field"]
        assert fields.index.tolist() == [f["name"] for f in kind["fields"]]
        for f in kind["fields"]:
            row = s.loc[f["name"]]
            assert (row["type"], row["required"], row["ref_kind"] or "") == (f["type"], f["required"], f["ref_kind"])
        assert s[s["origin"] == "record"].index.tolist() == ["id", "tags", "custom", "created_at", "updated_at"]
    c = db.schema("customers")
    assert c.loc["kind", "choices"] == ["organization", "person"] and c.loc["kind", "closed"]
    assert c.loc["kind", "default"] == "person"
    assert c.loc["kind", "labels"] == {"organization": {"zh": ["企业", "公司", "组织"]}, "person": {"zh": ["个人"]}}
    assert c.loc["phone", "lookup"] == "phone" and c.loc["status", "choices"] is None
    assert db.schema("products").loc["sku", "unique"]
    assert db.schema("contacts").loc["birthday", "max_future_days"] == 0
    assert db.schema("orders").loc["ordered_at", "max_future_days"] == 365
    assert db.schema("orders").loc["amount", "min"] == 0 and np.isnan(db.schema("orders").loc["amount", "max"])
    assert db.schema("deals").loc["probability", ["min", "max"]].tolist() == [0.0, 1.0]
    assert db.schema("orders").loc["external_id", "since_version"] == 4
    cc = db.schema("customer_contacts")
    assert cc.loc["is_primary", "rules"] == ["a contact is primary at one customer at most"]
    assert "linked to customer_id" in db.schema("interactions").loc["contact_id", "rules"][0]


def test_indexed_column_agrees_with_the_files_own_indexes(tmp_path):
    path = tmp_path / "s.crm"
    with crm.open(path) as db:
        db.declare_custom("customers", "level", "integer", index=True)
        db.create_index("customers", "region")
        schema = db.schema("customers")
    con = sqlite3.connect(path)
    first_columns = set()
    expressions = set()
    for (name,) in con.execute("SELECT name FROM pragma_index_list('customers')"):
        col = con.execute("SELECT name FROM pragma_index_xinfo(?) WHERE seqno = 0", (name,)).fetchone()[0]
        (first_columns.add(col) if col else expressions.add(name))
    con.close()
    fields = schema[schema["origin"] == "field"]
    for name, row in fields.iterrows():
        expected = name in first_columns or row["lookup"] is not None
        assert row["indexed"] == expected, name
    assert schema.loc["region", "indexed"] and schema.loc["custom.level", "indexed"]
    assert "crm_idx_customers_custom_level" in expressions


def test_custom_key_index_serves_a_query_spelled_like_the_core_spells_it(tmp_path):
    path = tmp_path / "s.crm"
    with crm.open(path) as db:
        db.declare_custom("customers", "level", "integer")
        db.import_frame("customers", pd.DataFrame({"name": [f"C{i}" for i in range(50)],
                                                   "custom": [{"level": i % 5} for i in range(50)]}))
        assert db.create_index("customers", "custom.level")
        assert not db.create_index("customers", "custom.level")  # there already
        assert "custom.level" in db.indexes("customers")
        assert "crm_idx_customers_custom_level" in db.query_plan("customers", [("custom.level", "==", 3)])
        assert len(db.ids("customers", [("custom.level", "==", 3)])) == 10
        assert db.drop_index("customers", "custom.level") and "custom.level" not in db.indexes("customers")
        assert db.create_index("customers", "custom.level")
    con = sqlite3.connect(path)
    plan = con.execute("EXPLAIN QUERY PLAN SELECT id FROM customers WHERE json_extract(custom, '$.\"level\"') = 3")
    assert "crm_idx_customers_custom_level" in " ".join(row[3] for row in plan)
    assert con.execute("SELECT count(*) FROM customers WHERE json_extract(custom, '$.\"level\"') = 3").fetchone() == (10,)
    con.close()


# -- labels and allowed values on every write path ----------------------------------

def _write(db, path, kind, row, tmp_path, rid=None):
    """Writes one record through one write path; returns its id. The update
    paths add the record first, or update `rid`."""
    if path == "add":
        return db.add(kind, **row)
    if path == "import_frame":
        return int(db.import_frame(kind, pd.DataFrame([row]))[0])
    if path == "import_json":
        file = tmp_path / "rows.json"
        file.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
        return int(db.import_json(kind, file)[0])
    if path == "upsert":
        return int(db.import_frame(kind, pd.DataFrame([{**row, "external_id": "E1"}]), mode="upsert").ids[0])
    if path in ("update", "update_frame", "upsert_existing"):
        if rid is None:
            rid = db.add(kind, **{k: v for k, v in row.items() if k not in ("kind", "custom")}, external_id="E1")
        changed = {k: v for k, v in row.items() if k in ("kind", "custom")}
        if path == "update":
            db.update(kind, rid, **changed)
        elif path == "update_frame":
            db.import_frame(kind, pd.DataFrame([{"id": rid, **changed}]), mode="update")
        else:
            db.import_frame(kind, pd.DataFrame([{"external_id": "E1", **changed}]), mode="upsert")
        return rid
    raise AssertionError(path)


PATHS = ["add", "import_frame", "import_json", "upsert", "update", "update_frame", "upsert_existing"]


@pytest.mark.parametrize("path", PATHS)
def test_labels_are_stored_as_their_values_on_every_write_path(path, tmp_path):
    db = crm.open()
    cid = _write(db, path, "customers", {"name": "Acme", "kind": "企业"}, tmp_path)
    assert db.get("customers", cid)["kind"] == "organization"
    with pytest.raises(crm.ValidationError, match="kind.*政府"):
        _write(crm.open(), path, "customers", {"name": "Acme", "kind": "政府"}, tmp_path)
    db = crm.open()
    db.allow("customers", "kind", "government", labels={"zh": ["政府", "机关"]})
    cid = _write(db, path, "customers", {"name": "Acme", "kind": "机关"}, tmp_path)
    assert db.get("customers", cid)["kind"] == "government"


def test_labels_ask_for_their_values_in_queries_too():
    # A label means its value wherever a user names one: a filter written with
    # 企业 or an added value's label finds what an import stored, as the same
    # filter in pandas on the stored values does.
    db = crm.open()
    db.allow("customers", "kind", "government", labels={"zh": ["政府", "机关"]})
    db.import_frame("customers", pd.DataFrame({"name": list("ABCDE"),
                                               "kind": ["企业", "person", "机关", "organization", None]}))
    frame = db.frame("customers")
    for filters, mask in (([("kind", "==", "企业")], frame["kind"] == "organization"),
                          ([("kind", "in", ["个人", "政府"])], frame["kind"].isin(["person", "government"])),
                          ([("kind", "!=", "企业")], frame["kind"].notna() & (frame["kind"] != "organization"))):
        assert db.ids("customers", filters=filters).tolist() == frame.index[mask].tolist(), filters
        assert db.frame("customers", filters=filters).index.tolist() == frame.index[mask].tolist(), filters
    assert db.find("customers", kind="政府")["name"].tolist() == ["C"]
    with pytest.raises(crm.ValidationError, match="kind.*外星"):
        db.ids("customers", filters=[("kind", "==", "外星")])


def test_seeded_labels_of_every_built_in_choice_field():
    db = crm.open()
    cid = db.add("customers", name="A")
    expected = {"电话": "call", "拜访": "visit", "邮件": "email", "短信": "message", "微信": "message",
                "会议": "meeting", "备注": "note"}
    frame = pd.DataFrame({"customer_id": cid, "channel": list(expected), "occurred_at": "2025-01-05",
                          "direction": ["呼入", "呼出"] * 3 + [None]})
    ids = db.import_frame("interactions", frame)
    back = db.frame("interactions").loc[ids]
    assert back["channel"].tolist() == list(expected.values())
    assert back["direction"].iloc[:6].tolist() == ["inbound", "outbound"] * 3 and pd.isna(back["direction"].iloc[6])
    t = db.import_frame("tickets", pd.DataFrame({"severity": ["低", "中", "高", "紧急"], "opened_at": "2025-01-05"}))
    assert db.frame("tickets").loc[t, "severity"].tolist() == ["low", "medium", "high", "critical"]
    labels = db.labels()
    assert set(labels["kind"]) == {"customers", "interactions", "tickets"} and (labels["lang"] == "zh").all()


def test_open_fields_translate_labels_and_still_take_any_text():
    db = crm.open()
    cid = db.add("customers", name="A")
    db.allow("orders", "status", "cancelled", labels={"zh": "已取消", "en": "Cancelled"})
    db.label("orders", "status", "paid", {"zh": "已付款"})  # an open field: the value becomes known
    s = db.schema("orders").loc["status"]
    assert s["choices"] == ["cancelled", "paid"] and not s["closed"]
    ids = db.import_frame("orders", pd.DataFrame({"customer_id": cid, "ordered_at": "2025-01-05", "amount": 1.0,
                                                  "status": ["已取消", "Cancelled", "已付款", "refunded"]}))
    assert db.frame("orders").loc[ids, "status"].tolist() == ["cancelled", "cancelled", "paid", "refunded"]


def test_label_conflicts_are_refused_and_change_nothing():
    db = crm.open()
    before = db.labels()
    with pytest.raises(crm.ValidationError, match="already means 'organization'"):
        db.allow("customers", "kind", "government", labels={"zh": "企业"})
    with pytest.raises(crm.ValidationError, match="allowed value itself"):
        db.label("customers", "kind", "person", {"en": "organization"})
    with pytest.raises(crm.ValidationError, match="allow it first"):
        db.label("customers", "kind", "government", {"zh": "政府"})
    with pytest.raises(crm.ValidationError, match="only text fields"):
        db.allow("orders", "amount", "1")
    with pytest.raises(crm.ValidationError, match="not a field of customers"):
        db.allow("customers", "stage", "x")
    with pytest.raises(crm.NotFound):
        db.allow("nothing", "kind", "x")
    pd.testing.assert_frame_equal(db.labels(), before)
    assert db.schema("customers").loc["kind", "choices"] == ["organization", "person"]


def test_catalog_changes_reach_other_handles_and_follow_transactions(backend, tmp_path, request):
    # Two handles on one store: a file, or a schema of the server.
    path = tmp_path / "s.crm" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    with crm.open(path) as one, crm.open(path) as two:
        two.add("customers", name="A")  # the second handle has read the catalog
        one.allow("customers", "kind", "government", labels={"zh": "政府"})
        assert two.get("customers", two.add("customers", name="B", kind="政府"))["kind"] == "government"
        entries = len(one.audit_log())
        with pytest.raises(RuntimeError):
            with one.transaction():
                one.allow("customers", "kind", "school", labels={"zh": "学校"})
                assert one.get("customers", one.add("customers", name="C", kind="学校"))["kind"] == "school"
                raise RuntimeError("roll back")
        for db in (one, two):
            with pytest.raises(crm.ValidationError):
                db.add("customers", name="D", kind="学校")
        assert len(one.audit_log()) == entries
        # A declaration that a stored record does not fit changes nothing.
        cid = one.add("customers", name="E", custom={"seats": "many"})
        with pytest.raises(crm.ValidationError) as refused:
            one.declare_custom("customers", "seats", "integer", index=True)
        assert refused.value.record_id == cid
        assert "custom.seats" not in two.schema("customers").index
        assert len(one.audit_log()) == entries + 1
    with crm.open(path) as again:
        assert again.schema("customers").loc["kind", "choices"] == ["organization", "person", "government"]
        assert "schema" in set(again.audit_log()["op"])
        assert again.audit_check().empty


# -- declared custom fields ---------------------------------------------------------------

@pytest.mark.parametrize("path", PATHS)
def test_declared_custom_fields_are_checked_and_canonical_on_every_write_path(path, tmp_path):
    db = crm.open()
    db.declare_custom("customers", "signed", "time")
    db.declare_custom("customers", "seats", "integer")
    db.declare_custom("customers", "share", "real")
    db.declare_custom("customers", "active", "bool")
    db.declare_custom("customers", "level", "text", choices=["gold", "silver"])
    db.allow("customers", "custom.level", "gold", labels={"zh": "金牌"})
    given = {"signed": "2025-01-05", "seats": "12", "share": "0.25", "active": "yes", "level": "金牌",
             "note": {"any": [1, 2]}}
    cid = _write(db, path, "customers", {"name": "Acme", "custom": given}, tmp_path)
    assert db.get("customers", cid)["custom"] == {"signed": "2025-01-05T00:00:00", "seats": 12, "share": 0.25,
                                                  "active": True, "level": "gold", "note": {"any": [1, 2]}}
    for bad, field in (({"seats": "many"}, "custom.seats"), ({"level": "bronze"}, "custom.level"),
                       ({"signed": "soon"}, "custom.signed"), ({"active": "maybe"}, "custom.active"),
                       ({"share": [1]}, "custom.share")):
        with pytest.raises(crm.ValidationError, match=f"field '{field}'"):
            _write(db, path, "customers", {"name": "Bad", "custom": bad}, tmp_path, rid=cid)
    assert db.get("customers", cid)["custom"]["seats"] == 12


def test_a_declaration_converts_stored_values_or_names_the_record_that_does_not_fit():
    db = crm.open()
    a = db.add("customers", name="A", custom={"since": "2024-03-01 09:30", "other": 1})
    b = db.add("customers", name="B", custom={"since": "last spring"})
    c = db.add("customers", name="C")
    with pytest.raises(crm.ValidationError, match=f"id {b}.*custom.since"):
        db.declare_custom("customers", "since", "time")
    assert db.schema("customers").query("origin == 'custom'").empty
    assert db.get("customers", a)["custom"] == {"since": "2024-03-01 09:30", "other": 1}
    db.update("customers", b, custom={})
    db.declare_custom("customers", "since", "time")
    assert db.get("customers", a)["custom"] == {"since": "2024-03-01T09:30:00", "other": 1}
    # Required: every stored record must have it.
    with pytest.raises(crm.ValidationError, match="custom.since.*required"):
        db.declare_custom("customers", "since", "time", required=True)
    for rid in (b, c):
        db.update("customers", rid, custom={"since": "2025-01-01"})
    db.declare_custom("customers", "custom.since", "time", required=True)
    with pytest.raises(crm.ValidationError, match="custom.since.*required but missing"):
        db.add("customers", name="D")
    db.update("customers", a, name="A2")  # the custom object is not written
    s = db.schema("customers").loc["custom.since"]
    assert (s["type"], s["required"], s["origin"]) == ("time", True, "custom")


def test_undeclared_keys_and_their_numbers_are_kept_exactly():
    db = crm.open()
    db.declare_custom("customers", "seats", "integer")
    cid = db.add("customers", name="A", custom='{"big": 123456789012345678901234, "seats": 3.0, "x": "y"}')
    assert db.frame("customers").loc[cid, "custom"] == '{"big":123456789012345678901234,"seats":3,"x":"y"}'


def test_custom_field_declarations_are_checked():
    db = crm.open()
    with pytest.raises(crm.ValidationError, match="not one of: text, integer"):
        db.declare_custom("customers", "x", "money")
    with pytest.raises(crm.ValidationError, match="only a text field"):
        db.declare_custom("customers", "x", "integer", choices=["1"])
    with pytest.raises(crm.ValidationError, match="name holds"):
        db.declare_custom("customers", "a'b", "text")
    with pytest.raises(crm.ValidationError, match="given twice"):
        db.declare_custom("customers", "x", "text", choices=["a", "a"])
    with pytest.raises(crm.ValidationError, match="declare it first"):
        db.create_index("customers", "custom.nothing")
    db.declare_custom("customers", "行业", "text", choices=["零售", "制造"])
    assert db.schema("customers").loc["custom.行业", "choices"] == ["零售", "制造"]


# -- tags --------------------------------------------------------------------------------

def test_add_and_remove_tags_match_a_plain_python_reference():
    rng = np.random.default_rng(3)
    vocabulary = ["vip", "new", "Co., Ltd.", "a;b", "北京", "key account"]
    lists = [list(dict.fromkeys(rng.choice(vocabulary, rng.integers(0, 4)).tolist())) for _ in range(200)]
    db = crm.open()
    ids = db.import_frame("customers", pd.DataFrame({"name": [f"C{i}" for i in range(200)], "tags": lists}))
    expected = dict(zip(ids.tolist(), lists))
    for step in range(6):
        chosen = rng.choice(ids, 60, replace=False)
        tags = rng.choice(vocabulary, 2, replace=False).tolist()
        before = {i: list(t) for i, t in expected.items()}
        if step % 2 == 0:
            changed = db.add_tags("customers", chosen, tags)
            for i in chosen.tolist():
                expected[i] += [t for t in tags if t not in expected[i]]
        else:
            changed = db.remove_tags("customers", chosen, tags)
            for i in chosen.tolist():
                expected[i] = [t for t in expected[i] if t not in tags]
        assert changed == sum(expected[i] != before[i] for i in expected)
        back = db.frame("customers", columns=["tags"])["tags"]
        assert {i: list(t) for i, t in back.items()} == expected
        for tag in vocabulary:
            assert set(db.find("customers", tag=tag).index) == {i for i, t in expected.items() if tag in t}


def test_tag_changes_are_audited_all_or_nothing_and_checked():
    db = crm.open()
    a, b = db.add("customers", name="A", tags=["vip"]), db.add("customers", name="B")
    seq = db.audit_log(1).index[0]
    assert db.add_tags("customers", [a, b, b], "vip") == 1  # a has it already; b once
    log = db.audit_log(5)
    assert log[log.index > seq][["op", "first_id"]].values.tolist() == [["update", b]]
    updated = db.frame("customers").loc[a, "updated_at"]
    with pytest.raises(crm.NotFound, match="no customers record with id 999"):
        db.add_tags("customers", [a, 999], "new")
    assert db.get("customers", a)["tags"] == ["vip"] and db.frame("customers").loc[a, "updated_at"] == updated
    with pytest.raises(crm.ValidationError, match="control character"):
        db.add_tags("customers", a, "bad\x01tag")
    with pytest.raises(crm.ValidationError, match="control character"):
        db.add_tags("customers", a, "bad\x1ftag")
    assert db.remove_tags("customers", a, ["absent"]) == 0


def test_custom_times_given_as_python_values_are_stored_in_utc():
    db = crm.open()
    db.declare_custom("customers", "signed", "time")
    db.declare_custom("customers", "seats", "integer")
    cid = db.add("customers", name="A", custom={"signed": pd.Timestamp("2025-01-05 09:30", tz="Asia/Shanghai"),
                                                "seats": np.int64(3)})
    assert db.get("customers", cid)["custom"] == {"signed": "2025-01-05T01:30:00", "seats": 3}
    with pytest.raises(crm.ValidationError, match="not JSON serializable"):
        db.add("customers", name="B", custom={"x": object()})
