// Upserts and bulk updates: each row's key is looked up in the store, rows
// naming a record update it, the rest go to the insert path (import.cpp).
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit_memory.hpp"
#include "batch.hpp"
#include "contact_points.hpp"
#include "crmcore/errors.hpp"
#include "dialect.hpp"
#include "rules.hpp"
#include "staging.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

// A row's key as text, to find rows of one import that name the same
// record: written into `out` (cleared first), which a caller reuses.
void write_key_text(const std::vector<Value>& values, std::string& out) {
  out.clear();
  for (const auto& v : values) {
    switch (v.type) {
      case Value::Type::Null: out += 'n'; break;
      case Value::Type::Int: out += 'i', out += std::to_string(v.i); break;
      case Value::Type::Real: out += 'r', out += std::to_string(v.r); break;
      case Value::Type::Text: out += 't', out += std::to_string(v.text->size()), out += ':', out += *v.text; break;
    }
    out.push_back('|');
  }
}

std::string key_text(const std::vector<Value>& values) {
  std::string out;
  write_key_text(values, out);
  return out;
}

// How a key's values are written in an error message.
std::string key_shown(const std::vector<std::string>& key, const std::vector<Value>& values) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    const Value& v = values[i];
    out += (i ? ", " : "") + key[i] + "=";
    switch (v.type) {
      case Value::Type::Null: out += "(none)"; break;
      case Value::Type::Int: out += std::to_string(v.i); break;
      case Value::Type::Real: out += std::to_string(v.r); break;
      case Value::Type::Text: out += quote(*v.text); break;
    }
  }
  return out;
}

// The statement that finds, for each row of a batch (c0: the row, c1...: its
// key values), the records of `k` its key names. The external key is looked
// up through its unique index on (ifnull(source, ''), id).
std::string key_lookup_sql(const Kind& k, const std::vector<std::string>& key, bool aliases, const std::string& ifnull,
                           const std::vector<std::string>& stored) {
  std::string on;
  const bool external = std::find(key.begin(), key.end(), kExternalId) != key.end();
  for (size_t i = 0; i < key.size(); ++i) {
    const std::string b = "b.c" + std::to_string(i + 1);
    on += i ? " AND " : "";
    // '=' rather than IS: a missing key value names no record, and only '='
    // lets SQLite use the partial unique index (external_id IS NOT NULL).
    if (external && key[i] == kExternalSource) on += ifnull + "(r." + key[i] + ", '') = " + ifnull + "(" + b + ", '')";
    else on += "r." + key[i] + " = " + b;
  }
  if (external && std::find(key.begin(), key.end(), kExternalSource) == key.end())
    on += " AND " + ifnull + "(r." + kExternalSource + ", '') = ''";  // an id without its source: none given
  // After the id, whether the row's stored values follow (1), then those.
  std::string values, none;
  for (const auto& column : stored) values += ", r." + column, none += ", NULL";
  std::string text = "SELECT b.c0, r.id" + std::string(stored.empty() ? "" : ", 1") + values + " FROM crm_batch(?1) AS b JOIN " +
                     k.name + " AS r ON " + on;
  if (!external || !aliases || key.size() > 2 || (key.size() == 2 && key[0] != kExternalSource && key[1] != kExternalSource))
    return text;
  // The keys of records merged into others still name the record they went
  // into (see merge.cpp), so that next week's export updates it.
  std::string source = "''", id;
  for (size_t i = 0; i < key.size(); ++i)
    (key[i] == kExternalSource ? source : id) = key[i] == kExternalSource ? ifnull + "(b.c" + std::to_string(i + 1) + ", '')"
                                                                          : "b.c" + std::to_string(i + 1);
  // (A record found by an alias is read when it is updated.)
  return text + " UNION ALL SELECT b.c0, a.record_id" + (stored.empty() ? "" : ", 0") + none +
         " FROM crm_batch(?1) AS b JOIN key_aliases AS a ON a.kind = '" + k.name + "' AND a.source = " + source +
         " AND a.external_id = " + id;
}

// A value as SQLite holds it: its type (SQLITE_NULL, _INTEGER, _FLOAT,
// _TEXT or _BLOB) and its content.
struct Held {
  int type = SQLITE_NULL;
  int64_t i = 0;
  double r = 0;
  std::string_view bytes;
};

// Column `c` of the row `st` stands on (valid until its next step).
Held held_column(sqlite3_stmt* st, int c) {
  Held h;
  h.type = sqlite3_column_type(st, c);
  switch (h.type) {
    case SQLITE_NULL: break;
    case SQLITE_INTEGER: h.i = sqlite3_column_int64(st, c); break;
    case SQLITE_FLOAT: h.r = sqlite3_column_double(st, c); break;
    default: {
      const void* p = h.type == SQLITE_BLOB ? sqlite3_column_blob(st, c) : sqlite3_column_text(st, c);
      h.bytes = {static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, c))};
    }
  }
  return h;
}

// A batch cell as its column will hold it: a whole number in a REAL column
// is stored as a real.
Held held_cell(const sql::Cell& cell, bool real_column) {
  Held h;
  switch (cell.type) {
    case sql::Cell::Type::Null: break;
    case sql::Cell::Type::Int:
      if (real_column) h.type = SQLITE_FLOAT, h.r = static_cast<double>(cell.i);
      else h.type = SQLITE_INTEGER, h.i = cell.i;
      break;
    case sql::Cell::Type::Real: h.type = SQLITE_FLOAT, h.r = cell.r; break;
    case sql::Cell::Type::Text: h.type = SQLITE_TEXT, h.bytes = *cell.text; break;
  }
  return h;
}

