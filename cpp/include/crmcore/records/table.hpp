#pragma once
// Columns of values as they cross between the store and its callers: one
// typed vector per column and a validity mask, never one object per row.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace crmcore::records {

struct Column {
  enum class Storage { Int, Real, Text };
  // What whole numbers stand for. A time field takes only Time (nanoseconds
  // since 1970, as pandas keeps datetimes): a plain number such as 1735689600
  // could be seconds, milliseconds or nanoseconds, so it is refused rather
  // than guessed. A flag (True) is not a number, a date or a record id.
  enum class Origin { Number, Flag, Time };

  Column() = default;
  Column(std::string column_name, Storage column_storage)
      : name(std::move(column_name)), storage(column_storage) {}

  std::string name;
  Storage storage = Storage::Text;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> texts;
  std::vector<uint8_t> valid;  // 1 where a value is present; empty means all present
  Origin origin = Origin::Number;
  // Rows whose value the caller could not turn into a single value of this
  // column (a list where text was due, text that is not valid UTF-8, ...),
  // sorted by row, with the reason. Such a row is refused like any other
  // bad value: it alone with OnError::Skip.
  std::vector<std::pair<size_t, std::string>> problems;

  size_t size() const {
    switch (storage) {
      case Storage::Int: return ints.size();
      case Storage::Real: return reals.size();
      case Storage::Text: return texts.size();
    }
    return 0;
  }
  bool present(size_t row) const { return valid.empty() || valid[row] != 0; }
  // The reason the value at `row` could not be read, or null.
  const std::string* problem(size_t row) const {
    if (problems.empty()) return nullptr;
    auto it = std::lower_bound(problems.begin(), problems.end(), row,
                               [](const std::pair<size_t, std::string>& p, size_t r) { return p.first < r; });
    return it != problems.end() && it->first == row ? &it->second : nullptr;
  }
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
