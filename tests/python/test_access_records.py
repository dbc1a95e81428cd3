"""Access, audit and personal data, the parts about whole records: free-text
owners migrated when an older file opens, the store-wide actions of a scoped
handle, the records checked against the audit log, which kinds follow a
customer (derived from the kind table), and staff whose history outlives them.
"""
import sqlite3

import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core
from access_model import OWNER, PARENTS
from old_store import downgrade

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

OWNER_MIGRATION_VERSION = next(k["since_version"] for k in _core.kinds() if k["name"] == "owner_migration")


def _old_file_with_text_owners(tmp_path):
    path = str(tmp_path / "old.crm")
    with crm.open(path) as db:
        li = db.add("staff", name="Li Lei")
        db.add("staff", name="Twin")
        db.add("staff", name="twin")
        ids = {
            "matched": db.add("customers", name="A", owner="  LI LEI"),
            "nobody": db.add("customers", name="B", owner="Nobody At All"),
            "twins": db.add("customers", name="C", owner="Twin"),
            "none": db.add("customers", name="D"),
        }
    downgrade(path, OWNER_MIGRATION_VERSION - 1)
    return path, li, ids


def test_opening_an_older_file_migrates_its_free_text_owners_with_a_report(tmp_path):
    path, li, ids = _old_file_with_text_owners(tmp_path)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM customers WHERE owner_id IS NOT NULL").fetchone()[0] == 0
    with crm.open(path) as db:
        assert db.get("customers", ids["matched"])["owner_id"] == li
        for left in ("nobody", "twins", "none"):
            assert pd.isna(db.get("customers", ids[left])["owner_id"])
        report = db.access.owner_migration_report()
        assert report["customer_id"].tolist() == [ids["nobody"], ids["twins"]]
        assert report["owner"].tolist() == ["Nobody At All", "Twin"]
        assert report["reason"].tolist() == ["no staff member has that name", "2 staff members have that name"]
        # Through the write path: audited, by the migration, and the chain and records check out.
        entry = db.audit_log(about=[ids["matched"]]).iloc[0]
        assert (entry["op"], entry["actor"], entry["changes"]) == ("update", "crmcore:migration",
                                                                  {"owner_id": [None, li]})
        assert db.audit_check().empty
        entries = len(db.audit_log(limit=10**6))
    with crm.open(path) as db:  # once only: opening again writes nothing
        assert len(db.audit_log(limit=10**6)) == entries
        assert db.audit_log(limit=1)["actor"].iloc[0] == "crmcore:migration"


def test_migrating_again_after_adding_staff_replaces_the_report(tmp_path):
    path, li, ids = _old_file_with_text_owners(tmp_path)
    with crm.open(path) as db:
        nobody = db.add("staff", name="Nobody at all")
        report = db.access.migrate_owners()
        assert report["customer_id"].tolist() == [ids["twins"]]
        assert db.get("customers", ids["nobody"])["owner_id"] == nobody
        # A report row goes with its customer.
        db.delete("customers", ids["twins"])
        assert db.access.owner_migration_report().empty


def test_a_scoped_handle_does_store_wide_actions_only_as_admin():
    db = crm.open(":memory:")
    admin = db.add("staff", name="Root", role="admin")
    rep = db.add("staff", name="Rep", role="sales")
    li = db.add("contacts", name="Li Lei", phone="+86 138 0013 8000", owner_id=rep)
    as_rep, as_admin = db.as_user(rep), db.as_user(admin)
    for refused in (lambda: as_rep.export_person(li), lambda: as_rep.erase_person(li),
                    lambda: as_rep.audit_check(), lambda: as_rep.access.migrate_owners()):
        with pytest.raises(crm.PermissionDenied, match=r"staff \d+ \(sales\) may not .*only admins may"):
            refused()
    assert db.get("contacts", li)["name"] == "Li Lei"  # nothing happened
    assert as_admin.audit_check().empty
    assert '"Li Lei"' in as_admin.export_person(li)
    assert as_admin.erase_person(li)["records"] == 1
    assert db.get("contacts", li)["name"] == "(erased)"
    erased = db.audit_log(limit=1).iloc[0]
    assert (erased["op"], erased["actor"]) == ("erase", f"staff:{admin}")
    assert db.audit_check().empty