// Whether a stored value and the one written over it are the same by
// SQLite's IS, as the columns' affinities leave them (the test the capture
// trigger and the UPDATE's WHERE made before): text against text byte for
// byte, numbers by value, a number never equal to text.
bool same_value(const Held& a, const Held& b) {
  if (a.type == SQLITE_NULL || b.type == SQLITE_NULL) return a.type == b.type;
  const bool a_number = a.type == SQLITE_INTEGER || a.type == SQLITE_FLOAT;
  const bool b_number = b.type == SQLITE_INTEGER || b.type == SQLITE_FLOAT;
  if (!a_number || !b_number) return a.type == b.type && a.bytes == b.bytes;
  if (a.type == SQLITE_INTEGER && b.type == SQLITE_INTEGER) return a.i == b.i;
  if (a.type == SQLITE_FLOAT && b.type == SQLITE_FLOAT) return a.r == b.r;
  // A whole number and a real: equal only if the real is that whole number exactly.
  const int64_t i = a.type == SQLITE_INTEGER ? a.i : b.i;
  const double r = a.type == SQLITE_FLOAT ? a.r : b.r;
  return r >= -9223372036854775808.0 && r < 9223372036854775808.0 && static_cast<int64_t>(r) == i &&
         static_cast<double>(i) == r;
}

// Appends a value as SQLite's json_array writes it, so that an entry's
// text is the capture trigger's: null, whole numbers and plain text here;
// reals and text JSON escapes (a quote, a backslash, a control character)
// are written by SQLite itself (`quote`: SELECT json_quote(?1)).
void append_json(std::string& out, const Held& h, sql::Statement& quote) {
  switch (h.type) {
    case SQLITE_NULL: out += "null"; return;
    case SQLITE_INTEGER: {
      char digits[24];
      out.append(digits, std::to_chars(digits, digits + sizeof digits, h.i).ptr);
      return;
    }
    case SQLITE_TEXT:
      if (std::none_of(h.bytes.begin(), h.bytes.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\';
          })) {
        out += '"';
        out += h.bytes;
        out += '"';
        return;
      }
      sqlite3_bind_text(quote.get(), 1, h.bytes.data(), static_cast<int>(h.bytes.size()), SQLITE_STATIC);
      break;
    case SQLITE_FLOAT: sqlite3_bind_double(quote.get(), 1, h.r); break;
    default: sqlite3_bind_blob(quote.get(), 1, h.bytes.data(), static_cast<int>(h.bytes.size()), SQLITE_STATIC);
  }
  if (quote.step_code() != SQLITE_ROW) sql::fail(sqlite3_db_handle(quote.get()), "cannot write a change into the audit log");
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(quote.get(), 0));
  out.append(text, static_cast<size_t>(sqlite3_column_bytes(quote.get(), 0)));
  quote.reset();
}

// The columns an update compares, in its order: the given fields (`columns`
// not null) in the kind's order, then tags and custom if given.
std::vector<std::string> compared_columns(const Kind& k, const std::vector<const Column*>& columns, bool tags,
                                          bool custom) {
  std::vector<std::string> out;
  for (size_t i = 0; i < k.fields.size(); ++i)
    if (columns[i]) out.push_back(k.fields[i].name);
  if (tags) out.push_back(kTagsColumn);
  if (custom) out.push_back(kCustomColumn);
  return out;
}

}  // namespace

// The stored values of the records an upsert's keys found, read in the same
// statement as the keys (SQLite): the compared columns of each row's record,
// so that the first update of a record needs no read of its own.
struct StoredValues {
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Cell {
    int type;
    union {
      int64_t i;
      double r;
      size_t offset;  // text and blobs: where in `bytes`
    };
    size_t size;
  };
  size_t columns = 0;
  std::vector<uint32_t> slot_of_row;  // per row of the caller's table: its record's values, or kNone
  std::vector<Cell> cells;            // slot * columns + j
  std::string bytes;

  // Keeps columns [first, first + columns) of the row `st` stands on for `row`.
  void keep(size_t row, sqlite3_stmt* st, int first) {
    slot_of_row[row] = static_cast<uint32_t>(cells.size() / columns);
    for (size_t j = 0; j < columns; ++j) {
      const Held h = held_column(st, first + static_cast<int>(j));
      Cell c{h.type, {h.i}, h.bytes.size()};
      if (h.type == SQLITE_FLOAT) c.r = h.r;
      if (h.type == SQLITE_TEXT || h.type == SQLITE_BLOB) c.offset = bytes.size(), bytes.append(h.bytes);
      cells.push_back(c);
    }
  }
  Held at(uint32_t slot, size_t j) const {
    const Cell& c = cells[slot * columns + j];
    Held h;
    h.type = c.type;
    if (c.type == SQLITE_INTEGER) h.i = c.i;
    if (c.type == SQLITE_FLOAT) h.r = c.r;
    if (c.type == SQLITE_TEXT || c.type == SQLITE_BLOB) h.bytes = std::string_view(bytes).substr(c.offset, c.size);
    return h;
  }
};

namespace {

// The rows' external keys, for a merge with the key index: (source or '',
// id) per row, their text in one buffer.
class ExternalKeys {
 public:
  ExternalKeys(const std::vector<std::string>& key, size_t rows) {
    for (size_t i = 0; i < key.size(); ++i) (key[i] == kExternalSource ? source_at_ : id_at_) = static_cast<int>(i);
    entries_.reserve(rows);
  }
  // Row `row`'s key values (in the key's order). A key whose id is missing,
  // or not text, names no record: '=' with a stored text is never true.
  void add(size_t row, const std::vector<Value>& values) {
    const Value& id = values[static_cast<size_t>(id_at_)];
    if (id.type != Value::Type::Text) return;
    Entry e{row, bytes_.size(), 0, 0, id.text->size(), false};
    if (source_at_ >= 0) {
      const Value& source = values[static_cast<size_t>(source_at_)];
      if (source.type != Value::Type::Null && source.type != Value::Type::Text) return;
      if (source.type == Value::Type::Text) bytes_ += *source.text, e.source_size = source.text->size();
      e.source_missing = source.type == Value::Type::Null;
    }
    e.id_offset = bytes_.size();
    bytes_ += *id.text;
    entries_.push_back(e);
  }

