"""A large upsert's audit entries: one entry per run of up to 4,096 changed
records (``{"records": {id: {field: [old, new]}}}``) rather than one per
record. What the log promises must hold for them as for single entries:
every changed record's old and new values (read with Python's sqlite3
before and after, the reference), the per-record reads (audit_log(about=),
export_person, the history automation previews read), erasure, and
audit_check's tamper evidence, on the log and on the records.

Only SQLite's upsert keeps its entries in memory and seals them so
(audit_memory.hpp); PostgreSQL writes an entry per record, as before.
"""
import contextlib
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _preview

N = 6000  # known records the upsert changes: two entries of 3,000 (at most 4,096 each)
COLUMNS = ["name", "region", "phone", "address"]


def _raw(path, sql, *args):
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute(sql, args).fetchall()


def _values(path):
    return {r[0]: dict(zip(COLUMNS, r[1:])) for r in _raw(path, f"SELECT id, {', '.join(COLUMNS)} FROM customers")}


def _frame(n, start=0, phone="138", region_seed=1):
    rng = np.random.default_rng(region_seed)
    return pd.DataFrame({
        "external_source": "erp",
        "external_id": [f"C{i:06d}" for i in range(start, start + n)],
        "name": [f"customer {i}" for i in range(start, start + n)],
        "kind": "person",
        "region": rng.choice(["East", "West", "华北"], n),
        "phone": [f"{phone}{i:08d}" for i in range(start, start + n)],
    })


@pytest.fixture
def upserted(tmp_path):
    """A store of N + 100 customers, then an upsert in which N of them get a
    new phone (most a new region too), 100 are given unchanged, 50 are new.
    Returns the path, the ids and the values before and after (sqlite3)."""
    path = str(tmp_path / "s.crm")
    with crm.open(path, actor="importer") as db:
        ids = [int(i) for i in db.import_frame("customers", _frame(N + 100), progress=False)]
    before = _values(path)
    last = _raw(path, "SELECT max(seq) FROM audit_log")[0][0]
    changed = _frame(N, phone="139", region_seed=2)
    unchanged = _frame(N + 100).iloc[N:]
    incoming = pd.concat([changed, unchanged, _frame(50, start=N + 100)], ignore_index=True)
    # One record's new address mentions another person's phone (for erasure).
    incoming["address"] = None
    incoming.loc[5, "address"] = "c/o 13900000007"
    with crm.open(path, actor="importer") as db:
        db.import_frame("customers", incoming, mode="upsert", progress=False)
    return path, ids, before, _values(path), last


def _expected(before, after, ids):
    out = {}
    for i in ids:
        diff = {c: [before[i][c], after[i][c]] for c in COLUMNS if before[i][c] != after[i][c]}
        if diff:
            out[i] = diff
    return out


def test_the_entries_hold_exactly_each_changed_record_s_old_and_new_values(upserted):
    path, ids, before, after, last = upserted
    expected = _expected(before, after, ids)
    assert len(expected) == N  # the unchanged hundred are not written
    entries = _raw(path, "SELECT op, first_id, last_id, rows, changes, actor FROM audit_log WHERE seq > ? AND"
                         " op = 'update' ORDER BY seq", last)
    assert len(entries) == 2  # 6,000 changed records: two entries of 3,000
    seen = {}
    for op, first, last_id, rows, text, actor in entries:
        records = json.loads(text)["records"]
        keys = [int(k) for k in records]
        assert keys == sorted(keys) and rows == len(keys) == 3000
        assert (first, last_id) == (keys[0], keys[-1]) and actor == "importer"
        seen.update({int(k): v for k, v in records.items()})
    assert seen == expected
    with crm.open(path) as db:
        assert db.audit_check().empty


def test_history_reads_a_record_s_part_of_its_entry(upserted):
    path, ids, before, after, _ = upserted
    expected = _expected(before, after, ids)
    with crm.open(path) as db:
        one = ids[1234]
        log = db.audit_log(limit=100, about=[one])
        mine = log[log["op"] == "update"]
        assert len(mine) == 1 and mine["changes"].iat[0] == {"records": {str(one): expected[one]}}
        # An unchanged record inside the entry's range of ids: the entry is not about it.
        quiet = ids[N + 10]
        assert (db.audit_log(limit=100, about=[quiet])["op"] != "update").all()
        # The history automation previews read: every record's region change.
        history = _preview.changes(db, "customers", ["region"])
        moved = {i: c["region"] for i, c in expected.items() if "region" in c}
        assert len(history) == len(moved)
        assert {r.record_id: [r.old, r.new] for r in history.itertuples()} == moved
        person = json.loads(db.export_person(one))
        updates = [e for e in person["audit"] if e["op"] == "update"]
        assert [e["changes"] for e in updates] == [{"records": {str(one): expected[one]}}]


