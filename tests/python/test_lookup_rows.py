"""The phone and e-mail lookup rows (contact_points) follow the records.

Since schema 22 no index leads from a record to its lookup rows: a write
that changes or removes a phone or an e-mail removes the rows its old text
gave, by their key. Whatever path wrote (import, upsert, update, delete,
merge and unmerge, erasure), the table must hold exactly the rows the final
records' fields give, computed here from the fields read back with plain
sqlite3 (each part of a field, split at ';' and ',', in its normalized
form), and the lookups must find the records by their new numbers only."""
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core
from old_store import downgrade

NORMALIZE = {"phone": _core.normalize_phone, "email": _core.normalize_email}


def _looked_up_fields():
    return {k["name"]: [(f["name"], f["lookup"]) for f in k["fields"] if f["lookup"] in NORMALIZE]
            for k in _core.kinds()}


def _stored_rows(path):
    with sqlite3.connect(path) as con:
        return set(con.execute("SELECT value, record_id, field, kind FROM contact_points"))


def _rows_the_fields_give(path):
    want = set()
    with sqlite3.connect(path) as con:
        for kind, fields in _looked_up_fields().items():
            for name, lookup in fields:
                for record_id, text in con.execute(f"SELECT id, {name} FROM {kind} WHERE {name} IS NOT NULL"):
                    for part in text.replace(",", ";").split(";"):
                        if part.strip() and NORMALIZE[lookup](part.strip()):
                            want.add((NORMALIZE[lookup](part.strip()), record_id, name, kind))
    return want


def _assert_follow(path):
    stored, want = _stored_rows(path), _rows_the_fields_give(path)
    assert stored == want, (sorted(stored - want)[:5], sorted(want - stored)[:5])


def _export(n, start, prefix, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "external_source": "erp",
        "external_id": [f"C{i:06d}" for i in range(start, start + n)],
        "name": [f"customer {i}" for i in range(start, start + n)],
        "region": rng.choice(["East", "West"], n),
        "phone": [f"{prefix}{i:08d}" for i in range(start, start + n)],
        "email": [f"c{i}@example.com" for i in range(start, start + n)],
    })


@pytest.mark.parametrize("padding", [0, 3000], ids=["key merge", "per-row keys"])
def test_every_write_path_leaves_the_rows_the_fields_give(tmp_path, padding):
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        if padding:  # enough stored records that the upsert looks its keys up row by row
            db.import_frame("customers", _export(padding, 500_000, "137", 9), progress=False)
        db.import_frame("customers", _export(200, 0, "138", 1), progress=False)
        _assert_follow(path)
        # Upsert: half known (new phones, some written differently with the
        # same normal form, some with two numbers, some e-mails gone), half new.
        again = _export(200, 100, "139", 2)
        again.loc[0:20, "phone"] = [f"+86 138-{i:04d}-{i:04d}" for i in range(21)]
        again.loc[21:30, "phone"] = [f"139{i:08d}; 150{i:08d}" for i in range(10)]
        again.loc[31:40, "email"] = None
        db.import_frame("customers", again, mode="upsert", progress=False)
        _assert_follow(path)
        ids = db.ids("customers", external_id="C000150")
        assert len(db.find("customers", phone="13900000150")) == 1
        assert db.find("customers", phone="13800000150").empty
        # One record at a time, then many.
        db.update("customers", int(ids[0]), phone="186 0000 0001, 186 0000 0002", email="x@example.com")
        one = db.add("contacts", name="Li", phone="13700000001", email="li@example.com")
        db.update("contacts", one, email=None)
        _assert_follow(path)
        db.delete("contacts", one)
        all_ids = db.ids("customers", limit=None)
        db.delete_many("customers", [int(i) for i in all_ids[:5]])
        _assert_follow(path)
        # Merge and unmerge: the kept record unites the others' phones.
        keep, *others = [int(i) for i in all_ids[10:13]]
        merge = db.merge("customers", keep, others)
        _assert_follow(path)
        db.unmerge(merge)
        _assert_follow(path)
        person = db.add("customers", name="Wang", kind="person", phone="13912345678", email="wang@example.com")
        db.erase_person(person)
        _assert_follow(path)
        assert db.find("customers", phone="13912345678").empty
    assert crm.open(path).integrity_check() == "ok"


def test_a_refused_upsert_leaves_the_lookup_rows_as_they_were(tmp_path):
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        db.import_frame("customers", _export(50, 0, "138", 1), progress=False)
        before = _stored_rows(path)
        bad = _export(50, 0, "139", 2)
        bad.loc[40, "phone"] = "not a phone"
        with pytest.raises(crm.ValidationError, match="row 40"):
            db.import_frame("customers", bad, mode="upsert", progress=False)
    assert _stored_rows(path) == before


def test_a_store_from_before_22_gets_its_rows_made_again_from_the_fields(tmp_path):
    path = str(tmp_path / "old.crm")
    with crm.open(path) as db:
        db.import_frame("customers", _export(30, 0, "138", 1), progress=False)
    downgrade(path, 21)
    with sqlite3.connect(path) as con:  # what an older normalization might have left
        con.execute("INSERT INTO contact_points VALUES('0086-138-old', 1, 'phone', 'customers')")
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'contact_points_record'").fetchone()[0] == 1
    with crm.open(path) as db:
        assert db.schema_version() == 22
        _assert_follow(path)
        assert len(db.find("customers", phone="13800000007")) == 1
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'contact_points_record'").fetchone()[0] == 0