def _changed_outside(path, sql, *args):
    con = sqlite3.connect(path)
    con.execute(sql, args)
    con.commit()
    con.close()


def test_audit_check_finds_records_changed_outside_crmcore(tmp_path):
    path = str(tmp_path / "s.crm")
    with crm.open(path) as db:
        c = db.add("customers", name="Acme", region="East")
        db.update("customers", c, region="West")
        gone = db.add("customers", name="Gone")
        db.delete("customers", gone)
        db.add("customers", name="Never updated")
        assert db.audit_check().empty
        wrote = db.audit_log(about=[c]).index[0]  # the update's entry
        deleted = db.audit_log(about=[gone]).index[0]
    _changed_outside(path, "UPDATE customers SET region = 'North' WHERE id = ?", c)
    _changed_outside(path, "INSERT INTO customers(id, name, created_at, updated_at) VALUES(?, 'Gone', 0, 0)", gone)
    with crm.open(path) as db:
        found = db.audit_check()
        assert list(found.index) == [wrote, deleted]
        assert found.loc[wrote, "reason"] == (f"customers {c}, field 'region': the file holds \"North\" but this entry "
                                              "wrote \"West\" and no later one changed it: changed outside crmcore")
        assert "restored outside crmcore" in found.loc[deleted, "reason"]
        # (A value an insert wrote is not in the log, so "Never updated" is not checked.)
    # Set back as crmcore wrote it, the record agrees with the log again.
    _changed_outside(path, "UPDATE customers SET region = 'West' WHERE id = ?", c)
    _changed_outside(path, "DELETE FROM customers WHERE id = ?", gone)
    with crm.open(path) as db:
        assert db.audit_check().empty


def test_audit_check_stays_clean_over_the_write_paths_that_change_records_without_an_update():
    # Merges, tags, bulk updates, cascades, stage rules, payments on invoices
    # and an erasure: none of them may read as a change made outside crmcore.
    db = crm.open(":memory:")
    rep = db.add("staff", name="Rep")
    a, b = db.add("customers", name="A", phone="+86 138 0013 8001"), db.add("customers", name="B", region="X")
    db.update("customers", b, region="Y")
    db.merge("customers", a, [b])
    db.add_tags("customers", [a], "vip")
    db.import_frame("customers", pd.DataFrame({"id": [a], "status": ["active"]}), mode="update")
    deal = db.add("deals", customer_id=a, stage="lead", owner_id=rep)
    db.sales.move(deal, "won", by=rep)
    invoice = db.add("invoices", customer_id=a, issued_at="2025-01-01", due_at="2025-02-01", amount=10.0,
                     status="draft")
    db.update("invoices", invoice, amount=12.0, status="issued")
    db.add("payments", customer_id=a, invoice_id=invoice, paid_at="2025-01-02", amount=12.0)
    # The ledger rules marked the invoice paid: a change of its own in the log, not one behind it.
    assert db.get("invoices", invoice)["status"] == "paid"
    side = db.audit_log(limit=1).iloc[0]
    assert (side["op"], side["kind"], side["first_id"], side["changes"]) == (
        "update", "invoices", invoice, {"status": ["issued", "paid"]})
    where, product = db.add("locations", name="Main"), db.add("products", sku="P1", name="Widget")
    po = db.add("purchase_orders", supplier_id=a, location_id=where, ordered_at="2025-01-01")
    line = db.add("purchase_lines", purchase_order_id=po, product_id=product, quantity=5.0, unit_cost=1.0)
    db.update("purchase_lines", line, expected_at="2025-01-03")
    db.add("stock_movements", type="receipt", product_id=product, location_id=where, quantity=5.0, unit_cost=1.0,
           moved_at="2025-01-02", purchase_line_id=line)
    assert db.get("purchase_lines", line)["received_quantity"] == 5.0
    ticket = db.add("tickets", customer_id=a, opened_at="2025-01-01")
    db.update("tickets", ticket, status="in_progress")
    db.update("tickets", ticket, status="resolved", resolution="fixed")
    person = db.add("contacts", name="Li Lei", phone="+86 138 0013 8000")
    db.update("contacts", person, title="CTO")
    db.erase_person(person)
    assert db.audit_check().empty


