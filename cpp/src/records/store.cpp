#include "crmcore/records/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_map>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "batch.hpp"
#include "sqlite.hpp"

namespace crmcore::records {

namespace {

// Imports of at least this many rows may rebuild plain indexes afterwards.
constexpr size_t kBulkIndexRows = 50000;
// The page cache while such an import rebuilds its indexes (see there).
constexpr int kIndexSortCacheKiB = 2048;
// A written row has the kind's fields and five more columns: id first; tags,
// custom, created_at and updated_at last.
constexpr size_t kExtraColumns = 5;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A row's value for one field, ready to bind. Text either points into the
// caller's column (no copy) or into `owned`.
struct Value {
  enum class Type { Null, Int, Real, Text } type = Type::Null;
  int64_t i = 0;
  double r = 0;
  const std::string* text = nullptr;
  std::string owned;

  void set_null() { type = Type::Null; }
  void set_int(int64_t v) { type = Type::Int, i = v; }
  void set_real(double v) { type = Type::Real, r = v; }
  void set_text(const std::string& s) { type = Type::Text, text = &s; }
  void own_text(std::string s) {
    owned = std::move(s);
    type = Type::Text;
    text = &owned;
  }
};

// A problem with one field of the row being written.
struct RowFailure {
  std::string field;
  std::string reason;
};

std::string quote(const std::string& s) {
  constexpr size_t kShown = 60;
  return "'" + (s.size() > kShown ? s.substr(0, kShown) + "..." : s) + "'";
}

std::string format_real(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  if (errno != 0 || !end || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  if (!end || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_bool(const std::string& s, int64_t& out) {
  std::string t = normalize_email(s);  // trimmed, lower-case
  if (t == "1" || t == "true" || t == "yes" || t == "y" || t == "t") return out = 1, true;
  if (t == "0" || t == "false" || t == "no" || t == "n" || t == "f") return out = 0, true;
  return false;
}

bool is_blank(const std::string& s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

// Converts a text (from a text column or a default) to the field's type.
void coerce_text(const Field& f, const std::string& s, Value& out) {
  switch (f.type) {
    case FieldType::Text: out.set_text(s); return;
    case FieldType::Integer:
    case FieldType::Ref:
    case FieldType::AnyRef: {
      int64_t v;
      if (!parse_int(s, v)) throw RowFailure{f.name, quote(s) + " is not a whole number"};
      out.set_int(v);
      return;
    }
    case FieldType::Real: {
      double v;
      if (!parse_real(s, v)) throw RowFailure{f.name, quote(s) + " is not a number"};
      out.set_real(v);
      return;
    }
    case FieldType::Time: {
      auto t = parse_time(s);
      if (!t) throw RowFailure{f.name, quote(s) + " is not a date (expected YYYY-MM-DD[ HH:MM[:SS]])"};
      out.set_int(*t);
      return;
    }
    case FieldType::Bool: {
      int64_t v;
      if (!parse_bool(s, v)) throw RowFailure{f.name, quote(s) + " is not true/false"};
      out.set_int(v);
      return;
    }
  }
}

void coerce(const Field& f, const Column* col, size_t row, Value& out) {
  out.set_null();
  if (col && col->present(row)) {
    switch (col->storage) {
      case Column::Storage::Text: {
        const std::string& s = col->texts[row];
        if (!is_blank(s)) coerce_text(f, s, out);
        break;
      }
      case Column::Storage::Int: {
        int64_t v = col->ints[row];
        if (f.type == FieldType::Text) out.own_text(std::to_string(v));
        else if (f.type == FieldType::Real) out.set_real(static_cast<double>(v));
        else out.set_int(v);
        break;
      }
      case Column::Storage::Real: {
        double v = col->reals[row];
        if (std::isnan(v)) break;
        if (f.type == FieldType::Real) {
          out.set_real(v);
        } else if (f.type == FieldType::Text) {
          out.own_text(format_real(v));
        } else if (f.type == FieldType::Time) {
          throw RowFailure{f.name, format_real(v) + " is a number, not a date"};
        } else {
          if (v != std::floor(v) || std::fabs(v) > 9.0e15)
            throw RowFailure{f.name, format_real(v) + " is not a whole number"};
          out.set_int(static_cast<int64_t>(v));
        }
        break;
      }
    }
  }
  if (out.type == Value::Type::Null) {
    if (!f.default_value.empty()) coerce_text(f, f.default_value, out);
    else if (f.required) throw RowFailure{f.name, "is required but missing"};
    return;
  }
  // Checks on the value itself.
  if (out.type == Value::Type::Real && !std::isfinite(out.r))
    throw RowFailure{f.name, format_real(out.r) + " is not a finite number"};
  if (f.min < f.max) {
    double v = out.type == Value::Type::Real ? out.r : static_cast<double>(out.i);
    if (v < f.min || v > f.max)
      throw RowFailure{f.name, format_real(v) + " is outside " + format_real(f.min) + ".." + format_real(f.max)};
  }
  if (f.type == FieldType::Bool && (out.i != 0 && out.i != 1))
    throw RowFailure{f.name, std::to_string(out.i) + " is not true/false"};
  if (!f.choices.empty()) {
    bool ok = false;
    for (const auto& c : f.choices) ok = ok || c == *out.text;
    if (!ok) {
      std::string list;
      for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
      throw RowFailure{f.name, quote(*out.text) + " is not one of: " + list};
    }
  }
}

std::string sql_type(FieldType t) {
  switch (t) {
    case FieldType::Text: return "TEXT";
    case FieldType::Real: return "REAL";
    default: return "INTEGER";
  }
}

// Version 1 of the schema, made from the kind table. A later change of the
// kind table adds a migration below rather than changing what version 1 was.
std::string schema_v1() {
  std::string s =
      "CREATE TABLE id_sequence(next INTEGER NOT NULL);"
      "INSERT INTO id_sequence VALUES(1);"
      // Key columns first: SQLite 3.40 integrity_check misreads a NOT NULL column
      // placed between the key columns of a WITHOUT ROWID table.
      "CREATE TABLE contact_points(value TEXT NOT NULL, record_id INTEGER NOT NULL, field TEXT NOT NULL,"
      " kind TEXT NOT NULL, PRIMARY KEY(value, record_id, field)) WITHOUT ROWID;"
      "CREATE INDEX contact_points_record ON contact_points(record_id);"
      "CREATE TABLE record_tags(tag TEXT NOT NULL, record_id INTEGER NOT NULL, PRIMARY KEY(tag, record_id))"
      " WITHOUT ROWID;"
      "CREATE INDEX record_tags_record ON record_tags(record_id);"
      "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, op TEXT NOT NULL, kind TEXT NOT NULL,"
      " record_id INTEGER, rows INTEGER NOT NULL);";
  for (const auto& k : kinds()) {
    s += "CREATE TABLE " + k.name + "(id INTEGER PRIMARY KEY";
    for (const auto& f : k.fields) {
      s += ", " + f.name + " " + sql_type(f.type);
      if (f.required) s += " NOT NULL";
      if (f.type == FieldType::Ref) {
        s += " REFERENCES " + f.ref_kind + "(id)";
        if (k.cascade_on_delete) s += " ON DELETE CASCADE";
      }
    }
    s += ", tags TEXT, custom TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);";
    for (const auto& f : k.fields) {
      if (f.type == FieldType::Ref || f.type == FieldType::AnyRef || f.unique)
        s += std::string("CREATE ") + (f.unique ? "UNIQUE " : "") + "INDEX " + k.name + "_" + f.name + " ON " +
             k.name + "(" + f.name + ");";
    }
  }
  s += "CREATE INDEX links_type ON links(type);";
  return s;
}

// Migrations from version i+1 to i+2 (index 0 brings version 1 to 2, ...).
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> steps = {
      // 2: an audit entry names the range of ids a write gave or touched (an
      // import's rows get consecutive ids), not just a lone record.
      "ALTER TABLE audit_log RENAME COLUMN record_id TO first_id;"
      "ALTER TABLE audit_log ADD COLUMN last_id INTEGER;"
      "UPDATE audit_log SET last_id = first_id;",
  };
  return steps;
}

}  // namespace

struct Store::Impl {
  sqlite3* db = nullptr;
  std::map<std::string, sql::Statement> prepared_by_text;  // statements made per kind, kept for reuse
  sql::Statement insert_contact_point, insert_tag, read_sequence, write_sequence, insert_audit, find_contact_point;
  sql::Statement insert_points_batch, insert_tags_batch, find_contact_points_among;

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
    if (db) sqlite3_close_v2(db);
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

namespace {

void bind_value(sql::Statement& st, int index, const Value& v) {
  switch (v.type) {
    case Value::Type::Null: st.bind_null(index); break;
    case Value::Type::Int: st.bind(index, v.i); break;
    case Value::Type::Real: st.bind(index, v.r); break;
    case Value::Type::Text: st.bind(index, *v.text); break;
  }
}

// The tags and custom columns of a row, normalized.
struct Extras {
  std::vector<std::string> tags;
  std::string tags_text;
  std::string custom;
};

void read_extras(const Column* tags, const Column* custom, size_t row, Extras& out) {
  out.tags.clear();
  out.tags_text.clear();
  out.custom.clear();
  if (tags && tags->present(row)) {
    if (tags->storage != Column::Storage::Text) throw RowFailure{kTagsColumn, "must be text or a list of text"};
    out.tags = split_values(tags->texts[row]);
    for (const auto& t : out.tags) out.tags_text += (out.tags_text.empty() ? "" : ";") + t;
  }
  if (custom && custom->present(row)) {
    if (custom->storage != Column::Storage::Text) throw RowFailure{kCustomColumn, "must be a JSON object"};
    const std::string& text = custom->texts[row];
    if (!is_blank(text)) {
      auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !parsed.is_object())
        throw RowFailure{kCustomColumn, quote(text) + " is not a JSON object"};
      if (!parsed.empty()) out.custom = parsed.dump();  // {} is stored as no custom fields
    }
  }
}

// Normalized lookup values of a phone or e-mail field (several per field).
std::vector<std::string> lookup_values(const Field& f, const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split_values(text)) {
    if (f.lookup == Lookup::Phone) {
      std::string p = normalize_phone(part);
      if (p.empty()) throw RowFailure{f.name, quote(part) + " is not a phone number"};
      out.push_back(std::move(p));
    } else {
      std::string e = normalize_email(part);
      auto at = e.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == e.size() || e.find(' ') != std::string::npos)
        throw RowFailure{f.name, quote(part) + " is not an e-mail address"};
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

Store::Store(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  int rc = sqlite3_open_v2(path.c_str(), &impl_->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) sql::fail(impl_->db, "cannot open '" + path + "'");
  sqlite3* db = impl_->db;
  sql::configure_connection(db);

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
  if (read_version() < kSchemaVersion) {
    sql::exec(db, "BEGIN IMMEDIATE");
    try {
      int version = read_version();  // again, now that no one else can change it
      sql::exec(db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID");
      if (version == 0) {
        sql::exec(db, schema_v1());
        version = 1;
      }
      for (; version < kSchemaVersion; ++version) sql::exec(db, migrations().at(static_cast<size_t>(version - 1)));
      sql::Statement set(db, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)");
      set.bind(1, static_cast<int64_t>(version)).run();
      sql::exec(db, "COMMIT");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  impl_->insert_contact_point =
      sql::Statement(db, "INSERT OR IGNORE INTO contact_points(value, record_id, kind, field) VALUES(?,?,?,?)");
  impl_->insert_tag = sql::Statement(db, "INSERT OR IGNORE INTO record_tags(tag, record_id) VALUES(?,?)");
  size_t widest = 4;  // the contact points' batch
  for (const auto& k : kinds()) widest = std::max(widest, k.fields.size() + kExtraColumns);
  sql::register_batch_table(db, static_cast<int>(widest));
  impl_->insert_points_batch = sql::Statement(
      db, "INSERT OR IGNORE INTO contact_points(value, record_id, kind, field) SELECT c0, c1, c2, c3 FROM crm_batch(?1)");
  impl_->insert_tags_batch =
      sql::Statement(db, "INSERT OR IGNORE INTO record_tags(tag, record_id) SELECT c0, c1 FROM crm_batch(?1)");
  impl_->find_contact_points_among = sql::Statement(
      db, "SELECT DISTINCT record_id FROM contact_points WHERE value IN (SELECT c0 FROM crm_batch(?1)) AND kind=?2"
          " ORDER BY record_id");
  impl_->read_sequence = sql::Statement(db, "SELECT next FROM id_sequence");
  impl_->write_sequence = sql::Statement(db, "UPDATE id_sequence SET next=?");
  impl_->find_contact_point = sql::Statement(
      db, "SELECT DISTINCT record_id FROM contact_points WHERE value=? AND kind=? ORDER BY record_id");
  impl_->insert_audit =
      sql::Statement(db, "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows) VALUES(?,?,?,?,?,?)");
}

Store::~Store() = default;

void Store::add_write_hook(WriteHook hook) {
  std::lock_guard<std::mutex> lock(mutex_);
  hooks_.push_back(std::move(hook));
}

WriteResult Store::insert(const std::string& kind_name, const Table& table, OnError on_error,
                          const Progress& progress) {
  WriteRequest req{WriteOp::Insert, &kind(kind_name), &table, {}, on_error, progress ? &progress : nullptr};
  return write(req);
}

void Store::update(const std::string& kind_name, int64_t id, const Table& fields) {
  write(WriteRequest{WriteOp::Update, &kind(kind_name), &fields, {id}});
}

void Store::remove(const std::string& kind_name, int64_t id) {
  write(WriteRequest{WriteOp::Delete, &kind(kind_name), nullptr, {id}});
}

// The one write path: hooks, then the change and its audit entry in one
// transaction that either commits whole or leaves the file as it was.
WriteResult Store::write(const WriteRequest& req) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& hook : hooks_) hook(req);
  if (req.table) {  // every column must name a field
    const Kind& k = *req.kind;
    for (const auto& c : req.table->columns) {
      if (k.field(c.name) || c.name == kTagsColumn || c.name == kCustomColumn) continue;
      std::string known;
      for (const auto& f : k.fields) known += (known.empty() ? "" : ", ") + f.name;
      std::string reason = c.name == "id" ? "ids are given by the store and cannot be set"
                                          : "is not a field of " + k.name + " (fields: " + known + ", tags, custom)";
      throw ValidationError(k.name, -1, c.name, reason);
    }
  }
  WriteResult result;
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
  if (req.op == WriteOp::Insert && !nested) {
    sql::exec(impl_->db, "PRAGMA foreign_keys=OFF");
    foreign_keys_off.db = impl_->db;
  }
  sql::exec(impl_->db, nested ? "SAVEPOINT crm_write" : "BEGIN IMMEDIATE");
  try {
    switch (req.op) {
      case WriteOp::Insert: insert_rows(req, result); break;
      case WriteOp::Update: update_row(req); break;
      case WriteOp::Delete: delete_row(req); break;
    }
    sql::exec(impl_->db, nested ? "RELEASE crm_write" : "COMMIT");
  } catch (...) {
    sqlite3_exec(impl_->db, nested ? "ROLLBACK TO crm_write; RELEASE crm_write" : "ROLLBACK", nullptr, nullptr,
                 nullptr);
    throw;
  }
  return result;
}

// Every write in the transaction goes through Store::write, which checks
// references itself (inserts, updates) and deletes link records itself; so
// SQLite's foreign-key check, which would only repeat the work (and cannot
// be switched per statement inside a transaction), is off until it ends.
void Store::begin() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (transaction_depth_ > 0) throw Error("a transaction is already open on this store");
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

void Store::rollback() { end_transaction("ROLLBACK"); }

void Store::end_transaction(const char* how) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (transaction_depth_ == 0) throw Error("no transaction is open");
  sql::exec(impl_->db, how);
  transaction_depth_ = 0;
  sql::exec(impl_->db, "PRAGMA foreign_keys=ON");  // off since begin()
}

void Store::audit(const WriteRequest& req, int64_t rows, int64_t first_id, int64_t last_id) {
  static const char* names[] = {"insert", "update", "delete"};
  auto& st = impl_->insert_audit;
  st.bind(1, now_ns());
  st.bind(2, std::string(names[static_cast<int>(req.op)]));
  st.bind(3, req.kind->name);
  if (rows > 0) st.bind(4, first_id).bind(5, last_id);
  else st.bind_null(4).bind_null(5);
  st.bind(6, rows);
  st.run();
}

namespace {

// Explains a failed insert or update of a row: which field broke which rule.
RowFailure explain_constraint(Store::Impl& impl, int rc, const Kind& k, const std::vector<Value>& values) {
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    for (size_t i = 0; i < k.fields.size(); ++i) {
      const Field& f = k.fields[i];
      if (f.type == FieldType::Ref && values[i].type == Value::Type::Int && !impl.has(f.ref_kind, values[i].i))
        return {f.name, "no " + f.ref_kind + " record with id " + std::to_string(values[i].i)};
    }
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    for (size_t i = 0; i < k.fields.size(); ++i)
      if (k.fields[i].unique && values[i].type == Value::Type::Text)
        return {k.fields[i].name, quote(*values[i].text) + " already exists in " + k.name};
  }
  return {"", std::string("rejected by the database: ") + sqlite3_errmsg(impl.db)};
}

// Imports are validated and written in chunks of this many rows: large
// enough that a statement's start-up vanishes, small enough to stay in cache.
constexpr size_t kChunkRows = size_t{1} << 16;

// Whether the records an import's rows refer to exist. References given as
// whole numbers, the usual case, are looked up a chunk at a time: the chunk's
// distinct ids, sorted, in one statement per field (and kind, for links),
// after which a row only asks whether its id is among the (usually no)
// missing ones. Others (text that holds a number) are asked once per
// distinct id.
class ReferenceCheck {
 public:
  ReferenceCheck(Store::Impl& impl, const Kind& k, const std::vector<const Column*>& columns,
                 std::function<bool(int64_t)> any_record_exists)
      : impl_(impl),
        kind_(k),
        columns_(columns),
        known_(k.fields.size()),
        missing_(k.fields.size()),
        by_chunk_(k.fields.size(), false),
        any_record_exists_(std::move(any_record_exists)) {}

  // Looks up the references of rows [begin, end) that whole-number columns
  // hold. A link's end may be a record of any kind: the ids not found among
  // one kind are looked for in the next (customers and contacts first).
  void prepare_chunk(size_t begin, size_t end) {
    for (size_t i = 0; i < kind_.fields.size(); ++i) {
      const Field& f = kind_.fields[i];
      const Column* c = columns_[i];
      by_chunk_[i] = (f.type == FieldType::Ref || f.type == FieldType::AnyRef) && c &&
                     c->storage == Column::Storage::Int;
      if (!by_chunk_[i]) continue;
      std::vector<int64_t> ids;
      ids.reserve(end - begin);
      for (size_t r = begin; r < end; ++r)
        if (c->present(r)) ids.push_back(c->ints[r]);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      if (f.type == FieldType::Ref) {
        ids = not_in(f.ref_kind, ids);
      } else {
        for (const auto& k : kinds())
          if (!ids.empty()) ids = not_in(k.name, ids);
      }
      missing_[i] = std::move(ids);
    }
  }

  // Whether the record that field `field` (a Ref or AnyRef) of a row of the
  // current chunk names exists.
  bool exists(const Field& f, size_t field, int64_t id) {
    if (by_chunk_[field]) return !std::binary_search(missing_[field].begin(), missing_[field].end(), id);
    auto [it, inserted] = known_[field].try_emplace(id, false);
    if (inserted) it->second = f.type == FieldType::Ref ? impl_.has(f.ref_kind, id) : any_record_exists_(id);
    return it->second;
  }

 private:
  // The ids among `ids` (sorted, distinct) that are no record of `kind`, sorted.
  std::vector<int64_t> not_in(const std::string& kind, const std::vector<int64_t>& ids) {
    sql::Batch batch(1);
    for (int64_t id : ids) batch.add_row()[0].set_int(id);
    std::vector<int64_t> found;
    sql::Statement& st = impl_.existing_ids_stmt(kind);
    sql::bind_batch(st, batch);
    while (st.step()) found.push_back(st.int64(0));
    st.reset();
    std::sort(found.begin(), found.end());
    std::vector<int64_t> rest;
    std::set_difference(ids.begin(), ids.end(), found.begin(), found.end(), std::back_inserter(rest));
    return rest;
  }

  Store::Impl& impl_;
  const Kind& kind_;
  const std::vector<const Column*>& columns_;
  std::vector<std::unordered_map<int64_t, bool>> known_;  // per field: id -> exists
  std::vector<std::vector<int64_t>> missing_;             // per field: the chunk's missing ids, sorted
  std::vector<bool> by_chunk_;                            // per field: looked up by prepare_chunk
  std::function<bool(int64_t)> any_record_exists_;
};

// The rows of a chunk that passed validation, with their lookup values and tags.
struct StagedRows {
  struct Point {
    size_t staged;
    size_t field;
    std::string value;
  };
  struct Tag {
    size_t staged;
    std::string tag;
  };

  explicit StagedRows(size_t columns) : rows(columns) {}
  void clear() {
    rows.clear();
    source_row.clear();
    points.clear();
    tags.clear();
  }

  sql::Batch rows;                 // id, fields..., tags, custom, created_at, updated_at
  std::vector<size_t> source_row;  // the caller's row number of each staged row
  std::vector<Point> points;       // normalized phones and e-mails
  std::vector<Tag> tags;
};

// What every row of one import is checked against, and room to check it in.
struct Staging {
  const Kind& kind;
  std::vector<const Column*> columns;  // per field of the kind; null if the caller has no such column
  const Column* tags;
  const Column* custom;
  int64_t now;
  ReferenceCheck& references;
  // The row being checked (kept between rows to spare allocations).
  std::vector<Value> values;
  std::vector<StagedRows::Point> points;
  Extras extras;
};

void set_cell(sql::Cell& cell, Value& v, sql::Batch& batch) {
  switch (v.type) {
    case Value::Type::Null: cell.set_null(); break;
    case Value::Type::Int: cell.set_int(v.i); break;
    case Value::Type::Real: cell.set_real(v.r); break;
    // Text the row made itself moves into the batch; the caller's stays where it is.
    case Value::Type::Text: cell.set_text(v.text == &v.owned ? batch.keep(std::move(v.owned)) : v.text); break;
  }
}

Value value_of(const sql::Cell& cell) {
  Value v;
  switch (cell.type) {
    case sql::Cell::Type::Null: break;
    case sql::Cell::Type::Int: v.set_int(cell.i); break;
    case sql::Cell::Type::Real: v.set_real(cell.r); break;
    case sql::Cell::Type::Text: v.set_text(*cell.text); break;
  }
  return v;
}

// Validates one row of the caller's table and, if it passes every check,
// adds it to `staged`; otherwise throws RowFailure and stages nothing.
void stage_row(Staging& s, size_t row, StagedRows& staged) {
  const Kind& k = s.kind;
  std::vector<Value>& values = s.values;
  std::vector<StagedRows::Point>& points = s.points;
  Extras& extras = s.extras;
  values.resize(k.fields.size());
  points.clear();
  for (size_t i = 0; i < k.fields.size(); ++i) {
    const Field& f = k.fields[i];
    coerce(f, s.columns[i], row, values[i]);
    const Value& v = values[i];
    if (f.lookup != Lookup::None && v.type == Value::Type::Text)
      for (auto& value : lookup_values(f, *v.text)) points.push_back({0, i, std::move(value)});
    if ((f.type == FieldType::Ref || f.type == FieldType::AnyRef) && v.type == Value::Type::Int &&
        !s.references.exists(f, i, v.i))
      throw RowFailure{f.name, "no " + (f.type == FieldType::Ref ? f.ref_kind + " " : "") + "record with id " +
                                   std::to_string(v.i)};
  }
  read_extras(s.tags, s.custom, row, extras);

  const size_t index = staged.rows.rows();
  sql::Cell* cells = staged.rows.add_row();  // cells[0], the id, is given when the row is written
  for (size_t i = 0; i < k.fields.size(); ++i) set_cell(cells[i + 1], values[i], staged.rows);
  const size_t extra = k.fields.size() + 1;
  if (!extras.tags_text.empty()) cells[extra].set_text(staged.rows.keep(std::move(extras.tags_text)));
  if (!extras.custom.empty()) cells[extra + 1].set_text(staged.rows.keep(std::move(extras.custom)));
  cells[extra + 2].set_int(s.now);
  cells[extra + 3].set_int(s.now);
  staged.source_row.push_back(row);
  for (auto& p : points) staged.points.push_back({index, p.field, std::move(p.value)});
  for (auto& tag : extras.tags) staged.tags.push_back({index, std::move(tag)});
}

// The phones, e-mails and tags of an import's landed rows. They are written
// after all the rows, sorted by key: random keys would miss the page cache
// at almost every row of a large import.
struct Lookups {
  struct Point {
    std::string value;
    int64_t id;
    size_t field;
  };
  struct Tag {
    std::string tag;
    int64_t id;
  };
  std::vector<Point> points;
  std::vector<Tag> tags;
};

void write_lookups(Store::Impl& impl, const Kind& k, Lookups& lookups) {
  std::sort(lookups.points.begin(), lookups.points.end(),
            [](const Lookups::Point& a, const Lookups::Point& b) { return std::tie(a.value, a.id) < std::tie(b.value, b.id); });
  std::sort(lookups.tags.begin(), lookups.tags.end(),
            [](const Lookups::Tag& a, const Lookups::Tag& b) { return std::tie(a.tag, a.id) < std::tie(b.tag, b.id); });
  sql::Batch points(4), tags(2);
  for (size_t begin = 0; begin < lookups.points.size(); begin += kChunkRows) {
    points.clear();
    for (size_t i = begin; i < std::min(lookups.points.size(), begin + kChunkRows); ++i) {
      const auto& p = lookups.points[i];
      sql::Cell* c = points.add_row();
      c[0].set_text(&p.value);
      c[1].set_int(p.id);
      c[2].set_text(&k.name);
      c[3].set_text(&k.fields[p.field].name);
    }
    if (sql::run_over_batch(impl.insert_points_batch, points) != SQLITE_DONE)
      sql::fail(impl.db, "cannot record the phones and e-mails of " + k.name);
  }
  for (size_t begin = 0; begin < lookups.tags.size(); begin += kChunkRows) {
    tags.clear();
    for (size_t i = begin; i < std::min(lookups.tags.size(), begin + kChunkRows); ++i) {
      sql::Cell* c = tags.add_row();
      c[0].set_text(&lookups.tags[i].tag);
      c[1].set_int(lookups.tags[i].id);
    }
    if (sql::run_over_batch(impl.insert_tags_batch, tags) != SQLITE_DONE)
      sql::fail(impl.db, "cannot record the tags of " + k.name);
  }
}

// Drops the plain (non-unique) indexes of `table` and returns the statements
// that make them again.
std::vector<std::string> drop_plain_indexes(Store::Impl& impl, const std::string& table) {
  sql::Statement list(impl.db, "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL"
                               " AND sql NOT LIKE 'CREATE UNIQUE%'");
  list.bind(1, table);
  std::vector<std::string> names, creates;
  while (list.step()) names.push_back(list.text(0)), creates.push_back(list.text(1));
  for (const auto& name : names) sql::exec(impl.db, "DROP INDEX " + name);
  return creates;
}

void recreate_indexes(Store::Impl& impl, const std::vector<std::string>& creates) {
  if (creates.empty()) return;
  // CREATE INDEX sorts in runs the size of the page cache, then merges the
  // runs. Runs of a few MB stay in the CPU caches; one run of the store's
  // full cache misses them at every step and sorts 2-3x slower (1M rows).
  sql::exec(impl.db, "PRAGMA cache_size=-" + std::to_string(kIndexSortCacheKiB));
  try {
    for (const auto& create : creates) sql::exec(impl.db, create);
  } catch (...) {
    sqlite3_exec(impl.db, sql::kCacheSizePragma.c_str(), nullptr, nullptr, nullptr);
    throw;
  }
  sql::exec(impl.db, sql::kCacheSizePragma);
}

// Writes the staged rows with one INSERT ... SELECT, giving them ids from
// `next_id` on. If a row breaks a database rule (a missing referenced
// record, a duplicate), SQLite undoes the whole statement; the rows are then
// written one by one to name the row and the rule, and with OnError::Skip
// the others still land.
void write_staged(Store::Impl& impl, const Kind& k, OnError on_error, StagedRows& staged, int64_t& next_id,
                  WriteResult& result, Lookups& lookups) {
  const size_t count = staged.rows.rows();
  if (count == 0) return;
  std::vector<int64_t> ids(count, -1);
  for (size_t r = 0; r < count; ++r) staged.rows.row(r)[0].set_int(next_id + static_cast<int64_t>(r));
  int rc = sql::run_over_batch(impl.insert_batch_stmt(k), staged.rows);
  if (rc == SQLITE_DONE) {
    for (size_t r = 0; r < count; ++r) ids[r] = next_id++;
  } else {
    if ((rc & 0xff) != SQLITE_CONSTRAINT) sql::fail(impl.db, "insert into " + k.name + " failed");
    sql::Statement& st = impl.insert_stmt(k);
    for (size_t r = 0; r < count; ++r) {
      sql::Cell* cells = staged.rows.row(r);
      cells[0].set_int(next_id);
      for (size_t c = 0; c < staged.rows.columns(); ++c) bind_value(st, static_cast<int>(c) + 1, value_of(cells[c]));
      rc = st.step_code();
      if (rc != SQLITE_DONE) {
        const int code = sqlite3_extended_errcode(impl.db);
        st.reset();
        if ((rc & 0xff) != SQLITE_CONSTRAINT) sql::fail(impl.db, "insert into " + k.name + " failed");
        std::vector<Value> values;
        for (size_t i = 0; i < k.fields.size(); ++i) values.push_back(value_of(cells[i + 1]));
        RowFailure failure = explain_constraint(impl, code, k, values);
        const auto row = static_cast<int64_t>(staged.source_row[r]);
        if (on_error == OnError::Raise) throw ValidationError(k.name, row, failure.field, failure.reason);
        result.errors.push_back({row, failure.field, failure.reason});
        continue;
      }
      st.reset();
      ids[r] = next_id++;
    }
  }
  for (size_t r = 0; r < count; ++r)
    if (ids[r] >= 0) result.ids[staged.source_row[r]] = ids[r];

  for (auto& p : staged.points)
    if (ids[p.staged] >= 0) lookups.points.push_back({std::move(p.value), ids[p.staged], p.field});
  for (auto& t : staged.tags)
    if (ids[t.staged] >= 0) lookups.tags.push_back({std::move(t.tag), ids[t.staged]});
}

}  // namespace

void Store::insert_rows(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  const size_t n = t.rows();
  for (const auto& c : t.columns)
    if (c.size() != n) throw ValidationError(k.name, -1, c.name, "has " + std::to_string(c.size()) +
                                                                     " values where other columns have " +
                                                                     std::to_string(n));
  std::vector<const Column*> columns;
  for (const auto& f : k.fields) columns.push_back(t.find(f.name));
  ReferenceCheck references(impl, k, columns, [this](int64_t id) { return !kind_of_locked(id).empty(); });
  Staging staging{k, columns, t.find(kTagsColumn), t.find(kCustomColumn), now_ns(), references, {}, {}, {}};

  impl.read_sequence.step();
  int64_t next_id = impl.read_sequence.int64(0);
  impl.read_sequence.reset();

  // A large import into a table of similar or smaller size is much faster
  // with the plain (non-unique) indexes built afterwards, by one sort, than
  // kept up to date row by row with random inserts. It all happens inside
  // this transaction, so readers and a crash see either the old or the new.
  auto large = [this](const std::string& table, size_t rows) {
    return rows >= kBulkIndexRows && static_cast<int64_t>(rows) * 4 >= count_locked(table);
  };
  std::vector<std::string> rebuild;
  if (large(k.name, n)) rebuild = drop_plain_indexes(impl, k.name);

  result.ids.assign(n, -1);
  StagedRows staged(k.fields.size() + kExtraColumns);
  Lookups lookups;
  for (size_t begin = 0; begin < n; begin += kChunkRows) {
    if (req.progress && begin > 0) (*req.progress)(begin, n);
    const size_t end = std::min(n, begin + kChunkRows);
    staged.clear();
    references.prepare_chunk(begin, end);
    for (size_t row = begin; row < end; ++row) {
      try {
        stage_row(staging, row, staged);
      } catch (const RowFailure& failure) {
        if (req.on_error == OnError::Skip) {
          result.errors.push_back({static_cast<int64_t>(row), failure.field, failure.reason});
          continue;
        }
        // Rows before this one may break a database rule: that is the first error.
        write_staged(impl, k, req.on_error, staged, next_id, result, lookups);
        throw ValidationError(k.name, static_cast<int64_t>(row), failure.field, failure.reason);
      }
    }
    write_staged(impl, k, req.on_error, staged, next_id, result, lookups);
  }
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const RowError& a, const RowError& b) { return a.row < b.row; });

  // The lookup tables' own plain indexes (by record id) get the same
  // treatment when the import adds a large share of them.
  for (const auto& [table, rows] : {std::pair<std::string, size_t>{"contact_points", lookups.points.size()},
                                    std::pair<std::string, size_t>{"record_tags", lookups.tags.size()}}) {
    if (!large(table, rows)) continue;
    auto creates = drop_plain_indexes(impl, table);
    rebuild.insert(rebuild.end(), creates.begin(), creates.end());
  }
  write_lookups(impl, k, lookups);
  recreate_indexes(impl, rebuild);
  impl.write_sequence.bind(1, next_id).run();
  const int64_t landed = static_cast<int64_t>(n - result.errors.size());
  audit(req, landed, next_id - landed, next_id - 1);  // the landed rows got consecutive ids
  if (req.progress) (*req.progress)(n, n);
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
  } catch (const RowFailure& failure) {
    throw ValidationError(k.name, -1, failure.field, failure.reason, id);
  }
  if (t.find(kTagsColumn)) sets += "tags=?, ";
  if (t.find(kCustomColumn)) sets += "custom=?, ";
  sql::Statement st(impl.db, "UPDATE " + k.name + " SET " + sets + "updated_at=? WHERE id=?");
  int index = 1;
  for (const auto& v : values) bind_value(st, index++, v);
  if (t.find(kTagsColumn)) extras.tags_text.empty() ? st.bind_null(index++) : st.bind(index++, extras.tags_text);
  if (t.find(kCustomColumn)) extras.custom.empty() ? st.bind_null(index++) : st.bind(index++, extras.custom);
  st.bind(index++, now_ns());
  st.bind(index++, id);
  int rc = st.step_code();
  if (rc != SQLITE_DONE) {
    if ((rc & 0xff) != SQLITE_CONSTRAINT) sql::fail(impl.db, "update of " + k.name + " failed");
    // Explain against the full field list, with only the updated ones set.
    std::vector<Value> all(k.fields.size());
    for (size_t i = 0; i < fields.size(); ++i)
      for (size_t j = 0; j < k.fields.size(); ++j)
        if (&k.fields[j] == fields[i]) all[j] = values[i], all[j].text = values[i].type == Value::Type::Text ? values[i].text : nullptr;
    RowFailure failure = explain_constraint(impl, sqlite3_extended_errcode(impl.db), k, all);
    throw ValidationError(k.name, -1, failure.field, failure.reason, id);
  }
  // Lookup values and tags follow the new field values.
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& f = *fields[i];
    if (f.lookup == Lookup::None) continue;
    sql::Statement del(impl.db, "DELETE FROM contact_points WHERE record_id=? AND field=?");
    del.bind(1, id).bind(2, f.name).run();
    if (values[i].type != Value::Type::Text) continue;
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

void Store::delete_row(const WriteRequest& req) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const int64_t id = req.ids.front();
  if (!impl.has(k.name, id)) throw NotFound("no " + k.name + " record with id " + std::to_string(id));
  // The fields of other kinds that refer to this kind.
  std::vector<std::pair<const Kind*, const Field*>> referring;
  for (const auto& other : kinds())
    for (const auto& f : other.fields)
      if (f.type == FieldType::Ref && f.ref_kind == k.name) referring.emplace_back(&other, &f);
  // Records that still refer to this one (other than link records) keep it:
  // say which, instead of SQLite's bare constraint error.
  for (const auto& [other, f] : referring) {
    if (other->cascade_on_delete) continue;
    sql::Statement st(impl.db, "SELECT count(*) FROM " + other->name + " WHERE " + f->name + "=?");
    st.bind(1, id);
    st.step();
    if (int64_t n = st.int64(0); n > 0)
      throw ValidationError(k.name, -1, "",
                            "is still referred to by " + std::to_string(n) + " " + other->name + " record(s) (" +
                                other->name + "." + f->name + "); delete or reassign those first",
                            id);
  }
  // Link records (a customer's contacts, a deal's stages, a campaign's
  // members) go with the record they belong to. Deleted here rather than by
  // SQLite's ON DELETE CASCADE, which does not act while its foreign-key
  // check is off inside db.transaction() (see Store::begin).
  for (const auto& [other, f] : referring) {
    if (!other->cascade_on_delete) continue;
    const std::string owned = "SELECT id FROM " + other->name + " WHERE " + f->name + "=?1";
    for (const std::string& text : {"DELETE FROM record_tags WHERE record_id IN (" + owned + ")",
                                    "DELETE FROM links WHERE src IN (" + owned + ") OR dst IN (" + owned + ")",
                                    "DELETE FROM " + other->name + " WHERE " + f->name + "=?1"}) {
      sql::Statement st(impl.db, text);
      st.bind(1, id).run();
    }
  }
  for (const char* text : {"DELETE FROM contact_points WHERE record_id=?1", "DELETE FROM record_tags WHERE record_id=?1",
                           "DELETE FROM links WHERE src=?1 OR dst=?1"}) {
    sql::Statement st(impl.db, text);
    st.bind(1, id).run();
  }
  sql::Statement st(impl.db, "DELETE FROM " + k.name + " WHERE id=?");
  st.bind(1, id).run();
  audit(req, 1, req.ids.front(), req.ids.front());
}

Table Store::select(const std::string& kind_name, const std::vector<int64_t>* ids,
                    const std::vector<std::string>* columns) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Kind& k = kind(kind_name);
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

