"""Ctrl-C stops a long read on PostgreSQL as it does on SQLite: the server's
work is cancelled (PQcancel), KeyboardInterrupt comes back, and the store
stays usable. Against a real server (tests/python/pg_server.py)."""
import os
import signal
import threading

import pytest

import crmcore as crm
from crmcore import _core

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")


def _schema(url):
    return url.rsplit("schema=", 1)[1]


def _hold_lock(dsn, schema, held, release, info):
    """Another session keeps the customers table locked inside a pg_sleep
    until `release` is set (then its sleep is cancelled): any read of it
    waits on the server meanwhile."""
    with psycopg.connect(dsn) as c:
        c.execute(f"LOCK TABLE {schema}.customers IN ACCESS EXCLUSIVE MODE")
        pid = info["pid"] = c.info.backend_pid
        held.set()
        stopper = threading.Thread(target=lambda: (release.wait(), _cancel_backend(dsn, pid)))
        stopper.start()
        try:
            c.execute("SELECT pg_sleep(120)")
        except psycopg.errors.QueryCanceled:
            pass
        stopper.join()


def _cancel_backend(dsn, pid):
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SELECT pg_cancel_backend(%s)", (pid,))


def _sleeping(dsn, pid):
    """Whether the session `pid` is still in its pg_sleep, holding the lock."""
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] == "active" and "pg_sleep" in row[1]


def _waiting_reads(dsn, schema):
    """Statements of other sessions still running on the store's tables."""
    with psycopg.connect(dsn) as c:
        return c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()"
            " AND query LIKE %s", ("%FROM customers%",)).fetchone()[0]


@pytest.mark.parametrize("read", ["frame", "find"])
def test_ctrl_c_cancels_a_read_waiting_on_the_server(postgres_server, postgres_url, ctrl_c_handled, read):
    schema = _schema(postgres_url)
    db = crm.open(postgres_url)
    held, release, info = threading.Event(), threading.Event(), {}
    holder = threading.Thread(target=_hold_lock, args=(postgres_server.dsn, schema, held, release, info))
    holder.start()
    try:
        assert held.wait(60)
        # Ctrl-C while the read waits for the lock, as a user presses it.
        timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            if read == "frame":
                db.frame("customers")
            else:
                db.find("customers", region="north")
        timer.join()
        # The read stopped while the lock was still held (a read that only
        # noticed Ctrl-C once the lock went would fail here): it was
        # cancelled, and the server runs nothing of it any more.
        assert _sleeping(postgres_server.dsn, info["pid"])
        assert _waiting_reads(postgres_server.dsn, schema) == 0
    finally:
        release.set()
        holder.join()
    # The same store reads on afterwards.
    assert db.count("customers") == 0
    assert len(db.frame("pipeline_stages")) == 6
    db.close()
