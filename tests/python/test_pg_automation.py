"""Automation on a PostgreSQL store, where it differs in making: the watches
of "changed" rules are permanent triggers of the store's schema (SQLite's
are temporary, per connection), so what one session's rules say must hold
for every crmcore session of the store, and another program's writes must
go on as before. The rules' behaviour itself runs on both engines in the
test_automation*.py files (conftest's backend fixture)."""
import pandas as pd
import pytest

import crmcore as crm

psycopg = pytest.importorskip("psycopg")

needs_libpq = pytest.mark.skipif(not crm._core.have_postgres(), reason="this crmcore was built without libpq")


def _schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def _watches(dsn: str, schema: str) -> list:
    """The watch triggers in the schema: (table, trigger), read by psycopg."""
    with psycopg.connect(dsn) as c:
        return c.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND t.tgname LIKE 'crm\\_auto\\_%%' ORDER BY 1, 2", (schema,)).fetchall()


def _tagged(db, kind: str, tag: str) -> list:
    return sorted(db.ids(kind, [("tags", "any", [tag])]))


@needs_libpq
def test_a_rule_written_in_one_session_acts_on_another_s_writes(postgres_server, postgres_url):
    with crm.open(postgres_url) as a, crm.open(postgres_url) as b:
        cid = a.add("customers", name="Acme")
        deal = a.add("deals", customer_id=cid, name="big", stage="lead", amount=100.0)
        a.automation.add_rule("won", on="changed", kind="deals", field="stage", condition=[("stage", "==", "won")],
                              actions=[{"do": "tag", "add": ["won"]}, {"do": "task", "subject": "Thank {name}"}])
        assert _watches(postgres_server.dsn, _schema(postgres_url)) == [("deals", "crm_auto_stage")]
        b.update("deals", deal, stage="qualified")
        assert _tagged(b, "deals", "won") == []
        b.update("deals", deal, stage="won")
        assert _tagged(a, "deals", "won") == [deal]
        assert a.frame("tasks")["subject"].tolist() == ["Thank big"]
        # The rule off, its watch goes (and b's writes note nothing more).
        b.automation.enable("won", False)
        assert _watches(postgres_server.dsn, _schema(postgres_url)) == []
        b.update("deals", deal, stage="lost")
        b.update("deals", deal, stage="won")
        assert len(a.frame("tasks")) == 1
        assert a.audit_check().empty


@needs_libpq
def test_another_program_s_updates_pass_the_watch_untouched(postgres_server, postgres_url):
    with crm.open(postgres_url) as db:
        cid = db.add("customers", name="Acme", status="a")
        db.automation.add_rule("moved", on="changed", kind="customers", field="status",
                               actions=[{"do": "tag", "add": ["moved"]}])
    schema = _schema(postgres_url)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:  # a session without crmcore's notes
        c.execute(f"UPDATE {schema}.customers SET status = 'b' WHERE id = %s", (cid,))
    with crm.open(postgres_url) as db:
        assert db.get("customers", cid)["status"] == "b"
        assert _tagged(db, "customers", "moved") == []  # not seen, as SQLite sees only its own connections
        db.update("customers", cid, status="c")
        assert _tagged(db, "customers", "moved") == [cid]


@needs_libpq
def test_a_store_copied_to_the_server_keeps_its_rules_acting(postgres_server, postgres_url, tmp_path):
    # crm.copy moves the rules' rows, not SQLite's per-connection triggers:
    # the first write on the server makes the watch.
    path = tmp_path / "a.crm"
    with crm.open(path) as db:
        cid = db.add("customers", name="Acme", status="a")
        db.automation.add_rule("moved", on="changed", kind="customers", field="status",
                               actions=[{"do": "tag", "add": ["moved"]}])
    crm.copy(path, postgres_url)
    with crm.open(postgres_url) as db:
        db.update("customers", cid, status="b")
        assert _tagged(db, "customers", "moved") == [cid]
        assert db.audit_check().empty
    assert _watches(postgres_server.dsn, _schema(postgres_url)) == [("customers", "crm_auto_status")]


@needs_libpq
def test_a_watch_made_by_a_write_that_rolled_back_is_gone_with_it(postgres_server, postgres_url):
    with crm.open(postgres_url) as db:
        cid = db.add("customers", name="Acme")
        with pytest.raises(RuntimeError):
            with db.transaction():
                db.automation.add_rule("moved", on="changed", kind="customers", field="status",
                                       actions=[{"do": "tag", "add": ["moved"]}])
                raise RuntimeError("changed my mind")
        assert db.count("automation_rules") == 0
        assert _watches(postgres_server.dsn, _schema(postgres_url)) == []
        db.update("customers", cid, status="b")
        assert _tagged(db, "customers", "moved") == []


def _scheduled(where: str, how: str) -> list:
    """Twenty contacts and a rule that greets each once, by date or by score."""
    with crm.open(where) as db:
        ids = db.import_frame("contacts", pd.DataFrame({"name": [f"p{i}" for i in range(20)],
                                                        "email": [f"p{i}@x.org" for i in range(20)],
                                                        "birthday": ["1990-03-02"] * 20}))
        greet = [{"do": "message", "subject": "Hello, {name}"}]
        if how == "run_due":
            db.automation.add_rule("greet", on="date", kind="contacts", field="birthday", annual=True, actions=greet)
        else:
            db.automation.add_rule("greet", on="score", kind="contacts", field="warmth", threshold=0.5, actions=greet)
    return list(ids)


def _schedule(db, how: str, ids: list) -> int:
    """Runs the time-triggered rules once; how many records they acted on."""
    if how == "run_due":
        return len(db.automation.run_due("2025-03-02 09:00"))
    return len(db.automation.scored("warmth", pd.Series(0.9, index=ids), now="2025-03-02 09:00"))


@pytest.mark.parametrize("how", ["run_due", "scored"])
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=needs_libpq)])
def test_a_time_rule_acts_once_per_occasion_from_two_schedulers(engine, how, tmp_path, request):
    # (The same on SQLite, whose file lock serves as the server's.)
    # A scheduler in another process runs the rule inside its transaction and
    # commits a second later; this one meanwhile must wait for it and then
    # find the occasions done. (It read the runs before the other committed,
    # found none, and sent every message twice.)
    import multiprocessing
    import threading
    where = str(tmp_path / "s.crm") if engine == "sqlite" else request.getfixturevalue("postgres_url")
    ids = _scheduled(where, how)
    ctx = multiprocessing.get_context("spawn")
    acted, go = ctx.Event(), ctx.Event()
    first = ctx.Process(target=_schedule_held, args=(where, how, ids, acted, go))
    first.start()
    try:
        assert acted.wait(120), "the first scheduler did not run"
        threading.Timer(1.0, go.set).start()  # it commits while this one runs
        with crm.open(where) as db:
            mine = _schedule(db, how, ids)
    finally:
        go.set()
        first.join(60)
    assert first.exitcode == 0
    with crm.open(where) as db:
        box = db.automation.outbox()
        assert mine == 0 and len(db.automation.runs()) == 20
        assert sorted(box["subject"]) == sorted(f"Hello, p{i}" for i in range(20))
        assert db.audit_check().empty


def _schedule_held(where, how, ids, acted, go):
    with crm.open(where) as db, db.transaction():
        assert _schedule(db, how, ids) == 20
        acted.set()
        go.wait(60)
