#include "crmcore/records/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <unistd.h>

#include "batch.hpp"
#include "contact_points.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/owner_migration.hpp"
#include "crmcore/stock/rules.hpp"
#include "row_verdicts.hpp"
#include "rules.hpp"
#include "../automation/prestage.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

Store::Store(const std::string& path, const OpenOptions& options)
    : impl_(std::make_unique<Impl>()), path_(path), readonly_(options.readonly) {
  if (is_postgres_url(path)) {
    open_postgres_store(*impl_, path, readonly_, options.create);
    prepare_write_statements(*impl_);
    return;
  }
  // (A "file:" URI is SQLite's to interpret.)
  const bool in_memory = sql::names_no_file(path);
  if (!options.create && !in_memory && !std::filesystem::is_regular_file(path))
    throw StorageError("no store at '" + path + "': no such file; nothing was made");
  // A store file no one may write (a backup kept chmod 444) opened to write:
  // SQLite would fall back to reading it without a word, and that connection
  // left -wal and -shm beside the file. A plain open promises writes, so it
  // is refused before anything is made; readonly=True reads such a file
  // (immutable, nothing made beside it: sql::to_read).
  if (!readonly_ && !in_memory && ::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), W_OK) != 0)
    throw StorageError("'" + path + "' is write-protected (this process may not write it): open it with "
                       "readonly=True to read it; nothing was opened or made");
  if (!readonly_ && !in_memory) refuse_unwritable_folder(path);
  if (!readonly_ && !in_memory && options.create) create_private_file(path);
  const sql::OpenTarget target = readonly_ ? sql::to_read(path)
                                 : sql::OpenTarget{path, options.create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                                                        : SQLITE_OPEN_READWRITE};
  int rc = sqlite3_open_v2(target.name.c_str(), &impl_->db.lite, target.flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) sql::fail(impl_->db, "cannot open '" + path + "'");
  // The checks below read the file before configure_connection: without the
  // wait set first, a writer closing (its checkpoint holds the file a moment)
  // made an open fail at once with "database is locked".
  sqlite3_busy_timeout(impl_->db.lite, sql::kBusyTimeoutMs);
  impl_->conn = backend::sqlite_connection(impl_->db.lite);
  impl_->db.conn = impl_->conn.get();
  sqlite3* db = impl_->db;
  refuse_foreign_database(db, path);
  if (!options.create) {
    // Before the connection is set up: WAL mode would write to an empty file.
    sql::Statement has_meta(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'");
    if (!has_meta.step())
      throw StorageError("no store at '" + path + "': the file holds no crmcore store; nothing was made");
  }
  // Before anything is written: a foreign trigger would fire on the migration's writes.
  {
    sql::Statement st(db, "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name");
    while (st.step())
      if (!is_own_schema_object(st.text(1))) foreign_objects_.push_back(st.text(0) + " " + st.text(1));
  }
  if (!foreign_objects_.empty() && !options.allow_foreign) {
    std::string names;
    for (const auto& o : foreign_objects_) names += (names.empty() ? "" : ", ") + o;
    throw StorageError("'" + path + "' carries triggers or views that crmcore did not create (" + names +
                       "): they could change or copy records behind crmcore's back, so it was not opened; "
                       "open it with allow_foreign=True to inspect them");
  }
  sql::configure_connection(db, readonly_);
  size_t widest = 13;  // the audit log's entries, written back whole by seal_audit
  for (const auto& k : kinds()) widest = std::max(widest, k.fields.size() + kExtraColumns);
  sql::register_batch_table(db, static_cast<int>(widest));

  auto read_version = [&] {
    sql::Statement has_meta(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'");
    if (!has_meta.step()) return 0;
    sql::Statement st(db, "SELECT value FROM meta WHERE key='schema_version'");
    const int version = st.step() ? static_cast<int>(st.int64(0)) : 0;
    if (version > kSchemaVersion)
      throw StorageError("'" + path + "' has schema version " + std::to_string(version) +
                         ", newer than this crmcore understands (" + std::to_string(kSchemaVersion) + ")");
    return version;
  };
  // A store already at this version opens with a read alone: opening must not
  // wait for the write lock while another process streams imports.
  if (readonly_ && read_version() < kSchemaVersion)
    throw StorageError("'" + path + "' is " + (read_version() == 0 ? "empty" : "an older crmcore store") +
                       "; a read-only open cannot create or migrate it (open it once for writing)");
  if (read_version() < kSchemaVersion) {
    sql::exec(db, "BEGIN IMMEDIATE");
    try {
      int version = read_version();  // again, now that no one else can change it
      sql::exec(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID");
      if (version == 0) {
        sql::exec(db, schema_v1());
        sql::exec(db, "PRAGMA application_id=" + std::to_string(kApplicationId));
        version = 1;
      }
      const int from = version;
      for (; version < kSchemaVersion; ++version) sql::exec(db, migration_to(version + 1));
      sql::Statement set(db, Dialect(db).set_meta("schema_version"));
      set.bind(1, static_cast<int64_t>(version)).run();
      // The entries written before the log had a hash chain join it now.
      if (from < kAuditVersion) {
        install_audit_capture(db);
        impl_->audit_mark = 0;
        seal_audit(*impl_, "");
      }
      if (from < kLookupByFieldsVersion) rebuild_lookup_rows(*impl_);
      sql::exec(db, "COMMIT");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  if (!readonly_) {
    install_stage_capture(db);
    install_ledger_capture(db);
    install_ticket_capture(db);
    install_task_capture(db);
    install_stock_capture(db);
    install_audit_capture(db);
    install_erasure_search(db);
  }
  prepare_write_statements(*impl_);
  if (!readonly_) run_pending_owner_migration(*this, *impl_);
}

Store::~Store() = default;

void Store::add_write_hook(WriteHook hook) {
  std::lock_guard<std::mutex> lock(mutex_);
  hooks_.push_back(std::move(hook));
}

WriteResult Store::insert(const std::string& kind_name, const Table& table, OnError on_error,
                          const Progress& progress, bool dry_run) {
  WriteRequest req{WriteOp::Insert, &kind(kind_name), &table, {}, on_error, progress ? &progress : nullptr};
  req.dry_run = dry_run;
  return write(req);
}

void Store::update(const std::string& kind_name, int64_t id, const Table& fields) {
  write(WriteRequest{WriteOp::Update, &kind(kind_name), &fields, {id}});
}

void Store::remove(const std::string& kind_name, int64_t id) {
  write(WriteRequest{WriteOp::Delete, &kind(kind_name), nullptr, {id}});
}

void Store::remove_many(const std::string& kind_name, const std::vector<int64_t>& ids, bool cascade) {
  WriteRequest req{WriteOp::Delete, &kind(kind_name), nullptr, ids};
  req.cascade = cascade;
  write(req);
}

WriteResult Store::upsert(const std::string& kind_name, const Table& table, const std::vector<std::string>& key,
                          bool insert_missing, OnError on_error, const Progress& progress, bool dry_run) {
  WriteRequest req{insert_missing ? WriteOp::Upsert : WriteOp::UpdateRows, &kind(kind_name), &table, {}, on_error,
                   progress ? &progress : nullptr};
  req.key = key;
  req.dry_run = dry_run;
  return write(req);
}

// The one write path: hooks, then the change and its audit entry in one
// transaction that either commits whole or leaves the file as it was.
WriteResult Store::write(const WriteRequest& request) {
  // A dry run goes the whole way, so that it finds what only writing finds
  // (a duplicate key, a missing reference), collecting the bad rows as Skip
  // does; the ROLLBACK below then undoes it, audit entry and ids included.
  std::optional<WriteRequest> checked;
  if (request.dry_run) checked.emplace(request).on_error = OnError::Skip;
  const WriteRequest& req = checked ? *checked : request;
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();
  const Dialect dialect(impl_->db);
  // (A merge also asks for each kind whose records it moves: merge.cpp.)
  if (!dialect.sqlite()) refuse_unruled(*impl_, *req.kind, req.op, req.table);
  for (const auto& hook : hooks_) hook(req);
  if (req.table) {  // every column must name a field
    const Kind& k = *req.kind;
    const bool keyed_by_id = std::find(req.key.begin(), req.key.end(), "id") != req.key.end();
    for (const auto& c : req.table->columns) {
      if (k.field(c.name) || c.name == kTagsColumn || c.name == kCustomColumn) continue;
      if (c.name == "id" && keyed_by_id) continue;  // names the record to write, as a key
      std::string known;
      for (const auto& f : k.fields) known += (known.empty() ? "" : ", ") + f.name;
      std::string reason = c.name == "id" ? "ids are given by the store and cannot be set"
                                          : "is not a field of " + k.name + " (fields: " + known + ", tags, custom)";
      throw ValidationError(k.name, -1, c.name, reason);
    }
  }
  // Inside a caller's transaction a write is a savepoint: it still lands
  // whole or not at all, and the caller's commit or rollback decides the rest.
  const bool nested = transaction_depth_ > 0;
  // An insert checks the records its rows refer to itself, a chunk's
  // distinct ids at a time (ReferenceCheck); SQLite's own check, a lookup per
  // row and reference, then only repeats it and took half of a large
  // import's time. (Inside a caller's transaction it is off already.)
  struct ForeignKeysOff {
    sqlite3* db = nullptr;
    ~ForeignKeysOff() {
      if (db) sqlite3_exec(db, "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);
    }
  } foreign_keys_off;
  if ((req.op == WriteOp::Insert || req.op == WriteOp::Upsert || req.op == WriteOp::UpdateRows) && !nested &&
      dialect.sqlite()) {  // (PostgreSQL checks references always, and has no such switch)
    sql::exec(impl_->db, "PRAGMA foreign_keys=OFF");
    foreign_keys_off.db = impl_->db;
  }
  const char* undo = nested ? "ROLLBACK TO crm_write; RELEASE crm_write" : "ROLLBACK";
  // Each pass writes the rows the rules have not refused yet (row_verdicts.hpp).
  for (DroppedRows dropped(req);;) {
    const WriteRequest& attempt = dropped.request();
    WriteResult result;
    sql::exec(impl_->db, nested ? "SAVEPOINT crm_write" : dialect.begin_write());
    try {
      mark_audit(*impl_);
      // The kind as this file has it (its added values, labels and declared
      // custom fields), read inside the transaction that writes.
      impl_->catalog.refresh(*impl_);
      impl_->links.clear();
      prepare_automation();
      WriteRequest current = attempt;
      current.kind = &impl_->catalog.kind(req.kind->name);
      switch (current.op) {
        case WriteOp::Insert:
          prestage_automation(*impl_, current);  // rules' tags and fields land with the rows
          insert_rows(current, result);
          break;
        case WriteOp::Update: update_row(current); break;
        case WriteOp::Delete: delete_row(current); break;
        case WriteOp::Upsert:
        case WriteOp::UpdateRows: upsert_rows(current, result); break;
        case WriteOp::Merge: result.ids.push_back(merge_records(current)); break;
        case WriteOp::Unmerge: unmerge_records(current); break;
        case WriteOp::Tags: retag_rows(current, result); break;
      }
      try {
        if (req.kind->name == "deals" || req.op == WriteOp::Unmerge) apply_stage_rules(attempt, result);
        if (req.kind->name == "tickets" || req.op == WriteOp::Merge || req.op == WriteOp::Unmerge)
          apply_ticket_rules(attempt, result);
        if (req.kind->name == "sla_policies") check_sla_policies(*impl_);
        apply_ledger_rules(*impl_, attempt, result);
        apply_task_rules(attempt, result);  // notes nothing unless a task was written: one cheap check
        apply_stock_rules(*impl_, attempt, result);
      } catch (const ValidationError& refusal) {
        if (!dropped.drop(refusal)) throw;
        sql::exec(impl_->db, undo);
        impl_->audit_memory.entries.clear();
        continue;
      }
      apply_automation(current, result);
      if (req.dry_run) {
        sql::exec(impl_->db, undo);
        impl_->audit_memory.entries.clear();  // an upsert's entries, kept for a seal that now never comes
      } else {
        commit_write(*impl_, actor_, nested ? "crm_write" : nullptr);
      }
    } catch (...) {
      impl_->audit_memory.entries.clear();
      undo_write(impl_->db, undo);
      throw;
    }
    return dropped.restore(std::move(result));
  }
}

// Every write in the transaction goes through Store::write, which checks
// references itself (inserts, updates) and deletes link records itself; so
// SQLite's foreign-key check, which would only repeat the work (and cannot
// be switched per statement inside a transaction), is off until it ends.
void Store::begin() {
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();
  if (transaction_depth_ > 0) throw Error("a transaction is already open on this store");
  if (!impl_->db.is_sqlite()) {  // references are checked always there; the write lock is held to the end
    sql::exec(impl_->db, Dialect(impl_->db).begin_write());
    transaction_depth_ = 1;
    return;
  }
  sql::exec(impl_->db, "PRAGMA foreign_keys=OFF");
  try {
    sql::exec(impl_->db, "BEGIN IMMEDIATE");
  } catch (...) {
    sqlite3_exec(impl_->db, "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);
    throw;
  }
  transaction_depth_ = 1;
}

void Store::commit() { end_transaction("COMMIT"); }

void Store::refuse_if_readonly() const {
  if (readonly_)
    throw Error("'" + path_ + "' is open read-only: writes are refused (open it without readonly to change it)");
}

bool Store::in_transaction() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return transaction_depth_ > 0;
}

void Store::rollback() { end_transaction("ROLLBACK"); }

void Store::end_transaction(const char* how) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (transaction_depth_ == 0) throw Error("no transaction is open");
  // Whatever happens, the handle leaves the transaction: a failed COMMIT
  // (a full disk) is rolled back here, so that the next transaction starts
  // clean and SQLite's foreign-key check is on again.
  transaction_depth_ = 0;
  if (!impl_->db.is_sqlite()) {
    try {
      sql::exec(impl_->db, how);
    } catch (const std::exception& e) {
      undo_write(impl_->db, "ROLLBACK");
      throw StorageError(std::string(how) + " failed: " + e.what() +
                         (std::string(how) == "COMMIT" ? "; nothing of the transaction was saved" : ""));
    }
    return;
  }
  char* err = nullptr;
  const int rc = sqlite3_exec(impl_->db, how, nullptr, nullptr, &err);
  const std::string message = err ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(impl_->db))
    sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_exec(impl_->db, "PRAGMA foreign_keys=ON", nullptr, nullptr, nullptr);  // off since begin()
  if (rc != SQLITE_OK)
    throw StorageError(std::string(how) + " failed: " + message +
                       (std::string(how) == "COMMIT" ? "; nothing of the transaction was saved" : ""));
}

void Store::audit(const WriteRequest& req, int64_t rows, int64_t first_id, int64_t last_id, int64_t cause_id) {
  // Bound without a copy (SQLITE_STATIC): the text must outlive the step.
  static const std::string names[] = {"insert", "update", "delete", "insert", "update", "merge", "unmerge", "update"};
  auto& st = impl_->insert_audit;
  st.bind(1, now_ns());
  st.bind(2, names[static_cast<int>(req.op)]);
  st.bind(3, req.kind->name);
  if (rows > 0) st.bind(4, first_id).bind(5, last_id);
  else st.bind_null(4).bind_null(5);
  st.bind(6, rows);
  if (cause_id >= 0) st.bind(7, cause_id);
  else st.bind_null(7);
  st.run();
}

RowFailure explain_constraint(Store::Impl& impl, const Broken& broken, const Kind& k, const std::vector<Value>& values) {
  const int rc = broken.code;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    for (size_t i = 0; i < k.fields.size(); ++i) {
      const Field& f = k.fields[i];
      if (f.type == FieldType::Ref && values[i].type == Value::Type::Int && !impl.has(f.ref_kind, values[i].i))
        return {f.name, "no " + f.ref_kind + " record with id " + std::to_string(values[i].i)};
    }
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    if (broken.message.find("external_key") != std::string::npos) {
      const Field* id = k.field(kExternalId);
      const size_t at = static_cast<size_t>(id - k.fields.data());
      const std::string shown = values.size() > at && values[at].type == Value::Type::Text ? quote(*values[at].text) : "";
      return {kExternalId, "the external key " + shown + " (with its external_source) already names another " +
                               k.name + " record"};
    }
    if (auto rule = explain_unique_rule(impl, k, values, broken.message)) return *rule;
    for (size_t i = 0; i < k.fields.size(); ++i)
      if (k.fields[i].unique && values[i].type == Value::Type::Text)
        return {k.fields[i].name, quote(*values[i].text) + " already exists in " + k.name};
  }
  return {"", "rejected by the database: " + broken.message};
}

void Store::update_row(const WriteRequest& req) {
  Impl& impl = *impl_;
  auto store_kind_of = [this](int64_t id) { return kind_of_locked(id); };
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  const int64_t id = req.ids.front();
  if (!impl.has(k.name, id)) throw NotFound("no " + k.name + " record with id " + std::to_string(id));
  if (t.rows() != 1) throw ValidationError(k.name, -1, "", "an update takes exactly one value per field", id);

  std::string sets;
  std::vector<const Field*> fields;
  std::vector<Value> values;
  values.reserve(t.columns.size());
  Extras extras;
  try {
    for (const auto& c : t.columns) {
      if (c.name == kTagsColumn || c.name == kCustomColumn) continue;
      const Field* f = k.field(c.name);
      fields.push_back(f);
      values.emplace_back();
      coerce(*f, &c, 0, values.back());
      // References are checked here, not left to SQLite: its check is off
      // inside db.transaction() (see Store::begin).
      const Value& v = values.back();
      if (f->type == FieldType::AnyRef && v.type == Value::Type::Int && store_kind_of(v.i).empty())
        throw RowFailure{f->name, "no record with id " + std::to_string(v.i)};
      if (f->type == FieldType::Ref && v.type == Value::Type::Int && !impl.has(f->ref_kind, v.i))
        throw RowFailure{f->name, "no " + f->ref_kind + " record with id " + std::to_string(v.i)};
      sets += f->name + "=?, ";
    }
    read_extras(t.find(kTagsColumn), t.find(kCustomColumn), 0, extras);
    check_update_rules(impl, k, fields, values, id, extras.custom, t.find(kCustomColumn) != nullptr);
  } catch (const RowFailure& failure) {
    throw ValidationError(k.name, -1, failure.field, failure.reason, id);
  }
  if (t.find(kTagsColumn)) sets += "tags=?, ";
  if (t.find(kCustomColumn)) sets += "custom=?, ";
  // Kept prepared: SQLite compiles the audit's capture trigger into every
  // UPDATE it prepares, which took most of a one-record update's time.
  sql::Statement& st = impl.prepared("UPDATE " + k.name + " SET " + sets + "updated_at=? WHERE id=?");
  struct ResetOnExit {
    sql::Statement& st;
    ~ResetOnExit() { st.reset(); }
  } reset_on_exit{st};
  int index = 1;
  for (const auto& v : values) bind_value(st, index++, v);
  if (t.find(kTagsColumn)) extras.tags_text.empty() ? st.bind_null(index++) : st.bind(index++, extras.tags_text);
  if (t.find(kCustomColumn)) extras.custom.empty() ? st.bind_null(index++) : st.bind(index++, extras.custom);
  st.bind(index++, now_ns());
  st.bind(index++, id);
  // The old phones and e-mails are read from the record before it changes
  // (a failed update rolls the write back, these rows with it).
  forget_lookup_rows(impl, k, id, fields);
  if (const Broken broken = run_or_broken(impl.db, st, "update of " + k.name + " failed")) {
    // Explain against the full field list, with only the updated ones set.
    std::vector<Value> all(k.fields.size());
    for (size_t i = 0; i < fields.size(); ++i)
      for (size_t j = 0; j < k.fields.size(); ++j)
        if (&k.fields[j] == fields[i]) all[j] = values[i], all[j].text = values[i].type == Value::Type::Text ? values[i].text : nullptr;
    RowFailure failure = explain_constraint(impl, broken, k, all);
    throw ValidationError(k.name, -1, failure.field, failure.reason, id);
  }
  for (const auto& f : k.fields) {
    if (f.differs_from.empty()) continue;
    sql::Statement same(impl.db, "SELECT " + f.name + " FROM " + k.name + " WHERE id=? AND " + f.name + "=" + f.differs_from);
    if (same.bind(1, id).step())
      throw ValidationError(k.name, -1, f.name,
                            "is the same record as " + f.differs_from + " (" + std::to_string(same.int64(0)) + ")", id);
  }
  // Lookup values and tags follow the new field values.
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& f = *fields[i];
    if (f.lookup == Lookup::None || values[i].type != Value::Type::Text) continue;
    std::vector<std::string> normalized;
    try {
      normalized = lookup_values(f, *values[i].text);
    } catch (const RowFailure& failure) {
      throw ValidationError(k.name, -1, failure.field, failure.reason, id);
    }
    for (const auto& v : normalized) impl.insert_contact_point.bind(1, v).bind(2, id).bind(3, k.name).bind(4, f.name).run();
  }
  if (t.find(kTagsColumn)) {
    sql::Statement del(impl.db, "DELETE FROM record_tags WHERE record_id=?");
    del.bind(1, id).run();
    for (const auto& tag : extras.tags) impl.insert_tag.bind(1, tag).bind(2, id).run();
  }
  audit(req, 1, req.ids.front(), req.ids.front());
}

// The records asked for are deleted as a set: each once however often it is
// named, all checked to be there before any goes, and a reference from one to
// another (b.partner_id = a, both asked for) does not keep either.
void Store::delete_row(const WriteRequest& req) {
  Deleting deleting;
  deleting.asked = req.ids;
  std::sort(deleting.asked.begin(), deleting.asked.end());
  deleting.asked.erase(std::unique(deleting.asked.begin(), deleting.asked.end()), deleting.asked.end());
  for (int64_t id : deleting.asked)
    if (!impl_->has(req.kind->name, id)) throw NotFound("no " + req.kind->name + " record with id " + std::to_string(id));
  for (int64_t id : req.ids) delete_record(*req.kind, id, req.cascade, -1, &deleting);
}

// Deletes one record, the link records that belong to it, and with
// `cascade` the records that refer to it; each removed row gets its audit
// entry, naming in `cause_id` the record whose deletion removed it.
void Store::delete_record(const Kind& k, int64_t id, bool cascade, int64_t cause_id, Deleting* deleting) {
  Impl& impl = *impl_;
  auto asked = [deleting](int64_t record) {
    return deleting && std::binary_search(deleting->asked.begin(), deleting->asked.end(), record);
  };
  auto under_way = [deleting](int64_t record) {
    return deleting && std::find(deleting->under_way.begin(), deleting->under_way.end(), record) !=
                           deleting->under_way.end();
  };
  if (!impl.has(k.name, id)) {
    // Already removed through another of the records that went (or, asked
    // for twice or as a dependant of another asked for, by this call).
    if (cause_id >= 0 || asked(id)) return;
    throw NotFound("no " + k.name + " record with id " + std::to_string(id));
  }
  if (under_way(id)) return;  // deeper in a reference cycle: its own call deletes it
  if (deleting) deleting->under_way.push_back(id);
  struct Done {
    Deleting* deleting;
    ~Done() {
      if (deleting) deleting->under_way.pop_back();
    }
  } done{deleting};
  // The fields of other kinds that refer to this kind.
  std::vector<std::pair<const Kind*, const Field*>> referring;
  for (const auto& other : kinds())
    for (const auto& f : other.fields)
      if (f.type == FieldType::Ref && f.ref_kind == k.name) referring.emplace_back(&other, &f);
  // History that names the record is kept whatever else is asked: checked first.
  std::stable_partition(referring.begin(), referring.end(),
                        [](const auto& r) { return names_who_acted(*r.first, *r.second); });
  // Records that still refer to this one (other than link records) keep it,
  // unless asked to go with it: say which, instead of SQLite's bare
  // constraint error.
  for (const auto& [other, f] : referring) {
    const bool history = names_who_acted(*other, *f);
    if (other->cascade_on_delete && !history) continue;
    sql::Statement st(impl.db, "SELECT id FROM " + other->name + " WHERE " + f->name + "=? ORDER BY id");
    st.bind(1, id);
    std::vector<int64_t> ids;
    while (st.step()) ids.push_back(st.int64(0));
    if (!history && deleting) {
      // A referrer this call deletes anyway: one on the way out further up
      // (a cycle: a.partner_id = b, b.partner_id = a, or a record naming
      // itself) lets go of this record first, which its own deletion then
      // records as it was; one asked for goes now, as asked.
      std::vector<int64_t> others;
      for (int64_t referrer : ids) {
        if (under_way(referrer)) {
          if (f->required)
            throw ValidationError(k.name, -1, f->name, "is in a cycle of required references", id);
          sql::Statement clear(impl.db, "UPDATE " + other->name + " SET " + f->name + "=NULL WHERE id=?1");
          clear.bind(1, referrer).run();
        } else if (asked(referrer)) {
          delete_record(*other, referrer, cascade, -1, deleting);
        } else {
          others.push_back(referrer);
        }
      }
      ids.swap(others);
    }
    if (ids.empty()) continue;
    if (history)  // kept even when asked to delete dependants
      throw ValidationError(k.name, -1, "",
                            "is named by " + std::to_string(ids.size()) + " " + other->name + " record(s) (" +
                                other->name + "." + f->name +
                                "), history that is kept; reassign their records and deactivate them (active false) "
                                "instead of deleting them",
                            id);
    if (!cascade)
      throw ValidationError(k.name, -1, "",
                            "is still referred to by " + std::to_string(ids.size()) + " " + other->name +
                                " record(s) (" + other->name + "." + f->name +
                                "); delete or reassign those first, or delete with dependants",
                            id);
    for (int64_t referrer : ids) delete_record(*other, referrer, true, id, deleting);
  }
  // Link records (a customer's contacts, a deal's stages, a campaign's
  // members, links to or from it) go with the record they belong to, each
  // named in the audit log. Deleted here rather than by SQLite's ON DELETE
  // CASCADE, which does not act while its foreign-key check is off inside
  // db.transaction() (see Store::begin).
  std::vector<std::pair<const Kind*, int64_t>> dependants;
  auto collect = [&](const Kind& owner_kind, const std::string& text, int64_t key) {
    sql::Statement st(impl.db, text);
    st.bind(1, key);
    while (st.step()) dependants.emplace_back(&owner_kind, st.int64(0));
  };
  const Kind& links = kind("links");
  for (const auto& [other, f] : referring) {
    if (!other->cascade_on_delete || names_who_acted(*other, *f)) continue;
    collect(*other, "SELECT id FROM " + other->name + " WHERE " + f->name + "=?1 ORDER BY id", id);
  }
  const size_t owned = dependants.size();
  for (size_t i = 0; i < owned; ++i)
    collect(links, "SELECT id FROM links WHERE src=?1 OR dst=?1 ORDER BY id", dependants[i].second);
  collect(links, "SELECT id FROM links WHERE src=?1 OR dst=?1 ORDER BY id", id);
  std::sort(dependants.begin() + static_cast<std::ptrdiff_t>(owned), dependants.end());
  dependants.erase(std::unique(dependants.begin() + static_cast<std::ptrdiff_t>(owned), dependants.end()),
                   dependants.end());
  dependants.emplace_back(&k, id);  // the record itself, last
  for (const auto& dependant : dependants) refuse_unruled(impl, *dependant.first, WriteOp::Delete, nullptr);
  for (const auto& [owner_kind, row_id] : dependants) {
    forget_all_lookups(impl, *owner_kind, row_id);
    sql::Statement st(impl.db, "DELETE FROM " + owner_kind->name + " WHERE id=?1");
    st.bind(1, row_id).run();
    audit(WriteRequest{WriteOp::Delete, owner_kind, nullptr, {row_id}}, 1, row_id, row_id, row_id == id ? cause_id : id);
  }
}

Table record_table(const Kind& k, const std::vector<std::string>* columns) {
  // Every column a record has, in its stored order.
  std::vector<Column> all;
  for (const auto& f : k.fields)
    all.emplace_back(f.name, f.type == FieldType::Text   ? Column::Storage::Text
                             : f.type == FieldType::Real ? Column::Storage::Real
                                                         : Column::Storage::Int);
  all.emplace_back(kTagsColumn, Column::Storage::Text);
  all.emplace_back(kCustomColumn, Column::Storage::Text);
  all.emplace_back(kCreatedColumn, Column::Storage::Int);
  all.emplace_back(kUpdatedColumn, Column::Storage::Int);

  Table t;
  t.columns.emplace_back("id", Column::Storage::Int);
  if (!columns) {
    for (auto& c : all) t.columns.push_back(std::move(c));
  } else {
    for (const auto& name : *columns) {
      auto it = std::find_if(all.begin(), all.end(), [&name](const Column& c) { return c.name == name; });
      if (it == all.end()) {
        if (name == "id") continue;  // always there
        std::string known;
        for (const auto& c : all) known += (known.empty() ? "" : ", ") + c.name;
        throw NotFound(k.name + " have no column '" + name + "' (columns: id, " + known + ")");
      }
      t.columns.push_back(*it);
    }
  }
  return t;
}

std::string record_columns_sql(const Table& t, const std::string& table_alias) {
  std::string cols;
  for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + table_alias + c.name;
  return cols;
}

void read_record(const sql::Statement& st, Table& t) {
  for (size_t c = 0; c < t.columns.size(); ++c) {
    Column& col = t.columns[c];
    const int i = static_cast<int>(c);
    const bool null = st.is_null(i);
    col.valid.push_back(null ? 0 : 1);
    switch (col.storage) {
      case Column::Storage::Int: col.ints.push_back(null ? 0 : st.int64(i)); break;
      case Column::Storage::Real: col.reals.push_back(null ? NAN : st.real(i)); break;
      case Column::Storage::Text: col.texts.push_back(null ? std::string() : st.text(i)); break;
    }
  }
}

Table Store::select(const std::string& kind_name, const std::vector<int64_t>* ids,
                    const std::vector<std::string>* columns, const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  StopWhenAsked stop(impl_->db, cancel);
  const Kind& k = kind(kind_name);
  Table t = record_table(k, columns);
  std::string text = "SELECT " + record_columns_sql(t) + " FROM " + k.name + (ids ? " WHERE id=?" : " ORDER BY id");
  sql::Statement st(impl_->db, text);
  if (ids) {
    for (int64_t id : *ids) {
      st.bind(1, id);
      if (!st.step()) throw NotFound("no " + k.name + " record with id " + std::to_string(id));
      read_record(st, t);
      st.reset();
    }
  } else {
    while (st.step()) read_record(st, t);
  }
  return t;
}

std::vector<int64_t> Store::find_contact_locked(const Kind& k, Lookup how, const std::string& typed) const {
  const std::string normalized = how == Lookup::Phone ? normalize_phone(typed) : normalize_email(typed);
  std::vector<int64_t> out;
  if (normalized.empty()) return out;
  auto& st = impl_->find_contact_point;
  st.bind(1, normalized).bind(2, k.name);
  while (st.step()) out.push_back(st.int64(0));
  st.reset();
  if (!out.empty() || how != Lookup::Phone) return out;
  // Nothing under the typed form: the number may be stored with or without
  // its country code. All other forms are looked up in one statement.
  const std::vector<std::string> forms = phone_alternatives(normalized);
  if (forms.empty()) return out;
  sql::Batch batch(1);
  for (const auto& form : forms) batch.add_row()[0].set_text(&form);
  auto& any = impl_->find_contact_points_among;
  sql::bind_batch(any, batch);
  any.bind(2, k.name);
  while (any.step()) out.push_back(any.int64(0));
  any.reset();
  return out;
}

std::vector<int64_t> Store::find_phone(const std::string& kind_name, const std::string& phone) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return find_contact_locked(kind(kind_name), Lookup::Phone, phone);
}

