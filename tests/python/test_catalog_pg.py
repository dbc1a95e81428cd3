"""The catalog and the indexes on fields on a PostgreSQL store (a real server,
tests/python/pg_server.py), beside test_schema.py and test_query.py, which run
on both engines: an indexed custom key that the server's planner really uses
(its own EXPLAIN, after ANALYZE), and crm.copy carrying indexes between the
engines. References: plain pandas over the records read back, psycopg
reading the server's own catalog (pg_indexes)."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")

# A key whose index name passes PostgreSQL's 63 bytes, and one sharing its first 63 bytes.
LONG_KEY = "k" * 60
LONG_TWIN = "k" * 60 + "_2"


def _server_indexes(dsn, schema, table):
    with psycopg.connect(dsn) as con:
        return {name: sql for name, sql in con.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (schema, table))}


def _schema(url):
    return url.rsplit("schema=", 1)[1]


def test_an_indexed_custom_key_is_looked_up_by_its_index(postgres_server, postgres_url):
    rng = np.random.default_rng(5)
    n = 4000
    seats = rng.integers(0, 100_000, n)
    level = rng.choice(["gold", "silver", "bronze"], n)
    with crm.open(postgres_url) as db:
        db.declare_custom("customers", "seats", "integer", index=True)
        db.declare_custom("customers", "level", "text", choices=["gold", "silver", "bronze"])
        ids = db.import_frame("customers", pd.DataFrame({
            "name": [f"c{i}" for i in range(n)],
            "custom": [{"seats": int(s), "level": str(v)} for s, v in zip(seats, level)]}))
        assert db.create_index("customers", "custom.level")
        with psycopg.connect(postgres_server.dsn) as con:
            con.execute(f"ANALYZE {_schema(postgres_url)}.customers")
        probe = int(seats[17])
        plan = db.query_plan("customers", filters=[("custom.seats", "==", probe)])
        assert "crm_idx_customers_custom_seats" in plan, plan
        plan = db.query_plan("customers", filters=[("custom.seats", "between", [probe, probe + 20])])
        assert "crm_idx_customers_custom_seats" in plan, plan
        # The reference: the same records chosen by pandas from the values given.
        frame = pd.DataFrame({"id": ids, "seats": seats, "level": level})
        want = frame[(frame["seats"] >= probe) & (frame["seats"] <= probe + 20)]["id"].tolist()
        assert list(db.ids("customers", filters=[("custom.seats", "between", [probe, probe + 20])])) == sorted(want)
        want = frame[(frame["level"] == "gold") & (frame["seats"] < 5000)]["id"].tolist()
        got = db.ids("customers", filters=[("custom.level", "==", "gold"), ("custom.seats", "<", 5000)])
        assert list(got) == sorted(want)
        assert set(db.indexes("customers")) >= {"custom.seats", "custom.level"}
        assert db.schema("customers").loc[["custom.seats", "custom.level"], "indexed"].tolist() == [True, True]


def test_declaring_a_key_again_in_another_type_remakes_its_index(postgres_server, postgres_url):
    with crm.open(postgres_url) as db:
        db.declare_custom("customers", "code", "integer", index=True)
        a = db.add("customers", name="A", custom={"code": 7})
        db.declare_custom("customers", "code", "text")  # 7 becomes "7": the integer index could not hold it
        assert db.get("customers", a)["custom"] == {"code": "7"}
        assert db.ids("customers", filters=[("custom.code", "==", "7")]) == [a]
        indexes = _server_indexes(postgres_server.dsn, _schema(postgres_url), "customers")
        assert "bigint" not in indexes["crm_idx_customers_custom_code"]
        assert "custom.code" in db.indexes("customers")
        assert db.audit_check().empty


def test_copy_carries_indexes_between_the_engines(tmp_path, postgres_server, postgres_url):
    src, back = str(tmp_path / "src.crm"), str(tmp_path / "back.crm")
    with crm.open(src) as db:
        db.declare_custom("customers", "signed", "time", index=True)
        db.declare_custom("customers", LONG_KEY, "real", index=True)
        db.declare_custom("customers", LONG_TWIN, "bool", index=True)
        db.create_index("customers", "region")
        db.create_index("orders", "status")
        db.add("customers", name="A", region="north",
               custom={"signed": "2025-01-05", LONG_KEY: 1.5, LONG_TWIN: True})
        db.add("customers", name="B", custom={"signed": "2024-02-01", LONG_KEY: 3, LONG_TWIN: False})
        want = {kind: db.indexes(kind) for kind in ("customers", "orders")}
    crm.copy(src, postgres_url)
    on_server = _server_indexes(postgres_server.dsn, _schema(postgres_url), "customers")
    assert {"crm_idx_customers_region", "crm_idx_customers_custom_signed"} <= set(on_server)
    # The two long names, cut to 63 bytes, stay apart.
    assert len([n for n in on_server if n.startswith("crm_idx_customers_custom_kkk")]) == 2
    assert all(len(n.encode()) <= 63 for n in on_server)
    with crm.open(postgres_url) as db:
        assert {kind: db.indexes(kind) for kind in want} == want
        assert list(db.ids("customers", filters=[(f"custom.{LONG_TWIN}", "==", True)])) == \
            list(db.ids("customers", name="A"))
        assert list(db.ids("customers", filters=[(f"custom.{LONG_KEY}", ">", 2)])) == list(db.ids("customers", name="B"))
    crm.copy(postgres_url, back)
    with crm.open(back) as db:
        assert {kind: db.indexes(kind) for kind in want} == want
        assert "crm_idx_customers_custom_signed" in db.query_plan("customers", filters=[("custom.signed", ">", "2025-01-01")])
        assert db.audit_check().empty
