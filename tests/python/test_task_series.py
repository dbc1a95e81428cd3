"""The next occurrence of a recurring task carries the task's tags and custom
fields (they describe the series: a "billing" tag, a contract number), on
every write path that completes a task; it used to come without them."""
import pandas as pd
import pytest

import crmcore as crm

pytestmark = pytest.mark.usefixtures("backend")

PG_MISSING: dict[str, str] = {}


def test_the_next_occurrence_keeps_tags_and_custom_fields():
    db = crm.open(":memory:")
    t = db.add("tasks", subject="invoice Acme", due_at="2024-03-01 09:00", recurrence="monthly",
               tags=["billing", "acme"], custom={"contract": "C-17", "terms": {"days": 30}})
    plain = db.add("tasks", subject="water plants", due_at="2024-03-01 09:00", recurrence="weekly")
    nxt = db.sales.complete(t)
    record = db.get("tasks", nxt)
    assert sorted(record["tags"]) == ["acme", "billing"]
    assert record["custom"] == {"contract": "C-17", "terms": {"days": 30}}
    # Found by its tags as any tagged record is (the tag index has it too).
    assert nxt in db.ids("tasks", [("tags", "any", "billing")]).tolist()
    # A task without them makes an occurrence without them.
    bare = db.get("tasks", db.sales.complete(plain))
    assert (bare["tags"], bare["custom"]) == ([], {})
    # Completed by an upsert: the same rule, the same copy.
    third = db.import_frame("tasks", pd.DataFrame({"id": [nxt], "done": [True]}), mode="upsert")
    assert third.updated_count == 1
    after = db.get("tasks", db.get("tasks", nxt)["next_task_id"])
    assert sorted(after["tags"]) == ["acme", "billing"] and after["custom"]["contract"] == "C-17"
    assert after["due_at"] == pd.Timestamp("2024-05-01 09:00")
