"""The audit log (who, what changed, the hash chain), personal-data rights
(export and erasure, proven on the file's raw bytes) and file hygiene
(private files, read-only opens, foreign triggers)."""
import hashlib
import json
import os
import random
import sqlite3
import stat
import subprocess
import sys

import pandas as pd
import pytest

import crmcore as crm
from crmcore import cli

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")


# -- SHA-256 against hashlib -----------------------------------------------------

def _check_sha256_against_hashlib():
    rng = random.Random(8)
    # Every length around the 55/56/64-byte padding edges, then random ones.
    lengths = list(range(0, 200)) + [rng.randrange(200, 5000) for _ in range(200)]
    for n in lengths:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crm._core._sha256_hex(data) == hashlib.sha256(data).hexdigest(), n


def test_sha256_matches_hashlib_on_random_inputs():
    _check_sha256_against_hashlib()  # with the processor's SHA instructions where it has them


def test_sha256_portable_path_matches_hashlib_too():
    # The portable rounds, forced in a fresh process (the choice is made once per process).
    env = dict(os.environ, CRMCORE_PORTABLE_SHA256="1", PYTHONPATH=os.pathsep.join(sys.path))
    code = "import test_audit; test_audit._check_sha256_against_hashlib()"
    subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), env=env, check=True)


# -- who and what -----------------------------------------------------------------

def test_every_write_records_its_actor_and_changes(store_path):
    db = crm.open(store_path, actor="nightly-import")
    ids = db.import_frame("customers", pd.DataFrame({"name": ["A", "B", "C"], "region": ["x", "y", "z"]}))
    db.update("customers", int(ids[0]), name="Ann", region=None)
    staff = db.add("staff", name="Wang Fang")
    db.actor = staff
    db.delete("customers", int(ids[1]))
    log = db.audit_log().sort_index()
    insert, update = log.iloc[0], log.iloc[1]
    assert (insert["op"], insert["rows"], insert["first_id"], insert["last_id"]) == ("insert", 3, ids[0], ids[-1])
    assert insert["actor"] == "nightly-import" and insert["changes"] is None
    assert update["changes"] == {"name": ["A", "Ann"], "region": ["x", None]}
    delete = log.iloc[-1]
    assert delete["actor"] == f"staff:{staff}" and delete["op"] == "delete"
    assert delete["changes"]["removed"]["name"] == "B" and delete["changes"]["removed"]["region"] == "y"
    with pytest.raises(crm.NotFound):
        db.actor = 10**9  # no such staff
    with pytest.raises(crm.ValidationError):
        db.actor = " "


def test_default_actor_is_the_os_user():
    db = crm.open()
    db.add("customers", name="A")
    assert db.audit_log()["actor"].iloc[0].startswith("os:")


def test_cascade_upsert_tags_and_merge_record_their_changes():
    db = crm.open(actor="t")
    acme = db.add("customers", name="Acme", kind="organization")
    li = db.add("contacts", name="Li Lei")
    role = db.add("customer_contacts", customer_id=acme, contact_id=li, role="buyer")
    db.import_frame("customers", pd.DataFrame({"id": [acme], "region": ["east"]}), mode="update", key="id")
    up = db.audit_log(about=[acme]).iloc[0]
    assert up["op"] == "update" and up["changes"] == {"region": [None, "east"]}
    db.add_tags("contacts", [li], ["vip"])
    assert db.audit_log(about=[li]).iloc[0]["changes"]["tags"][0] is None
    db._core.remove_many("customers", [acme], True)
    removed = db.audit_log(about=[role])
    row = removed[removed["first_id"] == role].iloc[0]
    assert row["changes"]["removed"]["role"] == "buyer" and row["cause_id"] == acme
    a, b = db.add("contacts", name="Zhang", title="CEO"), db.add("contacts", name="Zhang Wei", phone="13800138000")
    db.merge("contacts", a, [b])
    about = db.audit_log(about=[a, b])
    assert about["op"].iloc[0] == "merge"
    changes = about["changes"].tolist()
    assert {"phone": [None, "13800138000"]} in changes  # the kept record's update
    assert any(c and c.get("removed", {}).get("name") == "Zhang Wei" for c in changes)  # the merged one's row
    assert db.audit_check().empty


