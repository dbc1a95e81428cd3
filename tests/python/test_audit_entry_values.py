"""Each audit entry holds the old and new values of its own write.

A write that changes a record twice (a merge moves a merged record's own
reference, then deletes the record) has an entry per change: the update's
entry holds the update's [old, new] values and the delete's the row as it
stood when it was removed. Checked against the values read from the store
before and between the writes, not against the log itself.
"""
import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("backend", "store_handle")


def entries(db, record):
    """(op, changes) of the record's entries, oldest first, without its insert."""
    log = db.audit_log(about=[record]).iloc[::-1]
    own = log[(log["first_id"] == record) & (log["last_id"] == record) & (log["op"] != "insert")]
    return list(zip(own["op"], own["changes"]))


def removed(db, kind, record):
    """The record's fields as the log's 'removed' holds them (its fields;
    no tags and no custom values, which the log holds as null)."""
    row = db.get(kind, record)
    assert not row["tags"] and not row["custom"]
    out = {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}
    return {**out, "tags": None, "custom": None}


def test_a_merged_record_whose_own_reference_moves_keeps_each_change_on_its_entry():
    db = crm.open(":memory:")
    keep = db.add("customers", name="A")
    c = db.add("customers", name="C", region="East")
    b = db.add("customers", name="B", partner_id=c)
    b_before, c_before = removed(db, "customers", b), removed(db, "customers", c)

    db.merge("customers", keep, [b, c])

    assert db.audit_check().empty
    b_entries = entries(db, b)
    assert [op for op, _ in b_entries] == ["update", "delete"]
    # The reference's move alone on the update; on the delete, b as it stood then.
    assert b_entries[0][1] == {"partner_id": [c, keep]}
    assert b_entries[1][1] == {"removed": {**b_before, "partner_id": keep}}
    c_entries = entries(db, c)
    assert [op for op, _ in c_entries] == ["delete"]
    assert c_entries[0][1] == {"removed": c_before}


def test_a_delete_of_records_referring_to_one_another_holds_each_row_before_the_write():
    db = crm.open(":memory:")
    x = db.add("customers", name="X")
    y = db.add("customers", name="Y", partner_id=x)
    z = db.add("customers", name="Z", partner_id=y)
    db.update("customers", x, partner_id=z)
    before = {r: removed(db, "customers", r) for r in (x, y, z)}

    db.delete_many("customers", [x, y, z], dependants="delete")

    assert db.audit_check().empty
    for r in (x, y, z):
        ops = entries(db, r)
        assert ops[-1] == ("delete", {"removed": before[r]})
        assert [op for op, _ in ops] == ["update", "delete"] if r == x else ["delete"]


def test_an_update_then_a_delete_in_one_transaction_has_each_its_own_values():
    db = crm.open(":memory:")
    x = db.add("customers", name="X", region="North")
    with db.transaction():
        db.update("customers", x, region="South")
        between = removed(db, "customers", x)
        db.delete("customers", x)

    assert db.audit_check().empty
    assert entries(db, x) == [("update", {"region": ["North", "South"]}), ("delete", {"removed": between})]
