// Bulk inserts, the store's import path: rows are checked in C++ a chunk at
// a time and written with one statement per chunk (see Store::insert_rows).
#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <iterator>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "audit_memory.hpp"
#include "batch.hpp"
#include "pg_bulk.hpp"
#include "crmcore/errors.hpp"
#include "rules.hpp"
#include "store_impl.hpp"
#include "../automation/prestage.hpp"

namespace crmcore::records {

namespace {

// Imports of at least this many rows may rebuild plain indexes afterwards.
constexpr size_t kBulkIndexRows = 50000;
// The page cache while such an import rebuilds its indexes (see there).
constexpr int kIndexSortCacheKiB = 2048;

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

  // Looks up the references of the rows `rows[0..count)` that whole-number
  // columns hold. A link's end may be a record of any kind: the ids not found
  // among one kind are looked for in the next (customers and contacts first).
  void prepare_chunk(const size_t* rows, size_t count) {
    for (size_t i = 0; i < kind_.fields.size(); ++i) {
      const Field& f = kind_.fields[i];
      const Column* c = columns_[i];
      by_chunk_[i] = (f.type == FieldType::Ref || f.type == FieldType::AnyRef) && c &&
                     c->storage == Column::Storage::Int;
      if (!by_chunk_[i]) continue;
      std::vector<int64_t> ids;
      ids.reserve(count);
      for (size_t i = 0; i < count; ++i)
        if (c->present(rows[i])) ids.push_back(c->ints[rows[i]]);
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
  Store::Impl& impl;
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
  const PrestagedActions* actions = nullptr;  // the automation rules' tags and fields for the rows (prestage.hpp)
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
  if (s.actions) s.actions->apply_fields(row, values);
  for (size_t i = 0; i < k.fields.size(); ++i) {
    const Field& f = k.fields[i];
    if (f.differs_from.empty() || values[i].type != Value::Type::Int) continue;
    for (size_t j = 0; j < k.fields.size(); ++j)
      if (k.fields[j].name == f.differs_from && values[j].type == Value::Type::Int && values[j].i == values[i].i)
        throw RowFailure{f.name, "is the same record as " + f.differs_from + " (" + std::to_string(values[i].i) + ")"};
  }
  read_extras(s.tags, s.custom, row, extras);
  if (s.actions) s.actions->apply_tags(row, extras);
  check_row_rules(s.impl, k, values, {}, -1, extras.custom, true);

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
// that make them again. An index whose every column `appends` (the new rows'
// values of it all sort after the old ones', or are all NULL) is kept: its
// new entries go to one end of the index, cheaper than any rebuild (a
// 50,000-row upsert into 100,000 customers spent 0.15 s of 0.9 s rebuilding
// indexes on owner_id and partner_id it gave no value for, and the lookup
// tables' index on the new records' ids).
std::vector<std::string> drop_plain_indexes(Store::Impl& impl, const std::string& table,
                                            const std::function<bool(const std::string&)>& appends) {
  // (PostgreSQL keeps its indexes: a temp table filled by COPY is its bulk path, docs/backends.md.)
  if (!impl.db.is_sqlite()) return {};
  sql::Statement list(impl.db, "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL"
                               " AND sql NOT LIKE 'CREATE UNIQUE%'");
  list.bind(1, table);
  std::vector<std::string> names, creates;
  while (list.step()) names.push_back(list.text(0)), creates.push_back(list.text(1));
  list.reset();
  std::vector<std::string> dropped;
  for (size_t i = 0; i < names.size(); ++i) {
    bool keep = true;
    {  // read whole before the DROP: an open read of the schema locks it
      sql::Statement columns(impl.db, "SELECT name FROM pragma_index_info(?)");
      columns.bind(1, names[i]);
      while (columns.step()) keep = keep && !columns.is_null(0) && appends(columns.text(0));  // NULL: an expression
    }
    if (keep) continue;
    sql::exec(impl.db, "DROP INDEX " + names[i]);
    dropped.push_back(creates[i]);
  }
  return dropped;
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
  const std::string failed = "insert into " + k.name + " failed";
  std::optional<Broken> copied;
  if (!impl.db.is_sqlite()) copied = pg_copy_insert(impl, k, staged.rows);  // binary COPY (pg_bulk.hpp)
  if (!(copied ? *copied : run_or_broken(impl.db, impl.insert_batch_stmt(k), staged.rows, failed))) {
    for (size_t r = 0; r < count; ++r) ids[r] = next_id++;
  } else {
    sql::Statement& st = impl.insert_stmt(k);
    for (size_t r = 0; r < count; ++r) {
      sql::Cell* cells = staged.rows.row(r);
      cells[0].set_int(next_id);
      for (size_t c = 0; c < staged.rows.columns(); ++c) bind_value(st, static_cast<int>(c) + 1, value_of(cells[c]));
      if (const Broken broken = run_or_broken(impl.db, st, failed)) {
        std::vector<Value> values;
        for (size_t i = 0; i < k.fields.size(); ++i) values.push_back(value_of(cells[i + 1]));
        RowFailure failure = explain_constraint(impl, broken, k, values);
        const auto row = static_cast<int64_t>(staged.source_row[r]);
        if (on_error == OnError::Raise) throw ValidationError(k.name, row, failure.field, failure.reason);
        result.errors.push_back({row, failure.field, failure.reason});
        continue;
      }
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

// A row's key as text, to find rows of one import that name the same record.
std::string key_text(const std::vector<Value>& values) {
  std::string out;
  for (const auto& v : values) {
    switch (v.type) {
      case Value::Type::Null: out += "n"; break;
      case Value::Type::Int: out += "i" + std::to_string(v.i); break;
      case Value::Type::Real: out += "r" + std::to_string(v.r); break;
      case Value::Type::Text: out += "t" + std::to_string(v.text->size()) + ":" + *v.text; break;
    }
    out.push_back('|');
  }
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
std::string key_lookup_sql(const Kind& k, const std::vector<std::string>& key, bool aliases, const std::string& ifnull) {
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
  std::string text = "SELECT b.c0, r.id FROM crm_batch(?1) AS b JOIN " + k.name + " AS r ON " + on;
  if (!external || !aliases || key.size() > 2 || (key.size() == 2 && key[0] != kExternalSource && key[1] != kExternalSource))
    return text;
  // The keys of records merged into others still name the record they went
  // into (see merge.cpp), so that next week's export updates it.
  std::string source = "''", id;
  for (size_t i = 0; i < key.size(); ++i)
    (key[i] == kExternalSource ? source : id) = key[i] == kExternalSource ? ifnull + "(b.c" + std::to_string(i + 1) + ", '')"
                                                                          : "b.c" + std::to_string(i + 1);
  return text + " UNION ALL SELECT b.c0, a.record_id FROM crm_batch(?1) AS b JOIN key_aliases AS a ON a.kind = '" +
         k.name + "' AND a.source = " + source + " AND a.external_id = " + id;
}

// The columns an update's read adds to capture its changes (SQLite): per
// compared column, its old and new value as the JSON array the capture
// trigger writes (json_array(OLD.x, NEW.x)), or NULL when it does not
// change. The new value is the batch's, as the column will hold it: a whole
// number in a REAL column is stored as a real.
std::string capture_columns(const Kind& k, const std::vector<std::pair<std::string, size_t>>& compared) {
  std::string out;
  for (const auto& [column, cell] : compared) {
    const std::string b = "b.c" + std::to_string(cell);
    const Field* f = k.field(column);
    const std::string stored = f && f->type == FieldType::Real
                                   ? "CASE WHEN typeof(" + b + ") = 'integer' THEN CAST(" + b + " AS REAL) ELSE " + b + " END"
                                   : b;
    out += ", CASE WHEN r." + column + " IS NOT " + b + " THEN json_array(r." + column + ", " + stored + ") END";
  }
  return out;
}

// One record's changes from the columns capture_columns added (from
// `first` on): {column: [old, new], ...} in the columns' order, the text
// the capture trigger's json_group_object makes.
std::string captured_changes(const sql::Statement& st, int first,
                             const std::vector<std::pair<std::string, size_t>>& compared) {
  std::string out = "{";
  for (size_t j = 0; j < compared.size(); ++j) {
    const int c = first + static_cast<int>(j);
    if (st.is_null(c)) continue;
    if (out.size() > 1) out += ',';
    out += '"' + compared[j].first + "\":" + st.text(c);
  }
  return out + "}";
}

// The caller's columns of each field of `k` (null where it gave none), after
// checking that every column has one value per row.
std::vector<const Column*> field_columns(const Kind& k, const Table& t) {
  const size_t n = t.rows();
  for (const auto& c : t.columns)
    if (c.size() != n) throw ValidationError(k.name, -1, c.name, "has " + std::to_string(c.size()) +
                                                                     " values where other columns have " +
                                                                     std::to_string(n));
  std::vector<const Column*> columns;
  for (const auto& f : k.fields) columns.push_back(t.find(f.name));
  return columns;
}

}  // namespace

void Store::insert_rows(const WriteRequest& req, WriteResult& result, const std::vector<size_t>* only) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const Table& t = *req.table;
  std::vector<const Column*> columns = field_columns(k, t);
  std::vector<size_t> every_row;
  if (!only) {
    every_row.resize(t.rows());
    for (size_t r = 0; r < every_row.size(); ++r) every_row[r] = r;
    result.ids.assign(t.rows(), -1);
  }
  const std::vector<size_t>& rows = only ? *only : every_row;
  const size_t n = rows.size();
  ReferenceCheck references(impl, k, columns, [this](int64_t id) { return !kind_of_locked(id).empty(); });
  Staging staging{impl, k, columns, t.find(kTagsColumn), t.find(kCustomColumn), now_ns(), references, {}, {}, {}};
  staging.actions = prestaged_for(impl, t, only);

  impl.read_sequence.step();
  int64_t next_id = impl.read_sequence.int64(0);
  impl.read_sequence.reset();

  // A large import into a table of similar or smaller size is much faster
  // with the plain (non-unique) indexes built afterwards, by one sort, than
  // kept up to date row by row with random inserts. It all happens inside
  // this transaction, so readers and a crash see either the old or the new.
  auto large = [this](const std::string& table, size_t count) {
    return count >= kBulkIndexRows && static_cast<int64_t>(count) * 4 >= count_locked(table);
  };
  std::vector<std::string> rebuild;
  // A field the rows give no value for (and that has no default) is NULL in
  // every new row.
  auto unfilled = [&](const std::string& column) {
    const Field* f = k.field(column);
    return f && !columns[static_cast<size_t>(f - k.fields.data())] && f->default_value.empty() && !f->written_by_store;
  };
  if (large(k.name, n)) rebuild = drop_plain_indexes(impl, k.name, unfilled);

  const size_t errors_before = result.errors.size();
  StagedRows staged(k.fields.size() + kExtraColumns);
  Lookups lookups;
  for (size_t begin = 0; begin < n; begin += kChunkRows) {
    if (req.progress && begin > 0) (*req.progress)(begin, n);
    const size_t end = std::min(n, begin + kChunkRows);
    staged.clear();
    references.prepare_chunk(rows.data() + begin, end - begin);
    for (size_t i = begin; i < end; ++i) {
      const size_t row = rows[i];
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
  for (const auto& [table, count] : {std::pair<std::string, size_t>{"contact_points", lookups.points.size()},
                                     std::pair<std::string, size_t>{"record_tags", lookups.tags.size()}}) {
    if (!large(table, count)) continue;
    // The new records' ids are larger than any before them.
    auto creates = drop_plain_indexes(impl, table, [](const std::string& column) { return column == "record_id"; });
    rebuild.insert(rebuild.end(), creates.begin(), creates.end());
  }
  write_lookups(impl, k, lookups);
  recreate_indexes(impl, rebuild);
  impl.write_sequence.bind(1, next_id).run();
  const int64_t landed = static_cast<int64_t>(n - (result.errors.size() - errors_before));
  if (landed > 0 || !only) audit(req, landed, next_id - landed, next_id - 1);  // the landed rows got consecutive ids
  if (req.progress) (*req.progress)(n, n);
}

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
  const Dialect dialect(impl.db);
  sql::Statement has_aliases(impl.db, dialect.table_exists("key_aliases"));
  sql::Statement& find = impl.prepared(key_lookup_sql(k, req.key, has_aliases.step(), dialect.ifnull()));
  auto run_lookup = [&] {
    if (lookup.rows() == 0) return;
    sql::bind_batch(find, lookup);
    while (find.step()) {
      const auto row = static_cast<size_t>(find.int64(0));
      target[row] = find.int64(1);
      ++matches[row];
    }
    find.reset();
    lookup.clear();
  };
  for (size_t row = 0; row < n; ++row) {
    try {
      if (!read_key(row)) continue;  // names no record: inserted (upsert) or refused (update), below
    } catch (const RowFailure& failure) {
      failed[row] = 1;
      refuse(row, failure.field, failure.reason);
      continue;
    }
    keyed[row] = 1;
    sql::Cell* cells = lookup.add_row();
    cells[0].set_int(static_cast<int64_t>(row));
    for (size_t i = 0; i < values.size(); ++i) set_cell(cells[i + 1], values[i], lookup);
    if (lookup.rows() == kChunkRows) run_lookup();
  }
  run_lookup();

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
  std::unordered_map<std::string, size_t> row_of_new_key;
  row_of_record.reserve(n);
  if (req.op == WriteOp::Upsert) row_of_new_key.reserve(n);
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
    if (matches[row] == 1) {
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
        earlier = row_of_new_key.try_emplace(key_text(values), row).first->second;
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
  // The key's columns are not written: they name the records they already
  // hold, and leaving them out spares the key's index its updates.
  std::vector<const Column*> written = columns;
  for (const auto& name : req.key)
    if (const Field* f = k.field(name)) written[static_cast<size_t>(f - k.fields.data())] = nullptr;
  {
    const UpdatesInMemory kept(impl.audit_memory, impl.db.is_sqlite());  // sealed whole at the commit
    update_existing(req, written, updates, target, result);
    for (const auto& rows : later_updates) update_existing(req, written, rows, target, result);
  }
  if (!inserts.empty()) insert_rows(req, result, &inserts);
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const RowError& a, const RowError& b) { return a.row < b.row; });
}

void Store::update_existing(const WriteRequest& req, const std::vector<const Column*>& columns,
                            const std::vector<size_t>& rows, const std::vector<int64_t>& target,
                            WriteResult& result) {
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
  sql::Statement& bulk = impl.prepared("UPDATE " + k.name + " SET " + sets + " FROM crm_batch(?1) AS b WHERE " +
                                       k.name + ".id = b.c0 AND (" + differs + ")");
  sql::Statement& one = impl.prepared("UPDATE " + k.name + " SET " + one_sets + " WHERE id = ?1 AND (" + one_differs + ")");

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
  sql::Batch written(1);  // the ids a chunk updated
  std::vector<size_t> lookup_fields;  // the given fields with phones or e-mails to look up
  for (size_t i : given)
    if (k.fields[i].lookup != Lookup::None) lookup_fields.push_back(i);
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
  // An upsert on SQLite captures its changes here, in the read that finds
  // them, and keeps its entries in memory for the seal (audit_memory.hpp).
  const bool in_memory = impl.audit_memory.active && impl.db.is_sqlite();
  const std::string captures = in_memory ? capture_columns(k, compared_cells) : std::string();
  sql::Statement& changing = impl.prepared("SELECT b.c0" + flags + captures + " FROM crm_batch(?1) AS b JOIN " +
                                           k.name + " AS r ON r.id = b.c0 WHERE " + read_differs);
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
    {
      std::unordered_map<int64_t, std::pair<uint32_t, std::string>> of_record;
      of_record.reserve(count);
      sql::bind_batch(changing, staged.rows);
      while (changing.step()) {
        uint32_t bits = 1;
        for (int j = 1; j <= flag_count; ++j)
          if (changing.int64(j)) bits |= uint32_t{1} << j;
        auto& [record_bits, text] = of_record[changing.int64(0)];
        record_bits = bits;
        if (in_memory) text = captured_changes(changing, flag_count + 1, compared_cells);
      }
      changing.reset();
      for (size_t r = 0; r < count && !of_record.empty(); ++r) {
        auto it = of_record.find(staged.rows.row(r)[0].i);
        if (it == of_record.end()) continue;
        changes[r] = it->second.first;
        if (in_memory) captured[r] = std::move(it->second.second);
      }
    }
    const uint32_t tags_bit = uint32_t{1} << (1 + lookup_fields.size());
    std::vector<uint8_t> ok(count, 1);
    const std::string failed = "update of " + k.name + " failed";
    const bool none = std::all_of(changes.begin(), changes.end(), [](uint32_t c) { return c == 0; });
    // Taking the capture trigger off costs two DDL statements and new plans
    // for the prepared statements: worth it for a large chunk only.
    const bool large = in_memory && count >= 1024;
    const CapturePaused paused(in_memory && !none, large ? static_cast<sqlite3*>(impl.db) : nullptr, &k);
    if (none) {
      // Nothing to write; the rows still name (and now match) their records.
    } else if (run_or_broken(impl.db, bulk, staged.rows, failed)) {
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
    // The records' old phones, e-mails and tags make way for the new ones.
    for (size_t j = 0; j < lookup_fields.size(); ++j) {
      sql::Statement& clear = impl.prepared(
          "DELETE FROM contact_points WHERE field = ?2 AND record_id IN (SELECT c0 FROM crm_batch(?1))");
      clear.bind(2, k.fields[lookup_fields[j]].name);
      if (sql::run_over_batch(clear, written_with(uint32_t{2} << j)) != SQLITE_DONE)
        sql::fail(impl.db, "update of " + k.name + " failed");
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
