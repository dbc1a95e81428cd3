"""A ValidationError has the same attributes wherever it was raised: the
core's carry kind, row, field, reason and record_id; an argument checked in
Python had only a message, so ``err.field`` raised AttributeError in a handler
written for the core's errors."""
import pytest

import crmcore as crm


def test_an_argument_refused_in_python_names_its_field_and_reason():
    with pytest.raises(crm.ValidationError) as info:
        crm.Graph.from_edges([1, 2], [2, 3], types=["a", None])
    err = info.value
    assert (err.kind, err.field) == ("from_edges", "types")
    assert err.reason == "edge 1 has no type" and err.reason in str(err)
    assert err.row is None and err.record_id is None


def test_a_row_refused_in_the_core_keeps_its_row():
    db = crm.open(":memory:")
    with pytest.raises(crm.ValidationError) as info:
        db.add("orders", customer_id=999, amount=1.0)
    assert info.value.kind == "orders" and info.value.field == "customer_id"


def test_a_bare_validation_error_has_every_attribute_as_none():
    err = crm.ValidationError("just a message")
    assert [getattr(err, a) for a in ("kind", "row", "field", "reason", "record_id")] == [None] * 5


def test_the_stubs_let_every_attribute_be_none():
    # Every attribute is None on a bare error, and the package raises bare
    # ones (a message only), so a checked handler must not be told that
    # err.kind or err.reason is always a str.
    import ast
    import pathlib

    stub = pathlib.Path(crm._core.__file__).parent / "_core" / "__init__.pyi"
    tree = ast.parse(stub.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ValidationError")
    declared = {n.target.id: ast.unparse(n.annotation) for n in cls.body if isinstance(n, ast.AnnAssign)}
    assert set(declared) == {"kind", "row", "field", "reason", "record_id"}
    assert {name: "None" in kind for name, kind in declared.items()} == dict.fromkeys(declared, True), declared
