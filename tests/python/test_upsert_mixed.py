"""An upsert of an export that mixes every kind of row (issue 9, part 1).

New, changed, unchanged and invalid rows in one file, written with
``on_error="skip"``: each row must get the right outcome and the audit log
exactly the changed records' entries. The reference is the frame itself
(which rows were built to be which) and the stored rows read with Python's
``sqlite3`` before and after, not crmcore's own reading of them.
"""
import contextlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm


def _rows(path):
    with contextlib.closing(sqlite3.connect(path)) as con:
        return {r[0]: r[1:] for r in con.execute("SELECT external_id, id, name, region, phone FROM customers")}


def _entries_after(path, seq):
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute("SELECT op, first_id, last_id, actor, changes FROM audit_log WHERE seq > ? ORDER BY seq",
                           (seq,)).fetchall()


@pytest.mark.parametrize("actor", ["wang", "运营·李"])
def test_mixed_rows_each_get_their_outcome_and_only_changes_are_audited(tmp_path, actor):
    path = str(tmp_path / "mixed.crm")
    base = pd.DataFrame({"external_source": "erp", "external_id": [f"K{i}" for i in range(8)],
                         "name": [f"c{i}" for i in range(8)], "region": ["East"] * 8,
                         "phone": [f"1380000000{i}" for i in range(8)]})
    with crm.open(path, actor=actor) as db:
        db.import_frame("customers", base, progress=False)
    before = _rows(path)
    with contextlib.closing(sqlite3.connect(path)) as con:
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]

    # Row by row: what each is, and what the store must hold afterwards.
    incoming = pd.DataFrame([
        ("K0", "c0", "East", "13800000000"),          # 0 unchanged
        ("K1", "c1", "West", "13800000001"),          # 1 changed region
        ("K2", "c2", "East", "not a phone"),          # 2 existing, invalid phone: refused
        ("N0", "n0", "North", "13900000000"),         # 3 new
        ("K3", "c3", "East", "+86 139 0000 0003"),    # 4 changed phone (kept as written, found normalised)
        ("N1", None, "South", "13900000001"),         # 5 new without the required name: refused
        ("K4", "c4", "East", "138-0000-0004"),        # 6 the same number written otherwise: a change of text
        ("N2", "n2", None, None),                     # 7 new
        ("K1", "c1 again", "West", "13800000001"),    # 8 the key of row 1 again: refused
        ("K5", "c5 renamed", None, "13800000005"),    # 9 changed name, region removed
    ], columns=["external_id", "name", "region", "phone"]).assign(external_source="erp")

    with crm.open(path, actor=actor) as db:
        result = db.import_frame("customers", incoming, mode="upsert", on_error="skip", progress=False)
        assert db.audit_check().empty
    assert result.errors.index.tolist() == [2, 5, 8]
    assert result.errors["field"].tolist()[:2] == ["phone", "name"]
    assert "row 1" in result.errors.loc[8, "reason"]  # the key's first row is named
    ids = result.ids.tolist()
    updated = result.updated.tolist()
    for row, key in [(0, "K0"), (1, "K1"), (4, "K3"), (6, "K4"), (9, "K5")]:
        assert ids[row] == before[key][0] and updated[row], row  # unchanged rows still name their records
    for row in (3, 7):
        assert ids[row] > max(r[0] for r in before.values()) and not updated[row]
    for row in (2, 5, 8):
        assert ids[row] == -1 and not updated[row]

    after = _rows(path)
    assert set(after) == set(before) | {"N0", "N2"}
    for key in ("K0", "K2", "K6", "K7"):
        assert after[key] == before[key], key  # unchanged or refused: as they were
    assert after["K1"][1:] == ("c1", "West", "13800000001")
    assert after["K3"][1:] == ("c3", "East", "+86 139 0000 0003")
    assert after["K4"][1:] == ("c4", "East", "138-0000-0004")
    assert after["K5"][1:] == ("c5 renamed", None, "13800000005")

    # One entry per changed record, none for the unchanged ones, one for the insert.
    entries = _entries_after(path, last)
    updates = {first: (who, json.loads(changes)) for op, first, last_id, who, changes in entries if op == "update"}
    inserts = [(first, last_id) for op, first, last_id, who, changes in entries if op == "insert"]
    assert {op for op, *_ in entries} == {"update", "insert"}
    assert updates == {
        before["K1"][0]: (actor, {"region": ["East", "West"]}),
        before["K3"][0]: (actor, {"phone": ["13800000003", "+86 139 0000 0003"]}),
        before["K4"][0]: (actor, {"phone": ["13800000004", "138-0000-0004"]}),
        before["K5"][0]: (actor, {"name": ["c5", "c5 renamed"], "region": ["East", None]}),
    }
    assert inserts == [(after["N0"][0], after["N2"][0])]

    # The phone lookups follow the changed phone only.
    with crm.open(path) as db:
        assert db.find("customers", phone="13900000003").index.tolist() == [before["K3"][0]]
        assert db.find("customers", phone="13800000003").empty
        assert db.find("customers", phone="13800000004").index.tolist() == [before["K4"][0]]