Store::Matches Store::match(const std::string& kind_name, const std::string& field_name,
                            const std::vector<std::string>& values, const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  StopWhenAsked stop(impl_->db, cancel);
  const Kind& k = kind(kind_name);
  const Field* f = k.field(field_name);
  if (!f || f->lookup == Lookup::None)
    throw ValidationError(k.name, -1, field_name, "cannot be matched: only phone and e-mail fields can");
  Matches out;
  out.ids.reserve(values.size());
  out.counts.reserve(values.size());
  for (const auto& value : values) {
    const std::vector<int64_t> found = find_contact_locked(k, f->lookup, value);
    out.ids.push_back(found.empty() ? -1 : found.front());
    out.counts.push_back(static_cast<int64_t>(found.size()));
  }
  return out;
}

std::string Store::kind_of_locked(int64_t id) const {
  // Ids are unique across kinds; the kinds that links usually join come first.
  for (const auto& k : kinds())
    if (impl_->has(k.name, id)) return k.name;
  return "";
}

std::string Store::kind_of(int64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kind_of_locked(id);
}

int64_t Store::count(const std::string& kind_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_locked(kind(kind_name).name);
}

int64_t Store::count_locked(const std::string& table) const {
  sql::Statement st(impl_->db, "SELECT count(*) FROM " + table);
  st.step();
  return st.int64(0);
}

int Store::schema_version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  sql::Statement st(impl_->db, "SELECT value FROM meta WHERE key='schema_version'");
  return st.step() ? static_cast<int>(st.int64(0)) : 0;
}

std::string Store::integrity_check() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!impl_->db.is_sqlite()) return postgres_reference_check(*impl_);
  std::string report;
  {
    sql::Statement st(impl_->db, "PRAGMA integrity_check");
    while (st.step()) report += (report.empty() ? "" : "\n") + st.text(0);
  }
  sql::Statement fk(impl_->db, "PRAGMA foreign_key_check");
  while (fk.step()) {
    if (report == "ok") report.clear();
    report += (report.empty() ? "" : "\n") + std::string("foreign key broken in ") + fk.text(0) + " row " +
              std::to_string(fk.int64(1));
  }
  return report;
}

}  // namespace crmcore::records
