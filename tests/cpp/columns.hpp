#pragma once
// Columns for the store's tests, made from plain vectors.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/records/table.hpp"

namespace crmcore::records::testing {

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

}  // namespace crmcore::records::testing
