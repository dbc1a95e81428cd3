"""The kind table's flag "written by the store" (db.schema()["written_by_store"],
_core.kinds()) says exactly which fields the write path's rules fill: a
scenario through every domain with rules writes records, and the fields the
stored records hold that no write gave are the flagged ones, no more, no
fewer."""
import pandas as pd
import pytest

import crmcore as crm
from crmcore import _core

# Each test runs on SQLite and on PostgreSQL (conftest's backend fixture).
pytestmark = pytest.mark.usefixtures("backend")

# What these tests still need on PostgreSQL (docs/backends.md).
PG_MISSING: dict[str, str] = {}

# Kinds whose records the scenario below writes itself (the history kinds'
# rows are the store's own as a whole: checked apart).
SCENARIO_KINDS = ("deals", "tickets", "invoices", "purchase_lines", "stock_movements", "tasks")
HISTORY = {"deal_stages": "changed_at", "deal_close_dates": "changed_at", "ticket_events": "changed_at"}


def scenario():
    db = crm.open(":memory:")
    given: dict[tuple[str, int], set[str]] = {}

    def add(kind_name, /, **fields):
        rid = db.add(kind_name, **fields)
        given[(kind_name, rid)] = set(fields)
        return rid

    def update(kind, rid, **fields):
        db.update(kind, rid, **fields)
        given.setdefault((kind, rid), set()).update(fields)

    c = add("customers", name="Acme", kind="organization")
    s = add("staff", name="Wang")
    deal = add("deals", customer_id=c, stage="qualified", amount=100.0)
    update("deals", deal, expected_close="2024-03-01")
    update("deals", deal, stage="won")
    ticket = add("tickets", customer_id=c, opened_at="2024-01-02")
    update("tickets", ticket, status="in_progress")
    update("tickets", ticket, status="resolved")
    update("tickets", ticket, status="reopened")
    later = add("tickets", customer_id=c, opened_at="2024-01-03")
    update("tickets", later, status="resolved")
    add("tickets", customer_id=c, opened_at="2024-01-04", resolved_at="2024-01-05")  # resolved by its times
    invoice = add("invoices", customer_id=c, issued_at="2024-01-05", due_at="2024-02-05")
    add("invoice_lines", invoice_id=invoice, quantity=2.0, unit_price=50.0)
    add("payments", customer_id=c, paid_at="2024-01-20", amount=100.0, invoice_id=invoice)
    product = add("products", sku="T", name="Tea")
    where = add("locations", name="Main")
    po = add("purchase_orders", supplier_id=c, location_id=where, ordered_at="2024-01-03")
    line = add("purchase_lines", purchase_order_id=po, product_id=product, quantity=10.0, unit_cost=3.0)
    add("stock_movements", type="receipt", product_id=product, location_id=where, quantity=4.0,
        moved_at="2024-01-10", purchase_line_id=line)
    task = add("tasks", subject="report", due_at="2024-01-31", recurrence="monthly")
    update("tasks", task, done=True)
    # The next occurrence is the store's record as a whole, as history rows are.
    given[("tasks", int(db.get("tasks", task)["next_task_id"]))] = set(db.schema().loc["tasks"].index)
    assert s
    return db, given


def test_the_flag_names_exactly_the_fields_the_write_path_fills():
    db, given = scenario()
    schema = db.schema()
    for kind in SCENARIO_KINDS:
        fields = schema.loc[kind]
        fields = fields[fields["origin"] == "field"]
        flagged = set(fields.index[fields["written_by_store"]])
        defaults = set(fields.index[fields["default"].notna()])
        filled = set()
        for rid, row in db.frame(kind).iterrows():
            for f in fields.index.difference(sorted(given[(kind, rid)])):
                v = row[f]
                if pd.isna(v) or v == "" or (f in defaults and str(v) == str(fields.loc[f, "default"])):
                    continue  # empty, or the field's default (its text: recur_every's "1"): no rule wrote it
                filled.add(f)
        assert filled == flagged, (kind, "filled, not flagged:", filled - flagged, "flagged, not filled:",
                                   flagged - filled)
    for kind, field in HISTORY.items():
        assert len(db.frame(kind)) > 0, kind
        assert bool(schema.loc[(kind, field), "written_by_store"]), kind
    record = schema[schema["origin"] == "record"]
    assert set(record.index.get_level_values("field")[record["written_by_store"]]) == {"created_at", "updated_at"}


def test_kinds_says_the_flag_the_schema_shows():
    schema = crm.open().schema()
    for k in _core.kinds():
        for f in k["fields"]:
            assert isinstance(f["written_by_store"], bool)
            assert f["written_by_store"] == schema.loc[(k["name"], f["name"]), "written_by_store"]
