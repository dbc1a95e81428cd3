"""Online backups, restores and vacuum: consistent copies of a store in use.

The tests of a store opened by crm.open() run on SQLite and on PostgreSQL
(conftest's backend fixture, opted into test by test: the others are about
store files, which are SQLite on both runs)."""
import hashlib
import os
import signal
import sqlite3
import time

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore import cli

# A writer process that imports numbered batches of BATCH orders until
# killed, each batch one import (one audit-log entry).
from test_durability import BATCH, _batches, _start_writer


def _wait_for_orders(reader, at_least, timeout=60):
    deadline = time.time() + timeout
    while reader.count("orders") < at_least:
        assert time.time() < deadline, "the writer stopped making progress"
        time.sleep(0.01)
    return reader.count("orders")


def test_backup_during_imports_from_another_process_holds_exactly_the_imports_before_it(tmp_path):
    path, copy = tmp_path / "live.crm", tmp_path / "copy.crm"
    writer = _start_writer(path)
    try:
        with crm.open(path) as db, crm.open(path) as reader:
            before = _wait_for_orders(reader, 3 * BATCH)  # committed before the backup begins
            seen = {}

            def progress(done, total):
                # The first step has taken the backup's snapshot. Hold the
                # backup here until the writer has committed two more imports:
                # they must not be in the copy.
                if not seen:
                    seen["at_start"] = reader.count("orders")
                    seen["during"] = _wait_for_orders(reader, seen["at_start"] + 2 * BATCH)
                seen["last"] = (done, total)

            db.backup(copy, progress=progress, pages_per_step=4)
            assert seen["last"][0] == seen["last"][1] > 4 * 4, "the backup took too few steps to test anything"
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()

    with crm.open(copy) as backup:
        assert backup.integrity_check() == "ok"
        n = backup.count("orders")
        batches = _batches(backup)
        audit = backup.audit_log(limit=10_000)
    # Whole imports only, a run of them from the first on.
    assert n % BATCH == 0
    assert sorted(batches) == list(range(n // BATCH))
    assert set(batches.values()) == {BATCH}
    # All that was committed when the backup began, nothing committed after.
    assert before <= n <= seen["at_start"] < seen["during"]
    # The copy's own audit log accounts for exactly the rows it holds.
    orders = audit[(audit["kind"] == "orders") & (audit["op"] == "insert")]
    assert orders["rows"].sum() == n and len(orders) == n // BATCH


def _store_with_orders(path, n=20_000, seed=1):
    db = crm.open(path)
    rng = np.random.default_rng(seed)
    cids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(200)],
                                                       "phone": [f"+86 139 {i:04d} 0000" for i in range(200)]}))
    db.import_frame("orders", pd.DataFrame({"customer_id": rng.choice(cids, n),
                                            "ordered_at": pd.Timestamp("2024-01-01")
                                            + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
                                            "amount": rng.random(n).round(2) * 100}))
    return db