def test_which_kinds_follow_a_customer_is_derived_from_the_kind_table():
    rules = _core.access_rules()
    assert {k: r["owner"] for k, r in rules.items() if r["owner"]} == OWNER
    assert {k: dict(r["parents"]) for k, r in rules.items() if r["parents"]} == PARENTS
    # Every kind that refers to a customer follows customers (catalogs aside),
    # including the purchasing and stock kinds, which once were read by all.
    kinds = {k["name"]: k for k in _core.kinds()}
    for name, kind in kinds.items():
        if kind["catalog"] or name in ("links", "territory_members", "access_shares"):
            continue
        if any(f["type"] == "ref" and f["ref_kind"] == "customers" and name != "customers" for f in kind["fields"]):
            assert "customers" in dict(rules[name]["parents"]).values(), name
    for name in ("purchase_orders", "purchase_lines", "stock_movements", "owner_migration"):
        assert name in rules, name
    assert "products" not in rules and kinds["products"]["catalog"]
    assert crm.access.OWNER_FIELDS == OWNER


def test_purchasing_and_stock_follow_the_supplier_and_the_customer():
    db = crm.open(":memory:", mode="decentralized")
    mine, theirs = db.add("staff", name="Mine"), db.add("staff", name="Theirs")
    where = db.add("locations", name="Main")
    product = db.add("products", sku="P1", name="Widget")
    kept = {}
    for rep in (mine, theirs):
        supplier = db.add("customers", name=f"S{rep}", owner_id=rep, is_supplier=True)
        po = db.add("purchase_orders", supplier_id=supplier, location_id=where, ordered_at="2025-01-01")
        line = db.add("purchase_lines", purchase_order_id=po, product_id=product, quantity=5.0, unit_cost=1.0)
        receipt = db.add("stock_movements", type="receipt", product_id=product, location_id=where, quantity=5.0,
                         unit_cost=1.0, moved_at="2025-01-02", purchase_line_id=line)
        kept[rep] = {"purchase_orders": po, "purchase_lines": line, "stock_movements": receipt}
    seen = db.as_user(mine)
    for kind in kept[mine]:
        visible = set(seen.frame(kind).index)
        assert kept[mine][kind] in visible and kept[theirs][kind] not in visible, kind
    assert product in seen.frame("products").index  # the catalog is everyone's


def test_deleting_staff_keeps_the_history_they_made():
    db = crm.open(":memory:")
    rep, boss = db.add("staff", name="Leaving"), db.add("staff", name="Boss")
    c = db.add("customers", name="Acme", owner_id=rep)
    deal = db.add("deals", customer_id=c, stage="lead", owner_id=rep)
    db.sales.move(deal, "won", by=rep)
    history = db.frame("deal_stages")
    assert rep in set(history["by_id"].dropna().astype(int))
    for dependants in ("refuse", "delete"):
        with pytest.raises(crm.ValidationError, match=r"deal_stages record\(s\) \(deal_stages.by_id\), history that "
                                                      r"is kept; reassign their records .* deactivate them"):
            db.delete_many("staff", [rep], dependants=dependants)
    pd.testing.assert_frame_equal(db.frame("deal_stages"), history)
    # What the message says to do works: the book moves, the person stays, inactive.
    db.access.reassign(rep, boss)
    db.update("staff", rep, active=False)
    assert db.get("deals", deal)["owner_id"] == boss
    with pytest.raises(crm.PermissionDenied, match="deactivated"):
        db.as_user(rep)
    # Staff with no history go as before.
    db.delete("staff", db.add("staff", name="Temp"))