def test_a_record_inside_an_entry_s_range_but_not_in_it_is_not_its_subject(tmp_path):
    # Every other record changes: the unchanged ones lie inside the entries' ranges.
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        ids = [int(i) for i in db.import_frame("customers", _frame(1000), progress=False)]
        edited = _frame(1000).iloc[::2].assign(region="South")
        edited = edited[_frame(1000).iloc[::2]["region"] != "South"]
        db.import_frame("customers", edited, mode="upsert", progress=False)
        entry = db.audit_log(limit=1)
        assert entry["op"].iat[0] == "update" and entry["rows"].iat[0] == len(edited) >= 256
        assert (db.audit_log(limit=100, about=[ids[1]])["op"] != "update").all()


def test_erasure_takes_their_part_out_of_the_entry_and_keeps_the_others(upserted):
    path, ids, before, after, last = upserted
    expected = _expected(before, after, ids)
    person, mentioner = ids[7], ids[5]  # the mentioner's new address names the person's new phone
    entries_before = dict(_raw(path, "SELECT seq, changes FROM audit_log WHERE seq > ? AND op = 'update'", last))
    with crm.open(path, actor="dpo") as db:
        report = db.erase_person(person)
        assert report["audit_entries"] >= 1
        problems = db.audit_check()
        assert problems.empty, problems
    entries_after = dict(_raw(path, "SELECT seq, changes FROM audit_log WHERE seq > ? AND op = 'update'", last))
    kept = {}
    for seq, text in entries_after.items():
        records = json.loads(text)["records"]
        if str(person) not in json.loads(entries_before[seq])["records"]:
            assert text == entries_before[seq]  # an entry that did not hold them stays as it was
        kept.update({int(k): v for k, v in records.items()})
    assert set(expected) - set(kept) == {person, mentioner}
    assert all(kept[i] == expected[i] for i in kept)
    for secret in ("13900000007", "13800000007", "customer 7"):
        assert all(secret not in text for text in entries_after.values())


def test_audit_check_reports_one_value_changed_in_an_entry_or_in_a_record(upserted):
    path, ids, before, after, last = upserted
    seq = _raw(path, "SELECT min(seq) FROM audit_log WHERE seq > ? AND op = 'update'", last)[0][0]
    record = ids[100]
    for_log = path + ".log.crm"
    for_record = path + ".record.crm"
    for copy in (for_log, for_record):
        with contextlib.closing(sqlite3.connect(path)) as src, contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
    new_phone = after[record]["phone"]
    with contextlib.closing(sqlite3.connect(for_log)) as raw:
        raw.execute("UPDATE audit_log SET changes = replace(changes, ?, ?) WHERE seq = ?",
                    (f'"{new_phone}"', '"13911111111"', seq))
        raw.commit()
    with crm.open(for_log) as db:
        problems = db.audit_check()
    # The digest of the entry's changes, and the record against what the entry now says.
    assert set(problems.index) == {seq} and "its changes were altered" in problems["reason"].iat[0]
    # The records against the log: a changed record's phone edited behind crmcore's back.
    with contextlib.closing(sqlite3.connect(for_record)) as raw:
        raw.execute("UPDATE customers SET phone = '13922222222' WHERE id = ?", (record,))
        raw.commit()
    with crm.open(for_record) as db:
        problems = db.audit_check()
    assert list(problems.index) == [seq], problems
    reason = problems["reason"].iat[0]
    assert f"customers {record}, field 'phone'" in reason and "13922222222" in reason and new_phone in reason


def test_a_small_upsert_keeps_an_entry_per_record(tmp_path):
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        db.import_frame("customers", _frame(300), progress=False)
        last = int(db.audit_log(limit=1).index[0])
        db.import_frame("customers", _frame(255, phone="139"), mode="upsert", progress=False)
        log = db.audit_log(limit=1000)
        log = log[log.index > last]
        assert len(log) == 255 and (log["rows"] == 1).all() and (log["first_id"] == log["last_id"]).all()