def test_the_copy_and_a_restore_hold_the_same_records(tmp_path):
    db = _store_with_orders(tmp_path / "a.crm", n=4000)
    steps = []
    db.backup(tmp_path / "b.crm", progress=lambda done, total: steps.append((done, total)), pages_per_step=16)
    # Progress counts pages up to the total, step by step.
    assert [d for d, _ in steps] == sorted(d for d, _ in steps) and steps[-1][0] == steps[-1][1]
    assert len(steps) == -(-steps[-1][1] // 16) > 3

    crm.restore(tmp_path / "b.crm", tmp_path / "c.crm")
    for name in ("b.crm", "c.crm"):
        with crm.open(tmp_path / name) as other:
            assert other.integrity_check() == "ok"
            for kind in ("customers", "orders"):
                pd.testing.assert_frame_equal(other.frame(kind), db.frame(kind))
            assert other.find("customers", phone="139-0007-0000").index.tolist() == [db.find(
                "customers", phone="+86 139 0007 0000").index[0]]
    # No temporary files are left beside the copies.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.crm", "a.crm-shm", "a.crm-wal", "b.crm", "c.crm"]


def test_restore_replaces_a_store_that_another_connection_has_open(tmp_path):
    db = _store_with_orders(tmp_path / "a.crm", n=500)
    db.backup(tmp_path / "good.crm")
    other = crm.open(tmp_path / "a.crm")
    other.import_frame("orders", pd.DataFrame({"customer_id": [int(db.frame("customers").index[0])] * 7,
                                               "ordered_at": "2025-01-01", "amount": 1.0}))
    assert db.count("orders") == 507
    crm.restore(tmp_path / "good.crm", tmp_path / "a.crm")
    # Both open connections now read the restored store, and can go on writing.
    assert db.count("orders") == other.count("orders") == 500
    other.add("customers", name="after the restore")
    assert db.count("customers") == 201 and db.integrity_check() == "ok"


def test_restore_refuses_what_is_not_a_whole_store_and_leaves_the_target_alone(tmp_path):
    _store_with_orders(tmp_path / "target.crm", n=300).close()
    before = crm.open(tmp_path / "target.crm").frame("orders")
    (tmp_path / "notes.txt").write_text("not a database at all " * 500)
    sqlite3.connect(tmp_path / "plain.sqlite").execute("CREATE TABLE t(x)").connection.close()
    damaged = tmp_path / "damaged.crm"
    _store_with_orders(damaged, n=5000).close()
    with open(damaged, "r+b") as f:  # overwrite pages in the middle of the orders table
        f.seek(40 * 4096)
        f.write(b"\x99" * 4096 * 4)

    for bad, match in [("notes.txt", "not a crmcore store"), ("plain.sqlite", "not a crmcore store"),
                       ("damaged.crm", "damaged|malformed"), ("missing.crm", "no backup file")]:
        with pytest.raises(crm.Error, match=match):
            crm.restore(tmp_path / bad, tmp_path / "target.crm")
    with crm.open(tmp_path / "target.crm") as db:
        pd.testing.assert_frame_equal(db.frame("orders"), before)
        assert db.integrity_check() == "ok"


def test_an_interrupted_backup_leaves_the_old_backup_and_no_partial_file(tmp_path, ctrl_c_handled):
    db = _store_with_orders(tmp_path / "a.crm")
    db.backup(tmp_path / "b.crm")
    old = (tmp_path / "b.crm").read_bytes()
    db.add("customers", name="newer than the old backup")

    def ctrl_c(done, total):
        signal.raise_signal(signal.SIGINT)  # what Ctrl-C does while the backup runs

    with pytest.raises(KeyboardInterrupt):
        db.backup(tmp_path / "b.crm", progress=ctrl_c, pages_per_step=8)
    assert (tmp_path / "b.crm").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.crm", "a.crm-shm", "a.crm-wal", "b.crm"]


def test_backup_refuses_itself_and_a_store_in_use(tmp_path):
    db = _store_with_orders(tmp_path / "a.crm", n=10)
    with pytest.raises(crm.Error, match="onto itself"):
        db.backup(tmp_path / "a.crm")
    in_use = crm.open(tmp_path / "in_use.crm")
    in_use.add("customers", name="x")
    with pytest.raises(crm.StorageError, match="in use"):
        db.backup(tmp_path / "in_use.crm")
    assert in_use.count("customers") == 1


@pytest.mark.usefixtures("backend")
def test_an_in_memory_store_backs_up_to_a_file(tmp_path, backend):
    db = crm.open()
    ids = db.import_frame("customers", pd.DataFrame({"name": ["A", "B"], "tags": ["vip", "new;vip"]}))
    db.backup(tmp_path / "m.crm")
    with crm.open(tmp_path / "m.crm") as copy:
        assert copy.find("customers", tag="vip").index.tolist() == list(ids)
        assert copy.integrity_check() == "ok"
    with db.transaction():
        db.add("customers", name="not committed")
        if backend == "sqlite":  # only this connection reaches the memory: it would copy the open transaction
            with pytest.raises(crm.Error, match="inside a transaction"):
                db.backup(tmp_path / "m2.crm")
        else:  # the copy reads in a connection of its own: what is committed
            db.backup(tmp_path / "m2.crm")
            with crm.open(tmp_path / "m2.crm") as copy:
                assert copy.count("customers") == 2 and copy.audit_check().empty


def test_vacuum_gives_back_the_space_of_deleted_records(tmp_path):
    path = tmp_path / "v.crm"
    db = crm.open(path)
    notes = {"notes": "x" * 40_000}  # about ten pages of custom fields per record
    db.import_frame("contacts", pd.DataFrame({"name": [f"p{i}" for i in range(60)], "custom": [notes] * 60}))
    # An index as large as the records, dropped: its pages are free. (Deleted
    # records would not do: the audit log keeps every removed row's values.)
    db.declare_custom("contacts", "notes", "text", index=True)
    assert db.drop_index("contacts", "custom.notes")
    kept = db.frame("contacts")
    size_before = os.path.getsize(path)
    report = db.vacuum()
    # Half the pages were the index's: the file is left with about half.
    assert report["bytes_after"] < report["bytes_before"] * 0.6
    assert os.path.getsize(path) == report["bytes_after"] < size_before
    pd.testing.assert_frame_equal(db.frame("contacts"), kept)
    assert db.integrity_check() == "ok"
    with db.transaction():
        with pytest.raises(crm.Error, match="inside a transaction"):
            db.vacuum()


# -- either engine ------------------------------------------------------------------

@pytest.fixture
def new_store(backend, tmp_path, request):
    """Names a store that does not exist yet, on the module's engine: a file,
    or a schema of the server's of its own."""
    names = iter(range(1_000))
    if backend == "sqlite":
        return lambda: tmp_path / f"new{next(names)}.crm"
    server = request.getfixturevalue("postgres_server")
    test = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    return lambda: f"{server.url}&schema=k_{test}_{next(names)}"


def _history(db):
    """A store whose audit log has an entry of every kind: imports, updates,
    a merge, the rules' side entries (a payment marking its invoice paid), a
    deletion and an erasure."""
    cids = db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(30)],
                                                       "phone": [f"+86 139 {i:04d} 0000" for i in range(30)]}))
    db.import_frame("orders", pd.DataFrame({"customer_id": np.repeat(cids, 3), "ordered_at": "2024-01-01",
                                            "amount": np.arange(90) * 1.5}))
    db.update("customers", int(cids[0]), region="east", tags=["vip"])
    invoice = db.add("invoices", customer_id=int(cids[1]), issued_at="2025-01-01", due_at="2025-02-01", amount=10.0)
    db.add("payments", customer_id=int(cids[1]), invoice_id=invoice, paid_at="2025-01-05", amount=10.0)
    a, b = db.add("contacts", name="Zhang Wei"), db.add("contacts", name="Zhang Wei", phone="13800138000")
    db.merge("contacts", a, [b])
    db.delete_many("customers", [int(cids[2])], dependants="delete")
    db.erase_person(int(cids[3]))
    assert db.audit_check().empty
    return db


