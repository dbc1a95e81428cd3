"""A store on PostgreSQL (crm.open("postgresql://...")), against a real server
(tests/python/pg_server.py), checked with an independent client (psycopg) and
against the same store on SQLite."""
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")


def _schema(url):
    return url.rsplit("schema=", 1)[1]


def _columns(dsn, schema):
    """Every table's columns in the schema, read through psycopg."""
    with psycopg.connect(dsn) as c:
        rows = c.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
                         (schema,)).fetchall()
    out: dict = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def test_a_new_store_has_every_kind_with_the_columns_sqlite_gives_it(postgres_server, postgres_url):
    with crm.open(postgres_url) as db:
        assert db._store.schema_version() == crm.open()._store.schema_version()
    tables = _columns(postgres_server.dsn, _schema(postgres_url))
    with crm.open() as lite:
        for kind in _core.kinds():
            name = kind["name"]
            expected = {"id", *lite.frame(name).columns}
            assert tables[name] == expected, name


def test_the_default_pipeline_is_seeded_as_on_sqlite(postgres_url):
    columns = ["pipeline_id", "name", "position", "probability", "category", "labels"]
    with crm.open(postgres_url) as db, crm.open() as lite:
        got = db.frame("pipeline_stages", columns=columns)
        want = lite.frame("pipeline_stages", columns=columns)
        pd.testing.assert_frame_equal(got, want)
        assert db.count("pipelines") == 1


def test_reopening_keeps_the_store_and_two_schemas_are_two_stores(postgres_server, postgres_url):
    with crm.open(postgres_url):
        pass
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"INSERT INTO {_schema(postgres_url)}.meta VALUES ('marker', 'kept')")
    other = postgres_url + "_other"
    with crm.open(postgres_url) as db, crm.open(other) as db2:
        assert db.count("pipelines") == 1 and db2.count("pipelines") == 1
    with psycopg.connect(postgres_server.dsn) as c:
        marks = c.execute(f"SELECT count(*) FROM {_schema(postgres_url)}.meta WHERE key = 'marker'").fetchone()[0]
        others = c.execute(f"SELECT count(*) FROM {_schema(other)}.meta WHERE key = 'marker'").fetchone()[0]
    assert (marks, others) == (1, 0)


def test_a_schema_holding_another_program_s_tables_is_left_alone(postgres_server, postgres_url):
    schema = _schema(postgres_url)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
        c.execute(f"CREATE TABLE {schema}.payroll (id int8)")
    with pytest.raises(crm.StorageError, match="not a crmcore store"):
        crm.open(postgres_url)
    with psycopg.connect(postgres_server.dsn) as c:
        tables = c.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                           (schema,)).fetchall()
    assert tables == [("payroll",)]


def test_a_schema_named_in_capitals_is_the_same_store_when_opened_again(postgres_url):
    # The server folds the unquoted name to lower case; the second open
    # looked for the store under the name as given, found none and failed
    # making it again ("relation meta already exists").
    url = postgres_url.replace("schema=t_", "schema=T_Caps")
    with crm.open(url) as db:
        db.add("customers", name="Acme")
    with crm.open(url) as db:
        assert db.count("customers") == 1


def test_a_read_only_open_of_a_new_schema_creates_nothing(postgres_server, postgres_url):
    with pytest.raises(crm.StorageError, match="read-only open cannot create"):
        crm.open(postgres_url, readonly=True)
    with psycopg.connect(postgres_server.dsn) as c:
        found = c.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                          (_schema(postgres_url),)).fetchall()
    assert found == []


def test_a_schema_name_that_is_not_an_identifier_is_refused(postgres_server):
    with pytest.raises((crm.StorageError, ValueError)):
        crm.open(postgres_server.url + "&schema=a;drop")


def test_a_server_that_is_not_there_is_a_storage_error():
    with pytest.raises(crm.StorageError):
        crm.open("postgresql://crm@127.0.0.1:1/postgres?connect_timeout=2&schema=x")


