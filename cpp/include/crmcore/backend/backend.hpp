#pragma once
// The storage boundary: what the store needs from a database engine, and no
// more. SQLite (embedded, the default) and PostgreSQL (a shared server) sit
// behind it. Every value reaches SQL through a bound parameter; SQL text is
// written by the core only. Placeholders are `?`, numbered by position from 1.
// See docs/backends.md for the dialect differences the store meets on top.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crmcore/errors.hpp"

struct sqlite3;

namespace crmcore {
class Cancel;
}

namespace crmcore::backend {

// The engine failed. `sqlstate` is the SQL standard's five-character code
// (PostgreSQL's own; for SQLite the nearest one, or empty); `retryable` says
// the same transaction may succeed when run again (a serialization failure
// or deadlock on PostgreSQL, a busy database on SQLite).
class BackendError : public StorageError {
 public:
  BackendError(const std::string& what, std::string sqlstate, bool retryable)
      : StorageError(what), sqlstate_(std::move(sqlstate)), retryable_(retryable) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool retryable() const { return retryable_; }

 private:
  std::string sqlstate_;
  bool retryable_;
};

// A constraint refused a row: unique (23505), foreign key (23503), not null
// (23502) or check (23514). It is bad input, so a ValidationError whose kind
// is the table, whose field is the column when the engine names it (else the
// constraint), and whose reason names the SQLSTATE and the constraint.
class ConstraintViolation : public ValidationError {
 public:
  ConstraintViolation(std::string table, std::string field, std::string reason, std::string sqlstate,
                      std::string constraint)
      : ValidationError(std::move(table), -1, std::move(field), std::move(reason)),
        sqlstate_(std::move(sqlstate)),
        constraint_(std::move(constraint)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& constraint() const { return constraint_; }

 private:
  std::string sqlstate_;
  std::string constraint_;
};

// The SQLSTATE codes the store tells apart.
namespace sqlstate {
inline constexpr const char* kUniqueViolation = "23505";
inline constexpr const char* kForeignKeyViolation = "23503";
inline constexpr const char* kNotNullViolation = "23502";
inline constexpr const char* kCheckViolation = "23514";
inline constexpr const char* kSerializationFailure = "40001";
inline constexpr const char* kDeadlockDetected = "40P01";
}  // namespace sqlstate

// The human name of a constraint SQLSTATE ("unique violation"), or empty.
std::string constraint_kind(std::string_view sqlstate);
// Throws ConstraintViolation for the constraint codes, else BackendError.
[[noreturn]] void raise(const std::string& what, const std::string& sqlstate, const std::string& table,
                        const std::string& column, const std::string& constraint);

// One prepared statement. Bind, then step() until it returns false; reset()
// before binding again. Bound text is copied, so temporaries are fine. A
// statement (and a bulk loader) must not outlive its connection.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual void bind_int64(int pos, int64_t v) = 0;
  virtual void bind_double(int pos, double v) = 0;
  virtual void bind_text(int pos, std::string_view v) = 0;
  virtual void bind_null(int pos) = 0;
  // Runs the statement on the first call after binding; true while a row is
  // available.
  virtual bool step() = 0;
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual int columns() const = 0;
  // Rows written by the last run (INSERT/UPDATE/DELETE).
  virtual int64_t changes() const = 0;
  // Back to before the first step, bindings cleared.
  virtual void reset() = 0;
  // step() until done, then reset(): for statements that return no rows.
  void run() {
    while (step()) {
    }
    reset();
  }
};

enum class ColumnType { Int64, Double, Text };

// One column of a batch, borrowed from the caller for the length of append().
// `nulls`, when given, holds one byte per row, non-zero for NULL.
struct ColumnView {
  ColumnType type = ColumnType::Int64;
  const int64_t* ints = nullptr;
  const double* reals = nullptr;
  const std::string* texts = nullptr;
  const uint8_t* nulls = nullptr;