  // Sets target[row] and matches[row] for each row whose key a record of
  // `k` holds, reading each source's part of the unique index
  // (ifnull(external_source, ''), external_id) once, in its order: BINARY,
  // bytes as unsigned, a shorter text before the longer it begins. The
  // found records' `columns` are kept in `stored`, as the per-row statement
  // keeps them (the scan reads each record's row for its source anyway).
  void find(Store::Impl& impl, const Kind& k, const std::vector<std::string>& columns, StoredValues& stored,
            std::vector<int64_t>& target, std::vector<int64_t>& matches) {
    // A missing source and an empty one find the same records; rows that
    // give them apart still have different keys (first_rows).
    auto less = [&](const Entry& a, const Entry& b) {
      const int by_source = source(a).compare(source(b));
      if (by_source != 0) return by_source < 0;
      const int by_id = id(a).compare(id(b));
      if (by_id != 0) return by_id < 0;
      return a.source_missing != b.source_missing ? a.source_missing < b.source_missing : a.row < b.row;
    };
    if (!std::is_sorted(entries_.begin(), entries_.end(), less)) std::sort(entries_.begin(), entries_.end(), less);
    std::string read;
    for (const auto& column : columns) read += ", " + column;
    // Only the part of a source's keys between the rows' first and last:
    // an export of recent records reads the recent end of the index.
    sql::Statement& scan = impl.prepared("SELECT external_id, id" + read + " FROM " + k.name + " WHERE ifnull(" + kExternalSource +
                                         ", '') = ?1 AND external_id >= ?2 AND external_id <= ?3 ORDER BY external_id");
    for (size_t begin = 0; begin < entries_.size();) {
      const std::string_view this_source = source(entries_[begin]);
      size_t end = begin;
      while (end < entries_.size() && source(entries_[end]) == this_source) ++end;
      const std::string_view first = id(entries_[begin]), last = id(entries_[end - 1]);
      sqlite3_bind_text(scan.get(), 1, this_source.data(), static_cast<int>(this_source.size()), SQLITE_STATIC);
      sqlite3_bind_text(scan.get(), 2, first.data(), static_cast<int>(first.size()), SQLITE_STATIC);
      sqlite3_bind_text(scan.get(), 3, last.data(), static_cast<int>(last.size()), SQLITE_STATIC);
      size_t e = begin;
      while (e < end && scan.step()) {
        if (sqlite3_column_type(scan.get(), 0) != SQLITE_TEXT) continue;  // (a blob: equal to no text)
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(scan.get(), 0));
        const std::string_view stored_id(p, static_cast<size_t>(sqlite3_column_bytes(scan.get(), 0)));
        while (e < end && id(entries_[e]) < stored_id) ++e;
        for (; e < end && id(entries_[e]) == stored_id; ++e) {
          target[entries_[e].row] = scan.int64(1);
          ++matches[entries_[e].row];
          if (!columns.empty()) stored.keep(entries_[e].row, scan.get(), 2);
        }
      }
      scan.reset();
      begin = end;
    }
  }

  // After find: first_of[row], for each row given here, the first row with
  // the same key (itself if none before it), from the sorted order rather
  // than a table of keys. False when some key is given both with a missing
  // and with an empty source: two keys naming one record, left to the
  // caller's general path.
  bool first_rows(std::vector<size_t>& first_of) const {
    for (size_t begin = 0; begin < entries_.size();) {
      size_t end = begin + 1;
      while (end < entries_.size() && source(entries_[end]) == source(entries_[begin]) &&
             id(entries_[end]) == id(entries_[begin]))
        ++end;
      if (entries_[begin].source_missing != entries_[end - 1].source_missing) return false;
      for (size_t e = begin; e < end; ++e) first_of[entries_[e].row] = entries_[begin].row;
      begin = end;
    }
    return true;
  }

 private:
  struct Entry {
    size_t row, source_offset, source_size, id_offset, id_size;
    bool source_missing;
  };
  std::string_view source(const Entry& e) const { return std::string_view(bytes_).substr(e.source_offset, e.source_size); }
  std::string_view id(const Entry& e) const { return std::string_view(bytes_).substr(e.id_offset, e.id_size); }
  int source_at_ = -1, id_at_ = -1;
  std::vector<Entry> entries_;
  std::string bytes_;
};

// Whether any merged record of `k` left its keys behind (key_aliases).
bool has_aliases_of(Store::Impl& impl, const Dialect& dialect, const Kind& k) {
  sql::Statement exists(impl.db, dialect.table_exists("key_aliases"));
  if (!exists.step()) return false;
  sql::Statement any(impl.db, "SELECT 1 FROM key_aliases WHERE kind = ?1 LIMIT 1");
  any.bind(1, k.name);
  return any.step();
}

// Whether an upsert of `rows` rows finds its keys by a merge with the key
// index: on SQLite, a key of the external id (and its source), no key
// aliases for the kind (they are found by the per-row statement), and the
// rows more than an eighth of the stored records, so that reading the index
// whole costs less than searching it once per row.
bool merge_join_fits(Store::Impl& impl, const Kind& k, const std::vector<std::string>& key, size_t rows, bool aliases) {
  if (!impl.db.is_sqlite() || aliases || key.empty() || key.size() > 2) return false;
  const bool id = std::find(key.begin(), key.end(), kExternalId) != key.end();
  const bool others = std::any_of(key.begin(), key.end(),
                                  [](const std::string& c) { return c != kExternalId && c != kExternalSource; });
  if (!id || others || (key.size() == 2 && key[0] == key[1])) return false;
  sql::Statement count(impl.db, "SELECT count(*) FROM " + k.name);
  count.step();
  return static_cast<int64_t>(rows) * 8 > count.int64(0);
}

}  // namespace

