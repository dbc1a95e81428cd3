#pragma once
// Columns for the store's tests, made from plain vectors.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/records/table.hpp"

namespace crmcore::records::testing {

// A day in the store's nanoseconds, and the first of January 2024 (the rule tests' calendar).
constexpr int64_t kDay = 86400LL * 1000000000LL;
constexpr int64_t kJan1 = 19723 * kDay;  // 2024-01-01

inline Column text_column(const std::string& name, std::vector<std::string> values) {
  Column c(name, Column::Storage::Text);
  c.texts = std::move(values);
  return c;
}

inline Column int_column(const std::string& name, std::vector<int64_t> values) {
  Column c(name, Column::Storage::Int);
  c.ints = std::move(values);
  return c;
}

inline Column real_column(const std::string& name, std::vector<double> values) {
  Column c(name, Column::Storage::Real);
  c.reals = std::move(values);
  return c;
}

// Times in ns since 1970, read as the time fields an import is given.
inline Column time_column(const std::string& name, std::vector<int64_t> ns) {
  Column c = int_column(name, std::move(ns));
  c.origin = Column::Origin::Time;
  return c;
}

// A table of the given columns (one row each, or as many as they hold).
inline Table table(std::vector<Column> columns) {
  Table t;
  t.columns = std::move(columns);
  return t;
}

}  // namespace crmcore::records::testing