def test_a_dry_run_or_a_rolled_back_transaction_leaves_the_chain_whole(store_path):
    db = crm.open(store_path)
    db.add("customers", name="A")
    db.import_frame("customers", pd.DataFrame({"name": ["B"]}), dry_run=True)
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.add("customers", name="C")
            raise RuntimeError("stop")
    with db.transaction():
        db.add("customers", name="D")
        db.update("customers", db.ids("customers", name="D")[0], region="r")
    assert db.audit_check().empty
    assert len(db.audit_log()) == 3


# -- the hash chain finds edits made outside crmcore ---------------------------------

def _store_with_history(path):
    with crm.open(path, actor="t") as db:
        ids = [db.add("customers", name=f"C{i}") for i in range(5)]
        for cid in ids:
            db.update("customers", cid, region="east")
    return ids


@pytest.mark.parametrize("edit, seq", [
    ("UPDATE audit_log SET kind = 'contacts' WHERE seq = 3", 3),
    ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 7", 7),
    ("UPDATE audit_log SET changes = replace(changes, 'east', 'west') WHERE seq = 8", 8),
    ("UPDATE audit_log SET changes = NULL WHERE seq = 9", 9),
    ("DELETE FROM audit_log WHERE seq = 4", 4),
    ("DELETE FROM audit_log WHERE seq = 10", 10),
    ("INSERT INTO audit_log(at, op, kind, rows) VALUES(0, 'insert', 'customers', 1)", 11),
])
def test_audit_check_names_the_entry_changed_outside(tmp_path, edit, seq):
    path = tmp_path / "s.crm"
    _store_with_history(path)
    with crm.open(path) as db:
        assert db.audit_check().empty
    with sqlite3.connect(path) as raw:
        raw.execute(edit)
    raw.close()
    with crm.open(path) as db:
        problems = db.audit_check()
    assert seq in problems.index, problems
    code = cli.main(["check", str(path)])
    assert code == 1


def test_an_entry_slipped_in_is_not_sealed_by_the_next_write(tmp_path):
    path = tmp_path / "s.crm"
    _store_with_history(path)
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO audit_log(at, op, kind, rows) VALUES(0, 'delete', 'orders', 1)")
    raw.close()
    with crm.open(path) as db:
        db.add("customers", name="after")
        problems = db.audit_check()
    assert problems.index.tolist()[:1] == [11] and "outside crmcore" in problems["reason"].iloc[0]


def test_the_check_passes_after_backup_and_restore(store_path, tmp_path):
    # On PostgreSQL the backup is a store file, and a restore onto the server
    # (a new schema) is the copy back.
    _store_with_history(store_path)
    with crm.open(store_path) as db:
        db.backup(tmp_path / "copy.crm")
    back = tmp_path / "restored.crm" if isinstance(store_path, os.PathLike) else f"{store_path}_back"
    crm.restore(tmp_path / "copy.crm", back)
    crm.restore(tmp_path / "copy.crm", tmp_path / "restored_file.crm")
    for where in (tmp_path / "copy.crm", back, tmp_path / "restored_file.crm"):
        with crm.open(where) as db:
            assert db.audit_check().empty and len(db.audit_log()) == 10
    assert cli.main(["check", str(tmp_path / "restored_file.crm")]) == 0


# -- personal data ------------------------------------------------------------------

NAME = "Quennell Vasquez-Ortiz"
EMAIL = "q.vasquez.ortiz@mailbox-unique.example"
PHONE = "+86 139 8765 4321"
OLD_PHONE = "+86 137 1122 3344"
# The forms a number takes in the store: as typed, normalized, national.
PHONE_FORMS = [PHONE, "+8613987654321", "13987654321", "139 8765 4321", OLD_PHONE, "+8613711223344", "13711223344"]
SECRETS = [NAME, EMAIL, EMAIL.upper(), "Vasquez-Ortiz", "mailbox-unique", *PHONE_FORMS]


