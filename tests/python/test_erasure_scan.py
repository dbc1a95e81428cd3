"""Erasure finds exactly what a brute-force scan finds. A store holds
several people who share text (notes, interactions, tickets, custom
fields, tags, a large upsert's audit entry) in the forms erasure looks
for: a phone number as typed, normalized, national, with another country's
code; an e-mail in two cases; a name other people share. One person is
erased; every row of every table and every audit entry is read with plain
SQL (sqlite3 or psycopg) before and after, and the change is compared,
cell by cell, with what the reference below says erasure must change.

The reference is written here in plain Python from erase_person's rules
(privacy.cpp): which fields are blanked, which records are about the
person, which stored forms are looked for (longest first, each replaced in
turn, in every free-text column, tag list and custom field), which audit
entries lose their values or their part about the person. It scans every
cell for every form, the slow way the store did before it scanned each
table once."""
import contextlib
import copy
import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

pytestmark = pytest.mark.usefixtures("backend")

# -- the store --------------------------------------------------------------------

NAME = "Marguerite Okonkwo-Lindqvist"
SHARED_NAME = "Wei Zhang"  # the erased contact's name, which another customer shares
PHONE = "+86 139 8765 4321"  # stored nationally (13987654321)
OLD_PHONE = "+44 20 7946 0958"  # stored with its country code (+442079460958)
EMAIL = "m.okonkwo_lindqvist@post-unique.example"
CONTACT_PHONE = "+86 186 0000 5555"
CONTACT_EMAIL = "wei.zhang.buyer@orchard-unique.example"
# A neighbour's number, which is not theirs: must stay everywhere.
NEIGHBOUR_PHONE = "+86 139 8765 4320"


def _build(path):
    """The store, and the ids of who and what is in it."""
    db = crm.open(path, actor="builder")
    ids = {}
    ids["acme"] = db.add("customers", name="Acme Trading", kind="organization",
                         address=f"reception: {EMAIL.upper()} or 13987654321")
    ids["person"] = db.add("customers", name=NAME, kind="person", phone=OLD_PHONE, email=EMAIL.upper(),
                           address="17 Quiet Lane", tags=["vip", "13987654321-club"],
                           custom={"nick": NAME, "alt": "+4413987654321"})
    db.update("customers", ids["person"], phone=PHONE, email=EMAIL)
    ids["namesake"] = db.add("customers", name=SHARED_NAME, kind="person", phone=NEIGHBOUR_PHONE,
                             address=f"next door to {NAME}")
    ids["other"] = db.add("customers", name="Someone Else", kind="person",
                          custom={"referrer": EMAIL, "fax": "02079460958", "mobile": "139-8765-4321"},
                          address=f"c/o {PHONE}; old +442079460958; national 2079460958",
                          tags=[EMAIL, "13987654321"])
    ids["contact"] = db.add("contacts", name=SHARED_NAME, phone=CONTACT_PHONE, email="wei@old-unique.example",
                            birthday="1981-02-03")
    db.update("contacts", ids["contact"], email=CONTACT_EMAIL)
    db.add("customer_contacts", customer_id=ids["acme"], contact_id=ids["contact"], role="buyer")
    ids["order"] = db.add("orders", customer_id=ids["person"], ordered_at="2024-01-01", amount=120.0)
    ids["note"] = db.add("interactions", customer_id=ids["person"], channel="call", occurred_at="2024-01-02",
                         summary=f"{NAME} called from 139-8765-4321")
    db.update("interactions", ids["note"], outcome="will call back on 13987654321")
    ids["their_ticket"] = db.add("tickets", customer_id=ids["person"], opened_at="2024-01-03",
                                 resolution=f"sent to {EMAIL}")
    ids["acme_ticket"] = db.add("tickets", customer_id=ids["acme"], opened_at="2024-01-04",
                                resolution=f"forwarded to {EMAIL} and +8613987654321, cc {CONTACT_EMAIL}")
    ids["acme_note"] = db.add("interactions", customer_id=ids["acme"], channel="email", occurred_at="2024-01-05",
                              summary=f"{SHARED_NAME} asked for {NAME}'s number 13987654320",
                              outcome=f"call {NAME} at 13987654321 or +113987654321")
    ids["namesake_note"] = db.add("interactions", customer_id=ids["namesake"], channel="call",
                                  occurred_at="2024-01-06", summary=f"spoke with {SHARED_NAME} ({CONTACT_PHONE})")
    db.link(ids["person"], ids["other"], "referred")
    db.link(ids["namesake"], ids["other"], "referred")
    # A large upsert: one entry for its run of records on a file (each record its own on a server),
    # holding the person's change and another's new address naming their e-mail.
    bulk = pd.DataFrame({"external_source": "erp", "external_id": [f"B{i:04d}" for i in range(300)],
                         "name": [f"bulk customer {i}" for i in range(300)], "kind": "person"})
    bulk_ids = [int(i) for i in db.import_frame("customers", bulk, progress=False)]
    bulk["address"] = [f"unit {i}" for i in range(300)]
    bulk.loc[7, "address"] = f"care of {EMAIL}"
    bulk.loc[8, "address"] = "care of 13987654320"
    db.import_frame("customers", bulk, mode="upsert", progress=False)
    ids["bulk"] = bulk_ids
    return db, ids


