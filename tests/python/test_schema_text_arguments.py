"""Text given to the schema's calls (tags to add or remove, allowed values,
their labels and languages, declared custom fields and their choices) that
holds a lone surrogate is refused as the write paths refuse it: a
ValidationError naming the field, the store unchanged. It reached pybind11,
which raised a bare TypeError listing the binding's signature."""
import pandas as pd
import pytest

import crmcore as crm

BAD = "x\udc80"


@pytest.fixture
def db():
    with crm.open(":memory:") as database:
        yield database


CALLS = {
    "add_tags": lambda db, a: db.add_tags("customers", a, ["ok", BAD]),
    "add_tags one": lambda db, a: db.add_tags("customers", [a], BAD),
    "remove_tags": lambda db, a: db.remove_tags("customers", a, [BAD]),
    "allow value": lambda db, a: db.allow("orders", "status", BAD),
    "allow label": lambda db, a: db.allow("orders", "status", "held", labels={"zh": BAD}),
    "allow language": lambda db, a: db.allow("orders", "status", "held", labels={BAD: "暂停"}),
    "allow field": lambda db, a: db.allow("orders", "status" + BAD, "held"),
    "label": lambda db, a: db.label("customers", "kind", "person", {"zh": ["个人", BAD]}),
    "declare name": lambda db, a: db.declare_custom("customers", BAD, "text"),
    "declare type": lambda db, a: db.declare_custom("customers", "level", BAD),
    "declare choices": lambda db, a: db.declare_custom("customers", "level", "text", ["a", BAD]),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_lone_surrogate_is_refused_naming_the_field(db, call):
    a = db.add("customers", name="A", tags=["vip"])
    schema, labels, log = db.schema(), db.labels(), db.audit_log()
    with pytest.raises(crm.ValidationError, match="surrogate") as e:
        call(db, a)
    assert e.value.field and e.value.kind
    assert db.get("customers", a)["tags"] == ["vip"]
    assert db.schema().equals(schema) and db.labels().equals(labels) and db.audit_log().equals(log)


# -- field names ------------------------------------------------------------------
# A field name holding a lone surrogate (a key of add's keywords, a column of an
# imported frame or of the columns frame reads) is an unknown field like any
# other: refused naming it, nothing written. pybind11 could not read it as text
# and raised a bare RuntimeError ("Unable to cast Python instance").

NAME_CALLS = {
    "add": lambda db, a: db.add("customers", **{"name": "B", BAD: 1}),
    "update": lambda db, a: db.update("customers", a, **{BAD: 1}),
    # (pandas keeps such a column name only in an object Index)
    "import": lambda db, a: db.import_frame("customers", pd.DataFrame(
        [["B", 1]], columns=pd.Index(["name", BAD], dtype=object))),
    "update rows": lambda db, a: db.import_frame("customers", pd.DataFrame(
        [[a, 1]], columns=pd.Index(["id", BAD], dtype=object)), mode="update"),
    "frame columns": lambda db, a: db.frame("customers", columns=["name", BAD]),
}


@pytest.mark.parametrize("call", NAME_CALLS.values(), ids=NAME_CALLS.keys())
def test_a_field_name_with_a_lone_surrogate_is_an_unknown_field(db, call):
    a = db.add("customers", name="A")
    before, log = db.frame("customers"), db.audit_log()
    with pytest.raises((crm.ValidationError, crm.NotFound), match=r"x\\+udc80"):
        call(db, a)
    assert db.frame("customers").equals(before) and db.audit_log().equals(log)


def test_a_dry_run_lists_such_a_column_as_unknown(db):
    report = db.check_frame("customers", pd.DataFrame([["B", 1]], columns=pd.Index(["name", BAD], dtype=object)))
    assert report["column"].tolist() == ["x\\udc80"] and report["row"].isna().all()
    assert "is not one of the fields" in report["reason"].iloc[0]
    assert db.count("customers") == 0


@pytest.mark.parametrize("lang", ["", "  ", "\t", "z\nh"], ids=repr)
@pytest.mark.parametrize("call", ["allow", "label"])
def test_a_blank_language_is_refused_as_a_blank_label_is(db, lang, call):
    """A label's language was stored whatever it was ("" or blanks too),
    where the label and the value beside it are refused when blank."""
    labels, schema = db.labels(), db.schema()
    with pytest.raises(crm.ValidationError, match="the language .* of the label 'xx' (is empty|holds a control)") as e:
        if call == "allow":
            db.allow("orders", "status", "held", labels={"en": "ok", lang: "xx"})
        else:
            db.label("customers", "kind", "person", {"en": "people", lang: "xx"})
    assert e.value.field in ("status", "kind")
    assert db.labels().equals(labels) and db.schema().equals(schema)
