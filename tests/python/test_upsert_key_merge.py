"""How an upsert finds its rows' records (issue 9, seventh round).

An upsert whose rows are many against the stored records (more than an
eighth of them) reads the external key index once, in its order, and merges
it with the rows' keys; a smaller one searches the index once per row. Both
must find the same records: the same key (a missing source and an empty one
are the same), byte for byte, whatever the rows' order, prefixes, case or
script, repeated keys refused naming their first row. The reference is a
plain ``sqlite3`` read of the stored keys and a Python dictionary.
"""
import contextlib
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm

SOURCES = ["erp", None, "", "crm", "Erp", "erp2"]
IDS = ["K1", "K10", "K1é", "k1", "K2", "K1 ", "客户7", "K", "K\u00011", "Z9"]


def _keys(rng, n):
    """Random (source, id) pairs, ids from a small alphabet so that they repeat and prefix one another."""
    return [(SOURCES[rng.integers(len(SOURCES))], IDS[rng.integers(len(IDS))] + str(rng.integers(40)))
            for _ in range(n)]


def _stored(path):
    with contextlib.closing(sqlite3.connect(path)) as con:
        rows = con.execute("SELECT ifnull(external_source, ''), external_id, id, name FROM customers"
                           " WHERE external_id IS NOT NULL").fetchall()
    return {(s, i): (rid, name) for s, i, rid, name in rows}


def _store(path, keys, padding):
    """A store holding `keys` (each once) and `padding` records of another source."""
    unique = list(dict.fromkeys((s or "", i) for s, i in keys))
    frame = pd.DataFrame({"external_source": [s for s, _ in unique], "external_id": [i for _, i in unique],
                          "name": [f"old {n}" for n in range(len(unique))]})
    pad = pd.DataFrame({"external_source": "padding", "external_id": [f"P{n}" for n in range(padding)],
                        "name": "pad"})
    with crm.open(path) as db:
        db.import_frame("customers", pd.concat([frame, pad], ignore_index=True), progress=False)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 5000], ids=["merge", "per key"])
def test_an_upsert_finds_each_key_s_record_as_a_dictionary_does(tmp_path, seed, padding):
    rng = np.random.default_rng(seed)
    path = str(tmp_path / "keys.crm")
    _store(path, _keys(rng, 300), padding)
    before = _stored(path)
    incoming = _keys(rng, 500) + [(None, None), ("erp", None)]  # without an id: new records
    rng.shuffle(incoming)
    frame = pd.DataFrame({"external_source": [s for s, _ in incoming], "external_id": [i for _, i in incoming],
                          "name": [f"new {n}" for n in range(len(incoming))]})
    with crm.open(path) as db:
        result = db.import_frame("customers", frame, mode="upsert", on_error="skip", progress=False)
        assert db.audit_check().empty

    first_row = {}
    expected_errors = []
    for row, (source, key) in enumerate(incoming):
        if key is None:
            continue
        earlier = first_row.setdefault((source or "", key), row)
        if earlier != row:
            expected_errors.append(row)
    assert result.errors.index.tolist() == expected_errors
    assert all(f"row {first_row[(incoming[r][0] or '', incoming[r][1])]}" in result.errors.loc[r, "reason"]
               for r in expected_errors)
    after = _stored(path)
    ids, updated = result.ids.tolist(), result.updated.tolist()
    for row, (source, key) in enumerate(incoming):
        if row in expected_errors:
            assert ids[row] == -1 and not updated[row], row
        elif key is None:
            assert ids[row] > 0 and not updated[row], row
        elif (source or "", key) in before:
            assert ids[row] == before[(source or "", key)][0] and updated[row], (row, source, key)
            assert after[(source or "", key)] == (ids[row], f"new {row}")
        else:
            assert ids[row] > 0 and not updated[row], (row, source, key)
            assert after[(source or "", key)] == (ids[row], f"new {row}")
    untouched = set(before) - {(s or "", i) for s, i in incoming}
    assert all(after[key] == before[key] for key in untouched)
    assert len(after) == len(set(before) | {(s or "", i) for s, i in incoming if i is not None})


def test_a_key_of_the_id_alone_names_only_records_without_a_source(tmp_path):
    path = str(tmp_path / "id.crm")
    with crm.open(path) as db:
        db.import_frame("customers", pd.DataFrame({"external_source": ["erp", None, ""],
                                                   "external_id": ["A", "B", "C"], "name": "x"}), progress=False)
    before = _stored(path)
    frame = pd.DataFrame({"external_id": ["C", "A", "B", "D"], "name": ["c", "a", "b", "d"]})
    with crm.open(path) as db:
        result = db.import_frame("customers", frame, key=["external_id"], mode="upsert", progress=False)
    # "A" belongs to the source erp: the id alone names no record of it, so a new record is made.
    assert result.updated.tolist() == [True, False, True, False]
    assert result.ids.tolist()[0] == before[("", "C")][0] and result.ids.tolist()[2] == before[("", "B")][0]
    after = _stored(path)
    assert after[("erp", "A")] == before[("erp", "A")] and after[("", "A")][1] == "a"


def _lookup_rows(path):
    with contextlib.closing(sqlite3.connect(path)) as con:
        return sorted(con.execute("SELECT p.value, c.external_id, p.field, p.kind FROM contact_points AS p"
                                  " JOIN customers AS c ON c.id = p.record_id"))


@pytest.mark.parametrize("padding", [0, 5000], ids=["merge", "per key"])
def test_an_export_with_phones_unchanged_leaves_the_lookup_rows_a_fresh_import_makes(tmp_path, padding):
    """The weekly export: regions changed, phones as they were (one written otherwise), some rows new."""
    rng = np.random.default_rng(7)
    n = 400
    first = pd.DataFrame({"external_source": "erp", "external_id": [f"C{i}" for i in range(n)],
                          "name": [f"c{i}" for i in range(n)], "phone": [f"1380000{i:04d}" for i in range(n)],
                          "region": "East"})
    pad = pd.DataFrame({"external_source": "padding", "external_id": [f"P{n}" for n in range(padding)],
                        "name": "pad"})
    week = pd.DataFrame({"external_source": "erp", "external_id": [f"C{i}" for i in range(n // 2, n + n // 2)],
                         "name": [f"c{i}" for i in range(n // 2, n + n // 2)],
                         "phone": [f"1380000{i:04d}" for i in range(n // 2, n + n // 2)],
                         "region": rng.choice(["East", "West"], n)})
    week.loc[0, "phone"] = "+86 138-0000-" + f"{n // 2:04d}"  # the same number written otherwise
    upserted, fresh = str(tmp_path / "upserted.crm"), str(tmp_path / "fresh.crm")
    with crm.open(upserted) as db:
        db.import_frame("customers", pd.concat([first, pad], ignore_index=True), progress=False)
        result = db.import_frame("customers", week, mode="upsert", progress=False)
        assert db.audit_check().empty
    assert int(result.updated.sum()) == n // 2
    final = pd.concat([first[first["external_id"].isin(set(first["external_id"]) - set(week["external_id"]))],
                       pad, week], ignore_index=True)
    with crm.open(fresh) as db:
        db.import_frame("customers", final, progress=False)
    assert _lookup_rows(upserted) == _lookup_rows(fresh)
    with contextlib.closing(sqlite3.connect(upserted)) as a, contextlib.closing(sqlite3.connect(fresh)) as b:
        query = ("SELECT external_source, external_id, name, phone, region FROM customers"
                 " ORDER BY external_source, external_id")
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