# -- reading every table with plain SQL -------------------------------------------

AUDIT_COLUMNS = ["seq", "op", "kind", "first_id", "last_id", "rows", "cause_id", "changes"]


@contextlib.contextmanager
def _plain_sql(store, request):
    """A DB-API cursor on the store's tables, outside crmcore."""
    if isinstance(store, Path):
        with contextlib.closing(sqlite3.connect(store)) as conn:
            yield conn.cursor()
        return
    psycopg = pytest.importorskip("psycopg")
    schema = store.rsplit("schema=", 1)[1]
    with psycopg.connect(request.getfixturevalue("postgres_server").dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        yield conn.cursor()


def _tables(store, request):
    """Every kind's rows (id -> column -> value, without updated_at), the
    contact points and tags (as sets of rows) and the audit log (seq -> row)."""
    out = {}
    with _plain_sql(store, request) as cur:
        for k in _core.kinds():
            cur.execute(f"SELECT * FROM {k['name']} ORDER BY id")
            names = [d[0] for d in cur.description]
            out[k["name"]] = {r[0]: {c: v for c, v in zip(names, r) if c != "updated_at"} for r in cur.fetchall()}
        cur.execute("SELECT value, record_id, field, kind FROM contact_points")
        out["contact_points"] = set(cur.fetchall())
        cur.execute("SELECT tag, record_id FROM record_tags")
        out["record_tags"] = set(cur.fetchall())
        cur.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log ORDER BY seq")
        out["audit_log"] = {r[0]: dict(zip(AUDIT_COLUMNS, r)) for r in cur.fetchall()}
    return out


# -- the reference ----------------------------------------------------------------

NARRATIVE = {"summary", "outcome", "next_step", "resolution", "comment", "response", "subject", "stage_reason",
             "reason", "location", "description"}
# The kinds of this store's records about a person that only link them (cascade on delete): no narrative.
LINK_KINDS = {"links", "customer_contacts"}
MIN_MENTION = 6  # shorter values are not looked for in other records' text


def _country_codes():
    """The country codes the store knows (normalize.cpp's list), read from the source as data."""
    source = (Path(__file__).parents[2] / "cpp" / "src" / "records" / "normalize.cpp").read_text()
    block = re.search(r"kCountryCodes\[\] = \{(.*?)\};", source, re.S).group(1)
    return re.findall(r'"(\d+)"', block)


def _phone_forms(normalized):
    """The other forms a normalized number is stored or typed in (as the store derives them)."""
    codes = _country_codes()
    if normalized.startswith("+"):
        digits = normalized[1:]
        code = next((c for c in codes if digits.startswith(c)), None)
        national = digits[len(code):] if code else ""
        if len(national) < 7:
            return []
        return [national] + ([] if national.startswith("0") else ["0" + national])
    if len(normalized) < 7:
        return []
    forms = []
    for code in codes:
        if code == "86":
            continue
        forms.append(f"+{code}{normalized}")
        if normalized.startswith("0"):
            forms.append(f"+{code}{normalized[1:]}")
    return forms


def _blank_mentions(text, values):
    """`text` with each of `values` in turn replaced by "[erased]", and how
    many of them it held (at its turn)."""
    hits = 0
    for v in values:
        if text is not None and v in text:
            text = text.replace(v, "[erased]")
            hits += 1
    return text, hits


def _others_part(text, theirs, contacts):
    """An entry's part about records other than `theirs` and not holding one of
    `contacts` (privacy.cpp's others_part): (text or None, untouched)."""
    changes = json.loads(text)
    listed = isinstance(changes, dict) and isinstance(changes.get("records"), dict)
    of_rules = listed and len(changes) == 2 and isinstance(changes.get("rules"), dict)
    if not listed or not (of_rules or len(changes) == 1):
        return None, False
    long_said = [v for v in contacts if len(v) >= 3]

    def dumped(part):
        return json.dumps(part, ensure_ascii=False, separators=(",", ":"), sort_keys=True)  # as nlohmann dumps

    rules, dropped = {}, 0
    if of_rules:
        for rule, acted in changes["rules"].items():
            kept = [i for i in acted["ids"] if not (isinstance(i, int) and i in theirs)]
            dropped += len(acted["ids"]) - len(kept)
            if kept:
                rules[rule] = {**acted, "ids": kept}
    records = {}
    for rid, fields in changes["records"].items():
        if int(rid) not in theirs and not any(v in dumped(fields) for v in long_said):
            records[rid] = fields
        else:
            dropped += 1
    if dropped == 0 and not any(v in dumped(rules) for v in long_said):  # nothing of theirs in it
        return text, True
    if not rules and not records:
        return None, False
    rest = {"rules": rules, "records": records} if of_rules else {"records": records}
    rest_text = dumped(rest)
    if any(v in rest_text for v in long_said):
        return None, False
    return rest_text, False


def _reference(before, kind, pid):
    """What erasing `pid` (of `kind`) makes of `before` (_tables' shape): the
    tables expected after it, the counts it reports (records, records_changed),
    and the audit entries it empties and narrows."""
    specs = {k["name"]: k["fields"] for k in _core.kinds()}
    after = copy.deepcopy(before)
    row = before[kind][pid]
    fields = specs[kind]
    # 1. What they are said to be, and the forms of their phone and e-mail.
    said, contacts = set(), set()
    for f in fields:
        if (f["lookup"] or f["name"] in ("name", "address")) and row[f["name"]] is not None:
            said.add(row[f["name"]])
            if f["lookup"]:
                contacts.add(row[f["name"]])
            if f["lookup"] == "phone":
                normalized = _core.normalize_phone(row[f["name"]])
                contacts.update([normalized] if normalized else [])
                contacts.update(_phone_forms(normalized))
    contacts.update(v for v, rid, _, _ in before["contact_points"] if rid == pid)
    said |= contacts
    values = sorted(sorted(v for v in said if len(v) >= MIN_MENTION), key=len, reverse=True)
    forms = sorted(sorted(v for v in contacts if len(v) >= MIN_MENTION), key=len, reverse=True)
    # 2. Their own record.
    mine = after[kind][pid]
    for f in fields:
        if (f["type"] == "text" and not f["choices"]) or f["name"] in ("external_id", "external_source"):
            mine[f["name"]] = "(erased)" if f["required"] else None
        elif f["type"] == "time" and not f["required"]:
            mine[f["name"]] = None
    mine["tags"] = mine["custom"] = None
    points = {p for p in before["contact_points"] if p[1] != pid}
    tags = {t for t in before["record_tags"] if t[1] != pid}
    records = 1
    # 3. The records about them: narrative cleared, then every form and value blanked.
    about = [pid]
    for k, kfields in specs.items():
        refs = [f["name"] for f in kfields if (f["type"] == "ref" and f["ref_kind"] == kind) or f["type"] == "anyref"]
        ids = sorted({i for i, r in after[k].items() if any(r[c] == pid for c in refs)})
        if not ids:
            continue
        columns = ["tags", "custom"] + [f["name"] for f in kfields if f["type"] == "text" and not f["lookup"]
                                        and f["name"] != "name"]
        columns += [f["name"] for f in kfields if f["type"] == "text" and (f["lookup"] or f["name"] == "name")]
        for i in ids:
            r = after[k][i]
            if k not in LINK_KINDS:
                for f in kfields:
                    if f["name"] in NARRATIVE and f["type"] == "text":
                        r[f["name"]] = "(erased)" if f["required"] else None
            for c in columns:
                r[c], _ = _blank_mentions(r[c], values)
        records += len(ids)
        about += ids
    # 4. Their phone and e-mail anywhere else, counted per field and form.
    for k, kfields in specs.items():
        columns = ["tags", "custom"] + [f["name"] for f in kfields if f["type"] == "text" and not f["lookup"]
                                        and f["name"] != "name"]
        for r in after[k].values():
            for c in columns:
                r[c], hits = _blank_mentions(r[c], forms)
                records += hits
    # 6. The audit log: the entries about their records, and those holding their phone or
    # e-mail (not those only naming them: a namesake's).
    theirs = set(about)
    emptied, narrowed = [], {}
    for seq, entry in before["audit_log"].items():
        text = entry["changes"]
        if text is None:
            continue
        first, last = entry["first_id"], entry["last_id"]
        spans = any((first is not None and last is not None and first <= i <= last) or entry["cause_id"] == i
                    for i in theirs)
        if not spans and not any(v in text for v in contacts if len(v) >= 3):
            continue
        rest, untouched = _others_part(text, theirs, contacts)
        if untouched:
            continue
        after["audit_log"][seq]["changes"] = rest
        if rest is None:
            emptied.append(seq)
        else:
            narrowed[seq] = rest
    after["contact_points"], after["record_tags"] = points, tags
    # The records whose values changed (records counts matches: see erase_person's docstring).
    changed = sum(after[k][i] != before[k][i] for k in specs for i in before[k])
    return after, records, changed, emptied, narrowed


# -- the test ---------------------------------------------------------------------

def _comparable(tables):
    """Rows with the audit entries' changes parsed (a narrowed entry is written by
    nlohmann::json, the reference's by Python: the same JSON, spaced apart)."""
    out = {}
    for t, rows in tables.items():
        if isinstance(rows, set):
            out[t] = sorted(rows)
        else:
            out[t] = {i: {c: (json.loads(v) if c == "changes" and v else v) for c, v in r.items()}
                      for i, r in rows.items()}
    return out


@pytest.mark.parametrize("who", ["person", "contact"])
def test_erasure_changes_exactly_what_a_brute_force_scan_finds(store_path, request, who):  # noqa: F811
    db, ids = _build(store_path)
    kind = "customers" if who == "person" else "contacts"
    before = _tables(store_path, request)
    expected, records, changed, emptied, narrowed = _reference(before, kind, ids[who])
    # The store holds what the reference looks for (else the comparison proves little).
    # (A large upsert keeps one entry for its run only on a file: there the person's is narrowed.)
    assert records >= (9 if who == "person" else 4) and emptied
    assert narrowed or who == "contact" or not isinstance(store_path, Path)
    report = db.erase_person(ids[who])
    after = _tables(store_path, request)
    new = {seq: e for seq, e in after["audit_log"].items() if seq not in before["audit_log"]}
    assert [e["op"] for e in new.values()] == ["erase"]
    erase = next(iter(new.values()))
    del after["audit_log"][erase["seq"]]
    assert report["records"] == records == erase["rows"]
    assert report["records_changed"] == changed < records
    assert report["audit_entries"] == len(emptied) + len(narrowed)
    said = json.loads(erase["changes"])
    assert said["redacted"] == emptied and sorted(map(int, said.get("narrowed", {}))) == sorted(narrowed)
    got, want = _comparable(after), _comparable(expected)
    for table in want:
        if isinstance(want[table], dict):
            for i in want[table]:
                assert got[table][i] == want[table][i], (table, i)
        assert got[table] == want[table], table
    assert db.audit_check().empty
    # Those who only share text with them keep their own.
    assert db.get("customers", ids["namesake"])["phone"] is not None
    db.close()


# -- namesakes --------------------------------------------------------------------

ERASED_PHONE, ERASED_OLD_PHONE = "+86 139 2222 7777", "+86 139 2222 6666"
ERASED_EMAIL = "first.wei@only-theirs.example"


def test_a_namesakes_audit_entries_keep_their_values(store_path, request):  # noqa: F811
    """Two customers named alike, one erased. The name is looked for only in
    the entries about the erased one's records (as the records' scan never
    looks for it elsewhere: another person may share it); their phone and
    e-mail are looked for in every entry. So the namesake's entries (their
    own, their interaction's, their part of a large upsert's run) keep every
    value, as does a run that only spans the erased one's id; the erased
    one's lose name, phone and e-mail."""
    db = crm.open(store_path, actor="builder")
    frame = pd.DataFrame({"external_source": "erp", "external_id": [f"N{i:04d}" for i in range(301)],
                          "name": [f"bulk {i}" for i in range(301)], "kind": "person"})
    ids = [int(i) for i in db.import_frame("customers", frame, progress=False)]
    erased, namesake = ids[150], ids[151]
    frame.loc[150:151, "name"] = SHARED_NAME
    db.update("customers", erased, name=SHARED_NAME, phone=ERASED_OLD_PHONE, email=ERASED_EMAIL,
              address="3 Elm Row")
    db.update("customers", erased, phone=ERASED_PHONE)
    db.update("customers", namesake, name=SHARED_NAME, phone=NEIGHBOUR_PHONE, email=CONTACT_EMAIL,
              address=f"{SHARED_NAME}, 4 Elm Row")
    db.update("customers", namesake, address=f"c/o {SHARED_NAME}, 5 Elm Row")
    their_note = db.add("interactions", customer_id=erased, channel="call", occurred_at="2024-01-02")
    db.update("interactions", their_note, summary=f"{SHARED_NAME} asked for a refund")
    namesakes_note = db.add("interactions", customer_id=namesake, channel="call", occurred_at="2024-01-03")
    db.update("interactions", namesakes_note, summary=f"{SHARED_NAME} asked for a quote")
    shop = db.add("customers", name="Elm Row Shop", kind="organization")
    shop_note = db.add("interactions", customer_id=shop, channel="email", occurred_at="2024-01-04")
    db.update("interactions", shop_note, summary=f"forward to {ERASED_EMAIL}")
    # A run spanning the erased one's id without holding it, then one holding both.
    spanning = frame.drop(index=150).assign(address=lambda f: [f"near {SHARED_NAME} {i}" for i in f.index])
    db.import_frame("customers", spanning, mode="upsert", progress=False)
    db.import_frame("customers", frame.assign(address=[f"{SHARED_NAME} street {i}" for i in frame.index]),
                    mode="upsert", progress=False)
    before = _tables(store_path, request)["audit_log"]
    db.erase_person(erased)
    after = _tables(store_path, request)["audit_log"]
    theirs = {erased, their_note}
    their_forms = [ERASED_EMAIL, "13922227777", "13922226666"]
    kept = changed = 0
    for seq, entry in before.items():
        text, now = entry["changes"], after[seq]["changes"]
        if text is None:
            continue
        about = (entry["first_id"], entry["last_id"])
        if about in {(i, i) for i in theirs} or any(form in text for form in their_forms):
            assert now is None, entry  # theirs, or naming their e-mail: every value goes
            changed += 1
            continue
        records = json.loads(text).get("records") if text.startswith("{\"records\"") else None
        if records is not None and str(erased) in records:  # a run holding theirs: only their part goes
            del records[str(erased)]
            assert json.loads(now) == {"records": records}, seq
            changed += 1
            continue
        assert now == text, entry  # the namesake's, the shop's, the run only spanning them: as it was
        kept += 1
    # The store held what is judged: theirs (3 + the note's + the shop's, a run on a file), the namesake's.
    assert changed >= 5 and kept >= 4
    for entry in after.values():
        for form in their_forms:
            assert form not in (entry["changes"] or ""), entry
    assert db.get("customers", namesake)["name"] == SHARED_NAME
    assert db.audit_check().empty
    db.close()
