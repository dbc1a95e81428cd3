#pragma once
// What the store's two bulk write paths share: the insert path (import.cpp)
// and the update / upsert path (upsert.cpp). Rows are checked in C++ a chunk
// at a time and written with one statement per chunk.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#include "batch.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

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

// Writes the landed rows' phones, e-mails and tags, sorted by key.
void write_lookups(Store::Impl& impl, const Kind& k, Lookups& lookups);

// A value as a batch cell; text the value made itself moves into the batch.
void set_cell(sql::Cell& cell, Value& v, sql::Batch& batch);

// A batch cell as a value.
Value value_of(const sql::Cell& cell);

// The caller's columns of each field of `k` (null where it gave none), after
// checking that every column has one value per row.
std::vector<const Column*> field_columns(const Kind& k, const Table& t);

}  // namespace crmcore::records
