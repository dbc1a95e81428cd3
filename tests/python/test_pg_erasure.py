"""What an erasure and a vacuum do on a PostgreSQL server (a real one,
tests/python/pg_server.py), read with psycopg and the server's own views:
which tables are vacuumed, that no row the server can show still holds the
person, and how far "the bytes leave the file" reaches there (the relation
files themselves, read from the server's data folder)."""
import glob
import os

import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core
from test_audit import NAME, EMAIL, OLD_PHONE, PHONE, SECRETS, _person_store

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")


def _schema(url):
    return url.rsplit("schema=", 1)[1]


@pytest.fixture
def server_sql(postgres_server):
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        yield conn


def _counts(conn, schema):
    """(vacuums, analyzes) of each table of `schema`, as the server counts them."""
    rows = conn.execute("SELECT relname, vacuum_count, analyze_count FROM pg_stat_user_tables"
                        " WHERE schemaname = %s", (schema,)).fetchall()
    return {name: (v, a) for name, v, a in rows}


def _said_in_rows(conn, schema, secrets):
    """Which of `secrets` any live row of any table of `schema` holds, in any
    column (cast to text): what any SQL client of the server can read."""
    found = set()
    tables = [t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
    for table in tables:
        text = "\n".join(str(r) for r in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" AS t'))
        found |= {s for s in secrets if s in text}
    return found


def _said_in_files(conn, server, schema, secrets):
    """Which of `secrets` the files of `schema`'s tables, their TOAST tables
    and indexes hold, after a checkpoint wrote the shared buffers out."""
    conn.execute("CHECKPOINT")
    paths = conn.execute(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relnamespace = %s::regnamespace"
        " AND c.relkind IN ('r', 'i', 't') UNION ALL SELECT pg_relation_filepath(t.oid) FROM pg_class c"
        " JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.relnamespace = %s::regnamespace",
        (schema, schema)).fetchall()
    found = set()
    for (relative,) in paths:
        for path in glob.glob(os.path.join(server.dir, "data", relative) + "*"):
            with open(path, "rb") as f:
                data = f.read()
            found |= {s for s in secrets if s.encode() in data}
    return found


def test_erasure_vacuums_the_tables_it_changed_and_no_row_holds_the_person(postgres_url, server_sql):
    schema = _schema(postgres_url)
    db, ids = _person_store(postgres_url)
    assert _said_in_rows(server_sql, schema, SECRETS) >= {NAME, EMAIL, PHONE, OLD_PHONE}
    before = _counts(server_sql, schema)
    report = db.erase_person(ids["person"])
    after = _counts(server_sql, schema)
    assert report["vacuumed"] and not report["wal_truncated"]
    # The person's record, the records about them (order, note, ticket, link),
    # the other customer naming their e-mail, their contact points and tags,
    # and the audit log: vacuumed and analyzed once each; nothing else.
    changed = {"customers", "orders", "interactions", "tickets", "links", "contact_points", "record_tags",
               "audit_log"}
    assert {t for t in after if after[t] != before[t]} == changed
    assert all(after[t] == (before[t][0] + 1, before[t][1] + 1) for t in changed)
    server_sql.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    for table in sorted(changed):
        dead, = server_sql.execute(f"SELECT dead_tuple_count FROM pgstattuple('{schema}.{table}')").fetchone()
        assert dead == 0, table
    db.erase_person(ids["contact"])
    assert _said_in_rows(server_sql, schema, SECRETS) == set()
    assert db.audit_check().empty


def test_the_bytes_leave_the_relation_files_only_when_an_admin_rewrites_them(postgres_url, postgres_server,
                                                                            server_sql):
    # What "the bytes leave the file" means on a server, measured: after the
    # erasure and its VACUUM, no row holds them, yet a vacuumed page keeps
    # the old bytes in its free space until a new row overwrites them (and
    # the WAL keeps them until it is recycled). VACUUM FULL of the touched
    # tables, which an admin runs (it locks them exclusively), writes new
    # files without them. (Reading the data folder needs its owner or root.)
    schema = _schema(postgres_url)
    if not os.access(os.path.join(postgres_server.dir, "data", "base"), os.R_OK):
        pytest.skip("the server's data folder is not readable by this user")
    db, ids = _person_store(postgres_url)
    assert _said_in_files(server_sql, postgres_server, schema, SECRETS) >= {NAME, EMAIL, PHONE}
    for who in ("person", "contact"):
        db.erase_person(ids[who])
    assert _said_in_rows(server_sql, schema, SECRETS) == set()
    tables = ", ".join(f'"{schema}".{t}' for t in ("customers", "contacts", "orders", "interactions", "tickets",
                                                    "links", "customer_contacts", "contact_points", "record_tags",
                                                    "audit_log"))
    server_sql.execute(f"VACUUM FULL {tables}")
    assert _said_in_files(server_sql, postgres_server, schema, SECRETS) == set()
    assert db.audit_check().empty


def test_vacuum_runs_on_every_table_of_its_store_and_no_other(postgres_server, server_sql):
    base = postgres_server.url + "&schema="
    db, other = crm.open(base + "vac_mine"), crm.open(base + "vac_other")
    ids = db.import_frame("contacts", pd.DataFrame({"name": [f"person {i}" for i in range(600)]}))
    other.add("contacts", name="elsewhere")
    db.delete_many("contacts", [int(i) for i in ids])
    heap = "SELECT pg_relation_size('vac_mine.contacts')"
    assert server_sql.execute(heap).fetchone()[0] > 0
    mine, theirs = _counts(server_sql, "vac_mine"), _counts(server_sql, "vac_other")
    report = db.vacuum()
    assert {t: (v - mine[t][0], a - mine[t][1]) for t, (v, a) in _counts(server_sql, "vac_mine").items()} == \
        {t: (1, 1) for t in mine}
    assert _counts(server_sql, "vac_other") == theirs
    # Every page of the deleted records was at the table's end: given back.
    assert server_sql.execute(heap).fetchone()[0] == 0
    # The report is the schema's tables with their indexes, TOAST and maps.
    total, = server_sql.execute(
        "SELECT sum(pg_total_relation_size(oid)) FROM pg_class WHERE relnamespace = 'vac_mine'::regnamespace"
        " AND relkind = 'r'").fetchone()
    assert report["bytes_after"] == total
    assert report["bytes_before"] > 0 and db.count("contacts") == 0 and db.audit_check().empty
