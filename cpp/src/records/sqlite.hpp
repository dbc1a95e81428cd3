#pragma once
// A thin RAII layer over the SQLite C API, private to the store. Every value
// reaches SQL through a bound parameter, never through the SQL text.
#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "crmcore/errors.hpp"

namespace crmcore::records::sql {

// A statement stopped by the progress handler (see Store's reads) was
// interrupted by the user, not failed.
[[noreturn]] inline void fail(sqlite3* db, const std::string& what) {
  if (db && sqlite3_errcode(db) == SQLITE_INTERRUPT) throw Interrupted();
  throw StorageError(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, const std::string& text) : db_(db) {
    if (sqlite3_prepare_v3(db, text.c_str(), static_cast<int>(text.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                           nullptr) != SQLITE_OK)
      fail(db, "cannot prepare '" + text + "'");
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      db_ = o.db_;
      stmt_ = o.stmt_;
      o.stmt_ = nullptr;
    }
    return *this;
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  // The text must outlive the step (SQLITE_STATIC avoids a copy per value).
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC));
  }
  // A temporary would be gone before the step reads it.
  Statement& bind(int i, std::string&& v) = delete;
  Statement& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }

  // Returns true while a row is available; throws on error.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "query failed");
  }
  // Steps once and returns the raw result code, for callers that explain
  // constraint failures themselves.
  int step_code() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void run() {
    step();
    reset();
  }

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail(db_, "cannot bind a parameter");
    return *this;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

inline void exec(sqlite3* db, const std::string& text) {
  char* err = nullptr;
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StorageError("'" + text.substr(0, 80) + "' failed: " + msg);
  }
}

// The page cache of a store connection: 64 MiB.
inline const std::string kCacheSizePragma = "PRAGMA cache_size=-65536";

// The settings of every connection to a store file.
inline void configure_connection(sqlite3* db, bool readonly = false) {
  sqlite3_busy_timeout(db, 10000);
  exec(db, "PRAGMA foreign_keys=ON");
  // Deleted and overwritten content is zeroed in the file, whatever the
  // system library's default: an erased person's bytes must not linger in
  // free space (Store::erase_person).
  exec(db, "PRAGMA secure_delete=ON");
  if (readonly) {  // the journal mode is the file's; a reader leaves it as it is
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
