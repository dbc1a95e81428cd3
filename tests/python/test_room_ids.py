"""Record ids given to the domain rooms (db.service, db.members,
db.automation, db.access, db.sales) are read whole, as db.get reads them:
1.5 is not record 1, True is not record 1, "5" is not record 5, and 2**63 or
NumPy's uint64 2**64-1 do not wrap round to another id. Each is refused with
a ValidationError naming the argument, and nothing is written (these were
truncated by int() or np.asarray(dtype=int64): escalating, reassigning,
joining or acting as the wrong record)."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

_BAD = ["fraction", True, "5", 2**63, np.uint64(2**64 - 1), None]


@pytest.fixture()
def shop():
    db = crm.open()
    rep = db.add("staff", name="Rep", role="sales")
    other = db.add("staff", name="Other", role="sales")
    c = db.add("customers", name="Acme", owner_id=rep)
    t = db.add("tickets", customer_id=c, opened_at="2024-03-01")
    program = db.members.add_program("club")
    east = db.access.add_territory("East", "region")
    rule = db.automation.add_rule("risk", on="score", kind="customers", field="churn", threshold=0.5,
                                  actions=[{"do": "tag", "add": ["risk"]}])
    return dict(db=db, rep=rep, other=other, customer=c, ticket=t, program=program, territory=east, rule=rule)


def _calls(s):
    db = s["db"]
    return {
        # (call with the bad id, the argument's name, the good id it would be truncated to)
        "escalate": (lambda v: db.service.escalate(v), "tickets", s["ticket"]),
        "escalate list": (lambda v: db.service.escalate([s["ticket"], v]), "tickets", s["ticket"]),
        "as_user": (lambda v: db.as_user(v), "staff_id", s["rep"]),
        "assign territory": (lambda v: db.access.assign(v, [s["rep"]]), "territory", s["territory"]),
        "assign members": (lambda v: db.access.assign(s["territory"], [v]), "members", s["rep"]),
        "reassign from": (lambda v: db.access.reassign(v, s["other"]), "from_staff", s["rep"]),
        "reassign to": (lambda v: db.access.reassign(s["rep"], v), "to_staff", s["other"]),
        "reassign ids": (lambda v: db.access.reassign(s["rep"], s["other"], ids=[v]), "ids", s["customer"]),
        "members.program": (lambda v: db.members.program(v), "program", s["program"]),
        "members.join": (lambda v: db.members.join(s["program"], [v]), "customers", s["customer"]),
        "automation.rule": (lambda v: db.automation.rule(v), "rule", s["rule"]),
        "automation.scored": (lambda v: db.automation.scored("churn", pd.Series([0.9], index=pd.Index([v], dtype=object))),
                              "values", s["customer"]),
        "funnel pipeline": (lambda v: db.sales.funnel(pipeline=v), "pipeline", None),
        "funnel customers": (lambda v: db.sales.funnel(customers=[v]), "customers", s["customer"]),
        "agenda": (lambda v: db.sales.agenda(v), "staff", s["rep"]),
        "reminders": (lambda v: db.sales.reminders(staff=v), "staff", s["rep"]),
        "statement": (lambda v: db.partners.statement(v, "2024-01-01", "2025-01-01"), "partner", s["customer"]),
    }


@pytest.mark.parametrize("name", list(_calls({k: 1 for k in ("db", "rep", "other", "customer", "ticket", "program",
                                                              "territory", "rule")})))
@pytest.mark.parametrize("bad", _BAD, ids=repr)
def test_an_id_that_is_not_one_is_refused_naming_the_argument_and_nothing_changes(shop, name, bad):
    db = shop["db"]
    call, argument, good = _calls(shop)[name]
    if bad == "fraction":
        bad = (good if good is not None else db.ids("pipelines")[0]) + 0.5
    if bad is None and name in ("funnel pipeline", "agenda", "reminders"):
        return  # None: the default pipeline, everyone
    if bad == "5" and name in ("members.program", "automation.rule", "funnel pipeline"):
        return  # a text is the programme's, rule's or pipeline's name
    before = db.counts()
    log = len(db.audit_log())
    with pytest.raises(crm.ValidationError, match=f"field '{argument}'"):
        call(bad)
    assert db.counts().equals(before)
    assert len(db.audit_log()) == log
    assert db.get("tickets", shop["ticket"])["escalation"] is None
    assert db.get("customers", shop["customer"])["owner_id"] == shop["rep"]


def test_whole_ids_of_any_integer_type_still_pass(shop):
    db = shop["db"]
    db.service.escalate(np.int32(shop["ticket"]))
    db.service.escalate(np.array([shop["ticket"]], dtype=np.uint64))
    assert db.get("tickets", shop["ticket"])["escalation"] == 2
    assert db.as_user(np.int64(shop["rep"])).user == shop["rep"]
    assert db.members.program(np.int16(shop["program"])) == shop["program"]
    assert db.access.reassign(np.int64(shop["rep"]), float(shop["other"]))["customers"] == 1


@pytest.mark.parametrize("method", ["add_tags", "remove_tags"])
@pytest.mark.parametrize("bad", ["fraction", True, "5", 2**63, np.uint64(2**64 - 1)], ids=repr)
def test_add_and_remove_tags_read_record_ids_whole(shop, method, bad):
    """np.asarray(ids, dtype=int64) tagged record 10 for 10.5 (and record 1 for True)."""
    db = shop["db"]
    c = shop["customer"]
    db.add_tags("customers", c, "keep")
    bad = c + 0.5 if bad == "fraction" else bad
    for ids in (bad, [c, bad]):
        with pytest.raises(crm.ValidationError, match="field 'ids'"):
            getattr(db, method)("customers", ids, "keep" if method == "remove_tags" else "new")
    assert db.get("customers", c)["tags"] == ["keep"]


@pytest.mark.parametrize("tags", [[["x"]], [5], [None], ["ok", {"a": 1}]], ids=repr)
def test_tags_that_are_not_text_are_refused_naming_tags(shop, tags):
    db = shop["db"]
    with pytest.raises(crm.ValidationError, match="field 'tags'"):
        db.add_tags("customers", shop["customer"], tags)
    assert db.get("customers", shop["customer"])["tags"] == []
