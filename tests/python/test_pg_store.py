"""A store on PostgreSQL (crm.open("postgresql://...")), against a real server
(tests/python/pg_server.py), checked with an independent client (psycopg) and
against the same store on SQLite."""
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core
from pg_server import postgres_server, postgres_url  # noqa: F401  (the fixtures)

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

