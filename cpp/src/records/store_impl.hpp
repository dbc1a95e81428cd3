#pragma once
// The store's private parts shared by its files (store.cpp: opening, the
// write path, updates, deletes and reads; import.cpp: bulk inserts;
// query.cpp: conditions, finds and indexes; schema_sql.cpp: the file's
// tables and migrations): the connection and its prepared statements.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit_memory.hpp"
#include "batch.hpp"
#include "catalog.hpp"
#include "dialect.hpp"
#include "crmcore/records/column_cache.hpp"
#include "crmcore/records/store.hpp"
#include "link_cache.hpp"
#include "sqlite.hpp"
#include "values.hpp"

namespace crmcore::records {

struct PrestagedActions;  // automation/prestage.hpp

// A written row has the kind's fields and five more columns: id first; tags,
// custom, created_at and updated_at last.
inline constexpr size_t kExtraColumns = 5;

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// While a read runs, SQLite asks `cancel` every so many steps of its
// machine; a yes interrupts the statement, which then fails as Interrupted
// (sql::fail). Reads only: a write stops between its chunks instead, and a
// COMMIT must never be cut short.
class StopWhenAsked {
 public:
  // (On PostgreSQL the connection waits for the server with the check: backend.hpp.)
  StopWhenAsked(const sql::Db& db, const Cancel* cancel)
      : db_(cancel ? db.lite : nullptr), conn_(cancel && !db.lite ? db.conn : nullptr) {
    if (db_) sqlite3_progress_handler(db_, kSteps, &StopWhenAsked::ask, const_cast<Cancel*>(cancel));
    if (conn_) conn_->set_cancel(cancel);
  }
  ~StopWhenAsked() {
    if (db_) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    if (conn_) conn_->set_cancel(nullptr);
  }
  StopWhenAsked(const StopWhenAsked&) = delete;
  StopWhenAsked& operator=(const StopWhenAsked&) = delete;

 private:
  static constexpr int kSteps = 1 << 17;  // about a millisecond of work
  static int ask(void* cancel) { return static_cast<const Cancel*>(cancel)->requested() ? 1 : 0; }
  sqlite3* db_;
  backend::Connection* conn_;
};

struct Store::Impl {
  // The connection through the backend boundary (on SQLite a view of the
  // store's own handle), and the handle the store's statements are made on.
  std::unique_ptr<backend::Connection> conn;
  sql::Db db;
  std::map<std::string, sql::Statement> prepared_by_text;  // statements made per kind, kept for reuse
  sql::Statement insert_contact_point, insert_tag, read_sequence, write_sequence, insert_audit, find_contact_point;
  sql::Statement insert_points_batch, insert_tags_batch, find_contact_points_among;
  Catalog catalog;  // the kinds as this file has them (catalog.hpp)
  // The newest audit entry when the current write began: seal_audit
  // completes only the entries after it (the write's own).
  int64_t audit_mark = 0;
  AuditMemory audit_memory;  // an upsert's update entries until the seal (audit_memory.hpp)
  LinkCache links;  // the links one write checks its rows against (rules.cpp)
  // The rules' actions applied to the current insert's rows as they are staged (prestage.hpp).
  std::shared_ptr<PrestagedActions> prestaged;
  ColumnCache columns;  // Store::column_cache (column_cache.hpp)

  ~Impl() {
    prepared_by_text.clear();
    insert_points_batch = {};
    insert_tags_batch = {};
    find_contact_points_among = {};
    insert_contact_point = {};
    insert_tag = {};
    read_sequence = {};
    write_sequence = {};
    insert_audit = {};
    find_contact_point = {};
    conn.reset();  // statements first, then their connection
    if (db.lite) sqlite3_close_v2(db.lite);
  }

  // The statement with this text, prepared on first use.
  sql::Statement& prepared(const std::string& text) {
    auto it = prepared_by_text.find(text);
    if (it == prepared_by_text.end()) it = prepared_by_text.emplace(text, sql::Statement(db, text)).first;
    return it->second;
  }

