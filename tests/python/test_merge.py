"""Merging duplicate records and undoing it (issue 9, part 3).

The references are counted independently, from the frames of every kind:
after a merge every reference to a merged record points at the kept one (less
the link records that would repeat or loop), and after unmerge every frame is
as it was before the merge, but for updated_at.
"""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("backend", "store_handle")


def references_to(db, ids):
    """(kind, field) -> number of records whose field names one of ids, over every kind."""
    out = {}
    for kind, spec in crm.store._KINDS.items():
        for f in spec["fields"]:
            if f["type"] in ("ref", "anyref"):
                col = db.frame(kind, columns=[f["name"]])[f["name"]]
                out[(kind, f["name"])] = int(col.isin(list(ids)).sum())
    return out


def frames(db):
    return {kind: db.frame(kind).drop(columns="updated_at") for kind in crm.store._KINDS}


@pytest.fixture
def store():
    db = crm.open(":memory:")
    data = crm.datasets.synthetic(300, seed=11)
    crm.datasets.load(db, data)
    yield db
    db.close()


def test_merge_moves_every_reference_and_unmerge_puts_all_back(store):
    db = store
    orders = db.frame("orders")
    roles = db.frame("customer_contacts")
    # Three customers with orders and contact roles, merged into the first.
    busy = orders["customer_id"].value_counts().index
    with_roles = [c for c in busy if c in set(roles["customer_id"])][:3]
    keep, others = int(with_roles[0]), [int(c) for c in with_roles[1:]]
    # A contact who works for keep and for another: after the merge, one role.
    shared_contact = int(roles.loc[roles["customer_id"] == keep, "contact_id"].iloc[0])
    db.add("customer_contacts", customer_id=others[0], contact_id=shared_contact, role="buyer")
    db.link(keep, others[1], "partner_of")
    before = frames(db)
    refs_before = references_to(db, [keep, *others])

    merge = db.merge("customers", keep, others)
    refs_after = references_to(db, [keep, *others])
    assert references_to(db, others) == {key: 0 for key in refs_before}
    for key, count in refs_before.items():
        if key == ("customer_contacts", "customer_id"):
            assert refs_after[key] == count - 1, key  # the shared contact's second role went
        elif key[0] == "links":
            # keep -> others[1] became keep -> keep and went; links that came
            # to repeat one of keep's (same ends and type) went too.
            assert refs_after[key] <= count - 1, key
        else:
            assert refs_after[key] == count, key
    assert not db.frame("links").eval("src == dst").any()
    assert db.count("customers") == len(before["customers"]) - len(others)
    assert db.merges().loc[merge, "merged_ids"] == others
    assert db.audit_check().empty

    db.unmerge(merge)
    after = frames(db)
    for kind in before:
        pd.testing.assert_frame_equal(after[kind].sort_index(), before[kind].sort_index(), check_like=True, obj=kind)
    assert references_to(db, [keep, *others]) == refs_before
    assert db.integrity_check() == "ok" and db.audit_check().empty
    with pytest.raises(crm.ValidationError, match="undone already"):
        db.unmerge(merge)


def test_merge_unites_values_by_the_stated_rules():
    db = crm.open(":memory:")
    a = db.add("customers", name="星海科技", phone="138 0013 8000", email="info@xh.cn", tags=["vip"],
               custom={"tier": "gold", "big": 2**70})
    b = db.add("customers", name="上海星海科技有限公司", phone="+86 138 0013 8000; 021-6552 1234", region="华东",
               industry="tech", tags=["b2b", "vip"], custom={"tier": "silver", "since": 2019})
    c = db.add("customers", name="Xinghai", email="INFO@xh.cn; sales@xh.cn", industry="software")
    db.merge("customers", a, [b, c], prefer={"name": b})
    got = db.get("customers", a)
    assert got["name"] == "上海星海科技有限公司"                  # preferred
    assert (got["region"], got["industry"]) == ("华东", "tech")   # gaps filled in order
    assert got["phone"] == "138 0013 8000; 021-6552 1234"         # each number once
    assert got["email"] == "info@xh.cn; sales@xh.cn"
    assert got["tags"] == ["vip", "b2b"]
    assert got["custom"] == {"tier": "gold", "big": 2**70, "since": 2019}
    assert db.find("customers", phone="021 6552 1234").index.tolist() == [a]
    assert db.find("customers", email="sales@xh.cn").index.tolist() == [a]
    log = db.audit_log()
    assert log.iloc[0]["op"] == "merge" and log.iloc[0]["first_id"] == a


