#pragma once
// What the store's write path says differently on SQLite and on PostgreSQL,
// in one place (docs/backends.md, "What the store's SQL will meet"): the
// upsert clauses, how a write begins, where temporary tables live, whether a
// table exists, the next ids, and how a broken database rule comes back. The
// store's files ask the Dialect of their connection instead of testing the
// engine themselves; on SQLite every answer is the text it always was, chosen
// once per statement (never per value).
#include <cstdint>
#include <string>
#include <vector>

#include "sqlite.hpp"

namespace crmcore::records {

struct Kind;
struct WriteRequest;

class Dialect {
 public:
  explicit Dialect(const sql::Db& db) : sqlite_(db.is_sqlite()) {}
  bool sqlite() const { return sqlite_; }

  // "INSERT INTO <rest>" that leaves a row breaking a unique rule out.
  std::string insert_or_ignore(const std::string& rest) const {
    return sqlite_ ? "INSERT OR IGNORE INTO " + rest : "INSERT INTO " + rest + " ON CONFLICT DO NOTHING";
  }
  // Sets meta's `key` to ?1. (REPLACE would delete then insert; the upsert
  // is the same here, meta having no references.)
  std::string set_meta(const std::string& key) const {
    return sqlite_ ? "INSERT OR REPLACE INTO meta(key, value) VALUES('" + key + "', ?1)"
                   : "INSERT INTO meta(key, value) VALUES('" + key + "', ?1) ON CONFLICT (key) DO UPDATE SET value = "
                     "excluded.value";
  }
  // " a IS NOT b " in SQLite's sense (NULLs compare as values), as an operator.
  const char* is_not() const { return sqlite_ ? " IS NOT " : " IS DISTINCT FROM "; }
  // The name of the connection's own temporary table.
  std::string temp(const std::string& table) const { return (sqlite_ ? "temp." : "pg_temp.") + table; }
  // A query giving a row when the store's table `name` exists.
  std::string table_exists(const std::string& name) const {
    return sqlite_ ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" + name + "'"
                   : "SELECT 1 WHERE to_regclass('" + name + "') IS NOT NULL";
  }
  // The function giving its second argument for a NULL first one. SQLite's
  // unique index on external keys is made with ifnull, and only the same
  // expression finds it; PostgreSQL's with coalesce.
  const char* ifnull() const { return sqlite_ ? "ifnull" : "coalesce"; }
  // Begins a write. SQLite: one writer at a time by its write lock.
  // PostgreSQL: the same by an advisory lock per store (schema) held to the
  // transaction's end, so that the audit chain gets its entries in the order
  // the writes commit, and ids are handed out in blocks no other writer
  // shares (several processes may write to one store at once).
  std::string begin_write() const {
    return sqlite_ ? "BEGIN IMMEDIATE"
                   : "BEGIN; SELECT pg_advisory_xact_lock(hashtext('crmcore write ' || current_schema()))";
  }

  // --- What the write path's rules say differently (pgrules; appended as a block) ---
  // SQLite's total(x), a sum that is 0.0 over no rows; with `over`, a window's.
  std::string total(const std::string& x, const std::string& over = "") const {
    if (sqlite_) return "total(" + x + ")" + over;
    return "coalesce(sum(" + x + ")" + over + ", 0)";
  }
  // round(x, digits) of a double: PostgreSQL rounds only numerics (exactly,
  // in decimal, where SQLite rounds the double; the same at these digits).
  std::string round(const std::string& x, int digits) const {
    const std::string n = std::to_string(digits);
    return sqlite_ ? "round(" + x + ", " + n + ")" : "round((" + x + ")::numeric, " + n + ")::float8";
  }
  // The larger and the smaller of two values (SQLite's max and min of two).
  std::string greatest(const std::string& a, const std::string& b) const {
    return (sqlite_ ? "max(" : "greatest(") + a + ", " + b + ")";
  }
  std::string least(const std::string& a, const std::string& b) const {
    return (sqlite_ ? "min(" : "least(") + a + ", " + b + ")";
  }
  // " a IS b " in SQLite's sense (NULLs compare as values), as an operator.
  const char* is() const { return sqlite_ ? " IS " : " IS NOT DISTINCT FROM "; }
  // A join whose left side drives the loop: SQLite's CROSS JOIN ... ON fixes
  // the order its planner, without statistics, would get wrong; PostgreSQL
  // plans by its own statistics (and takes no ON after CROSS JOIN).
  const char* cross_join() const { return sqlite_ ? " CROSS JOIN " : " JOIN "; }

  // -- Merges, copies between engines (issue 14) --
  // The dialect of a boundary connection (crm.copy has no store handle).
  explicit Dialect(backend::Engine engine) : sqlite_(engine == backend::Engine::SQLite) {}
  // The tables the first merge makes: merge_log (what each merge changed,
  // to undo it; numbered by the engine) and key_aliases (the merged records'
  // external keys, which name the kept record from then on).
  std::string merge_tables() const;
  // The meta keys only this engine's stores write and read (PostgreSQL: its
  // 'engine' mark and the audit capture's version): a copy to another engine
  // leaves them behind, and one from another keeps the destination's.
  const std::vector<std::string>& own_meta_keys() const;

  // -- Erasure, backups, vacuum (pgerase18; a block of its own) --
  // The position of `needle` in `haystack` from 1, 0 when absent (SQLite's
  // instr, PostgreSQL's strpos).
  std::string instr(const std::string& haystack, const std::string& needle) const {
    return (sqlite_ ? "instr(" : "strpos(") + haystack + ", " + needle + ")";
  }

  // -- Reading JSON text inside a query (the audit log's changes) --
  // Whether the JSON text `json` has an object under its top-level key
  // `member` (a name of crmcore's own, never user input): never NULL.
  std::string json_has_object(const std::string& json, const std::string& member) const {
    return sqlite_ ? "(json_type(" + json + ", '$." + member + "') IS 'object')"
                   : "(jsonb_typeof((" + json + ")::jsonb -> '" + member + "') IS NOT DISTINCT FROM 'object')";
  }
  // Whether that object holds the key `key` (an SQL expression; an integer
  // is looked for as its decimal text, as JSON keys hold ids).
  std::string json_object_has_key(const std::string& json, const std::string& member, const std::string& key) const {
    return sqlite_ ? "(json_type(" + json + ", '$." + member + ".\"' || " + key + " || '\"') IS NOT NULL)"
                   : "(((" + json + ")::jsonb -> '" + member + "' -> (" + key + ")::text) IS NOT NULL)";
  }

 private:
  bool sqlite_;
};

// A database rule a statement broke, in SQLite's terms (its extended result
// code, e.g. SQLITE_CONSTRAINT_UNIQUE, and its message), whichever engine
// ran it; code 0 when the statement ran.
struct Broken {
  int code = 0;
  std::string message;
  explicit operator bool() const { return code != 0; }
};
// Runs `st` (bound already) to its end, or over `batch`; a broken rule is
// returned (the statement undone, the transaction still usable: on
// PostgreSQL inside a savepoint), any other failure throws.
Broken run_or_broken(const sql::Db& db, sql::Statement& st, const std::string& what);
Broken run_or_broken(const sql::Db& db, sql::Statement& st, const sql::Batch& batch, const std::string& what);

// Ends a write that failed: `undo` (ROLLBACK, or back to the write's
// savepoint). A failure here is not reported: the first one is.
void undo_write(const sql::Db& db, const char* undo);

}  // namespace crmcore::records