def test_two_processes_creating_one_store_at_once_make_it_once(postgres_url):
    import concurrent.futures
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        counts = list(pool.map(_open_and_count, [postgres_url] * 4))
    assert counts == [6] * 4


def _open_and_count(url):
    with crm.open(url) as db:
        return db.count("pipeline_stages")


# -- reads: rows put in by psycopg, read by crmcore, compared with SQLite -------------------------
def _twin(tmp_path, postgres_server, url):
    """The same customers and orders in a SQLite store (written by crmcore) and
    in a PostgreSQL store (its rows copied over by psycopg: writes through
    crmcore do not run on PostgreSQL yet)."""
    import sqlite3
    import numpy as np
    rng = np.random.default_rng(7)
    path = str(tmp_path / "twin.crm")
    lite = crm.open(path)
    customers = pd.DataFrame({
        "name": [f"Kunde {i} 客户" for i in range(38)] + ["Ärger GmbH", "ärger KG"],
        "region": rng.choice(["north", "south", "east"], 40),
        "phone": [f"+49 30 {1000000 + i}" if i % 3 else None for i in range(40)],
    })
    cids = lite.import_frame("customers", customers)
    orders = pd.DataFrame({
        "customer_id": rng.choice(cids, 300),
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, 300), unit="h"),
        "amount": rng.gamma(2.0, 50.0, 300).round(2),
        "channel": rng.choice(["web", "shop", None], 300),
    })
    lite.import_frame("orders", orders)
    lite.update("customers", int(cids[0]), tags=["vip", "a;b"])
    for a, b in rng.choice(cids, (25, 2)):
        if a != b:
            lite.link(int(a), int(b), "referred")
    for child in cids[30:36]:
        lite.link(int(child), int(cids[0]), "subsidiary_of")
    db = crm.open(url)
    with sqlite3.connect(path) as src, psycopg.connect(postgres_server.dsn) as dst:
        for table in ("customers", "orders", "links", "contact_points", "record_tags"):
            cur = src.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            with dst.cursor().copy(f"COPY {_schema(url)}.{table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    return lite, db


def test_frames_read_from_postgresql_equal_sqlite_s(tmp_path, postgres_server, postgres_url):
    lite, db = _twin(tmp_path, postgres_server, postgres_url)
    for kind in ("customers", "orders"):
        pd.testing.assert_frame_equal(db.frame(kind), lite.frame(kind))
        assert db.count(kind) == lite.count(kind)
    some = [int(i) for i in lite.frame("orders").index[[250, 3, 120, 7]]]
    pd.testing.assert_frame_equal(db.frame("orders", ids=some), lite.frame("orders", ids=some))


def test_finds_with_filters_order_and_limits_equal_sqlite_s(tmp_path, postgres_server, postgres_url):
    lite, db = _twin(tmp_path, postgres_server, postgres_url)
    cid = int(lite.frame("customers").index[5])
    cases = [
        dict(kind="orders", customer_id=cid),
        dict(kind="orders", channel=["web", None], order_by="-amount", limit=17, offset=3),
        dict(kind="customers", region="south", order_by="name"),
        dict(kind="orders", filters=[("amount", ">=", 120.0), ("channel", "==", "shop")], order_by="ordered_at"),
        dict(kind="orders", customer_id=list(lite.frame("customers").index[:30]), limit=400),
    ]
    for case in cases:
        kind = case.pop("kind")
        pd.testing.assert_frame_equal(db.find(kind, **case), lite.find(kind, **case))


def _writes(db):
    """The same record writes, on either engine; returns the ids they gave."""
    a = db.add("customers", name="Acme", email="Info@Acme.example", tags=["vip"])
    ids = list(db.import_frame("customers", pd.DataFrame({"name": ["B", "C"], "external_id": ["e1", "e2"],
                                                          "region": ["north", None]})))
    db.update("customers", a, name="Acme 2", region="south")
    skipped = db.import_frame("customers", pd.DataFrame({"name": ["D", "E"], "external_id": ["e1", "e3"]}),
                              on_error="skip")
    db.import_frame("customers", pd.DataFrame({"name": ["B 2", "F"], "external_id": ["e1", "e9"]}),
                    mode="upsert", key="external_id")
    db.import_frame("customers", pd.DataFrame({"external_id": ["e2"], "region": ["west"]}),
                    mode="update", key="external_id")
    c = db.add("contacts", name="Bo", phone="+49 30 1234567")
    o = db.add("orders", customer_id=ids[0], amount=12.5, channel="web", ordered_at="2026-01-02")
    db.delete("customers", a)
    db.delete_many("customers", [ids[0]], dependants="delete")  # its order goes with it, in the log as on SQLite
    return [a, *ids, c, o], skipped


def test_record_writes_give_what_they_give_on_sqlite(tmp_path, postgres_url):
    """add, import (skip), update, upsert, update by key, delete: the same records, the same audit entries
    (their changes as SQLite writes them), and a chain that verifies; phones and e-mails found again."""
    with crm.open(postgres_url) as db, crm.open(str(tmp_path / "lite.crm")) as lite:
        got_ids, got_skipped = _writes(db)
        want_ids, want_skipped = _writes(lite)
        assert got_ids == want_ids  # ids from the sequence, as SQLite's id_sequence gives them
        pd.testing.assert_frame_equal(got_skipped.errors, want_skipped.errors)
        drop = ["created_at", "updated_at"]
        pd.testing.assert_frame_equal(db.frame("customers").drop(columns=drop), lite.frame("customers").drop(columns=drop))
        pd.testing.assert_frame_equal(db.frame("contacts").drop(columns=drop), lite.frame("contacts").drop(columns=drop))
        assert list(db.find("contacts", phone="+49 30 1234567").index) == [got_ids[-2]]
        assert db.count("orders") == 0
        cols = ["op", "kind", "first_id", "last_id", "rows", "cause_id", "changes"]
        pd.testing.assert_frame_equal(db.audit_log()[cols].reset_index(drop=True),
                                      lite.audit_log()[cols].reset_index(drop=True))
        assert db.audit_check().empty


def test_a_change_made_behind_crmcore_s_back_breaks_the_chain(postgres_server, postgres_url):
    with crm.open(postgres_url) as db:
        cid = db.add("customers", name="Acme")
        db.update("customers", cid, name="Acme 2")
        assert db.audit_check().empty
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"UPDATE {_schema(postgres_url)}.audit_log SET kind = 'orders' WHERE op = 'update'")
    with crm.open(postgres_url) as db:
        assert not db.audit_check().empty


