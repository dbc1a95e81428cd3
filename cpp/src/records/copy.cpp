// crm.copy: a whole store moved between backends (a SQLite file, a schema on
// a PostgreSQL server) as it is: ids, times, the audit log and its chain, the
// catalog, the id sequence. It reads and writes through the backend boundary
// only (statements and the bulk loader, binary COPY on PostgreSQL), so the
// same code serves every direction. See docs/backends.md.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crmcore/backend/backend.hpp"
#include "crmcore/backend/column_buffer.hpp"
#include "crmcore/errors.hpp"
#include "indexes.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

using backend::ColumnType;
using backend::Connection;

// Rows read before they go to the destination in one append: bounds the
// memory a copy needs whatever the store's size.
constexpr size_t kChunkRows = 50000;

// Tables of the store's layout that hold no rows of their own to move: the
// id sequence is a table on SQLite and a SEQUENCE on PostgreSQL, and is set
// from the source's after the rows are in.
bool is_sequence_table(const std::string& table) { return table == "id_sequence"; }

std::vector<std::string> tables_of(Connection& c) {
  auto st = c.prepare(c.is_sqlite() ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                                  " ORDER BY name"
                                : "SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                  " current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name");
  std::vector<std::string> out;
  while (st->step()) out.push_back(st->text(0));
  return out;
}

ColumnType type_named(std::string declared) {
  for (auto& ch : declared) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (declared.find("INT") != std::string::npos) return ColumnType::Int64;
  if (declared.find("REAL") != std::string::npos || declared.find("DOUBLE") != std::string::npos ||
      declared.find("FLOA") != std::string::npos)
    return ColumnType::Double;
  return ColumnType::Text;
}

// A table's columns in order, with the type its values have there.
std::vector<std::pair<std::string, ColumnType>> columns_of(Connection& c, const std::string& table) {
  auto st = c.prepare(c.is_sqlite() ? "SELECT name, type FROM pragma_table_info(?)"
                                : "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema ="
                                  " current_schema() AND table_name = ? ORDER BY ordinal_position");
  st->bind_text(1, table);
  std::vector<std::pair<std::string, ColumnType>> out;
  while (st->step()) out.emplace_back(st->text(0), type_named(st->text(1)));
  return out;
}

int64_t count_rows(Connection& c, const std::string& table) {
  auto st = c.prepare("SELECT count(*) FROM " + table);
  st->step();
  return st->int64(0);
}

std::string meta_value(Connection& c, const std::string& key) {
  auto st = c.prepare("SELECT value FROM meta WHERE key = ?");
  st->bind_text(1, key);
  return st->step() && !st->is_null(0) ? st->text(0) : "";
}

// The id the store hands out next: its sequence, or past its largest id if
// that is further (a file written by hand must not get repeated ids).
int64_t next_id(Connection& c) {
  auto st = c.prepare(c.is_sqlite() ? "SELECT next FROM id_sequence"
                                : "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM crm_ids");
  int64_t next = st->step() ? st->int64(0) : 1;
  for (const auto& k : kinds()) {
    auto top = c.prepare("SELECT max(id) FROM " + k.name);
    if (top->step() && !top->is_null(0)) next = std::max(next, top->int64(0) + 1);
  }
  return next;
}

std::vector<std::pair<std::string, std::string>> meta_rows(Connection& c) {
  auto st = c.prepare("SELECT key, value FROM meta");
  std::vector<std::pair<std::string, std::string>> out;
  while (st->step()) out.emplace_back(st->text(0), st->is_null(1) ? "" : st->text(1));
  return out;
}

// The source's meta rows replace the destination's; a key only the
// destination's engine writes (PostgreSQL's 'engine') stays.
void keep_own_meta(Connection& dst, const std::vector<std::pair<std::string, std::string>>& rows) {
  auto st =
      dst.prepare("INSERT INTO meta(key, value) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = ?1)");
  for (const auto& [key, value] : rows) {
    st->bind_text(1, key);
    st->bind_text(2, value);
    st->run();
  }
}

// Reads one column of a source row into its buffer (column_buffer.hpp).
void read(backend::ColumnBuffer& column, const backend::Statement& st, int col) {
  if (st.is_null(col)) return column.add_null();
  switch (column.type) {
    case ColumnType::Int64: return column.add(st.int64(col));
    case ColumnType::Double: return column.add(st.real(col));
    case ColumnType::Text: return column.add(st.text(col));
  }
}

// The columns that move for one table: the destination's, found by name in
// the source. SQLite's implicit rowid is a real column on PostgreSQL (the
// catalog reads its rows in that order), so it moves too when either side
// names it.
std::vector<std::pair<std::string, ColumnType>> columns_to_copy(Connection& src, Connection& dst,
                                                                const std::string& table) {
  const auto from = columns_of(src, table), to = columns_of(dst, table);
  std::map<std::string, ColumnType> in_dst(to.begin(), to.end());
  std::vector<std::pair<std::string, ColumnType>> out;
  for (const auto& [name, type] : from) {
    auto it = in_dst.find(name);
    if (it == in_dst.end()) {
      if (name == "rowid" && dst.is_sqlite()) {
        out.emplace_back(name, ColumnType::Int64);
        continue;
      }
      throw StorageError("cannot copy: column " + table + "." + name +
                         " of the source has no place in the destination (not the same layout)");
    }
    out.emplace_back(name, it->second);
    in_dst.erase(it);
  }
  if (in_dst.count("rowid") && src.is_sqlite()) {
    out.emplace_back("rowid", ColumnType::Int64);
    in_dst.erase("rowid");
  }
  return out;
}

// Moves the rows of one table; returns how many.
int64_t copy_table(Connection& src, Connection& dst, const std::string& table) {
  const auto columns = columns_to_copy(src, dst, table);
  std::string list;
  std::vector<std::string> names;
  std::vector<ColumnType> types;
  std::vector<backend::ColumnBuffer> buffers;
  for (const auto& [name, type] : columns) {
    list += (list.empty() ? "" : ", ") + name;
    names.push_back(name);
    types.push_back(type);
    buffers.emplace_back(type);
  }
  auto loader = dst.bulk_loader(table, names, types);
  size_t rows = 0;
  auto flush = [&] {
    if (rows == 0) return;
    std::vector<backend::ColumnView> views;
    for (const auto& b : buffers) views.push_back(b.view());
    loader->append(views, rows);
    for (auto& b : buffers) b.clear();
    rows = 0;
  };
  auto take = [&](const backend::Statement& st) {
    for (size_t c = 0; c < buffers.size(); ++c) read(buffers[c], st, static_cast<int>(c));
    if (++rows == kChunkRows) flush();
  };
  const std::string select = "SELECT " + list + " FROM " + table;
  if (src.is_sqlite()) {
    auto st = src.prepare(select);
    while (st->step()) take(*st);
  } else {
    // A cursor: libpq would otherwise hold the whole table's result at once.
    src.exec("DECLARE crm_copy NO SCROLL CURSOR FOR " + select);
    auto fetch = src.prepare("FETCH " + std::to_string(kChunkRows) + " FROM crm_copy");
    for (;;) {
      size_t got = 0;
      while (fetch->step()) {
        take(*fetch);
        ++got;
      }
      fetch->reset();
      if (got == 0) break;
    }
    src.exec("CLOSE crm_copy");
  }
  flush();
  return loader->finish();
}

// The destination holds nothing but what a new store is born with: no audit
// entry (every write through crmcore leaves one), no custom field, no record
// apart from the default pipeline, which the source's replaces.
void refuse_unless_empty(Connection& dst, const std::string& to) {
  std::string found;
  if (count_rows(dst, "audit_log") > 0) found = "audit entries";
  if (found.empty() && count_rows(dst, "custom_fields") > 0) found = "custom fields";
  for (const auto& k : kinds()) {
    if (!found.empty()) break;
    if (k.name == "pipelines" || k.name == "pipeline_stages") continue;
    if (count_rows(dst, k.name) > 0) found = k.name;
  }
  if (!found.empty())
    throw StorageError("cannot copy into '" + to + "': it is not empty (it holds " + found +
                       "); copy into a new file or an empty schema");
}

// PostgreSQL checks a reference when its row arrives, so tables that refer
// to each other could not be loaded in any order: the references are taken
// off for the load and put back after it, which checks every row once. The
// store's own trigger functions (none yet; the write path may add some) must
// not fire on rows that are copied, not written.
struct PgLoadGuard {
  Connection& dst;
  std::vector<std::pair<std::string, std::string>> references;  // table, "CONSTRAINT ... FOREIGN KEY ..."
  std::vector<std::string> tables;

  PgLoadGuard(Connection& c, const std::vector<std::string>& all) : dst(c), tables(all) {
    auto st = dst.prepare(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'"
        " AND connamespace = current_schema()::regnamespace ORDER BY conrelid::regclass::text, conname");
    while (st->step())
      references.emplace_back(st->text(0), "CONSTRAINT \"" + st->text(1) + "\" " + st->text(2));
    std::string sql;
    for (const auto& [table, reference] : references) {
      const std::string name = reference.substr(12, reference.find('"', 12) - 12);
      sql += "ALTER TABLE " + table + " DROP CONSTRAINT \"" + name + "\";";
    }
    for (const auto& t : tables) sql += "ALTER TABLE " + t + " DISABLE TRIGGER USER;";
    dst.exec(sql);
  }
  void restore() {
    std::string sql;
    for (const auto& t : tables) sql += "ALTER TABLE " + t + " ENABLE TRIGGER USER;";
    for (const auto& [table, reference] : references) sql += "ALTER TABLE " + table + " ADD " + reference + ";";
    dst.exec(sql);
  }
};

// Identity columns (the audit log's seq, the catalog's rowid) continue after
// the rows copied in with their values.
void pg_advance_identities(Connection& dst) {
  auto st = dst.prepare(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
      " AND is_identity = 'YES'");
  std::string sql;
  while (st->step()) {
    const std::string table = st->text(0), column = st->text(1);
    sql += "SELECT setval(pg_get_serial_sequence('" + table + "', '" + column + "'), coalesce(max(" + column +
           "), 0) + 1, false) FROM " + table + ";";
  }
  dst.exec(sql);
}

// A table the source has and the destination lacks (the first merge makes
// merge_log and key_aliases): made on the destination in its engine's
// dialect, or, on SQLite, from the source's own definition. True when made.
bool make_missing_table(Connection& src, Connection& dst, const std::string& table) {
  if (count_rows(src, table) == 0) return false;
  if (table == "merge_log" || table == "key_aliases") {
    dst.exec(Dialect(dst.engine()).merge_tables());
    return true;
  }
  if (src.is_sqlite() && dst.is_sqlite()) {
    auto st = src.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?");
    st->bind_text(1, table);
    if (st->step()) {
      dst.exec(st->text(0));
      return true;
    }
  }
  throw StorageError("cannot copy: the source's table " + table + " has no place in the destination; nothing was copied");
}

// The meta keys only the source's engine writes mean nothing to another
// engine's store (PostgreSQL's audit capture version in a SQLite file): they
// stay behind. The source's other keys replace the destination's
// (keep_own_meta), as each engine's own keys stay.
void leave_engine_keys(Connection& src, Connection& dst) {
  const auto& theirs = Dialect(src.engine()).own_meta_keys();
  const auto& ours = Dialect(dst.engine()).own_meta_keys();
  auto drop = dst.prepare("DELETE FROM meta WHERE key = ?");
  for (const auto& key : theirs) {
    if (std::find(ours.begin(), ours.end(), key) != ours.end()) continue;
    drop->bind_text(1, key);
    drop->run();
  }
}

}  // namespace

