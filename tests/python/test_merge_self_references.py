"""A merge does not make the kept record refer to itself. Keep's empty
fields are filled from the others, and references to the others move to
keep: a customer whose partner was the duplicate (or whose duplicate named it
as partner) became its own partner, a staff member their own manager, and a
merge of a record with the one it named as partner was refused. Such a
reference is cleared, and unmerge brings every value back."""
import pytest

import crmcore as crm


@pytest.fixture
def db():
    with crm.open(":memory:", actor="merger") as database:
        yield database


def _partners(db):
    return {int(i): (None if p is None or str(p) == "<NA>" else int(p))
            for i, p in db.frame("customers")["partner_id"].items()}


@pytest.mark.parametrize("shape", ["other names keep", "keep names other", "other names another other",
                                   "both ways"])
def test_no_self_reference_after_merge_and_all_back_after_unmerge(db, shape):
    a, b, c = (db.add("customers", name=n) for n in ("Acme", "ACME", "Acme Inc."))
    outside = db.add("customers", name="Partner Co", partner_id=b)  # moves to a, and back
    if shape in ("other names keep", "both ways"):
        db.update("customers", b, partner_id=a)
    if shape in ("keep names other", "both ways"):
        db.update("customers", a, partner_id=b)
    if shape == "other names another other":
        db.update("customers", b, partner_id=c)
    before = _partners(db)
    m = db.merge("customers", a, [b, c])
    after = _partners(db)
    assert after[a] is None, shape  # not a itself
    assert after[outside] == a
    assert set(after) == {a, outside}
    db.unmerge(m)
    assert _partners(db) == before
    assert db.integrity_check() == "ok"


def test_a_preferred_value_naming_the_merge_is_cleared_too(db):
    a, b = db.add("customers", name="Acme"), db.add("customers", name="ACME")
    db.update("customers", b, partner_id=a)
    db.merge("customers", a, [b], prefer={"partner_id": b})
    assert _partners(db)[a] is None


def test_a_staff_member_does_not_become_their_own_manager(db):
    boss = db.add("staff", name="王经理")
    twin = db.add("staff", name="王 经理", manager_id=boss)
    db.merge("staff", boss, [twin])
    assert db.get("staff", boss)["manager_id"] is None