def test_the_audit_log_has_no_gaps_after_rolled_back_writes(postgres_url):
    """PostgreSQL's identity column hands out numbers a rollback does not
    take back: the seal numbers the entries itself, so a dry run or a
    refused write between two writes leaves no gap for audit_check to
    report as deleted entries (it did)."""
    with crm.open(postgres_url) as db:
        cid = db.add("customers", name="Acme")
        db.import_frame("customers", pd.DataFrame({"name": ["dry"]}), dry_run=True)
        with pytest.raises(crm.ValidationError):
            db.add("orders", customer_id=cid)  # no amount, no date
        db.add("customers", name="Beta")
        assert db.audit_check().empty
        assert sorted(db.audit_log().index) == [1, 2]


def test_the_ledger_rules_run_there_and_refuse_what_they_refuse_on_sqlite(postgres_url):
    # (Automation's rules run there too: test_pg_automation.py.)
    with crm.open(postgres_url) as db:
        cid = db.add("customers", name="Acme")
        oid = db.add("orders", customer_id=cid, amount=10.0, ordered_at="2026-01-02")
        db.update("orders", oid, amount=5.0)
        db.add("payments", customer_id=cid, order_id=oid, amount=5.0, paid_at="2026-01-03")
        with pytest.raises(crm.ValidationError, match="exceed what is open on order"):
            db.add("payments", customer_id=cid, order_id=oid, amount=1.0, paid_at="2026-01-04")
        assert (db.count("payments"), db.frame("orders")["amount"].tolist()) == (1, [5.0])
        assert db.audit_check().empty