// Upserts and bulk updates. Each row's key is looked up in the store, a
// chunk of keys per statement; rows naming a record update it, one UPDATE
// ... FROM crm_batch per chunk, and the rest are inserted by insert_rows.
void Store::upsert_rows(const WriteRequest& req, WriteResult& result) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  const std::vector<const Column*> columns = field_columns(k, t);
  const size_t n = t.rows();
  if (req.key.empty()) throw ValidationError(k.name, -1, "", "an upsert or update needs a key: the fields that name each row's record");
  static const Field kIdField{"id", FieldType::Integer, true};
  std::vector<const Field*> key_fields;
  std::vector<const Column*> key_columns;
  for (const auto& name : req.key) {
    const Field* f = name == "id" ? &kIdField : k.field(name);
    if (!f) throw ValidationError(k.name, -1, name, "is not a field of " + k.name + ", so it cannot be a key");
    const Column* c = t.find(name);
    if (!c) throw ValidationError(k.name, -1, name, "is the key, but the data has no such column");
    key_fields.push_back(f);
    key_columns.push_back(c);
  }
  result.ids.assign(n, -1);
  result.updated.assign(n, 0);
  auto refuse = [&](size_t row, const std::string& field, const std::string& reason) {
    if (req.on_error == OnError::Raise) throw ValidationError(k.name, static_cast<int64_t>(row), field, reason);
    result.errors.push_back({static_cast<int64_t>(row), field, reason});
  };

  // 1. Each row's key, and the record it names: a chunk of keys per statement.
  std::vector<int64_t> target(n, -1);
  std::vector<uint8_t> failed(n, 0), keyed(n, 0);
  std::vector<int64_t> matches(n, 0);
  std::vector<Field> optional;  // the key's fields, none required: a missing key value names no record
  for (const Field* f : key_fields) {
    optional.push_back(*f);
    optional.back().required = false;
    optional.back().default_value.clear();
  }
  std::vector<Value> values(req.key.size());
  auto read_key = [&](size_t row) {
    bool any = false;
    for (size_t i = 0; i < req.key.size(); ++i) {
      coerce(optional[i], key_columns[i], row, values[i]);
      any = any || values[i].type != Value::Type::Null;
    }
    return any;
  };
  sql::Batch lookup(1 + req.key.size());
  lookup.reserve(std::min(n, kChunkRows));
  const Dialect dialect(impl.db);
  sql::Statement has_aliases(impl.db, dialect.table_exists("key_aliases"));
  // The key's columns are not written: they name the records they already
  // hold, and leaving them out spares the key's index its updates.
  std::vector<const Column*> written = columns;
  for (const auto& name : req.key)
    if (const Field* f = k.field(name)) written[static_cast<size_t>(f - k.fields.data())] = nullptr;
  // On SQLite the read that finds the records also reads what an update
  // compares (update_existing).
  const std::vector<std::string> stored_columns =
      impl.db.is_sqlite() ? compared_columns(k, written, t.find(kTagsColumn) != nullptr, t.find(kCustomColumn) != nullptr)
                          : std::vector<std::string>();
  StoredValues stored;
  stored.columns = stored_columns.size();
  if (!stored_columns.empty()) stored.slot_of_row.assign(n, StoredValues::kNone);
  sql::Statement& find = impl.prepared(key_lookup_sql(k, req.key, has_aliases.step(), dialect.ifnull(), stored_columns));
  auto run_lookup = [&] {
    if (lookup.rows() == 0) return;
    sql::bind_batch(find, lookup);
    while (find.step()) {
      const auto row = static_cast<size_t>(find.int64(0));
      target[row] = find.int64(1);
      ++matches[row];
      if (!stored_columns.empty() && find.int64(2)) stored.keep(row, find.get(), 3);
    }
    find.reset();
    lookup.clear();
  };
  // Many rows against the stored keys: the key index is read once in its
  // order and merged with the rows' keys (merge_external_keys) rather than
  // searched once per row.
  std::optional<ExternalKeys> merged;
  if (merge_join_fits(impl, k, req.key, n, has_aliases_of(impl, dialect, k))) merged.emplace(req.key, n);
  for (size_t row = 0; row < n; ++row) {
    try {
      if (!read_key(row)) continue;  // names no record: inserted (upsert) or refused (update), below
    } catch (const RowFailure& failure) {
      failed[row] = 1;
      refuse(row, failure.field, failure.reason);
      continue;
    }
    keyed[row] = 1;
    if (merged) {
      merged->add(row, values);
      continue;
    }
    sql::Cell* cells = lookup.add_row();
    cells[0].set_int(static_cast<int64_t>(row));
    for (size_t i = 0; i < values.size(); ++i) set_cell(cells[i + 1], values[i], lookup);
    if (lookup.rows() == kChunkRows) run_lookup();
  }
  run_lookup();
  // After a merge the rows that share a key lie side by side: each row's
  // first with its key is known without a table of keys (first_of).
  constexpr size_t kNoRow = SIZE_MAX;
  std::vector<size_t> first_of;
  bool by_merge = false;
  if (merged) {
    // Room for every row's record (an upper bound: only pages written are
    // backed), so that keeping a million records' values copies none twice.
    stored.cells.reserve(n * stored.columns);
    merged->find(impl, k, stored_columns, stored, target, matches);
    first_of.assign(n, kNoRow);
    by_merge = merged->first_rows(first_of);
  }

  // 2. Rows naming one record update it; rows naming none are inserted. A
  // later row with the same key as an earlier one (an export that lists a
  // record twice) is refused. Rows with different keys that name one record
  // because their records were merged (key aliases) are each applied, in
  // their order, as if imported one after the other, so the last one wins:
  // next week's export still holds both of the merged records' rows, and
  // refusing them would fail every re-import after a merge.
  auto shown = [&](size_t row) {
    read_key(row);
    return key_shown(req.key, values);
  };
  auto key_of = [&](size_t row) {
    read_key(row);
    return key_text(values);
  };
  std::vector<std::vector<size_t>> later_updates;  // [k]: rows that are the (k+2)-th to name their record
  std::unordered_map<int64_t, std::vector<size_t>> named_again;  // record -> its later rows
  std::unordered_map<int64_t, size_t> row_of_record;
  // The rows naming no record, by their key's hash (the first such row);
  // a different key with the same hash goes by its text.
  std::unordered_map<size_t, size_t> row_of_new_hash;
  std::unordered_map<std::string, size_t> row_of_new_key;
  std::string new_key;
  if (!by_merge) row_of_record.reserve(n);
  if (req.op == WriteOp::Upsert && !by_merge) row_of_new_hash.reserve(n);
  std::vector<size_t> updates, inserts;
  const bool insertable = req.op == WriteOp::Upsert && std::find(req.key.begin(), req.key.end(), "id") == req.key.end();
  for (size_t row = 0; row < n; ++row) {
    if (failed[row]) continue;
    size_t earlier = row;
    if (matches[row] > 1) {
      refuse(row, req.key.front(), shown(row) + " names " + std::to_string(matches[row]) + " " + k.name +
                                       " records; a key must name one");
      continue;
    }
    if (by_merge && first_of[row] != kNoRow && (matches[row] == 1 || insertable)) {
      // A key names one record at most here (a unique index, no aliases):
      // the rows naming a record are the rows with its key.
      earlier = first_of[row];
      if (earlier == row) (matches[row] == 1 ? updates : inserts).push_back(row);
    } else if (matches[row] == 1) {
      earlier = row_of_record.try_emplace(target[row], row).first->second;
      if (earlier == row) {
        updates.push_back(row);
      } else {
        std::vector<size_t>& others = named_again[target[row]];
        const std::string key = key_of(row);
        bool same_key = key_of(earlier) == key;
        for (size_t i = 0; i < others.size() && !same_key; ++i)
          if (key_of(others[i]) == key) earlier = others[i], same_key = true;
        if (!same_key) {
          if (later_updates.size() <= others.size()) later_updates.resize(others.size() + 1);
          later_updates[others.size()].push_back(row);
          others.push_back(row);
          earlier = row;
        }
      }
    } else if (insertable) {
      if (keyed[row]) {
        read_key(row);
        write_key_text(values, new_key);
        const auto [first, inserted] = row_of_new_hash.try_emplace(std::hash<std::string>{}(new_key), row);
        if (!inserted && key_of(first->second) == new_key) earlier = first->second;
        else if (!inserted) earlier = row_of_new_key.try_emplace(new_key, row).first->second;
      }
      if (earlier == row) inserts.push_back(row);
    } else {
      refuse(row, req.key.front(), "no " + k.name + " record has " + shown(row));
      continue;
    }
    if (earlier != row)
      refuse(row, req.key.front(), shown(row) + " is the key of row " + std::to_string(earlier) +
                                       " too: one import writes a record once");
  }
  {
    const UpdatesInMemory kept(impl.audit_memory, impl.db.is_sqlite());  // sealed whole at the commit
    // The later rows of a record find it changed by the earlier: they read it again.
    update_existing(req, written, updates, target, result, stored_columns.empty() ? nullptr : &stored);
    for (const auto& rows : later_updates) update_existing(req, written, rows, target, result);
  }
  if (!inserts.empty()) insert_rows(req, result, &inserts);
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const RowError& a, const RowError& b) { return a.row < b.row; });
}

