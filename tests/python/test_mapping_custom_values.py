"""Columns a mapping keeps as custom fields (unknown="custom") hold their
values as the custom column of an import does: numbers exactly (pandas'
to_json wrote 15 digits, so 0.1 + 0.2 became 0.3), inf refused naming row and
column (it was stored as null), and a lone surrogate or a value JSON cannot
hold refused by row (a bare UnicodeEncodeError stopped the whole file).
The reference is the same values given as each row's custom dict."""
import numpy as np
import pandas as pd
import pytest

import crmcore as crm

M = {"columns": {"客户名称": "name"}, "unknown": "custom"}


@pytest.fixture
def db():
    with crm.open(":memory:") as database:
        yield database


def _customs(db, ids):
    return [db.get("customers", int(i))["custom"] for i in ids]


@pytest.mark.parametrize("column", [
    pd.Series([0.1 + 0.2, 1 / 3, 123456789.123456789, 5e-324, -0.0], dtype="float64"),
    pd.Series([2**62 + 1, -3, 0, 2**63 - 1, 7], dtype="int64"),
    pd.Series([2**63 + 1, 1, 2, 3, 4], dtype="uint64"),
    pd.Series([0.1 + 0.2, "x", 2**64, True, None], dtype=object),
    pd.Series(pd.to_datetime(["2025-01-01 10:00", None, "2024-02-29", "1999-12-31 23:59:59.5", "2025-06-01"], format="ISO8601")),
    pd.Series(pd.to_datetime(["2025-01-01 10:00"] * 5).tz_localize("Asia/Shanghai")),
], ids=["floats", "int64", "uint64", "mixed", "datetimes", "zoned"])
def test_kept_values_are_those_of_the_custom_column(db, column):
    names = [f"甲{i}" for i in range(len(column))]
    mapped = db.import_frame("customers", pd.DataFrame({"客户名称": names, "备注": column}), mapping=M)
    # The reference: the same values as each row's custom dict (missing ones left out, as the mapping does).
    direct = db.import_frame("customers", pd.DataFrame({
        "name": names, "custom": [{} if pd.isna(v) else {"备注": v} for v in column.astype(object)]}))
    assert _customs(db, mapped) == _customs(db, direct)
    floats = [c.get("备注") for c in _customs(db, mapped)]
    if column.dtype == "float64":
        assert floats == column.tolist()  # bit for bit


@pytest.mark.parametrize("bad", [float("inf"), -np.inf, "a\ud800b", b"bytes"], ids=["inf", "-inf", "surrogate", "bytes"])
def test_a_value_json_cannot_hold_rejects_its_row_only(db, bad):
    column = pd.Series([1.5, bad, 2.5] if isinstance(bad, float) else ["ok", bad, "fine"], dtype=object
                       if not isinstance(bad, float) else "float64")
    df = pd.DataFrame({"客户名称": ["甲", "乙", "丙"], "备注": column})
    result = db.import_frame("customers", df, mapping=M, on_error="skip")
    assert result.ids[1] == -1 and (result.ids[[0, 2]] >= 0).all()
    assert result.errors.index.tolist() == [1] and result.errors["field"].tolist() == ["custom"]
    assert "备注" in result.errors["column"].iloc[0]
    assert _customs(db, result.ids[[0, 2]]) == [{"备注": column[0]}, {"备注": column[2]}]
    before = db.count("customers")
    with pytest.raises(crm.ValidationError, match="row 1") as e:
        db.import_frame("customers", df, mapping=M)
    assert e.value.row == 1 and e.value.field == "custom"
    assert db.count("customers") == before
    report = db.check_frame("customers", df, mapping=M)
    assert report["row"].tolist() == [1] and report["field"].tolist() == ["custom"]
