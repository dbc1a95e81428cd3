// Operations on the whole store file: an online backup, its restore and
// VACUUM, all through SQLite's own machinery (the backup API copies pages
// under SQLite's locks, so writers elsewhere need not stop). A store on
// PostgreSQL is backed up into a store file by crm.copy (one REPEATABLE READ
// snapshot), restored by a copy back, and vacuumed by the server's VACUUM.
#include "crmcore/records/backup.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <system_error>

#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"
#include "sqlite.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

namespace fs = std::filesystem;

// How long a step of the copy waits for a lock before it gives up: 1000
// waits of 10 ms. Locks here are held for one transaction of another
// connection at most.
constexpr int kMaxBusyWaits = 1000;

class Connection {
 public:
  Connection(const std::string& path, int flags) : Connection(sql::OpenTarget{path, flags}, path) {}
  // A store file opened only to read it, as a store is (sql::to_read).
  explicit Connection(const std::string& path) : Connection(sql::to_read(path), path) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { sqlite3_close_v2(db_); }
  sqlite3* get() const { return db_; }

 private:
  Connection(const sql::OpenTarget& target, const std::string& path) {
    if (sqlite3_open_v2(target.name.c_str(), &db_, target.flags, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close_v2(db_);
      // A copy or restore made in a folder it cannot write: say which folder.
      const std::string folder = (target.flags & SQLITE_OPEN_READWRITE) ? folder_problem(path) : "";
      throw StorageError("cannot open '" + path + "': " + why + (folder.empty() ? "" : " (" + folder + ")"));
    }
    sqlite3_busy_timeout(db_, 10000);
  }

  sqlite3* db_ = nullptr;
};

void check_pages_per_step(int pages_per_step) {
  if (pages_per_step < 1)
    throw Error("pages_per_step must be at least 1, not " + std::to_string(pages_per_step));
}

// Copies every page of `src` into `dest` in steps of `pages_per_step` pages
// and reports after each. `lock`, when given, is held during each step (not
// while reporting): it guards a connection that other threads use too.
void copy_pages(sqlite3* src, sqlite3* dest, const Progress& progress, int pages_per_step, std::mutex* lock) {
  sqlite3_backup* copy = sqlite3_backup_init(dest, "main", src, "main");
  if (!copy) sql::fail(dest, "cannot start copying pages");
  // Finishing an unfinished copy rolls back what it wrote to `dest`.
  struct Finish {
    sqlite3_backup* copy;
    ~Finish() {
      if (copy) sqlite3_backup_finish(copy);
    }
  } finish{copy};
  int busy_waits = 0;
  for (;;) {
    int rc;
    {
      std::unique_lock<std::mutex> guard;
      if (lock) guard = std::unique_lock<std::mutex>(*lock);
      rc = sqlite3_backup_step(copy, pages_per_step);
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      if (++busy_waits > kMaxBusyWaits) throw StorageError("copying pages: the file stayed locked too long");
      sqlite3_sleep(10);
      continue;
    }
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
      sqlite3_backup_finish(copy);
      finish.copy = nullptr;
      sql::fail(dest, "copying pages failed");
    }
    busy_waits = 0;
    const int total = sqlite3_backup_pagecount(copy);
    if (progress) progress(static_cast<size_t>(total - sqlite3_backup_remaining(copy)), static_cast<size_t>(total));
    if (rc == SQLITE_DONE) break;
  }
  finish.copy = nullptr;
  if (sqlite3_backup_finish(copy) != SQLITE_OK) sql::fail(dest, "finishing the copy failed");
}

// A name beside `path` that no other backup in progress uses.
std::string partial_name(const std::string& path) {
  std::random_device random;
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".partial-%08x", static_cast<unsigned>(random()));
  return path + suffix;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);  // false (with ec set) when either does not exist
}

// The schema version recorded in a store file; throws when `db` is not one.
int stored_schema_version(sqlite3* db, const std::string& path) {
  try {
    sql::Statement has_meta(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'");
    if (has_meta.step()) {
      sql::Statement version(db, "SELECT value FROM meta WHERE key='schema_version'");
      if (version.step()) return static_cast<int>(version.int64(0));
    }
  } catch (const StorageError&) {  // not an SQLite file at all
    throw StorageError("'" + path + "' is not a crmcore store: " + sqlite3_errmsg(db));
  }
  throw StorageError("'" + path + "' is not a crmcore store (it has no schema version)");
}

// A store on PostgreSQL: the sum of pg_total_relation_size (table, its
// indexes, TOAST, free-space and visibility maps) over its schema's tables.
int64_t schema_bytes(const sql::Db& db) {
  sql::Statement st(db,
                    "SELECT coalesce(sum(pg_total_relation_size(oid)), 0)::int8 FROM pg_class"
                    " WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'm')");
  st.step();
  return st.int64(0);
}

}  // namespace