  bool has(const std::string& kind, int64_t id) {
    auto& st = prepared("SELECT 1 FROM " + kind + " WHERE id=?");
    st.bind(1, id);
    bool found = st.step();
    st.reset();
    return found;
  }

  // Columns written for each row: id, the fields, tags, custom, created_at, updated_at.
  static std::string insert_columns(const Kind& k) {
    std::string cols = "id";
    for (const auto& f : k.fields) cols += ", " + f.name;
    return cols + ", tags, custom, created_at, updated_at";
  }

  // The ids among a batch's (column c0) that are records of `kind`.
  sql::Statement& existing_ids_stmt(const std::string& kind) {
    return prepared("SELECT b.c0 FROM crm_batch(?1) AS b JOIN " + kind + " AS r ON r.id = b.c0");
  }

  // Inserts the rows of a batch (one column per written column, in order).
  sql::Statement& insert_batch_stmt(const Kind& k) {
    std::string select;
    for (size_t c = 0; c < k.fields.size() + kExtraColumns; ++c) select += (c ? ", c" : "c") + std::to_string(c);
    return prepared("INSERT INTO " + k.name + "(" + insert_columns(k) + ") SELECT " + select + " FROM crm_batch(?1)");
  }

  // Inserts one row, its values bound in the written columns' order.
  sql::Statement& insert_stmt(const Kind& k) {
    std::string params = "?";
    for (size_t c = 1; c < k.fields.size() + kExtraColumns; ++c) params += ", ?";
    return prepared("INSERT INTO " + k.name + "(" + insert_columns(k) + ") VALUES(" + params + ")");
  }
};

// The columns a read of `k` gives (`columns` by name, or all; id always
// first), empty; throws NotFound for an unknown name.
Table record_table(const Kind& k, const std::vector<std::string>* columns);
// Those columns for a SELECT, each after `table_alias` ("r." or none).
std::string record_columns_sql(const Table& t, const std::string& table_alias = "");
// Appends the statement's current row, its columns in the table's order.
void read_record(const sql::Statement& st, Table& t);

// Explains a failed insert or update of a row: which field broke which rule.
RowFailure explain_constraint(Store::Impl& impl, const Broken& broken, const Kind& k, const std::vector<Value>& values);
// The statements every write uses (contact points, tags, ids, the audit
// log), in the connection's dialect.
void prepare_write_statements(Store::Impl& impl);
// Throws StorageError when `k`'s domain rules (stage history, tickets, the
// ledger, stock, commissions, automation) do not run on the store's engine
// yet: a kind is never written without its rules (docs/backends.md).
void refuse_unruled(Store::Impl& impl, const Kind& k, WriteOp op, const Table* table);

// The file's layout: version 1 made from the kind table, then the steps from
// each version to the next (index 0 brings version 1 to 2, ...).
std::string schema_v1();
std::string migration_to(int version);
// A store on a PostgreSQL server (postgres_store.cpp): `path` is a libpq
// URL, whose `schema=` names the store's schema on the server (default
// public); opening connects, and creates or migrates the schema's tables.
bool is_postgres_url(const std::string& path);
// The value of `name=` in a URL's query (crmcore's own, such as `schema`),
// removed from the URL so that libpq gets only its own parameters.
std::string take_parameter(std::string& url, const std::string& name);
void open_postgres_store(Store::Impl& impl, const std::string& path, bool readonly, bool create);
std::string postgres_schema(int64_t now);
// Store::integrity_check on PostgreSQL: every reference checked against the
// records it names, as SQLite's foreign_key_check does ("ok" when none is
// broken). The server checks its own pages; amcheck goes further.
std::string postgres_reference_check(Store::Impl& impl);
// The header's application id of a crmcore store ("CRMC"); older stores have 0.
inline constexpr int kApplicationId = 0x43524D43;
// Throws StorageError, before anything is written, when `db` holds tables
// but is no crmcore store (another program's database).
void refuse_foreign_database(sqlite3* db, const std::string& path);
// Schema version 8: audit entries say who and what changed, in a hash chain (audit.cpp).
inline constexpr int kAuditVersion = 8;
// The connection's triggers that note, for the audit log, every update and
// delete of a record (old and new values), whichever path made it.
void install_audit_capture(sqlite3* db);
// SQLite: the function erasure picks the rows naming a person with (privacy.cpp).
void install_erasure_search(sqlite3* db);
// Notes where the audit log ends, as a write begins (Impl::audit_mark).
void mark_audit(Store::Impl& impl);
// Completes the audit entries added since mark_audit: the actor, their
// changes from what the triggers noted, and the hash chain. An entry that
// another program slipped in before stays unsealed, for audit_check to find.
void seal_audit(Store::Impl& impl, const std::string& actor);
// Ends a write that changed the file: its audit entries sealed into the
// chain, then `savepoint` released (a write inside the caller's transaction)
// or, when null, the transaction committed. Every path that writes ends
// here, so none can leave its entries outside the chain.
void commit_write(Store::Impl& impl, const std::string& actor, const char* savepoint);
// Drops what the triggers noted without writing it anywhere (an erasure's own changes).
void forget_captured_changes(Store::Impl& impl);
// The triggers and views crmcore creates; the file's own (not TEMP) ones
// not among them are foreign.
bool is_own_schema_object(const std::string& name);
// Creates `path` readable and writable by its owner only when it does not
// exist, so that SQLite's -wal and -shm, which copy the file's mode, are too.
void create_private_file(const std::string& path);
// Refuses to open `path` for writing when its folder does not exist or this
// process may not write it, naming the folder (SQLite said "unable to open
// database file", or "attempt to write a readonly database").
void refuse_unwritable_folder(const std::string& path);
// Why a file cannot be made at `path` for its folder ("no such folder 'x'",
// "its folder 'x' is not writable by this process"), or "" when it can.
std::string folder_problem(const std::string& path);
// The connection's triggers that note every change of a deal's stage for
// the stage rules (Store::apply_stage_rules).
void install_stage_capture(sqlite3* db);
// The same for invoices, their lines, payments, orders' amounts and targets,
// and the rules that judge those changes before the write ends (sales_rules.cpp).
void install_ledger_capture(sqlite3* db);
void apply_ledger_rules(Store::Impl& impl, const WriteRequest& request, const WriteResult& result);

// The same for a ticket's status (Store::apply_ticket_rules, ticket_rules.cpp).
void install_ticket_capture(sqlite3* db);
// One SLA policy per severity and customer tier (none: any tier): a second
// one would leave which target a ticket has to chance. Refuses the later
// one, naming the policy it repeats (ticket_rules.cpp).
void check_sla_policies(Store::Impl& impl);
// The same for a task's schedule (Store::apply_task_rules, task_rules.cpp).
void install_task_capture(sqlite3* db);
// The first occurrence after `after` of a series that recurs `rule`
// (daily, weekly, monthly, yearly) every `every` periods from `anchor`
// (nanoseconds); a day a month lacks is its last day.
int64_t next_occurrence(const std::string& rule, int64_t every, int64_t anchor, int64_t after);

// The SQLite scripts the install_*_capture functions run (TEMP tables and
// triggers), kept as text so that pg_rules.cpp makes the same notes on
// PostgreSQL from them.
std::string stage_capture_sql();
std::string ticket_capture_sql();
std::string ledger_capture_sql();
std::string task_capture_sql();
// On PostgreSQL (pg_rules.cpp): the session's temporary tables for the
// rules' notes, and the permanent trigger functions that write them, made
// once per store under the schema's lock (postgres_store.cpp).
std::string pg_rule_session_tables();
std::string pg_rule_triggers();

// Shared by the write path's rules (stage_rules.cpp, ticket_rules.cpp):
// the value a write gave for `field` in `row` of its table (null when the
// table has no such column or the row has no value there; text owned);
Value given(const Kind& k, const Table* t, int64_t row, const char* field);
// a value put into a batch's cell;
void set_cell(sql::Cell& cell, const Value& v, sql::Batch& batch);
// the row of the caller's table that wrote each record id.
std::unordered_map<int64_t, int64_t> written_rows(const WriteRequest& req, const WriteResult& result);

}  // namespace crmcore::records