def test_rules_changing_some_upserted_records_give_those_an_entry_each(tmp_path):
    # Moving a deal's stage makes the stage rules set its probability: those
    # deals' changes combine the upsert's and the rule's (an entry each);
    # the renamed ones, which no rule touches, share entries.
    path = str(tmp_path / "s.crm")
    n = 600
    with crm.open(path) as db:
        c = db.add("customers", name="Acme")
        base = pd.DataFrame({"external_source": "crm", "external_id": [f"D{i}" for i in range(n)],
                             "customer_id": c, "name": [f"d{i}" for i in range(n)], "stage": "lead",
                             "amount": 100.0, "stage_changed_at": "2024-01-01"})
        ids = [int(i) for i in db.import_frame("deals", base, progress=False)]
    columns = ["name", "stage", "probability", "closed_at", "stage_changed_at"]
    read = f"SELECT id, {', '.join(columns)} FROM deals ORDER BY id"
    before = {r[0]: dict(zip(columns, r[1:])) for r in _raw(path, read)}
    last = _raw(path, "SELECT max(seq) FROM audit_log")[0][0]
    moved = base.assign(name=[f"d{i} renamed" if i % 2 else f"d{i}" for i in range(n)],
                        stage=["lead" if i % 2 else "qualified" for i in range(n)],
                        stage_changed_at=["2024-01-01" if i % 2 else "2024-02-01" for i in range(n)])
    with crm.open(path) as db:
        db.import_frame("deals", moved, mode="upsert", progress=False)
        assert db.audit_check().empty
    after = {r[0]: dict(zip(columns, r[1:])) for r in _raw(path, read)}
    expected = {i: {c: [before[i][c], after[i][c]] for c in columns if before[i][c] != after[i][c]} for i in ids}
    assert all("probability" in expected[i] for i in ids[::2]) and all(
        expected[i].keys() == {"name"} for i in ids[1::2])
    seen, listed, single = {}, set(), set()
    for first, last_id, text in _raw(path, "SELECT first_id, last_id, changes FROM audit_log WHERE seq > ? AND"
                                           " kind = 'deals' AND op = 'update'", last):
        changes = json.loads(text)
        if first == last_id and "records" not in changes:
            seen[first] = changes
            single.add(first)
        else:
            seen.update({int(k): v for k, v in changes["records"].items()})
            listed.update(int(k) for k in changes["records"])
    assert seen == expected
    # Interleaved as they are, the renamed deals still share an entry.
    assert listed == set(ids[1::2]) and single == set(ids[::2])


def test_a_merge_of_upserted_records_undoes_after_the_entries(upserted):
    path, ids, before, after, _ = upserted
    with crm.open(path) as db:
        keep, other = ids[10], ids[11]
        merge = db.merge("customers", keep, [other])
        assert db.audit_check().empty
        db.unmerge(merge)
        assert db.get("customers", other)["phone"] == after[other]["phone"]
        assert db.get("customers", keep)["phone"] == after[keep]["phone"]
        assert db.audit_check().empty


def test_about_with_a_limit_is_not_shortened_by_entries_that_only_span_the_record(tmp_path):
    # Record ids[1] is inside the range of the upsert entries but unchanged;
    # its own entries are older. limit=1 must still give its newest one
    # (the core's limit counted the spanning entry, which is then dropped).
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        ids = [int(i) for i in db.import_frame("customers", _frame(1000), progress=False)]
        db.update("customers", ids[1], region="Mars")
        edited = _frame(1000).iloc[::2].assign(region="South")
        edited = edited[_frame(1000).iloc[::2]["region"] != "South"]
        db.import_frame("customers", edited, mode="upsert", progress=False)
        mine = db.audit_log(limit=1, about=[ids[1]])
        assert len(mine) == 1
        assert mine["op"].iat[0] == "update" and mine["changes"].iat[0]["region"][1] == "Mars"
        assert len(db.audit_log(limit=2, about=[ids[1]])) == 2  # the update and the import


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_cores_limit_counts_only_the_run_entries_holding_the_record(tmp_path, engine, request):
    # Six large upserts (a run entry each, spanning ids[0]..ids[998]); only the
    # fourth changes ids[1]. The core's one query with limit 3 must give that
    # run, the record's own update and the import: not the newest runs, which
    # only span it (the Python layer used to ask again with a doubled limit).
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        ids = [int(i) for i in db.import_frame("customers", _frame(1000), progress=False)]
        one = ids[1]
        db.update("customers", one, region="Mars")
        for run in range(6):
            rows = _frame(1000).iloc[::2] if run != 3 else _frame(1000).iloc[:400]
            db.import_frame("customers", rows.assign(region=f"R{run}"), mode="upsert", progress=False)
        runs = db.audit_log(limit=10)
        assert (runs["op"].iloc[:6] == "update").all() and (runs["rows"].iloc[:6] >= 256).all()
        assert (runs["first_id"].iloc[:6] <= one).all() and (runs["last_id"].iloc[:6] >= one).all()
    url = path
    if engine == "postgresql":
        if not crm._core.have_postgres():
            pytest.skip("this crmcore was built without libpq")
        url = request.getfixturevalue("postgres_url")
        crm.copy(path, url)  # the run entries come along as they are
    with crm.open(url) as db:
        core = db._audit_entries(3, [one])  # the core's answer, before any narrowing
        assert len(core) == 3
        assert core["op"].tolist() == ["update", "update", "insert"]
        assert str(one) in core["changes"].iat[0]["records"] and core["rows"].iat[0] == 400
        assert core["changes"].iat[1] == {"region": [_frame(1000)["region"].iat[1], "Mars"]}
        mine = db.audit_log(limit=3, about=[one])
        assert mine.index.tolist() == core.index.tolist()
        assert mine["changes"].iat[0] == {"records": {str(one): {"region": ["Mars", "R3"]}}}
        # A limit below what exists gives the newest of them, again exactly.
        assert db._audit_entries(1, [one]).index.tolist() == core.index[:1].tolist()
        # Records no run holds (odd ids past the fourth's 400): the import alone.
        assert db._audit_entries(10, [ids[999], ids[401]])["op"].tolist() == ["insert"]


