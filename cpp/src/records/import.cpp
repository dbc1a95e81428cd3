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
#include "staging.hpp"
#include "store_impl.hpp"
#include "../automation/prestage.hpp"

namespace crmcore::records {

namespace {

// Imports of at least this many rows may rebuild plain indexes afterwards.
constexpr size_t kBulkIndexRows = 50000;
// The page cache while such an import rebuilds its indexes (see there).
constexpr int kIndexSortCacheKiB = 2048;

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

}  // namespace

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

void write_lookups(Store::Impl& impl, const Kind& k, Lookups& lookups) {
  // In the key's order, for the index's sake; an export often comes in that
  // order already (phones that grow with the customer numbers): checked in
  // one pass, sorted only if not.
  const auto point_before = [](const Lookups::Point& a, const Lookups::Point& b) {
    return std::tie(a.value, a.id) < std::tie(b.value, b.id);
  };
  const auto tag_before = [](const Lookups::Tag& a, const Lookups::Tag& b) { return std::tie(a.tag, a.id) < std::tie(b.tag, b.id); };
  if (!std::is_sorted(lookups.points.begin(), lookups.points.end(), point_before))
    std::sort(lookups.points.begin(), lookups.points.end(), point_before);
  if (!std::is_sorted(lookups.tags.begin(), lookups.tags.end(), tag_before))
    std::sort(lookups.tags.begin(), lookups.tags.end(), tag_before);
  sql::Batch points(4), tags(2);
  points.reserve(std::min(lookups.points.size(), kChunkRows));
  tags.reserve(std::min(lookups.tags.size(), kChunkRows));
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
  staged.rows.reserve(std::min(n, kChunkRows));
  Lookups lookups;
  {  // about a phone or e-mail per row and given field that has them
    size_t looked_up = 0;
    for (size_t i = 0; i < k.fields.size(); ++i) looked_up += k.fields[i].lookup != Lookup::None && columns[i];
    staged.points.reserve(std::min(n, kChunkRows) * looked_up);
    lookups.points.reserve(n * looked_up);
  }
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

}  // namespace crmcore::records