def test_bad_merges_change_nothing():
    db = crm.open(":memory:")
    a, b = db.add("customers", name="a"), db.add("customers", name="b")
    contact = db.add("contacts", name="c")
    before = frames(db)
    for call, error in ((lambda: db.merge("customers", a, []), crm.ValidationError),
                        (lambda: db.merge("customers", a, [a]), crm.ValidationError),
                        (lambda: db.merge("customers", a, [b, b]), crm.ValidationError),
                        (lambda: db.merge("customers", a, [contact]), crm.NotFound),
                        (lambda: db.merge("customers", a, [b], prefer={"region": contact}), crm.ValidationError),
                        (lambda: db.merge("customers", a, [b], prefer={"nonsense": b}), crm.ValidationError),
                        (lambda: db.unmerge(99), crm.NotFound)):
        with pytest.raises(error):
            call()
        after = frames(db)
        for kind in before:
            pd.testing.assert_frame_equal(after[kind], before[kind])
    assert np.array_equal(db.frame("customers").index, [a, b])


def test_a_merged_records_external_key_names_the_kept_record():
    db = crm.open(":memory:")
    ids = db.import_frame("customers", pd.DataFrame({"external_source": ["erp", "erp", "web"],
                                                     "external_id": ["K1", "K2", "K2"],
                                                     "name": ["Acme", "Acme Co.", "ACME"]}), mode="upsert").ids
    merge = db.merge("customers", int(ids[0]), [int(ids[1]), int(ids[2])])
    assert db.get("customers", int(ids[0]))["external_id"] == "K1"  # its own key; the others' are aliases
    week = pd.DataFrame({"external_source": ["erp", "web", "erp"], "external_id": ["K2", "K2", "K9"],
                         "region": ["East", "East", "West"], "name": ["Acme", "Acme", "Nine"]})
    result = db.import_frame("customers", week.iloc[[0, 2]], mode="upsert")
    assert result.ids.tolist()[0] == ids[0] and result.updated.tolist() == [True, False]
    assert db.count("customers") == 2 and db.get("customers", int(ids[0]))["region"] == "East"
    db.unmerge(merge)
    result = db.import_frame("customers", week.iloc[[0]], mode="upsert")
    assert result.ids.tolist() == [ids[1]]  # after unmerge, K2 names its own record again


def test_a_merge_removes_only_the_link_records_it_made_repeat():
    # A pipeline's stages, a deal's stage history and an invoice's lines
    # repeat their references on purpose; merging customers (or deals) once
    # removed every such row but the first of each (a pipeline kept "lead").
    db = crm.open(":memory:")
    rep = db.add("staff", name="Rep")
    stages = db.frame("pipeline_stages")
    a, b = db.add("customers", name="A"), db.add("customers", name="B")
    contact = db.add("contacts", name="Li Lei")
    for c in (a, b):
        db.link(contact, c, "works_at")
    deals = [db.add("deals", customer_id=c, stage="lead", owner_id=rep) for c in (a, b)]
    for deal in deals:
        db.sales.move(deal, "qualified", by=rep)
        db.sales.move(deal, "won", by=rep)
    invoice = db.add("invoices", customer_id=a, issued_at="2025-01-01", due_at="2025-02-01", amount=3.0)
    for _ in range(2):
        db.add("invoice_lines", invoice_id=invoice, quantity=1.0, unit_price=1.0)
    history, lines = db.frame("deal_stages"), db.frame("invoice_lines")
    db.merge("customers", a, [b])
    pd.testing.assert_frame_equal(db.frame("pipeline_stages"), stages)
    pd.testing.assert_frame_equal(db.frame("deal_stages").drop(columns="updated_at"),
                                  history.drop(columns="updated_at"))
    pd.testing.assert_frame_equal(db.frame("invoice_lines"), lines)
    assert len(db.frame("links")) == 1  # the link the merge made repeat did go
    db.merge("deals", deals[0], [deals[1]])
    assert len(db.frame("deal_stages")) == len(history)  # both deals' histories, now the kept deal's
    assert set(db.frame("deal_stages")["deal_id"]) == {deals[0]}
def _merged_store():
    db = crm.open(":memory:")
    ids = db.import_frame("customers", pd.DataFrame({"external_source": ["erp", "erp", "web"],
                                                     "external_id": ["K1", "K2", "K2"],
                                                     "name": ["Acme", "Acme Co.", "ACME"]}), mode="upsert").ids
    db.merge("customers", int(ids[0]), [int(ids[1]), int(ids[2])])
    return db, int(ids[0])