CopyReport Store::copy(const std::string& from, const std::string& to, const Progress& progress) {
  if (from == to) throw StorageError("cannot copy '" + from + "' onto itself");
  Store source(from, OpenOptions{/*readonly=*/true});
  Connection& src = *source.impl_->conn;
  const bool dst_is_file = !is_postgres_url(to);
  if (dst_is_file && to == ":memory:") throw StorageError("cannot copy into ':memory:': it would be gone at once");
  const bool made_file = dst_is_file && !std::filesystem::exists(to);
  CopyReport report;
  try {
    // Opening the destination makes its layout (or migrates an older empty
    // one) exactly as crm.open does.
    auto target = std::make_unique<Store>(to);
    std::unique_ptr<Connection> own;
    Connection* dst = target->impl_->conn.get();
    if (dst_is_file) {
      // The store's own SQLite handle carries the write path's TEMP triggers,
      // which would note the copied rows as changes: a plain connection loads them.
      target.reset();
      own = backend::open_sqlite(to);
      dst = own.get();
      // Checked at COMMIT, after every table is in (any order of tables works).
      dst->exec("PRAGMA foreign_keys = ON");
    }
    const std::string src_version = meta_value(src, "schema_version"), dst_version = meta_value(*dst, "schema_version");
    if (src_version != dst_version)
      throw StorageError("cannot copy: the source has schema version " + src_version + " and '" + to + "' has " +
                         dst_version + "; open both with the same crmcore first");
    // One snapshot of the source, however long the copy takes.
    src.exec(src.is_sqlite() ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    dst->begin();
    try {
      if (dst->is_sqlite()) dst->exec("PRAGMA defer_foreign_keys = ON");
      refuse_unless_empty(*dst, to);
      std::vector<std::string> tables;
      for (const auto& t : tables_of(*dst))
        if (!is_sequence_table(t)) tables.push_back(t);
      const std::set<std::string> in_dst(tables.begin(), tables.end());
      for (const auto& t : tables_of(src))
        if (!is_sequence_table(t) && !in_dst.count(t) && make_missing_table(src, *dst, t)) tables.push_back(t);
      const auto own_meta = meta_rows(*dst);
      std::unique_ptr<PgLoadGuard> guard;
      if (!dst->is_sqlite()) {
        guard = std::make_unique<PgLoadGuard>(*dst, tables);
        std::string all;
        for (const auto& t : tables) all += (all.empty() ? "" : ", ") + t;
        dst->exec("TRUNCATE " + all);
      } else {
        for (const auto& t : tables) dst->exec("DELETE FROM " + t);
      }
      if (progress) progress(0, tables.size());
      for (size_t i = 0; i < tables.size(); ++i) {
        const int64_t rows = copy_table(src, *dst, tables[i]);
        report.rows += rows;
        if (rows > 0) ++report.tables;
        if (progress) progress(i + 1, tables.size());
      }
      keep_own_meta(*dst, own_meta);
      leave_engine_keys(src, *dst);
      const int64_t next = next_id(src);
      if (dst->is_sqlite()) {
        auto set = dst->prepare("UPDATE id_sequence SET next = ?");
        set->bind_int64(1, next);
        set->run();
      } else {
        auto set = dst->prepare("SELECT setval('crm_ids', ?, false)");
        set->bind_int64(1, next);
        set->run();
        pg_advance_identities(*dst);
        guard->restore();
      }
      // The indexes made by Store::create_index, in the destination's form.
      copy_field_indexes(src, *dst);
      dst->commit();
    } catch (...) {
      try {
        dst->rollback();
      } catch (...) {  // the first failure is the one to report
      }
      throw;
    }
    src.exec("COMMIT");
  } catch (...) {
    // A file the copy made goes again: all or nothing.
    if (made_file) {
      std::error_code ignored;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(to + suffix, ignored);
    }
    throw;
  }
  return report;
}

}  // namespace crmcore::records