void Store::backup(const std::string& dest, const Progress& progress, int pages_per_step) const {
  check_pages_per_step(pages_per_step);
  if (dest.empty() || dest == ":memory:" || is_postgres_url(dest))
    throw Error("a backup needs a file path, not '" + dest + "' (crm.copy copies a store onto a server)");
  const bool on_server = !impl_->db.is_sqlite();
  std::string source;
  bool in_transaction = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const char* file = on_server ? nullptr : sqlite3_db_filename(impl_->db, "main");
    source = file ? file : "";  // "" for an in-memory store
    in_transaction = transaction_depth_ > 0;
  }
  if (!source.empty() && same_file(source, dest))
    throw Error("cannot back up '" + path_ + "' onto itself");
  // A -wal file says that `dest` is a store someone has open (or left
  // uncheckpointed): replacing the file under it would pair that WAL with
  // pages it does not belong to.
  if (fs::exists(dest + "-wal"))
    throw StorageError("'" + dest + "' is a store in use (it has a -wal file); back up to another path");
  if (source.empty() && in_transaction && !on_server)
    throw Error("an in-memory store cannot be backed up inside a transaction; commit first");

  // The copy goes to a file of its own and replaces `dest` only when whole:
  // a backup that fails, is stopped or killed leaves `dest` as it was.
  const std::string partial = partial_name(dest);
  struct RemoveUnlessKept {
    std::string path;
    bool keep = false;
    ~RemoveUnlessKept() {
      if (!keep) std::remove(path.c_str());
    }
  } cleanup{partial};
  if (on_server) {
    // crm.copy's own path: a connection of its own reads every table in one
    // REPEATABLE READ snapshot (the transactions committed when it begins;
    // this handle's open transaction, if any, is not among them, as on
    // SQLite), writes a new, private store file in one transaction, and
    // removes it again if anything fails. Progress is told per table.
    copy(path_, partial, progress);
  } else {
    // A copy of the store is as private as a new store (owner only), whatever the umask.
    create_private_file(partial);
    Connection out(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE);
    // A failed copy is thrown away, never rolled back: no journal needed.
    sql::exec(out.get(), "PRAGMA journal_mode=OFF");
    if (source.empty()) {
      // Only this connection reaches an in-memory store; its own writes
      // between steps are carried into the copy by SQLite.
      copy_pages(impl_->db, out.get(), progress, pages_per_step, &mutex_);
    } else {
      // A connection of its own, holding one read transaction for the whole
      // copy: every step reads the snapshot taken at its start, so the copy
      // holds exactly the transactions committed before the backup began,
      // and writers elsewhere (WAL) never force it to start over.
      Connection in(source);
      sql::exec(in.get(), "PRAGMA query_only=ON");
      sql::exec(in.get(), "BEGIN");
      sql::exec(in.get(), "SELECT count(*) FROM sqlite_master");  // takes the snapshot
      copy_pages(in.get(), out.get(), progress, pages_per_step, nullptr);
    }
  }
  std::error_code ec;
  fs::rename(partial, dest, ec);
  if (ec) throw StorageError("cannot move the backup to '" + dest + "': " + ec.message());
  cleanup.keep = true;
}

Store::VacuumReport Store::vacuum() {
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();  // (runs on PostgreSQL too)
  if (transaction_depth_ > 0) throw Error("cannot vacuum inside a transaction; commit first");
  if (!impl_->db.is_sqlite()) {
    // VACUUM (ANALYZE) of the store's tables, not the whole database (other
    // stores share it). It removes dead row versions no transaction can see
    // any more and gives their space to new rows; it gives files back to
    // the system only where whole pages at a table's end are empty (VACUUM
    // FULL would rewrite every table under an exclusive lock: not done here).
    const sql::Db& db = impl_->db;
    std::string tables;
    {
      sql::Statement st(db,
                        "SELECT quote_ident(relname) FROM pg_class WHERE relnamespace ="
                        " current_schema()::regnamespace AND relkind IN ('r', 'p', 'm') ORDER BY relname");
      while (st.step()) tables += (tables.empty() ? "" : ", ") + st.text(0);
    }
    VacuumReport report{schema_bytes(db), 0};
    if (!tables.empty()) sql::exec(db, "VACUUM (ANALYZE) " + tables);
    report.bytes_after = schema_bytes(db);
    return report;
  }
  sqlite3* db = impl_->db;
  auto bytes = [db] {
    sql::Statement pages(db, "PRAGMA page_count");
    sql::Statement size(db, "PRAGMA page_size");
    pages.step();
    size.step();
    return pages.int64(0) * size.int64(0);
  };
  VacuumReport report{bytes(), 0};
  sql::exec(db, "VACUUM");
  // The rebuilt pages sit in the WAL until a checkpoint; a truncating one
  // shrinks the file now (or, while another connection reads, later).
  sql::exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  report.bytes_after = bytes();
  return report;
}

void restore(const std::string& backup, const std::string& dest, const Progress& progress, int pages_per_step) {
  check_pages_per_step(pages_per_step);
  if (!fs::is_regular_file(backup)) throw NotFound("no backup file '" + backup + "'");
  if (same_file(backup, dest)) throw Error("cannot restore '" + backup + "' onto itself");
  if (is_postgres_url(dest)) {
    // Onto a server: crm.copy from the file, which checks the versions and
    // refuses a schema that holds a store already (restore into a new one).
    Store::copy(backup, dest, progress);
    return;
  }
  // Opened to read as a store is (sql::to_read): the backup's folder stays as it was.
  Connection in(backup);
  sql::exec(in.get(), "PRAGMA query_only=ON");
  sql::exec(in.get(), "BEGIN");  // checked and copied in one snapshot
  const int version = stored_schema_version(in.get(), backup);
  if (version > kSchemaVersion)
    throw StorageError("'" + backup + "' has schema version " + std::to_string(version) +
                       ", newer than this crmcore understands (" + std::to_string(kSchemaVersion) + ")");
  {
    sql::Statement check(in.get(), "PRAGMA quick_check");
    std::string report;
    while (check.step()) report += (report.empty() ? "" : "; ") + check.text(0);
    if (report != "ok") throw StorageError("'" + backup + "' is damaged (" + report + "); nothing was restored");
  }
  // Into `dest` itself, as one write transaction under SQLite's locks:
  // other connections to `dest` wait for it and then see the restored
  // records, and its old WAL, if any, is dealt with by SQLite.
  create_private_file(dest);  // a new file only; an existing one keeps its mode
  Connection out(dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  copy_pages(in.get(), out.get(), progress, pages_per_step, nullptr);
}

}  // namespace crmcore::records
