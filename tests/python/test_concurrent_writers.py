"""Eight processes writing to one store at once lose nothing, on a SQLite file and on PostgreSQL.

Each process pays its own invoice in two parts around a refused
overpayment (the ledger's rules: a side entry when the invoice is paid, a
rolled-back write), imports its own batches of orders and, between them,
updates customers all of them share. Afterwards the store must hold exactly
what the processes were told had landed (orders per process, one audit
entry per changed customer and paid invoice), with unique ids, the audit
log numbered without gaps, and both the engine's integrity check and the
audit log's hash chain must pass. Whether every write lands is the
engine's matter (SQLite's writers wait up to the store's busy timeout); that
none is half-written or lost once reported is crmcore's. benchmarks/
bench_concurrent_writers.py measures the same at size.
"""
import multiprocessing

import pandas as pd
import pytest

import crmcore as crm

WRITERS = 8
BATCHES = 3
ROWS = 20
CUSTOMERS = 5


def _writer(path, worker, customers, invoice):
    """One process's writes; returns (orders landed, customer updates made, errors seen)."""
    landed, updated, errors = 0, 0, []
    with crm.open(path) as db:
        # The ledger's rules under the same contention: its invoice paid in
        # parts (the last part marks it paid, a rule's side entry in the
        # audit log), and an overpayment refused (a write rolled back).
        for part in range(2):
            try:
                db.add("payments", customer_id=customers[worker % len(customers)], invoice_id=invoice,
                       amount=5.0, paid_at="2026-01-03")
            except crm.StorageError as e:
                errors.append(str(e))
            if part == 0:
                try:
                    db.add("payments", customer_id=customers[worker % len(customers)], invoice_id=invoice,
                           amount=1e6, paid_at="2026-01-03")
                    errors.append("an overpayment was accepted")
                except crm.ValidationError:
                    pass  # refused, as it should be
                except crm.StorageError as e:
                    errors.append(str(e))
        for b in range(BATCHES):
            frame = pd.DataFrame({"customer_id": [customers[(worker + i) % len(customers)] for i in range(ROWS)],
                                  "amount": [float(worker * 1000 + b * 100 + i) for i in range(ROWS)],
                                  "ordered_at": ["2026-01-02"] * ROWS, "channel": [f"w{worker}"] * ROWS})
            try:
                ids = db.import_frame("orders", frame, progress=False)
                landed += int((ids > 0).sum())
            except crm.StorageError as e:
                errors.append(str(e))
            try:
                # Every update sets a value no other write sets: each one is a change with its entry.
                db.update("customers", customers[(worker + b) % len(customers)], region=f"w{worker}b{b}")
                updated += 1
            except crm.StorageError as e:
                errors.append(str(e))
    return landed, updated, errors


@pytest.fixture(params=["sqlite", "postgresql"])
def store_path(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "shared.crm")
    if not crm._core.have_postgres():
        pytest.skip("PostgreSQL runs skipped: this crmcore was built without libpq")
    return request.getfixturevalue("postgres_url")


