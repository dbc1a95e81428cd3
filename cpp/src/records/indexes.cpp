// The optional indexes on fields (indexes.hpp) and the Store operations on
// them, on SQLite and on PostgreSQL alike.
#include "indexes.hpp"

#include <algorithm>
#include <cstdio>

#include "crmcore/errors.hpp"
#include "custom_fields.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// PostgreSQL cuts a name at 63 bytes, so two custom keys alike in their
// first bytes would share one index name (the second CREATE INDEX IF NOT
// EXISTS then making nothing): a longer name keeps its start, cut at a
// character's start, and ends in a hash of the whole name.
std::string engine_name(bool sqlite, const std::string& name) {
  constexpr size_t kLongest = 63, kKept = 54;
  if (sqlite || name.size() <= kLongest) return name;
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ULL;
  size_t cut = kKept;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  char tail[10];
  std::snprintf(tail, sizeof tail, "_%08x", static_cast<unsigned>(h ^ (h >> 32)));
  return name.substr(0, cut) + tail;
}

}  // namespace

FieldIndex field_index(bool sqlite, const Kind& k, const std::string& field) {
  if (field.rfind(kCustomPrefix, 0) == 0) {
    const std::string key = field.substr(std::char_traits<char>::length(kCustomPrefix));
    for (const auto& f : k.custom)
      if (f.name == field)
        return {&f, engine_name(sqlite, custom_index_name(k.name, key)),
                sqlite ? custom_key_sql(key) : pg_custom_key_sql(key, f.type)};
    throw ValidationError(k.name, -1, field, "cannot be indexed: it is not a declared custom field of " + k.name +
                                                 "; declare it first (db.declare_custom)");
  }
  const Field* f = k.field(field);
  if (!f && field != kCreatedColumn && field != kUpdatedColumn)
    throw ValidationError(k.name, -1, field, "cannot be indexed: it is not a field of " + k.name);
  return {f, engine_name(sqlite, "crm_idx_" + k.name + "_" + field), field};
}

// (The name is quoted: a custom key may be non-ASCII, or hold '-'.)
std::string create_index_sql(const std::string& kind, const FieldIndex& index) {
  return "CREATE INDEX IF NOT EXISTS \"" + index.name + "\" ON " + kind + "(" + index.expression + ")";
}

bool index_exists(backend::Connection& c, const std::string& name) {
  auto st = c.prepare(c.is_sqlite() ? "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
                                   : "SELECT 1 FROM pg_class AS i JOIN pg_namespace AS n ON n.oid = i.relnamespace"
                                     " WHERE n.nspname = current_schema() AND i.relkind = 'i' AND i.relname = ?");
  st->bind_text(1, name);
  return st->step();
}

std::vector<std::pair<std::string, std::string>> table_indexes(backend::Connection& c, const std::string& kind) {
  auto st = c.prepare(c.is_sqlite()
                          ? "SELECT l.name, i.name FROM pragma_index_list(?1) AS l, pragma_index_info(l.name) AS i"
                            " WHERE i.seqno = 0"
                          // indkey[0] is 0 for an expression: no column.
                          : "SELECT i.relname, a.attname FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid"
                            " LEFT JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
                            " WHERE x.indrelid = to_regclass(?1) ORDER BY i.relname");
  st->bind_text(1, kind);
  std::vector<std::pair<std::string, std::string>> out;
  while (st->step()) out.emplace_back(st->text(0), st->is_null(1) ? "" : st->text(1));
  return out;
}

void copy_field_indexes(backend::Connection& src, backend::Connection& dst) {
  auto st = src.prepare(src.is_sqlite() ? "SELECT name FROM sqlite_master WHERE type = 'index'"
                                         " AND name LIKE 'crm\\_idx\\_%' ESCAPE '\\'"
                                       : "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                                         " AND indexname LIKE 'crm\\_idx\\_%' ESCAPE '\\'");
  std::vector<std::string> names;
  while (st->step()) names.push_back(st->text(0));
  if (names.empty()) return;
  // Each name is the index of one field (or declared custom key) on the
  // source's engine: found by making every candidate's name there.
  for (Kind k : kinds()) {
    auto custom = dst.prepare("SELECT name, type FROM custom_fields WHERE kind = ? ORDER BY rowid");
    custom->bind_text(1, k.name);
    while (custom->step())
      if (auto type = parse_field_type(custom->text(1)))
        k.custom.push_back(Field{kCustomPrefix + custom->text(0), *type, false});
    std::vector<std::string> fields{kCreatedColumn, kUpdatedColumn};
    for (const auto* list : {&k.fields, &k.custom})
      for (const auto& f : *list) fields.push_back(f.name);
    for (const auto& field : fields) {
      const FieldIndex theirs = field_index(src.is_sqlite(), k, field);
      if (std::find(names.begin(), names.end(), theirs.name) != names.end())
        dst.exec(create_index_sql(k.name, field_index(dst.is_sqlite(), k, field)));
    }
  }
}

// -- the Store operations --------------------------------------------------------

bool Store::create_index(const std::string& kind_name, const std::string& field) {
  const Kind k = describe(kind_name);  // with its declared custom fields
  const FieldIndex i = field_index(impl_->db.is_sqlite(), k, field);
  const Field* f = i.field;
  if (f && (f->type == FieldType::Ref || f->type == FieldType::AnyRef || f->unique || f->lookup != Lookup::None))
    return false;  // indexed by the schema already (phone and e-mail through contact_points)
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();
  if (index_exists(*impl_->conn, i.name)) return false;
  sql::exec(impl_->db, create_index_sql(k.name, i));
  return true;
}

bool Store::drop_index(const std::string& kind_name, const std::string& field) {
  const Kind k = describe(kind_name);
  const std::string name = field_index(impl_->db.is_sqlite(), k, field).name;
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_if_readonly();
  if (!index_exists(*impl_->conn, name)) return false;
  sql::exec(impl_->db, "DROP INDEX \"" + name + "\"");
  return true;
}

std::vector<std::string> Store::indexes(const std::string& kind_name) const {
  const Kind k = describe(kind_name);  // with its declared custom fields
  std::lock_guard<std::mutex> lock(mutex_);
  const bool sqlite = impl_->db.is_sqlite();
  // Each index of the table and its first column: the field it looks up
  // (none for an index on an expression: a custom key; the external key's
  // begins with its source, so it serves no condition on external_id alone).
  std::vector<std::string> names, columns;
  for (auto& [name, column] : table_indexes(*impl_->conn, k.name)) names.push_back(name), columns.push_back(column);
  auto has = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  std::vector<std::string> out;
  for (const auto& f : k.fields)
    if (f.lookup != Lookup::None || has(columns, f.name)) out.push_back(f.name);
  for (const auto& f : k.custom)
    if (has(names, field_index(sqlite, k, f.name).name)) out.push_back(f.name);
  for (const char* extra : {kCreatedColumn, kUpdatedColumn})
    if (has(columns, extra)) out.push_back(extra);
  out.push_back(kTagsColumn);
  return out;
}

}  // namespace crmcore::records