def test_an_entry_s_text_is_sqlite_s_json_for_every_kind_of_value(tmp_path):
    """The upsert writes each record's {field: [old, new]} itself (SQLite's
    json_array only for reals and text JSON escapes): byte for byte what
    SQLite's json_array gives for the values read before and after (the
    reference), for text with quotes, backslashes, control characters and
    Chinese, reals, whole numbers in a REAL column, and missing values; a
    whole number equal to the real it replaces is no change."""
    path = str(tmp_path / "s.crm")
    n = 300  # one entry for the whole run (256 or more changed records)
    names = ['quote " here', "back\\slash", "new\nline", "tab\there", "bell\x07", "华北 客户", "plain"]
    old = pd.DataFrame({
        "external_source": "erp",
        "external_id": [f"P{i:04d}" for i in range(n)],
        "sku": [f"S{i:04d}" for i in range(n)],
        "name": [f"{names[i % len(names)]} {i}" for i in range(n)],
        "list_price": [float(i) + (0.5 if i % 3 else 0.0) for i in range(n)],
        "unit_cost": [None if i % 4 == 0 else 0.1 * i for i in range(n)],
    })
    new = old.copy()
    new["name"] = [f"{names[(i + (i % 5 > 0)) % len(names)]} {i}" for i in range(n)]  # every fifth kept
    # Every third price a whole number given as an int: the same value when it was i.0.
    new["list_price"] = [i if i % 3 == 0 else float(i) + 1e-7 for i in range(n)]
    new["list_price"] = new["list_price"].astype(object)
    new["unit_cost"] = [1e300 if i % 4 == 0 else (None if i % 4 == 1 else 0.1 * i) for i in range(n)]
    columns = ["name", "list_price", "unit_cost"]
    with crm.open(path) as db:
        ids = [int(i) for i in db.import_frame("products", old, progress=False)]
        last = int(db.audit_log(limit=1).index[0])
        stamps = db.frame("products")["updated_at"]
        db.import_frame("products", new, mode="upsert", progress=False)
        after_stamps = db.frame("products")["updated_at"]
    entries = _raw(path, "SELECT changes FROM audit_log WHERE seq > ? AND op = 'update'", last)
    assert len(entries) == 1
    text = entries[0][0]
    with contextlib.closing(sqlite3.connect(":memory:")) as con:
        def json_array(a, b):
            return con.execute("SELECT json_array(?, ?)", (a, b)).fetchone()[0]

        changed = 0
        for i, record in enumerate(ids):
            parts = []
            for c in columns:
                a = old.loc[i, c]
                b = new.loc[i, c]
                a = None if a is None or (isinstance(a, float) and np.isnan(a)) else a
                b = None if b is None or (isinstance(b, float) and np.isnan(b)) else b
                if c != "name":  # as the REAL column holds them
                    a = None if a is None else float(a)
                    b = None if b is None else float(b)
                if a != b:
                    parts.append(f'"{c}":' + json_array(a, b))
            if not parts:
                assert f'"{record}":' not in text
                assert after_stamps[record] == stamps[record]  # not written
                continue
            changed += 1
            assert f'"{record}":{{' + ",".join(parts) + "}" in text
    assert 256 <= changed < n
    with crm.open(path) as db:
        assert db.audit_check().empty


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_limit_of_none_gives_every_entry_on_both_engines(tmp_path, engine, request):
    # None is "every entry" (the core's -1); PostgreSQL refused the negative
    # LIMIT ("LIMIT must not be negative") where SQLite read it as no bound.
    url = str(tmp_path / "s.crm")
    if engine == "postgresql":
        if not crm._core.have_postgres():
            pytest.skip("this crmcore was built without libpq")
        url = request.getfixturevalue("postgres_url")
    with crm.open(url) as db:
        ids = [db.add("customers", name=f"c{i}") for i in range(5)]
        db.update("customers", ids[0], region="East")
        everything = db.audit_log(None)
        assert len(everything) >= 6 and len(everything) == len(db.audit_log(10_000))
        assert db.audit_log(None, about=[ids[0]])["op"].tolist() == ["update", "insert"]