def test_eight_processes_writing_at_once_lose_nothing(store_path):
    with crm.open(store_path) as db:
        customers = [int(i) for i in db.import_frame(
            "customers", pd.DataFrame({"name": [f"shared {i}" for i in range(CUSTOMERS)]}), progress=False)]
        invoices = [int(i) for i in db.import_frame("invoices", pd.DataFrame({
            "customer_id": [customers[w % CUSTOMERS] for w in range(WRITERS)], "amount": 10.0,
            "issued_at": "2026-01-02", "due_at": "2026-02-02"}), progress=False)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        results = pool.starmap(_writer, [(store_path, w, customers, invoices[w]) for w in range(WRITERS)],
                               chunksize=1)
    errors = [e for _, _, got in results for e in got]
    # Only a writer that waited past the busy timeout may fail, and then it wrote nothing.
    assert all("locked" in e or "busy" in e for e in errors), errors
    with crm.open(store_path) as db:
        orders = db.frame("orders", columns=["channel", "amount"])
        assert orders.index.is_unique
        per_writer = orders.groupby("channel").size().reindex([f"w{w}" for w in range(WRITERS)], fill_value=0)
        assert per_writer.tolist() == [landed for landed, _, _ in results]
        # Each landed batch whole: its amounts are the writer's own.
        for w in range(WRITERS):
            amounts = orders.loc[orders["channel"] == f"w{w}", "amount"]
            assert ((amounts // 1000) == w).all() and len(amounts) % ROWS == 0
        log = db.audit_log(limit=100_000)
        updates = log[(log["op"] == "update") & (log["kind"] == "customers")]
        assert len(updates) == sum(updated for _, updated, _ in results)
        assert log.loc[(log["op"] == "insert") & (log["kind"] == "orders"), "rows"].sum() == len(orders)
        # The last region each customer got is one some writer set.
        regions = db.frame("customers", columns=["region"])["region"].dropna()
        assert regions.str.fullmatch(r"w\db\d").all()
        paid = db.frame("payments", columns=["invoice_id"]).groupby("invoice_id").size()
        status = db.frame("invoices", columns=["status"])["status"]
        assert (status[paid.index[paid == 2]] == "paid").all() and (status[paid.index[paid < 2]] == "issued").all()
        assert len(log[(log["op"] == "update") & (log["kind"] == "invoices")]) == (paid == 2).sum()
        assert sorted(log.index) == list(range(1, len(log) + 1))  # numbered without gaps, whatever rolled back
        assert db.integrity_check() == "ok"
        assert db.audit_check().empty
    assert not errors or store_path.endswith(".crm")  # PostgreSQL's writers wait for the store's lock


def _merger(path, keep, others, ready):
    """Merges once both processes are ready; returns (merge id or None, the error's type and text)."""
    with crm.open(path) as db:
        ready.wait()
        try:
            return db.merge("customers", keep, others), None
        except crm.Error as e:
            return None, (type(e).__name__, str(e))


def test_two_processes_merging_the_same_records_at_once_one_wins_and_the_other_is_told(store_path):
    with crm.open(store_path) as db:
        ids = [db.add("customers", name=f"dup {i}") for i in range(3)]
        for i, cid in enumerate(ids):
            db.import_frame("orders", pd.DataFrame({"customer_id": [cid] * 4, "amount": [float(i)] * 4,
                                                    "ordered_at": ["2026-01-02"] * 4}), progress=False)
        before = db.frame("orders")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        ready = manager.Barrier(2)
        # Each names all three records, with a different one kept.
        results = pool.starmap(_merger, [(store_path, ids[0], ids[1:], ready),
                                         (store_path, ids[2], ids[:2], ready)], chunksize=1)
    won = [m for m, _ in results if m is not None]
    lost = [e for _, e in results if e is not None]
    assert len(won) == 1 and len(lost) == 1, results
    kind, text = lost[0]
    assert kind == "NotFound" and f"merge {won[0]} merged it into record" in text, text
    with crm.open(store_path) as db:
        merges = db.merges()
        assert merges.index.tolist() == won and merges["undone_at"].isna().all()
        keep = int(merges["keep_id"].iloc[0])
        assert db.frame("customers").index.tolist() == [keep]
        orders = db.frame("orders")
        assert (orders["customer_id"] == keep).all() and len(orders) == len(before)
        assert db.integrity_check() == "ok" and db.audit_check().empty
        db.unmerge(won[0])
        pd.testing.assert_frame_equal(db.frame("orders").drop(columns="updated_at"),
                                      before.drop(columns="updated_at"))
        assert db.audit_check().empty


def test_an_open_waits_while_another_connection_holds_the_file(tmp_path):
    # The open's first reads (is this a crmcore store?) came before the
    # connection's busy wait was set, so an open racing a writer's closing
    # checkpoint failed at once: "is not a crmcore store (database is
    # locked)". An exclusive hold released after half a second makes that
    # race certain; the open must wait for it as every other read does.
    import sqlite3
    import threading

    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        db.add("customers", name="A")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")  # the exclusive lock is kept until the connection closes
    release = threading.Timer(0.5, holder.close)
    release.start()
    try:
        with crm.open(path) as db:
            assert db.count("customers") == 1
    finally:
        release.join()
