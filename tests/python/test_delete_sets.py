"""delete_many of records that refer to one another: a set is deleted as a
set. A record refusing its deletion because of a referrer the same call
deletes, a repeated id read as a missing record, and a reference cycle taken
with dependants="delete" (which recursed until the process crashed) are
checked against what is left, record by record, and the audit log."""
import subprocess
import sys

import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("store_handle")


@pytest.fixture
def db():
    with crm.open(":memory:", actor="cleaner") as database:
        yield database


def _ids(db, kind):
    return set(db.frame(kind, columns=[]).index.tolist())


def test_a_repeated_id_is_one_record_not_a_missing_one(db):
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    assert db.delete_many("customers", [a, a, b]) == 2
    assert _ids(db, "customers") == set()


def test_a_missing_id_is_named_before_anything_goes(db):
    a = db.add("customers", name="A")
    with pytest.raises(crm.NotFound, match="9999"):
        db.delete_many("customers", [a, 9999])
    assert _ids(db, "customers") == {a}


def test_referrers_deleted_by_the_same_call_do_not_block_it(db):
    a = db.add("customers", name="A")
    b = db.add("customers", name="B", partner_id=a)  # b refers to a
    outside = db.add("customers", name="C")
    seq = int(db.audit_log(limit=1).index[0])
    assert db.delete_many("customers", [a, b]) == 2  # a before b: b goes with the call
    assert _ids(db, "customers") == {outside}
    log = db.audit_log(limit=100)
    new = log[log.index > seq]
    assert sorted(new["first_id"].astype(int)) == sorted([a, b]) and (new["op"] == "delete").all()
    assert new["cause_id"].isna().all()  # both were asked for
    assert new["actor"].notna().all() and new["actor"].nunique() == 1  # who: the handle's actor


def test_a_referrer_outside_the_call_still_refuses_and_nothing_goes(db):
    a = db.add("customers", name="A")
    b = db.add("customers", name="B", partner_id=a)
    c = db.add("customers", name="C", partner_id=a)  # not asked for
    with pytest.raises(crm.ValidationError, match="still referred to"):
        db.delete_many("customers", [a, b])
    assert _ids(db, "customers") == {a, b, c}


CYCLE = """
import crmcore as crm
db = crm.open(":memory:")
a = db.add("customers", name="A")
b = db.add("customers", name="B", partner_id=a)
db.update("customers", a, partner_id=b)
{action}
print("alive", db.count("customers"))
"""


@pytest.mark.parametrize("action, left", [
    ('db.delete_many("customers", [a], dependants="delete")', 0),
    ('db.delete_many("customers", [a, b])', 0),
    ('db.update("customers", a, partner_id=a)\n'
     'db.update("customers", b, partner_id=None)\n'
     'db.delete_many("customers", [a], dependants="delete")', 1),  # a names itself
])
def test_a_reference_cycle_is_deleted_whole_without_crashing(action, left):
    # In a child process: the recursion overflowed the stack (a segfault).
    done = subprocess.run([sys.executable, "-c", CYCLE.format(action=action)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["alive", str(left)]


def test_a_cycle_deleted_with_dependants_is_audited_with_its_old_values(db):
    a = db.add("customers", name="A")
    b = db.add("customers", name="B", partner_id=a)
    db.update("customers", a, partner_id=b)
    t1 = db.add("tasks", subject="call", customer_id=b)
    seq = int(db.audit_log(limit=1).index[0])
    assert db.delete_many("customers", [a], dependants="delete") == 1
    assert _ids(db, "customers") == set() and t1 not in _ids(db, "tasks")
    log = db.audit_log(limit=100)
    new = log[log.index > seq]
    assert set(zip(new["kind"], new["first_id"].astype(int))) == {("customers", a), ("customers", b),
                                                                  ("tasks", t1)}
    assert (new["op"] == "delete").all()
    causes = dict(zip(new["first_id"].astype(int), new["cause_id"]))
    assert causes[b] == a and causes[t1] == b and causes[a] is None or str(causes[a]) == "<NA>"
    # The deleted records' values as they were, partner references included.
    removed = {int(i): c for i, c in zip(new["first_id"], new["changes"])}
    assert str(b) in str(removed[a]) and str(a) in str(removed[b])
    assert db.integrity_check() == "ok"
