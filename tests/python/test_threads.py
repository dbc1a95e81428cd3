"""A store shared between threads: a long write holds the store's lock and
needs the GIL now and then (progress, Ctrl-C checks), so every call that
waits for the lock must wait without the GIL, or both threads stop forever."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

BINDINGS = pathlib.Path(__file__).resolve().parents[2] / "cpp" / "bindings"

# Each call runs in a loop on the main thread while a second thread imports.
READS = [
    'db.count("customers")',
    'db.kind_of(1)',
    'db.find("customers", phone="13800138000")',
    'db.frame("staff")',
    'db.audit_log(limit=5)',
    'db.merges()',
    'db.indexes("customers")',
    'db.schema_version()',
    'db.schema("customers")',
]

SCRIPT = textwrap.dedent("""
    import sys, threading
    import pandas as pd
    import crmcore as crm
    db = crm.open(sys.argv[1])
    frame = pd.DataFrame({"name": [f"c{i}" for i in range(40_000)]})
    done = threading.Event()
    def write():
        try:
            for _ in range(3):
                db.import_frame("customers", frame)
        finally:
            done.set()
    worker = threading.Thread(target=write)
    worker.start()
    calls = 0
    while not done.is_set() or calls == 0:
        {read}
        calls += 1
    worker.join()
    assert db.count("customers") == 120_000
    print("calls", calls)
""")


@pytest.mark.parametrize("read", READS)
def test_a_read_from_another_thread_waits_for_a_write_without_deadlock(read, tmp_path):
    # In a child process with a deadline, so that a deadlock fails the test
    # rather than hanging the run.
    script = tmp_path / "race.py"
    script.write_text(SCRIPT.replace("{read}", read))
    try:
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "store.crm")],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{read} deadlocked with an import running in another thread")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("calls ")


def test_every_store_method_bound_by_pointer_releases_the_gil():
    # A Store method bound directly (`&records::Store::x`) runs with the GIL
    # held unless the binding says otherwise; new bindings must say so.
    held = []
    for path in BINDINGS.glob("*.cpp"):
        text = path.read_text()
        for match in re.finditer(r'\.def\("(\w+)",\s*&records::Store::\w+[^;]*?\)\s*(?=\n\s*\.def|\n\s*;|;)', text):
            if "gil_scoped_release" not in match.group(0):
                held.append(f"{path.name}: {match.group(1)}")
    assert held == []
