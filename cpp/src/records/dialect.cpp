// The Dialect's runs that may break a database rule (dialect.hpp).
#include "dialect.hpp"

#include <algorithm>
#include <iterator>

#include "batch.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// SQLite's extended code for the rule a PostgreSQL SQLSTATE names.
int sqlite_code(const std::string& state) {
  if (state == backend::sqlstate::kUniqueViolation) return SQLITE_CONSTRAINT_UNIQUE;
  if (state == backend::sqlstate::kForeignKeyViolation) return SQLITE_CONSTRAINT_FOREIGNKEY;
  if (state == backend::sqlstate::kNotNullViolation) return SQLITE_CONSTRAINT_NOTNULL;
  return SQLITE_CONSTRAINT_CHECK;
}

// SQLite: the step's code read before the reset clears it.
Broken sqlite_outcome(const sql::Db& db, int rc, const std::string& what) {
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  if ((rc & 0xff) != SQLITE_CONSTRAINT) sql::fail(db, what);
  return {sqlite3_extended_errcode(db.lite), sqlite3_errmsg(db.lite)};
}

// PostgreSQL ends the whole transaction at a failed statement unless it ran
// inside a savepoint: rolled back to it, the write goes on (row by row, to
// name the row, as on SQLite).
template <class Run>
Broken in_savepoint(const sql::Db& db, Run&& run) {
  db.conn->savepoint("crm_statement");
  try {
    run();
  } catch (const backend::ConstraintViolation& e) {
    db.conn->rollback_to("crm_statement");
    db.conn->release("crm_statement");
    return {sqlite_code(e.sqlstate()), e.constraint() + ": " + e.what()};
  }
  db.conn->release("crm_statement");
  return {};
}

}  // namespace

Broken run_or_broken(const sql::Db& db, sql::Statement& st, const std::string& what) {
  if (!db.is_sqlite()) {
    Broken broken = in_savepoint(db, [&] { st.step(); });
    st.reset();
    return broken;
  }
  const int rc = st.step_code();
  Broken broken = sqlite_outcome(db, rc, what);
  st.reset();
  return broken;
}

Broken run_or_broken(const sql::Db& db, sql::Statement& st, const sql::Batch& batch, const std::string& what) {
  if (!db.is_sqlite()) return in_savepoint(db, [&] { sql::run_over_batch(st, batch); });
  sql::bind_batch(st, batch);
  const int rc = sqlite3_step(st.get());
  Broken broken = sqlite_outcome(db, rc, what);
  st.reset();
  return broken;
}

void undo_write(const sql::Db& db, const char* undo) {
  if (db.is_sqlite()) {
    sqlite3_exec(db.lite, undo, nullptr, nullptr, nullptr);
    return;
  }
  try {
    db.conn->exec(undo);
  } catch (const std::exception&) {  // the connection is gone: the server rolled back
  }
}

void prepare_write_statements(Store::Impl& impl) {
  const sql::Db& db = impl.db;
  const Dialect d(db);
  impl.insert_contact_point =
      sql::Statement(db, d.insert_or_ignore("contact_points(value, record_id, kind, field) VALUES(?,?,?,?)"));
  impl.insert_tag = sql::Statement(db, d.insert_or_ignore("record_tags(tag, record_id) VALUES(?,?)"));
  impl.insert_points_batch = sql::Statement(
      db, d.insert_or_ignore("contact_points(value, record_id, kind, field) SELECT c0, c1, c2, c3 FROM crm_batch(?1)"));
  impl.insert_tags_batch =
      sql::Statement(db, d.insert_or_ignore("record_tags(tag, record_id) SELECT c0, c1 FROM crm_batch(?1)"));
  impl.find_contact_points_among = sql::Statement(
      db, "SELECT DISTINCT record_id FROM contact_points WHERE value IN (SELECT c0 FROM crm_batch(?1)) AND kind=?2"
          " ORDER BY record_id");
  if (d.sqlite()) {
    impl.read_sequence = sql::Statement(db, "SELECT next FROM id_sequence");
    impl.write_sequence = sql::Statement(db, "UPDATE id_sequence SET next=?");
  } else {
    // The next id taken from the sequence, and the sequence left at the
    // first id the write did not use: the write's ids are consecutive
    // because no other writer runs meanwhile (Dialect::begin_write's lock).
    impl.read_sequence = sql::Statement(db, "SELECT nextval('crm_ids')");
    impl.write_sequence = sql::Statement(db, "SELECT setval('crm_ids', ?1, false)");
  }
  impl.find_contact_point = sql::Statement(
      db, "SELECT DISTINCT record_id FROM contact_points WHERE value=? AND kind=? ORDER BY record_id");
  impl.insert_audit =
      sql::Statement(db, "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows, cause_id) VALUES(?,?,?,?,?,?,?)");
}

// (What a write does to a kind, and which fields, no longer matters: every
// write to a kind left here waits for its rules.)
void refuse_unruled(Store::Impl& impl, const Kind& k, WriteOp /*op*/, const Table* /*table*/) {
  if (impl.db.is_sqlite()) return;
  // The kinds whose rules do not run there yet: automation's (stage,
  // ticket, ledger, task and stock rules run on both engines: pg_rules.cpp).
  if (k.name == "automation_rules")
    throw StorageError("writes to " + k.name +
                       " are not available on a PostgreSQL store yet: their rules (automation) do not run there "
                       "yet, and nothing is written without them (see docs/backends.md)");
  auto& active = impl.prepared("SELECT 1 FROM automation_rules WHERE coalesce(active, 1) <> 0 LIMIT 1");
  const bool automated = active.step();
  active.reset();
  if (automated)
    throw StorageError("this PostgreSQL store has active automation rules, which do not run there yet: writes are "
                       "refused rather than made without them (see docs/backends.md)");
}

}  // namespace crmcore::records