def test_an_unchanged_re_import_after_a_changed_one_writes_no_entry(tmp_path):
    # The weekly case twice: the changed export lands (entries), the same
    # export again changes nothing (no entries, the chain's head unmoved).
    path = str(tmp_path / "weekly.crm")
    base = pd.DataFrame({"external_source": "erp", "external_id": [f"K{i}" for i in range(50)],
                         "name": [f"c{i}" for i in range(50)], "phone": [f"138{i:08d}" for i in range(50)]})
    edited = base.assign(phone=[f"139{i:08d}" for i in range(50)])
    with crm.open(path) as db:
        db.import_frame("customers", base, progress=False)
        first = db.import_frame("customers", edited, mode="upsert", progress=False)
        assert first.updated.all()
    with contextlib.closing(sqlite3.connect(path)) as con:
        last = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
        assert con.execute("SELECT count(*) FROM audit_log WHERE op = 'update'").fetchone()[0] == 50
    with crm.open(path) as db:
        again = db.import_frame("customers", edited, mode="upsert", progress=False)
        assert again.updated.all() and again.ids.tolist() == first.ids.tolist()
        assert db.audit_check().empty
    assert _entries_after(path, last) == []


def _last_changes(path):
    with contextlib.closing(sqlite3.connect(path)) as con:
        op, changes = con.execute("SELECT op, changes FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return op, json.loads(changes)


def test_single_updates_are_captured_after_a_large_upsert_landed_or_failed(tmp_path):
    # A large chunk's UPDATE runs with the capture trigger taken off the
    # connection; whether the upsert lands or a database rule stops it
    # (a duplicate sku, found inside that UPDATE), the trigger is back for
    # the next single update, whose entry says what it changed.
    path = str(tmp_path / "large.crm")
    n = 1_500
    base = pd.DataFrame({"external_source": "erp", "external_id": [f"P{i}" for i in range(n)],
                         "sku": [f"S{i}" for i in range(n)], "name": [f"p{i}" for i in range(n)]})
    with crm.open(path) as db:
        ids = db.import_frame("products", base, progress=False)
        db.import_frame("products", base.assign(name=[f"q{i}" for i in range(n)]), mode="upsert", progress=False)
        db.update("products", int(ids[0]), name="single")
        assert _last_changes(path) == ("update", {"name": ["q0", "single"]})

        clash = base.assign(name="r")
        clash.loc[n - 1, "sku"] = "S0"  # the first record's sku: refused by the unique index
        with pytest.raises(crm.ValidationError) as refused:
            db.import_frame("products", clash, mode="upsert", progress=False)
        assert refused.value.row == n - 1
        assert db.get("products", int(ids[1]))["name"] == "q1"  # nothing of it landed
        db.update("products", int(ids[1]), name="after")
        assert _last_changes(path) == ("update", {"name": ["q1", "after"]})
        assert db.audit_check().empty


def test_new_keys_named_again_are_refused_naming_their_first_row(tmp_path):
    # Rows naming no stored record, some of whose keys repeat: each repeat is
    # refused naming the key's first row, and the first rows land. The same
    # id under another source, or with no source, is another key. Reference:
    # pandas' duplicated() over the key columns, and the rows read with sqlite3.
    path = str(tmp_path / "repeats.crm")
    with crm.open(path) as db:
        db.import_frame("customers", pd.DataFrame({"external_source": ["erp"], "external_id": ["OLD"],
                                                   "name": ["old"]}), progress=False)
    rng = np.random.default_rng(7)
    n = 3000
    ids = [f"N{i}" for i in rng.integers(0, 1200, n)]
    sources = rng.choice(["erp", "shop", None], n).tolist()
    incoming = pd.DataFrame({"external_source": sources, "external_id": ids,
                             "name": [f"row {r}" for r in range(n)]})
    with crm.open(path) as db:
        result = db.import_frame("customers", incoming, mode="upsert", on_error="skip", progress=False)
    key = incoming["external_source"].fillna("") + "\x00" + incoming["external_id"]
    repeated = key.duplicated()
    assert sorted(result.errors.index) == sorted(incoming.index[repeated])
    first_row = {k: r for r, k in reversed(list(key.items()))}
    for row, reason in result.errors["reason"].items():
        assert f"is the key of row {first_row[key[row]]} too" in reason, (row, reason)
    with contextlib.closing(sqlite3.connect(path)) as con:
        rows = con.execute("SELECT external_source, external_id, name FROM customers WHERE external_id <> 'OLD'")
        landed = {(s or "", i): name for s, i, name in rows}
        assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 1 + (~repeated).sum()
    assert landed == {(s, i): f"row {r}" for r, (s, i) in
                      enumerate(zip(incoming["external_source"].fillna(""), incoming["external_id"])) if not repeated[r]}