def test_substring_and_contact_finds_equal_sqlite_s(tmp_path, postgres_server, postgres_url):
    lite, db = _twin(tmp_path, postgres_server, postgres_url)
    cases = [
        dict(kind="customers", name="kunde 1"),  # case-blind for ASCII letters
        dict(kind="customers", name="客户", order_by="-name", limit=5),
        dict(kind="customers", filters=[("name", "contains", "de 2")]),
        dict(kind="customers", filters=[("name", "startswith", "Kunde 3")]),
        dict(kind="customers", filters=[("name", "icontains", "KUNDE 1"), ("region", "in", ["north", "east"])]),
        dict(kind="customers", phone="+49 30 1000004"),
        dict(kind="customers", phone=["+49 30 1000005", "+49 30 1000007", None]),
        dict(kind="customers", name="ärger"),  # other scripts compare exactly, as SQLite's LIKE does
        dict(kind="customers", name=[]),
    ]
    for case in cases:
        kind = case.pop("kind")
        got, want = db.find(kind, **case), lite.find(kind, **case)
        pd.testing.assert_frame_equal(got, want)
        assert len(want) or case.get("name") == [], case



def test_text_orders_as_on_sqlite_whatever_the_database_s_collation(postgres_server, postgres_url):
    name = "icu_" + _schema(postgres_url)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        try:
            c.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C'")
        except psycopg.Error as e:  # a server built without ICU
            pytest.skip(f"no ICU collation on this server: {e}")
    url = postgres_url.replace("/postgres?", f"/{name}?")
    names = ["b", "B", "a", "A", "é", "Z", "ä"]
    with crm.open(url) as db, crm.open() as lite:
        with psycopg.connect(postgres_server.dsn.replace("dbname=postgres", f"dbname={name}")) as c:
            icu = [r[0] for r in c.execute("SELECT x FROM unnest(%s::text[]) AS x ORDER BY x", (names,))]
        assert icu != sorted(names)  # the database's own order differs from bytes
        schema = _schema(url)
        with psycopg.connect(postgres_server.dsn.replace("dbname=postgres", f"dbname={name}")) as c:
            for i, n in enumerate(names):
                c.execute(f"INSERT INTO {schema}.customers(id, name, created_at, updated_at) VALUES (%s, %s, 0, 0)",
                          (100 + i, n))
        for n in names:
            lite.add("customers", name=n)
        got = db.find("customers", filters=[("name", ">=", "A")], order_by="name")["name"].tolist()
        assert got == lite.find("customers", filters=[("name", ">=", "A")], order_by="name")["name"].tolist()
        assert got == sorted(names)


def test_a_password_in_the_url_stays_out_of_reprs_and_messages(postgres_server, postgres_url):
    # The test server trusts every local user, so any password opens it.
    url = postgres_url.replace("postgresql://crm@", "postgresql://crm:s3cret-pw@")
    with crm.open(url) as db:
        assert "s3cret-pw" not in repr(db) and "crm:***@" in repr(db)
    schema = _schema(url)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"DELETE FROM {schema}.meta WHERE key = 'schema_version'")
    with pytest.raises(crm.StorageError) as caught:
        crm.open(url)
    assert "not a crmcore store" in str(caught.value) and "s3cret-pw" not in str(caught.value)


def test_analyses_read_from_postgresql_equal_sqlite_s(tmp_path, postgres_server, postgres_url):
    lite, db = _twin(tmp_path, postgres_server, postgres_url)
    for analysis in (lambda d: d.rfm(), lambda d: d.profit(), lambda d: d.classify(), lambda d: d.lifecycle(),
                     lambda d: d.hierarchy_rollup(), lambda d: d.referral_counts().to_frame()):
        want = analysis(lite)
        assert len(want)
        pd.testing.assert_frame_equal(analysis(db), want)
    g, h = db.graph(), lite.graph()
    assert (g.num_nodes, g.num_edges) == (h.num_nodes, h.num_edges) and h.num_edges > 20
    pd.testing.assert_series_equal(g.pagerank(), h.pagerank())