def _person_store(path):
    db = crm.open(path, actor="t")
    acme = db.add("customers", name="Acme Trading", kind="organization")
    person = db.add("customers", name=NAME, kind="person", phone=OLD_PHONE, email=EMAIL.upper(),
                    address="88 Hidden Orchard Road", tags=["vip", "Vasquez-Ortiz-fan"], custom={"nick": NAME})
    db.update("customers", person, phone=PHONE, email=EMAIL)
    contact = db.add("contacts", name=NAME, phone=PHONE, email=EMAIL, birthday="1980-05-06")
    db.add("customer_contacts", customer_id=acme, contact_id=contact, role="buyer")
    order = db.add("orders", customer_id=person, ordered_at="2024-01-01", amount=120.0)
    note = db.add("interactions", customer_id=person, channel="call", occurred_at="2024-01-02",
                  summary=f"{NAME} called from 139-8765-4321 about the order")
    ticket = db.add("tickets", customer_id=person, opened_at="2024-01-03", resolution=f"sent to {EMAIL}")
    other = db.add("customers", name="Someone Else", custom={"referrer": EMAIL}, address=f"c/o {PHONE}")
    db.link(person, other, "referred")
    db.update("interactions", note, outcome=f"{NAME} will call back")
    return db, {"person": person, "contact": contact, "order": order, "note": note, "ticket": ticket,
                "other": other, "acme": acme}


def _raw_bytes(path):
    out = {}
    for suffix in ("", "-wal", "-shm"):
        p = f"{path}{suffix}"
        if os.path.exists(p):
            with open(p, "rb") as f:
                out[suffix or "file"] = f.read()
    return out


def _found(path, secrets):
    hits = []
    for where, data in _raw_bytes(path).items():
        for s in secrets:
            for encoded in {s.encode("utf-8"), s.encode("utf-16-le")}:
                if encoded in data:
                    hits.append((where, s))
    return hits


def _said_in(db, secrets):
    """Which of `secrets` any record or audit entry of the store still holds
    (read through the store: on any engine)."""
    texts = [db.frame(k["name"]).astype(str).to_csv() for k in crm._core.kinds()]
    texts.append(db.audit_log(limit=1_000_000).astype(str).to_csv())
    texts.append(db.merges().astype(str).to_csv())
    return {s for s in secrets if any(s in t for t in texts)}


def _erasure_outcome(db, ids):
    """What an erasure of `ids`' person and contact leaves: the reports, every
    kind's records (without the times of change) and the audit log's entries
    (without times and salts)."""
    reports = [db.erase_person(ids[who]) for who in ("person", "contact")]
    records = {k["name"]: db.frame(k["name"]).drop(columns=["created_at", "updated_at"], errors="ignore")
               for k in crm._core.kinds()}
    log = db.audit_log(limit=1_000_000)[["op", "kind", "first_id", "last_id", "rows", "cause_id", "changes"]]
    return reports, records, log


def test_erasure_changes_the_same_records_and_entries_as_on_a_sqlite_file(store_path, tmp_path):
    # The erasure of a person and a contact on this engine against the same
    # erasure on a SQLite file: the same counts, the same records afterwards,
    # the same audit entries emptied, narrowed and kept; then checked by hand.
    mine, ids = _person_store(store_path)
    reference, reference_ids = _person_store(tmp_path / "reference.crm")
    assert ids == reference_ids
    assert _said_in(mine, SECRETS) >= {NAME, EMAIL, PHONE, OLD_PHONE}
    reports, records, log = _erasure_outcome(mine, ids)
    expected_reports, expected_records, expected_log = _erasure_outcome(reference, ids)
    assert [{k: r[k] for k in ("records", "audit_entries")} for r in reports] == \
        [{k: r[k] for k in ("records", "audit_entries")} for r in expected_reports]
    for kind, frame in expected_records.items():
        pd.testing.assert_frame_equal(records[kind], frame, check_dtype=False, obj=kind)
    pd.testing.assert_frame_equal(log, expected_log, check_dtype=False)
    # By hand: the person, their order, note, ticket and link (5), and the
    # other customer's custom field and address, each naming a contact form
    # (2: counted per field changed); then the contact and their role at Acme.
    assert [r["records"] for r in reports] == [7, 2]
    # Records whose values changed: the person, their note and ticket (their order and link hold no
    # text to clear), the other customer once (two fields); then the contact (their role says "buyer").
    assert [r["records_changed"] for r in reports] == [4, 1]
    assert _said_in(mine, SECRETS) == set()
    assert mine.get("customers", ids["person"])["name"] == "(erased)"
    assert mine.get("customers", ids["other"])["address"] == "c/o [erased]"
    assert mine.get("interactions", ids["note"])["summary"] is None
    on_server = not isinstance(store_path, os.PathLike)
    assert [r["vacuumed"] for r in reports] == [on_server] * 2
    assert [r["wal_truncated"] for r in reports] == [not on_server] * 2
    assert mine.audit_check().empty
    mine.add("customers", name="after the erasure")
    assert mine.audit_check().empty


