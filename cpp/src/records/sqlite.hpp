#pragma once
// A thin RAII layer over the SQLite C API, private to the store. Every value
// reaches SQL through a bound parameter, never through the SQL text.
//
// It is also the store's facade over the backend boundary
// (crmcore/backend/backend.hpp): a `Db` is either SQLite's own handle or a
// backend connection (PostgreSQL), and a Statement made on it has the same
// methods either way, so the store's files that only prepare, bind, step and
// read run on both engines unchanged. SQLite stays on its direct path (no
// virtual call per value); the few places that still call the SQLite API
// convert a Db to `sqlite3*`, which refuses clearly on PostgreSQL.
#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crmcore/backend/backend.hpp"
#include "crmcore/errors.hpp"

namespace crmcore::records::sql {

// What a path that still needs SQLite's API says on another engine.
[[noreturn]] inline void sqlite_only() {
  throw StorageError("this operation is not available on PostgreSQL yet (it still needs SQLite's API; "
                     "see docs/backends.md)");
}

// The store's connection: `lite` on SQLite (the borrowed `conn` then wraps
// the same handle), `conn` alone on another engine.
struct Db {
  sqlite3* lite = nullptr;
  backend::Connection* conn = nullptr;

  Db() = default;
  Db(sqlite3* db) : lite(db) {}  // NOLINT: a SQLite handle is a Db
  Db(sqlite3* db, backend::Connection* c) : lite(db), conn(c) {}

