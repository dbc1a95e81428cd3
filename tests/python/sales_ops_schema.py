"""What schema version 10 (sales operations) added, undone: tests that make
an older file from a new one drop it first."""
import sqlite3

SALES_OPS_UNDO = (
    "DROP TABLE invoice_lines; DROP TABLE milestones; DROP TABLE projects; DROP TABLE invoices;"
    " DROP TABLE contracts; DROP TABLE targets; DROP TABLE deal_close_dates;"
    " DROP INDEX deals_close_changed_by; DROP INDEX payments_invoice_id;"
    " ALTER TABLE deals DROP COLUMN close_changed_at; ALTER TABLE deals DROP COLUMN close_changed_by;"
    " ALTER TABLE payments DROP COLUMN invoice_id;")


def drop_sales_ops(con: sqlite3.Connection) -> None:
    """Takes a store's file back to what it was before sales operations."""
    con.executescript(SALES_OPS_UNDO)
