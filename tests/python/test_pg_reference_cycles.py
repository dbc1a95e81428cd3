"""On PostgreSQL too (whose foreign keys cannot be deferred): a reference
cycle deleted with dependants, a set deleted whole, and a merge that would
make the kept record its own partner, then undone."""
import pytest

import crmcore as crm
from crmcore import _core

pytestmark = pytest.mark.skipif(not _core.have_postgres(), reason="this crmcore was built without libpq")


def _partners(db):
    return {int(i): (None if str(p) in ("None", "<NA>") else int(p))
            for i, p in db.frame("customers")["partner_id"].items()}


def test_cycles_and_self_references_on_postgres(postgres_url):
    with crm.open(postgres_url, actor="pg") as db:
        a, b = db.add("customers", name="A"), db.add("customers", name="B")
        db.update("customers", b, partner_id=a)
        db.update("customers", a, partner_id=b)
        task = db.add("tasks", subject="call", customer_id=b)
        assert db.delete_many("customers", [a], dependants="delete") == 1
        assert db.count("customers") == 0 and db.count("tasks") == 0 and task

        a, b, c = (db.add("customers", name=n) for n in ("A", "B", "C"))
        db.update("customers", b, partner_id=c)
        db.update("customers", a, partner_id=b)
        before = _partners(db)
        m = db.merge("customers", a, [b, c])
        assert _partners(db) == {a: None}
        db.unmerge(m)
        assert _partners(db) == before
        assert db.delete_many("customers", [a, b, c, a]) == 3
        assert db.count("customers") == 0
