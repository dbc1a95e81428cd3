"""Older store files made from new ones, for the migration tests: what the
schema versions after `version` added (kinds, fields and their indexes) is
dropped, as the kind table describes it (`crmcore._core.kinds()`), so a new
version needs no edit here."""
import sqlite3

from crmcore import _core


def _indexes_on(con: sqlite3.Connection, table: str, column: str) -> list:
    names = []
    for (index,) in con.execute("SELECT name FROM pragma_index_list(?)", (table,)):
        if index.startswith("sqlite_autoindex"):
            continue
        used = [row[0] for row in con.execute("SELECT name FROM pragma_index_xinfo(?)", (index,))]
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0] or ""
        if column in used or f"({column}" in sql or f" {column}" in sql:
            names.append(index)
    return names


# What versions added beyond kinds and fields, undone when going below them.
BEYOND_KINDS = {
    8: "ALTER TABLE audit_log DROP COLUMN actor; ALTER TABLE audit_log DROP COLUMN changes;"
       "ALTER TABLE audit_log DROP COLUMN salt; ALTER TABLE audit_log DROP COLUMN changes_hash;"
       "ALTER TABLE audit_log DROP COLUMN hash; DELETE FROM meta WHERE key = 'audit_head';",
    20: "DROP TABLE IF EXISTS stock_balances; DROP INDEX IF EXISTS stock_movements_moved_at;",
    21: "ALTER TABLE stock_balances DROP COLUMN shipped; ALTER TABLE stock_balances DROP COLUMN moves;",
    22: "CREATE INDEX IF NOT EXISTS contact_points_record ON contact_points(record_id);",
}


def downgrade(path, version: int, con: sqlite3.Connection | None = None) -> None:
    """Takes the store file at `path` back to schema `version`: the kinds
    and fields of later versions are dropped and the file says `version`.
    With `con`, runs on that open connection (and leaves it open)."""
    own = con is None
    con = sqlite3.connect(path) if own else con
    kinds = _core.kinds()
    for kind in kinds:
        if kind["since_version"] > version:
            con.execute(f'DROP TABLE "{kind["name"]}"')
    for kind in kinds:
        if kind["since_version"] > version:
            continue
        for field in kind["fields"]:
            if field["since_version"] <= version:
                continue
            for index in _indexes_on(con, kind["name"], field["name"]):
                con.execute(f'DROP INDEX "{index}"')
            con.execute(f'ALTER TABLE "{kind["name"]}" DROP COLUMN "{field["name"]}"')
    for since, undo in sorted(BEYOND_KINDS.items(), reverse=True):
        if since > version:
            con.executescript(undo)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    con.commit()
    if own:
        con.close()
