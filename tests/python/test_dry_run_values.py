"""A dry run reports the file's values as they are, whatever they hold. Its
report's value column was built as pandas' text, which refuses a lone
surrogate: check_frame raised a bare UnicodeEncodeError on the very value it
was asked to find, instead of naming its row and field."""
import pandas as pd
import pytest

import crmcore as crm


@pytest.fixture
def db():
    with crm.open(":memory:") as database:
        yield database


@pytest.mark.parametrize("mapping", [None, {"columns": {"客户名称": "name"}}], ids=["plain", "mapped"])
def test_a_lone_surrogate_is_reported_by_row_and_field(db, mapping):
    column = "name" if mapping is None else "客户名称"
    bad = "a\ud800b"
    df = pd.DataFrame({column: pd.Series(["ok", bad, "fine", "\udfff"], dtype=object)})
    report = db.check_frame("customers", df, mapping=mapping)
    assert report["row"].tolist() == [1, 3] and report["field"].tolist() == ["name", "name"]
    assert report["column"].tolist() == [column, column]
    assert report["value"].tolist() == [bad, "\udfff"]  # as in the file
    assert report["reason"].str.contains("surrogate").all()
    assert db.count("customers") == 0
    # The import names the same row and writes nothing.
    with pytest.raises(crm.ValidationError, match="row 1") as e:
        db.import_frame("customers", df, mapping=mapping)
    assert e.value.field == "name" and db.count("customers") == 0
