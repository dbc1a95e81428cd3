"""A mapping's value map matches values on their trimmed text, so two keys
that read the same there (" 企业" and "企业", 1 and "1") cannot both hold:
one of them was dropped without a word, and rows with that value were then
imported under the other's meaning. Such a map is refused naming both keys;
the same key given the same meaning twice is no conflict."""
import json

import pandas as pd
import pytest

import crmcore as crm
from crmcore import Mapping


@pytest.mark.parametrize("values", [
    {"企业": "organization", " 企业": "person"},
    {1: "organization", "1": "person"},
    {"Y": "organization", "Y\t": "person"},
], ids=["space", "number and text", "tab"])
def test_keys_that_read_the_same_with_two_meanings_are_refused(values):
    with pytest.raises(crm.ValidationError, match="kind") as e:
        Mapping(values={"kind": values})
    for key in values:
        assert repr(key) in str(e.value)


def test_a_file_with_such_keys_is_refused_too(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"values": {"kind": {"企业": "organization", "企业 ": "person"}}}), encoding="utf-8")
    with pytest.raises(crm.ValidationError, match="企业"):
        Mapping.load(path)


def test_the_same_meaning_twice_is_kept():
    m = Mapping(values={"kind": {"企业": "organization", " 企业": "organization", 2: "person", "2": "person"}})
    assert m.values == {"kind": {"企业": "organization", "2": "person"}}
    with crm.open() as db:
        ids = db.import_frame("customers", pd.DataFrame({"name": ["a", "b"], "kind": ["企业", "2"]}), mapping=m)
        assert db.frame("customers").loc[ids, "kind"].tolist() == ["organization", "person"]
