"""The PostgreSQL backend's bulk path against a real server (tests/python/pg_server.py),
read back through an independent client (psycopg) and compared with plain pandas."""
import math

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")


@pytest.fixture
def table(postgres_dsn, request):
    """A fresh table (i int8, d float8, t text) named after the test."""
    name = "t_" + request.node.name.lower()[:50]
    with psycopg.connect(postgres_dsn, autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")
        c.execute(f"CREATE TABLE {name} (i int8, d float8, t text CONSTRAINT {name}_t_key UNIQUE)")
    return name


def _read(dsn, table):
    with psycopg.connect(dsn) as c:
        rows = c.execute(f"SELECT i, d, t FROM {table} ORDER BY i").fetchall()
    return pd.DataFrame(rows, columns=["i", "d", "t"])


def test_a_frame_round_trips_through_binary_copy(postgres_dsn, table):
    n = 20_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "i": np.arange(n, dtype=np.int64) * 461_168_601_842_738 - 2**62,  # spans most of int64
        "d": rng.normal(size=n) * 1e300,
    })
    texts = [f"Zoë-张伟-😀-{k}" if k % 7 else None for k in range(n)]
    frame.loc[1, "d"] = math.inf
    frame.loc[2, "d"] = -math.inf
    frame.loc[3, "d"] = math.nan
    loaded = _core.pg_bulk_load(postgres_dsn, table, ["i", "d", "t"],
                                [frame["i"].to_numpy(), frame["d"].to_numpy(), texts])
    assert loaded == n
    back = _read(postgres_dsn, table)
    assert back["i"].tolist() == frame["i"].tolist()
    pd.testing.assert_series_equal(back["d"].astype("float64"), frame["d"], check_exact=True)
    with psycopg.connect(postgres_dsn) as c:  # raw rows: a DataFrame would turn None into NaN
        assert [r[0] for r in c.execute(f"SELECT t FROM {table} ORDER BY i")] == texts


def test_a_duplicate_is_a_validation_error_naming_the_constraint(postgres_dsn, table):
    with pytest.raises(crm.ValidationError, match=f"unique violation.*{table}_t_key") as caught:
        _core.pg_bulk_load(postgres_dsn, table, ["i", "t"], [np.array([1, 2]), ["same", "same"]])
    assert caught.value.kind == table
    assert _read(postgres_dsn, table).empty  # the failed COPY loaded nothing


def test_a_missing_table_is_a_storage_error_with_its_sqlstate(postgres_dsn):
    with pytest.raises(crm.StorageError, match="42P01"):
        _core.pg_bulk_load(postgres_dsn, "no_such_table", ["i"], [np.array([1])])


def test_a_server_that_is_not_there_is_a_storage_error():
    with pytest.raises(crm.StorageError, match="cannot connect"):
        _core.pg_bulk_load("host=127.0.0.1 port=1 connect_timeout=2", "t", ["i"], [np.array([1])])