def test_export_person_holds_everything_about_them(tmp_path):
    db, ids = _person_store(tmp_path / "s.crm")
    data = json.loads(db.export_person(ids["person"]))
    assert data["record"]["name"] == NAME and data["record"]["custom"] == {"nick": NAME}
    assert sorted(data["record"]["tags"]) == ["Vasquez-Ortiz-fan", "vip"]
    assert {"field": "phone", "value": "13987654321"} in data["contact_points"]
    assert {"field": "email", "value": EMAIL} in data["contact_points"]
    related = data["related"]
    assert [r["id"] for r in related["orders"]] == [ids["order"]]
    assert [r["id"] for r in related["interactions"]] == [ids["note"]]
    assert [r["id"] for r in related["tickets"]] == [ids["ticket"]]
    assert related["links"][0]["dst"] == ids["other"]
    audited = {(e["op"], e["first_id"]) for e in data["audit"]}
    assert ("insert", ids["person"]) in audited and ("update", ids["person"]) in audited
    assert ("update", ids["note"]) in audited
    contact = json.loads(db.export_person(ids["contact"]))
    assert contact["related"]["customer_contacts"][0]["role"] == "buyer"
    with pytest.raises(crm.ValidationError, match="organization"):
        db.export_person(ids["acme"])
    with pytest.raises(crm.NotFound):
        db.export_person(ids["order"])


def test_erasure_leaves_none_of_their_bytes_in_the_file_wal_or_free_pages(tmp_path):
    path = tmp_path / "s.crm"
    db, ids = _person_store(path)
    # The store holds them before (else the scan below proves nothing).
    assert {s for _, s in _found(path, SECRETS)} >= {NAME, EMAIL, PHONE, OLD_PHONE, "13987654321"}
    before = db.frame("orders")["amount"].sum()
    for who in ("person", "contact"):
        report = db.erase_person(ids[who])
        assert report["wal_truncated"]
    assert _found(path, SECRETS) == []
    # Erased everywhere, yet the business records stay and add up.
    person = db.get("customers", ids["person"])
    assert person["name"] == "(erased)" and person["phone"] is None and person["email"] is None
    assert person["tags"] == [] and person["custom"] == {} and person["kind"] == "person"
    assert db.get("contacts", ids["contact"])["birthday"] is None
    assert db.find("customers", phone=PHONE).empty and db.find("customers", tag="vip").empty
    note = db.get("interactions", ids["note"])
    assert note["summary"] is None and note["outcome"] is None
    assert db.get("customers", ids["other"])["custom"] == {"referrer": "[erased]"}
    assert db.get("customers", ids["other"])["address"] == "c/o [erased]"
    assert db.frame("orders")["amount"].sum() == before
    assert len(db.find("customer_contacts", contact_id=ids["contact"])) == 1
    # The audit log says an erasure happened, without the data, and its chain holds.
    erase = db.audit_log(about=[ids["person"]]).iloc[0]
    assert erase["op"] == "erase" and erase["actor"] == "t" and NAME not in json.dumps(erase["changes"])
    assert all(c is None or "redacted" in c for c in db.audit_log(about=[ids["person"]])["changes"])
    assert db.audit_check().empty
    db.close()
    assert _found(path, SECRETS) == []
    assert cli.main(["check", str(path)]) == 0