  static ColumnView of(const std::vector<int64_t>& v, const std::vector<uint8_t>* n = nullptr) {
    return {ColumnType::Int64, v.data(), nullptr, nullptr, n ? n->data() : nullptr};
  }
  static ColumnView of(const std::vector<double>& v, const std::vector<uint8_t>* n = nullptr) {
    return {ColumnType::Double, nullptr, v.data(), nullptr, n ? n->data() : nullptr};
  }
  static ColumnView of(const std::vector<std::string>& v, const std::vector<uint8_t>* n = nullptr) {
    return {ColumnType::Text, nullptr, nullptr, v.data(), n ? n->data() : nullptr};
  }
};

// Loads many rows into one table as fast as the engine allows (a prepared
// INSERT on SQLite, binary COPY on PostgreSQL). Rows are visible after
// finish(), inside the caller's transaction if one is open; a loader dropped
// without finish() loads nothing.
class BulkLoader {
 public:
  virtual ~BulkLoader() = default;
  // Appends `rows` rows; the columns are in the order given to bulk_loader().
  virtual void append(const std::vector<ColumnView>& columns, size_t rows) = 0;
  // Ends the load; returns the number of rows loaded.
  virtual int64_t finish() = 0;
};

enum class Engine { SQLite, PostgreSQL };

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Engine engine() const = 0;
  // The one test of which engine a boundary connection is (copies and
  // index copies choose their SQL by it).
  bool is_sqlite() const { return engine() == Engine::SQLite; }
  // Runs SQL text without parameters (several statements are allowed).
  virtual void exec(const std::string& sql) = 0;
  virtual std::unique_ptr<Statement> prepare(const std::string& sql) = 0;
  // BEGIN differs (SQLite takes the write lock at once); the rest is the
  // same SQL on both engines.
  virtual void begin() = 0;
  void commit() { exec("COMMIT"); }
  void rollback() { exec("ROLLBACK"); }
  // Savepoint names are the core's own identifiers ([A-Za-z_][A-Za-z0-9_]*).
  void savepoint(const std::string& name) { exec("SAVEPOINT " + checked(name)); }
  void release(const std::string& name) { exec("RELEASE SAVEPOINT " + checked(name)); }
  void rollback_to(const std::string& name) { exec("ROLLBACK TO SAVEPOINT " + checked(name)); }
  virtual std::unique_ptr<BulkLoader> bulk_loader(const std::string& table,
                                                  const std::vector<std::string>& columns,
                                                  const std::vector<ColumnType>& types) = 0;
  // The message of the last failure on this connection, or empty.
  virtual std::string last_error() const = 0;
  // While set (not null), a statement waiting for the server asks `cancel`
  // every few milliseconds and, told to stop, cancels the server's work and
  // throws Interrupted: Ctrl-C stops a long read. PostgreSQL's; SQLite's
  // reads are stopped by the store's progress handler, so it ignores this.
  virtual void set_cancel(const Cancel* cancel) { (void)cancel; }

 private:
  static const std::string& checked(const std::string& name);
};

// A SQLite connection: borrows `db` (the store's own handle), or opens `path`
// (created when missing; `readonly`: an existing file, only read, its journal
// mode left as it is).
std::unique_ptr<Connection> sqlite_connection(sqlite3* db);
std::unique_ptr<Connection> open_sqlite(const std::string& path, bool readonly = false);

// True when this build has libpq (CRMCORE_HAVE_POSTGRES).
bool have_postgres();
// A PostgreSQL connection from a libpq connection string or URI
// ("postgresql://user@host:port/db", "host=... port=..."). Throws
// BackendError when it cannot connect, or when this build has no libpq.
std::unique_ptr<Connection> open_postgres(const std::string& dsn);

// `?` placeholders outside string literals, quoted identifiers, comments and
// dollar-quoted strings become $1, $2, ... (PostgreSQL's); `?NNN` becomes
// $NNN, as SQLite numbers them. `count` gets the largest number. Exposed for
// tests.
std::string number_placeholders(std::string_view sql, int* count = nullptr);

// Throws std::invalid_argument unless `name` is a plain identifier.
void check_identifier(const std::string& name);

// "a, b, c" for a bulk load's columns, after checking the table and column
// names and that there is one type per column.
std::string column_list(const std::string& table, const std::vector<std::string>& columns,
                        const std::vector<ColumnType>& types);

}  // namespace crmcore::backend
