"""Erasure and the audit entries that span several records: an automation
rule's entry listing what it did to an import's rows, and a bulk update's
run. Each loses only the erased person's part; one whose range of ids
merely covers the person's id (holding nothing of theirs) stays exactly as
it was, and is not counted or listed as narrowed."""

import pandas as pd
import pytest

import crmcore as crm

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")


def _entries(db):
    log = db.audit_log(limit=None)
    return {int(seq): row["changes"] for seq, row in log.iterrows()}


def test_an_automation_entry_over_several_records_loses_only_the_person_s_part(store_path):
    db = crm.open(store_path)
    db.automation.add_rule("east", on="created", kind="customers", condition=[("region", "==", "East")],
                           actions=[{"do": "set", "field": "source", "value": "east desk"},
                                    {"do": "tag", "add": ["east"]}])
    # Four people in one import; the rule acts on three of them. Ma is not
    # acted on, but the import's entry spans Ma's id.
    li, wu, ma, he = (int(i) for i in db.import_frame("customers", pd.DataFrame({
        "name": ["Li Lei", "Wu Fang", "Ma Rui", "He Jun"], "kind": "person",
        "region": ["East", "East", "West", "East"], "email": ["li@ex-unique.org", None, "ma@ex-unique.org", None]})))
    before = _entries(db)
    (seq, entry), = [(s, c) for s, c in before.items() if c and "rules" in c]
    assert sorted(map(int, entry["records"])) == [li, wu, he]

    db.erase_person(wu)

    after = _entries(db)
    want = {"rules": {r: {**acted, "ids": [i for i in acted["ids"] if i != wu]} for r, acted in entry["rules"].items()},
            "records": {i: c for i, c in entry["records"].items() if int(i) != wu}}
    assert after[seq] == want
    said = after[max(after)]
    assert list(said.get("narrowed", {})) == [str(seq)] and seq not in said["redacted"]
    assert db.audit_check().empty

    # Ma's id is inside the entry's range, and nothing in it is Ma's: it stays
    # as it is (it was rewritten under a new salt and counted as narrowed).
    entries_before = _entries(db)
    report = db.erase_person(ma)
    after_ma = _entries(db)
    assert after_ma[seq] == entries_before[seq]
    said = after_ma[max(after_ma)]
    assert str(seq) not in said.get("narrowed", {}) and seq not in said["redacted"]
    assert report["audit_entries"] == len(said["redacted"]) + len(said.get("narrowed", {}))
    assert db.audit_check().empty