def test_erasure_refuses_organizations_and_open_transactions():
    db = crm.open()
    acme = db.add("customers", name="Acme", kind="organization")
    li = db.add("contacts", name="Li Lei")
    with pytest.raises(crm.ValidationError, match="organization"):
        db.erase_person(acme)
    with pytest.raises(crm.Error, match="transaction"):
        with db.transaction():
            db.erase_person(li)
    assert db.get("contacts", li)["name"] == "Li Lei"


# -- file hygiene -----------------------------------------------------------------

@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_stores_their_wal_shm_and_backups_are_private(tmp_path, umask_022):
    path = tmp_path / "s.crm"
    db = crm.open(path)
    db.add("customers", name="A")
    for suffix in ("", "-wal", "-shm"):
        assert _mode(f"{path}{suffix}") == 0o600, suffix
    db.backup(tmp_path / "copy.crm")
    assert _mode(tmp_path / "copy.crm") == 0o600
    db.close()
    crm.restore(tmp_path / "copy.crm", tmp_path / "restored.crm")
    assert _mode(tmp_path / "restored.crm") == 0o600
    # An existing file keeps the mode its owner gave it.
    os.chmod(path, 0o640)
    crm.open(path).close()
    assert _mode(path) == 0o640


def test_readonly_refuses_every_write_and_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "s.crm"
    with crm.open(path) as db:
        cid = db.add("customers", name="Acme", phone="13800138000")
        db.add("deals", customer_id=cid, stage="lead", amount=5.0)
    before = (os.stat(path).st_mtime_ns, path.read_bytes())
    db = crm.open(path, readonly=True)
    assert db.readonly
    assert db.get("customers", cid)["name"] == "Acme"
    assert db.find("customers", phone="138 0013 8000").index.tolist() == [cid]
    assert len(db.frame("deals")) == 1 and db.audit_check().empty
    writes = [
        lambda: db.add("customers", name="B"),
        lambda: db.update("customers", cid, name="C"),
        lambda: db.delete("customers", cid),
        lambda: db.import_frame("customers", pd.DataFrame({"name": ["D"]})),
        lambda: db.add_tags("customers", [cid], ["vip"]),
        lambda: db.declare_custom("customers", "level", "integer"),
        lambda: db.create_index("customers", "region"),
        lambda: db.vacuum(),
        lambda: db.erase_person(cid),
        lambda: db.transaction().__enter__(),
    ]
    for write in writes:
        with pytest.raises(crm.Error, match="read-only"):
            write()
    db.close()
    assert (os.stat(path).st_mtime_ns, path.read_bytes()) == before


def test_a_store_with_foreign_triggers_or_views_is_refused_or_reported(tmp_path):
    path = tmp_path / "s.crm"
    with crm.open(path) as db:
        cid = db.add("customers", name="Acme")
        db.add("deals", customer_id=cid, stage="lead")  # crmcore's own (temporary) triggers run here
    with crm.open(path) as db:
        assert db.foreign_objects == []
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE stolen(name TEXT)")
        raw.execute("CREATE TRIGGER copy_names AFTER INSERT ON customers BEGIN"
                    " INSERT INTO stolen VALUES(NEW.name); END")
        raw.execute("CREATE VIEW everyone AS SELECT name FROM customers")
    raw.close()
    with pytest.raises(crm.StorageError, match="copy_names"):
        crm.open(path)
    with crm.open(path, allow_foreign=True) as db:
        assert db.foreign_objects == ["view everyone", "trigger copy_names"] or \
            sorted(db.foreign_objects) == ["trigger copy_names", "view everyone"]
    assert cli.main(["check", str(path)]) == 1


