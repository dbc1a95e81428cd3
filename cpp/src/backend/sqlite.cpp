// The SQLite side of the boundary: a thin adapter over the store's own
// sql::Statement (records/sqlite.hpp), so both paths share one way of
// preparing, binding and failing.
#include <sqlite3.h>

#include <stdexcept>

#include "../records/sqlite.hpp"
#include "crmcore/backend/backend.hpp"

namespace crmcore::backend {

namespace {

// The SQLSTATE nearest to a SQLite extended result code, so that callers
// tell conflicts apart the same way on both engines.
std::string sqlstate_of(int extended) {
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return sqlstate::kUniqueViolation;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return sqlstate::kForeignKeyViolation;
    case SQLITE_CONSTRAINT_NOTNULL:
      return sqlstate::kNotNullViolation;
    case SQLITE_CONSTRAINT_CHECK:
      return sqlstate::kCheckViolation;
    default:
      return "";
  }
}

// Throws for the failure `db` last reported, mapped as on PostgreSQL.
[[noreturn]] void fail(sqlite3* db, const std::string& what, std::string* last_error) {
  int extended = sqlite3_extended_errcode(db);
  std::string msg = what + ": " + sqlite3_errmsg(db);
  *last_error = msg;
  if (extended == SQLITE_INTERRUPT) throw Interrupted();
  std::string code = sqlstate_of(extended);
  if (!code.empty()) {
    // SQLite names no constraint, but says "UNIQUE constraint failed:
    // table.column[, ...]" for unique, primary key and not-null failures.
    std::string table, column;
    std::string text = sqlite3_errmsg(db);
    size_t colon = text.find("failed: ");
    if (colon != std::string::npos) {
      std::string first = text.substr(colon + 8, text.find(',', colon) - (colon + 8));
      size_t dot = first.find('.');
      if (dot != std::string::npos) {
        table = first.substr(0, dot);
        column = first.substr(dot + 1);
      }
    }
    raise(msg, code, table, column, "");
  }
  // Another connection holds the lock: the same work may succeed later.
  bool busy = (extended & 0xff) == SQLITE_BUSY || (extended & 0xff) == SQLITE_LOCKED;
  throw BackendError(msg + (busy ? " (retryable)" : ""), "", busy);
}

class SqliteStatement : public Statement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql, std::string* last_error)
      : db_(db), stmt_(db, sql), last_error_(last_error) {
    texts_.resize(static_cast<size_t>(sqlite3_bind_parameter_count(stmt_.get())) + 1);
  }
  void bind_int64(int pos, int64_t v) override { stmt_.bind(pos, v); }
  void bind_double(int pos, double v) override { stmt_.bind(pos, v); }
  void bind_text(int pos, std::string_view v) override {
    // sql::Statement binds without copying: the text lives here until reset.
    std::string& slot = texts_.at(static_cast<size_t>(pos));
    slot.assign(v);
    stmt_.bind(pos, slot);
  }
  void bind_null(int pos) override { stmt_.bind_null(pos); }
  bool step() override {
    int rc = stmt_.step_code();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes64(db_);
      return false;
    }
    // Read the error before reset, which would report it again.
    try {
      fail(db_, "statement failed", last_error_);
    } catch (...) {
      sqlite3_reset(stmt_.get());
      throw;
    }
  }
  bool is_null(int col) const override { return stmt_.is_null(col); }
  int64_t int64(int col) const override { return stmt_.int64(col); }
  double real(int col) const override { return stmt_.real(col); }
  std::string text(int col) const override { return stmt_.text(col); }
  int columns() const override { return sqlite3_column_count(stmt_.get()); }
  int64_t changes() const override { return changes_; }
  void reset() override { stmt_.reset(); }

 private:
  sqlite3* db_;
  records::sql::Statement stmt_;
  std::string* last_error_;
  std::vector<std::string> texts_;
  int64_t changes_ = 0;
};

// A prepared INSERT run once per row: on SQLite that is the bulk path (the
// caller's transaction makes it one write).
class SqliteLoader : public BulkLoader {
 public:
  SqliteLoader(std::unique_ptr<Statement> insert, std::vector<ColumnType> types)
      : insert_(std::move(insert)), types_(std::move(types)) {}
  void append(const std::vector<ColumnView>& cols, size_t rows) override {
    if (cols.size() != types_.size()) throw std::invalid_argument("bulk load: wrong number of columns");
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols.size(); ++c) {
        int pos = static_cast<int>(c) + 1;
        const ColumnView& col = cols[c];
        if (col.nulls && col.nulls[r]) {
          insert_->bind_null(pos);
        } else if (col.type == ColumnType::Int64) {
          insert_->bind_int64(pos, col.ints[r]);
        } else if (col.type == ColumnType::Double) {
          insert_->bind_double(pos, col.reals[r]);
        } else {
          insert_->bind_text(pos, col.texts[r]);
        }
      }
      insert_->run();
      ++loaded_;
    }
  }
  int64_t finish() override { return loaded_; }

 private:
  std::unique_ptr<Statement> insert_;
  std::vector<ColumnType> types_;
  int64_t loaded_ = 0;
};

class SqliteConnection : public Connection {
 public:
  SqliteConnection(sqlite3* db, bool owned) : db_(db), owned_(owned) {}
  ~SqliteConnection() override {
    if (owned_) sqlite3_close_v2(db_);
  }
  Engine engine() const override { return Engine::SQLite; }
  void exec(const std::string& sql) override {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      fail(db_, "'" + sql.substr(0, 80) + "' failed", &last_error_);
  }
  std::unique_ptr<Statement> prepare(const std::string& sql) override {
    std::unique_ptr<Statement> out;
    guarded([&] { out = std::make_unique<SqliteStatement>(db_, sql, &last_error_); });
    return out;
  }
  void begin() override { exec("BEGIN IMMEDIATE"); }
  std::unique_ptr<BulkLoader> bulk_loader(const std::string& table, const std::vector<std::string>& columns,
                                          const std::vector<ColumnType>& types) override {
    std::string sql = "INSERT INTO " + table + " (" + column_list(table, columns, types) + ") VALUES (?";
    for (size_t i = 1; i < columns.size(); ++i) sql += ", ?";
    return std::make_unique<SqliteLoader>(prepare(sql + ")"), types);
  }
  std::string last_error() const override { return last_error_; }

 private:
  // Keeps the message of a failure before passing it on.
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      last_error_ = e.what();
      throw;
    }
  }
  sqlite3* db_;
  bool owned_;
  std::string last_error_;
};

}  // namespace

std::unique_ptr<Connection> sqlite_connection(sqlite3* db) { return std::make_unique<SqliteConnection>(db, false); }

std::unique_ptr<Connection> open_sqlite(const std::string& path, bool readonly) {
  sqlite3* db = nullptr;
  const records::sql::OpenTarget target = readonly ? records::sql::to_read(path)
                                                  : records::sql::OpenTarget{path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE};
  if (sqlite3_open_v2(target.name.c_str(), &db, target.flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw BackendError("cannot open '" + path + "': " + msg, "", false);
  }
  auto conn = std::make_unique<SqliteConnection>(db, true);
  records::sql::configure_connection(db, readonly);
  return conn;
}

}  // namespace crmcore::backend