def test_rows_naming_one_merged_record_through_different_keys_apply_in_order():
    # Next week's export still lists the merged records' keys, each with its
    # own values: the rows apply as if imported one after the other, so the
    # last one wins, and the import does not fail on them.
    week = pd.DataFrame({"external_source": ["erp", "erp", "web", "erp"], "external_id": ["K2", "K9", "K2", "K1"],
                         "region": ["East", "West", "North", "South"], "phone": ["13800000001", None,
                                                                                 "13800000002", None],
                         "name": ["Acme", "Nine", "Acme", "Acme"]})
    db, kept = _merged_store()
    result = db.import_frame("customers", week, mode="upsert")
    # The reference: the same rows imported one at a time into a store merged the same way.
    ref, ref_kept = _merged_store()
    for i in range(len(week)):
        ref.import_frame("customers", week.iloc[[i]], mode="upsert")
    assert result.ids.tolist()[0] == kept and result.ids.tolist()[2:] == [kept, kept]
    assert result.updated.tolist() == [True, False, True, True]
    columns = ["name", "region", "phone", "external_source", "external_id"]
    pd.testing.assert_frame_equal(db.frame("customers")[columns].reset_index(drop=True),
                                  ref.frame("customers")[columns].reset_index(drop=True))
    assert db.get("customers", kept)["region"] == "South" and db.get("customers", kept)["phone"] is None
    # The lookups follow the last row: the earlier rows' phones do not find the record.
    assert db.find("customers", phone="13800000002").empty
    assert db.audit_check().empty
    changes = [c for c in db.audit_log(about=[kept])["changes"] if c and "region" in c]
    assert changes and changes[0]["region"][1] == "South"  # the write's entry: before, and after the last row


def test_the_same_key_twice_in_one_import_is_refused_naming_both_rows():
    db, kept = _merged_store()
    before = db.frame("customers")
    twice = pd.DataFrame({"external_source": ["erp", "web", "web"], "external_id": ["K2", "K2", "K2"],
                          "region": ["East", "North", "West"], "name": ["Acme", "Acme", "Acme"]})
    with pytest.raises(crm.ValidationError, match=r"row 2.*'K2'.*key of row 1 too"):
        db.import_frame("customers", twice, mode="upsert")
    pd.testing.assert_frame_equal(db.frame("customers"), before)
    result = db.import_frame("customers", twice, mode="upsert", on_error="skip")
    assert result.errors.index.tolist() == [2]
    assert db.get("customers", kept)["region"] == "North"


def test_a_merge_naming_a_record_another_merge_took_says_which_and_writes_nothing():
    # What the second of two writers merging the same records meets once the
    # first has committed (test_concurrent_writers.py runs it in two processes).
    db = crm.open(":memory:")
    a, b, c = (db.add("customers", name=n) for n in ("a", "b", "c"))
    first = db.merge("customers", a, [b])
    before = frames(db)
    with pytest.raises(crm.NotFound, match=rf"id {b}: merge {first} merged it into record {a}"):
        db.merge("customers", c, [b])
    for kind in before:
        pd.testing.assert_frame_equal(frames(db)[kind], before[kind], obj=kind)
    db.unmerge(first)
    with pytest.raises(crm.NotFound) as plain:
        db.merge("customers", a, [c + 100])
    assert plain.value.args[0] == f"no customers record with id {c + 100}"  # no merge took it
    assert len(db.merges()) == 1 and db.audit_check().empty


def test_a_later_row_of_a_merged_record_compares_with_what_the_earlier_row_wrote():
    # The keys' read brings each found record's stored values (SQLite), but a
    # record named again by a later row has been changed by the earlier one:
    # the later row is compared with that, not with what the keys' read saw.
    # Here the later row puts back the value the record held before the
    # import: compared with the stale value it would look unchanged and be
    # skipped, leaving the earlier row's value.
    db, kept = _merged_store()
    db.import_frame("customers", pd.DataFrame({"external_source": ["erp"], "external_id": ["K1"],
                                               "region": ["East"]}), mode="upsert")
    week = pd.DataFrame({"external_source": ["erp", "erp"], "external_id": ["K2", "K1"], "region": ["West", "East"]})
    result = db.import_frame("customers", week, mode="upsert")
    assert result.ids.tolist() == [kept, kept] and result.updated.tolist() == [True, True]
    assert db.get("customers", kept)["region"] == "East"  # as if imported one row after the other
    assert db.audit_check().empty