def test_erasure_reaches_the_records_merged_into_the_person(store_path):
    db = crm.open(store_path)
    kept = db.add("contacts", name=NAME)
    duplicate = db.add("contacts", name=f"{NAME} (old)", phone=OLD_PHONE, email=EMAIL)
    db.merge("contacts", kept, [duplicate])
    assert db.merges()["keep_id"].tolist() == [kept]
    assert _said_in(db, SECRETS)  # (else the check below proves nothing)
    db.erase_person(kept)
    assert _said_in(db, SECRETS) == set() and db.merges().empty and db.audit_check().empty
    if isinstance(store_path, os.PathLike):
        assert _found(store_path, SECRETS) == []


@pytest.mark.parametrize("step", ["rule", "run_due", "stock", "service", "members", "receivables"])
def test_every_domain_s_writes_keep_the_chain_whole(store_path, step):
    # Rules, playbooks and run_due commit on their own (not through
    # Store::write); each domain's writes must seal their entries too, or
    # audit_check reports crmcore's own work as edits from outside.
    db = crm.open(store_path)
    crm.datasets.load(db, crm.datasets.synthetic(120, seed=3))
    customer = int(db.frame("customers").index[0])
    steps = {
        "rule": lambda: (
            db.automation.add_rule("vip", on="changed", kind="customers", field="status",
                                   condition=[("status", "==", "vip")],
                                   actions=[{"do": "tag", "add": ["vip"]}, {"do": "task", "subject": "call {name}"}]),
            db.update("customers", customer, status="vip")),
        "run_due": lambda: (db.automation.install_playbook("welcome"), db.automation.run_due("2026-02-01")),
        "stock": lambda: db.stock.adjust(int(db.frame("products").index[0]), db.add("locations", name="W1"), 5,
                                         reason="count", at="2025-01-01"),
        "service": lambda: db.service.move(db.add("tickets", customer_id=customer, opened_at="2025-01-01"),
                                           "in_progress"),
        "members": lambda: db.members.join(db.members.add_program("club"), [customer]),
        "receivables": lambda: db.add("payments", customer_id=customer, paid_at="2025-01-05", amount=40.0,
                                      invoice_id=db.add("invoices", customer_id=customer, issued_at="2025-01-01",
                                                        due_at="2025-02-01", amount=100.0)),
    }
    before = len(db.audit_log(limit=1_000_000))
    steps[step]()
    assert len(db.audit_log(limit=1_000_000)) > before
    assert db.audit_check().empty


def test_the_log_reads_when_every_entry_shown_has_changes_and_an_actor():
    # The core sends no mask for a column with no missing value.
    db = crm.open(actor="me")
    c = db.add("customers", name="A")
    db.update("customers", c, name="B")
    db.update("customers", c, name="C")
    log = db.audit_log(limit=2)
    assert log["changes"].tolist() == [{"name": ["B", "C"]}, {"name": ["A", "B"]}]
    assert log["actor"].tolist() == ["me", "me"]


def test_the_rules_changes_to_other_records_get_an_entry_each_after_the_write(store_path):
    # The rules' changes (invoices an import of payments marks paid) are
    # appended by the seal with the write's own entry: one per invoice, in
    # order, with their changes and the actor, and the chain holds on reopening.
    db = crm.open(store_path, actor="clerk")
    c = db.add("customers", name="Acme")
    invoices = [db.add("invoices", customer_id=c, issued_at="2025-01-01", due_at="2025-02-01", amount=100.0)
                for _ in range(3)]
    before = int(db.audit_log(limit=1).index[0])
    db.import_frame("payments", pd.DataFrame({"customer_id": c, "invoice_id": invoices, "paid_at": "2025-01-05",
                                              "amount": [100.0, 40.0, 100.0]}))
    log = db.audit_log(limit=3)
    assert log["op"].tolist() == ["update", "update", "insert"]
    assert log["first_id"].tolist() == [invoices[2], invoices[0], log["first_id"].iloc[2]]
    assert log["changes"].tolist()[:2] == [{"status": ["issued", "paid"]}] * 2
    assert log["actor"].tolist() == ["clerk"] * 3
    assert log.index.tolist() == [before + 3, before + 2, before + 1]
    assert db.audit_check().empty
    db.close()
    assert crm.open(store_path).audit_check().empty
