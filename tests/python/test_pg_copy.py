"""crm.copy: a whole store moved between a SQLite file and a PostgreSQL schema
(a real server, tests/python/pg_server.py), checked table by table with
independent clients (sqlite3, psycopg) and with the audit chain's own check."""
import sqlite3

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")

KINDS = [k["name"] for k in _core.kinds()]
# The store's own tables beside the kinds' (the id sequence is compared through the next id).
OWN_TABLES = ["meta", "contact_points", "record_tags", "audit_log", "custom_fields", "allowed_values", "value_labels"]


def _schema(url):
    return url.rsplit("schema=", 1)[1]


def _source(path):
    """A store with a bit of everything the copy must carry: records of
    several kinds with phones, tags and links, a declared custom field, an
    allowed value with labels, updates and a deletion in the audit log, and
    an id sequence past the largest id (the deleted record's)."""
    rng = np.random.default_rng(3)
    with crm.open(path) as db:
        db.declare_custom("customers", "signed", "time")
        db.allow("orders", "status", "cancelled", labels={"zh": "已取消"})
        cids = db.import_frame("customers", pd.DataFrame({
            "name": [f"Kunde {i} 客户" for i in range(20)],
            "phone": [f"+49 30 {2000000 + i}" if i % 2 else None for i in range(20)],
            "region": rng.choice(["north", "south"], 20),
        }))
        db.import_frame("orders", pd.DataFrame({
            "customer_id": rng.choice(cids, 60),
            "ordered_at": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 5000, 60), unit="h"),
            "amount": rng.gamma(2.0, 40.0, 60).round(2),
            "status": rng.choice(["cancelled", None], 60),
        }))
        db.update("customers", int(cids[0]), tags=["vip", "north"], custom={"signed": "2025-01-05"})
        db.link(int(cids[1]), int(cids[0]), "referred")
        gone = db.add("customers", name="short-lived")
        db.delete("customers", gone)
        return gone


def _rows(table, read):
    """A table's rows, sorted, with column names (NaN and None alike)."""
    cols, rows = read(table)
    frame = pd.DataFrame(rows, columns=cols).astype(object).where(lambda f: f.notna(), None)
    return frame[sorted(frame.columns)].sort_values(sorted(frame.columns), key=lambda s: s.astype(str)) \
        .reset_index(drop=True)


# The meta key only PostgreSQL's stores write (the copy keeps the destination's own).
ENGINE_KEY = "WHERE key NOT IN ('engine', 'pg_capture')"


def _sqlite_reader(path):
    def read(table):
        with sqlite3.connect(path) as con:
            cur = con.execute(f"SELECT * FROM {table} {ENGINE_KEY if table == 'meta' else ''}")
            out = [d[0] for d in cur.description], cur.fetchall()
        con.close()
        return out
    return read


def _pg_reader(dsn, schema):
    def read(table):
        with psycopg.connect(dsn) as con:
            cur = con.execute(f"SELECT * FROM {schema}.{table} {ENGINE_KEY if table == 'meta' else ''}")
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        if "rowid" in names:  # SQLite's implicit rowid is a column on PostgreSQL
            keep = [i for i, n in enumerate(names) if n != "rowid"]
            names = [names[i] for i in keep]
            rows = [tuple(r[i] for i in keep) for r in rows]
        return names, rows
    return read


def _same_tables(read_a, read_b, tables):
    for table in tables:
        pd.testing.assert_frame_equal(_rows(table, read_a), _rows(table, read_b), check_dtype=False, obj=table)


def test_sqlite_to_postgresql_and_back_keeps_every_row_and_the_audit_chain(tmp_path, postgres_server, postgres_url):
    src = str(tmp_path / "src.crm")
    gone = _source(src)
    report = crm.copy(src, postgres_url)
    assert report["rows"] > 0 and report["tables"] >= 8
    pg = _pg_reader(postgres_server.dsn, _schema(postgres_url))
    # Every table as is, compared by independent clients on both sides.
    _same_tables(_sqlite_reader(src), pg, KINDS + OWN_TABLES)
    with psycopg.connect(postgres_server.dsn) as c:
        next_id = c.execute(f"SELECT nextval('{_schema(postgres_url)}.crm_ids')").fetchone()[0]
    assert next_id == gone + 1  # past the deleted record's id, as SQLite's sequence stood
    # crmcore reads the copy as the original.
    with crm.open(src) as a, crm.open(postgres_url) as b:
        for kind in KINDS:
            pd.testing.assert_frame_equal(a.frame(kind), b.frame(kind), obj=kind)
    # Back to a file: equal again, and the chain verifies there (audit_check
    # itself does not run on PostgreSQL yet; the log's rows are equal above).
    back = str(tmp_path / "back.crm")
    crm.copy(postgres_url, back)
    _same_tables(_sqlite_reader(src), _sqlite_reader(back), KINDS + OWN_TABLES)
    with crm.open(back) as db:
        assert db.audit_check().empty


def test_the_id_sequence_continues_past_the_largest_id(tmp_path, postgres_url):
    src = str(tmp_path / "src.crm")
    gone = _source(src)
    crm.copy(src, postgres_url)
    back = str(tmp_path / "back.crm")
    crm.copy(postgres_url, back)
    with crm.open(back) as db:
        assert db.add("customers", name="next") == gone + 1