def _same_store(a, b):
    for kind in (k["name"] for k in crm._core.kinds()):
        pd.testing.assert_frame_equal(a.frame(kind), b.frame(kind), check_dtype=False, obj=kind)
    pd.testing.assert_frame_equal(a.audit_log(limit=10_000), b.audit_log(limit=10_000), check_dtype=False)
    pd.testing.assert_frame_equal(a.merges(), b.merges(), check_dtype=False)


@pytest.mark.usefixtures("backend")
def test_a_store_backs_up_to_a_file_and_is_restored_whole_on_either_engine(tmp_path, new_store):
    db = _history(crm.open(new_store()))
    db.backup(tmp_path / "b.crm")
    db.add("customers", name="after the backup")
    db.backup(tmp_path / "b.crm")  # over the older backup
    with crm.open(tmp_path / "b.crm") as copy:
        _same_store(copy, db)
        assert copy.audit_check().empty and copy.integrity_check() == "ok"
    assert cli.main(["check", str(tmp_path / "b.crm")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.crm")) == ["b.crm"]
    # Put back as a store of the same engine (on PostgreSQL: a copy into a new schema).
    restored = new_store()
    crm.restore(tmp_path / "b.crm", restored)
    with crm.open(restored) as back:
        _same_store(back, db)
        assert back.audit_check().empty
        back.add("customers", name="after the restore")  # ids and the chain go on
        assert back.audit_check().empty
    # A second restore: SQLite replaces the file in one transaction; onto a
    # server the copy back takes only a schema without a store.
    if isinstance(restored, os.PathLike):
        crm.restore(tmp_path / "b.crm", restored)
        with crm.open(restored) as back:
            _same_store(back, db)
    else:
        with pytest.raises(crm.StorageError, match="not empty"):
            crm.restore(tmp_path / "b.crm", restored)
        with crm.open(restored) as back:
            assert back.count("customers") == db.count("customers") + 1


@pytest.mark.usefixtures("backend")
def test_a_backup_and_a_restore_report_their_progress_on_either_engine(tmp_path, new_store, backend, ctrl_c_handled):
    # SQLite reports pages; a server's store, copied table by table, tables
    # (it reported nothing: a bar that never moved on a long server backup).
    db = crm.open(new_store())
    db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(300)]}))
    for step in ("backup", "restore"):
        told = []
        if step == "backup":
            db.backup(tmp_path / "b.crm", progress=lambda done, total: told.append((done, total)), pages_per_step=1)
        else:
            crm.restore(tmp_path / "b.crm", new_store(), progress=lambda done, total: told.append((done, total)))
        done = [d for d, _ in told]
        assert told and done == sorted(done) and told[-1][0] == told[-1][1] > 0, (step, told)
        if backend == "postgresql":
            tables = told[-1][1]
            assert told == [(i, tables) for i in range(tables + 1)] and tables > len(crm._core.kinds())

    def ctrl_c(done, total):
        signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):  # stopped from the progress: no partial file is left
        db.backup(tmp_path / "c.crm", progress=ctrl_c, pages_per_step=1)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("c.crm")]


