"""Record ids given as arguments: a value that is not an int64 id is refused
naming the kind and argument, and nothing is changed.

`int(id)` turned 1.9 into record 1 (db.delete deleted it), NumPy's uint64
2**64-1 wrapped to -1, and 2**63 raised a bare OverflowError or pybind's
"incompatible function arguments"."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

_BAD = ["a + 0.9", 2**63, -(2**63) - 1, np.uint64(2**64 - 1), float("nan"), True, "1", None]


@pytest.fixture
def db():
    db = crm.open()
    db.add("customers", name="Acme"), db.add("customers", name="Beta")
    return db


def _calls(db, bad):
    a, b = db.ids("customers").tolist() if db is not None else (1, 2)
    bad = a + 0.9 if bad == "a + 0.9" else bad  # int() made it record a
    return {
        "get": lambda: db.get("customers", bad),
        "update": lambda: db.update("customers", bad, name="x"),
        "delete": lambda: db.delete("customers", bad),
        "kind_of": lambda: db.kind_of(bad),
        "link": lambda: db.link(bad, b, "knows"),
        "unlink": lambda: db.unlink(a, bad),
        "merge keep": lambda: db.merge("customers", bad, [b]),
        "merge others": lambda: db.merge("customers", a, [bad]),
        "merge prefer": lambda: db.merge("customers", a, [b], prefer={"name": bad}),
        "unmerge": lambda: db.unmerge(bad),
        "delete_many": lambda: db.delete_many("customers", [bad]),
        "delete_many array": lambda: db.delete_many("customers", np.array([bad], dtype=object)),
        "audit_log about": lambda: db.audit_log(about=[bad]),
        "export_person": lambda: db.export_person(bad),
        "erase_person": lambda: db.erase_person(bad),
        "rights": lambda: db.access.rights("customers", bad),
    }


@pytest.mark.parametrize("bad", _BAD, ids=repr)
@pytest.mark.parametrize("call", list(_calls(None, None)))
def test_a_bad_record_id_is_refused_by_name_and_changes_nothing(db, call, bad):
    before = db.frame("customers")
    log = len(db.audit_log(limit=1000))
    with pytest.raises(crm.ValidationError) as caught:
        _calls(db, bad)[call]()
    assert caught.value.reason and caught.value.field, str(caught.value)
    assert "record id" in str(caught.value) or "missing" in str(caught.value), str(caught.value)
    pd.testing.assert_frame_equal(db.frame("customers"), before)
    assert len(db.audit_log(limit=1000)) == log


def test_a_uint64_array_of_ids_is_refused_beyond_int64_and_taken_within(db):
    a, b = db.ids("customers").tolist()
    with pytest.raises(crm.ValidationError, match="position 1"):
        db.delete_many("customers", np.array([b, 2**64 - 1], dtype=np.uint64))
    assert db.count("customers") == 2
    assert db.delete_many("customers", np.array([b], dtype=np.uint64)) == 1
    assert db.delete_many("customers", pd.Series([float(a)])) == 1  # a whole float is an id
    assert db.count("customers") == 0


@pytest.mark.parametrize("bad", [2**63, float("nan"), 1.5, np.uint64(2**64 - 1)], ids=repr)
def test_a_limit_beyond_int64_or_not_whole_is_refused_by_name(db, bad):
    # frame/find's limit and offset passed 2**63 to pybind ("incompatible
    # function arguments"); audit_log's limit raised that or "cannot convert
    # float NaN to integer", and took 1.5 as 1.
    with pytest.raises((crm.ValidationError, ValueError), match="limit"):
        db.frame("customers", limit=bad)
    with pytest.raises((crm.ValidationError, ValueError), match="offset"):
        db.find("customers", name="A", offset=bad)
    with pytest.raises(crm.ValidationError, match="limit"):
        db.audit_log(limit=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", 2**63], ids=repr)
def test_a_bad_limit_or_offset_gets_one_error_type_everywhere(db, bad):
    # frame/find/ids refused a negative limit with a bare ValueError where
    # audit_log raised ValidationError: one rule, one error, naming the
    # function and the argument.
    calls = {"frame": lambda **kw: db.frame("customers", **kw),
             "find": lambda **kw: db.find("customers", name="A", **kw),
             "ids": lambda **kw: db.ids("customers", **kw)}
    for where, call in calls.items():
        for field in ("limit", "offset"):
            with pytest.raises(crm.ValidationError) as info:
                call(**{field: bad})
            assert (info.value.kind, info.value.field) == (where, field), info.value
    with pytest.raises(crm.ValidationError) as info:
        db.audit_log(limit=bad)
    assert (info.value.kind, info.value.field) == ("audit_log", "limit")
