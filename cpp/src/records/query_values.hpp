#pragma once
// A condition's values as Store::query converts them (query.cpp), for code
// that evaluates the same condition without SQL (column_cache.cpp), so both
// read "2025-01-05", 企业 or 6.5 alike and refuse the same mistakes.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/records/query.hpp"
#include "crmcore/records/schema.hpp"
#include "values.hpp"

namespace crmcore::records {

struct QueryValue {
  Value::Type type = Value::Type::Null;
  int64_t i = 0;
  double r = 0;
  std::string text;
};

// The values of `c` on a field of `k` (its own fields, id, created_at,
// updated_at: converted to the field's type) or on tags (text), after the
// count checks of a query; ValidationError naming the field otherwise.
std::vector<QueryValue> query_values(const Kind& k, const Condition& c);

}  // namespace crmcore::records
