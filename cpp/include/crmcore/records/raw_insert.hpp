#pragma once
// The yardstick for the import benchmark: a plain prepared-statement insert
// loop into a kind's table, with no validation, lookups, tags or audit. The
// store's import is measured against it.
#include <string>

#include "crmcore/records/table.hpp"

namespace crmcore::records {

// Inserts the rows of `table` (columns named like the kind's fields) into the
// kind's table of the store file at `path`, in one transaction, with ids from
// `first_id` on. Returns the number of rows.
size_t raw_insert(const std::string& path, const std::string& kind, const Table& table, int64_t first_id);

}  // namespace crmcore::records
