"""A killed process and a concurrent reader never see a half-written import."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import crmcore as crm

BATCH = 4000

# A writer that imports numbered batches of orders forever, printing each
# batch number once its import has returned (committed).
WRITER = textwrap.dedent("""
    import sys, numpy as np, pandas as pd, crmcore as crm
    db = crm.open(sys.argv[1])
    cid = int(db.find("customers", name="writer").index[0])
    rng = np.random.default_rng(0)
    batch = 0
    while True:
        df = pd.DataFrame({"customer_id": cid, "ordered_at": "2024-01-01",
                           "amount": rng.random(%d) * 100, "status": "batch-%%d" %% batch})
        db.import_frame("orders", df)
        print(batch, flush=True)
        batch += 1
""" % BATCH)


def _start_writer(path):
    with crm.open(path) as db:
        db.add("customers", name="writer")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)


def _batches(db):
    counts = db.frame("orders")["status"].value_counts()
    return {int(s.split("-")[1]): int(n) for s, n in counts.items()}


def test_sigkill_during_imports_leaves_only_whole_committed_batches(tmp_path):
    path = tmp_path / "killed.crm"
    writer = _start_writer(path)
    committed = []
    try:
        while len(committed) < 6:
            line = writer.stdout.readline()
            assert line, "the writer died on its own"
            committed.append(int(line))
        time.sleep(0.013)  # land somewhere inside the next import
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        # Imports reported before the kill but not yet read from the pipe.
        committed += [int(line) for line in writer.stdout.read().split()]
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    with crm.open(path) as db:
        assert db.integrity_check() == "ok"
        batches = _batches(db)
        # Every import reported as done is there, whole; at most one more
        # (committed but not yet reported) may be, also whole; none is partial.
        assert set(committed) <= set(batches)
        assert set(batches) - set(committed) <= {committed[-1] + 1}
        assert all(n == BATCH for n in batches.values()), batches
        assert db.count("orders") == BATCH * len(batches)


def test_reader_sees_whole_imports_while_another_connection_writes(tmp_path):
    path = tmp_path / "shared.crm"
    writer = _start_writer(path)
    seen = []
    try:
        assert writer.stdout.readline(), "the writer died on its own"
        with crm.open(path) as reader:
            deadline = time.time() + 60
            while (len(seen) < 12 or len(set(seen)) < 3) and time.time() < deadline:
                n = reader.count("orders")
                batches = _batches(reader)
                assert all(v == BATCH for v in batches.values())
                seen.append(n)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    assert all(n % BATCH == 0 for n in seen)
    assert seen == sorted(seen)
    assert seen[-1] > seen[0], "the reader never saw the writer's progress"
