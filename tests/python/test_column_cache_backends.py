"""The data mark and the cached conditions on both engines: on PostgreSQL
the mark is the audit log's newest entry alone (no data_version there)."""
import pytest

import crmcore as crm
from crmcore import _query

pytestmark = pytest.mark.usefixtures("backend")


def test_the_mark_moves_on_writes_and_cached_conditions_follow():
    db = crm.open()
    ids = [db.add("customers", name=f"c{i}", region=["East", "North", None][i % 3], tags=["vip"] if i % 2 else [])
           for i in range(12)]
    groups = _query.groups("customers", [("region", "in", ["East", None])], {"tag": "vip"})
    m0 = db._core.data_mark()
    first = db._core.cached_ids("customers", groups)
    assert first.tolist() == db.ids("customers", [("region", "in", ["East", None])], tag="vip").tolist()
    assert db._core.data_mark() == m0
    reads = db._core.column_cache_stats()["reads"]
    assert db._core.cached_ids("customers", groups).tolist() == first.tolist()
    assert db._core.column_cache_stats()["reads"] == reads
    db.update("customers", ids[1], region="East")  # a vip from the North comes in
    assert db._core.data_mark() != m0
    again = db._core.cached_ids("customers", groups)
    assert again.tolist() == db.ids("customers", [("region", "in", ["East", None])], tag="vip").tolist()
    assert again.tolist() != first.tolist()
