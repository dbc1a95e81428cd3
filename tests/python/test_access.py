"""Access: the engine's rules against the plain reference model (access_model.py) on
random organisations, every read path of a scoped handle searched for leaks, and the
organisation's own operations (modes, shares, field rules, owners)."""
import json
import random

import pandas as pd
import pytest

import crmcore as crm
from access_model import OWNER, PARENTS, Model

MODES = ["centralized", "decentralized", "matrix"]


def build_company(db, rng: random.Random, staff_n=24, customers_n=60):
    """A random organisation and book: roles, a reporting forest, teams in departments,
    a region × product-line grid, owned records with children, links, shares and field
    rules. Returns the staff ids."""
    roles = ["sales"] * 6 + ["service"] * 2 + ["manager"] * 3 + ["analyst", "admin"]
    staff = []
    for i in range(staff_n):
        manager = rng.choice(staff) if staff and rng.random() < 0.7 else None
        staff.append(db.add("staff", name=f"S{i}", role=rng.choice(roles), manager_id=manager,
                            phone=f"+86 139 0000 {1000 + i}"))
    depts = [db.access.add_department(f"D{i}", manager=rng.choice(staff)) for i in range(2)]
    teams = [db.access.add_team(f"T{i}", department=rng.choice(depts + [None]),
                                manager=rng.choice(staff + [None])) for i in range(4)]
    for s in staff:
        if rng.random() < 0.7:
            db.update("staff", s, team_id=rng.choice(teams))
    cells = [db.access.add_territory(n, "region") for n in ("East", "West", "North")]
    cells += [db.access.add_territory(n, "product line") for n in ("Tea", "Coffee")]

    def owner():
        return rng.choice(staff) if rng.random() < 0.85 else None

    customers = [db.add("customers", name=f"C{i}", owner_id=owner(), phone=f"+86 138 0013 {1000 + i}",
                        email=f"c{i}@x.cn", tags=["vip"] if i % 3 == 0 else []) for i in range(customers_n)]
    contacts = [db.add("contacts", name=f"P{i}", owner_id=owner(), phone=f"+86 137 0013 {1000 + i}")
                for i in range(customers_n // 2)]
    members = rng.sample(staff, 10) + rng.sample(customers, customers_n // 2) + rng.sample(contacts, 5)
    for m in members:
        db.access.assign(rng.choice(cells), [m])
    orders = [db.add("orders", customer_id=rng.choice(customers), ordered_at="2025-01-05",
                     amount=float(rng.randint(10, 500)), cost=5.0) for _ in range(80)]
    for o in rng.sample(orders, 30):
        db.add("order_lines", order_id=o, quantity=1.0, unit_price=10.0)
    deals = [db.add("deals", customer_id=rng.choice(customers), stage="lead", owner_id=owner(), amount=100.0)
             for _ in range(30)]
    for _ in range(30):
        db.add("tickets", customer_id=rng.choice(customers + [None]), contact_id=rng.choice(contacts + [None]),
               owner_id=owner(), opened_at="2025-02-01")
        db.add("tasks", subject="call", assignee_id=owner(), customer_id=rng.choice(customers + [None]))
        db.add("interactions", customer_id=rng.choice(customers), channel="call", occurred_at="2025-03-01")
    for c in rng.sample(contacts, 10):
        db.add("customer_contacts", customer_id=rng.choice(customers), contact_id=c)
    for _ in range(40):
        src, dst = rng.sample(contacts + customers + staff[:3], 2)
        db.link(src, dst, "knows")
    db.add("products", sku="TEA-1", name="Tea")
    for _ in range(12):
        to_team = rng.random() < 0.3
        target = {"to_team": rng.choice(teams)} if to_team else {"to_staff": rng.choice(staff)}
        level = rng.choice(["read", "edit"])
        if rng.random() < 0.5:
            db.access.share(rng.choice(customers + deals + contacts), level=level, **target)
        else:
            db.access.share(owner=rng.choice(staff), level=level, **target)
    db.access.field_rule("orders", "cost", "sales")
    db.access.field_rule("customers", "phone", "service", action="mask")
    return staff, deals


@pytest.fixture(scope="module", params=MODES)
def company(request):
    db = crm.open(":memory:", mode=request.param)
    rng = random.Random(MODES.index(request.param) + 7)
    staff, deals = build_company(db, rng)
    return db, staff, rng, Model(db)


def all_records(db, kinds):
    return [(k, int(i)) for k in kinds for i in db.frame(k, columns=[]).index]


def test_engine_agrees_with_the_model_on_10000_cases_per_mode(company):
    db, staff, rng, model = company
    records = all_records(db, sorted(set(OWNER) | set(PARENTS) | {"links", "products", "staff", "territory_members",
                                                                  "access_shares"}))
    scoped = {s: db.as_user(s) for s in staff}
    disagreements, outcomes = [], set()
    for _ in range(10_000):
        kind, rid = rng.choice(records)
        user = rng.choice(staff)
        action = rng.choice(["read", "edit"])
        expected = action in model.rights(kind, rid, user)
        got = action in {"edit": {"read", "edit"}, "read": {"read"}, "": set()}[scoped[user].access.rights(kind, rid)]
        outcomes.add((action, expected))
        if expected != got:
            disagreements.append((kind, rid, user, model.role(user), action, expected))
    assert not disagreements[:10]
    # The organisation is varied enough that every answer occurs (in centralized mode everyone reads).
    assert outcomes >= {("read", True), ("edit", True), ("edit", False)}
    assert ("read", False) in outcomes or model.mode == "centralized"


def test_actual_reads_and_writes_follow_the_rights(company):
    """The rights the engine reports are what its paths do: get, update, delete and add."""
    db, staff, rng, model = company
    records = all_records(db, ["customers", "deals", "orders", "tickets", "contacts", "products"])
    for _ in range(150):
        kind, rid = rng.choice(records)
        user = rng.choice(staff)
        s = db.as_user(user)
        rights = model.rights(kind, rid, user)
        if "read" in rights:
            assert s.get(kind, rid)["id"] == rid
        else:
            with pytest.raises(crm.NotFound, match=f"no {kind} record with id {rid}'?$"):
                s.get(kind, rid)
        before = db.frame(kind, ids=[rid])
        field = {"customers": "status", "deals": "name", "orders": "channel", "tickets": "category",
                 "contacts": "title", "products": "category"}[kind]
        if "edit" in rights:
            s.update(kind, rid, **{field: "x"})
            db.update(kind, rid, **{field: before[field].iloc[0]})
        else:
            with pytest.raises(crm.NotFound if "read" not in rights else crm.PermissionDenied):
                s.update(kind, rid, **{field: "x"})
            assert db.frame(kind, ids=[rid])[field].equals(before[field])  # (a missing value equals missing)
    customers = [i for k, i in records if k == "customers"]
    for _ in range(100):
        user, parent = rng.choice(staff), rng.choice(customers)
        owner = rng.choice(staff + [None])
        kind = rng.choice(["deals", "orders", "customers"])
        values = {"deals": {"customer_id": parent, "stage": "lead", "owner_id": owner},
                  "orders": {"customer_id": parent, "ordered_at": "2025-01-05", "amount": 1.0},
                  "customers": {"name": "new", "owner_id": owner}}[kind]
        allowed = model.may_create(kind, values, user)
        s = db.as_user(user)
        if allowed:
            db.delete(kind, s.add(kind, **values))
        else:
            with pytest.raises((crm.PermissionDenied, crm.NotFound)):
                s.add(kind, **values)


def test_a_denial_names_the_record_and_the_rule():
    db = crm.open(":memory:", mode="decentralized")
    a, b = db.add("staff", name="A"), db.add("staff", name="B")
    c = db.add("customers", name="Acme", owner_id=a)
    db.access.share(c, to_staff=b, level="read")
    with pytest.raises(crm.PermissionDenied, match=rf"customers {c}: decentralized mode: none of its owners") as e:
        db.as_user(b).update("customers", c, name="Mine")
    assert isinstance(e.value, PermissionError) and isinstance(e.value, crm.Error)
    with pytest.raises(crm.PermissionDenied, match="only admins edit products"):
        db.as_user(b).add("products", sku="X", name="X")


def test_a_scoped_handle_leaks_nothing_invisible(tmp_path):
    """Every public read path of a scoped handle, for a user who sees part of the store."""
    db = crm.open(str(tmp_path / "leak.crm"), mode="decentralized")
    rng = random.Random(3)
    staff, _ = build_company(db, rng)
    user = next(s for s in staff if db.as_user(s).access.visible("customers") is not None
                and 0 < len(db.as_user(s).access.visible("customers")) < db.count("customers"))
    s = db.as_user(user)
    kinds = sorted(set(OWNER) | set(PARENTS) | {"links"})
    # visible() is None where the user sees every record of the kind.
    hidden = {k: set(db.frame(k, columns=[]).index) - set(db.frame(k, columns=[]).index
                                                         if s.access.visible(k) is None else s.access.visible(k))
              for k in kinds}
    hidden_ids = set().union(*hidden.values())
    hidden_names = set(db.frame("customers", ids=sorted(hidden["customers"]))["name"])
    assert hidden["customers"] and hidden_ids

    for k in kinds:
        assert hidden_ids.isdisjoint(s.frame(k).index)
        assert s.count(k) == len(s.frame(k, columns=[]))
        assert hidden_ids.isdisjoint(s.ids(k))
        assert hidden_ids.isdisjoint(s.find(k, [("id", ">", 0)]).index)
        assert hidden_ids.isdisjoint(s.frame(k, filters=[("id", ">", 0)], order_by="id", limit=1000).index)
    assert s.counts()["customers"] == len(s.frame("customers", columns=[]))
    assert hidden_ids.isdisjoint(s.find("customers", name="C").index)
    assert hidden_ids.isdisjoint(s.find("customers", tag="vip").index)
    phones = db.frame("customers")["phone"].tolist()
    m = s.match("customers", phone=phones)
    assert hidden_ids.isdisjoint(set(m["id"].dropna().astype(int)))
    for rid in sorted(hidden_ids)[:20]:
        kind = db.kind_of(rid)
        missing = 10**12 + rid  # no record has this id
        for call in (lambda i: s.get(kind, i), lambda i: s.frame(kind, ids=[i]), lambda i: s.kind_of(i),
                     lambda i: s.delete(kind, i)):
            with pytest.raises(crm.NotFound) as seen:
                call(rid)
            with pytest.raises(crm.NotFound) as absent:
                call(missing)
            assert str(seen.value).replace(str(rid), "#") == str(absent.value).replace(str(missing), "#")
    path = tmp_path / "out.json"
    s.export_json("customers", path)
    exported = json.loads(path.read_text())
    assert hidden_names.isdisjoint(r["name"] for r in exported)
    cells = s.frame("territory_members")
    assert hidden_ids.isdisjoint(cells["member_id"]) and len(cells) < db.count("territory_members")
    shares = s.frame("access_shares")
    assert hidden_ids.isdisjoint(shares["record_id"].dropna()) and len(shares) < db.count("access_shares")
    g = s.graph()
    assert hidden_ids.isdisjoint(set(g.nodes))
    assert hidden_ids.isdisjoint(s.rfm(as_of="2025-12-31").index)
    assert hidden_ids.isdisjoint(s.merges()["keep_id"] if len(s.merges()) else [])
    with pytest.raises(crm.PermissionDenied):
        s.audit_log()
    # Field rules on the way out: a sales user never reads an order's cost.
    sales = next(x for x in staff if db.as_user(x).access._db._core.role == "sales")
    assert db.as_user(sales).frame("orders")["cost"].isna().all()
    with pytest.raises(crm.PermissionDenied, match="hidden"):
        db.as_user(sales).ids("orders", [("cost", ">", 0)])


def test_modes_and_their_defaults():
    db = crm.open(":memory:")
    assert db.access.mode == "centralized" and db.user is None
    boss = db.add("staff", name="Boss", role="manager")
    rep = db.add("staff", name="Rep", role="sales", manager_id=boss)
    other = db.add("staff", name="Other", role="sales")
    c = db.add("customers", name="Acme", owner_id=rep)
    assert [db.as_user(x).access.rights("customers", c) for x in (boss, rep, other)] == ["edit", "edit", "read"]
    db.access.set_mode("decentralized")
    assert [db.as_user(x).access.rights("customers", c) for x in (boss, rep, other)] == ["edit", "edit", ""]
    db.access.set_mode("matrix")
    east = db.access.add_territory("East", "region")
    db.access.assign(east, [other, c])
    assert db.as_user(other).access.rights("customers", c) == "edit"
    with pytest.raises(crm.ValidationError):
        db.access.set_mode("anarchy")


def test_open_with_mode_and_user(tmp_path):
    path = tmp_path / "m.crm"
    with crm.open(path, mode="decentralized") as db:
        rep = db.add("staff", name="Rep")
        db.add("customers", name="Mine", owner_id=rep)
        db.add("customers", name="Not mine")
    scoped = crm.open(path, user=rep)
    assert scoped.user == rep and scoped.frame("customers")["name"].tolist() == ["Mine"]
    with pytest.raises(crm.ValidationError, match="runs in decentralized mode"):
        crm.open(path, mode="matrix")
    with pytest.raises(crm.NotFound, match="no staff record"):
        crm.open(path, user=10**9)


def test_a_scoped_handle_sees_changes_made_elsewhere():
    """Visibility is computed once and computed again when ownership or rules change."""
    db = crm.open(":memory:", mode="decentralized")
    a, b = db.add("staff", name="A"), db.add("staff", name="B")
    c = db.add("customers", name="Acme", owner_id=a)
    sb = db.as_user(b)
    assert sb.count("customers") == 0
    db.access.reassign(a, b)
    assert sb.count("customers") == 1
    share = db.access.share(owner=b, to_staff=a)
    assert db.as_user(a).access.rights("customers", c) == "read"
    db.delete("access_shares", share)
    assert db.as_user(a).access.rights("customers", c) == ""


def test_reassign_a_whole_book_in_one_call_and_it_is_audited():
    db = crm.open(":memory:")
    a, b = db.add("staff", name="A"), db.add("staff", name="B")
    c = db.add("customers", name="Acme", owner_id=a)
    d = db.add("deals", customer_id=c, stage="lead", owner_id=a)
    t = db.add("tasks", subject="call", assignee_id=a)
    inv = db.add("invoices", customer_id=c, issued_at="2025-01-01", due_at="2025-02-01", amount=1.0, owner_id=a)
    kept = db.add("customers", name="Kept", owner_id=b)
    # Every owned kind, as the kind table says (an invoice's owner once stayed behind).
    assert db.access.reassign(a, b) == {"customers": 1, "contacts": 0, "deals": 1, "tickets": 0, "tasks": 1,
                                        "contracts": 0, "invoices": 1, "projects": 0}
    assert db.get("deals", d)["owner_id"] == b and db.get("tasks", t)["assignee_id"] == b
    assert db.get("invoices", inv)["owner_id"] == b
    assert db.access.reassign(b, a, kinds=["customers"], ids=[kept]) == {"customers": 1}
    assert db.get("customers", c)["owner_id"] == b and db.get("customers", kept)["owner_id"] == a
    assert {"customers", "deals", "tasks"} <= set(db.audit_log()["kind"])
    # Through a scoped handle the rules apply: a sales rep cannot take someone else's book,
    # which they may read (centralized) ...
    with pytest.raises(crm.PermissionDenied, match=f"customers {kept}"):
        db.as_user(b).access.reassign(a, b)
    # ... or cannot even see (decentralized): then nothing of it moves.
    db.access.set_mode("decentralized")
    assert db.as_user(b).access.reassign(a, b)["customers"] == 0
    assert db.get("customers", kept)["owner_id"] == a


def test_free_text_owners_are_migrated_with_a_report():
    db = crm.open(":memory:")
    li = db.add("staff", name="Li Lei")
    db.add("staff", name="Twin")
    db.add("staff", name="twin")
    ok = db.add("customers", name="A", owner="  LI LEI")
    db.add("customers", name="B", owner="Nobody At All")
    db.add("customers", name="C", owner="Twin")
    db.add("customers", name="D")
    report = db.access.migrate_owners()
    assert db.get("customers", ok)["owner_id"] == li
    assert report["owner"].tolist() == ["Nobody At All", "Twin"]
    assert report["reason"].tolist() == ["no staff member has that name", "2 staff members have that name"]


def test_the_acting_user_is_declared_on_the_store_around_scoped_writes():
    db = crm.open(":memory:", actor="script")
    rep = db.add("staff", name="Rep", role="manager")
    db.as_user(rep).add("customers", name="Acme", owner_id=rep)
    assert db.audit_log(limit=1)["actor"].tolist() == [f"staff:{rep}"]
    assert db._core.actor == "script"  # the handle's own actor again after the scoped write
    db.add("customers", name="Own")
    assert db.audit_log(limit=1)["actor"].tolist() == ["script"]


def test_rules_are_readable_frames():
    db = crm.open(":memory:")
    a = db.add("staff", name="A", role="analyst")
    team = db.access.add_team("Inside sales")
    db.access.share(owner=a, to_team=team, level="edit")
    db.access.field_rule("customers", "phone", "*", action="mask")
    assert db.access.shares()["level"].tolist() == ["edit"]
    assert db.access.field_rules()[["kind", "field", "role", "action"]].values.tolist() == [
        ["customers", "phone", "*", "mask"]]
    c = db.add("customers", name="Acme", phone="+86 138 0013 8000")
    assert db.as_user(a).get("customers", c)["phone"] == "***8000"
    assert db.get("customers", c)["phone"] != "***8000"
    with pytest.raises(crm.ValidationError):
        db.access.field_rule("customers", "no_such_field", "*")


def test_match_through_a_scoped_handle_counts_only_visible_records():
    """The scoped match looks each value up among the visible records: the same answers as
    the store's own match where everything matched is visible, none where nothing is."""
    db = crm.open(":memory:", mode="decentralized")
    boss = db.add("staff", name="B", role="manager")
    a = db.add("customers", name="A", phone="+86 138 0013 8000", email="x@y.cn", owner_id=boss)
    db.add("customers", name="A2", phone="13800138000", owner_id=boss)
    c = db.add("customers", name="C", phone="+1 415 555 0100", owner_id=boss)
    db.add("customers", name="D", phone="+1 415 555 0101")  # unowned: invisible to B
    values = ["138-0013-8000", "4155550100", "+14155550100", "", "garbage", "0086 13800138000", "415 555 0101"]
    scoped = db.as_user(boss).match("customers", phone=values)
    plain = db.match("customers", phone=values)
    assert scoped.iloc[:6].equals(plain.iloc[:6])
    assert scoped["id"].iloc[:3].tolist() == [a, c, c] and scoped["matches"].tolist()[:2] == [2, 1]
    assert pd.isna(scoped["id"].iloc[6]) and scoped["matches"].iloc[6] == 0 and plain["matches"].iloc[6] == 1
    assert db.as_user(boss).match("customers", email=["X@Y.CN", "bad"]).equals(
        db.match("customers", email=["X@Y.CN", "bad"]))


def _loaded(path=":memory:"):
    db = crm.open(path)
    crm.datasets.load(db, crm.datasets.synthetic(n_customers=40, seed=11), progress=False)
    return db, db.add("staff", name="Root", role="admin")


def _same(a: pd.DataFrame, b: pd.DataFrame, kind: str) -> None:
    # Times the store writes itself (the schema says which), from the clock of each run.
    schema = crm.open().schema(kind)
    clock = schema[schema["written_by_store"] & (schema["type"] == "time")].index
    stamps = [c for c in a.columns if c in clock]
    pd.testing.assert_frame_equal(a.drop(columns=stamps), b.drop(columns=stamps))


def test_a_scoped_handle_that_may_see_everything_reads_and_writes_as_the_unscoped_one():
    """The two paths cannot drift apart: an admin's scoped handle (and an analyst's, for
    reads) gives what the unscoped handle gives, and the same writes leave the same store."""
    db, root = _loaded()
    analyst = db.add("staff", name="Reader", role="analyst")
    db.access.set_mode("decentralized")
    kinds = [k for k in db.counts().index]
    for who in (root, analyst):
        s = db.as_user(who)
        assert s.counts().equals(db.counts())
        for k in kinds:
            _same(s.frame(k), db.frame(k), k)
        _same(s.find("customers", name="公司"), db.find("customers", name="公司"), "customers")
        assert list(s.ids("orders", [("amount", ">", 100)], order_by="-amount", limit=7, offset=2)) == list(
            db.ids("orders", [("amount", ">", 100)], order_by="-amount", limit=7, offset=2))
        phones = db.frame("customers")["phone"].dropna().tolist()[:20] + ["no phone"]
        _same(s.match("customers", phone=phones), db.match("customers", phone=phones), "customers")
    # The same writes, unscoped on one copy and through the admin's handle on another.
    results = []
    for scoped in (False, True):
        base, root = _loaded()
        h = base.as_user(root) if scoped else base
        c = h.add("customers", name="New", phone="+86 138 0000 0001", tags=["vip"])
        h.update("customers", c, region="East")
        ids = h.frame("customers", columns=[]).index[:3].tolist()
        h.add_tags("customers", ids, "checked")
        h.import_frame("customers", pd.DataFrame({"id": ids[:2], "status": ["active", "lost"]}), mode="update")
        h.merge("customers", ids[0], [ids[1]])
        h.delete_many("customers", [ids[2]], dependants="delete")
        h.link(c, ids[0], "refers")
        results.append({k: base.frame(k) for k in base.counts().index})
    for k in results[0]:
        _same(results[0][k], results[1][k], k)


def test_the_domains_records_about_a_customer_follow_the_customer():
    # Invoices, their lines, contracts, ticket history and members are about
    # a customer: a rep who cannot see the customer cannot see them either.
    db = crm.open(":memory:", mode="decentralized")
    mine, theirs = db.add("staff", name="Mine", role="sales"), db.add("staff", name="Theirs", role="sales")
    kept = {}
    for rep in (mine, theirs):
        c = db.add("customers", name=f"C{rep}", owner_id=rep)
        invoice = db.add("invoices", customer_id=c, issued_at="2025-01-01", due_at="2025-02-01", amount=10.0)
        kept[rep] = {
            "invoices": invoice,
            "payments": db.add("payments", customer_id=c, invoice_id=invoice, paid_at="2025-01-02", amount=5.0),
            "contracts": db.add("contracts", customer_id=c, value=1.0),
            "ticket_events": int(db.frame("ticket_events", filters=[("ticket_id", "==", db.add(
                "tickets", customer_id=c, opened_at="2025-01-01"))]).index[0]),
            "members": db.add("members", customer_id=c, joined_at="2025-01-01",
                              program_id=db.members.add_program(f"club{rep}")),
        }
    seen = db.as_user(mine)
    for kind, record in kept[mine].items():
        assert record in seen.frame(kind).index, kind
    for kind, record in kept[theirs].items():
        assert record not in seen.frame(kind).index, kind


def test_time_rules_run_on_a_scoped_handle_for_admins_only_and_audited_as_them():
    db = crm.open(mode="decentralized")
    admin = db.add("staff", name="Admin", role="admin")
    rep = db.add("staff", name="Rep", role="sales")
    other = db.add("customers", name="Not the rep's")
    db.automation.add_rule("daily", on="schedule", kind="customers", every_days=1, actions=[{"do": "tag", "add": ["d"]}])
    db.automation.add_rule("risk", on="score", kind="customers", field="churn", threshold=0.5,
                           actions=[{"do": "tag", "add": ["risk"]}])
    rep_db = db.as_user(rep)
    # A rule acts on every record it matches, whoever may see it: not for a sales rep
    # (this was a bare AttributeError of the scoped store).
    with pytest.raises(crm.PermissionDenied, match="only admins"):
        rep_db.automation.run_due("2025-01-02")
    with pytest.raises(crm.PermissionDenied, match="only admins"):
        rep_db.automation.scored("churn", pd.Series({other: 0.9}))
    assert db.get("customers", other)["tags"] == []
    assert db.count("automation_runs") == 0
    admin_db = db.as_user(admin)
    assert admin_db.automation.run_due("2025-01-02")["record_id"].tolist() == [other]
    assert admin_db.automation.scored("churn", pd.Series({other: 0.9}))["record_id"].tolist() == [other]
    assert db.get("customers", other)["tags"] == ["d", "risk"]
    assert set(db.audit_log().head(2)["actor"]) == {f"staff:{admin}"}