@pytest.mark.usefixtures("backend")
def test_a_backup_to_a_server_or_memory_is_refused(tmp_path):
    db = crm.open()
    for where in (":memory:", "postgresql://crm@127.0.0.1:1/postgres"):
        with pytest.raises(crm.Error, match="needs a file path"):
            db.backup(where)


@pytest.mark.usefixtures("backend")
def test_vacuum_keeps_the_records_and_reports_sizes(backend):
    db = crm.open()
    ids = db.import_frame("contacts", pd.DataFrame({"name": [f"p{i}" for i in range(400)]}))
    db.delete_many("contacts", [int(i) for i in ids[200:]])
    kept = db.frame("contacts")
    report = db.vacuum()
    assert report["bytes_before"] > 0 and report["bytes_after"] > 0
    pd.testing.assert_frame_equal(db.frame("contacts"), kept)
    assert db.audit_check().empty and db.integrity_check() == "ok"
    with db.transaction():
        with pytest.raises(crm.Error, match="inside a transaction"):
            db.vacuum()


def _folder(path):
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize("read", ["restore onto a server", "restore onto a file", "copy to a file", "open readonly",
                                  "check", "info", "export"])
def test_reading_a_backup_leaves_its_folder_as_it_was(tmp_path, read, request):
    # A backup is a store file in WAL mode: a read-only open made "<file>-wal"
    # and "<file>-shm" beside it and, unable to checkpoint, left them there
    # (a restore onto PostgreSQL left two stray files by the backup).
    held = tmp_path / "held"
    held.mkdir()
    with crm.open(tmp_path / "live.crm") as db:
        db.add("customers", name="Acme")
        db.backup(held / "b.crm")
    before = _folder(held)
    backup = held / "b.crm"
    if read == "restore onto a server":
        if not crm._core.have_postgres():
            pytest.skip("this crmcore was built without libpq")
        import hashlib
        server = request.getfixturevalue("postgres_server")
        url = f"{server.url}&schema=r_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]}"
        crm.restore(backup, url)
        with crm.open(url) as back:
            assert back.count("customers") == 1
    elif read == "restore onto a file":
        crm.restore(backup, tmp_path / "again.crm")
    elif read == "copy to a file":
        crm.copy(backup, tmp_path / "copied.crm")
    elif read == "open readonly":
        with crm.open(backup, readonly=True) as db:
            assert db.count("customers") == 1
    elif read == "export":
        assert cli.main(["export", str(backup), "customers", "-o", str(tmp_path / "c.csv")]) == 0
    else:
        assert cli.main([read, str(backup)]) == 0
    assert _folder(held) == before
    with crm.open(backup, readonly=True) as db:  # and it is still whole
        assert db.count("customers") == 1 and db.integrity_check() == "ok"
    assert _folder(held) == before