def test_segment_order_scores_read_from_postgresql_equal_sqlite_s(tmp_path, postgres_server, postgres_url):
    from crmcore import _segments
    lite, db = _twin(tmp_path, postgres_server, postgres_url)
    rules = [{"filters": [["region", "==", "south"]], "criteria": {}, "scores": [["frequency", ">=", 8]]},  # candidates
             {"filters": [], "criteria": {}, "scores": [["monetary", ">", 700.0]]},  # every order
             {"filters": [], "criteria": {"tag": "vip"}, "scores": [["frequency", ">", 0]]},
             {"filters": [["region", "!=", "east"]], "criteria": {}, "scores": [["f_score", ">=", 4],
                                                                               ["rfm_segment", "!=", "lost"]]}]
    for rule in rules:
        want = _segments.evaluate(lite, rule)
        assert len(want) and _segments.evaluate(db, rule).tolist() == want.tolist()
def _write_orders(url, worker, count):
    """One process's writes: single adds and imports of orders, interleaved with the others'."""
    with crm.open(url) as db:
        cid = db.add("customers", name=f"writer {worker}")
        for i in range(count):
            db.add("orders", customer_id=cid, amount=float(i), ordered_at="2026-01-02", channel=f"w{worker}")
            db.import_frame("orders", pd.DataFrame({"customer_id": [cid] * 3, "amount": [1.0, 2.0, 3.0],
                                                    "ordered_at": ["2026-01-03"] * 3, "channel": [f"w{worker}"] * 3}))


def test_four_processes_writing_at_once_lose_nothing(postgres_url):
    """Each write holds the store's write lock to its end: ids stay unique, every write lands, and the audit
    chain (one entry per write, in commit order) verifies."""
    import multiprocessing
    with crm.open(postgres_url):
        pass  # made once, before the writers start
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_orders, args=(postgres_url, w, 8)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with crm.open(postgres_url) as db:
        orders = db.frame("orders")
        assert len(orders) == 4 * 8 * 4 and orders.index.is_unique
        assert orders.groupby("channel").size().tolist() == [32] * 4
        log = db.audit_log(limit=10_000)
        assert (log["op"] == "insert").sum() == 4 + 4 * 8 * 2
        assert log.loc[log["kind"] == "orders", "rows"].sum() == 128
        assert db.audit_check().empty


def test_a_line_whose_value_overflows_is_refused_on_postgresql_too(postgres_url):
    """The row rule of e4094dc on the server: PostgreSQL stores 1e200 x
    1e200's factors as SQLite does, and its analyses read the same inf."""
    db = crm.open(postgres_url)
    c = db.add("customers", name="c")
    o = db.add("orders", customer_id=c, ordered_at="2025-01-01", amount=1.0)
    with pytest.raises(crm.ValidationError, match="more than a number holds") as e:
        db.add("order_lines", order_id=o, quantity=1e200, unit_price=1e200)
    assert e.value.field == "quantity"
    line = db.add("order_lines", order_id=o, quantity=1e200, unit_price=1.0)
    with pytest.raises(crm.ValidationError, match="more than a number holds"):
        db.update("order_lines", line, unit_price=1e200)
    frame = pd.DataFrame({"order_id": [o, o], "quantity": [1.0, 3e300], "unit_price": [2.0, 1e10]})
    with pytest.raises(crm.ValidationError, match="more than a number holds") as e:
        db.import_frame("order_lines", frame)
    assert e.value.row == 1
    with pytest.raises(crm.ValidationError, match="more than a number holds"):
        db.import_frame("order_lines", pd.DataFrame({"id": [line], "unit_price": [1e200]}), mode="update", key="id")
    assert db.count("order_lines") == 1