  bool is_sqlite() const { return lite != nullptr || conn == nullptr; }
  // The SQLite handle, for the paths not yet moved onto the boundary; on
  // another engine they stop here with a message naming what is missing.
  operator sqlite3*() const {  // NOLINT: those paths pass impl.db to the SQLite API
    if (!is_sqlite()) sqlite_only();
    return lite;
  }
};

// A statement stopped by the progress handler (see Store's reads) was
// interrupted by the user, not failed.
[[noreturn]] inline void fail(const Db& db, const std::string& what) {
  if (!db.is_sqlite()) throw StorageError(what + ": " + db.conn->last_error());
  if (db.lite && sqlite3_errcode(db.lite) == SQLITE_INTERRUPT) throw Interrupted();
  throw StorageError(what + ": " + (db.lite ? sqlite3_errmsg(db.lite) : "out of memory"));
}

class Batch;

class Statement {
 public:
  Statement() = default;
  Statement(const Db& db, const std::string& text) : db_(db) {
    if (!db.is_sqlite()) {
      pg_ = true;
      prepare_other(text);
      return;
    }
    if (sqlite3_prepare_v3(db.lite, text.c_str(), static_cast<int>(text.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                           nullptr) != SQLITE_OK)
      fail(db, "cannot prepare '" + text + "'");
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept { *this = std::move(o); }
  Statement& operator=(Statement&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      db_ = o.db_;
      stmt_ = o.stmt_;
      o.stmt_ = nullptr;
      pg_ = o.pg_;
      other_ = o.other_;
      owned_ = std::move(o.owned_);
      template_ = std::move(o.template_);
      by_shape_ = std::move(o.by_shape_);
      pending_ = std::move(o.pending_);
      parameters_ = o.parameters_;
    }
    return *this;
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  // SQLite's statement, for the paths that still use its API directly.
  sqlite3_stmt* get() const {
    if (pg_) sqlite_only();
    return stmt_;
  }
  explicit operator bool() const { return stmt_ != nullptr || pg_; }
  bool on_sqlite() const { return !pg_; }

  Statement& bind(int i, int64_t v) {
    if (pg_) return bind_other(i, Param::Int, v, 0, {}), *this;
    return check(sqlite3_bind_int64(stmt_, i, v));
  }
  Statement& bind(int i, double v) {
    if (pg_) return bind_other(i, Param::Real, 0, v, {}), *this;
    return check(sqlite3_bind_double(stmt_, i, v));
  }
  // The text must outlive the step (SQLITE_STATIC avoids a copy per value).
  Statement& bind(int i, const std::string& v) {
    if (pg_) return bind_other(i, Param::Text, 0, 0, v), *this;
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
  }
  // A temporary would be gone before the step reads it.
  Statement& bind(int i, std::string&& v) = delete;
  Statement& bind_null(int i) {
    if (pg_) return bind_other(i, Param::Null, 0, 0, {}), *this;
    return check(sqlite3_bind_null(stmt_, i));
  }
  // The largest parameter number in the statement's text.
  int parameter_count() const { return pg_ ? parameters_ : sqlite3_bind_parameter_count(stmt_); }
  // On another engine: `batch` as the rows of crm_batch(?1) (see batch.hpp).
  void bind_batch_other(const Batch& batch);

  // Returns true while a row is available; throws on error.
  bool step() {
    if (pg_) return running()->step();
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "query failed");
  }
  // Steps once and returns the raw result code, for callers that explain
  // constraint failures themselves.
  // (On another engine a constraint failure arrives as the boundary's
  // ConstraintViolation instead.)
  int step_code() {
    if (pg_) return running()->step() ? SQLITE_ROW : SQLITE_DONE;
    return sqlite3_step(stmt_);
  }
  void reset() {
    if (pg_) return reset_other();
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void run() {
    step();
    reset();
  }

  int64_t int64(int col) const { return pg_ ? other_->int64(col) : sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return pg_ ? other_->real(col) : sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return pg_ ? other_->is_null(col) : sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    if (pg_) return other_->text(col);
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  // The text of a column without a copy, valid until the next step or
  // reset; on another engine a copy kept in `scratch` (one per statement).
  std::string_view text_view(int col, std::string& scratch) const {
    if (pg_) return scratch = other_->text(col);
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail(db_, "cannot bind a parameter");
    return *this;
  }
  // Another engine's side (records/other_engine.cpp). A statement reading
  // crm_batch(?1) is prepared once per shape of the batches it is run with
  // (the column types its SQL must declare there), so binds made before the
  // batch wait in `pending_` until bind_batch_other chooses the statement.
  enum class Param { Null, Int, Real, Text };
  struct Pending {
    int pos;
    Param type;
    int64_t i;
    double r;
    std::string text;
  };
  void prepare_other(const std::string& text);
  void bind_other(int pos, Param type, int64_t i, double r, const std::string& text);
  backend::Statement* running();
  void reset_other();

  Db db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool pg_ = false;
  backend::Statement* other_ = nullptr;  // the statement binds and steps go to
  std::unique_ptr<backend::Statement> owned_;  // a statement without a batch
  std::string template_;  // the SQL of a statement reading a batch
  std::map<std::string, std::unique_ptr<backend::Statement>> by_shape_;
  std::vector<Pending> pending_;
  int parameters_ = 0;
};

inline void exec(const Db& db, const std::string& text) {
  if (!db.is_sqlite()) return db.conn->exec(text);
  char* err = nullptr;
  if (sqlite3_exec(db.lite, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StorageError("'" + text.substr(0, 80) + "' failed: " + msg);
  }
}

// How a store file is opened only to read it: for writing, with every write
// refused (configure_connection's query_only). A SQLITE_OPEN_READONLY
// connection to a WAL-mode file (every store and every backup) makes
// "<file>-wal" and "<file>-shm" when they are missing and, unable to
// checkpoint, leaves them behind when it closes: reading a backup changed its
// folder. This one, when it is the last to close, removes them as a writer
// does; beside a writer it reads through the WAL as any reader (an immutable
// open would not). A write-protected file is opened read-only by SQLite.
inline constexpr int kOpenToRead = SQLITE_OPEN_READWRITE;

// What sqlite3_open_v2 is given to open a store file only to read it: its
// name and flags. A write-protected file (a backup kept chmod 444) is opened
// read-only by SQLite whatever it is asked, and such a connection makes the
// missing "-wal" and "-shm" and, unable to checkpoint, leaves them behind:
// reading the backup changed its folder. No writer can change the file, so
// it is opened immutable instead (no locks, no WAL index: nothing is made
// beside it). Not when a "-wal" is there already (its committed pages may be
// missing from the file, and an immutable open would not read them), and not
// for a name SQLite reads itself (":memory:", a "file:" URI).
struct OpenTarget {
  std::string name;
  int flags;
};

// Whether `path` is a name SQLite reads itself rather than a file's path:
// empty or ":memory:" (a store in memory), or a "file:" URI.
inline bool names_no_file(const std::string& path) {
  return path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0;
}

// The folder a store file's path names ("." for a bare file name): where
// SQLite makes the file's -wal and -shm.
inline std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

inline OpenTarget to_read(const std::string& path) {
  // (A file in a folder this process may not write is as unchangeable to
  // it: SQLite could make no -shm there and failed to read it at all.)
  if (names_no_file(path) || ::access(path.c_str(), F_OK) != 0 ||
      (::access(path.c_str(), W_OK) == 0 && ::access(folder_of(path).c_str(), W_OK | X_OK) == 0) ||
      ::access((path + "-wal").c_str(), F_OK) == 0)
    return {path, kOpenToRead};
  // The path as a URI: every byte but the unreserved ones and '/' escaped.
  static const char digits[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (const unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += digits[c >> 4];
      uri += digits[c & 15];
    }
  }
  return {uri + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI};
}

// The page cache of a store connection: 64 MiB.
inline const std::string kCacheSizePragma = "PRAGMA cache_size=-65536";

// How long a connection waits for another's lock before saying the store is busy.
inline constexpr int kBusyTimeoutMs = 10000;

// The settings of every connection to a store file.
inline void configure_connection(sqlite3* db, bool readonly = false) {
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  exec(db, "PRAGMA foreign_keys=ON");
  // Deleted and overwritten content is zeroed in the file, whatever the
  // system library's default: an erased person's bytes must not linger in
  // free space (Store::erase_person).
  exec(db, "PRAGMA secure_delete=ON");
  if (readonly) {  // the journal mode is the file's; a reader leaves it as it is
    exec(db, "PRAGMA query_only=ON");  // opened with kOpenToRead
    exec(db, kCacheSizePragma);
    return;
  }
  // WAL: readers do not block the writer, and a killed process leaves the
  // last committed transaction intact. NORMAL sync is durable against process
  // crashes (the WAL is in the OS cache), which is what WAL mode promises.
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA synchronous=NORMAL");
  exec(db, kCacheSizePragma);
  // Temporary data stays on file (SQLite's default): only then does the
  // sorter of CREATE INDEX and large ORDER BYs work in runs the size of the
  // page cache; held in memory it sorts one run of everything, 2-3x slower.
  exec(db, "PRAGMA threads=2");  // the sorter may use a helper thread
}

}  // namespace crmcore::records::sql