def test_a_reader_beside_a_writer_sees_its_commits_and_leaves_its_files(tmp_path):
    # Reading a store another connection is writing to goes through the WAL
    # (no snapshot of the file alone), and closing the reader leaves the
    # writer's -wal and -shm in place.
    with crm.open(tmp_path / "s.crm") as writer:
        writer.add("customers", name="Acme")
        with crm.open(tmp_path / "s.crm", readonly=True) as reader:
            assert reader.count("customers") == 1
            writer.add("customers", name="Beta")
            assert reader.count("customers") == 2
        assert {"s.crm-wal", "s.crm-shm"} <= set(_folder(tmp_path))
        writer.add("customers", name="Gamma")
        assert writer.count("customers") == 3
    assert _folder(tmp_path) == ["s.crm"]


# Each read of a write-protected backup, run in a process of its own (below).
_READ_PROTECTED = r"""
import sys
import crmcore as crm
from crmcore import cli
read, backup, out = sys.argv[1:]
if read == "open readonly":
    with crm.open(backup, readonly=True) as db:
        assert db.count("customers") == 1 and db.integrity_check() == "ok"
        db.backup(out)  # a backup of it is a read of it too
elif read == "copy to a file":
    crm.copy(backup, out)
elif read == "restore onto a file":
    crm.restore(backup, out)
elif read == "export":
    assert cli.main(["export", backup, "customers", "-o", out, "--format", "csv"]) == 0
elif read == "report":
    assert cli.main(["report", backup, "-o", out]) == 0
elif read == "backup":
    assert cli.main(["backup", backup, out]) == 0
else:
    assert cli.main([read, backup]) == 0
"""


@pytest.mark.parametrize("read", ["open readonly", "copy to a file", "restore onto a file", "check", "info", "export",
                                  "report", "backup"])
def test_reading_a_write_protected_backup_works_and_leaves_its_folder_as_it_was(tmp_path, read):
    # A backup kept chmod 444 in a writable folder: SQLite opens it
    # read-only whatever it is asked, and such a connection made "-wal" and
    # "-shm" beside it and left them there.
    import shutil
    import subprocess
    import sys

    held = tmp_path / "held"
    held.mkdir()
    with crm.open(tmp_path / "live.crm") as db:
        db.add("customers", name="Acme")
        db.backup(held / "b.crm")
    backup = held / "b.crm"
    backup.chmod(0o444)
    before = _folder(held)
    command = [sys.executable, "-c", _READ_PROTECTED, read, str(backup), str(tmp_path / "out.crm")]
    if os.geteuid() == 0:
        # Root writes a file whatever its mode: the read runs without that power.
        if not shutil.which("setpriv"):
            pytest.skip("run as root without setpriv: a chmod 444 file stays writable")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", "--bounding-set", caps, "--inh-caps", caps] + command
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(crm.__path__[0]), os.path.dirname(__file__)])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert _folder(held) == before
    assert (tmp_path / "out.crm").exists() or read in ("check", "info")