def test_sqlite_to_sqlite_keeps_the_indexes_made_on_custom_fields(tmp_path):
    src, dst = str(tmp_path / "a.crm"), str(tmp_path / "b.crm")
    _source(src)
    with crm.open(src) as db:
        assert db.create_index("customers", "custom.signed")
    crm.copy(src, dst)
    _same_tables(_sqlite_reader(src), _sqlite_reader(dst), KINDS + OWN_TABLES)
    with crm.open(dst) as db:
        assert "custom.signed" in db.indexes("customers")
        assert db.audit_check().empty


def test_a_destination_that_holds_records_is_refused_and_left_as_it_was(tmp_path, postgres_url):
    src = str(tmp_path / "src.crm")
    _source(src)
    dst = str(tmp_path / "dst.crm")
    with crm.open(dst) as db:
        db.add("customers", name="mine")
    with pytest.raises(crm.StorageError, match="not empty"):
        crm.copy(src, dst)
    with crm.open(dst) as db:
        assert db.frame("customers")["name"].tolist() == ["mine"]
    crm.copy(src, postgres_url)
    with pytest.raises(crm.StorageError, match="not empty"):
        crm.copy(src, postgres_url)


def test_a_source_at_another_schema_version_is_refused_and_no_file_is_made(tmp_path):
    from old_store import downgrade
    src = str(tmp_path / "old.crm")
    _source(src)
    downgrade(src, 17)
    dst = tmp_path / "dst.crm"
    with pytest.raises(crm.StorageError, match="older crmcore store"):
        crm.copy(src, str(dst))
    assert not dst.exists()


def test_a_copy_that_fails_midway_leaves_nothing_behind(tmp_path, postgres_server, postgres_url):
    # An order whose customer is missing (written around crmcore, with the
    # file's references unchecked) is refused by the destination's checks
    # once all rows are in: nothing of the copy may remain.
    src = str(tmp_path / "src.crm")
    _source(src)
    with sqlite3.connect(src) as con:
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("UPDATE orders SET customer_id = 999999 WHERE id = (SELECT max(id) FROM orders)")
    dst = tmp_path / "dst.crm"
    with pytest.raises(crm.Error):
        crm.copy(src, str(dst))
    assert not dst.exists()
    with pytest.raises(crm.Error):
        crm.copy(src, postgres_url)
    with psycopg.connect(postgres_server.dsn) as c:
        counts = [c.execute(f"SELECT count(*) FROM {_schema(postgres_url)}.{t}").fetchone()[0]
                  for t in ("customers", "orders", "audit_log")]
    assert counts == [0, 0, 0]


def test_a_store_is_not_copied_onto_itself_or_into_memory(tmp_path):
    src = str(tmp_path / "src.crm")
    with crm.open(src):
        pass
    with pytest.raises(crm.StorageError, match="onto itself"):
        crm.copy(src, src)
    with pytest.raises(crm.StorageError, match="memory"):
        crm.copy(src, ":memory:")


MERGE_TABLES = ["merge_log", "key_aliases"]


def test_merges_and_their_aliases_go_both_ways_and_still_undo(tmp_path, postgres_server, postgres_url):
    src = str(tmp_path / "src.crm")
    _source(src)
    with crm.open(src) as db:
        ids = [int(i) for i in db.import_frame("customers", pd.DataFrame({
            "external_source": ["erp"] * 4, "external_id": ["M1", "M2", "M3", "M4"], "name": ["A", "a", "B", "b"]}),
            mode="upsert").ids]
        in_force = db.merge("customers", ids[0], [ids[1]])
        db.unmerge(db.merge("customers", ids[2], [ids[3]]))  # an undone merge comes along as undone
        merges = db.merges()
    crm.copy(src, postgres_url)
    pg = _pg_reader(postgres_server.dsn, _schema(postgres_url))
    _same_tables(_sqlite_reader(src), pg, MERGE_TABLES)
    with crm.open(postgres_url) as db:
        pd.testing.assert_frame_equal(db.merges(), merges)
        # The alias names the kept record there; the merge undoes there; a
        # new merge is numbered after the copied ones.
        week = pd.DataFrame({"external_source": ["erp"], "external_id": ["M2"], "region": ["East"]})
        assert db.import_frame("customers", week, mode="upsert").ids.tolist() == [ids[0]]
        db.unmerge(in_force)
        assert len(db.find("customers", external_id=["M1", "M2"])) == 2
        assert db.merge("customers", ids[2], [ids[3]]) == max(merges.index) + 1
        assert db.audit_check().empty
    back = str(tmp_path / "back.crm")
    crm.copy(postgres_url, back)
    _same_tables(pg, _sqlite_reader(back), KINDS + OWN_TABLES + MERGE_TABLES)
    with sqlite3.connect(back) as con:  # PostgreSQL's own meta keys stay behind
        keys = {k for (k,) in con.execute("SELECT key FROM meta")}
    con.close()
    assert "schema_version" in keys and not keys & {"engine", "pg_capture"}
    with crm.open(back) as db:
        assert db.audit_check().empty and len(db.merges()) == 3