  std::string cols;
  for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + c.name;
  std::string text = "SELECT " + cols + " FROM " + k.name + (ids ? " WHERE id=?" : " ORDER BY id");
  sql::Statement st(impl_->db, text);
  auto read_row = [&t, &st]() {
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
  };
  if (ids) {
    for (int64_t id : *ids) {
      st.bind(1, id);
      if (!st.step()) throw NotFound("no " + k.name + " record with id " + std::to_string(id));
      read_row();
      st.reset();
    }
  } else {
    while (st.step()) read_row();
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
                            const std::vector<std::string>& values) const {
  std::lock_guard<std::mutex> lock(mutex_);
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

std::vector<int64_t> Store::find(const std::string& kind_name, const std::string& field_name,
                                 const std::string& value) const {
  const Kind& k = kind(kind_name);
  const Field* f = k.field(field_name);
  if (f && f->lookup == Lookup::Phone) return find_phone(kind_name, value);

  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<int64_t> out;
  auto collect = [&out](sql::Statement& st) {
    while (st.step()) out.push_back(st.int64(0));
  };
  if (f && f->lookup == Lookup::Email) {
    out = find_contact_locked(k, Lookup::Email, value);
  } else if (field_name == "tag") {
    sql::Statement st(impl_->db, "SELECT t.record_id FROM record_tags t JOIN " + k.name +
                                     " r ON r.id=t.record_id WHERE t.tag=? ORDER BY t.record_id");
    std::string tag(value);
    st.bind(1, tag);
    collect(st);
  } else if (field_name == "name" && f) {
    // Substring match; LIKE folds ASCII case and compares other scripts
    // (Chinese included) exactly. The pattern is a bound parameter with the
    // user's wildcards escaped.
    std::string pattern = "%";
    for (char c : value) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += "%";
    sql::Statement st(impl_->db, "SELECT id FROM " + k.name + " WHERE name LIKE ? ESCAPE '\\' ORDER BY id");
    st.bind(1, pattern);
    collect(st);
  } else if (f) {
    Value v;
    try {
      coerce_text(*f, value, v);
    } catch (const RowFailure& failure) {
      throw ValidationError(k.name, -1, failure.field, failure.reason);
    }
    sql::Statement st(impl_->db, "SELECT id FROM " + k.name + " WHERE " + f->name + "=? ORDER BY id");
    bind_value(st, 1, v);
    collect(st);
  } else {
    throw ValidationError(k.name, -1, field_name, "cannot search by this field: it is not a field of " + k.name);
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

Table Store::audit_log(int64_t limit) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Table t;
  for (const char* name : {"seq", "at", "first_id", "last_id", "rows"})
    t.columns.push_back(Column{name, Column::Storage::Int});
  for (const char* name : {"op", "kind"}) t.columns.push_back(Column{name, Column::Storage::Text});
  sql::Statement st(impl_->db,
                    "SELECT seq, at, first_id, last_id, rows, op, kind FROM audit_log ORDER BY seq DESC LIMIT ?");
  st.bind(1, limit);
  while (st.step()) {
    for (int i = 0; i < 5; ++i) {
      t.columns[static_cast<size_t>(i)].ints.push_back(st.int64(i));
      t.columns[static_cast<size_t>(i)].valid.push_back(st.is_null(i) ? 0 : 1);
    }
    for (int i = 5; i < 7; ++i) t.columns[static_cast<size_t>(i)].texts.push_back(st.text(i));
  }
  return t;
}

}  // namespace crmcore::records