_OPEN_PROTECTED = r"""
import sys
import crmcore as crm
try:
    crm.open(sys.argv[1])
except crm.StorageError as e:
    print(e)
else:
    sys.exit("a plain open of a write-protected store was not refused")
"""


def test_a_plain_open_of_a_write_protected_store_is_refused_naming_the_file(tmp_path):
    # SQLite opened such a file read-only without a word (a later write failed
    # with "attempt to write a readonly database") and left -wal and -shm.
    import shutil
    import subprocess
    import sys

    held = tmp_path / "held"
    held.mkdir()
    with crm.open(held / "b.crm") as db:
        db.add("customers", name="Acme")
    store = held / "b.crm"
    store.chmod(0o444)
    before = _folder(held)
    command = [sys.executable, "-c", _OPEN_PROTECTED, str(store)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("run as root without setpriv: a chmod 444 file stays writable")
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", "--bounding-set", caps, "--inh-caps", caps] + command
    env = {**os.environ, "PYTHONPATH": os.path.dirname(crm.__path__[0])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert str(store) in done.stdout and "write-protected" in done.stdout and "readonly=True" in done.stdout
    assert _folder(held) == before


_OPEN_IN_FOLDER = r"""
import sys
import crmcore as crm
readonly = sys.argv[2] == "readonly"
try:
    db = crm.open(sys.argv[1], readonly=readonly)
except crm.StorageError as e:
    print("refused:", e)
else:
    print("opened:", len(db.frame("customers")))
"""


_COPY_INTO_FOLDER = r"""
import sys
import crmcore as crm
db = crm.open(sys.argv[1])
for call in (lambda: db.backup(sys.argv[2] + "/copy.crm"), lambda: crm.restore(sys.argv[1], sys.argv[2] + "/r.crm"),
             lambda: db.export_json("customers", sys.argv[2] + "/c.json")):
    try:
        call()
    except crm.StorageError as e:
        print(e)
"""


def test_a_writable_open_in_a_folder_that_is_not_writable_names_the_folder(tmp_path):
    """A store keeps its journal (-wal, -shm) beside the file. In a folder
    this process may not write, a new store failed with SQLite's "unable to
    open database file" and an existing one with "is not a crmcore store
    (attempt to write a readonly database)"; both name the folder now, and
    nothing is made. readonly=True still reads the existing store there."""
    import shutil
    import subprocess
    import sys

    held = tmp_path / "held"
    held.mkdir()
    with crm.open(held / "b.crm") as db:
        db.add("customers", name="Acme")
    with crm.open(tmp_path / "s.crm") as db:
        db.add("customers", name="Bolt")
    held.chmod(0o555)
    before = _folder(held)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("run as root without setpriv: a chmod 555 folder stays writable")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", "--bounding-set", caps, "--inh-caps", caps]
    env = {**os.environ, "PYTHONPATH": os.path.dirname(crm.__path__[0])}

    def run(path, how="write"):
        done = subprocess.run(prefix + [sys.executable, "-c", _OPEN_IN_FOLDER, str(path), how], capture_output=True,
                              text=True, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        for path in (held / "new.crm", held / "b.crm"):
            said = run(path)
            assert said.startswith("refused:") and f"'{held}'" in said and "not writable" in said, said
            assert "readonly=True" in said or path.name == "new.crm", said
        said = run(tmp_path / "missing" / "new.crm")
        assert said.startswith("refused:") and f"'{tmp_path / 'missing'}'" in said and "no such folder" in said, said
        assert run(held / "b.crm", "readonly") == "opened: 1\n"
        # Copies into that folder (a backup, a restore, an export) name it too.
        done = subprocess.run(prefix + [sys.executable, "-c", _COPY_INTO_FOLDER, str(tmp_path / "s.crm"), str(held)],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count(f"its folder '{held}' is not writable") == 3, done.stdout
        assert _folder(held) == before
    finally:
        held.chmod(0o755)
