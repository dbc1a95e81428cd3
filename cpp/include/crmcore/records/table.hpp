#pragma once
// Columns of values as they cross between the store and its callers: one
// typed vector per column and a validity mask, never one object per row.
#include <cstdint>
#include <string>
#include <vector>

namespace crmcore::records {

struct Column {
  enum class Storage { Int, Real, Text };

  Column() = default;
  Column(std::string column_name, Storage column_storage)
      : name(std::move(column_name)), storage(column_storage) {}

  std::string name;
  Storage storage = Storage::Text;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> texts;
  std::vector<uint8_t> valid;  // 1 where a value is present; empty means all present

  size_t size() const {
    switch (storage) {
      case Storage::Int: return ints.size();
      case Storage::Real: return reals.size();
      case Storage::Text: return texts.size();
    }
    return 0;
  }
  bool present(size_t row) const { return valid.empty() || valid[row] != 0; }
};

struct Table {
  std::vector<Column> columns;

  size_t rows() const { return columns.empty() ? 0 : columns.front().size(); }
  const Column* find(const std::string& name) const {
    for (const auto& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  }
};

}  // namespace crmcore::records