void Store::update_existing(const WriteRequest& req, const std::vector<const Column*>& columns,
                            const std::vector<size_t>& rows, const std::vector<int64_t>& target,
                            WriteResult& result, const StoredValues* stored_before) {
  if (rows.empty()) return;
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  const Column* tags = t.find(kTagsColumn);
  const Column* custom = t.find(kCustomColumn);
  // The fields the data gives (`columns` holds null for the others).
  std::vector<size_t> given;
  std::vector<bool> given_fields(k.fields.size(), false);
  for (size_t i = 0; i < k.fields.size(); ++i)
    if (columns[i]) given.push_back(i), given_fields[i] = true;
  // A batch row: the id, the given fields, tags and custom if given, updated_at.
  // A record whose given values all equal the ones it holds is not written
  // at all (no UPDATE, no new phones or tags, no audit entry, updated_at
  // kept): re-importing an unchanged export, the usual weekly case, then
  // costs a read per row. "Equal" is SQLite's IS with the column's
  // affinity, the same test the audit capture uses to list what changed.
  std::string sets, one_sets, differs, one_differs, read_differs;
  const std::string is_not = Dialect(impl.db).is_not();
  size_t width = 1;
  std::vector<std::pair<std::string, size_t>> compared_cells;  // the compared columns and their batch cells
  auto set = [&](const std::string& column, bool compared) {
    const std::string b = "b.c" + std::to_string(width), one = "?" + std::to_string(width + 1);
    sets += (width > 1 ? ", " : "") + column + " = " + b;
    one_sets += (width > 1 ? ", " : "") + column + " = " + one;
    if (compared) {
      differs += (differs.empty() ? "" : " OR ") + k.name + "." + column + is_not + b;
      one_differs += (one_differs.empty() ? "" : " OR ") + column + is_not + one;
      read_differs += (read_differs.empty() ? "" : " OR ") + std::string("r.") + column + is_not + b;
      compared_cells.emplace_back(column, width);
    }
    ++width;
  };
  for (size_t i : given) set(k.fields[i].name, true);
  const size_t tags_cell = width;
  if (tags) set(kTagsColumn, true);
  if (custom) set(kCustomColumn, true);
  set(kUpdatedColumn, false);
  if (differs.empty()) differs = one_differs = read_differs = "1 = 0";  // nothing given but the key: nothing to write
  // On SQLite the changes are found here, in C++, from one read of the
  // records' stored values per chunk, and only the records that change are
  // written (the statements compare nothing). PostgreSQL compares in its
  // statements, by its own types.
  const bool compare_here = impl.db.is_sqlite();
  sql::Statement& bulk = impl.prepared("UPDATE " + k.name + " SET " + sets + " FROM crm_batch(?1) AS b WHERE " +
                                       k.name + ".id = b.c0" + (compare_here ? "" : " AND (" + differs + ")"));
  sql::Statement& one = impl.prepared("UPDATE " + k.name + " SET " + one_sets + " WHERE id = ?1" +
                                      (compare_here ? "" : " AND (" + one_differs + ")"));

  ReferenceCheck references(impl, k, columns, [this](int64_t id) { return !kind_of_locked(id).empty(); });
  std::vector<Value> values(k.fields.size());
  Extras extras;
  const int64_t now = now_ns();
  StagedRows staged(width);
  // A chunk may give a field null in every row (the last of several rows
  // naming one record): its cells still compare with the stored column's type.
  for (size_t g = 0; g < given.size(); ++g) {
    const FieldType type = k.fields[given[g]].type;
    staged.rows.declare(1 + g, type == FieldType::Text   ? sql::Cell::Type::Text
                               : type == FieldType::Real ? sql::Cell::Type::Real
                                                         : sql::Cell::Type::Int);
  }
  for (size_t cell = 1 + given.size(); cell + 1 < width; ++cell) staged.rows.declare(cell, sql::Cell::Type::Text);
  Lookups lookups;
  const size_t chunk_rows = std::min(rows.size(), kChunkRows);
  staged.rows.reserve(chunk_rows);
  sql::Batch written(1);  // the ids a chunk updated
  written.reserve(chunk_rows);
  std::vector<size_t> lookup_fields;  // the given fields with phones or e-mails to look up
  for (size_t i : given)
    if (k.fields[i].lookup != Lookup::None) lookup_fields.push_back(i);
  staged.points.reserve(chunk_rows * lookup_fields.size());  // about one per row and field, as for the rows
  lookups.points.reserve(rows.size() * lookup_fields.size());
  // Which of a chunk's records change, and which of their looked-up fields
  // and tags: only those make way for new lookup rows.
  std::string flags;
  for (size_t i : lookup_fields)
    flags += ", CASE WHEN r." + k.fields[i].name + is_not + "b.c" +
             std::to_string(1 + static_cast<size_t>(std::find(given.begin(), given.end(), i) - given.begin())) +
             " THEN 1 ELSE 0 END";
  if (tags) flags += std::string(", CASE WHEN r.") + kTagsColumn + is_not + "b.c" + std::to_string(tags_cell) + " THEN 1 ELSE 0 END";
  const int flag_count = static_cast<int>(lookup_fields.size()) + (tags ? 1 : 0);
  if (flag_count > 30) throw Error(k.name + " has more looked-up fields than an update can follow");  // bits below
  // An upsert on SQLite captures its changes here, from the stored values
  // it compares, and keeps its entries in memory for the seal (audit_memory.hpp).
  const bool in_memory = impl.audit_memory.active && compare_here;
  std::string stored;  // the compared columns' stored values
  for (const auto& compared : compared_cells) stored += ", r." + compared.first;
  sql::Statement& changing = impl.prepared(
      compare_here ? "SELECT b.c0" + stored + " FROM crm_batch(?1) AS b JOIN " + k.name + " AS r ON r.id = b.c0"
                   : "SELECT b.c0" + flags + " FROM crm_batch(?1) AS b JOIN " + k.name + " AS r ON r.id = b.c0 WHERE " +
                         read_differs);
  // Per compared column: whether it is REAL, its bit in a record's changes
  // (below), and its field if it is a phone or e-mail field.
  std::vector<bool> real_column;
  std::vector<uint32_t> change_bit;
  std::vector<const Field*> looked_up_field;
  for (size_t j = 0; j < compared_cells.size(); ++j) {
    const Field* f = k.field(compared_cells[j].first);
    real_column.push_back(f && f->type == FieldType::Real);
    const auto looked_up = f ? std::find(lookup_fields.begin(), lookup_fields.end(), static_cast<size_t>(f - k.fields.data()))
                             : lookup_fields.end();
    looked_up_field.push_back(looked_up != lookup_fields.end() ? f : nullptr);
    change_bit.push_back(looked_up != lookup_fields.end()
                             ? uint32_t{2} << (looked_up - lookup_fields.begin())
                         : compared_cells[j].first == kTagsColumn ? uint32_t{1} << (1 + lookup_fields.size())
                                                                  : 0);
  }
  std::optional<sql::Statement> quote;  // json_quote, for append_json
  if (in_memory) quote.emplace(impl.db, "SELECT json_quote(?1)");
  if (stored_before && stored_before->columns != compared_cells.size())
    throw Error("an update's stored values were read for other columns");  // (compared_columns gives both)
  sql::Batch changed_rows(width);  // a chunk's records that change (SQLite)
  sql::Batch to_read(1);           // the ids of a chunk's records whose stored values are read here
  for (size_t cell = 0; cell < width; ++cell) changed_rows.declare(cell, staged.rows.declared(cell));
  changed_rows.reserve(chunk_rows);
  // SQLite: the lookup rows a chunk's changing phones and e-mails held, from
  // their stored text (contact_points.hpp), to be removed by their key.
  struct OldPoint {
    size_t row;  // in the chunk
    const Field* field;
    std::string value;
  };
  std::vector<OldPoint> old_points;
  sql::Batch points_out(3);
  int64_t entries_after = 0;  // the newest entry in the log: this call's entries go after it
  if (in_memory) {
    sql::Statement& newest = impl.prepared("SELECT coalesce(max(seq), 0) FROM audit_log");
    newest.step();
    entries_after = newest.int64(0);
    newest.reset();
  }

  auto write_chunk = [&] {
    const size_t count = staged.rows.rows();
    if (count == 0) return;
    // changes[r]: bit 0, the record changes; bit 1 + j, its j-th looked-up
    // field does; the bit after those, its tags do.
    std::vector<uint32_t> changes(count, 0);
    std::vector<std::string> captured(in_memory ? count : 0);  // {column: [old, new], ...} per changed row
    old_points.clear();
    if (compare_here) {
      std::string text;
      // Row r of the chunk against its record's stored values (before(j): the j-th compared column's).
      auto compare = [&](size_t r, const auto& stored_value) {
        const sql::Cell* cells = staged.rows.row(r);
        uint32_t bits = 0;
        text.clear();
        for (size_t j = 0; j < compared_cells.size(); ++j) {
          const Held before = stored_value(j);
          const Held after = held_cell(cells[compared_cells[j].second], real_column[j]);
          if (same_value(before, after)) continue;
          bits |= 1 | change_bit[j];
          if (looked_up_field[j] && before.type == SQLITE_TEXT)
            for (auto& value : stored_lookup_values(*looked_up_field[j], std::string(before.bytes)))
              old_points.push_back({r, looked_up_field[j], std::move(value)});
          if (!in_memory) continue;
          text += text.empty() ? "{\"" : ",\"";  // {column: [old, new], ...}, as the capture trigger writes it
          text += compared_cells[j].first;
          text += "\":[";
          append_json(text, before, *quote);
          text += ',';
          append_json(text, after, *quote);
          text += ']';
        }
        changes[r] = bits;
        if (bits && in_memory) captured[r] = text + '}';
      };
      // The values the keys' read brought; the other records are read here, a chunk at a time.
      to_read.clear();
      for (size_t r = 0; r < count; ++r) {
        const uint32_t slot = stored_before ? stored_before->slot_of_row[staged.source_row[r]] : StoredValues::kNone;
        if (slot == StoredValues::kNone) to_read.add_row()[0].set_int(staged.rows.row(r)[0].i);
        else compare(r, [&](size_t j) { return stored_before->at(slot, j); });
      }
      if (to_read.rows() > 0) {
        std::unordered_map<int64_t, size_t> staged_of;  // record -> its row in the chunk
        staged_of.reserve(count);
        for (size_t r = 0; r < count; ++r) staged_of.emplace(staged.rows.row(r)[0].i, r);
        sql::bind_batch(changing, to_read);
        while (changing.step())
          compare(staged_of.at(changing.int64(0)), [&](size_t j) { return held_column(changing.get(), static_cast<int>(j) + 1); });
        changing.reset();
      }
    } else {  // PostgreSQL: the read returns the records that change, with their flags
      std::unordered_map<int64_t, uint32_t> of_record;
      of_record.reserve(count);
      sql::bind_batch(changing, staged.rows);
      while (changing.step()) {
        uint32_t bits = 1;
        for (int j = 1; j <= flag_count; ++j)
          if (changing.int64(j)) bits |= uint32_t{1} << j;
        of_record[changing.int64(0)] = bits;
      }
      changing.reset();
      for (size_t r = 0; r < count && !of_record.empty(); ++r) {
        auto it = of_record.find(staged.rows.row(r)[0].i);
        if (it != of_record.end()) changes[r] = it->second;
      }
    }
    const uint32_t tags_bit = uint32_t{1} << (1 + lookup_fields.size());
    std::vector<uint8_t> ok(count, 1);
    const std::string failed = "update of " + k.name + " failed";
    const bool none = std::all_of(changes.begin(), changes.end(), [](uint32_t c) { return c == 0; });
    // The rows of the records that change (their cells' text stays where the chunk keeps it).
    auto only_changed = [&]() -> const sql::Batch& {
      changed_rows.clear();
      for (size_t r = 0; r < count; ++r)
        if (changes[r]) std::copy_n(staged.rows.row(r), width, changed_rows.add_row());
      return changed_rows;
    };
    // Taking the capture trigger off costs two DDL statements and new plans
    // for the prepared statements: worth it for a large chunk only.
    const bool large = in_memory && count >= 1024;
    const CapturePaused paused(in_memory && !none, large ? static_cast<sqlite3*>(impl.db) : nullptr, &k);
    if (none) {
      // Nothing to write; the rows still name (and now match) their records.
    } else if (run_or_broken(impl.db, bulk, compare_here ? only_changed() : staged.rows, failed)) {
      // A rule only the database sees (a duplicate sku or external key)
      // undid the chunk's statement: row by row, to name the row and land the rest.
      for (size_t r = 0; r < count; ++r) {
        if (!changes[r]) continue;
        const sql::Cell* cells = staged.rows.row(r);
        for (size_t c = 0; c < width; ++c) bind_value(one, static_cast<int>(c) + 1, value_of(cells[c]));
        const Broken broken = run_or_broken(impl.db, one, failed);
        if (!broken) continue;
        std::vector<Value> all(k.fields.size());
        for (size_t g = 0; g < given.size(); ++g) all[given[g]] = value_of(cells[g + 1]);
        RowFailure failure = explain_constraint(impl, broken, k, all);
        const auto row = static_cast<int64_t>(staged.source_row[r]);
        if (req.on_error == OnError::Raise) throw ValidationError(k.name, row, failure.field, failure.reason);
        result.errors.push_back({row, failure.field, failure.reason});
        ok[r] = 0;
      }
    }
    for (size_t r = 0; r < count; ++r) {
      if (!ok[r]) continue;
      const size_t row = staged.source_row[r];
      result.ids[row] = target[row];
      result.updated[row] = 1;
    }
    // The ids of the written records whose changes include `bit`.
    auto written_with = [&](uint32_t bit) -> const sql::Batch& {
      written.clear();
      for (size_t r = 0; r < count; ++r)
        if (ok[r] && (changes[r] & bit)) written.add_row()[0].set_int(staged.rows.row(r)[0].i);
      return written;
    };
    // The records' old phones, e-mails and tags make way for the new ones:
    // on SQLite by their key, from the values the records held; PostgreSQL
    // keeps an index from a record to its rows and compares in its
    // statements, so it goes by record.
    if (compare_here) {
      points_out.clear();
      for (const auto& p : old_points) {
        if (!ok[p.row]) continue;
        sql::Cell* c = points_out.add_row();
        c[0].set_text(&p.value);
        c[1].set_int(staged.rows.row(p.row)[0].i);
        c[2].set_text(&p.field->name);
      }
      sql::Statement& clear = impl.prepared(
          "DELETE FROM contact_points WHERE (value, record_id, field) IN (SELECT c0, c1, c2 FROM crm_batch(?1))");
      if (points_out.rows() > 0 && sql::run_over_batch(clear, points_out) != SQLITE_DONE)
        sql::fail(impl.db, "update of " + k.name + " failed");
    } else {
      for (size_t j = 0; j < lookup_fields.size(); ++j) {
        sql::Statement& clear = impl.prepared(
            "DELETE FROM contact_points WHERE field = ?2 AND record_id IN (SELECT c0 FROM crm_batch(?1))");
        clear.bind(2, k.fields[lookup_fields[j]].name);
        if (sql::run_over_batch(clear, written_with(uint32_t{2} << j)) != SQLITE_DONE)
          sql::fail(impl.db, "update of " + k.name + " failed");
      }
    }
    if (tags) {
      sql::Statement& clear = impl.prepared("DELETE FROM record_tags WHERE record_id IN (SELECT c0 FROM crm_batch(?1))");
      if (sql::run_over_batch(clear, written_with(tags_bit)) != SQLITE_DONE)
        sql::fail(impl.db, "update of " + k.name + " failed");
    }
    for (auto& p : staged.points) {
      const auto j = static_cast<size_t>(std::find(lookup_fields.begin(), lookup_fields.end(), p.field) -
                                         lookup_fields.begin());
      if (ok[p.staged] && (changes[p.staged] & (uint32_t{2} << j)))
        lookups.points.push_back({std::move(p.value), target[staged.source_row[p.staged]], p.field});
    }
    for (auto& tag : staged.tags)
      if (ok[tag.staged] && (changes[tag.staged] & tags_bit))
        lookups.tags.push_back({std::move(tag.tag), target[staged.source_row[tag.staged]]});
    // Every record changed has its audit entry.
    if (in_memory) {
      for (size_t r = 0; r < count; ++r)
        if (ok[r] && (changes[r] & 1))
          impl.audit_memory.entries.push_back(
              {entries_after, now, k.name, staged.rows.row(r)[0].i, std::move(captured[r])});
      staged.clear();
      return;
    }
    written_with(1);
    sql::Statement& log = impl.prepared(
        "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows) SELECT ?2, 'update', ?3, c0, c0, 1"
        " FROM crm_batch(?1)");
    log.bind(2, now).bind(3, k.name);
    if (sql::run_over_batch(log, written) != SQLITE_DONE) sql::fail(impl.db, "cannot write the audit log");
    staged.clear();
  };

  std::vector<StagedRows::Point> points;  // the row's phones and e-mails
  for (size_t begin = 0; begin < rows.size(); begin += kChunkRows) {
    if (req.progress && begin > 0) (*req.progress)(begin, rows.size());
    const size_t end = std::min(rows.size(), begin + kChunkRows);
    references.prepare_chunk(rows.data() + begin, end - begin);
    for (size_t i = begin; i < end; ++i) {
      const size_t row = rows[i];
      const int64_t id = target[row];
      points.clear();
      try {
        for (size_t f : given) {
          const Field& field = k.fields[f];
          coerce(field, columns[f], row, values[f]);
          const Value& v = values[f];
          if (field.lookup != Lookup::None && v.type == Value::Type::Text)
            for (auto& value : lookup_values(field, *v.text)) points.push_back({0, f, std::move(value)});
          if ((field.type == FieldType::Ref || field.type == FieldType::AnyRef) && v.type == Value::Type::Int &&
              !references.exists(field, f, v.i))
            throw RowFailure{field.name, "no " + (field.type == FieldType::Ref ? field.ref_kind + " " : "") +
                                             "record with id " + std::to_string(v.i)};
        }
        for (size_t f : given) {  // a link may not come to join a record to itself
          const Field& field = k.fields[f];
          const Field* other = field.differs_from.empty() ? nullptr : k.field(field.differs_from);
          if (!other || values[f].type != Value::Type::Int) continue;
          const size_t o = static_cast<size_t>(other - k.fields.data());
          int64_t other_value = values[o].i;
          if (!columns[o]) {
            sql::Statement& current = impl.prepared("SELECT " + other->name + " FROM " + k.name + " WHERE id = ?");
            current.bind(1, id);
            other_value = current.step() ? current.int64(0) : -1;
            current.reset();
          } else if (values[o].type != Value::Type::Int) {
            continue;
          }
          if (other_value == values[f].i)
            throw RowFailure{field.name, "is the same record as " + other->name + " (" + std::to_string(other_value) + ")"};
        }
        read_extras(tags, custom, row, extras);
        check_row_rules(impl, k, values, given_fields, id, extras.custom, custom != nullptr);
      } catch (const RowFailure& failure) {
        if (req.on_error == OnError::Raise) {
          write_chunk();  // rows before this one may break a database rule: that is the first error
          throw ValidationError(k.name, static_cast<int64_t>(row), failure.field, failure.reason, id);
        }
        result.errors.push_back({static_cast<int64_t>(row), failure.field, failure.reason});
        continue;
      }
      const size_t index = staged.rows.rows();
      sql::Cell* cells = staged.rows.add_row();
      cells[0].set_int(id);
      size_t c = 1;
      for (size_t f : given) set_cell(cells[c++], values[f], staged.rows);
      if (tags) {
        if (!extras.tags_text.empty()) cells[c].set_text(staged.rows.keep(std::move(extras.tags_text)));
        ++c;
        for (auto& tag : extras.tags) staged.tags.push_back({index, std::move(tag)});
      }
      if (custom) {
        if (!extras.custom.empty()) cells[c].set_text(staged.rows.keep(std::move(extras.custom)));
        ++c;
      }
      cells[c].set_int(now);
      staged.source_row.push_back(row);
      for (auto& p : points) staged.points.push_back({index, p.field, std::move(p.value)});
    }
    write_chunk();
  }
  write_lookups(impl, k, lookups);
}

}  // namespace crmcore::records
