#pragma once
// Rows gathered column by column for a BulkLoader (backend.hpp): one typed
// buffer per column, values of its one type plus a null flag per row, and the
// ColumnView the loader reads. The store's bulk insert on PostgreSQL
// (records/pg_bulk.cpp, filled from a write's cells) and crm.copy
// (records/copy.cpp, filled from a source statement's rows) both load
// through it; each keeps its own fill, as the sources differ.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crmcore/backend/backend.hpp"

namespace crmcore::backend {

struct ColumnBuffer {
  ColumnType type = ColumnType::Int64;
  std::vector<int64_t> ints;  // the column's values: only the vector of its type grows
  std::vector<double> reals;
  std::vector<std::string> texts;
  std::vector<uint8_t> nulls;  // 1 where the row has no value (its slot holds 0 or "")

  explicit ColumnBuffer(ColumnType t) : type(t) {}

  // A missing value: a null flag and a placeholder of the column's type.
  void add_null() {
    nulls.push_back(1);
    switch (type) {
      case ColumnType::Int64: ints.push_back(0); break;
      case ColumnType::Double: reals.push_back(0.0); break;
      case ColumnType::Text: texts.emplace_back(); break;
    }
  }
  // A value; the caller adds the type the column holds.
  void add(int64_t v) { nulls.push_back(0), ints.push_back(v); }
  void add(double v) { nulls.push_back(0), reals.push_back(v); }
  void add(std::string v) { nulls.push_back(0), texts.push_back(std::move(v)); }

  size_t rows() const { return nulls.size(); }
  ColumnView view() const {
    switch (type) {
      case ColumnType::Int64: return ColumnView::of(ints, &nulls);
      case ColumnType::Double: return ColumnView::of(reals, &nulls);
      default: return ColumnView::of(texts, &nulls);
    }
  }
  // Empties the buffer for the next chunk, keeping its capacity.
  void clear() {
    ints.clear();
    reals.clear();
    texts.clear();
    nulls.clear();
  }
};

}  // namespace crmcore::backend
